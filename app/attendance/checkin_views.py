"""Check-in on a tablet at /formateur/seances/<id>/pointage: taps, people added on the spot,
closing the session.

Every tap is a form button, so the page works without JavaScript (a POST, then back to the page);
static/checkin.js sends the same POST with fetch() and gets JSON back.
"""

from dataclasses import asdict

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from app.attendance import checkin, followup, services
from app.attendance.forms import MarkForm, WalkInForm
from app.staff.access import staff_required, workshop_or_403

blueprint = Blueprint("checkin", __name__, url_prefix="/formateur", template_folder="templates")

#: HTTP status of each refusal; anything else refused is 422 (the request is understood, not done).
_STATUS = {
    checkin.SessionClosed: 409,
    checkin.NotNow: 409,
    checkin.NotOnThisSession: 404,
}


@blueprint.get("/seances/<int:workshop_id>/pointage")
@staff_required
def page(workshop_id: int):
    return _page(_session(workshop_id), WalkInForm())


@blueprint.post("/seances/<int:workshop_id>/pointage/<int:registration_id>")
@staff_required
def mark(workshop_id: int, registration_id: int):
    workshop = _session(workshop_id)
    form = MarkForm()
    try:
        if not form.validate():
            raise checkin.InvalidTap(form.first_error())
        result = checkin.mark(
            workshop, registration_id, form.presence.data, form.tape.data, by=current_user
        )
    except checkin.CheckInRefused as refusal:
        return _refused(workshop, refusal)
    if _wants_json():
        roster = services.roster(workshop)
        return jsonify(
            registration_id=result.registration_id,
            presence=result.presence.value if result.presence else None,
            tape=result.tapped_at_ms,
            applied=result.applied,
            counts=asdict(services.counts(roster)),
            message="Enregistré",
        )
    if not result.applied:
        flash(
            "Ce pointage venait d'une page plus ancienne que le dernier enregistré : "
            "il n'a rien changé. Voici l'état actuel."
        )
    return redirect(
        url_for(".page", workshop_id=workshop_id, _anchor=f"inscrit-{registration_id}"), code=303
    )


@blueprint.post("/seances/<int:workshop_id>/sur-place")
@staff_required
def walk_in(workshop_id: int):
    workshop = _session(workshop_id)
    form = WalkInForm()
    if not form.validate_on_submit():
        return _page(workshop, form, status=422)
    try:
        result = checkin.add_walk_in(
            workshop,
            last_name=form.nom.data,
            first_name=form.prenom.data,
            email=form.courriel.data,
            school=form.ecole.data,
            uai=form.uai.data or None,
            by=current_user,
        )
    except checkin.CheckInRefused as refusal:
        return _page(workshop, form, error=str(refusal), status=_status(refusal))
    flash(result.message)
    return redirect(
        url_for(".page", workshop_id=workshop_id, _anchor=f"inscrit-{result.registration_id}"),
        code=303,
    )


@blueprint.get("/seances/<int:workshop_id>/clore")
@staff_required
def confirm_close(workshop_id: int):
    """The confirmation step: who will be marked absent, before the POST that closes."""
    workshop = _session(workshop_id)
    roster = services.roster(workshop)
    if roster.closed:
        return redirect(url_for(".page", workshop_id=workshop_id), code=303)
    return render_template(
        "attendance/checkin_close.html",
        roster=roster,
        counts=services.counts(roster),
        unmarked=[r for r in roster.expected if roster.presence(r) is None],
        is_open=checkin.is_open(workshop),
        opens_at=checkin.opens_at(workshop),
        certificates_leave=followup.certificates_leave(workshop),
    )


@blueprint.post("/seances/<int:workshop_id>/clore")
@staff_required
def close(workshop_id: int):
    workshop = _session(workshop_id)
    try:
        closing = checkin.close(workshop, by=current_user)
    except checkin.CheckInRefused as refusal:
        return _page(
            workshop, WalkInForm(formdata=None), error=str(refusal), status=_status(refusal)
        )
    if closing.already_closed:
        flash("La séance était déjà close : rien n'a changé.")
    else:
        absent = closing.marked_absent
        flash(
            "Séance close : la présence est figée."
            + (f" Personnes non pointées, marquées absentes : {absent}." if absent else "")
        )
    return redirect(url_for(".page", workshop_id=workshop_id), code=303)


# --- helpers -----------------------------------------------------------------------------------


def _session(workshop_id: int):
    return workshop_or_403(services.workshop_for_staff(workshop_id))


def _page(workshop, form: WalkInForm, *, error: str | None = None, status: int = 200):
    roster = services.roster(workshop)
    return (
        render_template(
            "attendance/checkin.html",
            roster=roster,
            counts=services.counts(roster),
            form=form,
            error=error,
            tape=checkin.now_ms(),
            is_open=checkin.is_open(workshop),
            opens_at=checkin.opens_at(workshop),
            certificates_leave=followup.certificates_leave(workshop),
        ),
        status,
    )


def _status(refusal: checkin.CheckInRefused) -> int:
    return next((code for kind, code in _STATUS.items() if isinstance(refusal, kind)), 422)


def _refused(workshop, refusal: checkin.CheckInRefused):
    if _wants_json():
        return jsonify(error=str(refusal)), _status(refusal)
    return _page(workshop, WalkInForm(formdata=None), error=str(refusal), status=_status(refusal))


def _wants_json() -> bool:
    """fetch() from checkin.js asks for JSON; a form button (no JavaScript) for a page."""
    accept = request.accept_mimetypes
    return accept.best_match(["text/html", "application/json"]) == "application/json"
