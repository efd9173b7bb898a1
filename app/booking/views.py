"""Registering from a workshop page: the page with its form, the POST, and the thank-you page.
What a teacher does afterwards from the link in their mail is `app.teachers`."""

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from app.booking import services
from app.booking.forms import RegistrationForm
from app.booking.models import Source
from app.extensions import limiter
from app.forms import normalise_email

blueprint = Blueprint("booking", __name__, template_folder="templates")


def _email_key() -> str:
    return "courriel:" + normalise_email(request.form.get("courriel", ""))[:254]


@blueprint.before_app_request
def remember_source():
    """`?source=liste|affiche|ent` on any page rides along into the registration."""
    source = Source.from_value(request.args.get("source"))
    if source is not None:
        session["source"] = source.value


@blueprint.get("/ateliers/<int:workshop_id>")
def workshop(workshop_id: int):
    return render_workshop_page(workshop_id, RegistrationForm())


def render_workshop_page(workshop_id: int, form, *, error: str | None = None, status: int = 200):
    """The workshop page with its registration form (again with its errors after a POST)."""
    workshop = services.public_workshop(workshop_id)
    page = render_template(
        "booking/workshop.html",
        workshop=workshop,
        seats=services.REGISTRATIONS.count(workshop),
        closed_reason=services.closed_reason(workshop),
        started=services.has_started(workshop),
        form=form,
        error=error,
    )
    return page, status


@blueprint.post("/ateliers/<int:workshop_id>/inscription")
@limiter.limit(lambda: current_app.config["RATELIMIT_REGISTRATION_PER_IP"])
@limiter.limit(lambda: current_app.config["RATELIMIT_REGISTRATION_PER_EMAIL"], key_func=_email_key)
def register(workshop_id: int):
    form = RegistrationForm()
    if not form.validate_on_submit():
        return render_workshop_page(workshop_id, form, status=422)
    applicant = services.Applicant(
        last_name=form.nom.data,
        first_name=form.prenom.data,
        email=form.courriel.data,
        school=form.ecole.data,
        uai=form.uai.data or None,
        source=Source.from_value(session.get("source")),
    )
    try:
        result = services.register(workshop_id, applicant)
    except services.RegistrationClosed as closed:
        return render_workshop_page(workshop_id, form, error=str(closed), status=409)
    session["last_registration"] = {
        "id": result.row_id,
        "already": result.already_registered,
        "resent": result.link_resent,
    }
    return redirect(url_for(".registered", workshop_id=workshop_id), code=303)


@blueprint.get("/ateliers/<int:workshop_id>/inscription")
def registration_form(workshop_id: int):
    """A reloaded or pasted address of the form's target leads back to the form."""
    services.public_workshop(workshop_id)
    return redirect(url_for("booking.workshop", workshop_id=workshop_id, _anchor="inscription"))


@blueprint.get("/ateliers/<int:workshop_id>/inscription/merci")
def registered(workshop_id: int):
    """What the POST decided, shown once (the management link is only ever in the mail)."""
    last = session.get("last_registration")
    registration = last and services.registration_by_id(last["id"])
    if registration is None or registration.workshop_id != workshop_id:
        return redirect(url_for("booking.workshop", workshop_id=workshop_id))
    return render_template(
        "booking/registered.html",
        registration=registration,
        workshop=registration.workshop,
        already=last["already"],
        resent=last["resent"],
    )
