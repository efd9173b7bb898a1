"""The attendance sheet (feuille d'émargement): one source, three forms.

`sheet(workshop)` decides who is on it and in which order; the print view and the PDF are the
same template (WeasyPrint reads its print styles); the CSV writes the same people for a French
spreadsheet. Names are what teachers typed: the template escapes them, and the CSV
(`app.spreadsheet`) neutralises what a spreadsheet would run as a formula — no formula injection
in CSV exports.
"""

from dataclasses import dataclass

from flask import render_template

from app.attendance.models import Presence
from app.attendance.services import Roster, roster
from app.booking.models import Registration
from app.catalog.models import Workshop
from app.formatting import to_paris
from app.pdf import render_pdf
from app.spreadsheet import spreadsheet_csv

#: Empty rows after the names, for people who come without a registration.
BLANK_LINES = 4


@dataclass
class Sheet:
    """Who signs: confirmed people by name, then walk-ins by name; the waiting list apart, in
    its order (the trainer may admit them at the door)."""

    workshop: Workshop
    confirmed: list[Registration]
    walk_ins: list[Registration]
    waiting: list[Registration]
    roster: Roster

    @property
    def people(self) -> list[Registration]:
        return [*self.confirmed, *self.walk_ins]

    @property
    def marked(self) -> bool:
        """Attendance has been taken: the CSV gets its presence column."""
        return bool(self.roster.marks) or self.roster.closed

    def presence(self, registration: Registration) -> Presence | None:
        return self.roster.presence(registration)


def sheet(workshop: Workshop) -> Sheet:
    people = roster(workshop)
    return Sheet(
        workshop=workshop,
        confirmed=people.confirmed,
        walk_ins=people.walk_ins,
        waiting=people.waiting,
        roster=people,
    )


# --- print view and PDF --------------------------------------------------------------------------


def html(sheet: Sheet, *, screen: bool = False) -> str:
    """The sheet as an A4 page; `screen` adds the print button and the way back (a request's page)."""
    return render_template(
        "attendance/sheet.html", sheet=sheet, screen=screen, blank_lines=BLANK_LINES
    )


def pdf(sheet: Sheet) -> bytes:
    return render_pdf(html(sheet))


def filename(workshop: Workshop, kind: str, extension: str) -> str:
    """An ASCII name for a download: "emargement-2026-03-11-amiens.pdf" (site slugs are ASCII)."""
    day = to_paris(workshop.starts_at).date().isoformat()
    return f"{kind}-{day}-{workshop.site.slug}.{extension}"


# --- CSV -----------------------------------------------------------------------------------------


def csv_bytes(sheet: Sheet) -> bytes:
    """Everyone the session concerns, the waiting list last: one row each, presence when taken."""
    header = ["Nom", "Prénom", "École", "UAI", "Statut"]
    if sheet.marked:
        header.append("Présence")
    rows = []
    for registration in [*sheet.people, *sheet.waiting]:
        row = [
            registration.last_name,
            registration.first_name,
            registration.school,
            registration.uai or "",
            registration.status.title,
        ]
        if sheet.marked:
            presence = sheet.presence(registration)
            row.append(presence.title if presence else "")
        rows.append(row)
    return spreadsheet_csv(header, rows)
