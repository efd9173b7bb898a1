"""Delivering the outbox: `deliver_pending()` runs in the scheduler, after the business
transactions committed their mails (app.mail.services), and sends what is due.

It claims rows with a conditional UPDATE (two schedulers never send the same row), sends them
over one connection (app.mail.transport), and records each mail sent as soon as the relay took
it, in a short transaction of its own (app.mail.recorder): a sender killed mid-batch sends again
at most the one mail in flight. The claim lives as long as the run's heartbeat (`MailSender`):
the rows of a run whose process died go back to the outbox once its beat is
MAIL_CLAIM_TIMEOUT_SECONDS old (a minute). The other outcomes are recorded at the end of the
batch. A temporary failure (connection refused, timeout, 4xx) is retried later, with backoff
(RETRY_DELAYS_MINUTES), then given up; a permanent refusal of the recipient (5xx to RCPT TO)
marks the row failed with the server's answer and tells the feature that queued it
(`mail_refused`). The relay's own refusals (sender, login, content) wait for the relay, and
enough of them in a row stop the sweep: app.mail.relay.
"""

import logging
import smtplib
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from operator import attrgetter

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from app.clock import now
from app.database import begin_write
from app.extensions import db
from app.heartbeat import this_process
from app.mail.message import Outgoing, UnsendableMail, build_message
from app.mail.models import MailSender, MailStatus, OutboxMail
from app.mail.recorder import ClaimLost, Recorder, claims_in_progress
from app.mail.relay import (
    RELAY_BREAKER,
    RELAY_REFUSED,
    RELAY_RETRY_MINUTES,
    RELAY_STOPPED,
    hold_minutes,
    recipient_refusal,
    relay_hold,
    relay_refusal,
)
from app.mail.services import mail_refused
from app.mail.transport import transport

log = logging.getLogger(__name__)

#: Minutes to wait after the 1st, 2nd… temporary failure: about a day in all, then give up.
RETRY_DELAYS_MINUTES = (1, 5, 15, 30, 60, 120, 240, 480, 720)


@dataclass
class DeliveryReport:
    sent: int = 0
    #: Including the mails the relay refused (they wait for it).
    retried: int = 0
    failed: int = 0
    #: Claimed but not tried, back to pending untouched: the relay refused RELAY_BREAKER in a row.
    held: int = 0
    errors: list[str] = field(default_factory=list)
    #: The relay's answer when it stopped this run (its refusals, or its hold), else None.
    relay_refused: str | None = None
    #: The relay's refusals in a row at the end of this run: pass it to the next batch.
    relay_streak: int = 0

    def __str__(self) -> str:
        text = f"{self.sent} sent, {self.retried} to retry, {self.failed} failed"
        if self.relay_refused:
            text += f"; relay refuses, sending stopped: {self.relay_refused}"
        return text

    def __bool__(self) -> bool:
        return bool(self.sent or self.retried or self.failed)

    def add(self, other: "DeliveryReport") -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.held += other.held
        self.errors += other.errors
        self.relay_refused = other.relay_refused or self.relay_refused
        self.relay_streak = other.relay_streak


#: What happened to one mail, with the error met: "sent"; "retry" (4xx, timeout); "lost" (the
#: connection dropped: retry it, and the rest of the batch too); "refused" (5xx to RCPT TO: the
#: address will never take it); "relay" (5xx to MAIL FROM, AUTH, after DATA: wait for the relay);
#: "stopped" (a "relay" that ended the sweep: RELAY_BREAKER in a row); "held" (not tried: the
#: sweep stopped before it); "failed" (unsendable as it is, e.g. a header with a line break).
Outcome = tuple[str, str | None]


def deliver_pending(batch_size: int | None = None, relay_streak: int = 0) -> DeliveryReport:
    """Deliver the mails that are due, one batch over one connection, and record the outcomes.

    `relay_streak`: the relay's refusals in a row that ended the previous batch of the same sweep
    (`report.relay_streak`), so that the breaker counts across the batches of a sweep.

    Three short steps, so no transaction stays open while the SMTP server is talked to:
    claim the batch and build its messages (a write transaction), send them (no database),
    record the outcomes (another).
    """
    report = DeliveryReport()
    claim = uuid.uuid4().hex
    claims_in_progress[claim] = time.monotonic()
    try:
        ready, unsendable = _claim(
            claim, batch_size or current_app.config["MAIL_BATCH_SIZE"], report
        )
        if ready or unsendable:
            _record(claim, {**unsendable, **_send(claim, ready, relay_streak, report)}, report)
    finally:
        del claims_in_progress[claim]
    return report


def _claim_timeout() -> timedelta:
    return timedelta(seconds=current_app.config["MAIL_CLAIM_TIMEOUT_SECONDS"])


