"""Attendance certificates (attestations de présence): their codes, their PDF, the hours they prove.

The follow-up sweep (`app.attendance.followup`) issues one per person marked present at a closed
session. Its code, printed on the PDF with the full verification address, is checked by anyone
at /attestations/<code>. The PDF is built from the data each time it is needed (the copy in the
mail and the one downloaded from the management page are the same document), with links from
PUBLIC_BASE_URL since the scheduler has no request.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app, render_template
from sqlalchemy.orm import joinedload

from app.attendance.models import Certificate
from app.booking.models import Registration
from app.catalog.models import Workshop
from app.extensions import db
from app.formatting import PARIS, Period, current_school_year, date_fr, day_fr, time_fr
from app.pdf import render_pdf

#: No 0/O, 1/I/L: a code read over the phone or retyped from paper is not misread.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_GROUPS, CODE_GROUP_SIZE = 3, 4  # "K7QD-M2XP-9HTA": 31^12, about 2^59 codes
#: Hours of training and "animations pédagogiques" a primary teacher owes each school year.
HOURS_OWED = 18
ISSUER = "CRDP de l'académie d'Amiens"


def new_code() -> str:
    characters = "".join(
        secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUPS * CODE_GROUP_SIZE)
    )
    return _grouped(characters)


def _grouped(characters: str) -> str:
    size = CODE_GROUP_SIZE
    return "-".join(characters[i : i + size] for i in range(0, len(characters), size))


def normalise_code(text: str) -> str | None:
    """The stored form of a typed code (any case, dashes and spaces optional), or None."""
    compact = "".join((text or "").split()).replace("-", "").upper()
    if len(compact) != CODE_GROUPS * CODE_GROUP_SIZE or not set(compact) <= set(CODE_ALPHABET):
        return None
    return _grouped(compact)


def certificate_by_code(text: str) -> Certificate | None:
    """The certificate a typed code names, with its registration and workshop; None if none."""
    code = normalise_code(text)
    if code is None:
        return None  # not even the shape of a code: no query
    return db.session.scalar(
        sa.select(Certificate)
        .where(Certificate.code == code)
        .options(joinedload(Certificate.registration).joinedload(Registration.workshop))
    )


def certificate_of(registration_id: int) -> Certificate | None:
    return db.session.scalar(
        sa.select(Certificate).where(Certificate.registration_id == registration_id)
    )


def session_minutes(workshop: Workshop) -> int:
    """The training time a session gives: its duration, in whole minutes."""
    return int((workshop.ends_at - workshop.starts_at).total_seconds() // 60)


def duration_fr(minutes: int) -> str:
    """'3 heures', '1 heure', '1 h 30', '45 minutes'."""
    hours, rest = divmod(minutes, 60)
    if rest == 0:
        return f"{hours} heure" if hours <= 1 else f"{hours} heures"
    if hours == 0:
        return f"{rest} minutes"
    return f"{hours} h {rest:02d}"


def verification_url(code: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/attestations/{code}"


def pdf_filename(workshop: Workshop) -> str:
    day = workshop.starts_at.astimezone(PARIS).date()
    return f"attestation-presence-{day.isoformat()}.pdf"


def render_certificate(
    registration: Registration, *, code: str, minutes: int, issued_at: datetime
) -> bytes:
    """The certificate's PDF (A4, French); names are escaped by the template, never markup."""
    workshop = registration.workshop
    html = render_template(
        "attendance/certificate.html",
        registration=registration,
        workshop=workshop,
        site=workshop.room.site,
        day=date_fr(workshop.starts_at),
        times=f"de {time_fr(workshop.starts_at)} à {time_fr(workshop.ends_at)}",
        duration=duration_fr(minutes),
        issued_on=day_fr(issued_at),  # the date under a signature: no weekday
        issuer=ISSUER,
        code=code,
        verification_url=verification_url(code),
    )
    return render_pdf(html)


def certificate_pdf(certificate: Certificate) -> bytes:
    return render_certificate(
        certificate.registration,
        code=certificate.code,
        minutes=certificate.minutes,
        issued_at=certificate.issued_at,
    )


# --- hours of the school year --------------------------------------------------------------------


def minutes_this_school_year(email: str) -> int:
    """Minutes attested by certificates, for this address, of sessions held this school year.

    Counted once per session, should one person hold two registrations of it (a walk-in added
    for someone already registered).
    """
    if not email:
        return 0
    school_year = Period.of_school_year(current_school_year())
    start, end = school_year.starts_at, school_year.ends_at
    per_session = (
        sa.select(sa.func.max(Certificate.minutes).label("minutes"))
        .join(Registration, Registration.id == Certificate.registration_id)
        .join(Workshop, Workshop.id == Registration.workshop_id)
        .where(Registration.email == email, Workshop.starts_at >= start, Workshop.starts_at < end)
        .group_by(Registration.workshop_id)
        .subquery()
    )
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(per_session.c.minutes), 0)))


@dataclass
class YearHours:
    """What the teacher's management page shows: hours this school year, this certificate."""

    minutes: int
    certificate: Certificate | None
    owed: int = HOURS_OWED

    @property
    def attended(self) -> str:
        return duration_fr(self.minutes)


def year_hours(registration: Registration) -> YearHours:
    return YearHours(
        minutes=minutes_this_school_year(registration.email),
        certificate=certificate_of(registration.id),
    )
