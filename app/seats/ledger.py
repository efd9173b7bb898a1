"""The seat ledger: the only code that counts, places, withdraws and promotes.

A holder (a workshop, the exchange half-day) has `capacity` seats. Every decision about them is
one write transaction that first locks the holder's row and only then counts (`holding`): two
people on the last seat take turns, and the second one waits. The waiting list is first come,
first served and gap-free; a freed seat goes to the first person waiting in the transaction that
freed it — except in the last PROMOTION_CUTOFF_HOURS before the start, when the door decides.
The mails a decision implies go to the outbox in the same transaction.

Each holder has one `Ledger`; the parts of the app that own a holder (booking, exchange) make it
with what only they know: how to mail a promoted person, how to resend a management link.
"""

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.clock import now
from app.database import lock_row, write_transaction
from app.extensions import db
from app.mail import services as mail
from app.seats.models import SeatRow

log = logging.getLogger(__name__)

#: A person registering again within this delay is a double click: their mail is on its way.
DOUBLE_SUBMIT_WINDOW = timedelta(minutes=2)


@dataclass(frozen=True)
class Placement:
    """What placing a person decided: their row (new, or the one their address already held)."""

    row: SeatRow
    #: True when the address was already there: nothing new was created.
    already_registered: bool = False
    #: For someone already there: whether a fresh management link was mailed.
    link_resent: bool = False

    @property
    def row_id(self) -> int:
        """The row's id, from its identity key: the commit expired the row, and reading `row.id`
        would reload it (three more round trips) just for its primary key."""
        return sa.inspect(self.row).identity[0]


@dataclass(frozen=True)
class SeatCount:
    capacity: int
    confirmed: int = 0
    waiting: int = 0

    @property
    def left(self) -> int:
        return max(self.capacity - self.confirmed, 0)

    @property
    def full(self) -> bool:
        return self.left == 0


def race_pause() -> None:
    """Test-only: widen the window between counting and inserting (refused in production)."""
    pause = current_app.config["SEAT_RACE_PAUSE"]
    if pause:
        time.sleep(pause)


def _yes(holder) -> bool:
    return True


def _nothing(row) -> None:
    return None


