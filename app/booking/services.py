"""Registering to a workshop, the management link, cancelling: what booking adds to the seat
ledger (`app.seats`) — who may register when, what a registration holds, and its mails.

Every decision about seats is the ledger's, in one transaction that first locks the workshop
row; the mails it implies are written to the outbox in that same transaction.
"""

from dataclasses import dataclass

from sqlalchemy.orm import joinedload

from app import tokens
from app.booking.mails import queue_mail, seat_invitation
from app.booking.models import Registration, RegistrationStatus, Source
from app.catalog.models import Room, Workshop, WorkshopStatus
from app.clock import now
from app.database import get_by_id, write_transaction
from app.errors import NotFound, Refused
from app.extensions import db
from app.seats.ledger import Ledger, Placement
from app.tokens import TokenPurpose


class WorkshopNotFound(NotFound):
    """No such workshop, or not public."""


class RegistrationClosed(Refused):
    """Registration is not possible; `str()` is the French explanation."""


class RegistrationNotFound(NotFound):
    """The link does not open any registration (unknown, revoked or malformed token)."""


class CorrectionClosed(Refused):
    """The session is closed: the attendance sheet and the certificates carry the names as they
    were."""


class RegistrationCancelled(Refused):
    """The registration is cancelled: its link still shows it, and changes nothing any more."""


def _mail_promoted(registration: Registration) -> None:
    queue_mail(registration, "promoted", invitation="REQUEST")


def _mail_link(registration: Registration) -> None:
    queue_mail(registration, "link", invitation=seat_invitation(registration))


#: The workshops' seats. The place and trainer the mails show are read in the locking round
#: trip: no lazy loads while the row is locked and other registrations queue behind it.
REGISTRATIONS = Ledger(
    row=Registration,
    holder=Workshop,
    holder_key="workshop_id",
    kind="registration",
    not_found=WorkshopNotFound,
    proving_mails=frozenset({"booking/confirmed", "booking/waiting", "booking/promoted"}),
    on_promoted=_mail_promoted,
    on_link_requested=_mail_link,
    accepts=lambda workshop: workshop.status is not WorkshopStatus.draft,
    promotes=lambda workshop: workshop.status is WorkshopStatus.published,
    load=(joinedload(Workshop.room).joinedload(Room.site), joinedload(Workshop.trainer)),
)


@dataclass(frozen=True)
class Applicant:
    """What a teacher types in the form, already validated and normalised."""

    last_name: str
    first_name: str
    email: str
    school: str
    uai: str | None = None
    source: Source | None = None


def public_workshop(workshop_id: int) -> Workshop:
    """A workshop the public may see (published or cancelled), or WorkshopNotFound."""
    workshop = get_by_id(Workshop, workshop_id)
    if workshop is None or workshop.status is WorkshopStatus.draft:
        raise WorkshopNotFound(workshop_id)
    return workshop


def has_started(workshop: Workshop) -> bool:
    """Under way or over: its page no longer counts seats."""
    return now() >= workshop.starts_at


def closed_reason(workshop: Workshop) -> str | None:
    """Why registration is closed now, in French, or None when it is open."""
    moment = now()
    if workshop.status is WorkshopStatus.cancelled:
        return "Cet atelier a été annulé : les inscriptions sont fermées."
    if workshop.status is not WorkshopStatus.published:
        return "Cet atelier n'est pas ouvert aux inscriptions."
    if moment >= workshop.ends_at:
        return "Cet atelier a déjà eu lieu : les inscriptions sont fermées."
    if moment >= workshop.starts_at:
        return "Cet atelier est en cours : les inscriptions sont fermées."
    if moment >= workshop.closes_at:
        return "La date limite d'inscription à cet atelier est passée."
    return None


def register(workshop_id: int, applicant: Applicant) -> Placement:
    """Give the applicant a seat, or the next place on the waiting list, and mail them.

    Raises WorkshopNotFound or RegistrationClosed; an already registered person gets the result
    `already_registered` and, unless they just registered (a double click), a fresh link by mail.
    Inside a caller's `write_transaction` (the back office's, with its audit entry) it joins it.
    """
    with REGISTRATIONS.holding(workshop_id) as workshop:
        reason = closed_reason(workshop)
        if reason:
            raise RegistrationClosed(reason)
        placement = REGISTRATIONS.enter(workshop, _new_registration(workshop, applicant))
        if placement.already_registered:
            return placement
        registration = placement.row
        template = "confirmed" if registration.status is RegistrationStatus.confirmed else "waiting"
        queue_mail(registration, template, invitation=seat_invitation(registration))
    return placement


