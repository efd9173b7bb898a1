"""The outbox table: one row per mail, written in the transaction that decided to send it."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.database import UTCDateTime
from app.enums import TitledEnum, enum_column
from app.extensions import db


class MailStatus(TitledEnum):
    pending = ("pending", "En attente")
    sending = ("sending", "En cours d'envoi")
    sent = ("sent", "Envoyé")
    failed = ("failed", "Échec")


class OutboxMail(db.Model):
    """A mail waiting for delivery, being delivered, delivered, or failed for good."""

    __tablename__ = "outbox_mails"
    __table_args__ = (
        sa.Index("ix_outbox_mails_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The template pair it was composed from: "booking/confirmed"…
    template: Mapped[str] = mapped_column(sa.String(80))
    recipient: Mapped[str] = mapped_column(sa.String(254), index=True)
    subject: Mapped[str] = mapped_column(sa.String(250))
    #: The bodies hold secret links: purged 30 days after delivery (`purged_at`), the row stays.
    body_text: Mapped[str | None] = mapped_column(sa.Text)
    body_html: Mapped[str | None] = mapped_column(sa.Text)
    #: A calendar invitation carried by the mail (iTIP METHOD: REQUEST, CANCEL), and its bytes.
    calendar_method: Mapped[str | None] = mapped_column(sa.String(10))
    calendar_ics: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[MailStatus] = enum_column(MailStatus, default=MailStatus.pending)
    attempts: Mapped[int] = mapped_column(default=0)
    #: Not delivered before this moment (retries back off).
    next_attempt_at = mapped_column(UTCDateTime, nullable=False, default=now)
    #: Which delivery run holds the row while status is `sending`, and since when.
    claim: Mapped[str | None] = mapped_column(sa.String(32))
    claimed_at = mapped_column(UTCDateTime, nullable=True)
    #: The SMTP server's last answer, or the error met.
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    #: What the rows it concerns are, for the coordinators' view and follow-up rules.
    subject_kind: Mapped[str | None] = mapped_column(sa.String(40))
    subject_id: Mapped[int | None]
    created_at = mapped_column(UTCDateTime, nullable=False, default=now)
    sent_at = mapped_column(UTCDateTime, nullable=True)
    purged_at = mapped_column(UTCDateTime, nullable=True)

    attachments: Mapped[list["OutboxAttachment"]] = relationship(
        back_populates="mail", order_by="OutboxAttachment.id", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<OutboxMail {self.id} {self.template} to {self.recipient} {self.status.value}>"


class OutboxAttachment(db.Model):
    """A file carried by an outbox mail (an attendance sheet, a certificate), as it will be sent."""

    __tablename__ = "outbox_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_id: Mapped[int] = mapped_column(sa.ForeignKey("outbox_mails.id"), index=True)
    #: As the recipient will see it: "emargement-2026-03-12-amiens.pdf".
    filename: Mapped[str] = mapped_column(sa.String(200))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    #: The bytes; emptied with the bodies after delivery (`OutboxMail.purged_at`).
    data: Mapped[bytes | None] = mapped_column(sa.LargeBinary)

    mail: Mapped[OutboxMail] = relationship(back_populates="attachments")

    def __repr__(self) -> str:
        return f"<OutboxAttachment {self.filename} of mail {self.mail_id}>"


class MailSender(db.Model):
    """A delivery run in progress, holding the outbox rows it claimed (`OutboxMail.claim`).

    Its heartbeat is `beat_at`: beaten while the run sends (by the scheduler's claims job, and
    by the run itself as it records each mail). A run whose process died stops beating; once
    its beat is older than MAIL_CLAIM_TIMEOUT_SECONDS, the next delivery run takes its rows back.
    The row is deleted when the run ends.
    """

    __tablename__ = "mail_senders"

    claim: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    #: host:pid of the process that runs it.
    process: Mapped[str] = mapped_column(sa.String(120))
    beat_at = mapped_column(UTCDateTime, nullable=False)

    def __repr__(self) -> str:
        return f"<MailSender {self.claim} {self.process} {self.beat_at:%H:%M:%S}>"