@dataclass(frozen=True, eq=False)
class Ledger:
    """The seats of one kind of holder, and the rows (`row`, a SeatRow) that hold them."""

    row: type[SeatRow]
    holder: type
    #: The row's column naming its holder ("workshop_id").
    holder_key: str
    #: The `subject_kind` of the rows' outbox mails ("registration").
    kind: str
    #: Raised, with the holder's id, when the holder does not exist or `accepts` refuses it.
    not_found: type[Exception]
    #: Mails whose refusal for good means the address is wrong: its row releases its seat.
    proving_mails: frozenset[str] = frozenset()
    #: Queues the mail of a person promoted from the waiting list (or admitted).
    on_promoted: Callable[[SeatRow], None] = _nothing
    #: Queues a fresh management link for someone whose address already holds a row.
    on_link_requested: Callable[[SeatRow], None] = _nothing
    #: Whether the holder may be locked and counted at all (a draft workshop may not).
    accepts: Callable[[object], bool] = _yes
    #: Whether freed seats go to the waiting list on their own (a cancelled workshop's do not).
    promotes: Callable[[object], bool] = _yes
    #: Loader options for the holder: what its mails show, read in the locking round trip.
    load: tuple = ()

    def __post_init__(self) -> None:
        _LEDGERS[self.holder] = self

    # --- the transaction ----------------------------------------------------------------------

    @contextmanager
    def holding(self, holder_id: int) -> Iterator:
        """The holder, locked before anything is counted, for the `with` block: committed at its
        end, rolled back if an exception leaves it. Inside an open `write_transaction` it joins
        it (the outermost commits): a view writes its audit entry with the change. Raises
        `not_found`. It is the only way to lock a holder, so that every lock ends with the
        commit or the rollback of the decision it protects."""
        lock = current_app.config["SEAT_LOCK_ENABLED"]  # off only in the tests' control runs
        with write_transaction(immediate=lock):
            holder = lock_row(self.holder, holder_id, options=self.load, lock=lock)
            if holder is None or not self.accepts(holder):
                raise self.not_found(holder_id)
            yield holder

    # --- counting -------------------------------------------------------------------------------

    def seat_columns(self) -> tuple[sa.ColumnElement, sa.ColumnElement]:
        """The confirmed-with-a-seat and waiting counts, as aggregates for one query."""
        waiting = self.row.status == self.row.Status.waiting
        return sa.func.count().filter(self.row.holds_seat_clause()), sa.func.count().filter(waiting)

    def counts(self, holders: Iterable) -> dict[int, SeatCount]:
        """Each holder's seat count, in one query."""
        holders = list(holders)
        found = {}
        if holders:
            key = getattr(self.row, self.holder_key)
            rows = db.session.execute(
                sa.select(key, *self.seat_columns())
                .where(key.in_([h.id for h in holders]), self._active())
                .group_by(key)
            )
            found = {holder_id: (confirmed, waiting) for holder_id, confirmed, waiting in rows}
        return {h.id: SeatCount(h.capacity, *found.get(h.id, (0, 0))) for h in holders}

    def count(self, holder) -> SeatCount:
        return self.counts([holder])[holder.id]

    def count_and_find(self, holder, email: str) -> tuple[SeatCount, int | None]:
        """The seat count and the id of this address's active row, in one query under the lock."""
        confirmed, waiting, existing_id = db.session.execute(
            sa.select(
                *self.seat_columns(),
                sa.func.max(sa.case((self.row.email == email, self.row.id))),
            ).where(getattr(self.row, self.holder_key) == holder.id, self._active())
        ).one()
        return SeatCount(holder.capacity, confirmed, waiting), existing_id

    def active(self, holder_id: int, email: str) -> SeatRow | None:
        """The row holding this address on this holder: any row not cancelled."""
        return db.session.scalar(
            sa.select(self.row).where(
                getattr(self.row, self.holder_key) == holder_id,
                self.row.email == email,
                self._active(),
            )
        )

    def _active(self) -> sa.ColumnElement[bool]:
        # Any row not cancelled holds the address (the unique index's rule): a person added at
        # the door who then registers is "already there".
        return self.row.status != self.row.Status.cancelled

    # --- deciding -------------------------------------------------------------------------------

    def enter(self, holder, row: SeatRow) -> Placement:
        """Add a new row under the lock: a seat when one is free (or none is needed), else the
        next place on the waiting list; the caller mails the person. When the address already
        holds a row here, nothing is added: that row, `already_registered`, with a fresh link
        mailed (`on_link_requested`) unless the row is seconds old (a double click)."""
        count, existing_id = self.count_and_find(holder, row.email)
        if existing_id is not None:
            return self._already_there(db.session.get(self.row, existing_id))
        race_pause()
        if row.takes_seat and count.full:
            row.status = self.row.Status.waiting
            row.waiting_position = count.waiting + 1
        else:
            row.status = self.row.Status.confirmed
            row.confirmed_at = now()
        db.session.add(row)
        try:
            db.session.flush()
        except IntegrityError:
            # Only reachable without the lock: another request took the same address. The
            # whole transaction is void (PostgreSQL aborts it), so no savepoint would save it.
            db.session.rollback()
            return self._already_there(self.active(holder.id, row.email))
        return Placement(row)

    def _already_there(self, row: SeatRow) -> Placement:
        if now() - row.created_at < DOUBLE_SUBMIT_WINDOW:
            # The person clicked twice: their first mail is on its way.
            return Placement(row, already_registered=True)
        self.on_link_requested(row)
        return Placement(row, already_registered=True, link_resent=True)

    def withdraw(self, row: SeatRow) -> bool:
        """Cancel the row and close the gap it leaves in the waiting list. Returns whether it held
        a seat: the caller mails the person, then `promote`s."""
        held_seat = row.holds_seat
        position = row.waiting_position
        row.status = self.row.Status.cancelled
        row.waiting_position = None
        row.cancelled_at = now()
        row.sequence += 1
        db.session.flush()
        if position is not None:
            self.shift(getattr(row, self.holder_key), after=position)
        return held_seat

    def confirm(self, row: SeatRow) -> None:
        """Confirm the row, leaving the waiting list if it was on it (its gap closes). The caller
        checked a seat is free when the row takes one."""
        position = row.waiting_position
        self._seat(row)
        if position is not None:
            db.session.flush()
            self.shift(getattr(row, self.holder_key), after=position)

    def _seat(self, row: SeatRow) -> None:
        """Confirm the row and take it off the waiting list; the calendar sequence rises only when
        the status changes (a confirmed person switching to remote keeps their invitation). The
        caller closes the gap left in the waiting list."""
        if row.status is not self.row.Status.confirmed:
            row.status = self.row.Status.confirmed
            row.confirmed_at = now()
            row.sequence += 1
        row.waiting_position = None

    def admit(self, row: SeatRow) -> None:
        """A coordinator gives this person waiting a free seat, whatever their place."""
        self.confirm(row)
        self.on_promoted(row)

    def promote(self, holder) -> list[SeatRow]:
        """Give free seats to the head of the waiting list and mail them, unless the start is too
        close (the door decides then) or the holder does not promote (cancelled)."""
        cutoff = timedelta(hours=current_app.config["PROMOTION_CUTOFF_HOURS"])
        if now() >= holder.starts_at - cutoff or not self.promotes(holder):
            return []
        count = self.count(holder)
        if count.left <= 0 or not count.waiting:
            return []
        promoted = list(
            db.session.scalars(
                sa.select(self.row)
                .where(
                    getattr(self.row, self.holder_key) == holder.id,
                    self.row.status == self.row.Status.waiting,
                )
                .order_by(self.row.waiting_position)
                .limit(count.left)
            )
        )
        for row in promoted:
            self._seat(row)
        db.session.flush()
        self.shift(holder.id, after=0, by=len(promoted))
        for row in promoted:
            self.on_promoted(row)
        return promoted

    def shift(self, holder_id: int, *, after: int, by: int = 1) -> None:
        """Move up by `by` everyone waiting behind position `after`."""
        position = self.row.waiting_position
        db.session.execute(
            sa.update(self.row)
            .where(
                getattr(self.row, self.holder_key) == holder_id,
                self.row.status == self.row.Status.waiting,
                position > after,
            )
            .values(waiting_position=position - by)
            .execution_options(synchronize_session=False)
        )

    def release_undeliverable(self, row_id: int) -> SeatRow | None:
        """Cancel a row whose mail the server refused for good (an unknown address, often a typo)
        and give its seat to the next person waiting: a typo must not hold a seat. The refused
        mail stays in the outbox, failed, for the coordinators to see."""
        row = db.session.get(self.row, row_id)
        if row is None:
            return None
        try:
            with self.holding(getattr(row, self.holder_key)) as holder:
                db.session.refresh(row)
                if row.is_active or row.status is not self.row.Status.cancelled:
                    if self.withdraw(row):
                        self.promote(holder)
                    log.warning(
                        "%s %s cancelled: its mail to %s was refused", self.kind, row.id, row.email
                    )
        except self.not_found:
            return None
        return row


#: Each kind of holder's ledger, registered when it is made; the refused-mail receiver finds
#: one by its `kind` among these few.
_LEDGERS: dict[type, Ledger] = {}


def ledger_for(holder: type) -> Ledger:
    """The ledger of a kind of holder, for the pages that only show its counts (the public
    catalogue): they need the seats without the part of the app that owns the rows. Every
    ledger is made when the app is created (`app.models` imports all the models' packages)."""
    return _LEDGERS[holder]


@mail.mail_refused.connect
def _on_mail_refused(sender, *, template, subject_kind, subject_id, **details) -> None:
    for ledger in _LEDGERS.values():
        if ledger.kind == subject_kind and template in ledger.proving_mails:
            ledger.release_undeliverable(subject_id)
