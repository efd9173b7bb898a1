"""The coordinators' list of the people registered to attend a half-day, and its CSV export."""

from flask import Blueprint, Response, render_template, request

from app.exchange import attendee_list, attendees, services
from app.formatting import school_year_label
from app.staff.access import coordinator_required

blueprint = Blueprint(
    "exchange_attendees", __name__, url_prefix="/admin/rencontres", template_folder="templates"
)


def _order() -> str:
    order = request.args.get("tri", "nom")
    return order if order in attendee_list.ORDERS else "nom"


@blueprint.get("/<int:year>/participants")
@coordinator_required
def participants(year: int):
    half_day = services.half_day_of_year(year)
    order = _order()
    return render_template(
        "exchange/attendee_list.html",
        half_day=half_day,
        people=attendee_list.sorted_attendees(attendees.attendees(half_day), order),
        counts=attendees.counts(half_day),
        order=order,
        year_label=school_year_label(year),
    )


@blueprint.get("/<int:year>/participants.csv")
@coordinator_required
def participants_csv(year: int):
    half_day = services.half_day_of_year(year)
    people = attendee_list.sorted_attendees(attendees.attendees(half_day), _order())
    response = Response(attendee_list.attendees_csv(people), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{attendee_list.csv_filename(half_day)}"'
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
