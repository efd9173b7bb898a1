"""The trainer's list, the evening before a session: who is coming and who waits, the attendance
sheet as PDF to print, and the link to the session in the trainer's space.

A notice like booking's reminders, on the same rules and helpers (`app.booking.reminders`): due at
TRAINER_LIST_LOCAL_HOUR, Paris time, the day before the session's current start; sent once
(unique key, written in the same transaction as the mail); never for a cancelled workshop;
dropped and logged when found too late. It lives here because it carries the sheet: attendance
imports booking, never the reverse.
"""

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.attendance import services, sheets
from app.booking import reminders
from app.booking.models import Notice
from app.clock import now
from app.database import begin_write
from app.extensions import db
from app.mail import services as mail
from app.sweeps import SweepReport, local_moment

log = logging.getLogger(__name__)

TRAINER_LIST = "liste-formateur"


def send_trainer_lists() -> SweepReport:
    """Queue, for each session starting tomorrow, its trainer's list of who is coming."""
    report = SweepReport()
    hour = current_app.config["TRAINER_LIST_LOCAL_HOUR"]
    for workshop in reminders.workshops_starting_within(timedelta(days=2)):
        due = local_moment(workshop.starts_at, days_before=1, hour=hour)
        if due <= now():
            _send_trainer_list(workshop.id, due, report)
    return report


def _session_url(workshop_id: int) -> str:
    """The session's page in the trainer's space, for mails (no request to build it from)."""
    return f"{current_app.config['PUBLIC_BASE_URL']}/formateur/seances/{workshop_id}"


def _send_trainer_list(workshop_id: int, due: datetime, report: SweepReport) -> None:
    key = f"{TRAINER_LIST}:workshop:{workshop_id}"
    begin_write()
    if db.session.scalar(sa.select(Notice.id).where(Notice.key == key)) is not None:
        db.session.rollback()
        return
    workshop = services.workshop_for_staff(workshop_id)
    late = reminders.too_late(workshop)
    db.session.add(
        Notice(key=key, kind=TRAINER_LIST, workshop_id=workshop_id, due_at=due, dropped=late)
    )
    if late:
        log.warning("trainer list of workshop %s dropped: found too late", workshop_id)
        report.dropped += 1
    else:
        # Drawn in this transaction (a few tenths of a second, once per session): the PDF, the
        # mail and the notice tell the same story.
        _queue_mail(sheets.sheet(workshop))
        report.sent += 1
    reminders.commit_once(report)


def _queue_mail(sheet: sheets.Sheet) -> None:
    workshop = sheet.workshop
    mail.queue(
        "attendance/trainer_list",
        workshop.trainer.email,
        f"Demain : {workshop.title} – {len(sheet.confirmed)} inscrit·es",
        about=workshop,
        attachments=[
            (sheets.filename(workshop, "emargement", "pdf"), "application/pdf", sheets.pdf(sheet))
        ],
        workshop=workshop,
        confirmed=sheet.confirmed,
        waiting=sheet.waiting,
        session_url=_session_url(workshop.id),
        workshop_url=f"{current_app.config['PUBLIC_BASE_URL']}/ateliers/{workshop.id}",
    )
