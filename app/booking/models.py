"""A teacher's registration to a workshop: a confirmed seat, a waiting place, or cancelled."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.catalog.models import Workshop
from app.clock import now
from app.database import UTCDateTime
from app.enums import TitledEnum, enum_column
from app.extensions import db
from app.seats.models import SeatRow, seat_table_args


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


class Registration(SeatRow, db.Model):
    """One person on one workshop. Seats and positions change only through the seat ledger,
    under the workshop's lock (`app.booking.services.REGISTRATIONS`)."""

    __tablename__ = "registrations"
    __table_args__ = seat_table_args("registrations", "workshop_id")
    Status = RegistrationStatus

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(sa.ForeignKey("workshops.id"))
    school: Mapped[str] = mapped_column(sa.String(200))
    #: The school's UAI code (7 digits and a check letter), when given.
    uai: Mapped[str | None] = mapped_column(sa.String(8))
    source: Mapped[Source | None] = enum_column(Source, nullable=True)

    workshop: Mapped[Workshop] = relationship()

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
