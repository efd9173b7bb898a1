"""The scheduler's heartbeat: one row per sweep, rewritten at each run; `/sante` reads them."""

import os
import socket

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.database import UTCDateTime, begin_write
from app.extensions import db


class Heartbeat(db.Model):
    """When a sweep last ran, where, and what it did."""

    __tablename__ = "heartbeats"

    #: The sweep's name: "deliver_outbox"…
    name: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    beat_at = mapped_column(UTCDateTime, nullable=False)
    #: host:pid of the scheduler process that ran it.
    process: Mapped[str] = mapped_column(sa.String(120))
    #: What the run did, in a few words ("3 sent, 0 to retry, 0 failed").
    detail: Mapped[str] = mapped_column(sa.String(250), default="")

    def __repr__(self) -> str:
        return f"<Heartbeat {self.name} {self.beat_at:%Y-%m-%d %H:%M:%S} {self.process}>"


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def beat(name: str, detail: str = "") -> None:
    """Record that `name` just ran (its own short write transaction)."""
    begin_write()
    row = db.session.get(Heartbeat, name)
    if row is None:
        row = Heartbeat(name=name)
        db.session.add(row)
    row.beat_at, row.process, row.detail = now(), this_process(), detail[:250]
    db.session.commit()


def all_beats() -> list[Heartbeat]:
    """Every sweep's last run, latest first."""
    return list(db.session.scalars(sa.select(Heartbeat).order_by(Heartbeat.beat_at.desc())))
