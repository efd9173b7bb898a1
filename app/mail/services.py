"""The outbox as the rest of the app sees it: composing mails into it (`queue`), hearing about
the recipients the relay refused for good (`mail_refused`), and what the outbox keeps of a mail
afterwards (`purge_delivered`, `forget`).

`queue()` is called inside a business transaction: the mail is a row committed (or rolled back)
with the decision it reports. The scheduler delivers it after commit (app.mail.delivery), from
the MIME bytes app.mail.message writes; the relay's health is app.mail.relay.
`purge_delivered()` empties the bodies of mails delivered a month ago: they hold secret links.
`forget()` anonymises the mails about rows whose personal data's retention is over.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from blinker import Namespace
from flask import current_app, render_template

from app.clock import now
from app.database import begin_write
from app.extensions import db
from app.mail.message import CONTENT_TYPE
from app.mail.models import MailStatus, OutboxAttachment, OutboxMail

signals = Namespace()
#: Sent after commit for each mail whose recipient the server refused for good (5xx to RCPT TO):
#: the feature that queued it decides what that means for its own rows (booking frees the seat of
#: an unknown address). Never sent for the relay's own refusals (sender, login, content).
mail_refused = signals.signal("mail-refused")

#: Why a mail still pending when its row's retention ended was never sent.
ABANDONED = "Abandonné : la durée de conservation des données personnelles est passée."
#: Delivered bodies are emptied this long after delivery: they hold secret links, which the
#: outbox keeps no longer than the mail needs them.
PURGE_AFTER_DAYS = 30


@dataclass(frozen=True)
class Composed:
    """A mail's two bodies, as they will leave."""

    text: str
    html: str


def compose(template: str, subject: str, **context) -> Composed:
    """Render `mail/<template>.txt` and `.html`: what `queue` stores, and what a preview shows
    (the same function, so a preview is what goes out)."""
    context.setdefault("base_url", current_app.config["PUBLIC_BASE_URL"])
    return Composed(
        text=render_template(f"mail/{template}.txt", subject=subject, **context),
        html=render_template(f"mail/{template}.html", subject=subject, **context),
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
    bodies = compose(template, subject, **context)
    row = OutboxMail(
        template=template,
        recipient=recipient,
        subject=subject,
        body_text=bodies.text,
        body_html=bodies.html,
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
    if not filename or not CONTENT_TYPE.fullmatch(content_type):
        raise ValueError(f"attachment {filename!r}: bad name or content type {content_type!r}")
    return OutboxAttachment(filename=filename, content_type=content_type, data=bytes(data))


@dataclass
class PurgeReport:
    purged: int = 0

    def __str__(self) -> str:
        return f"{self.purged} purged"

    def __bool__(self) -> bool:
        return bool(self.purged)


def purge_delivered(older_than_days: int = PURGE_AFTER_DAYS) -> PurgeReport:
    """Empty the bodies, calendar and attachments of the mails delivered more than
    `older_than_days` ago: they hold secret links, kept no longer than the mail needs them. The
    rows stay (who was sent what, when), marked `purged_at`; a purged row is not touched again."""
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
    """Anonymise the mails about these rows, whose retention period is over (personal data is
    kept PERSONAL_DATA_RETENTION_DAYS after the workshop, then anonymised): the recipient becomes
    the row's pseudonym (`recipients[subject_id]`), bodies, calendar and attachments are emptied,
    and a mail still pending (years old by then: its relay never took it) is abandoned as failed.
    Joins the caller's transaction; returns the number of mails touched."""
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
