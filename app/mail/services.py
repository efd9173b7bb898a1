"""Composing mails into the outbox, delivering the outbox, and purging what was delivered.

`queue()` is called inside a business transaction: the mail is a row committed (or rolled back)
with the decision it reports. `deliver_pending()` runs in the scheduler, after commit: it claims
rows with a conditional UPDATE (two schedulers never send the same row), sends them over one
connection, and records each mail sent as soon as the relay took it, in a short transaction of
its own (`_Recorder`): a sender killed mid-batch sends again at most the one mail in flight. The
claim lives as long as the run's heartbeat (`MailSender`): the rows of a run whose process died
go back to the outbox once its beat is MAIL_CLAIM_TIMEOUT_SECONDS old (a minute). The other
outcomes are recorded at the end of the batch. A temporary failure (connection refused, timeout,
4xx) is retried later; a permanent refusal of the recipient (5xx to RCPT TO) marks the row failed
with the server's answer and tells the feature that queued it (`mail_refused`). A permanent
refusal of the sender, of our login or of the content (5xx to MAIL FROM, AUTH, after DATA) is the
relay's own problem, not the address's: the row stays pending, its `last_error` starting with
RELAY_REFUSED, and is retried with backoff, never given up nor reported as undeliverable; after
RELAY_BREAKER such refusals in a row the sweep stops (the rest of the batch goes back untouched)
and no mail is sent until the relay's hold is over (see `_relay_hold`).
`purge_delivered()` empties the bodies of mails delivered a month ago: they hold secret links.

The MIME bytes are written here (`build_message`) rather than by Flask-Mail and `email.mime`:
the generator of the `email` package costs most of a delivery (about 1 ms a mail, the SMTP
exchange with a local relay about 0.3 ms). The layout is fixed and small, see `build_message`;
tests parse what an SMTP server receives with the standard `email` package.
"""

import base64
import contextlib
import functools
import logging
import re
import secrets
import smtplib
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from email.header import Header
from email.quoprimime import body_encode as quoted_printable
from email.utils import formataddr, formatdate, parseaddr
from operator import attrgetter
from pathlib import Path
from urllib.parse import quote, urlsplit

import sqlalchemy as sa
from blinker import Namespace
from flask import current_app, render_template
from flask_mail import sanitize_address
from sqlalchemy.orm import selectinload

from app.clock import now
from app.database import UTCDateTime, begin_write
from app.extensions import db
from app.heartbeat import this_process
from app.mail.models import MailSender, MailStatus, OutboxAttachment, OutboxMail

log = logging.getLogger(__name__)

signals = Namespace()
#: Sent after commit for each mail whose recipient the server refused for good (5xx to RCPT TO):
#: the feature that queued it decides what that means for its own rows (booking frees the seat of
#: an unknown address). Never sent for the relay's own refusals (sender, login, content).
mail_refused = signals.signal("mail-refused")

#: Minutes to wait after the 1st, 2nd… temporary failure: about a day in all, then give up.
RETRY_DELAYS_MINUTES = (1, 5, 15, 30, 60, 120, 240, 480, 720)
#: A run beats its claim this many times per MAIL_CLAIM_TIMEOUT_SECONDS.
BEATS_PER_CLAIM_TIMEOUT = 6
#: Why a mail still pending when its row's retention ended was never sent.
ABANDONED = "Abandonné : la durée de conservation des données personnelles est passée."
#: Delivered bodies (they hold secret links) are emptied this long after delivery (rule 7).
PURGE_AFTER_DAYS = 30
#: How `last_error` starts for a mail waiting because the relay refused the sender, our login or
#: the content (not the recipient): pending, retried, never given up. `/sante` and the outbox view
#: look for it. RELAY_STOPPED marks the refusals that stopped a sweep (they hold the relay).
RELAY_REFUSED = "Refusé par le serveur d'envoi"
RELAY_STOPPED = f"{RELAY_REFUSED}, envois suspendus"
#: This many relay refusals in a row stop a sweep: a misconfigured relay (sender not allowed, wrong
#: password, a filter refusing everything) must not be offered the whole outbox.
RELAY_BREAKER = 3
#: Minutes to wait after a mail's 1st, 2nd… relay refusal, and to hold the relay after the 1st,
#: 2nd… stopped sweep of an outage; then the last value, as long as it takes.
RELAY_RETRY_MINUTES = (1, 5, 15, 30, 60)

