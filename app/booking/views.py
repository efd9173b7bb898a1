"""Registering from a workshop page, and managing a registration from the link in a mail."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from app.attendance import certificates
from app.attendance.services import session_closed
from app.booking import feeds, services
from app.booking.forms import CorrectionForm, RegistrationForm
from app.booking.models import Source
from app.calendars.http import ics_response
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
    try:
        workshop = services.public_workshop(workshop_id)
    except services.WorkshopNotFound:
        abort(404)
    page = render_template(
        "booking/workshop.html",
        workshop=workshop,
        seats=services.REGISTRATIONS.count(workshop),
        closed_reason=services.closed_reason(workshop),
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
    except services.WorkshopNotFound:
        abort(404)
    except services.RegistrationClosed as closed:
        return render_workshop_page(workshop_id, form, error=str(closed), status=409)
    session["last_registration"] = {
        "id": result.registration_id,
        "already": result.already_registered,
        "resent": result.link_resent,
    }
    return redirect(url_for(".registered", workshop_id=workshop_id), code=303)


@blueprint.get("/ateliers/<int:workshop_id>/inscription")
def registration_form(workshop_id: int):
    """A reloaded or pasted address of the form's target leads back to the form."""
    try:
        services.public_workshop(workshop_id)
    except services.WorkshopNotFound:
        abort(404)
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


def _registration_or_404(token: str):
    try:
        return services.registration_for_token(token)
    except services.RegistrationNotFound:
        abort(404)


@blueprint.get("/inscription/<token>")
def manage(token: str):
    registration = _registration_or_404(token)
    return _manage_page(registration, token)


def _manage_page(
    registration,
    token: str,
    correction: CorrectionForm | None = None,
    status: int = 200,
    *,
    feed_secret: str | None = None,
):
    """The management page. It writes nothing (mail scanners open it): a personal feed link is
    shown only in the answer to the POST that made it (`feed_secret`), never kept anywhere."""
    return render_template(
        "booking/manage.html",
        registration=registration,
        workshop=registration.workshop,
        token=token,
        closed_reason=services.closed_reason(registration.workshop),
        personal_feed=feeds.subscription_links(feed_secret) if feed_secret else None,
        feed_since=None if feed_secret else feeds.live_feed_since(registration),
        feed_name=feeds.FEED_NAME,
        hours=certificates.year_hours(registration),
        correction=correction or _correction_form(registration),
        correction_open=not session_closed(registration.workshop_id),
    ), status


def _correction_form(registration) -> CorrectionForm:
    return CorrectionForm(
        formdata=None,
        data={
            "nom": registration.last_name,
            "prenom": registration.first_name,
            "ecole": registration.school,
            "uai": registration.uai,
        },
    )


@blueprint.post("/inscription/<token>/informations")
@limiter.limit("30 per minute")
def correct(token: str):
    """The owner corrects their name, school or UAI code, until the session is closed."""
    registration = _registration_or_404(token)
    form = CorrectionForm()
    if not form.validate():
        return _manage_page(registration, token, form, 422)
    values = {
        "last_name": form.nom.data,
        "first_name": form.prenom.data,
        "school": form.ecole.data,
        "uai": form.uai.data or None,
    }
    try:
        changed = services.correct(
            token, values, session_closed=session_closed(registration.workshop_id)
        )
    except services.RegistrationNotFound:
        abort(404)
    except services.RegistrationCancelled:
        flash(CANCELLED_CHANGES_NOTHING)
        return redirect(url_for(".manage", token=token), code=303)
    except services.CorrectionClosed:
        flash(
            "La séance est close : la feuille d'émargement et les attestations gardent vos "
            "informations telles qu'elles étaient. Écrivez au CRDP pour toute correction."
        )
        return redirect(url_for(".manage", token=token), code=303)
    flash("Vos informations sont corrigées." if changed else "Rien n'a changé.")
    return redirect(url_for(".manage", token=token) + "#informations", code=303)


CANCELLED_CHANGES_NOTHING = (
    "Cette inscription est annulée : elle ne se modifie plus. Pour revenir, inscrivez-vous de "
    "nouveau depuis la page de l'atelier."
)


@blueprint.post("/inscription/<token>/calendrier/renouveler")
def renew_feed(token: str):
    """A new personal calendar link, shown once in this answer; every previous one stops
    working. (A page, not a redirect: the secret is stored nowhere it could be read again.)"""
    try:
        _, secret = feeds.renew_feed_secret(token)
    except services.RegistrationNotFound:
        abort(404)
    except services.RegistrationCancelled:
        flash(CANCELLED_CHANGES_NOTHING)
        return redirect(url_for(".manage", token=token), code=303)
    return _manage_page(_registration_or_404(token), token, feed_secret=secret)


@blueprint.get("/calendriers/perso/<token>.ics")
def personal_feed(token: str):
    rendered = feeds.personal_feed(token)
    if rendered is None:
        abort(404)
    return ics_response(rendered, private=True)


@blueprint.get("/inscription/<token>/annuler")
def confirm_cancel(token: str):
    """Asks for confirmation; following a link never cancels anything (mail scanners do)."""
    registration = _registration_or_404(token)
    if not registration.is_active:
        return redirect(url_for(".manage", token=token))
    return render_template(
        "booking/confirm_cancel.html",
        registration=registration,
        workshop=registration.workshop,
        token=token,
    )


@blueprint.post("/inscription/<token>/annuler")
def cancel(token: str):
    try:
        services.cancel(token)
    except (services.RegistrationNotFound, services.WorkshopNotFound):
        abort(404)
    flash("Votre inscription est annulée. Un courriel de confirmation vous a été envoyé.")
    return redirect(url_for(".manage", token=token), code=303)


@blueprint.get("/inscription/<token>/donnees")
def export_data(token: str):
    """Everything the service keeps about this registration, for its owner (JSON)."""
    registration = _registration_or_404(token)
    response = jsonify(services.personal_data(registration))
    response.headers["Content-Disposition"] = 'attachment; filename="mes-donnees-inscription.json"'
    return response


@blueprint.after_app_request
def protect_secret_links(response):
    """Pages opened by a secret link are not cached, indexed, or leaked to other sites through
    Referer. `same-origin`, not `no-referrer`: their own forms need the Referer that Flask-WTF
    checks over https (the site's logs mask the token)."""
    if request.path.startswith("/inscription/"):
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = "noindex"
        response.headers["Referrer-Policy"] = "same-origin"
    return response
