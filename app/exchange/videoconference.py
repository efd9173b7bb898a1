"""The videoconference link, mailed once to each remote attendee from LINK_LOCAL_HOUR the day
before the half-day until its start (a scheduler sweep)."""

import logging
from datetime import timedelta

import sqlalchemy as sa

from app.clock import now
from app.database import begin_write
from app.exchange.attendee_mails import link_due_at, link_is_due, queue_mail
from app.exchange.models import AttendanceMode, Attendee, AttendeeStatus, HalfDay
from app.extensions import db
from app.sweeps import SweepReport

log = logging.getLogger(__name__)


def send_videoconference_links() -> SweepReport:
    """Mail the videoconference link to each remote attendee, once, from LINK_LOCAL_HOUR the day
    before the half-day until its start."""
    report = SweepReport()
    moment = now()
    half_days = db.session.scalars(
        sa.select(HalfDay).where(
            HalfDay.starts_at > moment, HalfDay.starts_at <= moment + timedelta(days=2)
        )
    ).all()
    due = [half_day.id for half_day in half_days if link_due_at(half_day) <= moment]
    db.session.commit()  # end the read: each half-day's links take their own write transaction
    for half_day_id in due:
        _send_links(half_day_id, report)
    return report


def _send_links(half_day_id: int, report: SweepReport) -> None:
    begin_write()
    half_day = db.session.get(HalfDay, half_day_id, populate_existing=True)
    if half_day is None or not link_is_due(half_day):  # moved, started, or no link set
        if half_day is not None and not half_day.videoconference_url:
            log.warning("half-day %s: no videoconference link to send yet", half_day.school_year)
        db.session.rollback()
        return
    waiting_for_it = db.session.scalars(
        sa.select(Attendee.id).where(*_owed_a_link(half_day_id)).order_by(Attendee.id)
    ).all()
    for attendee_id in waiting_for_it:
        if _claim_link(half_day_id, attendee_id):
            attendee = db.session.get(Attendee, attendee_id, populate_existing=True)
            queue_mail(
                attendee, "videoconference", videoconference_url=half_day.videoconference_url
            )
            report.sent += 1
    db.session.commit()


def _owed_a_link(half_day_id: int) -> tuple:
    return (
        Attendee.half_day_id == half_day_id,
        Attendee.mode == AttendanceMode.remote,
        Attendee.status == AttendeeStatus.confirmed,
        Attendee.link_sent_at.is_(None),
    )


def _claim_link(half_day_id: int, attendee_id: int) -> bool:
    """Mark the link sent if nobody did (a conditional UPDATE: on PostgreSQL a second scheduler's
    UPDATE waits for the first to commit, then finds the row taken and changes nothing)."""
    claimed = db.session.execute(
        sa.update(Attendee)
        .where(Attendee.id == attendee_id, *_owed_a_link(half_day_id))
        .values(link_sent_at=now())
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1
