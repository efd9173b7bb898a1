"""The back office's places and people: sites, rooms, topics and trainers, listed and edited
with one form page. The checks and the audit entries live in `app.admin.places`."""

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from app.admin import places as places_service
from app.admin.blueprint import blueprint
from app.admin.forms import RoomForm, SiteForm, TopicForm, TrainerForm
from app.catalog.models import Room, Site, Topic, Trainer
from app.database import get_by_id
from app.extensions import db
from app.staff.access import coordinator_required


@blueprint.get("/lieux")
@coordinator_required
def places():
    sites = db.session.scalars(
        sa.select(Site).options(selectinload(Site.rooms)).order_by(Site.name)
    ).all()
    topics = db.session.scalars(sa.select(Topic).order_by(Topic.name)).all()
    trainers = db.session.scalars(
        sa.select(Trainer).order_by(Trainer.last_name, Trainer.first_name)
    ).all()
    return render_template("admin/places.html", sites=sites, topics=topics, trainers=trainers)


@blueprint.route("/sites/nouveau", methods=["GET", "POST"])
@blueprint.route("/sites/<int:row_id>", methods=["GET", "POST"])
@coordinator_required
def site(row_id: int | None = None):
    return _edit_place(
        Site,
        row_id,
        SiteForm,
        "site",
        {
            "slug": "slug",
            "name": "nom",
            "street": "rue",
            "postcode": "code_postal",
            "city": "ville",
            "latitude": "latitude",
            "longitude": "longitude",
            "access_notes": "acces",
        },
    )


@blueprint.route("/sites/<int:site_id>/salles/nouvelle", methods=["GET", "POST"])
@blueprint.route("/salles/<int:row_id>", methods=["GET", "POST"])
@coordinator_required
def room(row_id: int | None = None, site_id: int | None = None):
    parent = None
    if row_id is None:
        parent = get_by_id(Site, site_id)
        if parent is None:
            abort(404)
    return _edit_place(
        Room,
        row_id,
        RoomForm,
        "salle",
        {
            "name": "nom",
            "capacity": "capacite",
            "videoconference": "visio",
            "step_free": "plain_pied",
        },
        extra={"site_id": parent.id} if parent else None,
        parent=parent,
    )


@blueprint.route("/themes/nouveau", methods=["GET", "POST"])
@blueprint.route("/themes/<int:row_id>", methods=["GET", "POST"])
@coordinator_required
def topic(row_id: int | None = None):
    return _edit_place(
        Topic,
        row_id,
        TopicForm,
        "thème",
        {"slug": "slug", "name": "nom", "description": "description"},
    )


@blueprint.route("/formateurs/nouveau", methods=["GET", "POST"])
@blueprint.route("/formateurs/<int:row_id>", methods=["GET", "POST"])
@coordinator_required
def trainer(row_id: int | None = None):
    return _edit_place(
        Trainer,
        row_id,
        TrainerForm,
        "formateur",
        {
            "first_name": "prenom",
            "last_name": "nom",
            "email": "courriel",
        },
    )


def _edit_place(model, row_id, form_class, label, fields: dict, extra=None, parent=None):
    row = None
    if row_id is not None:
        row = get_by_id(model, row_id)
        if row is None:
            abort(404)
    form = form_class()
    if request.method == "GET" and row is not None:
        for attribute, name in fields.items():
            getattr(form, name).data = getattr(row, attribute)
    if row is not None and hasattr(form, "slug"):
        form.slug.render_kw = {"readonly": True}
    error = None
    if form.validate_on_submit():
        values = form.values()
        if row is not None and "slug" in values:
            values["slug"] = row.slug  # chosen once: the form's value is ignored
        try:
            saved = places_service.save(current_user, row or model, {**values, **(extra or {})})
        except places_service.PlaceRefused as refusal:
            error = str(refusal)
        else:
            flash(f"« {getattr(saved, 'full_name', None) or saved.name} » enregistré.")
            return redirect(url_for("admin.places"))
    status = 422 if request.method == "POST" else 200
    new_title = {"salle": "Nouvelle salle"}.get(label, f"Nouveau {label}")
    return render_template(
        "admin/place_form.html",
        form=form,
        row=row,
        label=label,
        error=error,
        parent=parent,
        new_title=new_title,
    ), status
