"""What the agenda builder takes and returns: plain frozen dataclasses, no database, no text."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from typing import Literal

from app.exchange.solver.reasons import Reason

GRID = 5  #: minutes: every start and end lies on this grid, counted from the half-day start
DURATIONS = (15, 30, 45, 60)  #: testimony, demonstration, workshop, round table

Level = Literal["debutant", "expert"]
SlotKind = Literal["opening", "closing", "break", "contribution"]


@dataclass(frozen=True)
class Room:
    id: int | str
    name: str
    capacity: int
    equipment: frozenset[str] = frozenset()
    is_auditorium: bool = False


@dataclass(frozen=True)
class Contribution:
    id: int | str
    title: str
    duration_minutes: int
    topic: str
    level: Level
    presenters: tuple[str, ...] = ()
    needs: frozenset[str] = frozenset()
    available_from: time | None = None
    available_until: time | None = None


@dataclass(frozen=True)
class HalfDay:
    starts: time
    ends: time
    rooms: tuple[Room, ...]
    opening_minutes: int = 15
    closing_minutes: int = 15
    break_minutes: int = 20
    break_window: tuple[time, time] | None = None


@dataclass(frozen=True)
class Slot:
    contribution_id: int | str | None
    kind: SlotKind
    room_id: int | str | None  #: None for the common break: everyone
    starts: time
    ends: time


@dataclass
class Agenda:
    slots: list[Slot]
    left_out: list[tuple[int | str, Reason]]  #: (contribution id, why it is not placed)
    quality: dict = field(default_factory=dict)
    status: Literal["optimal", "feasible"] = "optimal"
