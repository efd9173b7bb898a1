"""Coordinators review the proposals: accept or decline, with a message mailed to the proposer."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.catalog.models import Level
from app.database import valid_id
from app.exchange.forms import DecisionForm
from app.exchange.models import ContributionFormat, ContributionStatus, Equipment
from app.exchange.proposals import access, review, rules
from app.exchange.proposals.data import ProposalRefused, topics
from app.exchange.services import half_day_of_year
from app.formatting import school_year_label
from app.staff.access import coordinator_required

blueprint = Blueprint(
    "exchange_review", __name__, url_prefix="/admin/rencontres", template_folder="templates"
)


def _filters() -> review.Filters:
    """The list's filters from the query string; an unknown value filters nothing."""
    topic = request.args.get("theme", type=int)
    return review.Filters(
        status=ContributionStatus.from_value(request.args.get("etat")),
        topic_id=topic if valid_id(topic) else None,
        format=ContributionFormat.from_value(request.args.get("format")),
        level=Level.from_value(request.args.get("niveau")),
        need=Equipment.from_value(request.args.get("besoin")),
    )


@blueprint.get("/<int:year>/propositions")
@coordinator_required
def index(year: int):
    half_day = half_day_of_year(year)
    filters = _filters()
    items = review.proposals(half_day, filters=filters)
    return render_template(
        "exchange/review_list.html",
        half_day=half_day,
        year_label=school_year_label(year),
        items=items,
        counts=review.counts(half_day),
        filters=filters,
        edited=review.edited_after_review(items),
        topics=topics(),
        statuses=list(ContributionStatus),
        formats=list(ContributionFormat),
        levels=list(Level),
        needs=list(Equipment),
    )


@blueprint.get("/<int:year>/propositions/<int:contribution_id>")
@coordinator_required
def detail(year: int, contribution_id: int):
    half_day = half_day_of_year(year)
    contribution = access.contribution_of(half_day, contribution_id)
    return _detail_page(half_day, contribution)


@blueprint.post("/<int:year>/propositions/<int:contribution_id>/decision")
@coordinator_required
def decide(year: int, contribution_id: int):
    half_day = half_day_of_year(year)
    contribution = access.contribution_of(half_day, contribution_id)
    form = DecisionForm()
    error = None
    if form.validate_on_submit():
        try:
            decision = review.decide(contribution, form.accepted, form.message.data, current_user)
        except ProposalRefused as refusal:
            if refusal.field == "message":
                form.message.errors = [str(refusal)]
            else:
                error = str(refusal)
        else:
            if not decision.changed:
                flash(
                    f"Cette proposition était déjà {decision.contribution.status.title.lower()} : "
                    "rien n'a changé, aucun courriel n'est parti."
                )
            elif form.accepted:
                flash("Proposition acceptée. Le proposant reçoit un courriel avec votre message.")
            else:
                flash(
                    "Proposition non retenue. Le proposant reçoit un courriel avec votre message."
                )
            return redirect(
                url_for(".detail", year=year, contribution_id=contribution_id), code=303
            )
    return _detail_page(half_day, contribution, posted=form, error=error, status=422)


def _detail_page(
    half_day, contribution, *, posted: DecisionForm | None = None, error=None, status=200
):
    return render_template(
        "exchange/review_detail.html",
        half_day=half_day,
        year_label=school_year_label(half_day.school_year),
        contribution=contribution,
        refusal=rules.review_refusal(contribution),
        edited_at=review.edited_after_review([contribution]).get(contribution.id),
        history=review.history(contribution),
        posted=posted,
        error=error,
    ), status
