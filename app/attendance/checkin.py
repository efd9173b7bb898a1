"""Check-in on the day: a tap marks a person present or absent (or unmarks them again), a person
who came without a registration is added on the spot, and the trainer closes the session. All of
it opens OPENS_BEFORE_START before the start, and stops when the session is closed.

Each write is one transaction that first locks the workshop row — shared for a tap, exclusive to
add a person or to close — and only then reads whether the session is closed: a tap can never
land after the closure, and two taps on two tablets do not wait for each other on PostgreSQL.

A tap carries the time it was made on the trainer's device (`tapped_at_ms`). The mark is an
insert-or-update that only applies when that time is newer than the stored one, so a double tap,
a retried request or an older tap arriving late changes nothing; the last tap made wins, whatever
the order the requests arrive in.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.attendance.models import UNMARKED, Attendance, Presence, SessionClosure
from app.booking import services as booking
from app.booking.models import Registration, RegistrationStatus
from app.catalog.models import Workshop, WorkshopStatus
from app.clock import now
from app.database import lock_row, valid_id, write_transaction
from app.errors import Refused
from app.extensions import db
from app.formatting import datetime_fr
from app.forms import normalise_email
from app.staff.models import StaffUser

#: Check-in opens this long before the start: taps, people added on the spot, closing.
OPENS_BEFORE_START = timedelta(hours=1)
#: A tap dated further ahead of the server's clock comes from a device whose clock is wrong:
#: stored, it would freeze the mark (no later tap could be "newer").
MAX_TAP_AHEAD = timedelta(days=1)
#: Beyond JavaScript's exact integers: not a time any device sends.
MAX_TAP_MS = 2**53 - 1

#: Who can be marked: a seat, a waiting place (admitted at the door) or a walk-in.
MARKABLE = (RegistrationStatus.confirmed, RegistrationStatus.waiting, RegistrationStatus.walk_in)
#: Who is marked absent at closing when unmarked; a waiting person without a mark just did not
#: get in, and stays unmarked.
EXPECTED = (RegistrationStatus.confirmed, RegistrationStatus.walk_in)


class CheckInRefused(Refused):
    """The check-in cannot do this; `str()` is the French explanation."""


class InvalidTap(CheckInRefused):
    """The tap's presence or time is not one the page sends."""


class NotOnThisSession(CheckInRefused):
    """No such registration on this session (unknown, another workshop's, or cancelled)."""


class SessionClosed(CheckInRefused):
    """The session is closed: attendance is frozen."""


class NotNow(CheckInRefused):
    """Not possible at this moment: too early, or the workshop is cancelled."""


@dataclass(frozen=True)
class Mark:
    """A person's mark after a tap: what is stored, and whether this tap changed it."""

    registration_id: int
    #: None: unmarked (the mark was undone).
    presence: Presence | None
    tapped_at_ms: int
    applied: bool


@dataclass(frozen=True)
class WalkIn:
    registration_id: int
    full_name: str
    #: The status of the registration found for that address, when there already was one.
    existing_status: RegistrationStatus | None = None

    @property
    def message(self) -> str:
        if self.existing_status is None:
            return f"{self.full_name} est ajouté·e sur place et marqué·e présent·e."
        if self.existing_status is RegistrationStatus.walk_in:
            already = "avait déjà été ajouté·e sur place"
        else:
            already = f"était déjà inscrit·e ({self.existing_status.title.lower()})"
        return (
            f"{self.full_name} {already} avec cette adresse : aucune nouvelle inscription n'a été "
            "créée, cette personne est marquée présente."
        )


@dataclass(frozen=True)
class Closing:
    closed_at: datetime
    #: True when the session was already closed: nothing changed.
    already_closed: bool
    #: People without a mark, marked absent by this closing.
    marked_absent: int = 0


def now_ms() -> int:
    """The server's time as a tap time: what a page without JavaScript sends back."""
    return int(now().timestamp() * 1000)


def opens_at(workshop: Workshop) -> datetime:
    """From when people can be marked and added on the spot, and the session closed."""
    return workshop.starts_at - OPENS_BEFORE_START


def is_open(workshop: Workshop) -> bool:
    return now() >= opens_at(workshop)


