"""Dates, times and numbers as French readers expect them (Babel, never the system locale).

"mercredi 12 mars 2025, 14 h 30"; times on the hour read "14 h".
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date

PARIS = ZoneInfo("Europe/Paris")
LOCALE = "fr_FR"


def to_paris(moment: datetime) -> datetime:
    return moment.astimezone(PARIS)


def time_fr(moment: datetime) -> str:
    local = to_paris(moment)
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


def register_filters(app) -> None:
    app.add_template_filter(date_fr, "date_fr")
    app.add_template_filter(time_fr, "time_fr")
    app.add_template_filter(datetime_fr, "datetime_fr")
    app.jinja_env.filters["timespan_fr"] = timespan_fr