#: type/subtype, optionally with parameters: what an attachment's Content-Type may be.
_CONTENT_TYPE = re.compile(
    r"[A-Za-z0-9][\w!#$&^.+-]*/[A-Za-z0-9][\w!#$&^.+-]*"
    r'(\s*;\s*[\w!#$&^.+-]+=([\w!#$&^.+-]+|"[^"\\\x00-\x1f\x7f]*"))*',
    re.ASCII,
)


def queue(
    template: str,
    recipient: str,
    subject: str,
    *,
    about=None,
    invitation: tuple[str, bytes] | None = None,
    attachments: Iterable[tuple[str, str, bytes]] = (),
    **context,
) -> OutboxMail:
    """Compose `mail/<template>.txt` and `.html` and add the mail to the outbox (not committed).

    `about` is the row the mail concerns (a registration…), kept for the outbox view;
    `invitation` a calendar to carry, as (iTIP method, iCalendar bytes); `attachments` files to
    carry, as (filename, content type, bytes).
    """
    context.setdefault("base_url", current_app.config["PUBLIC_BASE_URL"])
    row = OutboxMail(
        template=template,
        recipient=recipient,
        subject=subject,
        body_text=render_template(f"mail/{template}.txt", subject=subject, **context),
        body_html=render_template(f"mail/{template}.html", subject=subject, **context),
        subject_kind=type(about).__name__.lower() if about is not None else None,
        subject_id=about.id if about is not None else None,
        calendar_method=invitation[0] if invitation else None,
        calendar_ics=invitation[1].decode("utf-8") if invitation else None,
        next_attempt_at=now(),
    )
    row.attachments = [_attachment(*attachment) for attachment in attachments]
    db.session.add(row)
    return row


def _attachment(filename: str, content_type: str, data: bytes) -> OutboxAttachment:
    if not filename or not _CONTENT_TYPE.fullmatch(content_type):
        raise ValueError(f"attachment {filename!r}: bad name or content type {content_type!r}")
    return OutboxAttachment(filename=filename, content_type=content_type, data=bytes(data))


# --- delivery ----------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Outgoing:
    """A mail ready for the wire: its envelope and its bytes."""

    sender: str  # MAIL FROM
    recipient: str  # RCPT TO
    message_id: str
    data: bytes


class UnsendableMail(ValueError):
    """A row that cannot become a mail as it is: its message says why, in French."""


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
    _claims_in_progress[claim] = time.monotonic()
    try:
        ready, unsendable = _claim(
            claim, batch_size or current_app.config["MAIL_BATCH_SIZE"], report
        )
        if ready or unsendable:
            _record(claim, {**unsendable, **_send(claim, ready, relay_streak, report)}, report)
    finally:
        del _claims_in_progress[claim]
    return report


#: The claims of this process's delivery runs in progress → when each last beat (monotonic).
_claims_in_progress: dict[str, float] = {}


def beat_claims() -> int:
    """Beat the heartbeat of this process's delivery runs in progress (the scheduler calls it
    from its own thread every sixth of MAIL_CLAIM_TIMEOUT_SECONDS, so a run waiting on a slow
    relay keeps its claim); the number of runs beaten."""
    claims = list(_claims_in_progress)
    if not claims:
        return 0
    begin_write()
    db.session.execute(
        sa.update(MailSender).where(MailSender.claim.in_(claims)).values(beat_at=now())
    )
    db.session.commit()
    beaten_at = time.monotonic()
    for claim in claims:
        if claim in _claims_in_progress:
            _claims_in_progress[claim] = beaten_at
    return len(claims)


def _claim_timeout() -> timedelta:
    return timedelta(seconds=current_app.config["MAIL_CLAIM_TIMEOUT_SECONDS"])


def _claim(
    claim: str, limit: int, report: DeliveryReport
) -> tuple[dict[int, Outgoing], dict[int, Outcome]]:
    """Mark up to `limit` due rows as this run's and build their messages: (ready, unsendable).

    The UPDATE only takes rows still pending, so a row another run claimed first is not touched;
    the rows of a run that stopped beating are taken back first (`_take_back_dead_claims`).
    Nothing is claimed while the relay is held (`_relay_hold`).
    """
    begin_write()
    if (hold := _relay_hold()) is not None:
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


