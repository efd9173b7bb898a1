"""Coordinators set up each year's half-day: date (suggested), hours, rooms and equipment, deadline, videoconference link."""

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from app.catalog.models import Site
from app.clock import now
from app.exchange.dates import suggest_dates
from app.exchange.models import (
    AttendanceMode,
    AttendeeStatus,
    ContributionStatus,
    Equipment,
    HalfDay,
    HalfDayState,
)
from app.exchange.services import FIRST_YEAR, LAST_YEAR, half_day_of_year, latest_version
from app.exchange.setup import call, overview
from app.exchange.setup.save import save_half_day
from app.exchange.setup.settings import SetupRefused
from app.exchange.setup_forms import ActionForm, HalfDayForm, ReopenForm, equipment_key
from app.extensions import db
from app.formatting import current_school_year, datetime_fr, school_year_label
from app.staff.access import coordinator_required

blueprint = Blueprint(
    "exchange_setup", __name__, url_prefix="/admin/rencontres", template_folder="templates"
)

#: School years offered at creation: this one and the next two.
YEARS_AHEAD = 2
#: Other Wednesdays shown besides the spring term's (all of which are).
SHOWN_SUGGESTIONS = 10


@blueprint.get("/")
@coordinator_required
def half_days():
    return render_template(
        "exchange/setup_list.html", rows=overview.half_days(), statuses=list(ContributionStatus)
    )


@blueprint.route("/nouvelle", methods=["GET", "POST"])
@coordinator_required
def new_half_day():
    sites = _sites()
    years = _years()
    form = HalfDayForm()
    form.load_choices(sites, years)
    if request.method == "GET":
        year = _arg_year(years)
        suggested = suggest_dates(year, 1)
        day = _arg_day() or (suggested[0].day if suggested else None)
        form.prefill(year, _default_site(sites), day)
    return _save(form, None, sites, suggestions={year: suggest_dates(year) for year, _ in years})


@blueprint.route("/<int:year>/modifier", methods=["GET", "POST"])
@coordinator_required
def edit_half_day(year: int):
    half_day = half_day_of_year(year)
    sites = _sites()
    form = HalfDayForm()
    form.load_choices(sites)
    if request.method == "GET":
        form.fill(half_day)
        form.jour.data = _arg_day() or form.jour.data
    return _save(form, half_day, sites, suggestions={year: suggest_dates(year)})


@blueprint.get("/<int:year>")
@coordinator_required
def hub(year: int):
    return _hub(half_day_of_year(year), ReopenForm(formdata=None))


@blueprint.post("/<int:year>/clore")
@coordinator_required
def close_call(year: int):
    half_day = half_day_of_year(year)
    if ActionForm().validate_on_submit():
        try:
            call.close_call(current_user, half_day)
        except SetupRefused as refusal:
            flash(str(refusal))
        else:
            flash(
                "L'appel à propositions est clos : plus aucune proposition n'est acceptée, et les "
                "intervenants ne peuvent plus modifier les leurs."
            )
    return redirect(url_for(".hub", year=year))


@blueprint.post("/<int:year>/rouvrir")
@coordinator_required
def reopen_call(year: int):
    half_day = half_day_of_year(year)
    form = ReopenForm()
    if form.validate_on_submit():
        try:
            reopened = call.reopen_call(current_user, half_day, form.deadline())
        except SetupRefused as refusal:
            for problem in refusal.problems:
                (form.date_limite.errors if problem.field else form.form_errors).append(
                    problem.message
                )
        else:
            flash(f"L'appel à propositions est rouvert jusqu'au {datetime_fr(reopened.deadline)}.")
            return redirect(url_for(".hub", year=year))
    return _hub(half_day_of_year(year), form), 422


# --- helpers -----------------------------------------------------------------------------------


