"""The periodic sweeps. Each runs in an app context and calls a service in app/: the database is
the only source of truth, so a restart loses nothing and a late run catches up."""

import logging
import time

from flask import current_app

from app import heartbeat
from app.attendance import followup, trainer_list
from app.booking import reminders, retention
from app.exchange import retention as exchange_retention
from app.exchange import videoconference
from app.exchange.planning.build import build_due_agendas
from app.extensions import db
from app.mail.delivery import DeliveryReport, deliver_pending
from app.mail.recorder import BEATS_PER_CLAIM_TIMEOUT, beat_claims
from app.mail.services import purge_delivered

log = logging.getLogger("scheduler")


#: One delivery sweep keeps sending full batches for at most this long (a programme mail to the
#: lists queues thousands), then lets the other sweeps run.
DELIVERY_SWEEP_SECONDS = 30


def deliver_outbox():
    """Send the mails the business transactions left in the outbox, batch after batch."""
    report = DeliveryReport()
    deadline = time.monotonic() + DELIVERY_SWEEP_SECONDS
    batch_size = current_app.config["MAIL_BATCH_SIZE"]
    while True:
        batch = deliver_pending(batch_size, relay_streak=report.relay_streak)
        report.add(batch)
        if (
            batch.sent + batch.retried + batch.failed < batch_size
            or batch.relay_refused  # the relay refuses: the rest waits for its hold to end
            or time.monotonic() > deadline
        ):
            return report


def send_reminders():
    """Remind confirmed teachers before their workshop (at most once per registration and kind)."""
    return reminders.send_due_reminders()


def send_trainer_lists():
    """Send each trainer, the evening before, the list of who is coming."""
    return trainer_list.send_trainer_lists()


def send_follow_ups():
    """Once a closed session's end has passed, mail each person present their certificate and
    the questionnaire."""
    return followup.send_follow_ups()


def send_exchange_links():
    """Mail the exchange half-day's videoconference link to remote attendees, the day before."""
    return videoconference.send_videoconference_links()


def build_exchange_agendas():
    """Close the exchange half-day's call at its deadline and build the first agenda draft."""
    return build_due_agendas()


def purge_mail_bodies():
    """Empty the bodies of the mails delivered more than 30 days ago: they hold secret links."""
    return purge_delivered()


def purge_personal_data():
    """Anonymise the registrations, attendees and contributions whose retention period is
    over; the audit log forgets the names it wrote about them in the same transaction."""
    report = retention.anonymise_due()
    report.add(exchange_retention.anonymise_due())
    return report


#: (sweep, its interval: the setting holding it in seconds, or seconds)
SWEEPS = [
    (deliver_outbox, "SCHEDULER_DELIVERY_SECONDS"),
    (send_reminders, "SCHEDULER_NOTICES_SECONDS"),
    (send_trainer_lists, "SCHEDULER_NOTICES_SECONDS"),
    (send_exchange_links, "SCHEDULER_NOTICES_SECONDS"),
    (build_exchange_agendas, 5 * 60),  # the draft a few minutes after the deadline
    (send_follow_ups, 3 * 60),  # certificates: a few minutes after the end of a closed session
    (purge_mail_bodies, 24 * 3600),  # daily, and once at start-up: an idempotent sweep
    (purge_personal_data, 24 * 3600),  # daily, and once at start-up
]


def claims_beat_seconds(app) -> float:
    return app.config["MAIL_CLAIM_TIMEOUT_SECONDS"] / BEATS_PER_CLAIM_TIMEOUT


def keep_claims_alive(app) -> None:
    """The heartbeat of the delivery run in progress, from a thread of its own: a run waiting
    on a slow relay keeps its claim; a killed process stops beating, and the next run takes its
    mails back within MAIL_CLAIM_TIMEOUT_SECONDS (a minute)."""
    with app.app_context():
        try:
            beat_claims()
        except Exception:
            log.exception("could not beat the delivery run's heartbeat; trying again")
        finally:
            db.session.remove()


def run_sweep(app, leadership, sweep) -> None:
    """Run one sweep if this process is the active scheduler, log what it did, and record a
    heartbeat. A sweep returns a report that is true when it did something."""
    if not leadership.is_leader:
        return
    with app.app_context():
        try:
            report = sweep()
            if report:
                log.info("%s: %s", sweep.__name__, report)
            heartbeat.beat(sweep.__name__, str(report))
        except Exception:
            log.exception("sweep %s failed; it runs again at its next turn", sweep.__name__)
        finally:
            db.session.remove()
