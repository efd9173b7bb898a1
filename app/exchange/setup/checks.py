"""The checks of a change of settings: problems, which refuse it, and warnings, which the
coordinator confirms. Every problem shows at once, in the form's order."""

from datetime import date
from urllib.parse import urlsplit

import sqlalchemy as sa

from app.catalog.holidays import day_off
from app.exchange.models import HalfDay
from app.exchange.services import FIRST_YEAR, LAST_YEAR
from app.exchange.setup import rooms, timing
from app.exchange.setup.settings import WEDNESDAY, Moments, Problem, Settings
from app.extensions import db
from app.formatting import Period, date_fr, school_year_label


def check(settings: Settings, half_day: HalfDay | None) -> tuple[Moments | None, list, list]:
    problems: list[Problem] = []
    warnings: list[str] = []
    if half_day is None:
        problems += _school_year_problems(settings.school_year)
    year = settings.school_year if half_day is None else half_day.school_year
    problems += timing.duration_problems(settings)
    problems += timing.hour_problems(settings)
    problems += rooms.room_problems(settings, half_day)
    problems += rooms.capacity_problems(settings, half_day)
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
        moments, more, ambiguous = timing.moments(settings, half_day)
        problems += more
        warnings += ambiguous
    day_changed = half_day is None or moments is None or moments.starts_at != half_day.starts_at
    if day_changed:
        warnings += _date_warnings(settings.day)
    if moments is not None and not problems:
        warnings += rooms.workshop_clashes(settings, moments)
    return moments, sorted(problems, key=_field_order), warnings


def _school_year_problems(year: int) -> list[Problem]:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return [Problem("school_year", "Choisissez une année scolaire de la liste.")]
    if db.session.scalar(sa.select(sa.exists().where(HalfDay.school_year == year))):
        return [Problem("school_year", DUPLICATE.format(label=school_year_label(year)))]
    return []


DUPLICATE = (
    "Une demi-journée d'échanges existe déjà pour l'année scolaire {label} (une seule par "
    "année) : modifiez-la plutôt depuis la liste des rencontres."
)


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
