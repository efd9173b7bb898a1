"""The call for contributions: the public proposal form and the presenter's management page.

Following a management link only shows a page (mail scanners open links): editing and
withdrawing are POSTs from that page.
"""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from app.exchange.forms import ProposalEditForm, ProposalForm
from app.exchange.models import ContributionStatus, HalfDay, HalfDayState
from app.exchange.proposals import access, presenter, rules
from app.exchange.proposals.data import CallClosed, ProposalNotFound, ProposalRefused
from app.exchange.services import call_is_open, half_day_of_year, latest_version
from app.extensions import limiter
from app.forms import normalise_email

blueprint = Blueprint("exchange_proposals", __name__, template_folder="templates")


def _email_key() -> str:
    return "proposition:" + normalise_email(request.form.get("courriel", ""))[:254]


def _closed(half_day: HalfDay, status: int = 200):
    return render_template(
        "exchange/proposal_closed.html",
        half_day=half_day,
        reason=rules.closed_reason(half_day),
        agenda_url=_agenda_url(half_day),
    ), status


@blueprint.route("/rencontres/<int:year>/proposer", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_REGISTRATION_PER_IP"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["RATELIMIT_REGISTRATION_PER_EMAIL"],
    key_func=_email_key,
    methods=["POST"],
)
def propose(year: int):
    half_day = half_day_of_year(year)
    posted = request.method == "POST"
    if not call_is_open(half_day):
        return _closed(half_day, 409 if posted else 200)
    form = ProposalForm()
    form.load_choices(half_day)
    error = None
    if form.validate_on_submit():
        try:
            contribution, _secret = presenter.submit(half_day, form.proposal())
        except CallClosed:
            return _closed(half_day, 409)
        except ProposalRefused as refusal:
            error = form.refuse(refusal)
        else:
            session["last_proposal"] = contribution.id
            return redirect(url_for(".received", year=year), code=303)
    return render_template(
        "exchange/proposal_form.html", half_day=half_day, form=form, error=error
    ), 422 if posted else 200


@blueprint.get("/rencontres/<int:year>/proposer/merci")
def received(year: int):
    """What the POST recorded, shown once per browser (the management link is only in the mail)."""
    contribution = access.contribution_by_id(session.get("last_proposal"))
    if contribution is None or contribution.half_day.school_year != year:
        return redirect(url_for(".propose", year=year))
    return render_template(
        "exchange/proposal_received.html", contribution=contribution, half_day=contribution.half_day
    )


def _contribution_or_404(year: int, token: str):
    """The proposal the link opens, or a French 404 page that says what to do."""
    try:
        return access.contribution_for_token(token, school_year=year)
    except ProposalNotFound:
        abort(make_response(render_template("exchange/proposal_not_found.html"), 404))


@blueprint.route("/rencontres/<int:year>/propositions/<token>", methods=["GET", "POST"])
def manage(year: int, token: str):
    contribution = _contribution_or_404(year, token)
    half_day = contribution.half_day
    form = ProposalEditForm()
    form.load_choices(half_day)
    error, status = None, 200
    if request.method == "POST":
        if not rules.can_edit(contribution):
            error, status = _edit_refusal(contribution), 409
        elif form.validate_on_submit():
            try:
                changed = presenter.update(contribution, form.proposal())
            except CallClosed as closed:
                error, status = str(closed), 409
            except ProposalRefused as refusal:
                error, status = form.refuse(refusal), 422
            else:
                flash("Vos modifications sont enregistrées." if changed else "Rien n'a changé.")
                return redirect(url_for(".manage", year=year, token=token), code=303)
        else:
            status = 422
    else:
        form.fill(contribution)
    return render_template(
        "exchange/proposal_manage.html",
        contribution=contribution,
        half_day=half_day,
        form=form,
        error=error,
        token=token,
        can_edit=rules.can_edit(contribution),
        can_withdraw=rules.can_withdraw(contribution),
        edit_closed=_edit_refusal(contribution),
        agenda_url=_agenda_url(half_day),
    ), status


@blueprint.route("/rencontres/<int:year>/propositions/<token>/retirer", methods=["GET", "POST"])
def withdraw(year: int, token: str):
    """GET asks for confirmation; only the POST withdraws."""
    contribution = _contribution_or_404(year, token)
    if request.method == "GET":
        if not rules.can_withdraw(contribution):
            return redirect(url_for(".manage", year=year, token=token))
        return render_template(
            "exchange/proposal_withdraw.html",
            contribution=contribution,
            half_day=contribution.half_day,
            token=token,
        )
    try:
        changed = presenter.withdraw(contribution)
    except ProposalRefused as refusal:
        flash(str(refusal))
    else:
        flash(
            "Votre proposition est retirée. Un courriel de confirmation vous a été envoyé."
            if changed
            else "Cette proposition était déjà retirée : rien n'a changé."
        )
    return redirect(url_for(".manage", year=year, token=token), code=303)


def _edit_refusal(contribution) -> str | None:
    if contribution.status is ContributionStatus.withdrawn:
        return "Cette proposition a été retirée : elle ne peut plus être modifiée."
    if not call_is_open(contribution.half_day):
        return rules.closed_reason(contribution.half_day)
    return None


def _agenda_url(half_day: HalfDay) -> str | None:
    if half_day.state is HalfDayState.published and latest_version(half_day) is not None:
        return f"/rencontres/{half_day.school_year}"
    return None


@blueprint.after_request
def protect_secret_links(response):
    """Pages opened by a secret link are not cached, indexed, or leaked to other sites through
    Referer. `same-origin`, not `no-referrer`: their own forms need the Referer that Flask-WTF
    checks over https (the site's logs mask the token)."""
    if request.view_args and "token" in request.view_args:
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = "noindex"
        response.headers["Referrer-Policy"] = "same-origin"
    return response
