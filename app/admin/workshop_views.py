"""The back office's workshops: the list, creating (or copying), editing, publishing and
cancelling. The rules and the audit entries live in `app.admin.catalogue`."""

from datetime import date

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.admin import catalogue
from app.admin.blueprint import blueprint
from app.admin.forms import CancelForm, WorkshopForm
from app.admin.workshop_review import WorkshopDraft, review, that_day
from app.booking import services as booking
from app.booking.changes import ChangeRefused
from app.catalog.models import Level, Room, Topic, Trainer, Workshop, WorkshopStatus
from app.clock import now
from app.database import get_by_id
from app.extensions import db
from app.formatting import to_paris
from app.staff.access import coordinator_required


@blueprint.get("/ateliers")
@coordinator_required
def workshops():
    show_past = request.args.get("passes") == "1"
    query = sa.select(Workshop).options(
        joinedload(Workshop.room).joinedload(Room.site), joinedload(Workshop.trainer)
    )
    if show_past:
        query = query.where(Workshop.ends_at < now()).order_by(Workshop.starts_at.desc()).limit(200)
    else:
        query = query.where(Workshop.ends_at >= now()).order_by(Workshop.starts_at)
    items = db.session.scalars(query).all()
    return render_template(
        "admin/workshops.html",
        workshops=items,
        seats=booking.REGISTRATIONS.counts(items),
        cancellable=catalogue.cancellable(items),
        show_past=show_past,
    )


@blueprint.get("/ateliers/<int:workshop_id>")
@coordinator_required
def workshop(workshop_id: int):
    """One workshop as the back office sees it: its facts, its state and what can be done."""
    shown = workshop_or_404(workshop_id)
    return render_template(
        "admin/workshop.html",
        workshop=shown,
        seats=booking.REGISTRATIONS.count(shown),
        that_day=that_day(to_paris(shown.starts_at).date(), shown.room, shown.trainer, shown.id),
    )


@blueprint.get("/ateliers/ce-jour-la")
@coordinator_required
def that_day_panel():
    """The "Ce jour-là" panel alone, for forms.js to refresh it as the form changes."""
    args = request.args
    try:
        day = date.fromisoformat(args.get("jour", ""))
    except ValueError:
        day = None
    return render_template(
        "admin/_that_day.html",
        that_day=that_day(
            day,
            get_by_id(Room, args.get("salle", type=int)),
            get_by_id(Trainer, args.get("formateur", type=int)),
            args.get("atelier", type=int),
        ),
    )


@blueprint.route("/ateliers/nouveau", methods=["GET", "POST"])
@coordinator_required
def new_workshop():
    form = WorkshopForm()
    form.load_choices()
    copy_of = (
        workshop_or_404(request.args.get("copie", type=int)) if request.args.get("copie") else None
    )
    if request.method == "GET" and copy_of is not None:
        _fill(form, catalogue.duplicate(copy_of))
    return _save(form, None, copy_of=copy_of)


@blueprint.route("/ateliers/<int:workshop_id>/modifier", methods=["GET", "POST"])
@coordinator_required
def edit_workshop(workshop_id: int):
    workshop = workshop_or_404(workshop_id)
    form = WorkshopForm()
    form.load_choices()
    if request.method == "GET":
        local_start, local_end = to_paris(workshop.starts_at), to_paris(workshop.ends_at)
        _fill(form, catalogue.duplicate(workshop))
        form.jour.data, form.debut.data, form.fin.data = (
            local_start.date(),
            local_start.time(),
            local_end.time(),
        )
        if workshop.registration_deadline:
            form.date_limite.data = to_paris(workshop.registration_deadline).replace(tzinfo=None)
    return _save(form, workshop)


@blueprint.post("/ateliers/<int:workshop_id>/publier")
@coordinator_required
def publish_workshop(workshop_id: int):
    workshop = workshop_or_404(workshop_id)
    if catalogue.publish(current_user, workshop):
        flash(
            f"« {workshop.title} » est publié : il apparaît dans le catalogue et ses calendriers."
        )
    else:
        flash("Cet atelier n'était pas un brouillon : rien n'a changé.")
    if request.form.get("retour") == "atelier":
        return redirect(url_for("admin.workshop", workshop_id=workshop.id))
    return redirect(url_for("admin.workshops"))