def _claim(
    claim: str, limit: int, report: DeliveryReport
) -> tuple[dict[int, Outgoing], dict[int, Outcome]]:
    """Mark up to `limit` due rows as this run's and build their messages: (ready, unsendable).

    The UPDATE only takes rows still pending, so a row another run claimed first is not touched;
    the rows of a run that stopped beating are taken back first (`_take_back_dead_claims`).
    Nothing is claimed while the relay is held (`relay_hold`).
    """
    begin_write()
    if (hold := relay_hold()) is not None:
        db.session.commit()
        report.relay_refused = hold
        return {}, {}
    _take_back_dead_claims()
    # The oldest due first, read in the (status, next_attempt_at) index: no sort of the whole
    # backlog at every batch. Mails due at the very same instant come in the index's order
    # (SQLite: by id); a batch is sent in id order anyway.
    due = (
        sa.select(OutboxMail.id)
        .where(OutboxMail.status == MailStatus.pending, OutboxMail.next_attempt_at <= now())
        .order_by(OutboxMail.next_attempt_at)
        .limit(limit)
    )
    claimed = db.session.scalars(
        sa.update(OutboxMail)
        .where(OutboxMail.id.in_(due.scalar_subquery()), OutboxMail.status == MailStatus.pending)
        .values(status=MailStatus.sending, claim=claim, claimed_at=now())
        .returning(OutboxMail)  # the claimed rows themselves, without another round trip
        .options(selectinload(OutboxMail.attachments))
        .execution_options(synchronize_session=False)
    ).all()
    if claimed:
        db.session.add(MailSender(claim=claim, process=this_process(), beat_at=now()))
    ready: dict[int, Outgoing] = {}
    unsendable: dict[int, Outcome] = {}
    for row in sorted(claimed, key=attrgetter("id")):
        try:
            ready[row.id] = build_message(row)
        except UnsendableMail as error:
            unsendable[row.id] = ("failed", str(error))
        except ValueError as error:  # e.g. an address that cannot be written in ASCII
            unsendable[row.id] = ("failed", f"courriel impossible à composer : {_describe(error)}")
    db.session.commit()
    return ready, unsendable