def mark(
    workshop: Workshop,
    registration_id: int,
    presence: Presence | str | None,
    tapped_at_ms: int,
    by: StaffUser | None = None,
) -> Mark:
    """Mark one person of this session present or absent, or unmark them (`presence` None or
    UNMARKED), as of `tapped_at_ms`.

    Idempotent and order-safe: a tap no newer than the stored one changes nothing (`applied`
    False) and the stored mark is returned. Raises InvalidTap, NotOnThisSession, SessionClosed
    or NotNow (before check-in opens, or a cancelled workshop).
    """
    presence = _presence(presence)
    _check_tap_time(tapped_at_ms)
    by_id = _staff_id(by)
    if not valid_id(registration_id):
        raise NotOnThisSession(_NOT_ON_THIS_SESSION)
    workshop_id = workshop.id
    with write_transaction():
        status = _locked_status(workshop_id, shared=True)
        _refuse_if_frozen(workshop_id, status)
        _refuse_if_early(workshop, "pointer les présences")
        registration = _markable(workshop_id, registration_id)
        applied = _upsert_mark(registration, presence, tapped_at_ms, by_id)
        stored = _stored_mark(registration_id)
    return Mark(registration_id, stored.presence, stored.tapped_at_ms, applied)


def add_walk_in(
    workshop: Workshop,
    last_name: str,
    first_name: str,
    email: str,
    school: str,
    uai: str | None = None,
    *,
    by: StaffUser | None = None,
) -> WalkIn:
    """Add a person who came without a registration and mark them present, in one transaction.

    The e-mail address is required: the attendance certificate is mailed to it. An address
    already registered on this workshop is not duplicated: that registration is marked present.
    No mail is sent now (the certificate follows the closing). Raises SessionClosed or NotNow.
    """
    by_id = _staff_id(by)
    applicant = booking.Applicant(
        last_name=last_name,
        first_name=first_name,
        email=normalise_email(email),
        school=school,
        uai=uai or None,
    )
    try:
        with write_transaction():
            result = booking.add_walk_in(workshop.id, applicant)  # locks the workshop row
            registration = result.row
            _refuse_if_frozen(workshop.id, registration.workshop.status)
            _refuse_if_early(workshop, "ajouter une personne sur place")
            _mark_present_now(registration, by_id)
            walk_in = WalkIn(
                registration_id=registration.id,
                full_name=registration.full_name,
                existing_status=registration.status if result.already_registered else None,
            )
    except booking.WorkshopNotFound:
        raise NotOnThisSession("Cette séance n'existe pas.") from None
    return walk_in


def close(workshop: Workshop, by: StaffUser | None = None) -> Closing:
    """Close the session: attendance is frozen, and every confirmed or walk-in person without a
    mark is marked absent (a waiting person without a mark stays unmarked).

    Closing twice is harmless: the second time changes nothing and keeps the first closing time.
    Possible from an hour before the start. Raises NotNow.
    """
    by_id = _staff_id(by)
    workshop_id = workshop.id
    with write_transaction():
        status = _locked_status(workshop_id, shared=False)
        closure = _closure(workshop_id)
        if closure is not None:
            return Closing(closed_at=closure.closed_at, already_closed=True)
        if status is WorkshopStatus.cancelled:
            raise NotNow(_CANCELLED)
        _refuse_if_early(workshop, "clore la séance")
        return _close(workshop_id, by_id)


def _close(workshop_id: int, by_id: int | None) -> Closing:
    tap = now_ms()
    unmarked = _unmarked_expected(workshop_id)
    # Undone marks make way for the closing's (under the exclusive lock: no tap in between).
    db.session.execute(
        sa.delete(Attendance)
        .where(Attendance.registration_id.in_(unmarked))
        .execution_options(synchronize_session=False)
    )
    for registration_id in unmarked:
        db.session.add(
            Attendance(
                registration_id=registration_id,
                workshop_id=workshop_id,
                presence=Presence.absent,
                tapped_at_ms=tap,
                marked_by_id=by_id,
            )
        )
    closure = SessionClosure(workshop_id=workshop_id, closed_by_id=by_id)
    db.session.add(closure)
    db.session.flush()
    return Closing(closed_at=closure.closed_at, already_closed=False, marked_absent=len(unmarked))


# --- rules -------------------------------------------------------------------------------------

_NOT_ON_THIS_SESSION = (
    "Cette personne n'est pas inscrite à cette séance (ou son inscription est annulée)."
)
_CANCELLED = "Cet atelier est annulé : il n'y a pas de pointage."
_CLOSED = "La séance est close : la présence est figée et ne peut plus être modifiée."


def _presence(value: Presence | str | None) -> Presence | None:
    if value is None or value == UNMARKED:
        return None
    if isinstance(value, Presence):
        return value
    presence = Presence.from_value(value)
    if presence is None:
        raise InvalidTap("La présence doit être « présent », « absent » ou « non pointé ».")
    return presence


