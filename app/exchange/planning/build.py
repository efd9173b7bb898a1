"""Building the draft: the solver's agenda written as the slots without a version, each left-out
contribution with the solver's reason in French; on the coordinators' button (`build_draft`)
or, once the proposals deadline has passed, in the scheduler's sweep (`build_due_agendas`)."""

import logging
from dataclasses import dataclass

import sqlalchemy as sa

from app.clock import now
from app.exchange import solver
from app.exchange.models import (
    AgendaSlot,
    Contribution,
    ContributionStatus,
    HalfDay,
    HalfDayState,
    SlotKind,
)
from app.exchange.planning.presenters import Presenters
from app.exchange.planning.refusals import PlanningRefused, lock, refuse
from app.exchange.planning.solver_input import (
    accepted_contributions,
    solver_contribution,
    solver_half_day,
)
from app.exchange.services import at_local
from app.exchange.solver_text import reason_text, settings_text
from app.extensions import db
from app.formatting import datetime_fr
from app.staff import audit
from app.staff.models import StaffUser

log = logging.getLogger(__name__)

#: The left-out reason column's size.
REASON_LENGTH = 300
#: From these states a build is allowed (call_open only once its deadline has passed).
BUILDABLE = (
    HalfDayState.call_open,
    HalfDayState.review,
    HalfDayState.draft,
    HalfDayState.published,
)


@dataclass
class BuildReport:
    placed: int
    left_out: int
    status: str  #: the solver's: "optimal" or "feasible"

    def __str__(self) -> str:
        return f"{self.placed} placées, {self.left_out} laissées de côté"


def build_draft(
    half_day: HalfDay, actor: StaffUser | None = None, *, replace: bool = True
) -> BuildReport:
    """Build the draft of `half_day` from its accepted contributions, replacing the draft (and
    any change made by hand to it) when `replace`; refused when a draft exists and not `replace`
    (a double click, or a page older than the last build)."""
    half_day = lock(half_day.id)
    if half_day.state not in BUILDABLE:
        refuse("L'agenda ne peut pas être construit dans l'état actuel de la demi-journée.")
    if half_day.state is HalfDayState.call_open and now() < half_day.deadline:
        refuse(
            "L'appel à propositions est ouvert jusqu'au "
            f"{datetime_fr(half_day.deadline)} : l'agenda se construit après cette date limite "
            "(automatiquement, ou avec ce bouton)."
        )
    if not replace and half_day.agenda_built_at is not None:
        refuse(
            f"L'agenda a déjà été construit le {datetime_fr(half_day.agenda_built_at)}. Pour le "
            "reconstruire, cochez la confirmation : les changements faits à la main seront perdus."
        )
    try:
        report = _build(half_day, actor)
    except solver.SettingsError as problem:
        refuse(_settings_message(problem))
    db.session.commit()
    return report


def _settings_message(problem: solver.SettingsError) -> str:
    return (
        "Les réglages de la demi-journée ne permettent pas de construire l'agenda : "
        f"{settings_text(problem.problem)}. "
        "Corrigez les horaires, les durées des plénières et de la pause ou les salles."
    )


def _build(half_day: HalfDay, actor: StaffUser | None) -> BuildReport:
    """Solve and write the draft; the caller holds the lock and commits. SettingsError (from the
    solver) when the half-day cannot hold its plenaries and break: nothing is written then."""
    contributions = accepted_contributions(half_day)
    presenters = Presenters(contributions)
    result = solver.build_agenda(
        solver_half_day(half_day), [solver_contribution(c, presenters) for c in contributions]
    )
    _write_slots(half_day, result.slots)
    reasons = {c_id: reason_text(reason) for c_id, reason in result.left_out}
    for contribution in contributions:
        reason = reasons.get(contribution.id)
        contribution.left_out_reason = reason[:REASON_LENGTH] if reason else None
    db.session.execute(  # not on the agenda any more, for a reason of their own (their status)
        sa.update(Contribution)
        .where(
            Contribution.half_day_id == half_day.id,
            Contribution.status != ContributionStatus.accepted,
            Contribution.left_out_reason.is_not(None),
        )
        .values(left_out_reason=None)
    )
    half_day.agenda_built_at = now()
    half_day.state = HalfDayState.draft
    placed = len(contributions) - len(reasons)
    audit.record(
        actor,
        "exchange.agenda.build",
        "half_day",
        half_day.id,
        f"Agenda des {half_day.title} construit : {placed} intervention(s) placée(s), "
        f"{len(reasons)} laissée(s) de côté",
        placed=placed,
        left_out=reasons,
        quality=result.quality,
        status=result.status,
    )
    return BuildReport(placed, len(reasons), result.status)


def _write_slots(half_day: HalfDay, slots: list[solver.Slot]) -> None:
    """The solver's slots as the draft, in place of the previous draft."""
    db.session.execute(
        sa.delete(AgendaSlot).where(
            AgendaSlot.half_day_id == half_day.id, AgendaSlot.version_id.is_(None)
        )
    )
    kinds = {kind.value: kind for kind in SlotKind}
    for slot in slots:
        if slot.ends <= slot.starts:  # a break of 0 minutes: no break at all
            continue
        db.session.add(
            AgendaSlot(
                half_day_id=half_day.id,
                kind=kinds[slot.kind],
                contribution_id=slot.contribution_id,
                room_id=slot.room_id,
                starts_at=at_local(half_day, slot.starts),
                ends_at=at_local(half_day, slot.ends),
            )
        )


@dataclass
class AgendaSweepReport:
    built: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"{self.built} built, {self.failed} failed"

    def __bool__(self) -> bool:
        return bool(self.built or self.failed)


def build_due_agendas() -> AgendaSweepReport:
    """The scheduler's sweep: close the call of every half-day whose deadline has passed and
    build its first draft, in one transaction each. Idempotent: the half-day is locked and
    checked again, so a second scheduler (or a second run) finds nothing to do. Settings that
    cannot hold the plenaries still close the call; the coordinators see why on the page."""
    report = AgendaSweepReport()
    due = db.session.scalars(
        sa.select(HalfDay.id).where(
            HalfDay.state == HalfDayState.call_open,
            HalfDay.deadline <= now(),
            HalfDay.agenda_built_at.is_(None),
        )
    ).all()
    db.session.commit()  # end the read: each half-day takes its own write transaction
    for half_day_id in due:
        try:
            half_day = lock(half_day_id)
        except PlanningRefused:  # deleted meanwhile
            continue
        if not (
            half_day.state is HalfDayState.call_open
            and half_day.deadline <= now()
            and half_day.agenda_built_at is None
        ):
            db.session.rollback()  # another scheduler got there first
            continue
        half_day.state = HalfDayState.review
        audit.record(
            None,
            "exchange.call.close",
            "half_day",
            half_day.id,
            f"Appel à propositions des {half_day.title} clos (date limite passée)",
        )
        try:
            _build(half_day, None)  # the solver refuses the settings before anything is written
        except solver.SettingsError as problem:
            log.warning(
                "agenda of half-day %s not built: %s", half_day_id, settings_text(problem.problem)
            )
            audit.record(
                None,
                "exchange.agenda.build_failed",
                "half_day",
                half_day.id,
                _settings_message(problem),
            )
            report.failed += 1
        else:
            report.built += 1
        db.session.commit()
    return report
