"""The programme for the mailing lists, at /admin/programme/ (coordinators only): the form, the
preview, the sending, and the posters. The rules live in `app.admin.programme_request` (what is
asked), `programme_mail` and `programme_poster`; CSRF is checked on every POST by the app-wide
CSRFProtect."""

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.admin import programme_mail
from app.admin.programme_poster import poster_filename, poster_pdf
from app.admin.programme_request import (
    ProgrammeRefused,
    ProgrammeRequest,
    default_period,
    default_subject,
    read_programme_period,
    read_request,
)
from app.catalog.services import sites as all_sites
from app.security import CONTENT_SECURITY_POLICY_MAIL_PREVIEW
from app.staff.access import coordinator_required

blueprint = Blueprint(
    "programme", __name__, url_prefix="/admin/programme", template_folder="templates"
)


def _values(source) -> dict:
    """The form's fields as typed (shown back as they were when something is refused)."""
    return {
        "du": source.get("du", "").strip(),
        "au": source.get("au", "").strip(),
        "sites": source.getlist("sites"),
        "objet": source.get("objet", ""),
        "introduction": source.get("introduction", ""),
    }


def _read(values: dict) -> ProgrammeRequest:
    return read_request(
        values["du"], values["au"], values["sites"], values["objet"], values["introduction"]
    )


def _form(values: dict, errors: list[str] | tuple = (), status: int = 200):
    return render_template(
        "admin/programme_form.html", values=values, errors=list(errors), sites=all_sites()
    ), status


@blueprint.route("/", methods=["GET", "POST"])
@coordinator_required
def form():
    """GET: a fresh form; POST (the preview's "Modifier" button): the fields sent back."""
    if request.method == "POST":
        return _form(_values(request.form))
    period = default_period()
    return _form(
        {
            "du": period.first_day.isoformat(),
            "au": period.last_day.isoformat(),
            "sites": [site.slug for site in all_sites()],
            "objet": default_subject(period),
            "introduction": "",
        }
    )


@blueprint.post("/apercu")
@coordinator_required
def preview():
    values = _values(request.form)
    try:
        asked = _read(values)
        shown = programme_mail.preview(asked.period, asked.sites, asked.subject, asked.intro)
    except ProgrammeRefused as refusal:  # every problem of the form, or the one refusal
        return _form(values, refusal.reasons, 400)
    try:
        recipients, recipients_error = programme_mail.list_addresses(), None
    except ProgrammeRefused as error:
        recipients, recipients_error = [], str(error)
    values["objet"] = asked.subject
    page = render_template(
        "admin/programme_preview.html",
        values=values,
        asked=asked,
        shown=shown,
        recipients=recipients,
        recipients_error=recipients_error,
    )
    return page, {"Content-Security-Policy": CONTENT_SECURITY_POLICY_MAIL_PREVIEW}


@blueprint.post("/envoyer")
@coordinator_required
def send():
    values = _values(request.form)
    try:
        asked = _read(values)
        mails = programme_mail.send_programme(
            current_user, asked.period, asked.sites, asked.subject, asked.intro
        )
    except ProgrammeRefused as refusal:  # every problem of the form, or the one refusal
        return _form(values, refusal.reasons, 400)
    count = len(mails)
    flash(f"Programme mis dans la boîte d'envoi pour {count} liste{'s' if count > 1 else ''}.")
    return redirect(url_for("programme.form"))


@blueprint.get("/affiche")
@coordinator_required
def poster_choice():
    """The form's poster chooser (a GET form cannot put the site in the path): on to the PDF."""
    slug = request.args.get("site", "")
    if slug not in {site.slug for site in all_sites()}:
        values = {**_values(request.args), "sites": []}
        return _form(values, ["Choisissez le site de l'affiche."], 400)
    return redirect(
        url_for(
            "programme.poster",
            slug=slug,
            du=request.args.get("du", ""),
            au=request.args.get("au", ""),
        )
    )


@blueprint.get("/affiche/<slug>.pdf")
@coordinator_required
def poster(slug: str):
    site = next((site for site in all_sites() if site.slug == slug), None)
    if site is None:
        abort(404)
    values = {**_values(request.args), "sites": [slug]}
    try:
        period = read_programme_period(values["du"], values["au"])
        pdf = poster_pdf(site, period)
    except ProgrammeRefused as refusal:
        return _form(values, refusal.reasons, 400)
    response = Response(pdf, content_type="application/pdf")
    filename = poster_filename(site, period)
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