def _save(form: HalfDayForm, half_day: HalfDay | None, sites, *, suggestions):
    errors, warnings = [], []
    if form.validate_on_submit():
        year = form.annee.data if half_day is None else half_day.school_year
        try:
            saved = save_half_day(
                current_user,
                form.settings(year, sites),
                half_day=half_day,
                confirmed=form.confirmer.data,
            )
        except SetupRefused as refusal:
            form.attach(refusal.problems)
            errors = [problem.message for problem in refusal.problems]
        else:
            if saved.to_confirm:
                warnings = saved.to_confirm
            else:
                created = half_day is None
                flash(
                    " ".join(
                        [
                            "Demi-journée créée : l'appel à propositions est ouvert."
                            if created
                            else "Réglages enregistrés."
                            if saved.changed
                            else "",
                            *saved.notes,
                        ]
                    ).strip()
                )
                return redirect(url_for(".hub", year=saved.half_day.school_year))
    elif request.method == "POST":
        errors = ["Vérifiez les champs signalés ci-dessous."]
    status = 422 if request.method == "POST" else 200
    published = half_day is not None and latest_version(half_day) is not None
    call_open = half_day is None or half_day.state is HalfDayState.call_open
    if not call_open:
        form.date_limite.render_kw = {"readonly": True}
    return render_template(
        "exchange/setup_form.html",
        form=form,
        half_day=half_day,
        sites=sites,
        errors=errors,
        warnings=warnings,
        suggestions=suggestions,
        shown=SHOWN_SUGGESTIONS,
        published=published,
        equipment_key=equipment_key,
        equipment=list(Equipment),
        call_open=call_open,
    ), status


def _hub(half_day: HalfDay, reopen_form: ReopenForm):
    counts = overview.proposal_counts([half_day.id])[half_day.id]
    return render_template(
        "exchange/setup_hub.html",
        half_day=half_day,
        counts=counts,
        statuses=list(ContributionStatus),
        attendees=_attendees(half_day),
        steps=overview.STEPS,
        step=overview.next_step(half_day, counts),
        stale=overview.stale_agenda(half_day),
        version=latest_version(half_day),
        label=school_year_label(half_day.school_year),
        reopen_form=reopen_form,
        action_form=ActionForm(formdata=None),
        now=now(),
    )


def _attendees(half_day: HalfDay) -> list[tuple[str, int]]:
    counts = overview.attendee_counts(half_day)
    in_person, remote = AttendanceMode.in_person, AttendanceMode.remote
    return [
        (
            f"Sur place, place confirmée (sur {half_day.capacity})",
            counts[(in_person, AttendeeStatus.confirmed)],
        ),
        ("Sur place, en liste d'attente", counts[(in_person, AttendeeStatus.waiting)]),
        (
            "À distance",
            counts[(remote, AttendeeStatus.confirmed)] + counts[(remote, AttendeeStatus.waiting)],
        ),
    ]


def _sites() -> list[Site]:
    return list(
        db.session.scalars(sa.select(Site).options(selectinload(Site.rooms)).order_by(Site.name))
    )


def _default_site(sites: list[Site]) -> Site | None:
    return next((site for site in sites if site.slug == "amiens"), sites[0] if sites else None)


def _years() -> list[tuple[int, bool]]:
    """The school years offered at creation, each with whether it already has its half-day."""
    first = current_school_year()
    years = range(first, first + YEARS_AHEAD + 1)
    taken = set(
        db.session.scalars(sa.select(HalfDay.school_year).where(HalfDay.school_year.in_(years)))
    )
    return [(year, year in taken) for year in years]


def _arg_year(years: list[tuple[int, bool]]) -> int:
    """`?annee=` when offered, else the first year without a half-day."""
    wanted = request.args.get("annee", type=int)
    if (
        wanted is not None
        and FIRST_YEAR <= wanted <= LAST_YEAR
        and any(y == wanted for y, _ in years)
    ):
        return wanted
    return next((year for year, taken in years if not taken), years[0][0])


def _arg_day() -> date | None:
    """`?jour=2026-05-20`: a suggested date chosen without JavaScript."""
    try:
        return date.fromisoformat(request.args.get("jour", ""))
    except ValueError:
        return None
