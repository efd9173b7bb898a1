"""The coordinators' list of the half-day's attendees: sorted as asked, and as a CSV for a
French spreadsheet."""

from app.exchange.models import Attendee, HalfDay
from app.formatting import by_name, datetime_fr, school_year_slug
from app.spreadsheet import spreadsheet_csv

#: How the coordinators' list may be sorted (`?tri=`): by name, by mode and status, by date.
ORDERS = ("nom", "statut", "inscription")


def sorted_attendees(people: list[Attendee], order: str = "nom") -> list[Attendee]:
    """By name as a French reader looks for one (accents and case set aside, the same on every
    database); by mode then status (the waiting list in its order); or in registration order."""
    if order == "inscription":
        return sorted(people, key=lambda a: (a.created_at, a.id))
    if order == "statut":
        return sorted(
            people,
            key=lambda a: (a.mode.value, a.status.value, a.waiting_position or 0, by_name(a)),
        )
    return sorted(people, key=by_name)


def attendees_csv(people: list[Attendee]) -> bytes:
    """The list for a French spreadsheet (attendance's conventions: BOM, `;`, no formula)."""
    header = [
        "Nom",
        "Prénom",
        "Adresse électronique",
        "École ou structure",
        "Mode",
        "Statut",
        "Position en liste d'attente",
        "Inscrit·e le",
    ]
    rows = [
        [
            a.last_name,
            a.first_name,
            a.email,
            a.organisation,
            a.mode.title,
            a.status.title,
            str(a.waiting_position or ""),
            datetime_fr(a.created_at),
        ]
        for a in people
    ]
    return spreadsheet_csv(header, rows)


def csv_filename(half_day: HalfDay) -> str:
    return f"rencontres-{school_year_slug(half_day.school_year)}-participants.csv"
