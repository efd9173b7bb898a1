"""Public pages of the exchange half-day: the landing page, the agenda by time and room, its PDF and
calendar feed, registration to attend and its management page."""

from datetime import datetime
from typing import NamedTuple

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from app.calendars.http import ics_response
from app.calendars.services import subscription_links
from app.exchange import attendee_mails, attendees, calendar, published, services
from app.exchange.attendee_forms import MODE_VALUES, AttendeeForm, ModeForm
from app.extensions import limiter
from app.formatting import current_school_year, school_year_label
from app.forms import normalise_email

blueprint = Blueprint("exchange", __name__, template_folder="templates")


def _email_key() -> str:
    return "courriel:" + normalise_email(request.form.get("courriel", ""))[:254]


# --- the landing page and the agenda --------------------------------------------------------------


@blueprint.get("/rencontres")
def current():
    """The half-day of the moment (its year changes: a temporary redirect)."""
    half_day = services.current_half_day()
    year = half_day.school_year if half_day else current_school_year()
    return redirect(url_for(".half_day", year=year))


@blueprint.get("/rencontres/<int:year>")
def half_day(year: int):
    try:
        half_day = services.half_day_of_year(year)
    except services.HalfDayNotFound:
        if not services.FIRST_YEAR <= year <= services.LAST_YEAR:
            raise
        return render_template(
            "exchange/public_none.html",
            year_label=school_year_label(year),
            upcoming=services.upcoming_half_day(),
        )
    return _landing_page(half_day, AttendeeForm())


@blueprint.app_context_processor
def _announcement():
    """`next_half_day()` in every template: the next half-day's title, day and page, for the
    catalogue to announce it (the catalogue sits below this package and cannot ask for it)."""

    def next_half_day() -> Announcement | None:
        upcoming = services.upcoming_half_day()
        if upcoming is None:
            return None
        url = url_for("exchange.half_day", year=upcoming.school_year)
        return Announcement(upcoming.title, upcoming.starts_at, upcoming.site.name, url)

    return {"next_half_day": next_half_day}


class Announcement(NamedTuple):
    title: str
    starts_at: datetime
    town: str
    url: str


def _landing_page(half_day, form: AttendeeForm, *, error: str | None = None, status: int = 200):
    return (
        render_template(
            "exchange/public_half_day.html",
            half_day=half_day,
            agenda=published.published_agenda(half_day),
            plenary_titles=calendar.PLENARY_TITLES,
            call_open=services.call_is_open(half_day),
            proposal_url=f"{calendar.agenda_path(half_day)}/proposer",
            counts=attendees.counts(half_day),
            closed_reason=attendees.closed_reason(half_day),
            feed=subscription_links(calendar.feed_path(half_day), half_day.title),
            year_label=school_year_label(half_day.school_year),
            form=form,
            error=error,
        ),
        status,
    )


@blueprint.get("/rencontres/<int:year>/programme.pdf")
def agenda_pdf(year: int):
    half_day = services.half_day_of_year(year)
    agenda = published.published_agenda(half_day)
    if agenda is None:
        abort(404)
    response = Response(published.agenda_pdf(agenda), mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'inline; filename="{published.pdf_filename(half_day)}"'
    )
    return response


@blueprint.get("/rencontres/<int:year>.ics")
def agenda_feed(year: int):
    return ics_response(published.agenda_feed(services.half_day_of_year(year)))


# --- registering to attend --------------------------------------------------------------------------


@blueprint.post("/rencontres/<int:year>/inscription")
@limiter.limit(lambda: current_app.config["RATELIMIT_REGISTRATION_PER_IP"])
@limiter.limit(lambda: current_app.config["RATELIMIT_REGISTRATION_PER_EMAIL"], key_func=_email_key)
def register(year: int):
    half_day = services.half_day_of_year(year)
    form = AttendeeForm()
    if not form.validate_on_submit():
        return _landing_page(half_day, form, status=422)
    details = attendees.AttendeeDetails(
        last_name=form.nom.data,
        first_name=form.prenom.data,
        email=form.courriel.data,
        organisation=form.organisation.data,
        mode=form.attendance_mode,
    )
    try:
        result = attendees.register(half_day.id, details)
    except attendees.RegistrationClosed as closed:
        return _landing_page(half_day, form, error=str(closed), status=409)
    session["exchange_registration"] = {
        "id": result.row_id,
        "already": result.already_registered,
        "resent": result.link_resent,
    }
    return redirect(url_for(".registered", year=year), code=303)


