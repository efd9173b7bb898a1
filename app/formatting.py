"""The words the whole service shares, each written here once (Babel, never the system locale).

Times and dates as French readers expect them ("mercredi 12 mars 2025, 14 h 30"; on the hour
"14 h"), school years ("2025–2026" to read, "2025-2026" in a file name), periods of Paris days and
how a coordinator types them, place names with their elision ("d'Amiens"), and the folding that
sorts and compares names whatever their accents. A feature that needs one of these words imports
it from here rather than writing its own: copies drift apart (they did: two dashes, two rules for
the h).
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_decimal

from app.clock import now

PARIS = ZoneInfo("Europe/Paris")
LOCALE = "fr_FR"


def count_fr(number: int) -> str:
    """2000 → "2 000": French digit grouping, with CLDR's narrow no-break space."""
    return format_decimal(number, "#,##0", locale=LOCALE)


# --- times and dates ----------------------------------------------------------------------------


def to_paris(moment: datetime) -> datetime:
    return moment.astimezone(PARIS)


def clock_fr(wall_clock: time | datetime) -> str:
    """A Paris wall-clock time as it is written: "14 h", "14 h 30" (minutes only when some)."""
    if wall_clock.minute == 0:
        return f"{wall_clock.hour} h"
    return f"{wall_clock.hour} h {wall_clock.minute:02d}"


def time_fr(moment: datetime) -> str:
    """A stored (aware) moment's time in Paris: "14 h 30"."""
    return clock_fr(to_paris(moment))


def date_fr(day: date | datetime) -> str:
    """'mercredi 12 mars 2025'; the first of the month is written '1er' ('mardi 1er avril 2025')."""
    if isinstance(day, datetime):
        day = to_paris(day).date()
    return format_date(day, f"EEEE '{_day_number(day)}' MMMM y", locale=LOCALE)


def day_fr(day: date | datetime, *, with_year: bool = True) -> str:
    """'2 mars 2026', '1er avril 2026': a date without its weekday, as under a signature or in a
    mail's subject; `with_year=False` gives '2 mars' (for the first date of a span)."""
    if isinstance(day, datetime):
        day = to_paris(day).date()
    pattern = f"'{_day_number(day)}' MMMM" + (" y" if with_year else "")
    return format_date(day, pattern, locale=LOCALE)


def _day_number(day: date) -> str:
    return "1er" if day.day == 1 else str(day.day)


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
            f"L'heure {clock_fr(wall_clock)} n'existe pas le {date_fr(wall_clock.date())} à Paris "
            "(passage à l'heure d'été : les montres passent de 2 h à 3 h). Choisissez une autre heure."
        )
    return LocalTime(first, ambiguous=first.utcoffset() != second.utcoffset())


# --- school years -------------------------------------------------------------------------------


def school_year_of(day: date | datetime) -> int:
    """The school year a Paris day belongs to, named by its first calendar year (2025 for
    2025–2026): from 1 September on, the new one. A moment counts by its day in Paris."""
    if isinstance(day, datetime):
        day = to_paris(day).date()
    return day.year if day.month >= 9 else day.year - 1


def current_school_year() -> int:
    return school_year_of(now())


def school_year_label(year: int) -> str:
    """2025 → "2025–2026", with an en dash (a span of years, in French typography): how every
    page, mail and PDF writes a school year."""
    return f"{year}–{year + 1}"


def school_year_slug(year: int) -> str:
    """2025 → "2025-2026", ASCII: for file names and URLs, which must stay as published (and an en
    dash in a Content-Disposition would need RFC 5987 encoding)."""
    return f"{year}-{year + 1}"


# --- periods of days ------------------------------------------------------------------------------

#: Dates outside these years are typing mistakes (year 9999 would overflow the day after).
FIRST_YEAR, LAST_YEAR = 2000, 2099
_ISO_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_FRENCH_DAY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})", re.ASCII)


class PeriodError(ValueError):
    """A period asked for that cannot be read; `str()` is the French explanation."""