def add_walk_in(workshop_id: int, applicant: Applicant) -> Placement:
    """Record a person who came without a registration, at check-in: status walk_in, no seat
    (even beyond capacity: the seat counts ignore walk-ins), no waiting place, no mail.

    An address that already holds a registration on this workshop (confirmed, waiting, or added
    on the spot before) gives that one back, `already_registered`: no duplicate. Called inside
    the check-in's `write_transaction`, which also marks the person present: both are written
    together or not at all. Raises WorkshopNotFound.
    """
    with REGISTRATIONS.holding(workshop_id) as workshop:
        existing = REGISTRATIONS.active(workshop_id, applicant.email)
        if existing is not None:
            return Placement(existing, already_registered=True)
        registration = _new_registration(workshop, applicant, status=RegistrationStatus.walk_in)
        db.session.add(registration)
        db.session.flush()
    return Placement(registration)


def _new_registration(workshop: Workshop, applicant: Applicant, **fields) -> Registration:
    return Registration(
        workshop=workshop,
        last_name=applicant.last_name,
        first_name=applicant.first_name,
        email=applicant.email,
        school=applicant.school,
        uai=applicant.uai,
        source=applicant.source,
        **fields,
    )


def registration_for_token(secret: str) -> Registration:
    token = tokens.resolve(TokenPurpose.manage_registration, secret)
    registration = token and db.session.get(Registration, token.owner_id)
    if registration is None:
        raise RegistrationNotFound()
    return registration


def correct(secret: str, values: dict, *, session_closed: bool) -> bool:
    """The owner corrects their name, school or UAI code until the session is closed: after
    that the attendance sheet and the certificates keep the names as they were.

    `values` holds `last_name`, `first_name`, `school`, `uai` (None when not given). Returns
    whether anything changed; nothing changed writes nothing. The calendar sequence is left
    alone: a name is not in the teacher's own invitation's time or place.
    """
    registration = registration_for_token(secret)
    if session_closed:
        raise CorrectionClosed()
    with write_transaction():
        db.session.refresh(registration)
        if not registration.is_active:
            raise RegistrationCancelled()
        changed = {
            name: value for name, value in values.items() if getattr(registration, name) != value
        }
        for name, value in changed.items():
            setattr(registration, name, value)
    return bool(changed)


def cancel(secret: str) -> Registration:
    """Cancel the registration the link opens; its seat goes to the first person waiting.

    Cancelling twice is harmless: the second time changes nothing and sends nothing.
    """
    registration = registration_for_token(secret)
    with REGISTRATIONS.holding(registration.workshop_id) as workshop:
        withdraw(registration, workshop)
    return registration


def withdraw(registration: Registration, workshop: Workshop) -> list[Registration] | None:
    """Under the workshop's lock: cancel the registration, tell its holder (METHOD:CANCEL for a
    seat) and give a freed seat to the first person waiting. Returns the people promoted, or
    None when the registration was not active (nothing changed)."""
    db.session.refresh(registration)  # read again under the lock
    if not registration.is_active:
        return None
    held_seat = REGISTRATIONS.withdraw(registration)
    queue_mail(
        registration, "cancelled", with_link=False, invitation="CANCEL" if held_seat else None
    )
    return REGISTRATIONS.promote(workshop) if held_seat else []


def registration_by_id(registration_id: int) -> Registration | None:
    return get_by_id(Registration, registration_id)


def personal_data(registration: Registration) -> dict:
    """What the service holds about the person behind this registration, for its export."""
    workshop = registration.workshop
    return {
        "inscription": {
            "nom": registration.last_name,
            "prenom": registration.first_name,
            "courriel": registration.email,
            "ecole": registration.school,
            "uai": registration.uai,
            "statut": registration.status.title,
            "position_liste_attente": registration.waiting_position,
            "provenance": registration.source.title if registration.source else None,
            "cree_le": registration.created_at.isoformat(),
            "modifie_le": registration.updated_at.isoformat(),
            "confirme_le": registration.confirmed_at and registration.confirmed_at.isoformat(),
            "annule_le": registration.cancelled_at and registration.cancelled_at.isoformat(),
        },
        "atelier": {
            "titre": workshop.title,
            "debut": workshop.starts_at.isoformat(),
            "fin": workshop.ends_at.isoformat(),
            "site": workshop.site.name,
            "salle": workshop.room.name,
        },
    }
