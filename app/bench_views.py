"""Benchmark-only endpoints: registered only when `BENCH_ENDPOINTS` is True.

`ProductionConfig` refuses that flag, so these URLs never exist in production. They give
`bench/registration_burst.py` and `bench/feeds.py` a ceiling measured on the same stack (gunicorn,
Flask, SQLAlchemy, PostgreSQL) as the real thing: the floor of a registration's work, and of a
feed poll's.
"""

import sqlalchemy as sa
from flask import Blueprint, Response, request

from app.booking.models import Registration, RegistrationStatus
from app.clock import now
from app.extensions import csrf, db

blueprint = Blueprint("bench", __name__)


@blueprint.post("/_bench/plancher/<int:workshop_id>")
@csrf.exempt
def floor(workshop_id: int):
    """One INSERT of a confirmed registration and its COMMIT; 204.

    Deliberately none of the real work: no form validation, no lock, no count, no token, no mail.
    The caller sends a distinct `courriel` each time (one active registration per address).
    """
    db.session.add(
        Registration(
            workshop_id=workshop_id,
            last_name="Plancher",
            first_name="Banc",
            email=request.form["courriel"],
            school="École du banc d'essai",
            status=RegistrationStatus.confirmed,
            confirmed_at=now(),
        )
    )
    db.session.commit()
    return "", 204


@blueprint.get("/_bench/plafond")
def ceiling():
    """One trivial query (`SELECT 1` through the session) and a two-byte body; 200.

    The least any page reading the database can cost on this stack: what a feed poll (one stamp
    query, then the cached bytes or a 304) is compared with.
    """
    db.session.execute(sa.text("SELECT 1")).scalar_one()
    return Response(b"ok", content_type="text/plain")
