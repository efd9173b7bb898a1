"""The agenda builder's codes (`app.exchange.solver.reasons`) in the French the coordinators'
page shows and each left-out contribution keeps as its reason."""

from app.exchange.solver import reasons
from app.formatting import clock_fr

#: Why a contribution that could go somewhere alone is not in the agenda placing the most.
NO_SLOT = "pas de créneau libre compatible (durée, salle équipée, disponibilités)"


def reason_text(reason: reasons.Reason) -> str:
    """Why a contribution is left out, for the page and the stored reason."""
    match reason:
        case reasons.NoSlot():
            return NO_SLOT
        case reasons.UnplannedDuration(minutes):
            return f"durée non prévue : {minutes} min (15, 30, 45 ou 60 min)"
        case reasons.MissingEquipment(needs):
            return f"aucune salle n'a l'équipement demandé : {_needs(needs)}"
        case reasons.EquipmentApart(needs):
            return f"aucune salle n'a à la fois les équipements demandés : {_needs(needs)}"
        case reasons.AvailableOnlyBefore(until, first):
            return (
                f"intervenant·e disponible seulement avant le début de la demi-journée "
                f"(jusqu'à {clock_fr(until)}, interventions à partir de {clock_fr(first)})"
            )
        case reasons.AvailableOnlyAfter(since, last):
            return (
                f"intervenant·e disponible seulement après la fin de la demi-journée "
                f"(à partir de {clock_fr(since)}, interventions jusqu'à {clock_fr(last)})"
            )
        case reasons.AvailabilityTooShort(minutes, starts, ends):
            return (
                f"durée ({minutes} min) plus longue que la disponibilité "
                f"de l'intervenant·e pendant la demi-journée "
                f"({clock_fr(starts)} – {clock_fr(ends)})"
            )
    raise TypeError(f"no text for {reason!r}")


def settings_text(problem: reasons.Unworkable) -> str:
    """Why the half-day's settings cannot hold its own plenaries and break."""
    match problem:
        case reasons.OffGrid(minutes, grid):
            return f"durée de {minutes} min hors de la grille de {grid} min"
        case reasons.EndNotAfterStart():
            return "l'heure de fin doit suivre l'heure de début, par pas de 5 min"
        case reasons.NoAuditorium():
            return "aucun amphithéâtre pour les plénières d'ouverture et de clôture"
        case reasons.TooShort():
            return "la demi-journée est trop courte pour les plénières et la pause"
        case reasons.BreakWindowOutside():
            return "la fenêtre de la pause ne tient pas entre les plénières"
    raise TypeError(f"no text for {problem!r}")


def _needs(needs: tuple[str, ...]) -> str:
    return ", ".join(f"« {need} »" for need in needs)
