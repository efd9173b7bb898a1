"""The seat rules: registering, cancelling, promoting from the waiting list.

Every decision about seats is one transaction that first locks the workshop row
(`SELECT … FOR UPDATE` on PostgreSQL, a transaction begun IMMEDIATE on SQLite) and only then
counts; the mails it implies are written to the outbox in the same transaction.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app import tokens
from app.booking.models import ACTIVE, Registration, RegistrationStatus, Source
from app.calendars.builder import (
    CANCELLED,
    Person,
    build_calendar,
    event_uid,
    organizer,
    workshop_event,
)
from app.catalog.models import Room, Workshop, WorkshopStatus
from app.clock import now
from app.database import begin_write, get_by_id, valid_id
from app.extensions import db
from app.mail import services as mail
from app.tokens import TokenPurpose

log = logging.getLogger(__name__)

#: A person registering again within this delay is a double click: their mail is on its way.
DOUBLE_SUBMIT_WINDOW = timedelta(minutes=2)


class WorkshopNotFound(Exception):
    """No such workshop, or not public."""


class RegistrationClosed(Exception):
    """Registration is not possible; `str()` is the French explanation."""


class RegistrationNotFound(Exception):
    """The link does not open any registration (unknown, revoked or malformed token)."""


@dataclass(frozen=True)
class Applicant:
    """What a teacher types in the form, already validated and normalised."""

    last_name: str
    first_name: str
    email: str
    school: str
    uai: str | None = None
    source: Source | None = None


@dataclass(frozen=True)
class RegistrationResult:
    registration: Registration
    #: True when the person was already registered: nothing new was created.
    already_registered: bool = False
    #: For an already registered person: whether a fresh management link was mailed.
    link_resent: bool = False

    @property
    def registration_id(self) -> int:
        """The registration's id, from its identity key: the commit expired the row, and reading
        `registration.id` would reload it (three more round trips) just for its primary key."""
        return sa.inspect(self.registration).identity[0]


@dataclass(frozen=True)
class SeatCount:
    capacity: int
    confirmed: int = 0
    waiting: int = 0

    @property
    def left(self) -> int:
        return max(self.capacity - self.confirmed, 0)

    @property
    def full(self) -> bool:
        return self.left == 0


def normalise_email(email: str) -> str:
    return email.strip().lower()


def public_workshop(workshop_id: int) -> Workshop:
    """A workshop the public may see (published or cancelled), or WorkshopNotFound."""
    workshop = get_by_id(Workshop, workshop_id)
    if workshop is None or workshop.status is WorkshopStatus.draft:
        raise WorkshopNotFound(workshop_id)
    return workshop


def seat_counts(workshops: list[Workshop]) -> dict[int, SeatCount]:
    """Confirmed and waiting numbers for each workshop, in one query."""
    ids = [w.id for w in workshops]
    counts = {w.id: {"capacity": w.capacity} for w in workshops}
    if ids:
        rows = db.session.execute(
            sa.select(Registration.workshop_id, Registration.status, sa.func.count())
            .where(Registration.workshop_id.in_(ids), Registration.status.in_(ACTIVE))
            .group_by(Registration.workshop_id, Registration.status)
        )
        for workshop_id, status, number in rows:
            counts[workshop_id][status.value] = number
    return {workshop_id: SeatCount(**values) for workshop_id, values in counts.items()}


def closed_reason(workshop: Workshop) -> str | None:
    """Why registration is closed now, in French, or None when it is open."""
    moment = now()
    if workshop.status is WorkshopStatus.cancelled:
        return "Cet atelier a été annulé : les inscriptions sont fermées."
    if workshop.status is not WorkshopStatus.published:
        return "Cet atelier n'est pas ouvert aux inscriptions."
    if moment >= workshop.starts_at:
        return "Cet atelier a déjà eu lieu : les inscriptions sont fermées."
    if moment >= workshop.closes_at:
        return "La date limite d'inscription à cet atelier est passée."
    return None


def register(
    workshop_id: int,
    applicant: Applicant,
    *,
    before_commit: Callable[[Registration], None] | None = None,
) -> RegistrationResult:
    """Give the applicant a seat, or the next place on the waiting list, and mail them.

    Raises WorkshopNotFound or RegistrationClosed; an already registered person gets the result
    `already_registered` and, unless they just registered (a double click), a fresh link by mail.
    `before_commit(registration)` runs in the transaction of a new registration (the back
    office's audit entry commits with it).
    """
    workshop = _lock_workshop(workshop_id)
    reason = closed_reason(workshop)
    if reason:
        db.session.rollback()
        raise RegistrationClosed(reason)

    count, existing_id = _seats_and_existing(workshop, applicant.email)
    if existing_id is not None:
        return _already_registered(db.session.get(Registration, existing_id))
    race_pause()
    registration = _new_registration(workshop, applicant)
    if count.full:
        registration.status = RegistrationStatus.waiting
        registration.waiting_position = count.waiting + 1
    else:
        registration.status = RegistrationStatus.confirmed
        registration.confirmed_at = now()
    db.session.add(registration)
    try:
        db.session.flush()
    except IntegrityError:
        # Only reachable without the lock: another request registered the same address. The
        # whole transaction is void (PostgreSQL aborts it), so no savepoint would save anything.
        db.session.rollback()
        return _already_registered(_active_registration(workshop_id, applicant.email))
    template = "confirmed" if registration.status is RegistrationStatus.confirmed else "waiting"
    queue_mail(registration, template, invitation=_seat_invitation(registration))
    if before_commit is not None:
        before_commit(registration)
    db.session.commit()
    return RegistrationResult(registration)


def add_walk_in(workshop_id: int, applicant: Applicant) -> RegistrationResult:
    """Record a person who came without a registration, at check-in: status walk_in, no seat
    (even beyond capacity: the seat counts ignore walk-ins), no waiting place, no mail.

    An address that already holds a registration on this workshop (confirmed, waiting, or added
    on the spot before) gives that one back, `already_registered`: no duplicate.
    The write transaction stays open with the workshop row locked: the caller (the check-in)
    checks the session under that lock, marks the person present and commits, so both are
    written together or not at all. Raises WorkshopNotFound.
    """
    workshop = _lock_workshop(workshop_id)
    existing = _active_registration(workshop_id, applicant.email)
    if existing is not None:
        return RegistrationResult(existing, already_registered=True)
    registration = _new_registration(workshop, applicant, status=RegistrationStatus.walk_in)
    db.session.add(registration)
    db.session.flush()
    return RegistrationResult(registration)


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


class CorrectionClosed(Exception):
    """The session is closed: the attendance sheet and the certificates carry the names as they
    were."""


class RegistrationCancelled(Exception):
    """The registration is cancelled: its link still shows it, and changes nothing any more."""


def correct(secret: str, values: dict, *, session_closed: bool) -> bool:
    """The owner corrects their name, school or UAI code until the session is closed (rule 11).

    `values` holds `last_name`, `first_name`, `school`, `uai` (None when not given). Returns
    whether anything changed; nothing changed writes nothing. The calendar sequence is left
    alone: a name is not in the teacher's own invitation's time or place.
    """
    registration = registration_for_token(secret)
    if session_closed:
        raise CorrectionClosed()
    begin_write()
    db.session.refresh(registration)
    if not registration.is_active:
        db.session.rollback()
        raise RegistrationCancelled()
    changed = {
        name: value for name, value in values.items() if getattr(registration, name) != value
    }
    if not changed:
        db.session.rollback()
        return False
    for name, value in changed.items():
        setattr(registration, name, value)
    db.session.commit()
    return True


def cancel(secret: str) -> Registration:
    """Cancel the registration the link opens; its seat goes to the first person waiting.

    Cancelling twice is harmless: the second time changes nothing and sends nothing.
    """
    registration = registration_for_token(secret)
    _lock_workshop(registration.workshop_id)
    if registration.status is RegistrationStatus.cancelled:  # re-read under the lock
        db.session.rollback()
        return registration

    was_confirmed = registration.status is RegistrationStatus.confirmed
    _withdraw(registration)
    queue_mail(
        registration, "cancelled", with_link=False, invitation="CANCEL" if was_confirmed else None
    )
    if was_confirmed:
        _promote_waiting(registration.workshop)
    db.session.commit()
    return registration


#: Mails whose refusal means the address is wrong: the seat or place must not be held by it.
_MAILS_PROVING_THE_ADDRESS = {"booking/confirmed", "booking/waiting", "booking/promoted"}


@mail.mail_refused.connect
def _on_mail_refused(sender, *, template, subject_kind, subject_id, **details) -> None:
    if subject_kind == "registration" and template in _MAILS_PROVING_THE_ADDRESS:
        release_undeliverable(subject_id)


def release_undeliverable(registration_id: int) -> Registration | None:
    """Cancel a registration whose mail the server refused for good (an unknown address, often a
    typo) and give its seat to the next person waiting: a typo must not hold a seat (rule 10).

    The refused mail stays in the outbox, failed, for the coordinators to see.
    """
    registration = db.session.get(Registration, registration_id)
    if registration is None:
        return None
    try:
        workshop = _lock_workshop(registration.workshop_id)
    except WorkshopNotFound:
        return None
    if not registration.is_active:  # re-read under the lock
        db.session.rollback()
        return registration
    was_confirmed = registration.status is RegistrationStatus.confirmed
    _withdraw(registration)
    log.warning(
        "registration %s cancelled: its mail to %s was refused", registration.id, registration.email
    )
    if was_confirmed:
        _promote_waiting(workshop)
    db.session.commit()
    return registration


def _withdraw(registration: Registration) -> None:
    """Mark cancelled and close the gap it leaves in the waiting list."""
    position = registration.waiting_position
    registration.status = RegistrationStatus.cancelled
    registration.waiting_position = None
    registration.cancelled_at = now()
    registration.sequence += 1
    db.session.flush()
    if position is not None:
        _shift_waiting_list(registration.workshop_id, after=position)


def _promote_waiting(workshop: Workshop) -> list[Registration]:
    """Fill free seats from the head of the waiting list, unless the start is too close."""
    cutoff = timedelta(hours=current_app.config["PROMOTION_CUTOFF_HOURS"])
    if now() >= workshop.starts_at - cutoff or workshop.status is not WorkshopStatus.published:
        return []
    count = _count_locked(workshop)
    promoted = []
    for registration in _head_of_waiting_list(workshop.id, count.left):
        give_seat(registration)
        promoted.append(registration)
    if promoted:
        db.session.flush()
        _shift_waiting_list(workshop.id, after=0, by=len(promoted))
        for registration in promoted:
            queue_mail(registration, "promoted", invitation="REQUEST")
    return promoted


def give_seat(registration: Registration) -> None:
    """A person waiting gets a seat; the caller closes the gap in the list and mails them."""
    registration.status = RegistrationStatus.confirmed
    registration.waiting_position = None
    registration.confirmed_at = now()
    registration.sequence += 1


def _head_of_waiting_list(workshop_id: int, size: int) -> list[Registration]:
    if size <= 0:
        return []
    return list(
        db.session.scalars(
            sa.select(Registration)
            .where(
                Registration.workshop_id == workshop_id,
                Registration.status == RegistrationStatus.waiting,
            )
            .order_by(Registration.waiting_position)
            .limit(size)
        )
    )


def _shift_waiting_list(workshop_id: int, *, after: int, by: int = 1) -> None:
    db.session.execute(
        sa.update(Registration)
        .where(
            Registration.workshop_id == workshop_id,
            Registration.status == RegistrationStatus.waiting,
            Registration.waiting_position > after,
        )
        .values(waiting_position=Registration.waiting_position - by)
        .execution_options(synchronize_session=False)
    )


def _lock_workshop(workshop_id: int) -> Workshop:
    """Begin a write transaction and lock the workshop row before anything is counted."""
    if not valid_id(workshop_id):
        raise WorkshopNotFound(workshop_id)
    lock = current_app.config["SEAT_LOCK_ENABLED"]
    begin_write(immediate=lock)
    query = (
        sa.select(Workshop)
        .where(Workshop.id == workshop_id)
        # The place and trainer the mails show come in the same round trip: no lazy loads
        # (three more queries) while the row is locked and other registrations queue behind it.
        .options(joinedload(Workshop.room).joinedload(Room.site), joinedload(Workshop.trainer))
        .execution_options(populate_existing=True)
    )
    if lock:
        # Only the workshop row is locked, exactly as before; the joined rows are just read.
        query = query.with_for_update(of=Workshop)
    workshop = db.session.scalar(query)
    if workshop is None or workshop.status is WorkshopStatus.draft:
        db.session.rollback()
        raise WorkshopNotFound(workshop_id)
    return workshop


def _seats_and_existing(workshop: Workshop, email: str) -> tuple[SeatCount, int | None]:
    """The seat count and this address's active registration, in one query under the lock."""
    confirmed, waiting, existing_id = db.session.execute(
        sa.select(
            sa.func.count().filter(Registration.status == RegistrationStatus.confirmed),
            sa.func.count().filter(Registration.status == RegistrationStatus.waiting),
            sa.func.max(sa.case((Registration.email == email, Registration.id))),
        ).where(
            Registration.workshop_id == workshop.id,
            # Any registration that is not cancelled holds the address (the unique index's
            # rule): a person added at the door (walk_in) who then registers is "already there".
            Registration.status != RegistrationStatus.cancelled,
        )
    ).one()
    return SeatCount(workshop.capacity, confirmed, waiting), existing_id


def _count_locked(workshop: Workshop) -> SeatCount:
    return seat_counts([workshop])[workshop.id]


def _active_registration(workshop_id: int, email: str) -> Registration | None:
    """The registration holding this address on this workshop: confirmed, waiting or walk-in."""
    return db.session.scalar(
        sa.select(Registration).where(
            Registration.workshop_id == workshop_id,
            Registration.email == email,
            Registration.status != RegistrationStatus.cancelled,
        )
    )


def _already_registered(registration: Registration) -> RegistrationResult:
    """Re-send a management link, unless the registration is seconds old (a double click)."""
    if now() - registration.created_at < DOUBLE_SUBMIT_WINDOW:
        db.session.rollback()
        return RegistrationResult(registration, already_registered=True)
    queue_mail(registration, "link", invitation=_seat_invitation(registration))
    db.session.commit()
    return RegistrationResult(registration, already_registered=True, link_resent=True)


def race_pause() -> None:
    """Test-only: widen the window between counting and inserting (refused in production)."""
    pause = current_app.config["SEAT_RACE_PAUSE"]
    if pause:
        time.sleep(pause)


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


def _seat_invitation(registration: Registration) -> str | None:
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


def registration_by_id(registration_id: int) -> Registration | None:
    return db.session.get(Registration, registration_id)


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
