"""A registration's mails: each carries a fresh management link and, for a seat, the calendar
invitation (iTIP) that puts the workshop in the teacher's calendar, keeps it there through a
change, and removes it on cancellation."""

from flask import current_app

from app import tokens
from app.booking.models import Registration, RegistrationStatus
from app.calendars.builder import (
    CANCELLED,
    Person,
    build_calendar,
    event_uid,
    organizer,
    workshop_event,
)
from app.mail import services as mail
from app.tokens import TokenPurpose

SUBJECTS = {
    "confirmed": "Inscription confirmée : {title}",
    "waiting": "Liste d'attente : {title}",
    "promoted": "Une place s'est libérée : {title}",
    "cancelled": "Inscription annulée : {title}",
    "link": "Votre lien pour gérer votre inscription : {title}",
    "reminder": "Rappel : {title}",
    "changed": "Atelier modifié : {title}",
    "workshop_cancelled": "Atelier annulé : {title}",
}


def queue_mail(
    registration: Registration,
    template: str,
    *,
    invitation: str | None = None,
    notice: str | None = None,
    with_link: bool = True,
    **context,
) -> None:
    """Queue a booking mail (`mail/booking/<template>`), subject from `SUBJECTS`.

    Each one carries a fresh management link (the old ones stay valid) unless `with_link` is
    False. `invitation` is the iTIP method of the calendar invitation it carries, if any: REQUEST
    for a seat (its first mail, a promotion, a change), CANCEL for the mail that ends one — same
    UID, the registration's SEQUENCE; `notice` is put first in the invitation's DESCRIPTION.
    """
    base_url = current_app.config["PUBLIC_BASE_URL"]
    context["manage_url"] = None
    if with_link:
        secret = tokens.mint(TokenPurpose.manage_registration, registration.id)
        context["manage_url"] = f"{base_url}/inscription/{secret}"
    workshop = registration.workshop
    mail.queue(
        f"booking/{template}",
        registration.email,
        SUBJECTS[template].format(title=workshop.title),
        about=registration,
        invitation=_invitation(registration, invitation, notice) if invitation else None,
        registration=registration,
        workshop=workshop,
        workshop_url=f"{base_url}/ateliers/{workshop.id}",
        catalogue_url=f"{base_url}/ateliers",
        **context,
    )


def seat_invitation(registration: Registration) -> str | None:
    """REQUEST when the registration holds a seat: its mails put the workshop in the calendar."""
    return "REQUEST" if registration.status is RegistrationStatus.confirmed else None


def _invitation(
    registration: Registration, method: str, notice: str | None = None
) -> tuple[str, bytes]:
    """The iTIP message for this registration's seat: the CRDP invites the teacher."""
    workshop = registration.workshop
    event = workshop_event(
        workshop,
        uid=event_uid("registration", registration.id),
        sequence=registration.sequence,
        status=CANCELLED if method == "CANCEL" else None,
        notice=notice,
        stamp=max(registration.updated_at, workshop.updated_at),
        organizer=organizer(),
        attendee=Person(registration.full_name, registration.email),
    )
    return method, build_calendar([event], name=workshop.title, method=method, feed=False)
