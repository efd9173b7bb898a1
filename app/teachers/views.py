"""A teacher's own pages, opened from the link in every mail: the management page (what they
registered for, their hours of the school year and certificate, their personal calendar), the
correction of their name or school until the session is closed, cancellation, and their data.

These pages bring together what booking, attendance and calendars know about one registration,
which is why they sit above all three rather than in booking."""

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for

from app.attendance import certificates
from app.attendance.services import session_closed
from app.booking import feeds, services
from app.booking.forms import CorrectionForm
from app.booking.models import RegistrationStatus
from app.calendars.http import ics_response
from app.extensions import limiter

blueprint = Blueprint("teachers", __name__, template_folder="templates")


@blueprint.get("/inscription/<token>")
def manage(token: str):
    registration = services.registration_for_token(token)
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
        "teachers/manage.html",
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
    registration = services.registration_for_token(token)
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
    except services.RegistrationCancelled:
        flash(CANCELLED_CHANGES_NOTHING)
        return redirect(url_for(".manage", token=token), code=303)
    return _manage_page(services.registration_for_token(token), token, feed_secret=secret)


@blueprint.get("/calendriers/perso/<token>.ics")
def personal_feed(token: str):
    rendered = feeds.personal_feed(token)
    if rendered is None:
        abort(404)
    return ics_response(rendered, private=True)


@blueprint.get("/inscription/<token>/annuler")
def confirm_cancel(token: str):
    """Asks for confirmation; following a link never cancels anything (mail scanners do)."""
    registration = services.registration_for_token(token)
    if not registration.is_active:
        return redirect(url_for(".manage", token=token))
    return render_template(
        "teachers/confirm_cancel.html",
        registration=registration,
        workshop=registration.workshop,
        token=token,
    )


@blueprint.post("/inscription/<token>/annuler")
def cancel(token: str):
    was_waiting = services.registration_for_token(token).status is RegistrationStatus.waiting
    services.cancel(token)
    flash(
        "Vous avez quitté la liste d'attente. Un courriel de confirmation vous a été envoyé."
        if was_waiting
        else "Votre inscription est annulée. Un courriel de confirmation vous a été envoyé."
    )
    return redirect(url_for(".manage", token=token), code=303)


@blueprint.get("/inscription/<token>/donnees")
def export_data(token: str):
    """Everything the service keeps about this registration, for its owner (JSON)."""
    registration = services.registration_for_token(token)
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
