"""Why the agenda builder leaves a contribution out, or cannot build at all: codes with the
values they name (minutes, equipment, wall-clock times). The pages and the stored reasons put
them into words (`app.exchange.solver_text`); the builder itself says nothing in any language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

# --- a contribution left out, for a reason a coordinator can act on ---------------------------


@dataclass(frozen=True)
class UnplannedDuration:
    """Not one of the durations the agenda is made of."""

    minutes: int


@dataclass(frozen=True)
class MissingEquipment:
    """No room has these needs (each of them, sorted)."""

    needs: tuple[str, ...]


@dataclass(frozen=True)
class EquipmentApart:
    """Every need exists in some room, but no room has them all (all of them, sorted)."""

    needs: tuple[str, ...]


@dataclass(frozen=True)
class AvailableOnlyBefore:
    """The presenters leave (`until`) before contributions may begin (`first`)."""

    until: time
    first: time


@dataclass(frozen=True)
class AvailableOnlyAfter:
    """The presenters arrive (`since`) after contributions must have ended (`last`)."""

    since: time
    last: time


@dataclass(frozen=True)
class AvailabilityTooShort:
    """The presenters' time within the half-day (`starts`–`ends`) is shorter than `minutes`."""

    minutes: int
    starts: time
    ends: time


@dataclass(frozen=True)
class NoSlot:
    """It could go somewhere alone, but the agenda placing the most has no room for it."""


Reason = (
    UnplannedDuration
    | MissingEquipment
    | EquipmentApart
    | AvailableOnlyBefore
    | AvailableOnlyAfter
    | AvailabilityTooShort
    | NoSlot
)

# --- a half-day whose settings cannot hold its own plenaries and break -------------------------


@dataclass(frozen=True)
class OffGrid:
    """A plenary or break length (`minutes`) that is negative or off the `grid`."""

    minutes: int
    grid: int


@dataclass(frozen=True)
class EndNotAfterStart:
    """The end does not follow the start, or not by whole grid steps."""


@dataclass(frozen=True)
class NoAuditorium:
    """No room can hold the opening and closing plenaries."""


@dataclass(frozen=True)
class TooShort:
    """The time between the plenaries cannot hold the break."""


@dataclass(frozen=True)
class BreakWindowOutside:
    """The break's window does not fit between the plenaries."""


Unworkable = OffGrid | EndNotAfterStart | NoAuditorium | TooShort | BreakWindowOutside


class SettingsError(ValueError):
    """The half-day cannot hold its own plenaries and break: a setting to fix, in `problem`."""

    def __init__(self, problem: Unworkable) -> None:
        super().__init__(problem)
        self.problem = problem
