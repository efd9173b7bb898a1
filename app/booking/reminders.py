"""Notices sent at most once, by scheduler sweeps: reminders to confirmed teachers before their
workshop, and each trainer's list of who is coming, the evening before.

Each notice's moment is computed from the workshop's current start, in Paris time, so a moved
workshop gets its notices at the new time. A notice is sent once (unique key, written in the
same transaction as its mail), never for a cancelled registration or workshop, and never stale:
nobody gets a "see you in two days" for a registration made after that moment. A notice missed
during an outage is still sent while useful, until NOTICE_USEFUL_UNTIL_HOURS_BEFORE the start;
after that it is dropped and logged.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app.booking import services as booking
from app.booking.models import ACTIVE, Notice, Registration, RegistrationStatus
from app.catalog.models import Room, Workshop, WorkshopStatus
from app.clock import now
from app.database import begin_write
from app.extensions import db
from app.formatting import PARIS
from app.mail import services as mail

log = logging.getLogger(__name__)

TRAINER_LIST = "liste-formateur"


@dataclass
class SweepReport:
    sent: int = 0
    dropped: int = 0

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.dropped} dropped"

    def __bool__(self) -> bool:
        return bool(self.sent or self.dropped)


def local_moment(start: datetime, *, days_before: int, hour: int) -> datetime:
    """`hour` o'clock, Paris time, `days_before` days before the day of `start` (in Paris)."""
    day = start.astimezone(PARIS).date() - timedelta(days=days_before)
    return datetime.combine(day, time(hour), PARIS)


def send_due_reminders() -> SweepReport:
    """Queue the reminders that are due, each at most once per registration and kind."""
    report = SweepReport()
    hour = current_app.config["REMINDER_LOCAL_HOUR"]
    for days in current_app.config["REMINDER_DAYS_BEFORE"]:
        kind = f"rappel-j{days}"
        for workshop in _workshops_starting_within(timedelta(days=days + 1)):
            due = local_moment(workshop.starts_at, days_before=days, hour=hour)
            if due <= now():
                _remind(workshop.id, kind, due, report)
    return report


def send_trainer_lists() -> SweepReport:
    """Queue, for each session starting tomorrow, its trainer's list of who is coming."""
    report = SweepReport()
    hour = current_app.config["TRAINER_LIST_LOCAL_HOUR"]
    for workshop in _workshops_starting_within(timedelta(days=2)):
        due = local_moment(workshop.starts_at, days_before=1, hour=hour)
        if due <= now():
            _send_trainer_list(workshop.id, due, report)
    return report


def _workshops_starting_within(horizon: timedelta) -> list[Workshop]:
    """Published workshops not yet started whose start is within `horizon` (a cheap pre-filter)."""
    moment = now()
    workshops = db.session.scalars(
        sa.select(Workshop).where(
            Workshop.status == WorkshopStatus.published,
            Workshop.starts_at > moment,
            Workshop.starts_at <= moment + horizon,
        ).order_by(Workshop.starts_at)
    ).all()
    db.session.commit()  # end the read: each workshop's notices take their own write transaction
    return list(workshops)


def _too_late(workshop: Workshop) -> bool:
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
    late = _too_late(workshop)
    for registration in registrations:
        db.session.add(
            Notice(key=f"{kind}:registration:{registration.id}", kind=kind, workshop_id=workshop_id,
                   registration_id=registration.id, due_at=due, dropped=late)
        )
        if late:
            log.warning("reminder %s for registration %s dropped: found too late", kind, registration.id)
            report.dropped += 1
        else:
            booking.queue_mail(registration, "reminder")
            report.sent += 1
    _commit_once(report)


def _send_trainer_list(workshop_id: int, due: datetime, report: SweepReport) -> None:
    key = f"{TRAINER_LIST}:workshop:{workshop_id}"
    begin_write()
    if db.session.scalar(sa.select(Notice.id).where(Notice.key == key)) is not None:
        db.session.rollback()
        return
    workshop = db.session.scalar(
        sa.select(Workshop)
        .where(Workshop.id == workshop_id)
        .options(joinedload(Workshop.room).joinedload(Room.site), joinedload(Workshop.trainer))
    )
    late = _too_late(workshop)
    db.session.add(Notice(key=key, kind=TRAINER_LIST, workshop_id=workshop_id, due_at=due, dropped=late))
    if late:
        log.warning("trainer list of workshop %s dropped: found too late", workshop_id)
        report.dropped += 1
    else:
        people = db.session.scalars(
            sa.select(Registration)
            .where(Registration.workshop_id == workshop_id, Registration.status.in_(ACTIVE))
            .order_by(Registration.waiting_position.nulls_first(), Registration.last_name,
                      Registration.first_name)
        ).all()
        confirmed = [r for r in people if r.status is RegistrationStatus.confirmed]
        waiting = [r for r in people if r.status is RegistrationStatus.waiting]
        mail.queue(
            "booking/trainer_list",
            workshop.trainer.email,
            f"Demain : {workshop.title} – {len(confirmed)} inscrit·es",
            about=workshop,
            workshop=workshop,
            confirmed=confirmed,
            waiting=waiting,
            workshop_url=f"{current_app.config['PUBLIC_BASE_URL']}/ateliers/{workshop.id}",
        )
        report.sent += 1
    _commit_once(report)


def _commit_once(report: SweepReport) -> None:
    try:
        db.session.commit()
    except IntegrityError:
        # Another scheduler sent these notices first (the unique key): theirs stand.
        db.session.rollback()
        log.info("notices already recorded by another run")
