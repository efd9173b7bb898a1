"""Public pages that belong to no feature: privacy notice, accessibility statement, the icon,
health."""

import contextlib

import sqlalchemy as sa
from flask import Blueprint, jsonify, redirect, render_template, url_for
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from app import heartbeat
from app.clock import now
from app.database import begin_write
from app.extensions import db, limiter
from app.mail.models import MailStatus, OutboxMail
from app.mail.relay import relay_trouble

blueprint = Blueprint("pages", __name__)


@blueprint.get("/confidentialite")
def privacy():
    return render_template("pages/privacy.html")


@blueprint.get("/accessibilite")
def accessibility():
    return render_template("pages/accessibility.html")


@blueprint.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page says: the icon every page links."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)


#: How long /sante waits for SQLite's write lock before saying the database cannot write.
HEALTH_WRITE_WAIT_MS = 2000


@blueprint.get("/sante")
def health():
    """200 while the database answers and takes a write, with the scheduler's last heartbeat,
    the outbox, whether the mail relay refuses our mails (`mail_relay`: "ok" or why, in
    French), and whether the rate limits' store (Redis) answers: without it each process counts
    on its own (Flask-Limiter's fallback), which serves but no longer holds the limits across
    processes. 503 when the database is out of reach or cannot write (`database` says why)."""
    try:
        counts = dict(
            db.session.execute(
                sa.select(OutboxMail.status, sa.func.count())
                .where(OutboxMail.status.in_([MailStatus.pending, MailStatus.failed]))
                .group_by(OutboxMail.status)
            ).all()
        )
        beats = heartbeat.all_beats()
        relay = relay_trouble()
    except SQLAlchemyError:
        _rollback()
        return jsonify(status="error", database="indisponible"), 503
    if (cannot_write := _cannot_write()) is not None:
        return jsonify(status="error", database=f"écriture impossible : {cannot_write}"), 503
    scheduler = None
    if beats:
        scheduler = {
            "last_beat_at": beats[0].beat_at.isoformat(),
            "seconds_ago": round((now() - beats[0].beat_at).total_seconds()),
            "process": beats[0].process,
            "sweeps": {b.name: {"at": b.beat_at.isoformat(), "did": b.detail} for b in beats},
        }
    return jsonify(
        status="ok",
        database="ok",
        scheduler=scheduler,
        outbox_pending=counts.get(MailStatus.pending, 0),
        outbox_failed=counts.get(MailStatus.failed, 0),
        mail_relay=str(relay) if relay else "ok",
        rate_limits="ok" if _rate_limit_store_answers() else RATE_LIMIT_STORE_DOWN,
    )


def _cannot_write() -> str | None:
    """Why the database cannot take a write right now, in French; None when it can.

    A short write transaction that writes nothing: on SQLite it takes the write lock (BEGIN
    IMMEDIATE), waiting HEALTH_WRITE_WAIT_MS at most; on PostgreSQL it asks whether its
    transactions may write (not a standby after a failover, not a read-only setting).
    """
    try:
        begin_write(sqlite_wait_ms=HEALTH_WRITE_WAIT_MS)
        if db.session.get_bind().dialect.name == "postgresql":
            standby, read_only = db.session.execute(
                sa.text("SELECT pg_is_in_recovery(), current_setting('transaction_read_only')")
            ).one()
            if standby or read_only == "on":
                db.session.rollback()
                return "le serveur PostgreSQL n'accepte que des lectures" + (
                    " (serveur de secours)" if standby else " (transactions en lecture seule)"
                )
        db.session.rollback()
    except OperationalError as error:
        _rollback()
        if "locked" in str(error.orig):
            return (
                f"base verrouillée par un autre programme depuis plus de "
                f"{HEALTH_WRITE_WAIT_MS // 1000} s (chaque enregistrement attend puis échoue)"
            )
        return "la base ne répond pas aux écritures"
    except SQLAlchemyError as error:
        _rollback()
        return f"la base refuse les écritures ({' '.join(str(error.orig).split())})"
    return None


def _rollback() -> None:
    with contextlib.suppress(SQLAlchemyError):  # the connection may be gone with the database
        db.session.rollback()


RATE_LIMIT_STORE_DOWN = "stockage injoignable : chaque processus compte à part"


def _rate_limit_store_answers() -> bool:
    try:
        return limiter.storage.check()
    except Exception:  # noqa: BLE001  (whatever the store's client raises: it does not answer)
        return False
