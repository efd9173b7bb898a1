"""What a coordinator sets for a half-day, parsed; the refusal that says why it cannot be
saved; the lock every change takes."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from app.catalog.models import Room, Site
from app.clock import now
from app.errors import Refused
from app.exchange.models import Equipment, HalfDay
from app.exchange.services import HalfDayNotFound, lock_half_day
from app.formatting import PARIS

#: The half-day is held between these Paris wall-clock times.
EARLIEST, LATEST = time(8, 0), time(20, 0)
DEFAULT_START, DEFAULT_END = time(13, 30), time(17, 0)
#: Time left for contributions besides the plenaries and the break, at least.
MIN_CONTENT_MINUTES = 30
#: (lowest, highest, how the message names it) for the plenaries and the break, in minutes.
DURATION_BOUNDS = {
    "opening_minutes": (5, 60, "L'ouverture"),
    "closing_minutes": (5, 60, "La clôture"),
    "break_minutes": (10, 60, "La pause"),
}
WEDNESDAY = 2


@dataclass(frozen=True)
class Problem:
    """A reason the settings cannot be saved; `field` names the setting it is about."""

    field: str | None
    message: str


class SetupRefused(Refused):
    """The change cannot be made; `problems` says why, in French, each with its setting (the
    form shows each under its field). Nothing was written."""

    def __init__(self, problems: list[Problem]):
        super().__init__(*(problem.message for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class RoomChoice:
    """A room of the site, chosen for the half-day with what it offers that day."""

    room: Room
    is_auditorium: bool = False
    equipment: frozenset[Equipment] = frozenset()


@dataclass(frozen=True)
class Settings:
    """What the coordinator typed, parsed; times are Paris wall-clock times."""

    school_year: int
    title: str
    day: date
    start: time
    end: time
    #: Naive Paris wall-clock date and time.
    deadline: datetime
    site: Site
    rooms: tuple[RoomChoice, ...]
    capacity: int
    videoconference_url: str = ""
    description: str = ""
    opening_minutes: int = 15
    closing_minutes: int = 15
    break_minutes: int = 20


@dataclass
class Saved:
    half_day: HalfDay | None
    #: Warnings to confirm before anything is written (nothing was).
    to_confirm: list[str] = field(default_factory=list)
    #: What the coordinator must know after the save: "l'agenda doit être reconstruit"…
    notes: list[str] = field(default_factory=list)
    changed: bool = True


@dataclass(frozen=True)
class Moments:
    """The settings' UTC moments."""

    starts_at: datetime
    ends_at: datetime
    deadline: datetime


def lock(half_day_id: int) -> HalfDay:
    """Begin the change's write transaction with the half-day row locked; a half-day deleted
    meanwhile is a refusal shown on the coordinator's page, not a 404."""
    try:
        return lock_half_day(half_day_id)
    except HalfDayNotFound:
        raise SetupRefused([Problem(None, "Cette demi-journée n'existe plus.")]) from None


def minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def default_deadline(day: date) -> datetime | None:
    """Four weeks before the half-day, at 18:00 (naive Paris wall-clock), or None if past."""
    deadline = datetime.combine(day - timedelta(weeks=4), time(18, 0))
    return deadline if deadline.replace(tzinfo=PARIS) > now() else None
