"""Coordinators build the agenda, adjust it by hand and publish it as versions."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.exchange.models import HalfDay
from app.exchange.planning import publishing
from app.exchange.planning.build import build_draft
from app.exchange.planning.edits import move_slot, place_contribution, remove_from_draft
from app.exchange.planning.overview import grid, overview, version_of
from app.exchange.planning.refusals import PlanningRefused
from app.exchange.planning_forms import BuildForm, PublishForm, SlotForm
from app.exchange.services import half_day_of_year, local_time, slots_of
from app.staff.access import coordinator_required

blueprint = Blueprint(
    "exchange_planning", __name__, url_prefix="/admin/rencontres", template_folder="templates"
)


@blueprint.get("/<int:year>/agenda")
@coordinator_required
def agenda(year: int):
    return _page(half_day_of_year(year))


@blueprint.post("/<int:year>/agenda/construire")
@coordinator_required
def build(year: int):
    half_day = half_day_of_year(year)
    form = BuildForm()
    if not form.validate_on_submit():
        return _page(half_day, error="Le formulaire a expiré : rechargez la page.", status=422)
    try:
        report = build_draft(half_day, current_user, replace=form.confirmer.data)
    except PlanningRefused as refusal:
        return _page(half_day, error=str(refusal), status=422)
    flash(
        f"Agenda construit : {report.placed} intervention(s) placée(s), "
        f"{report.left_out} laissée(s) de côté."
    )
    return _back(year)


@blueprint.post("/<int:year>/agenda/publier")
@coordinator_required
def publish(year: int):
    half_day = half_day_of_year(year)
    form = PublishForm()
    if not form.validate_on_submit():
        return _page(half_day, error=_first(form), status=422, publish_form=form)
    try:
        version = publishing.publish(half_day, current_user, form.note.data or "")
    except PlanningRefused as refusal:
        return _page(half_day, error=str(refusal), status=422, publish_form=form)
    flash(
        f"Version {version.number} de l'agenda publiée : les intervenant·es concerné·es "
        "reçoivent un courriel avec leur invitation mise à jour."
    )
    return _back(year)


@blueprint.post("/<int:year>/agenda/creneaux/<int:slot_id>")
@coordinator_required
def adjust(year: int, slot_id: int):
    """Move a contribution of the draft (`action=deplacer`, the default) or take it out
    (`action=retirer`)."""
    half_day = half_day_of_year(year)
    action = request.form.get("action", "deplacer")
    try:
        if action == "retirer":
            contribution = remove_from_draft(half_day, slot_id, current_user)
            flash(f"« {contribution.title} » est retirée de l'agenda en préparation.")
            return _back(year)
        if action != "deplacer":
            return _page(half_day, error="Action inconnue.", status=422)
        form = SlotForm().load_choices(half_day)
        if not form.validate_on_submit():
            return _page(half_day, error=form.first_error(), status=422)
        slot = move_slot(half_day, slot_id, form.salle.data, form.debut.data, current_user)
    except PlanningRefused as refusal:
        return _page(half_day, error=str(refusal), status=422)
    flash(f"« {slot.contribution.title} » est déplacée.")
    return _back(year)


@blueprint.post("/<int:year>/agenda/propositions/<int:contribution_id>/placer")
@coordinator_required
def place(year: int, contribution_id: int):
    half_day = half_day_of_year(year)
    form = SlotForm().load_choices(half_day)
    if not form.validate_on_submit():
        return _page(half_day, error=form.first_error(), status=422)
    try:
        slot = place_contribution(
            half_day, contribution_id, form.salle.data, form.debut.data, current_user
        )
    except PlanningRefused as refusal:
        return _page(half_day, error=str(refusal), status=422)
    flash(f"« {slot.contribution.title} » est placée dans l'agenda en préparation.")
    return _back(year)


@blueprint.get("/<int:year>/agenda/versions/<int:number>")
@coordinator_required
def version(year: int, number: int):
    half_day = half_day_of_year(year)
    found = version_of(half_day, number)
    if found is None:
        abort(404)
    slots = slots_of(half_day, found)
    return render_template(
        "exchange/planning_version.html",
        half_day=half_day,
        version=found,
        grid=grid(half_day, slots),
        slots=slots,
    )


# --- helpers -------------------------------------------------------------------------------------


def _back(year: int):
    return redirect(url_for("exchange_planning.agenda", year=year))


def _first(form) -> str:
    return next(iter(form.errors.values()))[0]


def _page(half_day: HalfDay, *, error: str | None = None, status: int = 200, publish_form=None):
    return render_template(
        "exchange/planning_agenda.html",
        half_day=half_day,
        view=overview(half_day),
        error=error,
        publish_form=publish_form or PublishForm(formdata=None),
        hhmm=lambda moment: local_time(moment).strftime("%H:%M"),
    ), status
