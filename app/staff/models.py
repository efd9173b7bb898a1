"""Staff accounts: coordinators see everything, trainers their own sessions; and the audit log
of what they changed, and when."""

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.catalog.models import Trainer
from app.clock import now
from app.database import UTCDateTime
from app.enums import TitledEnum, enum_column
from app.extensions import db


class Role(TitledEnum):
    coordinator = ("coordinator", "Coordination")
    trainer = ("trainer", "Formateur·rice")


class StaffUser(UserMixin, db.Model):
    """A person who logs in at /connexion. A trainer's account is tied to their catalogue entry."""

    __tablename__ = "staff_users"
    __table_args__ = (
        sa.CheckConstraint(
            "role != 'trainer' OR trainer_id IS NOT NULL", name="trainer_has_trainer_id"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Lower-cased and trimmed: the login.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    full_name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[Role] = enum_column(Role)
    #: The catalogue's trainer this account acts as (trainers only).
    trainer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("trainers.id"), unique=True)
    #: A werkzeug hash (scrypt); never the password.
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    #: An inactive account cannot log in (people leave; their past actions keep a name).
    active: Mapped[bool] = mapped_column(default=True)
    #: Changed with the password: reset links made before it die (login sessions are revoked).
    password_changed_at = mapped_column(UTCDateTime, nullable=False, default=now)
    created_at = mapped_column(UTCDateTime, nullable=False, default=now)
    last_login_at = mapped_column(UTCDateTime, nullable=True)

    trainer: Mapped[Trainer | None] = relationship()

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    @property
    def is_coordinator(self) -> bool:
        return self.role is Role.coordinator

    #: The secret of the login session this object was loaded for (app.staff.services): what
    #: Flask-Login keeps in the session cookie. Not a column.
    session_secret = None

    def get_id(self) -> str | None:
        return self.session_secret

    def __repr__(self) -> str:
        return f"<StaffUser {self.email} {self.role.value}>"


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
