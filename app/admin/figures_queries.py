"""The queries behind the committee's figures: a fixed handful whatever the number of workshops.

One row per workshop of the period, then registrations, attendance and questionnaire answers
grouped by workshop, and the present people one row each (their addresses and schools make the
distinct counts). A workshop belongs to the period in which it starts (Paris days).
"""

import re
from datetime import datetime

import sqlalchemy as sa

from app.admin.figures_definitions import DIRECT
from app.admin.figures_lines import WorkshopFacts
from app.attendance.models import Attendance, Presence, QuestionnaireAnswer, SessionClosure
from app.booking.models import Registration, RegistrationStatus
from app.catalog.models import Room, Site, Topic, Workshop, WorkshopStatus
from app.extensions import db
from app.formatting import Period, folded


def workshop_facts(period: Period, moment: datetime) -> dict[int, WorkshopFacts]:
    """The facts of every published or cancelled workshop of the period, by id, in five queries:
    held means ended before `moment`."""
    workshops = _workshops(period, moment)
    held = _held_ids(period, moment)
    _add_registrations(workshops, held)
    _add_confirmed_marks(workshops, held)
    _add_attendees(workshops, held)
    _add_answers(workshops, held)
    return workshops


def _in_period(period: Period):
    return sa.and_(Workshop.starts_at >= period.starts_at, Workshop.starts_at < period.ends_at)


def _held_ids(period: Period, moment: datetime) -> sa.Select:
    """The held workshops of the period, as a subquery of ids."""
    return sa.select(Workshop.id).where(
        _in_period(period),
        Workshop.status == WorkshopStatus.published,
        Workshop.ends_at <= moment,
    )


def _workshops(period: Period, moment: datetime) -> dict[int, WorkshopFacts]:
    """One row per published or cancelled workshop of the period (drafts never happened)."""
    rows = db.session.execute(
        sa.select(
            Workshop.id,
            Room.site_id,
            Workshop.level,
            Workshop.topic_id,
            Topic.name,
            Workshop.status,
            Workshop.starts_at,
            Workshop.ends_at,
            Workshop.capacity,
            SessionClosure.workshop_id,
        )
        .join(Room, Room.id == Workshop.room_id)
        .join(Topic, Topic.id == Workshop.topic_id)
        .outerjoin(SessionClosure, SessionClosure.workshop_id == Workshop.id)
        .where(
            _in_period(period),
            Workshop.status.in_([WorkshopStatus.published, WorkshopStatus.cancelled]),
        )
    )
    facts = {}
    for (
        id_,
        site_id,
        level,
        topic_id,
        topic_name,
        status,
        starts_at,
        ends_at,
        capacity,
        closure,
    ) in rows:
        facts[id_] = WorkshopFacts(
            id=id_,
            site_id=site_id,
            level=level,
            topic_id=topic_id,
            topic_name=topic_name,
            status=status,
            held=status is WorkshopStatus.published and ends_at <= moment,
            capacity=capacity,
            minutes=int((ends_at - starts_at).total_seconds() // 60),
            closed=closure is not None,
        )
    return facts


def _count_by(workshop_id, *columns, held: sa.Select) -> sa.Select:
    """How many rows each held workshop has for each combination of `columns`: (workshop id,
    *columns, count) rows, one query whatever the number of workshops."""
    return (
        sa.select(workshop_id, *columns, sa.func.count())
        .where(workshop_id.in_(held))
        .group_by(workshop_id, *columns)
    )


def _add_registrations(workshops: dict[int, WorkshopFacts], held: sa.Select) -> None:
    """Registrations counted by status and source; whether each workshop had a waiting list.

    Someone was on the waiting list if they still are, if they left it without ever having had
    a seat (cancelled, never confirmed), or if their seat came later than their registration (a
    promotion: a seat given at once is dated before the registration row is written).
    """
    never_confirmed = Registration.confirmed_at.is_(None)
    confirmed_later = Registration.confirmed_at > Registration.created_at
    rows = db.session.execute(
        _count_by(
            Registration.workshop_id,
            Registration.status,
            Registration.source,
            never_confirmed,
            confirmed_later,
            held=held,
        )
    )
    for workshop_id, status, source, unconfirmed, promoted, count in rows:
        w = workshops[workshop_id]
        w.by_status[status] += count
        if status is not RegistrationStatus.walk_in:
            w.sources[source.value if source else DIRECT] += count
        left_waiting = status is RegistrationStatus.cancelled and unconfirmed
        if status is RegistrationStatus.waiting or left_waiting or promoted:
            w.waitlisted = True


def _add_confirmed_marks(workshops: dict[int, WorkshopFacts], held: sa.Select) -> None:
    rows = db.session.execute(
        _count_by(Attendance.workshop_id, Attendance.presence, held=held)
        .join(Registration, Registration.id == Attendance.registration_id)
        .where(Registration.status == RegistrationStatus.confirmed)
    )
    for workshop_id, presence, count in rows:
        workshops[workshop_id].confirmed_marks[presence] += count


def _add_attendees(workshops: dict[int, WorkshopFacts], held: sa.Select) -> None:
    """The people marked present, one row each: counted, and their addresses and schools kept
    for the distinct counts (a school's name is compared once normalised, which SQL cannot do
    the same way on SQLite and PostgreSQL)."""
    rows = db.session.execute(
        sa.select(Attendance.workshop_id, Registration.email, Registration.uai, Registration.school)
        .join(Registration, Registration.id == Attendance.registration_id)
        .where(
            Attendance.workshop_id.in_(held),
            Attendance.presence == Presence.present,
            Registration.status != RegistrationStatus.cancelled,
        )
    )
    for workshop_id, email, uai, school in rows:
        w = workshops[workshop_id]
        w.attendees += 1
        w.teachers.add(email.strip().lower())
        w.schools.add(school_key(uai, school))


def _add_answers(workshops: dict[int, WorkshopFacts], held: sa.Select) -> None:
    rows = db.session.execute(
        _count_by(
            QuestionnaireAnswer.workshop_id,
            QuestionnaireAnswer.usefulness,
            QuestionnaireAnswer.level_fit,
            QuestionnaireAnswer.will_use,
            held=held,
        )
    )
    for workshop_id, usefulness, level_fit, will_use, count in rows:
        w = workshops[workshop_id]
        w.answers += count
        w.usefulness_total += usefulness * count
        w.level_fit[level_fit.value] += count
        w.will_use[will_use.value] += count


def site_names() -> list[tuple[int, str]]:
    """Every site, so that one without any workshop in the period shows its zeros."""
    return list(db.session.execute(sa.select(Site.id, Site.name)))


def school_key(uai: str | None, school: str) -> str:
    """What identifies a school: its UAI code when given, else its normalised name."""
    if uai and uai.strip():
        return "uai:" + uai.strip().upper()
    words = re.sub(r"[^0-9a-z]+", " ", folded(school)).split()
    return "nom:" + " ".join(words)
