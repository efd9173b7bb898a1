"""Database plumbing shared by every feature: aware UTC datetimes and write transactions.

SQLite: pysqlite would defer BEGIN until the first write, so a transaction that counts seats and
then inserts could not hold the write lock while counting. Following SQLAlchemy's recipe, the
driver's own transaction handling is switched off and BEGIN is emitted from the `begin` event:
`BEGIN IMMEDIATE` when the session asked for a write transaction (`begin_write`), a plain
deferred `BEGIN` otherwise. WAL and a busy timeout let the web app and the scheduler share the
file; `synchronous = NORMAL` (the setting SQLite recommends with WAL) makes commits cheap.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from app.extensions import db

#: Ids beyond the id columns' INTEGER (a URL like /ateliers/99999999999999999999) open nothing,
#: instead of failing in the driver (sqlite3 raises OverflowError beyond 64 bits: a 500).
MAX_ID = 2**31 - 1


def valid_id(value: int | None) -> bool:
    """Whether `value` can be a row's id (a positive INTEGER): anything else opens nothing."""
    return value is not None and 0 < value <= MAX_ID


def get_by_id(model, row_id: int | None):
    """The row of `model` with this id, or None — also, without a query, for an id no id column
    can hold."""
    return db.session.get(model, row_id) if valid_id(row_id) else None


SQLITE_BUSY_TIMEOUT_MS = 30_000


class UTCDateTime(sa.TypeDecorator):
    """A timezone-aware datetime, stored in UTC; SQLite's naive values come back aware."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record):
    if not _is_sqlite(dbapi_connection):
        return
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode")
    if cursor.fetchone()[0] != "memory":
        cursor.execute("PRAGMA journal_mode = WAL")
        # In WAL mode, NORMAL syncs at checkpoints, not at every commit: a commit survives a
        # crash of any process (the mail sender records each mail as it goes), only a power
        # cut may roll back the last ones; the database stays consistent either way.
        cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(connection):
    if connection.dialect.name != "sqlite":
        return
    options = connection.get_execution_options()
    if (busy_timeout := options.get("sqlite_busy_timeout_ms")) is not None:
        # This transaction waits less for the lock; put back when the connection is returned.
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(busy_timeout)}")
        connection.connection.info["busy_timeout_changed"] = True
    if options.get("sqlite_immediate"):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


@event.listens_for(Pool, "checkin")
def _sqlite_on_checkin(dbapi_connection, connection_record):
    if dbapi_connection is not None and connection_record.info.pop("busy_timeout_changed", False):
        dbapi_connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")


def _is_sqlite(dbapi_connection) -> bool:
    return type(dbapi_connection).__module__.startswith("sqlite3")


def begin_write(*, immediate: bool = True, sqlite_wait_ms: int | None = None) -> None:
    """Start the session's next transaction as a write transaction.

    On SQLite it begins `IMMEDIATE`, taking the database's write lock before the first read
    (waiting for it up to `sqlite_wait_ms`, else SQLITE_BUSY_TIMEOUT_MS); on PostgreSQL it is a
    plain transaction in which the caller locks rows with `FOR UPDATE`.
    `immediate=False` exists only for the control runs that prove the lock is needed.
    A read-only transaction left open by the view is ended first; pending changes are a bug.
    """
    session = db.session()  # the request's (or job's) own session
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("begin_write() called with unsaved changes in the session")
        session.commit()
    options = {"sqlite_immediate": immediate}
    if sqlite_wait_ms is not None:
        options["sqlite_busy_timeout_ms"] = sqlite_wait_ms
    session.connection(execution_options=options)


@contextmanager
def write_transaction(*, immediate: bool = True) -> Iterator[None]:
    """One unit of work: a write transaction begun on entry (`begin_write`), committed on exit,
    rolled back when an exception leaves it.

    Nested, it joins the unit already open and the outermost one commits: a view wraps a service
    and its audit entry in one unit, and both are written or neither.
    """
    session = db.session()
    if session.info.get("write_unit"):
        yield
        return
    begin_write(immediate=immediate)
    session.info["write_unit"] = True
    try:
        yield
    except BaseException:
        session.rollback()
        raise
    else:
        session.commit()
    finally:
        session.info.pop("write_unit", None)


def lock_row(model, row_id: int | None, *, options=(), shared: bool = False, lock: bool = True):
    """Inside a write transaction, read the row afresh and lock it (`FOR UPDATE`, or `FOR SHARE`
    when `shared`, on PostgreSQL; on SQLite the transaction begun IMMEDIATE already holds the
    database's write lock). None when there is no such row. `lock=False` only for the control
    runs of the tests that prove the lock is needed.

    Everything decided about a row's dependants (its seats, its agenda) is decided under this
    lock, read after it: two requests on the same row take turns.
    """
    if not valid_id(row_id):
        return None
    query = (
        sa.select(model)
        .where(model.id == row_id)
        .options(*options)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update(of=model, read=shared)
    return db.session.scalar(query)
