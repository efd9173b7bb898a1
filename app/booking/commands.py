"""`flask ateliers deplacer|annuler`: move or cancel a workshop and tell the people registered,
until the coordinators' back office calls the same services."""

from datetime import datetime

import click
from flask.cli import AppGroup

from app.booking import changes
from app.booking.services import WorkshopNotFound
from app.formatting import NonexistentLocalTime, datetime_fr, from_paris

workshops_cli = AppGroup(
    "ateliers", help="Déplacer ou annuler un atelier (les inscrits sont prévenus)."
)

#: How staff type a time, in Paris local time.
TIME_FORMATS = ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"]


def _paris_option(value: datetime | None) -> datetime | None:
    """The moment a typed Paris time names: refused when it does not exist, the first of two
    when it happens twice (with a warning)."""
    if value is None:
        return None
    try:
        local = from_paris(value)
    except NonexistentLocalTime as error:
        raise click.ClickException(str(error)) from None
    if local.ambiguous:
        click.echo(
            f"Attention : {value:%H:%M} le {value:%d/%m/%Y} existe deux fois (retour à l'heure "
            f"d'hiver) ; la première, à l'heure d'été, est retenue : {datetime_fr(local.moment)} "
            f"(UTC+{local.moment.utcoffset().seconds // 3600}).",
            err=True,
        )
    return local.moment


@workshops_cli.command("deplacer")
@click.argument("workshop_id", type=int, metavar="ID_ATELIER")
@click.option(
    "--debut",
    type=click.DateTime(TIME_FORMATS),
    metavar='"AAAA-MM-JJ HH:MM"',
    help="Nouveau début, heure de Paris : « 2026-03-11 14:00 ».",
)
@click.option(
    "--fin",
    type=click.DateTime(TIME_FORMATS),
    metavar='"AAAA-MM-JJ HH:MM"',
    help="Nouvelle fin, heure de Paris (par défaut, la durée est gardée).",
)
@click.option("--salle", type=int, metavar="ID_SALLE", help="Identifiant de la nouvelle salle.")
def move_command(workshop_id: int, debut, fin, salle):
    """Déplace un atelier publié (date, horaire, salle) et prévient les inscrits.

    Les heures sont celles de Paris. Sans --fin, la durée de l'atelier est gardée.
    """
    if debut is None and fin is None and salle is None:
        raise click.UsageError("Indiquez au moins --debut, --fin ou --salle.")
    starts_at, ends_at = _paris_option(debut), _paris_option(fin)
    outcome = _run(
        changes.reschedule, workshop_id, starts_at=starts_at, ends_at=ends_at, room_id=salle
    )
    if not outcome.changed:
        click.echo("Rien n'a changé : aucun courriel envoyé.")
        return
    for change in outcome.changes:
        click.echo(f"{change.label} : {change.old} → {change.new}")
    click.echo(
        f"Courriels mis en file : {outcome.confirmed} inscrit·es (avec la nouvelle invitation), "
        f"{outcome.waiting} en liste d'attente."
    )
    if outcome.promoted:
        click.echo(f"{outcome.promoted} personne(s) de la liste d'attente ont reçu une place.")


@workshops_cli.command("annuler")
@click.argument("workshop_id", type=int, metavar="ID_ATELIER")
@click.option("--motif", required=True, help="Le motif, repris dans le courriel aux inscrits.")
def cancel_command(workshop_id: int, motif: str):
    """Annule un atelier publié et prévient les inscrits.

    Les inscrits reçoivent l'annulation pour leur agenda, la liste d'attente un courriel.
    """
    outcome = _run(changes.cancel_workshop, workshop_id, motif)
    if not outcome.changed:
        click.echo("Cet atelier était déjà annulé : aucun courriel envoyé.")
        return
    click.echo(
        f"Atelier annulé. Courriels mis en file : {outcome.confirmed} inscrit·es (avec l'annulation "
        f"pour leur agenda), {outcome.waiting} en liste d'attente."
    )


def _run(service, workshop_id: int, *args, **kwargs) -> changes.Outcome:
    try:
        return service(workshop_id, *args, **kwargs)
    except WorkshopNotFound:
        raise click.ClickException(
            f"Aucun atelier publié n'a l'identifiant {workshop_id}."
        ) from None
    except changes.ChangeRefused as error:
        raise click.ClickException(str(error)) from None