def _take_back_dead_claims() -> None:
    """Rows `sending` whose run's heartbeat is older than the claim timeout go back to pending:
    their process died (or lost the database) mid-batch. A claim without a heartbeat row counts
    from when it was made. Then the dead runs' heartbeats are deleted."""
    cutoff = now() - _claim_timeout()
    beat_at = (
        sa.select(MailSender.beat_at).where(MailSender.claim == OutboxMail.claim).scalar_subquery()
    )
    taken_back = db.session.execute(
        sa.update(OutboxMail)
        .where(
            OutboxMail.status == MailStatus.sending,
            sa.func.coalesce(beat_at, OutboxMail.claimed_at) < cutoff,
        )
        .values(status=MailStatus.pending, claim=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.execute(sa.delete(MailSender).where(MailSender.beat_at < cutoff))
    if taken_back:
        log.warning(
            "%s mail(s) claimed by a delivery run that stopped beating (its process died?) "
            "go back to the outbox",
            taken_back,
        )


def _send(
    claim: str, messages: dict[int, Outgoing], streak_before: int, report: DeliveryReport
) -> dict[int, Outcome]:
    """Send each message over one connection, recording each one sent at once (`Recorder`);
    one refused recipient does not stop the batch, RELAY_BREAKER refusals of the relay in a row
    (counted from `streak_before`) do: the rest is "held", and `report.relay_streak` says how
    many refusals in a row end the batch. A run whose claim was taken back stops at once."""
    outcomes: dict[int, Outcome] = {}
    if not messages:
        return outcomes
    streak: list[int] = []  # this batch's relay refusals in a row
    recorder = Recorder(claim)
    try:
        with recorder, transport(before_data=recorder.wait) as send:
            for row_id, message in messages.items():
                outcomes[row_id] = outcome = _send_one(send, message)
                if outcome[0] == "sent":
                    recorder.record(row_id)
                if outcome[0] != "relay":
                    streak, streak_before = [], 0
                    if outcome[0] == "lost":
                        break  # the rest waits for the next run
                    continue
                streak.append(row_id)
                if streak_before + len(streak) >= RELAY_BREAKER:
                    break
    except ClaimLost:
        log.warning("delivery run %s lost its claim (taken back as dead): it stops", claim)
        report.sent += recorder.recorded
        return {}  # the rows are another run's now: nothing more to record
    except (OSError, smtplib.SMTPException) as error:
        refusal = (
            relay_refusal(error) if isinstance(error, smtplib.SMTPAuthenticationError) else None
        )
        if refusal is not None and refusal[0] == "relay":
            # The relay refuses our login (535): each mail is refused with it, up to the breaker.
            for row_id in messages:
                outcomes[row_id] = refusal
                streak.append(row_id)
                if streak_before + len(streak) >= RELAY_BREAKER:
                    break
        else:
            # Could not connect at all (refused, timeout, greeting refused): nothing was sent.
            problem = f"connexion impossible : {_describe(error)}"
            for row_id in messages:
                outcomes.setdefault(row_id, ("retry", problem))
            streak, streak_before = [], 0
    report.sent += recorder.recorded
    report.relay_streak = streak_before + len(streak)
    if report.relay_streak >= RELAY_BREAKER:
        for row_id in streak:
            outcomes[row_id] = ("stopped", outcomes[row_id][1])
        for row_id in messages:
            outcomes.setdefault(row_id, ("held", None))
    for row_id in messages:
        outcomes.setdefault(row_id, ("retry", "connexion interrompue avant l'envoi"))
    return outcomes


def _send_one(send, message: Outgoing) -> Outcome:
    try:
        send(message)
    except smtplib.SMTPRecipientsRefused as error:  # the only answer about the address
        code, answer = next(iter(error.recipients.values()))
        return recipient_refusal(code, answer)
    except smtplib.SMTPResponseException as error:  # MAIL FROM, DATA…: the relay's own refusal
        return relay_refusal(error)
    except (smtplib.SMTPServerDisconnected, OSError) as error:
        return ("lost", f"connexion perdue : {_describe(error)}")
    except (smtplib.SMTPException, UnicodeError) as error:
        # e.g. a non-ASCII address the server cannot take (no SMTPUTF8): it never will.
        return ("failed", f"envoi impossible : {_describe(error)}")
    return ("sent", None)


def _record(claim: str, outcomes: dict[int, Outcome], report: DeliveryReport) -> None:
    """Record the mails not sent (those sent are, one by one, by app.mail.recorder) and end the
    run's heartbeat; only rows still this run's are touched."""
    held = [row_id for row_id, (kind, _) in outcomes.items() if kind == "held"]
    begin_write()
    if held:  # not tried: back to pending as they were
        db.session.execute(
            sa.update(OutboxMail)
            .where(OutboxMail.id.in_(held), OutboxMail.claim == claim)
            .values(status=MailStatus.pending, claim=None, claimed_at=None)
            .execution_options(synchronize_session=False)
        )
        report.held += len(held)
    others = [row_id for row_id, (kind, _) in outcomes.items() if kind not in ("sent", "held")]
    rows = (
        db.session.scalars(
            sa.select(OutboxMail).where(OutboxMail.id.in_(others), OutboxMail.claim == claim)
        ).all()
        if others
        else []
    )
    refused = [
        {
            "mail_id": r.id,
            "template": r.template,
            "subject_kind": r.subject_kind,
            "subject_id": r.subject_id,
        }
        for r in rows
        if outcomes[r.id][0] == "refused"
    ]
    hold = hold_minutes() if any(kind == "stopped" for kind, _ in outcomes.values()) else 0
    for row in rows:
        _record_failure(row, *outcomes[row.id], report, hold)
    db.session.execute(sa.delete(MailSender).where(MailSender.claim == claim))
    db.session.commit()
    for mail_refusal in refused:
        mail_refused.send(current_app._get_current_object(), **mail_refusal)


def _record_failure(
    row: OutboxMail, kind: str, error: str | None, report: DeliveryReport, hold: int = 0
) -> None:
    row.claim = None
    row.claimed_at = None
    if kind in ("relay", "stopped"):
        # The relay's fault, not the address's: the mail waits, as long as it takes.
        row.attempts += 1
        minutes = RELAY_RETRY_MINUTES[min(row.attempts, len(RELAY_RETRY_MINUTES)) - 1]
        row.status = MailStatus.pending
        row.next_attempt_at = now() + timedelta(minutes=max(minutes, hold))
        row.last_error = f"{RELAY_STOPPED if kind == 'stopped' else RELAY_REFUSED} : {error}"
        report.retried += 1
        report.errors.append(row.last_error)
        if kind == "stopped":
            report.relay_refused = error
        log.warning("mail %s: the relay refused %s", row.id, error)
        return
    if kind in ("retry", "lost"):
        if row.last_error and row.last_error.startswith(RELAY_REFUSED):
            row.attempts = 0  # the relay's refusals do not count toward giving up
        row.attempts += 1
        if row.attempts <= len(RETRY_DELAYS_MINUTES):
            row.status = MailStatus.pending
            row.next_attempt_at = now() + timedelta(minutes=RETRY_DELAYS_MINUTES[row.attempts - 1])
            row.last_error = error
            report.retried += 1
            report.errors.append(error)
            return
        error = f"abandon après {row.attempts} tentatives : {error}"
    row.status, row.last_error = MailStatus.failed, error
    report.failed += 1
    report.errors.append(error)
    log.warning("mail %s to %s failed for good: %s", row.id, row.recipient, error)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