@blueprint.get("/rencontres/<int:year>/inscription")
def registration_form(year: int):
    """A reloaded or pasted address of the form's target leads back to the form."""
    services.half_day_of_year(year)
    return redirect(url_for(".half_day", year=year, _anchor="inscription"))


@blueprint.get("/rencontres/<int:year>/inscription/merci")
def registered(year: int):
    """What the POST decided, shown once (the management link is only ever in the mail)."""
    last = session.get("exchange_registration")
    attendee = isinstance(last, dict) and attendees.attendee_by_id(last.get("id"))
    if not attendee or attendee.half_day.school_year != year:
        return redirect(url_for(".half_day", year=year))
    return render_template(
        "exchange/public_registered.html",
        attendee=attendee,
        half_day=attendee.half_day,
        already=last.get("already"),
        resent=last.get("resent"),
        link_due_at=attendee_mails.link_due_at(attendee.half_day),
    )


# --- the management page ------------------------------------------------------------------------------


@blueprint.get("/rencontres/<int:year>/inscription/<token>")
def manage(year: int, token: str):
    attendee = attendees.attendee_for_token(token, year)
    return _manage_page(attendee, token)


def _manage_page(attendee, token: str, *, error: str | None = None, status: int = 200):
    half_day = attendee.half_day
    form = ModeForm(formdata=None, data={"mode": MODE_VALUES[attendee.mode]})
    return (
        render_template(
            "exchange/attendee_manage.html",
            attendee=attendee,
            half_day=half_day,
            token=token,
            form=form,
            error=error,
            started=attendees.closed_reason(half_day) is not None,
            counts=attendees.counts(half_day),
            link_shown=attendee_mails.link_is_due(half_day),
            link_due_at=attendee_mails.link_due_at(half_day),
        ),
        status,
    )


@blueprint.get("/rencontres/<int:year>/inscription/<token>/annuler")
def confirm_cancel(year: int, token: str):
    """Following a link never cancels anything (mail scanners do): back to the page and its button."""
    attendees.attendee_for_token(token, year)
    return redirect(url_for(".manage", year=year, token=token, _anchor="annuler"))


@blueprint.post("/rencontres/<int:year>/inscription/<token>/annuler")
def cancel(year: int, token: str):
    try:
        attendees.cancel(token, year)
    except attendees.ChangeRefused as refused:
        return _manage_page(
            attendees.attendee_for_token(token, year), token, error=str(refused), status=409
        )
    flash("Votre inscription est annulée. Un courriel de confirmation vous a été envoyé.")
    return redirect(url_for(".manage", year=year, token=token), code=303)


@blueprint.post("/rencontres/<int:year>/inscription/<token>/mode")
def change_mode(year: int, token: str):
    attendee = attendees.attendee_for_token(token, year)
    form = ModeForm()
    if not form.validate_on_submit():
        return _manage_page(
            attendee, token, error=form.mode.errors[0] if form.mode.errors else None, status=422
        )
    if form.attendance_mode is attendee.mode:
        flash("Vous êtes déjà inscrit·e ainsi : rien n'a changé.")
        return redirect(url_for(".manage", year=year, token=token), code=303)
    try:
        changed = attendees.change_mode(token, year, form.attendance_mode)
    except attendees.ChangeRefused as refused:
        return _manage_page(
            attendees.attendee_for_token(token, year), token, error=str(refused), status=409
        )
    flash(
        f"Votre participation est enregistrée : {changed.mode.title.lower()}. Un courriel vous le confirme."
    )
    return redirect(url_for(".manage", year=year, token=token), code=303)


@blueprint.after_request
def protect_secret_links(response):
    """Pages opened by a secret link are not cached, indexed, or leaked to other sites through
    Referer. `same-origin`, not `no-referrer`: their own forms need the Referer that Flask-WTF
    checks over https (the site's logs mask the token)."""
    if "token" in (request.view_args or {}):
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = "noindex"
        response.headers["Referrer-Policy"] = "same-origin"
    return response
