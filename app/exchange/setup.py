"""Coordinators set up each school year's half-day: its date, hours, rooms and their equipment,
the proposals deadline, the seats and the videoconference link; then they close or reopen the
call. Every rule of these settings lives here, every change is in the audit log, written in the
same transaction.

Blocking problems (a date outside the school year, an end before the start, two auditoriums…)
raise Refused and write nothing; warnings (a date that is not a Wednesday, in the holidays or
beyond the holiday data, a room taken by a workshop) come back to be confirmed, as the
workshops' checks do (`catalog.checks`).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app.catalog.holidays import day_off
from app.catalog.models import Room, Site, Workshop, WorkshopStatus
from app.clock import now
from app.database import begin_write
from app.exchange import attendees
from app.exchange.models import (
    AgendaSlot,
    AgendaVersion,
    AttendanceMode,
    Attendee,
    AttendeeStatus,
    Contribution,
    ContributionStatus,
    Equipment,
    HalfDay,
    HalfDayRoom,
    HalfDayState,
)
from app.exchange.services import (
    FIRST_YEAR,
    LAST_YEAR,
    HalfDayNotFound,
    latest_version,
    lock_half_day,
)
from app.exchange.solver import GRID
from app.extensions import db
from app.formatting import (
    PARIS,
    NonexistentLocalTime,
    Period,
    clock_fr,
    date_fr,
    datetime_fr,
    from_paris,
    of_place,
    school_year_label,
    time_fr,
    timespan_fr,
)
from app.staff import audit
from app.staff.models import AuditEntry, StaffUser

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
#: Audit actions; an edit that changes when or where things happen is a "reschedule": the
#: agenda built or published before it must be built again.
CREATE, EDIT, RESCHEDULE = "half_day.create", "half_day.edit", "half_day.reschedule"
CLOSE_CALL, REOPEN_CALL = "half_day.close_call", "half_day.reopen_call"
TARGET = "half_day"


@dataclass(frozen=True)
class Problem:
    """A reason the settings cannot be saved; `field` names the setting it is about."""

    field: str | None
    message: str


class Refused(Exception):
    """The change cannot be made; `problems` says why, in French. Nothing was written."""

    def __init__(self, problems: list[Problem]):
        super().__init__(" ".join(p.message for p in problems))
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


# --- saving ------------------------------------------------------------------------------------


def save_half_day(
    actor: StaffUser,
    settings: Settings,
    *,
    half_day: HalfDay | None = None,
    confirmed: bool = False,
) -> Saved:
    """Create the half-day of a school year (its call opens) or change one's settings.

    One write transaction, the half-day row locked: checks, then the change and its audit entry.
    """
    if half_day is None:
        begin_write()
        locked = None
    else:
        locked = _lock(half_day.id)
    moments, problems, warnings = _check(settings, locked)
    if problems:
        db.session.rollback()
        raise Refused(problems)
    if warnings and not confirmed:
        db.session.rollback()
        return Saved(half_day, to_confirm=warnings)
    if locked is None:
        saved = _create(actor, settings, moments)
    else:
        saved = _edit(actor, locked, settings, moments)
    db.session.commit()
    return saved


@dataclass(frozen=True)
class _Moments:
    starts_at: datetime
    ends_at: datetime
    deadline: datetime


def _check(settings: Settings, half_day: HalfDay | None) -> tuple[_Moments | None, list, list]:
    problems: list[Problem] = []
    warnings: list[str] = []
    if half_day is None:
        problems += _school_year_problems(settings.school_year)
    year = settings.school_year if half_day is None else half_day.school_year
    problems += _duration_problems(settings)
    problems += _hour_problems(settings)
    problems += _room_problems(settings, half_day)
    problems += _capacity_problems(settings, half_day)
    problems += _link_problems(settings.videoconference_url)
    school_year = Period.of_school_year(year)
    first, last = school_year.first_day, school_year.last_day
    if not first <= settings.day <= last:
        problems.append(
            Problem(
                "day",
                (
                    f"Le {date_fr(settings.day)} n'est pas dans l'année scolaire {school_year_label(year)} "
                    f"(du {date_fr(first)} au {date_fr(last)})."
                ),
            )
        )
    moments = None
    if not any(p.field in ("start", "end", "day") for p in problems):
        moments, more, ambiguous = _moments(settings, half_day)
        problems += more
        warnings += ambiguous
    day_changed = half_day is None or moments is None or moments.starts_at != half_day.starts_at
    if day_changed:
        warnings += _date_warnings(settings.day)
    if moments is not None and not problems:
        warnings += _workshop_clashes(settings, moments)
    return moments, sorted(problems, key=_field_order), warnings


def _school_year_problems(year: int) -> list[Problem]:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return [Problem("school_year", "Choisissez une année scolaire de la liste.")]
    if db.session.scalar(sa.select(sa.exists().where(HalfDay.school_year == year))):
        return [Problem("school_year", _DUPLICATE.format(label=school_year_label(year)))]
    return []


_DUPLICATE = (
    "Une demi-journée d'échanges existe déjà pour l'année scolaire {label} (une seule par "
    "année) : modifiez-la plutôt depuis la liste des rencontres."
)


def _duration_problems(settings: Settings) -> list[Problem]:
    problems = []
    for name, (lowest, highest, what) in DURATION_BOUNDS.items():
        minutes = getattr(settings, name)
        if not lowest <= minutes <= highest:
            problems.append(Problem(name, f"{what} dure entre {lowest} et {highest} minutes."))
        elif minutes % GRID:
            problems.append(
                Problem(
                    name, f"{what} dure un multiple de {GRID} minutes ({lowest}, {lowest + GRID}…)."
                )
            )
    return problems


def _hour_problems(settings: Settings) -> list[Problem]:
    problems = []
    for name, what, moment in (
        ("start", "de début", settings.start),
        ("end", "de fin", settings.end),
    ):
        if not EARLIEST <= moment <= LATEST:
            problems.append(
                Problem(
                    name,
                    (
                        f"La demi-journée se tient entre {clock_fr(EARLIEST)} et {clock_fr(LATEST)} : "
                        f"choisissez une heure {what} dans cet intervalle."
                    ),
                )
            )
        elif moment.minute % GRID or moment.second:
            problems.append(
                Problem(
                    name,
                    (
                        f"Choisissez une heure {what} à {GRID} minutes près (13 h 30, 13 h 35…) : "
                        "l'agenda est construit sur cette grille."
                    ),
                )
            )
    if problems:
        return problems
    length = _minutes(settings.end) - _minutes(settings.start)
    if length <= 0:
        return [Problem("end", "L'heure de fin doit être après l'heure de début.")]
    needed = (
        settings.opening_minutes
        + settings.break_minutes
        + settings.closing_minutes
        + MIN_CONTENT_MINUTES
    )
    if length < needed:
        problems.append(
            Problem(
                "end",
                (
                    f"De {clock_fr(settings.start)} à {clock_fr(settings.end)}, la demi-journée est trop courte : "
                    f"il faut au moins {needed} minutes (ouverture {settings.opening_minutes} min, pause "
                    f"{settings.break_minutes} min, clôture {settings.closing_minutes} min et "
                    f"{MIN_CONTENT_MINUTES} min d'interventions)."
                ),
            )
        )
    return problems


def _room_problems(settings: Settings, half_day: HalfDay | None) -> list[Problem]:
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


def _capacity_problems(settings: Settings, half_day: HalfDay | None) -> list[Problem]:
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


def _link_problems(url: str) -> list[Problem]:
    if not url:
        return []
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        hostname = None
    if (
        hostname is None
        or parts.scheme != "https"
        or "." not in hostname
        or any(c.isspace() or ord(c) < 32 or c in "<>\"'\\" for c in url)
    ):
        return [
            Problem(
                "videoconference_url",
                (
                    "Le lien de visioconférence doit être une adresse https:// complète, par exemple "
                    "https://visio.ac-amiens.fr/rencontres."
                ),
            )
        ]
    return []


def _moments(settings: Settings, half_day: HalfDay | None):
    """The UTC moments of the settings, the problems with them, and the warnings."""
    problems, warnings = [], []
    starts_at = from_paris(datetime.combine(settings.day, settings.start)).moment
    ends_at = from_paris(datetime.combine(settings.day, settings.end)).moment
    try:
        local = from_paris(settings.deadline)
    except NonexistentLocalTime as error:
        return None, [Problem("deadline", str(error))], []
    deadline = local.moment
    if local.ambiguous:
        warnings.append(
            f"L'heure de la date limite ({time_fr(deadline)}, le {date_fr(deadline)}) existe deux "
            "fois à Paris (passage à l'heure d'hiver) : la première a été retenue."
        )
    moment_changed = half_day is None or (starts_at, ends_at) != (
        half_day.starts_at,
        half_day.ends_at,
    )
    if moment_changed and starts_at <= now():
        problems.append(Problem("day", "Cette date est déjà passée : choisissez une date à venir."))
    if deadline >= starts_at:
        problems.append(
            Problem(
                "deadline",
                ("La date limite des propositions doit précéder le début de la demi-journée."),
            )
        )
    elif half_day is None or deadline != half_day.deadline:
        if half_day is not None and half_day.state is not HalfDayState.call_open:
            problems.append(
                Problem(
                    "deadline",
                    (
                        "L'appel à propositions est clos : sa date limite ne se change plus ici. Pour en "
                        "fixer une nouvelle, rouvrez l'appel depuis la page de la demi-journée."
                    ),
                )
            )
        elif deadline <= now():
            problems.append(
                Problem(
                    "deadline",
                    (
                        "Cette date limite est déjà passée : choisissez un moment à venir (pour clore "
                        "l'appel tout de suite, utilisez « Clore l'appel maintenant »)."
                    ),
                )
            )
    return _Moments(starts_at, ends_at, deadline), problems, warnings


def _date_warnings(day: date) -> list[str]:
    warnings = []
    if day.weekday() != WEDNESDAY:
        warnings.append(
            f"Le {date_fr(day)} n'est pas un mercredi : les professeurs des écoles ont classe ce "
            "jour-là, alors que le mercredi après-midi leur est libre."
        )
    if (off := day_off(day)) is not None:
        warnings.append(f"Le {date_fr(day)} : {off.reason}.")
    return warnings


def _workshop_clashes(settings: Settings, moments: _Moments) -> list[str]:
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


_FIELDS = [
    "school_year",
    "title",
    "day",
    "start",
    "end",
    "deadline",
    "site",
    "rooms",
    "auditorium",
    "capacity",
    "videoconference_url",
    "description",
    "opening_minutes",
    "closing_minutes",
    "break_minutes",
]


def _field_order(problem: Problem) -> int:
    return _FIELDS.index(problem.field) if problem.field in _FIELDS else len(_FIELDS)


def _create(actor: StaffUser, settings: Settings, moments: _Moments) -> Saved:
    half_day = HalfDay(
        school_year=settings.school_year, state=HalfDayState.call_open, **_values(settings, moments)
    )
    half_day.rooms = [
        HalfDayRoom(
            room=choice.room,
            is_auditorium=choice.is_auditorium,
            equipment=choice.equipment,
            position=position,
        )
        for position, choice in enumerate(_ordered(settings.rooms))
    ]
    try:
        with db.session.begin_nested():  # two coordinators creating the same year at once
            db.session.add(half_day)
            db.session.flush()
    except IntegrityError:
        db.session.rollback()
        label = school_year_label(settings.school_year)
        raise Refused([Problem("school_year", _DUPLICATE.format(label=label))]) from None
    audit.record(
        actor,
        CREATE,
        TARGET,
        half_day.id,
        f"Création de la demi-journée d'échanges {school_year_label(half_day.school_year)} : "
        f"{_when(half_day)}, propositions jusqu'au {datetime_fr(half_day.deadline)}",
        **_snapshot(half_day),
    )
    return Saved(half_day)


def _edit(actor: StaffUser, half_day: HalfDay, settings: Settings, moments: _Moments) -> Saved:
    before = _snapshot(half_day)
    was = {"span": timespan_fr(half_day.starts_at, half_day.ends_at), "site": before["site"]}
    for name, value in _values(settings, moments).items():
        setattr(half_day, name, value)
    dropped = _set_rooms(half_day, settings.rooms)
    after = _snapshot(half_day)
    changed = {name: (before[name], after[name]) for name in after if before[name] != after[name]}
    if not changed:
        db.session.rollback()
        return Saved(half_day, notes=["Rien n'a changé."], changed=False)
    saved = Saved(half_day)
    told = attendees.tell_of_changes(half_day, was, set(changed))
    if told:
        saved.notes.append(f"{told} personne(s) inscrite(s) sont prévenues par courriel.")
    if "capacity" in changed:
        # More seats go to the first people waiting, in this transaction, under this lock.
        promoted = attendees.ATTENDEES.promote(half_day)
        if promoted:
            saved.notes.append(
                f"{len(promoted)} personne(s) de la liste d'attente ont maintenant une place : "
                "un courriel leur est envoyé."
            )
    rescheduled = bool(changed.keys() & _SCHEDULE)
    if rescheduled:
        saved.notes += _rebuild_notes(half_day, dropped)
        if latest_version(half_day) is not None:
            half_day.sequence += 1
    audit.record(
        actor,
        RESCHEDULE if rescheduled else EDIT,
        TARGET,
        half_day.id,
        f"Modification de la demi-journée d'échanges {school_year_label(half_day.school_year)} : "
        + ", ".join(_LABELS[name] for name in changed),
        **changed,
    )
    return saved


#: Settings the agenda depends on: changing one makes the built or published agenda stale.
_SCHEDULE = {
    "starts_at",
    "ends_at",
    "site",
    "rooms",
    "opening_minutes",
    "closing_minutes",
    "break_minutes",
}
_LABELS = {
    "title": "titre",
    "starts_at": "début",
    "ends_at": "fin",
    "deadline": "date limite",
    "site": "site",
    "rooms": "salles",
    "capacity": "places sur place",
    "videoconference_url": "lien de visioconférence",
    "description": "description",
    "opening_minutes": "durée de l'ouverture",
    "closing_minutes": "durée de la clôture",
    "break_minutes": "durée de la pause",
}


def _values(settings: Settings, moments: _Moments) -> dict:
    return {
        "title": settings.title,
        "starts_at": moments.starts_at,
        "ends_at": moments.ends_at,
        "deadline": moments.deadline,
        "site": settings.site,
        "capacity": settings.capacity,
        "videoconference_url": settings.videoconference_url,
        "description": settings.description,
        "opening_minutes": settings.opening_minutes,
        "closing_minutes": settings.closing_minutes,
        "break_minutes": settings.break_minutes,
    }


def _ordered(choices) -> list[RoomChoice]:
    """The auditorium first, then the other rooms as chosen."""
    return sorted(choices, key=lambda choice: not choice.is_auditorium)


def _set_rooms(half_day: HalfDay, choices) -> int:
    """Update the half-day's rooms in place; the draft's slots in a removed room go with it
    (the draft must be rebuilt anyway). Returns how many draft slots went."""
    kept = {room.room_id: room for room in half_day.rooms}
    rooms = []
    for position, choice in enumerate(_ordered(choices)):
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


def _rebuild_notes(half_day: HalfDay, dropped: int) -> list[str]:
    notes = []
    version = latest_version(half_day)
    if version is not None:
        notes.append(
            f"L'agenda publié (version {version.number}) ne correspond plus à ces réglages : "
            "reconstruisez l'agenda puis publiez une nouvelle version, qui préviendra les "
            "intervenants concernés. Aucun créneau n'a été déplacé."
        )
    elif half_day.agenda_built_at is not None:
        notes.append(
            "Le brouillon de l'agenda a été construit avec les anciens réglages : reconstruisez-le "
            "avant de le publier. Aucun créneau n'a été déplacé."
        )
    if dropped:
        notes.append(
            f"{dropped} créneaux du brouillon étaient dans une salle retirée : ils en ont été ôtés."
        )
    attendees = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Attendee)
        .where(Attendee.half_day_id == half_day.id, Attendee.status != AttendeeStatus.cancelled)
    )
    if attendees:
        notes.append(
            f"{attendees} personnes sont inscrites pour assister à la demi-journée : elles ne sont pas "
            "prévenues par ce changement."
        )
    return notes


def _snapshot(half_day: HalfDay) -> dict:
    """The settings as the audit log shows them (plain text, comparable)."""
    return {
        "title": half_day.title,
        "starts_at": datetime_fr(half_day.starts_at),
        "ends_at": datetime_fr(half_day.ends_at),
        "deadline": datetime_fr(half_day.deadline),
        "site": half_day.site.name,
        "rooms": "; ".join(
            f"{room.room.name}{' (auditorium)' if room.is_auditorium else ''}"
            f"{' : ' + ', '.join(e.title for e in sorted(room.equipment, key=lambda e: e.value)) if room.equipment else ''}"
            for room in _ordered_rooms(half_day)
        ),
        "capacity": half_day.capacity,
        "videoconference_url": half_day.videoconference_url,
        "description": half_day.description,
        "opening_minutes": half_day.opening_minutes,
        "closing_minutes": half_day.closing_minutes,
        "break_minutes": half_day.break_minutes,
    }


def _ordered_rooms(half_day: HalfDay) -> list[HalfDayRoom]:
    return sorted(half_day.rooms, key=lambda room: (room.position, room.room.name))


# --- the call: closing it early, reopening it --------------------------------------------------


def close_call(actor: StaffUser, half_day: HalfDay) -> HalfDay:
    """Stop taking proposals now: call open → review, the deadline moved to now."""
    locked = _lock(half_day.id)
    if locked.state is not HalfDayState.call_open:
        db.session.rollback()
        raise Refused([Problem(None, "L'appel à propositions est déjà clos : rien n'a changé.")])
    moment = now()
    before = locked.deadline
    locked.deadline = min(before, moment)
    locked.state = HalfDayState.review
    audit.record(
        actor,
        CLOSE_CALL,
        TARGET,
        locked.id,
        f"Appel à propositions {school_year_label(locked.school_year)} clos le {datetime_fr(moment)} "
        f"(date limite prévue : {datetime_fr(before)})",
        deadline=(datetime_fr(before), datetime_fr(locked.deadline)),
    )
    db.session.commit()
    return locked


def reopen_call(actor: StaffUser, half_day: HalfDay, deadline: datetime | None) -> HalfDay:
    """Take proposals again until `deadline` (a naive Paris wall-clock time): review → call open.
    Refused once an agenda was built: the proposals it placed are the ones presenters were told."""
    locked = _lock(half_day.id)
    problems = _reopen_problems(locked, deadline)
    if problems:
        db.session.rollback()
        raise Refused(problems)
    moment = from_paris(deadline).moment
    before = locked.deadline
    locked.deadline = moment
    locked.state = HalfDayState.call_open
    audit.record(
        actor,
        REOPEN_CALL,
        TARGET,
        locked.id,
        f"Appel à propositions {school_year_label(locked.school_year)} rouvert jusqu'au "
        f"{datetime_fr(moment)}",
        deadline=(datetime_fr(before), datetime_fr(moment)),
    )
    db.session.commit()
    return locked


def _reopen_problems(half_day: HalfDay, deadline: datetime | None) -> list[Problem]:
    if half_day.state is HalfDayState.call_open:
        return [Problem(None, "L'appel à propositions est déjà ouvert : rien n'a changé.")]
    if half_day.agenda_built_at is not None or half_day.state is not HalfDayState.review:
        return [
            Problem(
                None,
                (
                    "Un agenda a déjà été construit à partir des propositions : l'appel ne peut plus être "
                    "rouvert. Ajoutez plutôt une proposition reçue par un autre moyen à l'agenda."
                ),
            )
        ]
    if half_day.starts_at <= now():
        return [
            Problem(
                None, "La demi-journée a commencé ou eu lieu : l'appel ne peut plus être rouvert."
            )
        ]
    if deadline is None:
        return [
            Problem(
                "deadline", "Indiquez la nouvelle date limite des propositions (date et heure)."
            )
        ]
    try:
        moment = from_paris(deadline).moment
    except NonexistentLocalTime as error:
        return [Problem("deadline", str(error))]
    if moment <= now():
        return [Problem("deadline", "La nouvelle date limite doit être à venir.")]
    if moment >= half_day.starts_at:
        return [
            Problem(
                "deadline",
                (
                    "La nouvelle date limite doit précéder le début de la demi-journée "
                    f"({datetime_fr(half_day.starts_at)})."
                ),
            )
        ]
    return []


def _lock(half_day_id: int) -> HalfDay:
    try:
        return lock_half_day(half_day_id)
    except HalfDayNotFound:
        raise Refused([Problem(None, "Cette demi-journée n'existe plus.")]) from None


# --- what the back office shows ----------------------------------------------------------------


def proposal_counts(half_day_ids) -> dict[int, dict[ContributionStatus, int]]:
    """Proposals per status of each half-day, in one grouped query."""
    counts = {row_id: dict.fromkeys(ContributionStatus, 0) for row_id in half_day_ids}
    if not counts:
        return counts
    rows = db.session.execute(
        sa.select(Contribution.half_day_id, Contribution.status, sa.func.count())
        .where(Contribution.half_day_id.in_(list(counts)))
        .group_by(Contribution.half_day_id, Contribution.status)
    )
    for row_id, status, count in rows:
        counts[row_id][status] = count
    return counts


def attendee_counts(half_day: HalfDay) -> dict[tuple[AttendanceMode, AttendeeStatus], int]:
    """Registered attendees per (mode, status), in one grouped query."""
    counts = {(mode, status): 0 for mode in AttendanceMode for status in AttendeeStatus}
    rows = db.session.execute(
        sa.select(Attendee.mode, Attendee.status, sa.func.count())
        .where(Attendee.half_day_id == half_day.id)
        .group_by(Attendee.mode, Attendee.status)
    )
    for mode, status, count in rows:
        counts[(mode, status)] = count
    return counts


@dataclass(frozen=True)
class Listed:
    half_day: HalfDay
    counts: dict[ContributionStatus, int]


def half_days() -> list[Listed]:
    """Every half-day, newest school year first, with its proposals counted (two queries)."""
    rows = db.session.scalars(
        sa.select(HalfDay).options(joinedload(HalfDay.site)).order_by(HalfDay.school_year.desc())
    ).all()
    counts = proposal_counts([row.id for row in rows])
    return [Listed(row, counts[row.id]) for row in rows]


STEPS = (HalfDayState.call_open, HalfDayState.review, HalfDayState.draft, HalfDayState.published)


@dataclass(frozen=True)
class NextStep:
    """What the coordinator does next, in French, with where to do it."""

    text: str
    link: str | None = None
    link_label: str | None = None


def next_step(half_day: HalfDay, counts: dict[ContributionStatus, int]) -> NextStep:
    year = half_day.school_year
    proposals, agenda = f"/admin/rencontres/{year}/propositions", f"/admin/rencontres/{year}/agenda"
    waiting, accepted = counts[ContributionStatus.submitted], counts[ContributionStatus.accepted]
    if half_day.ends_at <= now():
        return NextStep(
            "La demi-journée a eu lieu. Préparez celle de l'an prochain depuis la liste des rencontres.",
            "/admin/rencontres/",
            "Toutes les rencontres",
        )
    if half_day.state is HalfDayState.call_open:
        if now() < half_day.deadline:
            return NextStep(
                f"L'appel à propositions est ouvert jusqu'au {datetime_fr(half_day.deadline)}. "
                f"Examinez les propositions au fil de l'eau ({_count(waiting, 'en attente')}, "
                f"{_count(accepted, 'acceptée')}) ; à la date limite, l'agenda est construit "
                "automatiquement à partir des propositions acceptées.",
                proposals,
                "Examiner les propositions",
            )
        return NextStep(
            f"La date limite ({datetime_fr(half_day.deadline)}) est passée : le brouillon de "
            "l'agenda va être construit. Examinez les propositions encore en attente "
            f"({_count(waiting, 'en attente')}).",
            proposals,
            "Examiner les propositions",
        )
    if half_day.state is HalfDayState.review:
        if waiting:
            return NextStep(
                f"L'appel est clos. Examinez les propositions en attente ({_count(waiting, 'en attente')}), "
                "puis construisez l'agenda.",
                proposals,
                "Examiner les propositions",
            )
        return NextStep(
            f"Toutes les propositions sont examinées ({_count(accepted, 'acceptée')}) : "
            "construisez l'agenda.",
            agenda,
            "Construire l'agenda",
        )
    if half_day.state is HalfDayState.draft:
        return NextStep(
            "Vérifiez le brouillon de l'agenda, ajustez-le si besoin, puis publiez-le : chaque "
            "intervenant reçoit son créneau et son invitation.",
            agenda,
            "Voir le brouillon de l'agenda",
        )
    version = latest_version(half_day)
    number = f" (version {version.number}, le {date_fr(version.published_at)})" if version else ""
    return NextStep(
        f"L'agenda est publié{number}. Suivez les inscriptions des participants ; après un "
        "changement, publiez une nouvelle version : seuls les intervenants concernés sont prévenus.",
        f"/admin/rencontres/{year}/participants",
        "Voir les participants",
    )


def stale_agenda(half_day: HalfDay) -> str | None:
    """Why the built or published agenda no longer matches the settings, or None."""
    changed_at = db.session.scalar(
        sa.select(sa.func.max(AuditEntry.at)).where(
            AuditEntry.target_kind == TARGET,
            AuditEntry.target_id == half_day.id,
            AuditEntry.action == RESCHEDULE,
        )
    )
    if changed_at is None:
        return None
    published_at = db.session.scalar(
        sa.select(sa.func.max(AgendaVersion.published_at)).where(
            AgendaVersion.half_day_id == half_day.id
        )
    )
    when = datetime_fr(changed_at)
    if published_at is not None and published_at < changed_at:
        return (
            f"La date, les horaires ou les salles ont changé le {when}, après la publication de "
            "l'agenda : reconstruisez-le et publiez une nouvelle version."
        )
    built_at = half_day.agenda_built_at
    if (
        built_at is not None
        and built_at < changed_at
        and (published_at is None or built_at > published_at)
    ):
        return (
            f"La date, les horaires ou les salles ont changé le {when}, après la construction du "
            "brouillon de l'agenda : reconstruisez-le."
        )
    return None


def _count(number: int, what: str) -> str:
    """ "1 acceptée", "3 acceptées", "2 en attente"."""
    plural = "" if number <= 1 or what.startswith("en ") else "s"
    return f"{number} proposition{'s' if number > 1 else ''} {what}{plural}"


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _when(half_day: HalfDay) -> str:
    return f"{datetime_fr(half_day.starts_at)} – {time_fr(half_day.ends_at)}, site {of_place(half_day.site.name)}"


def default_deadline(day: date) -> datetime | None:
    """Four weeks before the half-day, at 18:00 (naive Paris wall-clock), or None if past."""
    deadline = datetime.combine(day - timedelta(weeks=4), time(18, 0))
    return deadline if deadline.replace(tzinfo=PARIS) > now() else None
