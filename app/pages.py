"""Public pages that belong to no feature: privacy notice, accessibility statement, health."""

import sqlalchemy as sa
from flask import Blueprint, jsonify, render_template
from sqlalchemy.exc import SQLAlchemyError

from app import heartbeat
from app.clock import now
from app.extensions import db, limiter
from app.mail.models import MailStatus, OutboxMail
from app.mail.services import relay_trouble

blueprint = Blueprint("pages", __name__)


@blueprint.get("/confidentialite")
def privacy():
    return render_template("pages/privacy.html")


@blueprint.get("/accessibilite")
def accessibility():
    return render_template("pages/accessibility.html")


@blueprint.get("/sante")
def health():
    """200 while the database answers, with the scheduler's last heartbeat, the outbox,
    whether the mail relay refuses our mails (`mail_relay`: "ok" or why, in French), and whether the rate limits' store (Redis) answers: without it each process counts on its own
    (Flask-Limiter's fallback), which serves but no longer holds the limits across processes."""
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
        db.session.rollback()
        return jsonify(status="error", database="indisponible"), 503
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


RATE_LIMIT_STORE_DOWN = "stockage injoignable : chaque processus compte à part"


def _rate_limit_store_answers() -> bool:
    try:
        return limiter.storage.check()
    except Exception:  # noqa: BLE001  (whatever the store's client raises: it does not answer)
        return False
