"""Where the half-day happens: the rooms chosen on its site (one auditorium), the seats the
auditorium and the confirmed attendees allow, the workshops in the way, and the rooms' update."""

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.catalog.models import Workshop, WorkshopStatus
from app.exchange.models import (
    AgendaSlot,
    AttendanceMode,
    Attendee,
    AttendeeStatus,
    HalfDay,
    HalfDayRoom,
)
from app.exchange.setup.settings import Moments, Problem, RoomChoice, Settings
from app.extensions import db
from app.formatting import of_place, time_fr


def room_problems(settings: Settings, half_day: HalfDay | None) -> list[Problem]:
    if not settings.rooms:
        return [
            Problem(
                "rooms",
                (
                    "Choisissez au moins une salle : l'auditorium, et les salles annexes s'il y en a."
                ),
            )
        ]
    problems = [
        Problem(
            "rooms",
            (
                f"La salle « {choice.room.name} » n'est pas sur le site {of_place(settings.site.name)} : "
                "choisissez les salles du site de la demi-journée."
            ),
        )
        for choice in settings.rooms
        if choice.room.site_id != settings.site.id
    ]
    if len({choice.room.id for choice in settings.rooms}) != len(settings.rooms):
        problems.append(Problem("rooms", "Une salle est choisie deux fois."))
    if sum(choice.is_auditorium for choice in settings.rooms) != 1:
        problems.append(
            Problem(
                "auditorium",
                (
                    "Choisissez, parmi les salles retenues, un seul auditorium : l'ouverture et la clôture "
                    "s'y tiennent."
                ),
            )
        )
    if half_day is not None:
        problems += _published_rooms_kept(settings, half_day)
    return problems


def _published_rooms_kept(settings: Settings, half_day: HalfDay) -> list[Problem]:
    """A room a published version of the agenda uses stays: versions are kept as published."""
    chosen = {choice.room.id for choice in settings.rooms}
    removed = [room for room in half_day.rooms if room.room_id not in chosen]
    if not removed:
        return []
    used = set(
        db.session.scalars(
            sa.select(AgendaSlot.room_id)
            .where(
                AgendaSlot.room_id.in_([room.id for room in removed]),
                AgendaSlot.version_id.is_not(None),
            )
            .distinct()
        )
    )
    return [
        Problem(
            "rooms",
            (
                f"La salle « {room.name} » figure dans une version publiée de l'agenda : elle ne peut "
                "plus être retirée (les versions publiées sont conservées telles quelles). Vous pouvez "
                "reconstruire l'agenda sans y placer d'intervention en la laissant sans équipement."
            ),
        )
        for room in removed
        if room.id in used
    ]


def capacity_problems(settings: Settings, half_day: HalfDay | None) -> list[Problem]:
    if settings.capacity < 1:
        return [Problem("capacity", "Indiquez au moins 1 place sur place.")]
    auditorium = next((c.room for c in settings.rooms if c.is_auditorium), None)
    if auditorium is not None and settings.capacity > auditorium.capacity:
        return [
            Problem(
                "capacity",
                (
                    f"{settings.capacity} places sur place demandées, mais l'auditorium « {auditorium.name} » "
                    f"n'en compte que {auditorium.capacity}."
                ),
            )
        ]
    if half_day is not None:
        confirmed = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Attendee)
            .where(
                Attendee.half_day_id == half_day.id,
                Attendee.mode == AttendanceMode.in_person,
                Attendee.status == AttendeeStatus.confirmed,
            )
        )
        if settings.capacity < confirmed:
            return [
                Problem(
                    "capacity",
                    (
                        f"{confirmed} personnes ont une place confirmée sur place : la capacité ne peut pas "
                        f"descendre à {settings.capacity}. Annulez d'abord des inscriptions."
                    ),
                )
            ]
    return []


def workshop_clashes(settings: Settings, moments: Moments) -> list[str]:
    """Workshops held in a chosen room during the half-day (a warning: one may be moved)."""
    workshops = db.session.scalars(
        sa.select(Workshop)
        .where(
            Workshop.room_id.in_([choice.room.id for choice in settings.rooms]),
            Workshop.status != WorkshopStatus.cancelled,
            Workshop.starts_at < moments.ends_at,
            Workshop.ends_at > moments.starts_at,
        )
        .options(joinedload(Workshop.room))
        .order_by(Workshop.starts_at)
    )
    return [
        f"La salle « {w.room.name} » est prise de {time_fr(w.starts_at)} à {time_fr(w.ends_at)} "
        f"par l'atelier « {w.title} » : déplacez-le ou choisissez une autre salle."
        for w in workshops
    ]


def ordered(choices) -> list[RoomChoice]:
    """The auditorium first, then the other rooms as chosen."""
    return sorted(choices, key=lambda choice: not choice.is_auditorium)


def set_rooms(half_day: HalfDay, choices) -> int:
    """Update the half-day's rooms in place; the draft's slots in a removed room go with it
    (the draft must be rebuilt anyway). Returns how many draft slots went."""
    kept = {room.room_id: room for room in half_day.rooms}
    rooms = []
    for position, choice in enumerate(ordered(choices)):
        room = kept.pop(choice.room.id, None) or HalfDayRoom(room=choice.room)
        room.is_auditorium, room.equipment, room.position = (
            choice.is_auditorium,
            choice.equipment,
            position,
        )
        rooms.append(room)
    dropped = 0
    if kept:
        removed = [room.id for room in kept.values() if room.id is not None]
        if removed:
            dropped = db.session.execute(
                sa.delete(AgendaSlot).where(
                    AgendaSlot.room_id.in_(removed), AgendaSlot.version_id.is_(None)
                )
            ).rowcount
    half_day.rooms = rooms
    return dropped


def ordered_rooms(half_day: HalfDay) -> list[HalfDayRoom]:
    return sorted(half_day.rooms, key=lambda room: (room.position, room.room.name))