@blueprint.route("/ateliers/<int:workshop_id>/annuler", methods=["GET", "POST"])
@coordinator_required
def cancel_workshop(workshop_id: int):
    workshop = workshop_or_404(workshop_id)
    form = CancelForm()
    error = None
    if form.validate_on_submit():
        try:
            outcome = catalogue.cancel(current_user, workshop, form.motif.data)
        except ChangeRefused as refusal:  # shown above the form, which keeps the reason typed
            error = str(refusal)
        else:
            flash(
                f"« {workshop.title} » est annulé. {outcome.confirmed} inscrit·es et "
                f"{outcome.waiting} personnes en attente vont recevoir un courriel."
                if outcome.changed or workshop.status is WorkshopStatus.cancelled
                else "Rien n'a changé."
            )
            return redirect(url_for("admin.workshops"))
    counts = booking.REGISTRATIONS.count(workshop)
    refusal = catalogue.cancel_refusal(workshop)
    status = 422 if request.method == "POST" else 200
    return render_template(
        "admin/cancel.html",
        workshop=workshop,
        form=form,
        error=error,
        refusal=refusal,
        counts=counts,
    ), status


def workshop_or_404(workshop_id: int | None) -> Workshop:
    workshop = get_by_id(Workshop, workshop_id)
    if workshop is None:
        abort(404)
    return workshop


def _fill(form: WorkshopForm, values: dict) -> None:
    form.titre.data = values["title"]
    form.description.data = values["description"]
    form.theme.data = values["topic"].id
    form.niveau.data = values["level"].value
    form.salle.data = values["room"].id
    form.formateur.data = values["trainer"].id
    form.capacite.data = values["capacity"]
    form.a_apporter.data = values["what_to_bring"]


def _draft(form: WorkshopForm) -> WorkshopDraft:
    return WorkshopDraft(
        title=form.titre.data,
        description=form.description.data or "",
        topic=db.session.get(Topic, form.theme.data),
        level=Level(form.niveau.data),
        room=db.session.get(Room, form.salle.data),
        trainer=db.session.get(Trainer, form.formateur.data),
        day=form.jour.data,
        start=form.debut.data,
        end=form.fin.data,
        capacity=form.capacite.data,
        what_to_bring=form.a_apporter.data or "",
        deadline=None if form.date_limite.errors else form.date_limite.data,
    )


#: The fields the checks read: when they are valid, the checks run even if another field (the
#: title…) is refused, so that every problem shows at once.
CHECKED_FIELDS = ("salle", "formateur", "jour", "debut", "fin", "capacite")


def _checkable(form: WorkshopForm) -> bool:
    return all(form[name].data is not None and not form[name].errors for name in CHECKED_FIELDS)


def _that_day(form: WorkshopForm, workshop: Workshop | None):
    """The "Ce jour-là" panel's content: the room's and the trainer's workshops that day."""
    valid = not (form.jour.errors or form.salle.errors or form.formateur.errors)
    return that_day(
        form.jour.data if valid else None,
        get_by_id(Room, form.salle.data) if valid else None,
        get_by_id(Trainer, form.formateur.data) if valid else None,
        workshop.id if workshop else None,
    )


def _save(form: WorkshopForm, workshop: Workshop | None, copy_of: Workshop | None = None):
    """The form again with every problem (and the warnings to confirm) above it, or, once
    saved, on to the workshop's page."""
    errors, warnings = [], []
    if form.validate_on_submit():
        try:
            saved = catalogue.save_workshop(
                current_user, _draft(form), workshop=workshop, confirmed=form.confirmer.data
            )
        except catalogue.CatalogueRefused as refusal:
            errors, warnings = refusal.reasons, refusal.warnings
        else:
            if saved.to_confirm:
                warnings = [p.message for p in saved.to_confirm]
            else:
                done = (
                    "Atelier enregistré."
                    if workshop
                    else "Atelier créé en brouillon : publiez-le pour ouvrir les inscriptions."
                )
                flash(" ".join([done, *saved.notes]))
                return redirect(url_for("admin.workshop", workshop_id=saved.workshop.id))
    elif request.method == "POST" and _checkable(form):
        found = review(_draft(form), workshop.id if workshop else None)
        errors, warnings = found.blocking, [p.message for p in found.warnings]
    status = 422 if request.method == "POST" else 200
    return render_template(
        "admin/workshop_form.html",
        form=form,
        workshop=workshop,
        copy_of=copy_of,
        errors=errors,
        warnings=warnings,
        that_day=_that_day(form, workshop),
    ), status
