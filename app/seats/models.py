"""What a seat row is, declared once for both holders of seats: a workshop's registrations and
the exchange half-day's attendees.

A row is one person on one holder: a confirmed seat, a numbered place on the waiting list, or
cancelled (kept: its mails and the figures refer to it). The table constraints make the rules
the database's own, whatever the code does: one active row per address and holder, and a
waiting position exactly when the row is waiting.
"""

from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from app.clock import now
from app.database import UTCDateTime
from app.enums import TitledEnum, enum_column


class SeatRow:
    """Mixin of the rows the seat ledger (`app.seats.ledger`) counts, places and promotes.

    A subclass sets `Status`, its enum of statuses: it has at least `confirmed`, `waiting` and
    `cancelled` (workshops add `walk_in`, a person added at the door who holds no seat).
    """

    Status: ClassVar[type[TitledEnum]]

    last_name: Mapped[str] = mapped_column(sa.String(100))
    first_name: Mapped[str] = mapped_column(sa.String(100))
    #: Lower-cased and trimmed (`normalise_email`): the person's identity on a holder.
    email: Mapped[str] = mapped_column(sa.String(254), index=True)
    #: 1 for the first person waiting; gap-free among the holder's waiting rows.
    waiting_position: Mapped[int | None]
    #: Raised on each change the person's calendar must follow (the invitation's SEQUENCE).
    sequence: Mapped[int] = mapped_column(default=0)
    created_at = mapped_column(UTCDateTime, nullable=False, default=now)
    updated_at = mapped_column(UTCDateTime, nullable=False, default=now, onupdate=now)
    #: When the seat was given (at once, or on promotion from the waiting list).
    confirmed_at = mapped_column(UTCDateTime, nullable=True)
    cancelled_at = mapped_column(UTCDateTime, nullable=True)

    @declared_attr
    def status(cls) -> Mapped[TitledEnum]:
        return enum_column(cls.Status)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def is_active(self) -> bool:
        """Confirmed or waiting: the row takes part in the seat count."""
        return self.status in (self.Status.confirmed, self.Status.waiting)

    @property
    def takes_seat(self) -> bool:
        """Whether confirming this row takes one of the holder's seats (remote attendance does
        not)."""
        return True

    @property
    def holds_seat(self) -> bool:
        return self.status is self.Status.confirmed and self.takes_seat

    @classmethod
    def holds_seat_clause(cls) -> sa.ColumnElement[bool]:
        """`holds_seat` in SQL, for counting."""
        return cls.status == cls.Status.confirmed


def seat_table_args(table: str, holder: str) -> tuple:
    """The constraints of a seat table whose holder column is `holder` ("workshop_id")."""
    return (
        # One active row per person and holder: the unique index decides even without the lock.
        sa.Index(
            f"uq_{table}_{holder}_email_active",
            holder,
            "email",
            unique=True,
            sqlite_where=sa.text("status != 'cancelled'"),
            postgresql_where=sa.text("status != 'cancelled'"),
        ),
        sa.Index(f"ix_{table}_{holder}_status", holder, "status"),
        sa.CheckConstraint(
            "(status = 'waiting') = (waiting_position IS NOT NULL)", name="position_iff_waiting"
        ),
    )
