"""The presenters' mails of a publication: placed, changed or removed, each with its invitation
at the version's stamp."""

from flask import current_app

from app import tokens
from app.calendars.builder import Person
from app.exchange import calendar as exchange_calendar
from app.exchange.models import AgendaSlot, AgendaVersion, Contribution, ContributionStatus, HalfDay
from app.exchange.planning.changes import SlotChange
from app.formatting import date_fr, time_fr, timespan_fr
from app.mail import services as mail
from app.tokens import TokenPurpose

SUBJECTS = {
    "agenda_placed": "Votre intervention aux {event} : {title}",
    "agenda_changed": "Votre intervention change d'horaire ou de salle : {title}",
    "agenda_removed": "Votre intervention ne figure plus au programme : {title}",
}


def _span(half_day: HalfDay, slot: AgendaSlot) -> str:
    room = slot.room.name if slot.room is not None else "toutes les salles"
    if date_fr(slot.starts_at) == date_fr(half_day.starts_at):
        return f"{time_fr(slot.starts_at)} – {time_fr(slot.ends_at)}, {room}"
    return f"{timespan_fr(slot.starts_at, slot.ends_at)}, {room}"


def _removal_reason(contribution: Contribution) -> str:
    if contribution.status is ContributionStatus.withdrawn:
        return "withdrawn"
    if contribution.status is ContributionStatus.declined:
        return "declined"
    return "removed"


def tell(half_day: HalfDay, version: AgendaVersion, change: SlotChange) -> None:
    """One mail to the contribution's address, with its invitation at the version's stamp."""
    contribution = change.contribution
    contribution.sequence += 1
    person = Person(", ".join(contribution.presenter_names), contribution.email)
    base_url = current_app.config["PUBLIC_BASE_URL"]
    context = {
        "half_day": half_day,
        "contribution": contribution,
        "before": change.before,
        "after": change.after,
        "agenda_url": base_url + exchange_calendar.agenda_path(half_day),
    }
    if change.after is None:
        template = "agenda_removed"
        notice = f"Retirée du programme (version {version.number} de l'agenda)."
        invitation = exchange_calendar.invitation(
            half_day,
            change.before,
            person,
            stamp=version.published_at,
            cancelled=True,
            notice=notice,
        )
        context["reason"] = _removal_reason(contribution)
    else:
        if change.before is None:
            template, notice = "agenda_placed", None
        else:
            template = "agenda_changed"
            notice = (
                f"Modifié : désormais {_span(half_day, change.after)} "
                f"(auparavant {_span(half_day, change.before)})."
            )
            context.update(time_changed=change.time_changed, room_changed=change.room_changed)
        invitation = exchange_calendar.invitation(
            half_day, change.after, person, stamp=version.published_at, notice=notice
        )
        secret = tokens.mint(TokenPurpose.exchange_proposal, contribution.id)
        context["manage_url"] = (
            f"{base_url}/rencontres/{half_day.school_year}/propositions/{secret}"
        )
    title = " ".join(contribution.title.split())
    mail.queue(
        f"exchange/{template}",
        contribution.email,
        SUBJECTS[template].format(event=" ".join(half_day.title.split()), title=title),
        about=contribution,
        invitation=invitation,
        **context,
    )
