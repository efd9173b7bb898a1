"""When the half-day happens: the plenaries' and the break's durations, the hours on the
agenda's grid, and the UTC moments of the start, the end and the proposals deadline."""

from datetime import datetime

from app.clock import now
from app.exchange.models import HalfDay, HalfDayState
from app.exchange.setup.settings import (
    DURATION_BOUNDS,
    EARLIEST,
    LATEST,
    MIN_CONTENT_MINUTES,
    Moments,
    Problem,
    Settings,
    minutes,
)
from app.exchange.solver import GRID
from app.formatting import NonexistentLocalTime, clock_fr, date_fr, from_paris, time_fr


def duration_problems(settings: Settings) -> list[Problem]:
    problems = []
    for name, (lowest, highest, what) in DURATION_BOUNDS.items():
        duration = getattr(settings, name)
        if not lowest <= duration <= highest:
            problems.append(Problem(name, f"{what} dure entre {lowest} et {highest} minutes."))
        elif duration % GRID:
            problems.append(
                Problem(
                    name, f"{what} dure un multiple de {GRID} minutes ({lowest}, {lowest + GRID}…)."
                )
            )
    return problems


def hour_problems(settings: Settings) -> list[Problem]:
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
    length = minutes(settings.end) - minutes(settings.start)
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


def moments(settings: Settings, half_day: HalfDay | None):
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
    return Moments(starts_at, ends_at, deadline), problems, warnings
