"""Checks when a workshop is saved: what blocks it, and what the coordinator must confirm.

Blocking: the room or the trainer already taken at that time, a capacity above the room's.
Warnings: a public holiday, zone-B school holidays, or a date the holiday data cannot vouch for.
Every message says, in French, what clashes with what.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.catalog.holidays import day_off
from app.catalog.models import Room, Trainer, Workshop, WorkshopStatus
from app.extensions import db
from app.formatting import date_fr, from_paris, time_fr, to_paris


@dataclass(frozen=True)
class Problem:
    #: "room", "trainer", "capacity", "day-off".
    kind: str
    message: str
    #: A blocking problem cannot be confirmed away; a warning can.
    blocking: bool


def check_workshop(
    *,
    starts_at: datetime,
    ends_at: datetime,
    room: Room,
    trainer: Trainer,
    capacity: int,
    workshop_id: int | None = None,
) -> list[Problem]:
    """Every problem with holding a workshop there and then; blocking ones first."""
    problems = [
        *_clashes("room", Workshop.room_id == room.id, starts_at, ends_at, workshop_id),
        *_clashes("trainer", Workshop.trainer_id == trainer.id, starts_at, ends_at, workshop_id),
    ]
    if (too_many := capacity_problem(room, capacity)) is not None:
        problems.append(too_many)
    local_day = to_paris(starts_at).date()
    if (off := day_off(local_day)) is not None:
        problems.append(
            Problem("day-off", f"Le {date_fr(local_day)} : {off.reason}.", blocking=False)
        )
    return sorted(problems, key=lambda p: not p.blocking)


def capacity_problem(room: Room, capacity: int) -> Problem | None:
    if capacity <= room.capacity:
        return None
    return Problem(
        "capacity",
        f"{capacity} places demandées, mais la salle « {room.name} » n'en compte que "
        f"{room.capacity}.",
        blocking=True,
    )


@dataclass(frozen=True)
class DayBookings:
    """What a room and a trainer already hold on one (Paris) day, cancelled workshops aside."""

    day: date
    room: Room
    trainer: Trainer
    in_room: list[Workshop]
    with_trainer: list[Workshop]


def day_bookings(day: date, room: Room, trainer: Trainer, exclude_id=None) -> DayBookings:
    """The room's and the trainer's workshops on `day`, but `exclude_id` (the one being edited)."""
    first = from_paris(datetime.combine(day, time.min)).moment
    last = from_paris(datetime.combine(day + timedelta(days=1), time.min)).moment
    same = sa.or_(Workshop.room_id == room.id, Workshop.trainer_id == trainer.id)
    found = _overlapping(same, first, last, exclude_id)
    return DayBookings(
        day=day,
        room=room,
        trainer=trainer,
        in_room=[w for w in found if w.room_id == room.id],
        with_trainer=[w for w in found if w.trainer_id == trainer.id],
    )


def _overlapping(same, starts_at, ends_at, exclude_id) -> list[Workshop]:
    """The workshops (cancelled ones aside) matching `same` that overlap the time, but one."""
    query = (
        sa.select(Workshop)
        .where(
            same,
            Workshop.status != WorkshopStatus.cancelled,
            Workshop.starts_at < ends_at,
            Workshop.ends_at > starts_at,
        )
        .options(joinedload(Workshop.room).joinedload(Room.site), joinedload(Workshop.trainer))
        .order_by(Workshop.starts_at)
    )
    if exclude_id is not None:
        query = query.where(Workshop.id != exclude_id)
    return list(db.session.scalars(query))


def _clashes(kind, same, starts_at, ends_at, workshop_id) -> list[Problem]:
    problems = []
    for other in _overlapping(same, starts_at, ends_at, workshop_id):
        when = (
            f"le {date_fr(to_paris(other.starts_at))} de {time_fr(other.starts_at)} "
            f"à {time_fr(other.ends_at)}"
        )
        if kind == "room":
            message = (
                f"La salle « {other.room.name} » ({other.room.site.name}) est déjà prise {when} "
                f"par l'atelier « {other.title} »."
            )
        else:
            message = (
                f"{other.trainer.full_name} anime déjà « {other.title} » {when} "
                f"({other.room.site.name})."
            )
        problems.append(Problem(kind, message, blocking=True))
    return problems
