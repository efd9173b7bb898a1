"""A teacher's registration to a workshop: a confirmed seat, a waiting place, or cancelled."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.catalog.models import Workshop
from app.clock import now
from app.database import UTCDateTime
from app.enums import TitledEnum, enum_column
from app.extensions import db


class RegistrationStatus(TitledEnum):
    confirmed = ("confirmed", "Inscription confirmée")
    waiting = ("waiting", "En liste d'attente")
    cancelled = ("cancelled", "Annulée")
    #: Came without a registration and was added at check-in: holds no seat, even beyond capacity.
    walk_in = ("walk_in", "Venu·e sans inscription")


class Source(TitledEnum):
    """Where the teacher came from, carried by `?source=` on any page."""

    mailing_list = ("liste", "Liste de diffusion")
    poster = ("affiche", "Affiche")
    ent = ("ent", "ENT")


ACTIVE = (RegistrationStatus.confirmed, RegistrationStatus.waiting)


class Registration(db.Model):
    """One person on one workshop. Seats and positions change only under the workshop's lock."""

    __tablename__ = "registrations"
    __table_args__ = (
        # One active registration per person and workshop (DESIGN rule 3).
        sa.Index(
            "uq_registrations_workshop_id_email_active",
            "workshop_id",
            "email",
            unique=True,
            sqlite_where=sa.text("status != 'cancelled'"),
            postgresql_where=sa.text("status != 'cancelled'"),
        ),
        sa.Index("ix_registrations_workshop_id_status", "workshop_id", "status"),
        sa.CheckConstraint(
            "(status = 'waiting') = (waiting_position IS NOT NULL)", name="position_iff_waiting"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(sa.ForeignKey("workshops.id"))
    last_name: Mapped[str] = mapped_column(sa.String(100))
    first_name: Mapped[str] = mapped_column(sa.String(100))
    #: Lower-cased and trimmed: the person's identity for rule 3 and the personal calendar.
    email: Mapped[str] = mapped_column(sa.String(254), index=True)
    school: Mapped[str] = mapped_column(sa.String(200))
    #: The school's UAI code (7 digits and a check letter), when given.
    uai: Mapped[str | None] = mapped_column(sa.String(8))
    status: Mapped[RegistrationStatus] = enum_column(RegistrationStatus)
    #: 1 for the first person waiting; gap-free among the workshop's waiting registrations.
    waiting_position: Mapped[int | None]
    source: Mapped[Source | None] = enum_column(Source, nullable=True)
    #: Raised on each change the teacher's calendar must follow (calendar SEQUENCE).
    sequence: Mapped[int] = mapped_column(default=0)
    created_at = mapped_column(UTCDateTime, nullable=False, default=now)
    updated_at = mapped_column(UTCDateTime, nullable=False, default=now, onupdate=now)
    #: When the seat was given (at once, or on promotion from the waiting list).
    confirmed_at = mapped_column(UTCDateTime, nullable=True)
    cancelled_at = mapped_column(UTCDateTime, nullable=True)

    workshop: Mapped[Workshop] = relationship()

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    def __repr__(self) -> str:
        return f"<Registration {self.id} {self.status.value} workshop {self.workshop_id}>"


class Notice(db.Model):
    """A notice sent at most once: a reminder to a registration, a trainer's list for a session.

    The unique `key` ("rappel-j2:registration:12", "liste-formateur:workshop:4") is what makes a
    sweep idempotent: a second scheduler, or a second run, cannot insert it again.
    """

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    #: "rappel-j2", "liste-formateur"…
    kind: Mapped[str] = mapped_column(sa.String(40))
    workshop_id: Mapped[int] = mapped_column(sa.ForeignKey("workshops.id"), index=True)
    registration_id: Mapped[int | None] = mapped_column(sa.ForeignKey("registrations.id"))
    #: When it was due.
    due_at = mapped_column(UTCDateTime, nullable=False)
    #: True when it was dropped: found too late to be useful (after an outage).
    dropped: Mapped[bool] = mapped_column(default=False)
    created_at = mapped_column(UTCDateTime, nullable=False, default=now)

    def __repr__(self) -> str:
        return f"<Notice {self.key}{' dropped' if self.dropped else ''}>"
