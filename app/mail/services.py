"""Composing mails into the outbox, and delivering the outbox.

`queue()` is called inside a business transaction: the mail is a row committed (or rolled back)
with the decision it reports. `deliver_pending()` runs in the scheduler, after commit: it claims
rows with a conditional UPDATE (two schedulers never send the same row), sends them over one
connection, and records each outcome. A temporary failure (connection refused, timeout, 4xx) is
retried later; a permanent one (5xx) marks the row failed with the server's answer.
"""

import contextlib
import logging
import smtplib
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from email.mime.text import MIMEText
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from blinker import Namespace
from flask import current_app, render_template
from flask_mail import BadHeaderError, Message

from app.clock import now
from app.database import begin_write
from app.extensions import db, mail
from app.mail.models import MailStatus, OutboxMail

log = logging.getLogger(__name__)

signals = Namespace()
#: Sent after commit for each mail the server refused for good (5xx): the feature that queued it
#: decides what that means for its own rows (booking frees the seat of an unknown address).
mail_refused = signals.signal("mail-refused")

#: Minutes to wait after the 1st, 2nd… temporary failure: about a day in all, then give up.
RETRY_DELAYS_MINUTES = (1, 5, 15, 30, 60, 120, 240, 480, 720)
#: A row left `sending` this long belongs to a delivery run that died: offer it again.
STALE_CLAIM = timedelta(minutes=10)