def _check_tap_time(tapped_at_ms) -> None:
    if isinstance(tapped_at_ms, bool) or not isinstance(tapped_at_ms, int):
        raise InvalidTap("L'heure du pointage est invalide : rechargez la page et recommencez.")
    if not 0 < tapped_at_ms <= MAX_TAP_MS:
        raise InvalidTap("L'heure du pointage est invalide : rechargez la page et recommencez.")
    if tapped_at_ms > now_ms() + MAX_TAP_AHEAD // timedelta(milliseconds=1):
        raise InvalidTap(
            "L'horloge de cet appareil semble déréglée (pointage daté de demain ou plus tard) : "
            "corrigez sa date et son heure, puis recommencez."
        )


def _refuse_if_frozen(workshop_id: int, status: WorkshopStatus | None) -> None:
    """Under the workshop's lock: a closed session or a cancelled workshop takes no change."""
    if _closure(workshop_id) is not None:
        raise SessionClosed(_CLOSED)
    if status is WorkshopStatus.cancelled:
        raise NotNow(_CANCELLED)


def _refuse_if_early(workshop: Workshop, what: str) -> None:
    if not is_open(workshop):
        raise NotNow(
            f"Il n'est pas encore possible de {what} : c'est possible à partir du "
            f"{datetime_fr(opens_at(workshop))}, une heure avant le début de la séance."
        )


def _markable(workshop_id: int, registration_id: int) -> Registration:
    registration = db.session.scalar(
        sa.select(Registration).where(
            Registration.id == registration_id,
            Registration.workshop_id == workshop_id,
            Registration.status.in_(MARKABLE),
        )
    )
    if registration is None:
        raise NotOnThisSession(_NOT_ON_THIS_SESSION)
    return registration


# --- storage -----------------------------------------------------------------------------------


def _staff_id(by: StaffUser | None) -> int | None:
    """Read before any commit: `begin_write` ends the view's transaction, expiring the user."""
    return by.id if by is not None else None


def _locked_status(workshop_id: int, *, shared: bool) -> WorkshopStatus | None:
    """The workshop's status, its row locked (FOR SHARE: taps on two tablets go side by side;
    FOR UPDATE to close)."""
    workshop = lock_row(Workshop, workshop_id, shared=shared)
    return workshop.status if workshop is not None else None


def _closure(workshop_id: int) -> SessionClosure | None:
    return db.session.scalar(
        sa.select(SessionClosure)
        .where(SessionClosure.workshop_id == workshop_id)
        .execution_options(populate_existing=True)
    )


def _stored_mark(registration_id: int) -> Attendance:
    return db.session.scalar(
        sa.select(Attendance)
        .where(Attendance.registration_id == registration_id)
        .execution_options(populate_existing=True)
    )


def _upsert_mark(
    registration: Registration, presence: Presence | None, tapped_at_ms: int, by_id: int | None
) -> bool:
    """Insert the mark, or update it if this tap is newer than the stored one: one statement, so
    two taps racing on the same person (two tablets) cannot both insert. True when written."""
    dialect = db.session.connection().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(Attendance).values(
        registration_id=registration.id,
        workshop_id=registration.workshop_id,
        presence=presence,
        tapped_at_ms=tapped_at_ms,
        marked_at=now(),
        marked_by_id=by_id,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[Attendance.registration_id],
        set_={
            "presence": statement.excluded.presence,
            "tapped_at_ms": statement.excluded.tapped_at_ms,
            "marked_at": statement.excluded.marked_at,
            "marked_by_id": statement.excluded.marked_by_id,
        },
        where=Attendance.tapped_at_ms < statement.excluded.tapped_at_ms,
    )
    # RETURNING gives a row only when the insert or the update happened (rowcount is not
    # reliable for an upsert across drivers).
    written = db.session.execute(statement.returning(Attendance.registration_id)).first()
    return written is not None


def _mark_present_now(registration: Registration, by_id: int | None) -> None:
    """Present, as the newest mark there is: adding someone at the door comes after any tap."""
    stored = _stored_mark(registration.id)
    tap = max(now_ms(), stored.tapped_at_ms + 1) if stored is not None else now_ms()
    _upsert_mark(registration, Presence.present, tap, by_id)


def _unmarked_expected(workshop_id: int) -> list[int]:
    """Expected people without a mark, or whose mark was undone."""
    marked = sa.select(Attendance.registration_id).where(
        Attendance.registration_id == Registration.id, Attendance.presence.is_not(None)
    )
    return list(
        db.session.scalars(
            sa.select(Registration.id)
            .where(
                Registration.workshop_id == workshop_id,
                Registration.status.in_(EXPECTED),
                ~marked.exists(),
            )
            .order_by(Registration.id)
        )
    )
