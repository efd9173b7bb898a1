"""Dates to suggest for the half-day: Wednesdays of the school year when schools are in session.

Primary teachers have no class on Wednesday afternoons, which is when workshops and
"animations pédagogiques" take place; the half-day follows. Public holidays and zone-B school
holidays come from `catalog.holidays`; beyond its data a Wednesday is still offered, flagged
uncertain, so that a coordinator planning far ahead checks the official calendar.

The preferred period is the spring term, from the end of the winter holidays to the end of May:
by then the year's practices (a class blog on the ENT, tablets handed out in the autumn…) have
been tried long enough to be worth sharing, and it stays clear of June, the month of school
councils, end-of-year outings and class lists. A deadline a few weeks before still leaves the
call a whole term to gather proposals.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from app.catalog.holidays import day_off
from app.clock import now
from app.formatting import PARIS, Period

WEDNESDAY = 2
#: The school year runs from the start of September to early July (summer holidays begin in
#: the first days of July): Wednesdays after this day are not offered.
LAST_DAY = (7, 7)  # 7 July
#: The preferred period ends with May.
PREFERRED_UNTIL = (5, 31)
#: When the holiday data does not say when the winter holidays end, the spring term is taken
#: to start on 1 March (zone B's winter holidays end between mid-February and early March).
SPRING_FALLBACK = (3, 1)
WINTER_HOLIDAYS = "Vacances d'hiver"


@dataclass(frozen=True)
class SuggestedDate:
    day: date
    #: In the preferred period (the spring term, see the module docstring).
    preferred: bool
    #: Beyond the holiday data: it may turn out to be in the holidays.
    uncertain: bool = False
    #: Why it is uncertain, in French (None when it is not).
    note: str | None = None


def spring_term_start(school_year: int) -> date:
    """The first day after zone B's winter holidays of that school year (1 March if unknown)."""
    day, end = date(school_year + 1, 2, 1), date(school_year + 1, 3, 20)
    last_holiday = None
    while day <= end:
        off = day_off(day)
        if off is not None and not off.uncertain and off.reason.startswith(WINTER_HOLIDAYS):
            last_holiday = day
        day += timedelta(days=1)
    if last_holiday is None:
        return date(school_year + 1, *SPRING_FALLBACK)
    return last_holiday + timedelta(days=1)


def suggest_dates(
    school_year: int, count: int | None = None, *, prefer_spring: bool = True
) -> list[SuggestedDate]:
    """Wednesdays of `school_year` still to come that are neither a public holiday nor in zone-B
    school holidays, the preferred ones (spring term) first, then the others; by date within
    each group, certain dates before uncertain ones. At most `count` of them when given."""
    first = Period.of_school_year(school_year).first_day
    last = date(school_year + 1, *LAST_DAY)
    today = now().astimezone(PARIS).date()
    spring = (spring_term_start(school_year), date(school_year + 1, *PREFERRED_UNTIL))
    day = first + timedelta(days=(WEDNESDAY - first.weekday()) % 7)
    found = []
    while day <= last:
        if day > today:
            off = day_off(day)
            if off is None or off.uncertain:
                found.append(
                    SuggestedDate(
                        day,
                        preferred=prefer_spring and spring[0] <= day <= spring[1],
                        uncertain=off is not None,
                        note=off.reason if off is not None else None,
                    )
                )
        day += timedelta(weeks=1)
    found.sort(key=lambda s: (not s.preferred, s.uncertain, s.day))
    return found if count is None else found[:count]
