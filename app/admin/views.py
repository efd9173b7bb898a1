"""The back office at /admin/ (coordinators only): its home and the audit log. Importing this
module registers every back-office view on the blueprint (the app registers it from here)."""

from flask import render_template, request

from app.admin import (  # noqa: F401  (imported for their routes on the blueprint)
    outbox_views,
    place_views,
    registration_views,
    workshop_views,
)
from app.admin.blueprint import blueprint
from app.database import valid_id
from app.staff import audit
from app.staff.access import coordinator_required


@blueprint.get("/")
@coordinator_required
def home():
    return render_template("admin/home.html")


@blueprint.get("/journal")
@coordinator_required
def audit_log():
    before = request.args.get("avant", type=int)
    entries = audit.entries(before_id=before if valid_id(before) else None, limit=100)
    return render_template("admin/audit_log.html", entries=entries)
