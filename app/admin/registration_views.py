"""The back office's registrations of a workshop: the roster, a teacher registered by hand, a
registration cancelled, a waiting person given a seat. Seats change through booking's services;
each change and its audit entry are one unit of work (`write_transaction`)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.admin.blueprint import blueprint
from app.admin.forms import AddRegistrationForm
from app.admin.workshop_views import workshop_or_404
from app.attendance.services import roster
from app.booking import coordination
from app.booking import services as booking
from app.database import write_transaction
from app.extensions import db
from app.seats.ledger import Placement
from app.staff import audit
from app.staff.access import coordinator_required


@blueprint.route("/ateliers/<int:workshop_id>/inscriptions", methods=["GET", "POST"])
@coordinator_required
def registrations(workshop_id: int):
    workshop = workshop_or_404(workshop_id)
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
        except booking.WorkshopNotFound:  # a draft: the coordinator is told what to do instead
            error = "Cet atelier n'est pas publié : publiez-le avant d'y inscrire quelqu'un."
        else:
            registration = result.row
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


def _record_added(result: Placement) -> None:
    """The audit entry of a registration added by hand, in its transaction."""
    if result.already_registered:
        return
    registration = result.row
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
    except coordination.ActionRefused:  # raised here only for an unknown registration
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
    except coordination.ActionRefused as refusal:  # told on the roster page, not a page apart
        flash(str(refusal))
    if workshop_id is None:
        registration = booking.registration_by_id(registration_id)
        if registration is None:
            abort(404)
        workshop_id = registration.workshop_id
    return redirect(url_for("admin.registrations", workshop_id=workshop_id))
