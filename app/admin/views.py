"""The back office at /admin/ (coordinators only): workshops, their registrations, the audit log."""

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload

from app.admin import catalogue, outbox
from app.admin import places as places_service
from app.admin.forms import (
    AddRegistrationForm,
    CancelForm,
    RoomForm,
    SiteForm,
    TopicForm,
    TrainerForm,
    WorkshopForm,
)
from app.attendance.services import roster
from app.booking import coordination
from app.booking import services as booking
from app.booking.changes import ChangeRefused
from app.catalog.models import Level, Room, Site, Topic, Trainer, Workshop, WorkshopStatus
from app.clock import now
from app.database import get_by_id, valid_id, write_transaction
from app.extensions import db
from app.formatting import to_paris
from app.mail.models import MailStatus, OutboxMail
from app.staff import audit
from app.staff.access import coordinator_required

blueprint = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")


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


# --- workshops ---------------------------------------------------------------------------------


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
        show_past=show_past,
    )


@blueprint.route("/ateliers/nouveau", methods=["GET", "POST"])
@coordinator_required
def new_workshop():
    form = WorkshopForm()
    form.load_choices()
    copy_of = _workshop(request.args.get("copie", type=int)) if request.args.get("copie") else None
    if request.method == "GET" and copy_of is not None:
        _fill(form, catalogue.duplicate(copy_of))
    return _save(form, None, copy_of=copy_of)


@blueprint.route("/ateliers/<int:workshop_id>/modifier", methods=["GET", "POST"])
@coordinator_required
def edit_workshop(workshop_id: int):
    workshop = _workshop(workshop_id)
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
    workshop = _workshop(workshop_id)
    if catalogue.publish(current_user, workshop):
        flash(
            f"« {workshop.title} » est publié : il apparaît dans le catalogue et ses calendriers."
        )
    else:
        flash("Cet atelier n'était pas un brouillon : rien n'a changé.")
    return redirect(url_for("admin.workshops"))


@blueprint.route("/ateliers/<int:workshop_id>/annuler", methods=["GET", "POST"])
@coordinator_required
def cancel_workshop(workshop_id: int):
    workshop = _workshop(workshop_id)
    form = CancelForm()
    error = None
    if form.validate_on_submit():
        try:
            outcome = catalogue.cancel(current_user, workshop, form.motif.data)
        except ChangeRefused as refusal:
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
    status = 422 if request.method == "POST" else 200
    return render_template(
        "admin/cancel.html", workshop=workshop, form=form, error=error, counts=counts
    ), status


# --- registrations -----------------------------------------------------------------------------


@blueprint.route("/ateliers/<int:workshop_id>/inscriptions", methods=["GET", "POST"])
@coordinator_required
def registrations(workshop_id: int):
    workshop = _workshop(workshop_id)
    form = AddRegistrationForm()
    error = None
    if form.validate_on_submit():
        applicant = booking.Applicant(
            last_name=form.nom.data,
            first_name=form.prenom.data,
            email=form.courriel.data,
            school=form.ecole.data,
            uai=form.uai.data or None,
        )

        try:
            with write_transaction():
                result = booking.register(workshop.id, applicant)
                _record_added(result)
        except booking.RegistrationClosed as closed:
            error = str(closed)
        except booking.WorkshopNotFound:
            error = "Cet atelier n'est pas publié : publiez-le avant d'y inscrire quelqu'un."
        else:
            registration = result.registration
            if result.already_registered:
                flash(
                    f"{applicant.first_name} {applicant.last_name} était déjà inscrit·e : rien n'a changé."
                )
            else:
                flash(
                    f"{registration.full_name} : {registration.status.title.lower()}. Un courriel lui est envoyé."
                )
            return redirect(url_for("admin.registrations", workshop_id=workshop.id))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "admin/registrations.html",
        roster=roster(workshop),
        form=form,
        error=error,
        counts=booking.REGISTRATIONS.count(workshop),
    ), status


def _record_added(result: booking.RegistrationResult) -> None:
    """The audit entry of a registration added by hand, in its transaction."""
    if result.already_registered:
        return
    registration = result.registration
    db.session.flush()
    audit.record(
        current_user,
        "registration.add",
        "registration",
        registration.id,
        f"Inscription ajoutée à la main : {registration.full_name} "
        f"({registration.status.title.lower()}) à « {registration.workshop.title} »",
    )


