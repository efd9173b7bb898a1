"""The current time, injectable: tests and the scheduler's tests set `CLOCK` in the config.

(freezegun would stop asyncio's monotonic clock, and cannot reach a server in another thread.)
"""

from datetime import UTC, datetime

from flask import current_app, has_app_context


def now() -> datetime:
    """The current time, aware, in UTC."""
    if has_app_context():
        clock = current_app.config.get("CLOCK")
        if clock is not None:
            return clock()
    return datetime.now(UTC)