def _relay_hold() -> str | None:
    """The relay's last answer while it is held, else None.

    A sweep stopped by the breaker marks its refusals RELAY_STOPPED, retried after a delay that
    grows with the outage (`_record`): until the latest of them is due, no mail is tried (it
    would be refused too, and walk the outbox 3 by 3). One query a batch, in the index: pending
    rows not due yet (retries only), not the backlog.
    """
    return db.session.scalar(
        sa.select(OutboxMail.last_error)
        .where(
            OutboxMail.status == MailStatus.pending,
            OutboxMail.next_attempt_at > now(),
            OutboxMail.last_error.startswith(RELAY_STOPPED, autoescape=True),
        )
        .order_by(OutboxMail.next_attempt_at.desc())
        .limit(1)
    )


def _send(
    claim: str, messages: dict[int, Outgoing], streak_before: int, report: DeliveryReport
) -> dict[int, Outcome]:
    """Send each message over one connection, recording each one sent at once (`_Recorder`);
    one refused recipient does not stop the batch, RELAY_BREAKER refusals of the relay in a row
    (counted from `streak_before`) do: the rest is "held", and `report.relay_streak` says how
    many refusals in a row end the batch. A run whose claim was taken back stops at once."""
    outcomes: dict[int, Outcome] = {}
    if not messages:
        return outcomes
    streak: list[int] = []  # this batch's relay refusals in a row
    recorder = _Recorder(claim)
    try:
        with recorder, _transport(before_data=recorder.wait) as send:
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
    except _ClaimLost:
        log.warning("delivery run %s lost its claim (taken back as dead): it stops", claim)
        report.sent += recorder.recorded
        return {}  # the rows are another run's now: nothing more to record
    except (OSError, smtplib.SMTPException) as error:
        refusal = (
            _relay_refusal(error) if isinstance(error, smtplib.SMTPAuthenticationError) else None
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
        return _refusal(code, answer)
    except smtplib.SMTPResponseException as error:  # MAIL FROM, DATA…: the relay's own refusal
        return _relay_refusal(error)
    except (smtplib.SMTPServerDisconnected, OSError) as error:
        return ("lost", f"connexion perdue : {_describe(error)}")
    except (smtplib.SMTPException, UnicodeError) as error:
        # e.g. a non-ASCII address the server cannot take (no SMTPUTF8): it never will.
        return ("failed", f"envoi impossible : {_describe(error)}")
    return ("sent", None)


def _refusal(code: int, answer) -> Outcome:
    """The recipient refused: 5xx is permanent; anything else (4xx) is worth another try."""
    return ("refused" if 500 <= code < 600 else "retry", _answer(code, answer))


#: What the relay refused, by smtplib's exception (a subclass first).
_RELAY_STEPS = (
    (smtplib.SMTPSenderRefused, "l'expéditeur (MAIL FROM)"),
    (smtplib.SMTPAuthenticationError, "l'identification (AUTH)"),
    (smtplib.SMTPDataError, "le contenu (DATA)"),
)


def _relay_refusal(error: smtplib.SMTPResponseException) -> Outcome:
    """The relay refused the sender, our login or the content: 5xx waits for the relay to be
    fixed (not the address's fault), 4xx is worth another try."""
    answer = _answer(error.smtp_code, error.smtp_error)
    if not 500 <= error.smtp_code < 600:
        return ("retry", answer)
    step = next((what for kind, what in _RELAY_STEPS if isinstance(error, kind)), "l'envoi")
    return ("relay", f"{step} : {answer}")


def _answer(code: int, answer) -> str:
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
    return f"{code} {text}".strip()


@functools.cache
def _sent_statement(postgresql: bool) -> sa.Update:
    """`_record_sent`'s UPDATE, built once (building it cost more than running it)."""
    outbox = OutboxMail.__table__
    return (
        sa.update(outbox)
        .where(
            outbox.c.id == sa.bindparam("sent_row"),
            outbox.c.claim == sa.bindparam("sent_claim"),
            outbox.c.status == MailStatus.sending,
        )
        .values(
            status=MailStatus.sent,
            sent_at=sa.bindparam("sent_moment", type_=UTCDateTime()),
            last_error=None,
            claim=None,
            claimed_at=None,
        )
        # On PostgreSQL, synchronous_commit off for this statement's transaction (autocommit).
        .returning(
            sa.func.set_config("synchronous_commit", "off", True) if postgresql else outbox.c.id
        )
    )


class _ClaimLost(Exception):
    """The run's claim was taken back (it looked dead): it must not send any more."""


class _Recorder:
    """Records each mail a run sent, one short transaction each, on a thread of its own: mail k
    is recorded while mail k+1's envelope (MAIL FROM, RCPT TO) goes to the relay, and mail k+1's
    content goes only once mail k is recorded (`wait`, called just before DATA). A sender killed
    at any moment thus leaves at most one mail accepted and not recorded: the one in flight.

    The thread holds one connection for the batch (no pool checkout, ping and BEGIN a mail), on
    PostgreSQL in autocommit (each UPDATE is its own transaction: one round trip). A session
    bound to one connection inside a transaction (the test suite's) records inline on it, each
    record a savepoint.
    """

    def __init__(self, claim: str):
        self.claim = claim
        #: Mails recorded sent so far.
        self.recorded = 0
        self._app = current_app._get_current_object()
        bind = db.session.get_bind()
        self._inline = bind if isinstance(bind, sa.Connection) else None
        self._engine = bind
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sa.Connection | None = None
        self._context = None  # the thread's app context
        self._pending: Future | None = None

    def __enter__(self) -> "_Recorder":
        if self._inline is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mail-record")
        return self

    def record(self, row_id: int) -> None:
        """The relay accepted this mail: record it (in the background but for the test suite)."""
        self.wait()  # already done: the mail's DATA waited for it
        if self._executor is None:
            self._pending = Future()
            self._pending.set_result(_record_sent(self._inline, self.claim, row_id))
        else:
            self._pending = self._executor.submit(self._record_in_thread, row_id)

    def wait(self) -> None:
        """Return once the last mail sent is recorded; _ClaimLost when it no longer was ours."""
        if self._pending is None:
            return
        pending, self._pending = self._pending, None
        if not pending.result():
            raise _ClaimLost
        self.recorded += 1

    def _record_in_thread(self, row_id: int) -> bool:
        if self._connection is None:
            self._context = self._app.app_context()
            self._context.push()
            self._connection = self._engine.connect()
            if self._connection.dialect.name == "postgresql":
                self._connection = self._connection.execution_options(isolation_level="AUTOCOMMIT")
        return _record_sent(self._connection, self.claim, row_id)

    def _close_in_thread(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._context.pop()

    def __exit__(self, exc_type, exc, traceback):
        try:
            if exc_type is None:
                self.wait()
            elif (  # the batch failed: its last record still lands, and counts
                self._pending is not None
                and self._pending.exception() is None
                and self._pending.result()
            ):
                self.recorded += 1
        finally:
            if self._executor is not None:
                self._executor.submit(self._close_in_thread).result()
                self._executor.shutdown()
        return False


def _record_sent(connection: sa.Connection, claim: str, row_id: int) -> bool:
    """Mark one mail sent, as soon as the relay took it, in a transaction of its own (a sender
    killed after this point does not send it again); beat the run's heartbeat when it is due.
    False when the row is no longer this run's: its claim was taken back.

    Durable against a crash of this process, not of the database server's machine: PostgreSQL
    does not wait for the WAL flush (`synchronous_commit` off for this transaction only, set in
    the statement itself: no round trip more), SQLite in WAL mode syncs at checkpoints
    (`synchronous = NORMAL`, app.database). A power cut in the next few hundred milliseconds
    could only make those mails go twice, never lose one.
    """
    statement = _sent_statement(connection.dialect.name == "postgresql")
    with connection.begin_nested() if connection.in_transaction() else connection.begin():
        recorded = connection.execute(
            statement, {"sent_row": row_id, "sent_claim": claim, "sent_moment": now()}
        ).all()
        beaten_at = time.monotonic()
        every = current_app.config["MAIL_CLAIM_TIMEOUT_SECONDS"] / BEATS_PER_CLAIM_TIMEOUT
        if beaten_at - _claims_in_progress.get(claim, beaten_at) >= every:
            connection.execute(
                sa.update(MailSender.__table__)
                .where(MailSender.__table__.c.claim == claim)
                .values(beat_at=now())
            )
            _claims_in_progress[claim] = beaten_at
    return len(recorded) == 1


def _record(claim: str, outcomes: dict[int, Outcome], report: DeliveryReport) -> None:
    """Record the mails not sent (those sent are, one by one, by `_record_sent`) and end the
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
    hold = _hold_minutes() if any(kind == "stopped" for kind, _ in outcomes.values()) else 0
    for row in rows:
        _record_failure(row, *outcomes[row.id], report, hold)
    db.session.execute(sa.delete(MailSender).where(MailSender.claim == claim))
    db.session.commit()
    for mail_refusal in refused:
        mail_refused.send(current_app._get_current_object(), **mail_refusal)


def _hold_minutes() -> int:
    """How long a stopped sweep holds the relay: longer at each stop of the same outage (the
    refusals of the earlier stops still wait, marked RELAY_STOPPED). Runs only when a sweep stops."""
    earlier = db.session.scalar(
        sa.select(sa.func.count()).where(  # `sending`: this batch's retries of earlier stops
            OutboxMail.status.in_([MailStatus.pending, MailStatus.sending]),
            OutboxMail.last_error.startswith(RELAY_STOPPED, autoescape=True),
        )
    )
    return RELAY_RETRY_MINUTES[min(earlier // RELAY_BREAKER, len(RELAY_RETRY_MINUTES) - 1)]


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


@dataclass(frozen=True)
class RelayTrouble:
    """Mails waiting because the relay refused them (sender, login, content): for `/sante` and
    the coordinators' outbox view."""

    waiting: int
    #: The latest such refusal, as recorded on its mail.
    last_answer: str

    def __str__(self) -> str:
        return (
            f"Le serveur d'envoi refuse les courriels (l'expéditeur, l'identification ou le "
            f"contenu, pas les destinataires) : {self.waiting} courriel(s) en attente, renvoyés "
            f"automatiquement une fois le serveur réparé ; aucune inscription n'est annulée. "
            f"Dernière réponse : {self.last_answer}"
        )


def relay_trouble() -> RelayTrouble | None:
    """The mails the relay refused that still wait, or None when there are none (one query)."""
    found = db.session.execute(
        sa.select(OutboxMail.last_error, sa.func.count().over())
        .where(
            OutboxMail.status == MailStatus.pending,
            OutboxMail.last_error.startswith(RELAY_REFUSED, autoescape=True),
        )
        .order_by(OutboxMail.next_attempt_at.desc(), OutboxMail.id.desc())
        .limit(1)
    ).first()
    return RelayTrouble(waiting=found[1], last_answer=found[0]) if found else None


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class _transport:
    """Sends over one SMTP connection, or writes .eml files when no MAIL_SERVER is set;
    `before_data` is called before each mail's content goes (see `_Recorder`)."""

    def __init__(self, before_data=lambda: None):
        self.before_data = before_data

    def __enter__(self):
        self._smtp = None
        before_data = self.before_data
        if not current_app.config.get("MAIL_SERVER"):
            directory = Path(current_app.config["MAIL_FILE_DIR"])
            directory.mkdir(parents=True, exist_ok=True)
            return lambda message: (before_data(), _write_eml(directory, message))
        settings = current_app.extensions["mail"]  # Flask-Mail's state: server, port, TLS…
        if settings.suppress:
            return lambda message: before_data()
        self._smtp = smtp = _connect(settings, current_app.config["MAIL_SMTP_TIMEOUT"])
        options = ["BODY=8BITMIME"] if smtp.has_extn("8bitmime") else []
        if smtp.has_extn("size"):
            return lambda message: _sendmail(
                smtp, message, [f"SIZE={len(message.data)}", *options], before_data
            )
        return lambda message: _sendmail(smtp, message, options, before_data)

    def __exit__(self, *exc_info):
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()  # QUIT may fail: the mails were accepted
        return False


def _sendmail(smtp: smtplib.SMTP, message: Outgoing, options: list[str], before_data) -> None:
    """What `smtplib.SMTP.sendmail()` does for one recipient, raising the same exceptions, with
    `before_data()` called between RCPT TO and DATA."""
    code, answer = smtp.mail(message.sender, options)
    if code != 250:
        _abandon(smtp, code)
        raise smtplib.SMTPSenderRefused(code, answer, message.sender)
    code, answer = smtp.rcpt(message.recipient)
    if code not in (250, 251):
        _abandon(smtp, code)
        raise smtplib.SMTPRecipientsRefused({message.recipient: (code, answer)})
    before_data()
    code, answer = smtp.data(message.data)
    if code != 250:
        _abandon(smtp, code)
        raise smtplib.SMTPDataError(code, answer)


def _abandon(smtp: smtplib.SMTP, code: int) -> None:
    """After a refusal: a 421 closes the connection, anything else resets the transaction."""
    if code == 421:
        smtp.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        smtp.rset()


def _connect(settings, timeout: float) -> smtplib.SMTP:
    """What Flask-Mail's connection does, with a timeout: a dead relay must not hang the sweep."""
    factory = smtplib.SMTP_SSL if settings.use_ssl else smtplib.SMTP
    smtp = factory(settings.server, settings.port, timeout=timeout)
    try:
        if settings.use_tls:
            smtp.starttls()
        if settings.username and settings.password:
            smtp.login(settings.username, settings.password)
        smtp.ehlo_or_helo_if_needed()  # the extensions it announces: 8BITMIME
    except BaseException:
        smtp.close()
        raise
    return smtp


def _write_eml(directory: Path, message: Outgoing) -> None:
    name = message.message_id.strip("<>").split("@")[0]
    (directory / f"{name}.eml").write_bytes(message.data)


# --- the MIME message ----------------------------------------------------------------------------

CRLF = "\r\n"
#: An address that is its own header value and envelope: ASCII, no display name.
_plain_address = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+").fullmatch
_calendar_method = re.compile(r"[A-Za-z][A-Za-z-]*").fullmatch


def message_id_for(row: OutboxMail) -> str:
    host = _hostname(current_app.config["PUBLIC_BASE_URL"])
    return f"<outbox-{row.id}.{int(row.created_at.timestamp())}@{host}>"


@functools.lru_cache(maxsize=8)
def _hostname(url: str) -> str:
    return urlsplit(url).hostname or "localhost"


@functools.lru_cache(maxsize=8)
def _date(timestamp: int) -> str:
    return formatdate(timestamp, localtime=True)


def build_message(row: OutboxMail) -> Outgoing:
    """The mail of an outbox row, as sent; the same row always gives the same Message-ID.

    multipart/mixed [
        multipart/alternative (text/plain, text/html, text/calendar; method=X — last),
        the invitation as invitation.ics, the row's attachments (base64) ]
    Headers: Subject and display names in RFC 2047 words when not ASCII; a line break in a
    header value (an injection) raises UnsendableMail. Text parts are UTF-8, 8bit unless a line
    is longer than 998 octets (quoted-printable then).
    """
    config = current_app.config
    sender, reply_to = config["MAIL_DEFAULT_SENDER"], config["MAIL_REPLY_TO"]
    if any(
        "\r" in value or "\n" in value
        for value in (row.subject, row.recipient, sender, reply_to or "")
    ):
        raise UnsendableMail("en-têtes invalides (retour à la ligne dans un en-tête)")
    alternatives = [_text_part("plain", row.body_text or "")]
    if row.body_html is not None:
        alternatives.append(_text_part("html", row.body_html))
    files = []
    if row.calendar_ics is not None:
        if not _calendar_method(row.calendar_method or ""):
            raise UnsendableMail(f"méthode d'invitation invalide : {row.calendar_method!r}")
        method = f'; method="{row.calendar_method}"'
        alternatives.append(_text_part("calendar", row.calendar_ics, method))
        files.append(_file_part("invitation.ics", "application/ics", row.calendar_ics.encode()))
    for attachment in row.attachments:
        if not _CONTENT_TYPE.fullmatch(attachment.content_type):
            raise UnsendableMail(f"type de pièce jointe invalide : {attachment.content_type!r}")
        files.append(
            _file_part(attachment.filename, attachment.content_type, attachment.data or b"")
        )

    message_id = message_id_for(row)
    headers = []
    if row.subject:
        headers.append(f"Subject: {_encoded_text('Subject', row.subject)}")
    headers += [
        f"From: {_encoded_address('From', sender)}",
        f"To: {_encoded_address('To', row.recipient)}",
        f"Date: {_date(int(now().timestamp()))}",
        f"Message-ID: {message_id}",
    ]
    if reply_to:
        headers.append(f"Reply-To: {_encoded_address('Reply-To', reply_to)}")
    headers.append("Auto-Submitted: auto-generated")

    if len(alternatives) == 1 and not files:  # text only: a single part is the whole message
        part_head, body = alternatives[0].split(b"\r\n\r\n", 1)
        head = part_head.decode("ascii") + CRLF + CRLF.join(headers)
    else:
        boundary = _boundary([*alternatives, *files])
        body = alternatives[0]
        if len(alternatives) > 1:
            body = _multipart_part("alternative", f"=_a{boundary}", alternatives)
        body = _multipart(f"=_m{boundary}", [body, *files])
        head = CRLF.join(
            [f'Content-Type: multipart/mixed; boundary="=_m{boundary}"', "MIME-Version: 1.0"]
            + headers
        )
    return Outgoing(
        sender=_envelope_address(sender),
        recipient=_envelope_address(row.recipient),
        message_id=message_id,
        data=(head + CRLF + CRLF).encode("ascii") + body,
    )


def _text_part(subtype: str, text: str, params: str = "") -> bytes:
    """A UTF-8 text part with CRLF line ends: 8bit (7bit when ASCII) while every line fits the
    998 octets of RFC 5322, quoted-printable otherwise."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    data = text.replace("\n", CRLF).encode("utf-8")
    if len(data) > 998 and max(map(len, data.split(b"\r\n"))) > 998:
        encoding = "quoted-printable"
        data = quoted_printable(data.decode("latin-1"), eol=CRLF).encode("ascii")
    else:
        encoding = "7bit" if data.isascii() else "8bit"
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"{params}{CRLF}MIME-Version: 1.0{CRLF}'
        f"Content-Transfer-Encoding: {encoding}{CRLF}{CRLF}"
    )
    return head.encode("ascii") + data


def _file_part(filename: str, content_type: str, data: bytes) -> bytes:
    head = (
        f"Content-Type: {content_type}{CRLF}MIME-Version: 1.0{CRLF}"
        f"Content-Transfer-Encoding: base64{CRLF}"
        f"Content-Disposition: attachment;{_filename_parameter(filename)}{CRLF}{CRLF}"
    )
    return head.encode("ascii") + base64.encodebytes(data).replace(b"\n", b"\r\n")


@functools.lru_cache(maxsize=256)
def _filename_parameter(filename: str) -> str:
    """` filename="…"` for a plain ASCII name; RFC 2231 (percent-encoded UTF-8, continued over
    lines of at most 78 octets) for any other, which also neutralises quotes and line breaks."""
    if re.fullmatch(r"[ !#-\[\]-~]+", filename):  # printable ASCII but " and \
        return f'{CRLF} filename="{filename}"' if len(filename) > 50 else f' filename="{filename}"'
    encoded = "utf-8''" + quote(filename, safe="")
    chunks, start = [], 0
    while start < len(encoded):
        end = min(start + 60, len(encoded))
        cut = encoded.rfind("%", end - 2, end)  # never split a %XX
        end = cut if cut > start else end
        chunks.append(encoded[start:end])
        start = end
    if len(chunks) == 1:
        return f"{CRLF} filename*={encoded}"
    return ";".join(f"{CRLF} filename*{n}*={chunk}" for n, chunk in enumerate(chunks))


def _multipart(boundary: str, parts: list[bytes]) -> bytes:
    """The body of a multipart: each part after its delimiter, then the close delimiter."""
    delimiter = f"{CRLF}--{boundary}{CRLF}".encode("ascii")
    return (
        f"--{boundary}{CRLF}".encode("ascii")
        + delimiter.join(parts)
        + f"{CRLF}--{boundary}--{CRLF}".encode("ascii")
    )


def _multipart_part(subtype: str, boundary: str, parts: list[bytes]) -> bytes:
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"{CRLF}MIME-Version: 1.0{CRLF}{CRLF}'
    return head.encode("ascii") + _multipart(boundary, parts)


def _boundary(texts: list[bytes]) -> str:
    """A random boundary token found in none of the parts."""
    while True:
        token = secrets.token_hex(12)
        if not any(token.encode("ascii") in text for text in texts):
            return token


@functools.lru_cache(maxsize=1024)
def _encoded_text(name: str, value: str) -> str:
    """An unstructured header's value: RFC 2047 words when not ASCII, folded at 78 octets with
    `Name: ` counted (cached: a batch has few distinct subjects)."""
    if value.isascii() and len(name) + 2 + len(value) <= 78:
        return value
    charset = "us-ascii" if value.isascii() else "utf-8"
    return Header(value, charset, header_name=name).encode(linesep=CRLF)


def _encoded_address(name: str, address: str) -> str:
    """An address header's value: a plain address as it is, a display name in RFC 2047 words
    when not ASCII."""
    if _plain_address(address):
        return address
    return _encoded_named_address(name, address)


@functools.lru_cache(maxsize=1024)
def _encoded_named_address(name: str, address: str) -> str:
    display, addr = parseaddr(address)
    if not addr or not addr.isascii():
        return sanitize_address(address)  # an internationalised domain: Flask-Mail's way
    if not display:
        return addr
    if display.isascii():
        return formataddr((display, addr))
    words = Header(display, "utf-8", header_name=name).encode(linesep=CRLF)
    last_line = words.rsplit(CRLF, 1)[-1]
    width = len(last_line) + (0 if CRLF in words else len(name) + 2)
    fold = CRLF if width + len(addr) + 3 > 78 else ""
    return f"{words}{fold} <{addr}>"


@functools.lru_cache(maxsize=64)
def _named_envelope(address: str) -> str:
    return parseaddr(sanitize_address(address))[1] or address


def _envelope_address(address: str) -> str:
    """The bare address for MAIL FROM / RCPT TO."""
    return address if _plain_address(address) else _named_envelope(address)


# --- purge ---------------------------------------------------------------------------------------


@dataclass
class PurgeReport:
    purged: int = 0

    def __str__(self) -> str:
        return f"{self.purged} purged"

    def __bool__(self) -> bool:
        return bool(self.purged)


def purge_delivered(older_than_days: int = PURGE_AFTER_DAYS) -> PurgeReport:
    """Empty the bodies, calendar and attachments of the mails delivered more than
    `older_than_days` ago: they hold secret links (DESIGN rule 7). The rows stay (who was sent
    what, when), marked `purged_at`; a purged row is not touched again."""
    due = (
        OutboxMail.status == MailStatus.sent,
        OutboxMail.sent_at < now() - timedelta(days=older_than_days),
        OutboxMail.purged_at.is_(None),
    )
    begin_write()
    db.session.execute(
        sa.update(OutboxAttachment)
        .where(OutboxAttachment.mail_id.in_(sa.select(OutboxMail.id).where(*due)))
        .values(data=None)
        .execution_options(synchronize_session=False)
    )
    purged = db.session.execute(
        sa.update(OutboxMail)
        .where(*due)
        .values(body_text=None, body_html=None, calendar_ics=None, purged_at=now())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return PurgeReport(purged)


def forget(subject_kind: str, subject_ids: list[int], recipients: dict[int, str]) -> int:
    """Anonymise the mails about these rows (rule 11): the recipient becomes the row's pseudonym
    (`recipients[subject_id]`), bodies, calendar and attachments are emptied, and a mail still
    pending (years old by then: its relay never took it) is abandoned as failed. Joins the
    caller's transaction; returns the number of mails touched."""
    mails = db.session.execute(
        sa.select(OutboxMail.id, OutboxMail.subject_id).where(
            OutboxMail.subject_kind == subject_kind, OutboxMail.subject_id.in_(subject_ids)
        )
    ).all()
    if not mails:
        return 0
    db.session.execute(
        sa.update(OutboxAttachment)
        .where(OutboxAttachment.mail_id.in_([mail_id for mail_id, _ in mails]))
        .values(data=None)
        .execution_options(synchronize_session=False)
    )
    moment = now()
    pending = OutboxMail.status == MailStatus.pending
    for mail_id, subject_id in mails:
        db.session.execute(
            sa.update(OutboxMail)
            .where(OutboxMail.id == mail_id)
            .values(
                recipient=recipients[subject_id],
                body_text=None,
                body_html=None,
                calendar_ics=None,
                purged_at=sa.func.coalesce(OutboxMail.purged_at, moment),
                status=sa.case((pending, MailStatus.failed.value), else_=OutboxMail.status),
                last_error=sa.case((pending, ABANDONED), else_=OutboxMail.last_error),
            )
            .execution_options(synchronize_session=False)
        )
    return len(mails)
