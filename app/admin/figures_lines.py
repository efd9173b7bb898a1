"""A line of figures (everything, or one site, level or topic) as the sum of its workshops' facts,
and the figures of FIGURES it computes from them. Every figure adds up, except the distinct
teachers and schools, which are sets (a person who came twice counts once)."""

from collections import Counter
from dataclasses import dataclass, field

from app.admin.figures_definitions import FIGURES_BY_KEY
from app.admin.figures_values import display, percent_text
from app.attendance.models import Presence
from app.booking.models import RegistrationStatus
from app.catalog.models import Level, WorkshopStatus
from app.formatting import count_fr


@dataclass
class WorkshopFacts:
    """What one workshop of the period contributes to the lines it belongs to."""

    id: int
    site_id: int
    level: Level
    topic_id: int
    topic_name: str
    status: WorkshopStatus
    held: bool
    capacity: int
    minutes: int
    closed: bool
    by_status: Counter = field(default_factory=Counter)
    sources: Counter = field(default_factory=Counter)
    waitlisted: bool = False
    #: Presence marks of confirmed registrations (counted for closed sessions only).
    confirmed_marks: Counter = field(default_factory=Counter)
    attendees: int = 0
    teachers: set[str] = field(default_factory=set)
    schools: set[str] = field(default_factory=set)
    answers: int = 0
    usefulness_total: int = 0
    level_fit: Counter = field(default_factory=Counter)
    will_use: Counter = field(default_factory=Counter)


def _ratio(part: int, whole: int) -> float | None:
    """None when there is nothing to divide by: no seat or no closed session is not 0 %."""
    return part / whole if whole else None


def _hours(minutes: int) -> float:
    return minutes / 60


class _Derived:
    """A figure read like a counter (`Line.value` asks by name) but computed from the line's
    counters named, so that it always agrees with them."""

    def __init__(self, compute, *counters: str) -> None:
        self.compute, self.counters = compute, counters

    def __get__(self, line, owner=None):
        if line is None:
            return self
        return self.compute(*(getattr(line, name) for name in self.counters))


@dataclass
class Line:
    """The figures of one line: everything, or one site, level or topic."""

    label: str
    held: int = 0
    cancelled: int = 0
    planned: int = 0
    seats: int = 0
    minutes_held: int = 0
    registrations: int = 0
    walk_ins: int = 0
    confirmed: int = 0
    waiting_at_start: int = 0
    waitlisted_workshops: int = 0
    sources: Counter = field(default_factory=Counter)
    closed_sessions: int = 0
    closed_confirmed: int = 0
    closed_present: int = 0
    closed_absent: int = 0
    attendees: int = 0
    minutes_delivered: int = 0
    teacher_emails: set[str] = field(default_factory=set)
    school_keys: set[str] = field(default_factory=set)
    answers: int = 0
    usefulness_total: int = 0
    level_fit: Counter = field(default_factory=Counter)
    will_use: Counter = field(default_factory=Counter)

    def add(self, w: WorkshopFacts) -> None:
        if w.status is WorkshopStatus.cancelled:
            self.cancelled += 1
            return
        if not w.held:
            self.planned += 1
            return
        self.held += 1
        self.seats += w.capacity
        self.minutes_held += w.minutes
        self.walk_ins += w.by_status[RegistrationStatus.walk_in]
        self.registrations += w.by_status.total() - w.by_status[RegistrationStatus.walk_in]
        self.confirmed += w.by_status[RegistrationStatus.confirmed]
        self.waiting_at_start += w.by_status[RegistrationStatus.waiting]
        self.waitlisted_workshops += w.waitlisted
        self.sources.update(w.sources)
        if w.closed:
            self.closed_sessions += 1
            self.closed_confirmed += w.by_status[RegistrationStatus.confirmed]
            self.closed_present += w.confirmed_marks[Presence.present]
            self.closed_absent += w.confirmed_marks[Presence.absent]
        self.attendees += w.attendees
        self.minutes_delivered += w.attendees * w.minutes
        self.teacher_emails |= w.teachers
        self.school_keys |= w.schools
        self.answers += w.answers
        self.usefulness_total += w.usefulness_total
        self.level_fit.update(w.level_fit)
        self.will_use.update(w.will_use)

    # The figures of FIGURES that are not plain counters above, each computed from counters.
    hours_held = _Derived(_hours, "minutes_held")
    hours_delivered = _Derived(_hours, "minutes_delivered")
    fill_rate = _Derived(_ratio, "confirmed", "seats")
    waiting_pressure = _Derived(_ratio, "waiting_at_start", "seats")
    attendance_rate = _Derived(_ratio, "closed_present", "closed_confirmed")
    no_show_rate = _Derived(_ratio, "closed_absent", "closed_confirmed")
    teachers = _Derived(len, "teacher_emails")
    schools = _Derived(len, "school_keys")
    usefulness_mean = _Derived(_ratio, "usefulness_total", "answers")

    def value(self, key: str):
        """The value of the figure `key`: a number, None when it cannot be computed, or for a
        distribution a dict {category: count} in the figure's order."""
        figure = FIGURES_BY_KEY[key]
        value = getattr(self, key)
        if figure.kind == "distribution":
            return {category: value[category] for category, _ in figure.categories}
        return value

    def share(self, key: str, category: str) -> float | None:
        """A distribution category's share of its total."""
        counts = self.value(key)
        return _ratio(counts[category], sum(counts.values()))

    def text(self, key: str) -> str:
        """The figure as the page reads it: '84,6 %'."""
        return display(FIGURES_BY_KEY[key], self.value(key))

    def category_text(self, key: str, category: str) -> str:
        """A distribution's category as the page reads it: '6 (37,5 %)'."""
        count = self.value(key)[category]
        share = self.share(key, category)
        return (
            f"{count_fr(count)} ({percent_text(share)})" if share is not None else count_fr(count)
        )