def queue(
    template: str,
    recipient: str,
    subject: str,
    *,
    about=None,
    invitation: tuple[str, bytes] | None = None,
    **context,
) -> OutboxMail:
    """Compose `mail/<template>.txt` and `.html` and add the mail to the outbox (not committed).

    `about` is the row the mail concerns (a registration…), kept for the outbox view;
    `invitation` a calendar to carry, as (iTIP method, iCalendar bytes).
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
    db.session.add(row)
    return row


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retried} to retry, {self.failed} failed"

    def __bool__(self) -> bool:
        return bool(self.sent or self.retried or self.failed)

    def add(self, other: "DeliveryReport") -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.errors += other.errors


#: What happened to one mail, with the error met: "sent"; "retry" (4xx, timeout); "lost" (the
#: connection dropped: retry it, and the rest of the batch too); "refused" (5xx: the server will
#: never take it); "failed" (unsendable as it is, e.g. a header with a line break).
Outcome = tuple[str, str | None]


def deliver_pending(batch_size: int | None = None) -> DeliveryReport:
    """Deliver the mails that are due, one batch over one connection, and record the outcomes.

    Three short steps, so no transaction stays open while the SMTP server is talked to:
    claim the batch (a write transaction), send it (no database), record the outcomes (another).
    """
    messages = _claim(batch_size or current_app.config["MAIL_BATCH_SIZE"])
    report = DeliveryReport()
    if messages:
        _record(_send(messages), report)
    return report


def _claim(limit: int) -> dict[int, Message]:
    """Mark up to `limit` due rows as this run's and build their messages.

    The UPDATE only takes rows still pending, so a row another run claimed first is not touched;
    a row left `sending` by a run that died is offered again after STALE_CLAIM.
    """
    claim = uuid.uuid4().hex
    begin_write()
    db.session.execute(
        sa.update(OutboxMail)
        .where(OutboxMail.status == MailStatus.sending, OutboxMail.claimed_at < now() - STALE_CLAIM)
        .values(status=MailStatus.pending, claim=None, claimed_at=None)
    )
    due = (
        sa.select(OutboxMail.id)
        .where(OutboxMail.status == MailStatus.pending, OutboxMail.next_attempt_at <= now())
        .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
        .limit(limit)
    )
    db.session.execute(
        sa.update(OutboxMail)
        .where(OutboxMail.id.in_(due.scalar_subquery()), OutboxMail.status == MailStatus.pending)
        .values(status=MailStatus.sending, claim=claim, claimed_at=now())
        .execution_options(synchronize_session=False)
    )
    rows = db.session.scalars(
        sa.select(OutboxMail).where(OutboxMail.claim == claim).order_by(OutboxMail.id)
    )
    messages = {row.id: build_message(row) for row in rows}
    db.session.commit()
    return messages


def _send(messages: dict[int, Message]) -> dict[int, Outcome]:
    """Send each message over one connection; one refused recipient does not stop the batch."""
    outcomes: dict[int, Outcome] = {}
    try:
        with _transport() as send:
            for row_id, message in messages.items():
                outcomes[row_id] = outcome = _send_one(send, message)
                if outcome[0] == "lost":
                    break  # the rest waits for the next run
    except (OSError, smtplib.SMTPException) as error:
        # Could not connect at all (refused, timeout, greeting refused): nothing was sent.
        problem = f"connexion impossible : {_describe(error)}"
        for row_id in messages:
            outcomes.setdefault(row_id, ("retry", problem))
    for row_id in messages:
        outcomes.setdefault(row_id, ("retry", "connexion interrompue avant l'envoi"))
    return outcomes


def _send_one(send, message: Message) -> Outcome:
    try:
        send(message)
    except smtplib.SMTPRecipientsRefused as error:
        code, answer = next(iter(error.recipients.values()))
        return _refusal(code, answer)
    except smtplib.SMTPResponseException as error:
        return _refusal(error.smtp_code, error.smtp_error)
    except (smtplib.SMTPServerDisconnected, OSError) as error:
        return ("lost", f"connexion perdue : {_describe(error)}")
    except BadHeaderError:
        return ("failed", "en-têtes invalides (retour à la ligne dans un en-tête)")
    return ("sent", None)


def _refusal(code: int, answer) -> Outcome:
    """5xx is permanent; anything else (4xx) is worth another try."""
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
    return ("refused" if 500 <= code < 600 else "retry", f"{code} {text}")


def _record(outcomes: dict[int, Outcome], report: DeliveryReport) -> None:
    begin_write()
    rows = db.session.scalars(sa.select(OutboxMail).where(OutboxMail.id.in_(outcomes))).all()
    refused = [
        {"mail_id": r.id, "template": r.template, "subject_kind": r.subject_kind, "subject_id": r.subject_id}
        for r in rows
        if outcomes[r.id][0] == "refused"
    ]
    for row in rows:
        kind, error = outcomes[row.id]
        row.claim = None
        row.claimed_at = None
        if kind == "sent":
            row.status, row.sent_at, row.last_error = MailStatus.sent, now(), None
            report.sent += 1
            continue
        if kind in ("retry", "lost"):
            row.attempts += 1
            if row.attempts <= len(RETRY_DELAYS_MINUTES):
                row.status = MailStatus.pending
                row.next_attempt_at = now() + timedelta(minutes=RETRY_DELAYS_MINUTES[row.attempts - 1])
                row.last_error = error
                report.retried += 1
                report.errors.append(error)
                continue
            error = f"abandon après {row.attempts} tentatives : {error}"
        row.status, row.last_error = MailStatus.failed, error
        report.failed += 1
        report.errors.append(error)
        log.warning("mail %s to %s failed for good: %s", row.id, row.recipient, error)
    db.session.commit()
    for mail_refusal in refused:
        mail_refused.send(current_app._get_current_object(), **mail_refusal)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def message_id_for(row: OutboxMail) -> str:
    host = urlsplit(current_app.config["PUBLIC_BASE_URL"]).hostname or "localhost"
    return f"<outbox-{row.id}.{int(row.created_at.timestamp())}@{host}>"


class InvitationMessage(Message):
    """A Message carrying a calendar invitation the way mail clients recognise it:

    multipart/mixed [ multipart/alternative (text/plain, text/html,
    text/calendar; method=X — last), the .ics as attachment ].
    Flask-Mail cannot put the method parameter on a part, nor place a part after the HTML one.
    """

    def __init__(self, *args, method: str, calendar: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.method, self.calendar = method, calendar
        self.attach("invitation.ics", "application/ics", calendar.encode("utf-8"))

    def _message(self):
        message = super()._message()
        alternative = next(
            part for part in message.get_payload()
            if part.get_content_type() == "multipart/alternative"
        )
        part = MIMEText(self.calendar, "calendar", "utf-8")
        part.set_param("method", self.method)
        alternative.attach(part)
        return message


def build_message(row: OutboxMail) -> Message:
    """The MIME message for an outbox row; the same row always gives the same Message-ID."""
    fields = dict(
        subject=row.subject,
        recipients=[row.recipient],
        body=row.body_text,
        html=row.body_html,
        sender=current_app.config["MAIL_DEFAULT_SENDER"],
        reply_to=current_app.config["MAIL_REPLY_TO"],
        extra_headers={"Auto-Submitted": "auto-generated"},
    )
    if row.calendar_ics:
        message = InvitationMessage(method=row.calendar_method, calendar=row.calendar_ics, **fields)
    else:
        message = Message(**fields)
    message.msgId = message_id_for(row)
    message.date = now().timestamp()
    return message


class _transport:
    """Sends over one SMTP connection, or writes .eml files when no MAIL_SERVER is set."""

    def __enter__(self):
        if current_app.config.get("MAIL_SERVER"):
            self._connection = mail.connect()
            smtp = self._connection.__enter__()
            return smtp.send
        self._connection = None
        directory = Path(current_app.config["MAIL_FILE_DIR"])
        directory.mkdir(parents=True, exist_ok=True)
        return lambda message: _write_eml(directory, message)

    def __exit__(self, *exc_info):
        if self._connection is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._connection.__exit__(*exc_info)  # QUIT may fail: the mails were accepted
        return False


def _write_eml(directory: Path, message: Message) -> None:
    if message.has_bad_headers():
        raise BadHeaderError
    name = message.msgId.strip("<>").split("@")[0]
    (directory / f"{name}.eml").write_bytes(message.as_bytes())
