"""The half-day in grid units from its start, and the checks made before the solver: a
contribution that could go nowhere, even alone, is left out with a reason of its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from app.exchange.solver.data import DURATIONS, GRID, Contribution, HalfDay, Room
from app.exchange.solver.reasons import (
    AvailabilityTooShort,
    AvailableOnlyAfter,
    AvailableOnlyBefore,
    BreakWindowOutside,
    EndNotAfterStart,
    EquipmentApart,
    MissingEquipment,
    NoAuditorium,
    OffGrid,
    Reason,
    SettingsError,
    TooShort,
    UnplannedDuration,
)

BREAK_SPREAD = 30  #: minutes either side of the middle where a break without window may go


def minutes_of(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def clock_of(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


@dataclass(frozen=True)
class Frame:
    """The half-day in grid units from its start: where contributions and the break may go."""

    origin: int  #: minutes since midnight of the half-day start
    end: int  #: units: the end of the half-day
    first: int  #: units: the end of the opening plenary, where contributions may begin
    last: int  #: units: the start of the closing plenary, where contributions must have ended
    break_units: int
    break_earliest: int
    break_latest: int  #: the latest start of the break

    @classmethod
    def of(cls, half_day: HalfDay) -> Frame:
        """The frame of `half_day`; SettingsError when it cannot hold its plenaries and break."""
        for minutes in (half_day.opening_minutes, half_day.closing_minutes, half_day.break_minutes):
            if minutes < 0 or minutes % GRID:
                raise SettingsError(OffGrid(minutes, GRID))
        origin = minutes_of(half_day.starts)
        length = minutes_of(half_day.ends) - origin
        if length <= 0 or length % GRID:
            raise SettingsError(EndNotAfterStart())
        if not any(room.is_auditorium for room in half_day.rooms):
            raise SettingsError(NoAuditorium())
        first = half_day.opening_minutes // GRID
        last = (length - half_day.closing_minutes) // GRID
        break_units = half_day.break_minutes // GRID
        if last - first < break_units:
            raise SettingsError(TooShort())
        if half_day.break_window:
            earliest = max(first, units_up(half_day.break_window[0], origin))
            latest = min(last, units_down(half_day.break_window[1], origin)) - break_units
        else:
            middle = (first + last - break_units) // 2
            earliest = max(first, middle - BREAK_SPREAD // GRID)
            latest = min(last - break_units, middle + BREAK_SPREAD // GRID)
        if latest < earliest:
            raise SettingsError(BreakWindowOutside())
        return cls(origin, length // GRID, first, last, break_units, earliest, latest)

    @property
    def break_default(self) -> int:
        return (self.break_earliest + self.break_latest) // 2

    def clock(self, units: int) -> time:
        return clock_of(self.origin + units * GRID)

    def availability(self, contribution: Contribution) -> tuple[int, int]:
        """The units between which the contribution may run, within the contributions' time."""
        start, stop = self.first, self.last
        if contribution.available_from is not None:
            start = max(start, units_up(contribution.available_from, self.origin))
        if contribution.available_until is not None:
            stop = min(stop, units_down(contribution.available_until, self.origin))
        return start, stop


def units_up(moment: time, origin: int) -> int:
    return -((origin - minutes_of(moment)) // GRID)


def units_down(moment: time, origin: int) -> int:
    return (minutes_of(moment) - origin) // GRID


# --- the checks before the solver: reasons a coordinator can act on --------------------------


def precheck(contribution: Contribution, frame: Frame, rooms: list[Room]) -> Reason | None:
    return (
        _duration_problem(contribution)
        or _equipment_problem(contribution, rooms)
        or _availability_problem(contribution, frame)
    )


def _duration_problem(contribution: Contribution) -> Reason | None:
    if contribution.duration_minutes not in DURATIONS:
        return UnplannedDuration(contribution.duration_minutes)
    return None


def _equipment_problem(contribution: Contribution, rooms: list[Room]) -> Reason | None:
    if any(contribution.needs <= room.equipment for room in rooms):
        return None
    missing = sorted(
        need for need in contribution.needs if not any(need in room.equipment for room in rooms)
    )
    if missing:
        return MissingEquipment(tuple(missing))
    return EquipmentApart(tuple(sorted(contribution.needs)))


def _availability_problem(contribution: Contribution, frame: Frame) -> Reason | None:
    start, stop = frame.availability(contribution)
    if stop <= frame.first:
        return AvailableOnlyBefore(contribution.available_until, frame.clock(frame.first))
    if start >= frame.last:
        return AvailableOnlyAfter(contribution.available_from, frame.clock(frame.last))
    if (stop - start) * GRID < contribution.duration_minutes:
        return AvailabilityTooShort(
            contribution.duration_minutes, frame.clock(start), frame.clock(stop)
        )
    return None
