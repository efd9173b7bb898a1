"""The one checker of the solver's hard constraints on a draft, in French, naming what clashes
with what: every change by hand and every publication goes through it."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.exchange import solver
from app.exchange.models import Contribution, HalfDay, HalfDayRoom
from app.exchange.planning.presenters import Presenters
from app.exchange.services import at_local
from app.formatting import time_fr

#: Minutes: every contribution starts on this grid, counted from the start of the half-day.
GRID = solver.GRID


@dataclass(frozen=True)
class Frame:
    """Where contributions may go in a draft: after the opening, before the closing, never
    across the break (all from the draft's own plenary slots)."""

    starts: datetime  #: the half-day's start: the 5-minute grid counts from it
    first: datetime  #: the end of the opening plenary
    last: datetime  #: the start of the closing plenary
    break_starts: datetime | None
    break_ends: datetime | None


@dataclass(frozen=True)
class Placement:
    contribution: Contribution
    room: HalfDayRoom
    starts: datetime
    ends: datetime
    slot_id: int | None = None  #: the draft slot it comes from (None for a proposed change)

    @property
    def span(self) -> str:
        return f"{time_fr(self.starts)} – {time_fr(self.ends)}"

    def overlaps(self, starts: datetime, ends: datetime) -> bool:
        return self.starts < ends and starts < self.ends


def _equipment(members) -> str:
    return ", ".join(sorted(member.title for member in members))


def clashes(
    half_day: HalfDay, frame: Frame, placement: Placement, others, presenters: Presenters
) -> list[str]:
    """What stops `placement` among `others` (the rest of the draft), in French, naming what
    clashes with what: the solver's hard constraints — the 5-minute grid, between the opening
    and the closing plenaries, not across the break, room equipment, presenters' availability,
    no presenter in two places, no overlap in the room. Empty when it fits."""
    c, room = placement.contribution, placement.room
    what = f"« {c.title} » ({placement.span})"
    problems = []
    offset = (placement.starts - frame.starts) / timedelta(minutes=1)
    if offset % GRID:
        problems.append(
            f"{what} : le début doit tomber sur la grille de {GRID} minutes "
            f"({time_fr(frame.starts)}, {time_fr(frame.starts + timedelta(minutes=GRID))}…)."
        )
    if placement.starts < frame.first:
        problems.append(
            f"{what} commencerait avant la fin de la plénière d'ouverture ({time_fr(frame.first)})."
        )
    if placement.ends > frame.last:
        problems.append(
            f"{what} finirait après le début de la plénière de clôture ({time_fr(frame.last)})."
        )
    if frame.break_starts is not None and placement.overlaps(frame.break_starts, frame.break_ends):
        problems.append(
            f"{what} empiéterait sur la pause commune "
            f"({time_fr(frame.break_starts)} – {time_fr(frame.break_ends)})."
        )
    missing = c.needs - room.equipment
    if missing:
        problems.append(
            f"« {room.name} » n'a pas l'équipement dont « {c.title} » a besoin : {_equipment(missing)}."
        )
    if c.available_from is not None and placement.starts < at_local(half_day, c.available_from):
        problems.append(
            f"{what} : les intervenant·es ne sont disponibles qu'à partir de "
            f"{time_fr(at_local(half_day, c.available_from))}."
        )
    if c.available_until is not None and placement.ends > at_local(half_day, c.available_until):
        problems.append(
            f"{what} : les intervenant·es ne sont disponibles que jusqu'à "
            f"{time_fr(at_local(half_day, c.available_until))}."
        )
    for other in others:
        if other.contribution.id == c.id or not placement.overlaps(other.starts, other.ends):
            continue
        theirs = f"« {other.contribution.title} » ({other.span})"
        if other.room.id == room.id:
            problems.append(
                f"Conflit de salle : {what} chevaucherait {theirs} dans « {room.name} »."
            )
        if presenters.of(c.id) & presenters.of(other.contribution.id):
            names = ", ".join(presenters.shared(c, other.contribution))
            problems.append(
                f"{names} serait à deux endroits à la fois : {what} dans « {room.name} » et "
                f"{theirs} dans « {other.room.name} »."
            )
    return problems
