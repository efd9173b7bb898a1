"""The rules a proposal meets: its content and its presenter's availability within the
half-day's hours, no double submission, and when it may still be edited, withdrawn or reviewed."""

from datetime import time

import sqlalchemy as sa

from app.catalog.models import Topic
from app.clock import now
from app.database import valid_id
from app.exchange.models import Contribution, ContributionFormat, ContributionStatus, HalfDay
from app.exchange.proposals.data import (
    GRID_MINUTES,
    MAX_PRESENTERS,
    MAX_SUMMARY_LENGTH,
    ProposalData,
    ProposalRefused,
)
from app.exchange.services import call_is_open, local_time
from app.extensions import db
from app.formatting import clock_fr, count_fr, datetime_fr


def time_grid(half_day: HalfDay) -> list[time]:
    """The half-day's Paris wall-clock times on the 5-minute grid, from its start to its end."""
    start = _minutes(local_time(half_day.starts_at))
    end = _minutes(local_time(half_day.ends_at))
    first = -(-start // GRID_MINUTES) * GRID_MINUTES
    return [time(m // 60, m % 60) for m in range(first, end + 1, GRID_MINUTES)]


def arrival_choices(half_day: HalfDay) -> list[time]:
    """The times one may "arrive after": any grid time before the end."""
    return time_grid(half_day)[:-1]


def departure_choices(half_day: HalfDay) -> list[time]:
    """The times one may "leave at": any grid time after the start."""
    return time_grid(half_day)[1:]


def can_edit(contribution: Contribution) -> bool:
    return contribution.status is not ContributionStatus.withdrawn and call_is_open(
        contribution.half_day
    )


def can_withdraw(contribution: Contribution) -> bool:
    return (
        contribution.status is not ContributionStatus.withdrawn
        and now() < contribution.half_day.starts_at
    )


def review_refusal(contribution: Contribution) -> str | None:
    """Why this proposal cannot be reviewed now, in French, or None when it can."""
    if contribution.status is ContributionStatus.withdrawn:
        return "Cette proposition a été retirée par son auteur : elle ne peut plus être examinée."
    if now() >= contribution.half_day.starts_at:
        return "La demi-journée a commencé ou est passée : les propositions ne s'examinent plus."
    return None


def closed_reason(half_day: HalfDay) -> str:
    """Why the call takes no more proposals, in French (for a closed call)."""
    if now() >= half_day.deadline:
        return (
            f"L'appel à propositions est clos depuis le {datetime_fr(half_day.deadline)} : "
            "il n'est plus possible d'envoyer ou de modifier une proposition."
        )
    return "L'appel à propositions est clos : il n'est plus possible d'envoyer ou de modifier une proposition."


def check(half_day: HalfDay, data: ProposalData) -> None:
    """Raise ProposalRefused (with the field) when the proposal breaks a rule of this half-day."""
    if not data.presenters:
        raise ProposalRefused(
            "Indiquez le nom d'au moins une personne qui présente.", "intervenants"
        )
    if len(data.presenters) > MAX_PRESENTERS:
        raise ProposalRefused(
            f"{MAX_PRESENTERS} personnes au plus peuvent présenter une proposition (un nom par ligne).",
            "intervenants",
        )
    if len(data.summary) > MAX_SUMMARY_LENGTH:
        raise ProposalRefused(
            f"Le résumé ne peut dépasser {count_fr(MAX_SUMMARY_LENGTH)} caractères.", "resume"
        )
    if not valid_id(data.topic_id) or db.session.get(Topic, data.topic_id) is None:
        raise ProposalRefused("Choisissez un thème de la liste.", "theme")
    check_availability(half_day, data.format, data.available_from, data.available_until)


def check_availability(
    half_day: HalfDay, form: ContributionFormat, arrival: time | None, departure: time | None
) -> None:
    """Raise ProposalRefused when "arrive after" / "leave at" fall outside the half-day's hours
    or its grid, leave before arriving, or leave less time than the format lasts."""
    start, end = local_time(half_day.starts_at), local_time(half_day.ends_at)
    if arrival is not None and arrival not in arrival_choices(half_day):
        raise ProposalRefused(
            f"L'heure d'arrivée doit être pendant la demi-journée, entre {clock_fr(start)} et "
            f"{clock_fr(_minus(end))}, par pas de {GRID_MINUTES} minutes.",
            "arrivee",
        )
    if departure is not None and departure not in departure_choices(half_day):
        raise ProposalRefused(
            f"L'heure de départ doit être pendant la demi-journée, entre {clock_fr(_plus(start))} et "
            f"{clock_fr(end)}, par pas de {GRID_MINUTES} minutes.",
            "depart",
        )
    window_start, window_end = arrival or start, departure or end
    if window_end <= window_start:
        raise ProposalRefused(
            f"Vous partez ({clock_fr(window_end)}) avant d'arriver ({clock_fr(window_start)}) : "
            "l'heure de départ doit être après l'heure d'arrivée.",
            "depart",
        )
    if _minutes(window_end) - _minutes(window_start) < form.minutes:
        raise ProposalRefused(
            f"De {clock_fr(window_start)} à {clock_fr(window_end)}, vous n'êtes pas disponible assez "
            f"longtemps pour une intervention de {form.minutes} minutes "
            f"({form.short_title.lower()}) : élargissez vos disponibilités ou choisissez un "
            "format plus court.",
            "depart" if departure is not None else "arrivee",
        )


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _plus(moment: time) -> time:
    total = _minutes(moment) + GRID_MINUTES
    return time(total // 60, total % 60)


def _minus(moment: time) -> time:
    total = _minutes(moment) - GRID_MINUTES
    return time(total // 60, total % 60)


def _same_title(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def refuse_duplicate(
    half_day: HalfDay, email: str, title: str, other_than: int | None = None
) -> None:
    """The same address may not hold two live proposals of the same title (a double click)."""
    titles = db.session.execute(
        sa.select(Contribution.id, Contribution.title).where(
            Contribution.half_day_id == half_day.id,
            Contribution.email == email,
            Contribution.status != ContributionStatus.withdrawn,
        )
    )
    if any(_same_title(existing, title) for row_id, existing in titles if row_id != other_than):
        raise ProposalRefused(
            f"Vous avez déjà envoyé une proposition intitulée « {title} » avec l'adresse {email} : "
            "elle est bien enregistrée. Le courriel d'accusé de réception contient le lien pour la "
            "modifier ; pour une autre proposition, choisissez un autre titre.",
            "titre",
        )
