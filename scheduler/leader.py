"""Which of several scheduler processes works: on PostgreSQL, the one holding an advisory lock.

The lock is a session lock held on a dedicated connection outside the pool: if the process dies
or loses its connection, PostgreSQL releases it and a standby takes it at its next try. On SQLite
(one host) and when `SCHEDULER_ELECTION` is off (tests racing two sweepers), every process works.
"""

import contextlib
import logging
import zlib

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

log = logging.getLogger("scheduler")

#: The advisory lock's key: any fixed 64-bit number that no other program on the server uses.
LOCK_KEY = zlib.crc32(b"ateliers-tice:scheduler")


class Leadership:
    def __init__(self, database_url: str, *, enabled: bool = True):
        self.enabled = enabled and database_url.startswith("postgresql")
        self._engine = sa.create_engine(database_url, poolclass=NullPool) if self.enabled else None
        self._connection = None
        self.is_leader = not self.enabled

    @classmethod
    def for_app(cls, app) -> "Leadership":
        return cls(app.config["SQLALCHEMY_DATABASE_URI"], enabled=app.config["SCHEDULER_ELECTION"])

    def keep(self) -> bool:
        """Take the lock if free, or check it is still held; True when this process works."""
        if not self.enabled:
            return True
        try:
            if self._connection is None:
                self._connection = self._engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT"
                )
            if self.is_leader:
                self._connection.exec_driver_sql("SELECT 1")  # the lock lives as long as this
            else:
                taken = self._connection.execute(
                    sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}
                ).scalar()
                if taken:
                    log.info("this process is now the active scheduler")
                self.is_leader = bool(taken)
        except DBAPIError as error:
            if self.is_leader:
                log.warning("lost the scheduler lock with the database connection: %s", error)
            self._drop_connection()
        return self.is_leader

    def release(self) -> None:
        if self._connection is not None and self.is_leader:
            with contextlib.suppress(DBAPIError):  # else the connection is gone, the lock too
                self._connection.execute(
                    sa.text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY}
                )
        self._drop_connection()
        if self._engine is not None:
            self._engine.dispose()

    def _drop_connection(self) -> None:
        self.is_leader = not self.enabled
        if self._connection is not None:
            with contextlib.suppress(DBAPIError):
                self._connection.close()
            self._connection = None
