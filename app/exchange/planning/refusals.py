"""What every write of the agenda shares: the half-day row locked first, and a refusal in French
that writes nothing."""

from app.errors import Refused
from app.exchange.models import HalfDay
from app.exchange.services import HalfDayNotFound, lock_half_day
from app.extensions import db


class PlanningRefused(Refused):
    """A build, change or publication that cannot be done; the reason is French, for the page
    (the coordinators' page shows it beside its forms; anywhere else, the 409 page does)."""


def lock(half_day_id: int) -> HalfDay:
    try:
        return lock_half_day(half_day_id)
    except HalfDayNotFound:
        raise PlanningRefused("Cette demi-journée n'existe plus.") from None


def refuse(*reasons: str):
    db.session.rollback()
    raise PlanningRefused(*reasons)
