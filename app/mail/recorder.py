"""A delivery run's heartbeat and the record of each mail it sent, as soon as the relay took it.

A run claims its batch (app.mail.delivery) and its claim lives as long as its heartbeat
(`MailSender`): the scheduler beats it every sixth of MAIL_CLAIM_TIMEOUT_SECONDS
(`beat_claims`), and so does each record when a beat is due. The rows of a run whose process
died go back to the outbox once its beat is MAIL_CLAIM_TIMEOUT_SECONDS old (a minute).

Each mail the relay accepted is recorded sent in a short transaction of its own (`Recorder`,
on a thread, while the next envelope goes): a sender killed mid-batch sends again at most the
one mail in flight.
"""

import functools
import time
from concurrent.futures import Future, ThreadPoolExecutor

import sqlalchemy as sa
from flask import current_app

from app.clock import now
from app.database import UTCDateTime, begin_write
from app.extensions import db
from app.mail.models import MailSender, MailStatus, OutboxMail

#: A run beats its claim this many times per MAIL_CLAIM_TIMEOUT_SECONDS.
BEATS_PER_CLAIM_TIMEOUT = 6

#: The claims of this process's delivery runs in progress → when each last beat (monotonic).
#: app.mail.delivery adds a run's claim when it starts and removes it when it ends.
claims_in_progress: dict[str, float] = {}


def beat_claims() -> int:
    """Beat the heartbeat of this process's delivery runs in progress (the scheduler calls it
    from its own thread every sixth of MAIL_CLAIM_TIMEOUT_SECONDS, so a run waiting on a slow
    relay keeps its claim); the number of runs beaten."""
    claims = list(claims_in_progress)
    if not claims:
        return 0
    begin_write()
    db.session.execute(
        sa.update(MailSender).where(MailSender.claim.in_(claims)).values(beat_at=now())
    )
    db.session.commit()
    beaten_at = time.monotonic()
    for claim in claims:
        if claim in claims_in_progress:
            claims_in_progress[claim] = beaten_at
    return len(claims)


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


class ClaimLost(Exception):
    """The run's claim was taken back (it looked dead): it must not send any more."""


class Recorder:
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

    def __enter__(self) -> "Recorder":
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
        """Return once the last mail sent is recorded; ClaimLost when it no longer was ours."""
        if self._pending is None:
            return
        pending, self._pending = self._pending, None
        if not pending.result():
            raise ClaimLost
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
        if beaten_at - claims_in_progress.get(claim, beaten_at) >= every:
            connection.execute(
                sa.update(MailSender.__table__)
                .where(MailSender.__table__.c.claim == claim)
                .values(beat_at=now())
            )
            claims_in_progress[claim] = beaten_at
    return len(recorded) == 1