@dataclass(frozen=True)
class Period:
    """Paris days from `first_day` to `last_day`, both included: a school year, or any span the
    figures or the programme are asked for."""

    first_day: date
    last_day: date
    #: The school year's first calendar year (2025 for 2025–2026), when the period is one.
    school_year: int | None = None

    @classmethod
    def of_school_year(cls, year: int) -> "Period":
        """1 September to 31 August."""
        return cls(date(year, 9, 1), date(year + 1, 8, 31), school_year=year)

    @property
    def starts_at(self) -> datetime:
        """Midnight in Paris on the first day (midnight always exists there), as an aware time."""
        return datetime.combine(self.first_day, time(0), tzinfo=PARIS)

    @property
    def ends_at(self) -> datetime:
        """Midnight in Paris after the last day: the period's end, excluded."""
        return datetime.combine(self.last_day + timedelta(days=1), time(0), tzinfo=PARIS)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def label(self) -> str:
        """For a report: 'année scolaire 2025–2026' or 'du jeudi 1er janvier 2026 au mardi
        31 mars 2026' (the weekdays let a reader check the dates)."""
        if self.school_year is not None:
            return f"année scolaire {school_year_label(self.school_year)}"
        return f"du {date_fr(self.first_day)} au {date_fr(self.last_day)}"

    @property
    def short_label(self) -> str:
        """For a mail's subject or a poster, where weekdays would make it long: 'le 2 mars 2026',
        'du 2 mars au 30 avril 2026', 'du 15 décembre 2025 au 31 janvier 2026'."""
        if self.first_day == self.last_day:
            return f"le {day_fr(self.first_day)}"
        same_year = self.first_day.year == self.last_day.year
        return f"du {day_fr(self.first_day, with_year=not same_year)} au {day_fr(self.last_day)}"

    @property
    def query(self) -> dict[str, str]:
        """The URL parameters that ask for this period again."""
        if self.school_year is not None:
            return {"annee": str(self.school_year)}
        return {"du": self.first_day.isoformat(), "au": self.last_day.isoformat()}

    @property
    def slug(self) -> str:
        """For file names: '2025-2026', or '2026-01-01-au-2026-03-31'."""
        if self.school_year is not None:
            return school_year_slug(self.school_year)
        return f"{self.first_day.isoformat()}-au-{self.last_day.isoformat()}"


def read_period(first: str | None, last: str | None) -> Period:
    """The period between two typed dates, each as a browser's date field sends it (2026-03-02)
    or as a French reader types it (02/03/2026). Raises PeriodError with a French message."""
    first, last = (first or "").strip(), (last or "").strip()
    if not first or not last:
        raise PeriodError("Indiquez la période : une date de début et une date de fin.")
    first_day, last_day = read_day(first, "de début"), read_day(last, "de fin")
    if last_day < first_day:
        raise PeriodError(
            f"La période commence le {day_fr(first_day)} et finit avant, le {day_fr(last_day)} : "
            "la date de début doit précéder la date de fin."
        )
    return Period(first_day, last_day)


def read_day(text: str, which: str) -> date:
    """One typed date, AAAA-MM-JJ or JJ/MM/AAAA; `which` says which one in the message ("de
    début"). Only these two forms: "20260302" or a week date are typing mistakes here."""
    iso, french = _ISO_DAY.fullmatch(text), _FRENCH_DAY.fullmatch(text)
    try:
        if iso is None and french is None:
            raise ValueError(text)
        year, month, day = iso.groups() if iso else reversed(french.groups())
        typed = date(int(year), int(month), int(day))
    except ValueError:
        raise PeriodError(
            f"La date {which} « {shown_back(text)} » n'est pas une date : écrivez-la comme "
            "02/03/2026 (ou 2026-03-02)."
        ) from None
    if not FIRST_YEAR <= typed.year <= LAST_YEAR:
        raise PeriodError(f"La date {which} doit être comprise entre {FIRST_YEAR} et {LAST_YEAR}.")
    return typed


def shown_back(text: str) -> str:
    """A typed value quoted back in a message: short, printable characters only."""
    return "".join(c for c in text[:20] if c.isprintable())


# --- names: places, folding, sorting ----------------------------------------------------------

#: Initials before which "de" elides (once folded): the vowels, y ("d'Yzeux"), œ, and h.
_ELIDING = "aeiouyhœæ"


def of_place(name: str) -> str:
    """'d'Amiens', 'd'Abbeville', 'd'Hornoy', 'de Péronne': "de" elides before a vowel and before
    a mute h, the usual French rule. Every h is taken as mute: the Somme's place names with an
    aspirated h are few (Ham: "de Ham") and none is a site; one that became a site would need an
    exception here."""
    initial = folded(name[:1])
    return f"d'{name}" if initial and initial in _ELIDING else f"de {name}"


def site_place(site) -> str:
    """How mails and pages name a CRDP site: "CRDP, site d'Amiens"."""
    return f"CRDP, site {of_place(site.name)}"


def folded(text: str) -> str:
    """Lower-case, accents removed: "Écart" → "ecart", for searching, sorting and comparing
    names (a school typed "École" or "ecole" is one school)."""
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


def register_filters(app) -> None:
    app.add_template_filter(site_place, "site_place")
    app.add_template_filter(date_fr, "date_fr")
    app.add_template_filter(time_fr, "time_fr")
    app.add_template_filter(clock_fr, "clock_fr")
    app.add_template_filter(datetime_fr, "datetime_fr")
    app.add_template_filter(school_year_label, "school_year")
    app.jinja_env.filters["timespan_fr"] = timespan_fr
