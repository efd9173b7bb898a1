"""What every part of the exchange half-day shares: finding the half-day of a school year, its
local date and times, and whether its call for contributions is open."""

from datetime import UTC, date, datetime, time

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload, selectinload

from app.clock import now
from app.database import begin_write, lock_row, valid_id
from app.errors import NotFound
from app.exchange.models import (
    AgendaSlot,
    AgendaVersion,
    Contribution,
    HalfDay,
    HalfDayRoom,
    HalfDayState,
)
from app.extensions import db
from app.formatting import PARIS

#: School years a URL may name (`/rencontres/2025` is 2025–2026); anything else is a 404.
FIRST_YEAR, LAST_YEAR = 2000, 2100


class HalfDayNotFound(NotFound):
    """No half-day for this school year, or the row is gone: a 404 wherever it is not caught."""


def half_day_of_year(year: int) -> HalfDay:
    """The half-day of school year `year`, with its rooms, or HalfDayNotFound."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise HalfDayNotFound(year)
    half_day = db.session.scalar(
        sa.select(HalfDay)
        .where(HalfDay.school_year == year)
        .options(selectinload(HalfDay.rooms).joinedload(HalfDayRoom.room))
    )
    if half_day is None:
        raise HalfDayNotFound(year)
    return half_day


def upcoming_half_day() -> HalfDay | None:
    """The next half-day not yet over, whatever its state (from its creation, its page is public:
    the call for proposals, then the agenda), or None."""
    return db.session.scalar(
        sa.select(HalfDay).where(HalfDay.ends_at > now()).order_by(HalfDay.starts_at).limit(1)
    )


def current_half_day() -> HalfDay | None:
    """The half-day a visitor of `/rencontres` looks for: the next one, else the latest past."""
    return upcoming_half_day() or db.session.scalar(
        sa.select(HalfDay).order_by(HalfDay.starts_at.desc()).limit(1)
    )


def lock_half_day(half_day_id: int) -> HalfDay:
    """Begin a write transaction and lock the half-day row before anything is read or counted:
    seats, proposals, the agenda and the settings all change under this one lock.
    Raises HalfDayNotFound (after rolling back) when the row is gone."""
    if not valid_id(half_day_id):
        raise HalfDayNotFound(half_day_id)
    lock = current_app.config["SEAT_LOCK_ENABLED"]  # off only in the control runs of the tests
    begin_write(immediate=lock)
    half_day = lock_row(HalfDay, half_day_id, options=(joinedload(HalfDay.site),), lock=lock)
    if half_day is None:
        db.session.rollback()
        raise HalfDayNotFound(half_day_id)
    return half_day


def local_day(half_day: HalfDay) -> date:
    """The half-day's date, in Paris."""
    return half_day.starts_at.astimezone(PARIS).date()


def local_time(moment: datetime) -> time:
    """A stored moment as a Paris wall-clock time."""
    return moment.astimezone(PARIS).time().replace(tzinfo=None)


def at_local(half_day: HalfDay, wall_clock: time) -> datetime:
    """The UTC moment of a Paris wall-clock time on the half-day's date.

    The half-day is an afternoon: no clock change happens in it (they happen at 2 or 3 a.m.).
    """
    local = datetime.combine(local_day(half_day), wall_clock, tzinfo=PARIS)
    return local.astimezone(UTC)


def call_is_open(half_day: HalfDay) -> bool:
    """Proposals are taken, and edited by their presenters, until the deadline."""
    return half_day.state is HalfDayState.call_open and now() < half_day.deadline


# --- the agenda: the draft and the published versions -------------------------------------------


def latest_version(half_day: HalfDay) -> AgendaVersion | None:
    """The last published version of the agenda, or None before the first publication."""
    return db.session.scalar(
        sa.select(AgendaVersion)
        .where(AgendaVersion.half_day_id == half_day.id)
        .order_by(AgendaVersion.number.desc())
        .limit(1)
    )


def slots_of(half_day: HalfDay, version: AgendaVersion | None) -> list[AgendaSlot]:
    """The slots of a published version, or of the draft (`version` None), in time then room
    order, with their contributions, topics and rooms loaded."""
    condition = (
        AgendaSlot.version_id.is_(None) if version is None else AgendaSlot.version_id == version.id
    )
    return list(
        db.session.scalars(
            sa.select(AgendaSlot)
            .where(AgendaSlot.half_day_id == half_day.id, condition)
            .outerjoin(AgendaSlot.room)
            .order_by(AgendaSlot.starts_at, HalfDayRoom.position.nulls_first(), AgendaSlot.id)
            .options(
                selectinload(AgendaSlot.contribution).joinedload(Contribution.topic),
                selectinload(AgendaSlot.room).joinedload(HalfDayRoom.room),
            )
        )
    )
