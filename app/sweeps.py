"""What the scheduler's sweeps share, whatever they notify about (workshops, the exchange
half-day): the moment a notice is due, and the report a sweep returns for the scheduler's log.

Each sweep lives with its feature (`app.booking.reminders`, `app.attendance.trainer_list`,
`app.exchange.attendees`…) and is run by `scheduler.jobs`; this module is below all of them, so
no feature imports another only to reach these.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from app.formatting import PARIS


@dataclass
class SweepReport:
    """How many notices a sweep sent, and how many it dropped as found too late to be useful."""

    sent: int = 0
    dropped: int = 0

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.dropped} dropped"

    def __bool__(self) -> bool:
        """True when the sweep did something: the scheduler logs only those runs."""
        return bool(self.sent or self.dropped)


def local_moment(start: datetime, *, days_before: int, hour: int) -> datetime:
    """`hour` o'clock, Paris time, `days_before` days before the day of `start` (in Paris): a
    notice due "the day before at 18 h" stays at 18 h in Paris across a clock change."""
    day = start.astimezone(PARIS).date() - timedelta(days=days_before)
    return datetime.combine(day, time(hour), PARIS)
