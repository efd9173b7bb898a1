"""Days off for the Somme's schools: French public holidays and zone-B school holidays.

The school-holiday data (`vacances-scolaires-france`) stops at the end of a known school year and
lacks some bridges (the Friday after Ascension Thursday, given to pupils nationally most years):
`day_off()` says so instead of passing a date as a school day silently.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

import holidays
from vacances_scolaires_france import SchoolHolidayDates, UnsupportedYearException

ZONE = "B"  # the Amiens academy


@dataclass(frozen=True)
class DayOff:
    """Why a day is (or may be) off: "Fête nationale", "Vacances d'hiver"…"""

    reason: str
    #: True when the day may be off but the data cannot tell (beyond its coverage, a bridge).
    uncertain: bool = False


@cache
def _school_holidays() -> SchoolHolidayDates:
    return SchoolHolidayDates()  # parses its data file: once per process


@cache
def _public_holidays(year: int) -> holidays.HolidayBase:
    return holidays.France(years=year, language="fr")


@cache
def school_data_ends() -> date:
    """The last day the school-holiday data knows about."""
    return max(_school_holidays().data)


def public_holiday(day: date) -> str | None:
    return _public_holidays(day.year).get(day)


def day_off(day: date) -> DayOff | None:
    """Why `day` is off for schools, or may be; None for an ordinary school day."""
    if name := public_holiday(day):
        return DayOff(f"jour férié ({name})")
    if day > school_data_ends():
        return DayOff(
            "date au-delà des vacances scolaires connues (données jusqu'au "
            f"{school_data_ends():%d/%m/%Y}) : vérifiez le calendrier officiel de la zone {ZONE}",
            uncertain=True,
        )
    try:
        entry = _school_holidays().holidays_for_year_and_zone(day.year, ZONE).get(day)
    except UnsupportedYearException:
        entry = None
    if entry is not None:
        return DayOff(f"{entry['nom_vacances']} (zone {ZONE})")
    if day.weekday() == 4 and public_holiday(day - timedelta(days=1)) == "Ascension":
        return DayOff(
            "pont de l'Ascension : les écoles vaquent ce vendredi la plupart des années, "
            "mais il manque aux données des vacances scolaires — vérifiez",
            uncertain=True,
        )
    return None


def is_school_day_off(day: date) -> bool:
    """A public holiday or a zone-B school holiday (unknown dates count as school days)."""
    off = day_off(day)
    return off is not None and not off.uncertain
