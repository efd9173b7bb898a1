"""Everything wrong with a workshop as typed, found at once: its times (a time that does not
exist in Paris, an end before the start, a deadline after it), the room's and the trainer's
clashes, a capacity above the room's, days off — so the coordinator fixes them all in one go.
Also what the room and the trainer already hold that day, shown beside the form."""

from dataclasses import dataclass, field
from datetime import date, datetime, time

from app.catalog.checks import Problem, capacity_problem, check_workshop, day_bookings
from app.catalog.models import Level, Room, Topic, Trainer
from app.formatting import NonexistentLocalTime, date_fr, from_paris, time_fr


@dataclass(frozen=True)
class WorkshopDraft:
    """What the coordinator typed, already parsed (Paris wall-clock times)."""

    title: str
    description: str
    topic: Topic
    level: Level
    room: Room
    trainer: Trainer
    day: date
    start: time
    end: time
    capacity: int
    what_to_bring: str = ""
    #: Registrations close then (Paris wall clock), or at the start when None.
    deadline: datetime | None = None


@dataclass
class Review:
    """The draft's moments in UTC (None where they cannot be read) and all its problems."""

    starts_at: datetime | None = None
    ends_at: datetime | None = None
    deadline: datetime | None = None
    #: What blocks the save, in French; nothing can confirm it away.
    blocking: list[str] = field(default_factory=list)
    #: What the coordinator must confirm before the save.
    warnings: list[Problem] = field(default_factory=list)


def review(draft: WorkshopDraft, workshop_id: int | None = None) -> Review:
    """Every problem of the draft, blocking ones and warnings, in one list each."""
    found = Review()
    found.starts_at = _moment(draft, "début", datetime.combine(draft.day, draft.start), found)
    found.ends_at = _moment(draft, "fin", datetime.combine(draft.day, draft.end), found)
    if draft.deadline is not None:
        found.deadline = _moment(draft, "date limite", draft.deadline, found)
    starts_at, ends_at = found.starts_at, found.ends_at
    if starts_at and ends_at and ends_at <= starts_at:
        found.blocking.append("La fin de l'atelier doit être après son début.")
    if found.deadline and starts_at and found.deadline > starts_at:
        found.blocking.append("La date limite d'inscription doit précéder le début de l'atelier.")
    if starts_at is None:  # no moment to check clashes or days off against
        problems = [p for p in [capacity_problem(draft.room, draft.capacity)] if p]
    else:
        problems = check_workshop(
            starts_at=starts_at,
            # An end before the start is refused above; the clashes are then looked for at
            # the start only, so that the other problems still show.
            ends_at=ends_at if ends_at and ends_at > starts_at else starts_at,
            room=draft.room,
            trainer=draft.trainer,
            capacity=draft.capacity,
            workshop_id=workshop_id,
        )
    found.blocking.extend(p.message for p in problems if p.blocking)
    found.warnings.extend(p for p in problems if not p.blocking)
    return found


def that_day(day: date | None, room: Room | None, trainer: Trainer | None, workshop_id=None):
    """The room's and the trainer's other workshops on `day` (see catalog.checks.day_bookings),
    or None while the form does not say which day, room and trainer."""
    if day is None or room is None or trainer is None:
        return None
    return day_bookings(day, room, trainer, exclude_id=workshop_id)


def _moment(draft: WorkshopDraft, label: str, wall_clock: datetime, found: Review):
    try:
        local = from_paris(wall_clock)
    except NonexistentLocalTime as error:
        found.blocking.append(str(error))
        return None
    if local.ambiguous:
        found.warnings.append(
            Problem(
                "time",
                f"L'heure de {label} ({time_fr(local.moment)}, le {date_fr(draft.day)}) existe "
                "deux fois à Paris (passage à l'heure d'hiver) : la première a été retenue.",
                blocking=False,
            )
        )
    return local.moment
