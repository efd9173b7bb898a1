"""From the database to the solver: the half-day's rooms and times, and its accepted contributions
with their presenters' identities."""

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.exchange import solver
from app.exchange.models import Contribution, ContributionStatus, HalfDay
from app.exchange.planning.presenters import Presenters
from app.exchange.services import local_time
from app.extensions import db


def accepted_contributions(half_day: HalfDay) -> list[Contribution]:
    return list(
        db.session.scalars(
            sa.select(Contribution)
            .where(
                Contribution.half_day_id == half_day.id,
                Contribution.status == ContributionStatus.accepted,
            )
            .options(joinedload(Contribution.topic))
            .order_by(Contribution.id)
        )
    )


def solver_half_day(half_day: HalfDay) -> solver.HalfDay:
    rooms = tuple(
        solver.Room(
            id=room.id,
            name=room.name,
            capacity=room.room.capacity,
            equipment=frozenset(member.value for member in room.equipment),
            is_auditorium=room.is_auditorium,
        )
        for room in half_day.rooms
    )
    return solver.HalfDay(
        starts=local_time(half_day.starts_at),
        ends=local_time(half_day.ends_at),
        rooms=rooms,
        opening_minutes=half_day.opening_minutes,
        closing_minutes=half_day.closing_minutes,
        break_minutes=half_day.break_minutes,
    )


def solver_contribution(contribution: Contribution, presenters: Presenters) -> solver.Contribution:
    return solver.Contribution(
        id=contribution.id,
        title=contribution.title,
        duration_minutes=contribution.duration_minutes,
        topic=contribution.topic.slug,
        level=contribution.level.value,
        presenters=tuple(sorted(presenters.of(contribution.id))),
        needs=frozenset(member.value for member in contribution.needs),
        available_from=contribution.available_from,
        available_until=contribution.available_until,
    )
