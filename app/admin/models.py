"""The audit log: who changed what in the back office, and when."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.database import UTCDateTime
from app.extensions import db


class AuditEntry(db.Model):
    """One coordinator action. Kept as written: the actor's name is copied, so the entry still
    reads right after the account is renamed or deactivated."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at = mapped_column(UTCDateTime, nullable=False, default=now, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"), index=True)
    #: "Marie Leroy", or "ligne de commande" for the shell.
    actor_name: Mapped[str] = mapped_column(sa.String(200))
    #: What was done, as a stable code: "workshop.create", "registration.cancel"…
    action: Mapped[str] = mapped_column(sa.String(60))
    #: The row it concerns ("workshop", 12).
    target_kind: Mapped[str] = mapped_column(sa.String(40))
    target_id: Mapped[int | None]
    #: What the back office shows, in French: "Capacité de « Premiers pas… » : 12 → 16".
    summary: Mapped[str] = mapped_column(sa.Text)
    #: The fields changed, before and after, as JSON.
    details: Mapped[str] = mapped_column(sa.Text, default="{}")

    def __repr__(self) -> str:
        return f"<AuditEntry {self.action} {self.target_kind} {self.target_id}>"