@blueprint.post("/inscriptions/<int:registration_id>/annuler")
@coordinator_required
def cancel_registration(registration_id: int):
    try:
        with write_transaction():
            result = coordination.cancel_registration(registration_id)
            if result.changed:
                r = result.registration
                promoted = f" ; {result.promoted[0].full_name} promu·e" if result.promoted else ""
                audit.record(
                    current_user,
                    "registration.cancel",
                    "registration",
                    r.id,
                    f"Inscription annulée : {r.full_name} à « {result.workshop.title} »{promoted}",
                )
    except (coordination.ActionRefused, booking.WorkshopNotFound):
        abort(404)
    flash(
        f"Inscription de {result.registration.full_name} annulée."
        if result.changed
        else "Cette inscription était déjà annulée : rien n'a changé."
    )
    return redirect(url_for("admin.registrations", workshop_id=result.workshop.id))


@blueprint.post("/inscriptions/<int:registration_id>/admettre")
@coordinator_required
def admit(registration_id: int):
    workshop_id = None
    try:
        with write_transaction():
            result = coordination.admit(registration_id)
            r = result.registration
            audit.record(
                current_user,
                "registration.admit",
                "registration",
                r.id,
                f"{r.full_name} passe de la liste d'attente à une place confirmée à "
                f"« {result.workshop.title} »",
            )
        workshop_id = result.workshop.id
        flash(
            f"{result.registration.full_name} a maintenant une place. Un courriel lui est envoyé."
        )
    except coordination.ActionRefused as refusal:
        flash(str(refusal))
    except booking.WorkshopNotFound:
        abort(404)
    if workshop_id is None:
        registration = booking.registration_by_id(registration_id)
        if registration is None:
            abort(404)
        workshop_id = registration.workshop_id
    return redirect(url_for("admin.registrations", workshop_id=workshop_id))


# --- helpers -----------------------------------------------------------------------------------


def _workshop(workshop_id: int | None) -> Workshop:
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


def _save(form: WorkshopForm, workshop: Workshop | None, copy_of: Workshop | None = None):
    errors, warnings = [], []
    if form.validate_on_submit():
        draft = catalogue.WorkshopDraft(
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
            deadline=form.date_limite.data,
        )
        try:
            saved = catalogue.save_workshop(
                current_user, draft, workshop=workshop, confirmed=form.confirmer.data
            )
        except catalogue.CatalogueRefused as refusal:
            errors = refusal.reasons
        else:
            if saved.to_confirm:
                warnings = [p.message for p in saved.to_confirm]
            else:
                flash(
                    " ".join(
                        [
                            "Atelier enregistré."
                            if workshop
                            else "Atelier créé en brouillon : publiez-le pour ouvrir les inscriptions.",
                            *saved.notes,
                        ]
                    )
                )
                return redirect(url_for("admin.workshops"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "admin/workshop_form.html",
        form=form,
        workshop=workshop,
        copy_of=copy_of,
        errors=errors,
        warnings=warnings,
    ), status


# --- sites, rooms, topics, trainers ------------------------------------------------------------


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


# --- the outbox --------------------------------------------------------------------------------


@blueprint.get("/courriels")
@coordinator_required
def outbox_list():
    status = MailStatus.from_value(request.args.get("etat"))
    before = request.args.get("avant", type=int)
    query = (request.args.get("q") or "")[:254]
    page = outbox.listing(status, before if valid_id(before) else None, query)
    return render_template(
        "admin/outbox.html", page=page, status=status, query=query, statuses=list(MailStatus)
    )


@blueprint.get("/courriels/<int:mail_id>")
@coordinator_required
def outbox_mail(mail_id: int):
    mail = get_by_id(OutboxMail, mail_id)
    if mail is None:
        abort(404)
    return render_template("admin/outbox_mail.html", reading=outbox.read(mail))


@blueprint.get("/courriels/<int:mail_id>.eml")
@coordinator_required
def outbox_eml(mail_id: int):
    mail = get_by_id(OutboxMail, mail_id)
    reading = outbox.read(mail) if mail is not None else None
    if reading is None or reading.raw is None:
        abort(404)
    return Response(
        reading.raw,
        mimetype="message/rfc822",
        headers={
            "Content-Disposition": f'attachment; filename="courriel-{mail.id}.eml"',
            "Cache-Control": "private, no-store",
        },
    )


@blueprint.post("/courriels/<int:mail_id>/renvoyer")
@coordinator_required
def outbox_retry(mail_id: int):
    if get_by_id(OutboxMail, mail_id) is None:
        abort(404)
    try:
        mail = outbox.retry(current_user, mail_id)
    except outbox.RetryRefused as refusal:
        flash(str(refusal))
    else:
        flash(f"Le courriel à {mail.recipient} repart avec le prochain envoi.")
    return redirect(url_for("admin.outbox_mail", mail_id=mail_id))
