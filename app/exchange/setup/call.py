"""The call for proposals: closing it before its deadline, and reopening it until a new one."""

from datetime import datetime

from app.clock import now
from app.exchange.models import HalfDay, HalfDayState
from app.exchange.setup.history import CLOSE_CALL, REOPEN_CALL, TARGET
from app.exchange.setup.settings import Problem, SetupRefused, lock
from app.extensions import db
from app.formatting import NonexistentLocalTime, datetime_fr, from_paris, school_year_label
from app.staff import audit
from app.staff.models import StaffUser


def close_call(actor: StaffUser, half_day: HalfDay) -> HalfDay:
    """Stop taking proposals now: call open → review, the deadline moved to now."""
    locked = lock(half_day.id)
    if locked.state is not HalfDayState.call_open:
        db.session.rollback()
        raise SetupRefused(
            [Problem(None, "L'appel à propositions est déjà clos : rien n'a changé.")]
        )
    moment = now()
    before = locked.deadline
    locked.deadline = min(before, moment)
    locked.state = HalfDayState.review
    audit.record(
        actor,
        CLOSE_CALL,
        TARGET,
        locked.id,
        f"Appel à propositions {school_year_label(locked.school_year)} clos le {datetime_fr(moment)} "
        f"(date limite prévue : {datetime_fr(before)})",
        deadline=(datetime_fr(before), datetime_fr(locked.deadline)),
    )
    db.session.commit()
    return locked


def reopen_call(actor: StaffUser, half_day: HalfDay, deadline: datetime | None) -> HalfDay:
    """Take proposals again until `deadline` (a naive Paris wall-clock time): review → call open.
    Refused once an agenda was built: the proposals it placed are the ones presenters were told."""
    locked = lock(half_day.id)
    problems = _reopen_problems(locked, deadline)
    if problems:
        db.session.rollback()
        raise SetupRefused(problems)
    moment = from_paris(deadline).moment
    before = locked.deadline
    locked.deadline = moment
    locked.state = HalfDayState.call_open
    audit.record(
        actor,
        REOPEN_CALL,
        TARGET,
        locked.id,
        f"Appel à propositions {school_year_label(locked.school_year)} rouvert jusqu'au "
        f"{datetime_fr(moment)}",
        deadline=(datetime_fr(before), datetime_fr(moment)),
    )
    db.session.commit()
    return locked


def _reopen_problems(half_day: HalfDay, deadline: datetime | None) -> list[Problem]:
    if half_day.state is HalfDayState.call_open:
        return [Problem(None, "L'appel à propositions est déjà ouvert : rien n'a changé.")]
    if half_day.agenda_built_at is not None or half_day.state is not HalfDayState.review:
        return [
            Problem(
                None,
                (
                    "Un agenda a déjà été construit à partir des propositions : l'appel ne peut plus être "
                    "rouvert. Ajoutez plutôt une proposition reçue par un autre moyen à l'agenda."
                ),
            )
        ]
    if half_day.starts_at <= now():
        return [
            Problem(
                None, "La demi-journée a commencé ou eu lieu : l'appel ne peut plus être rouvert."
            )
        ]
    if deadline is None:
        return [
            Problem(
                "deadline", "Indiquez la nouvelle date limite des propositions (date et heure)."
            )
        ]
    try:
        moment = from_paris(deadline).moment
    except NonexistentLocalTime as error:
        return [Problem("deadline", str(error))]
    if moment <= now():
        return [Problem("deadline", "La nouvelle date limite doit être à venir.")]
    if moment >= half_day.starts_at:
        return [
            Problem(
                "deadline",
                (
                    "La nouvelle date limite doit précéder le début de la demi-journée "
                    f"({datetime_fr(half_day.starts_at)})."
                ),
            )
        ]
    return []
