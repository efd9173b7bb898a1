"""Dates, times and numbers as French readers expect them (Babel, never the system locale).

"mercredi 12 mars 2025, 14 h 30"; times on the hour read "14 h".
"""

import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date

PARIS = ZoneInfo("Europe/Paris")
LOCALE = "fr_FR"


def folded(text: str) -> str:
    """Lower-case, accents removed: "Écart" → "ecart", for searching and sorting names."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def by_name(person) -> tuple:
    """Sort key of anyone with `last_name`, `first_name` and `id`: alphabetical as a French
    reader looks for their name, the same on every database (SQLite sorts "Élodie" after
    "Zoé"): accents and case set aside first, the exact spelling breaks ties."""
    return (
        folded(person.last_name),
        folded(person.first_name),
        person.last_name,
        person.first_name,
        person.id,
    )


def of_place(name: str) -> str:
    """French elision before a place name: "d'Amiens", "de Péronne", "d'Abbeville"."""
    return f"d'{name}" if name and name[0].casefold() in "aeiouyàâéèêëîïôùû" else f"de {name}"


def site_place(site) -> str:
    """How mails and pages name a CRDP site: "CRDP, site d'Amiens"."""
    return f"CRDP, site {of_place(site.name)}"


def to_paris(moment: datetime) -> datetime:
    return moment.astimezone(PARIS)


def time_fr(moment: datetime) -> str:
    return _clock_fr(to_paris(moment))


def _clock_fr(local: datetime) -> str:
    return f"{local.hour} h" if local.minute == 0 else f"{local.hour} h {local.minute:02d}"


def date_fr(day: date | datetime) -> str:
    """'mercredi 12 mars 2025'; the first of the month is written '1er' ('mardi 1er avril 2025')."""
    if isinstance(day, datetime):
        day = to_paris(day).date()
    number = "1er" if day.day == 1 else str(day.day)
    return format_date(day, f"EEEE '{number}' MMMM y", locale=LOCALE)


def datetime_fr(moment: datetime) -> str:
    """'mercredi 12 mars 2025, 14 h 30'."""
    return f"{date_fr(moment)}, {time_fr(moment)}"


def timespan_fr(start: datetime, end: datetime) -> str:
    """'mercredi 12 mars 2025, 14 h 30 – 16 h 30' (both dates when it spans days)."""
    if to_paris(start).date() == to_paris(end).date():
        return f"{datetime_fr(start)} – {time_fr(end)}"
    return f"{datetime_fr(start)} – {datetime_fr(end)}"


def month_fr(year: int, month: int) -> str:
    """'mars 2025'."""
    return format_date(date(year, month, 1), "LLLL y", locale=LOCALE)


class NonexistentLocalTime(ValueError):
    """A Paris wall-clock time skipped by the spring change (02:30 on the last Sunday of March)."""


@dataclass(frozen=True)
class LocalTime:
    """A wall-clock time read as Paris time: the moment, and whether that time happens twice."""

    moment: datetime
    #: True on the autumn change day (02:30 happens twice): the first occurrence was taken.
    ambiguous: bool = False


def from_paris(wall_clock: datetime) -> LocalTime:
    """The moment a naive Paris wall-clock time names (typed by staff), with `zoneinfo`'s fold.

    A time that does not exist raises NonexistentLocalTime (with a French message); one that
    happens twice gives its first occurrence, flagged `ambiguous` so the caller can warn.
    """
    first = wall_clock.replace(tzinfo=PARIS, fold=0)
    second = wall_clock.replace(tzinfo=PARIS, fold=1)
    if first.astimezone(UTC).astimezone(PARIS).replace(tzinfo=None) != wall_clock:
        raise NonexistentLocalTime(
            f"L'heure {_clock_fr(wall_clock)} n'existe pas le {date_fr(wall_clock.date())} à Paris "
            "(passage à l'heure d'été : les montres passent de 2 h à 3 h). Choisissez une autre heure."
        )
    return LocalTime(first, ambiguous=first.utcoffset() != second.utcoffset())


def register_filters(app) -> None:
    app.add_template_filter(site_place, "site_place")
    app.add_template_filter(date_fr, "date_fr")
    app.add_template_filter(time_fr, "time_fr")
    app.add_template_filter(datetime_fr, "datetime_fr")
    app.jinja_env.filters["timespan_fr"] = timespan_fr
