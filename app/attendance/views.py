"""The trainer's space at /formateur/: their sessions, and each session's attendance list."""

from flask import Blueprint, Response, render_template
from flask_login import current_user

from app.attendance import services, sheets
from app.staff.access import staff_required, workshop_or_403

blueprint = Blueprint("attendance", __name__, url_prefix="/formateur", template_folder="templates")


@blueprint.get("/")
@staff_required
def sessions():
    upcoming, past = services.session_lines(current_user)
    return render_template("attendance/sessions.html", upcoming=upcoming, past=past)


@blueprint.get("/seances/<int:workshop_id>")
@staff_required
def session(workshop_id: int):
    workshop = workshop_or_403(services.workshop_for_staff(workshop_id))
    return render_template("attendance/session.html", roster=services.roster(workshop))


@blueprint.get("/seances/<int:workshop_id>/emargement")
@staff_required
def sheet(workshop_id: int):
    workshop = workshop_or_403(services.workshop_for_staff(workshop_id))
    return sheets.html(sheets.sheet(workshop), screen=True)


@blueprint.get("/seances/<int:workshop_id>/emargement.pdf")
@staff_required
def sheet_pdf(workshop_id: int):
    workshop = workshop_or_403(services.workshop_for_staff(workshop_id))
    pdf = sheets.pdf(sheets.sheet(workshop))
    return _download(pdf, "application/pdf", sheets.filename(workshop, "emargement", "pdf"))


@blueprint.get("/seances/<int:workshop_id>/participants.csv")
@staff_required
def participants_csv(workshop_id: int):
    workshop = workshop_or_403(services.workshop_for_staff(workshop_id))
    data = sheets.csv_bytes(sheets.sheet(workshop))
    return _download(
        data, "text/csv; charset=utf-8", sheets.filename(workshop, "participants", "csv")
    )


def _download(data: bytes, content_type: str, filename: str) -> Response:
    """A file to save (names and schools: kept out of shared caches)."""
    response = Response(data, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
