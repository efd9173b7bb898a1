"""The period the committee's figures are asked for: a school year since the agreement's first, or
two dates (the dates win); the current school year when nothing is asked.

The words themselves (`Period`, reading two typed dates, school-year labels) are
`app.formatting`'s; what is the figures' own is which school years may be asked for.
"""

import re

from app.formatting import (
    Period,
    PeriodError,
    current_school_year,
    read_period,
    school_year_label,
    shown_back,
)

#: The agreement with Somme Numérique dates from October 2013: its first school year.
FIRST_SCHOOL_YEAR = 2013
_YEAR = re.compile(r"\d{4}", re.ASCII)


def selectable_school_years() -> list[int]:
    """The school years one may ask for, the most recent first (next year's programme included)."""
    return list(range(current_school_year() + 1, FIRST_SCHOOL_YEAR - 1, -1))


def parse_period(
    year: str | None = None, first: str | None = None, last: str | None = None
) -> Period:
    """The period asked for by `?annee=2025` or `?du=2026-01-01&au=2026-03-31` (the dates win);
    the current school year when nothing is asked. Raises PeriodError with a French message."""
    year, first, last = (value.strip() if value else "" for value in (year, first, last))
    if first or last:
        return read_period(first, last)
    if year:
        return _school_year(year)
    return Period.of_school_year(current_school_year())


def _school_year(text: str) -> Period:
    years = selectable_school_years()
    latest, earliest = years[0], years[-1]
    if not _YEAR.fullmatch(text) or not earliest <= int(text) <= latest:
        raise PeriodError(
            f"L'année scolaire « {shown_back(text)} » n'est pas reconnue : indiquez l'année de la "
            f"rentrée, de {earliest} à {latest} (par exemple {latest - 1} pour "
            f"{school_year_label(latest - 1)})."
        )
    return Period.of_school_year(int(text))
