"""Public pages that belong to no feature: privacy notice, accessibility statement, health."""

import sqlalchemy as sa
from flask import Blueprint, jsonify, render_template
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.mail.models import MailStatus, OutboxMail

blueprint = Blueprint("pages", __name__)


@blueprint.get("/confidentialite")
def privacy():
    return render_template("pages/privacy.html")


@blueprint.get("/accessibilite")
def accessibility():
    return render_template("pages/accessibility.html")


@blueprint.get("/sante")
def health():
    try:
        counts = dict(
            db.session.execute(
                sa.select(OutboxMail.status, sa.func.count())
                .where(OutboxMail.status.in_([MailStatus.pending, MailStatus.failed]))
                .group_by(OutboxMail.status)
            ).all()
        )
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="error", database="indisponible"), 503
    return jsonify(
        status="ok",
        database="ok",
        outbox_pending=counts.get(MailStatus.pending, 0),
        outbox_failed=counts.get(MailStatus.failed, 0),
    )
