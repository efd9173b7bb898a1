"""Notices sent at most once, by scheduler sweeps: reminders to confirmed teachers before their
workshop here, and the trainer's list the evening before in `app.attendance.trainer_list` (it
carries the attendance sheet, and booking does not import attendance), on the same rules and
helpers: `workshops_starting_within`, `too_late`, `commit_once`, and `app.sweeps`' `local_moment`.

Each notice's moment is computed from the workshop's current start, in Paris time, so a moved
workshop gets its notices at the new time. A notice is sent once (unique key, written in the
same transaction as its mail), never for a cancelled registration or workshop, and never stale:
nobody gets a "see you in two days" for a registration made after that moment. A notice missed
during an outage is still sent while useful, until NOTICE_USEFUL_UNTIL_HOURS_BEFORE the start;
after that it is dropped and logged.
"""

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.booking.mails import queue_mail
from app.booking.models import Notice, Registration, RegistrationStatus
from app.catalog.models import Workshop, WorkshopStatus
from app.clock import now
from app.database import begin_write
from app.extensions import db
from app.sweeps import SweepReport, local_moment

log = logging.getLogger(__name__)


def send_due_reminders() -> SweepReport:
    """Queue the reminders that are due, each at most once per registration and kind."""
    report = SweepReport()
    hour = current_app.config["REMINDER_LOCAL_HOUR"]
    for days in current_app.config["REMINDER_DAYS_BEFORE"]:
        kind = f"rappel-j{days}"
        for workshop in workshops_starting_within(timedelta(days=days + 1)):
            due = local_moment(workshop.starts_at, days_before=days, hour=hour)
            if due <= now():
                _remind(workshop.id, kind, due, report)
    return report


def workshops_starting_within(horizon: timedelta) -> list[Workshop]:
    """Published workshops not yet started whose start is within `horizon` (a cheap pre-filter)."""
    moment = now()
    workshops = db.session.scalars(
        sa.select(Workshop)
        .where(
            Workshop.status == WorkshopStatus.published,
            Workshop.starts_at > moment,
            Workshop.starts_at <= moment + horizon,
        )
        .order_by(Workshop.starts_at)
    ).all()
    db.session.commit()  # end the read: each workshop's notices take their own write transaction
    return list(workshops)


def too_late(workshop: Workshop) -> bool:
    """Whether a notice about `workshop` found now is no longer useful (dropped and logged)."""
    cutoff = timedelta(hours=current_app.config["NOTICE_USEFUL_UNTIL_HOURS_BEFORE"])
    return now() >= workshop.starts_at - cutoff


def _remind(workshop_id: int, kind: str, due: datetime, report: SweepReport) -> None:
    """One workshop's due reminders of one kind, in one transaction."""
    begin_write()
    workshop = db.session.get(Workshop, workshop_id, populate_existing=True)
    if workshop is None or workshop.status is not WorkshopStatus.published:
        db.session.rollback()
        return
    already = sa.select(Notice.registration_id).where(
        Notice.workshop_id == workshop_id, Notice.kind == kind
    )
    registrations = db.session.scalars(
        sa.select(Registration).where(
            Registration.workshop_id == workshop_id,
            Registration.status == RegistrationStatus.confirmed,
            Registration.created_at < due,  # never stale: registered before the moment
            Registration.id.not_in(already),
        )
    ).all()
    late = too_late(workshop)
    for registration in registrations:
        db.session.add(
            Notice(
                key=f"{kind}:registration:{registration.id}",
                kind=kind,
                workshop_id=workshop_id,
                registration_id=registration.id,
                due_at=due,
                dropped=late,
            )
        )
        if late:
            log.warning(
                "reminder %s for registration %s dropped: found too late", kind, registration.id
            )
            report.dropped += 1
        else:
            queue_mail(registration, "reminder")
            report.sent += 1
    commit_once(report)


def commit_once(report: SweepReport) -> None:
    """Commit a sweep's notices and mails; a duplicate key means another run sent them first."""
    try:
        db.session.commit()
    except IntegrityError:
        # Another scheduler sent these notices first (the unique key): theirs stand.
        db.session.rollback()
        log.info("notices already recorded by another run")
