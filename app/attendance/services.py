"""The trainer's view of their sessions: who is expected, who came, whether the session is closed.

Reads only; check-in, sheets and the follow-up have their own modules. Every listing starts from
`staff.access.visible_workshops(user)`, so a trainer never sees another trainer's session.
"""

from dataclasses import dataclass, field
from datetime import datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.attendance.models import Attendance, Presence, SessionClosure
from app.booking.models import Registration, RegistrationStatus
from app.catalog.models import Room, Workshop, WorkshopStatus
from app.clock import now
from app.database import valid_id
from app.extensions import db
from app.formatting import PARIS, by_name, to_paris
from app.staff.access import visible_workshops
from app.staff.models import StaffUser

#: Past sessions shown in the trainer's space (the rest is in the figures).
PAST_SESSIONS_SHOWN = 60


@dataclass
class SessionCounts:
    confirmed: int = 0
    waiting: int = 0
    walk_ins: int = 0
    present: int = 0
    absent: int = 0


@dataclass
class SessionLine:
    workshop: Workshop
    counts: SessionCounts
    closed: bool
    #: It takes place today (in Paris): the trainer's day, set apart at the top of the list.
    today: bool = False


@dataclass
class Roster:
    """Everyone a session concerns, in the order of the sheet, with their marks."""

    workshop: Workshop
    confirmed: list[Registration]
    waiting: list[Registration]
    walk_ins: list[Registration]
    marks: dict[int, Attendance] = field(default_factory=dict)
    closure: SessionClosure | None = None

    @property
    def closed(self) -> bool:
        return self.closure is not None

    @property
    def expected(self) -> list[Registration]:
        """The sheet's people: confirmed seats, then walk-ins."""
        return [*self.confirmed, *self.walk_ins]

    def presence(self, registration: Registration) -> Presence | None:
        mark = self.marks.get(registration.id)
        return mark.presence if mark else None

    @property
    def present_count(self) -> int:
        return sum(1 for m in self.marks.values() if m.presence is Presence.present)


@dataclass(frozen=True)
class Counts:
    """The figures at the top of the check-in page."""

    #: Confirmed seats and walk-ins: the people the sheet lists.
    expected: int
    present: int
    absent: int
    #: Expected people without a mark yet.
    unmarked: int
    walk_ins: int
    waiting: int


def counts(roster: Roster) -> Counts:
    """The figures at the top of the check-in page (an undone mark counts as unmarked)."""
    presences = [roster.presence(r) for r in roster.expected]
    return Counts(
        expected=len(roster.expected),
        present=roster.present_count,
        absent=sum(1 for m in roster.marks.values() if m.presence is Presence.absent),
        unmarked=presences.count(None),
        walk_ins=len(roster.walk_ins),
        waiting=len(roster.waiting),
    )


def session_lines(user: StaffUser) -> tuple[list[SessionLine], list[SessionLine]]:
    """(upcoming, past) sessions this account may see, with their counts: three queries.

    Upcoming holds every session of today (Paris), over or not, marked `today`, first."""
    today = to_paris(now()).date()
    start_of_today = datetime.combine(today, time(0), tzinfo=PARIS)
    base = (
        visible_workshops(user)
        .where(Workshop.status != WorkshopStatus.draft)
        .options(joinedload(Workshop.room).joinedload(Room.site), joinedload(Workshop.trainer))
    )
    upcoming = db.session.scalars(
        base.where(Workshop.ends_at >= start_of_today).order_by(Workshop.starts_at, Workshop.id)
    ).all()
    past = db.session.scalars(
        base.where(Workshop.ends_at < start_of_today)
        .order_by(Workshop.starts_at.desc(), Workshop.id.desc())
        .limit(PAST_SESSIONS_SHOWN)
    ).all()
    counts = _counts([w.id for w in (*upcoming, *past)])
    closed = closed_ids([w.id for w in (*upcoming, *past)])
    return (
        [
            SessionLine(
                w,
                counts.get(w.id, SessionCounts()),
                w.id in closed,
                today=to_paris(w.starts_at).date() == today,
            )
            for w in upcoming
        ],
        [SessionLine(w, counts.get(w.id, SessionCounts()), w.id in closed) for w in past],
    )


def roster(workshop: Workshop) -> Roster:
    registrations = db.session.scalars(
        sa.select(Registration).where(
            Registration.workshop_id == workshop.id,
            Registration.status != RegistrationStatus.cancelled,
        )
    ).all()
    marks = {
        mark.registration_id: mark
        for mark in db.session.scalars(
            sa.select(Attendance).where(Attendance.workshop_id == workshop.id)
        )
    }
    by_status = {status: [] for status in RegistrationStatus}
    for registration in sorted(registrations, key=by_name):
        by_status[registration.status].append(registration)
    return Roster(
        workshop=workshop,
        confirmed=by_status[RegistrationStatus.confirmed],
        waiting=sorted(by_status[RegistrationStatus.waiting], key=lambda r: r.waiting_position),
        walk_ins=by_status[RegistrationStatus.walk_in],
        marks=marks,
        closure=db.session.get(SessionClosure, workshop.id),
    )


def session_closed(workshop_id: int) -> bool:
    """Whether the trainer closed the session: attendance and names are frozen."""
    return db.session.get(SessionClosure, workshop_id) is not None


def workshop_for_staff(workshop_id: int) -> Workshop | None:
    """A non-draft workshop with its room, site and trainer, or None."""
    if not valid_id(workshop_id):
        return None
    return db.session.scalar(
        sa.select(Workshop)
        .where(Workshop.id == workshop_id, Workshop.status != WorkshopStatus.draft)
        .options(joinedload(Workshop.room).joinedload(Room.site), joinedload(Workshop.trainer))
    )


def _counts(workshop_ids: list[int]) -> dict[int, SessionCounts]:
    counts: dict[int, SessionCounts] = {}
    if not workshop_ids:
        return counts
    rows = db.session.execute(
        sa.select(Registration.workshop_id, Registration.status, sa.func.count())
        .where(Registration.workshop_id.in_(workshop_ids))
        .group_by(Registration.workshop_id, Registration.status)
    )
    attribute = {
        RegistrationStatus.confirmed: "confirmed",
        RegistrationStatus.waiting: "waiting",
        RegistrationStatus.walk_in: "walk_ins",
    }
    for workshop_id, status, count in rows:
        if status in attribute:
            setattr(counts.setdefault(workshop_id, SessionCounts()), attribute[status], count)
    marks = db.session.execute(
        sa.select(Attendance.workshop_id, Attendance.presence, sa.func.count())
        .where(Attendance.workshop_id.in_(workshop_ids))
        .group_by(Attendance.workshop_id, Attendance.presence)
    )
    for workshop_id, presence, count in marks:
        if presence is None:  # an undone mark
            continue
        setattr(counts.setdefault(workshop_id, SessionCounts()), presence.value, count)
    return counts


def closed_ids(workshop_ids: list[int]) -> set[int]:
    """Those of these sessions their trainer closed."""
    if not workshop_ids:
        return set()
    return set(
        db.session.scalars(
            sa.select(SessionClosure.workshop_id).where(
                SessionClosure.workshop_id.in_(workshop_ids)
            )
        )
    )
