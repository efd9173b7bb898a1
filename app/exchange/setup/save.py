"""Creating the half-day of a school year (its call opens) and changing its settings: one write
transaction, the half-day row locked, the checks then the change and its audit entry."""

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.database import begin_write
from app.exchange import attendees
from app.exchange.models import Attendee, AttendeeStatus, HalfDay, HalfDayRoom, HalfDayState
from app.exchange.services import latest_version
from app.exchange.setup import history
from app.exchange.setup.checks import DUPLICATE, check
from app.exchange.setup.rooms import ordered, set_rooms
from app.exchange.setup.settings import Moments, Problem, Saved, Settings, SetupRefused, lock
from app.extensions import db
from app.formatting import datetime_fr, school_year_label, timespan_fr
from app.staff import audit
from app.staff.models import StaffUser


def save_half_day(
    actor: StaffUser,
    settings: Settings,
    *,
    half_day: HalfDay | None = None,
    confirmed: bool = False,
) -> Saved:
    """Create the half-day of a school year (its call opens) or change one's settings.

    One write transaction, the half-day row locked: checks, then the change and its audit entry.
    """
    if half_day is None:
        begin_write()
        locked = None
    else:
        locked = lock(half_day.id)
    moments, problems, warnings = check(settings, locked)
    if problems:
        db.session.rollback()
        raise SetupRefused(problems)
    if warnings and not confirmed:
        db.session.rollback()
        return Saved(half_day, to_confirm=warnings)
    if locked is None:
        saved = _create(actor, settings, moments)
    else:
        saved = _edit(actor, locked, settings, moments)
    db.session.commit()
    return saved


def _create(actor: StaffUser, settings: Settings, moments: Moments) -> Saved:
    half_day = HalfDay(
        school_year=settings.school_year, state=HalfDayState.call_open, **_values(settings, moments)
    )
    half_day.rooms = [
        HalfDayRoom(
            room=choice.room,
            is_auditorium=choice.is_auditorium,
            equipment=choice.equipment,
            position=position,
        )
        for position, choice in enumerate(ordered(settings.rooms))
    ]
    try:
        with db.session.begin_nested():  # two coordinators creating the same year at once
            db.session.add(half_day)
            db.session.flush()
    except IntegrityError:
        db.session.rollback()
        label = school_year_label(settings.school_year)
        raise SetupRefused([Problem("school_year", DUPLICATE.format(label=label))]) from None
    audit.record(
        actor,
        history.CREATE,
        history.TARGET,
        half_day.id,
        f"Création de la demi-journée d'échanges {school_year_label(half_day.school_year)} : "
        f"{history.when(half_day)}, propositions jusqu'au {datetime_fr(half_day.deadline)}",
        **history.snapshot(half_day),
    )
    return Saved(half_day)


def _edit(actor: StaffUser, half_day: HalfDay, settings: Settings, moments: Moments) -> Saved:
    before = history.snapshot(half_day)
    was = {"span": timespan_fr(half_day.starts_at, half_day.ends_at), "site": before["site"]}
    for name, value in _values(settings, moments).items():
        setattr(half_day, name, value)
    dropped = set_rooms(half_day, settings.rooms)
    after = history.snapshot(half_day)
    changed = {name: (before[name], after[name]) for name in after if before[name] != after[name]}
    if not changed:
        db.session.rollback()
        return Saved(half_day, notes=["Rien n'a changé."], changed=False)
    saved = Saved(half_day)
    told = attendees.tell_of_changes(half_day, was, set(changed))
    if told:
        saved.notes.append(f"{told} personne(s) inscrite(s) sont prévenues par courriel.")
    if "capacity" in changed:
        # More seats go to the first people waiting, in this transaction, under this lock.
        promoted = attendees.ATTENDEES.promote(half_day)
        if promoted:
            saved.notes.append(
                f"{len(promoted)} personne(s) de la liste d'attente ont maintenant une place : "
                "un courriel leur est envoyé."
            )
    rescheduled = bool(changed.keys() & history.SCHEDULE)
    if rescheduled:
        saved.notes += _rebuild_notes(half_day, dropped)
        if latest_version(half_day) is not None:
            half_day.sequence += 1
    audit.record(
        actor,
        history.RESCHEDULE if rescheduled else history.EDIT,
        history.TARGET,
        half_day.id,
        f"Modification de la demi-journée d'échanges {school_year_label(half_day.school_year)} : "
        + ", ".join(history.LABELS[name] for name in changed),
        **changed,
    )
    return saved


def _values(settings: Settings, moments: Moments) -> dict:
    return {
        "title": settings.title,
        "starts_at": moments.starts_at,
        "ends_at": moments.ends_at,
        "deadline": moments.deadline,
        "site": settings.site,
        "capacity": settings.capacity,
        "videoconference_url": settings.videoconference_url,
        "description": settings.description,
        "opening_minutes": settings.opening_minutes,
        "closing_minutes": settings.closing_minutes,
        "break_minutes": settings.break_minutes,
    }


def _rebuild_notes(half_day: HalfDay, dropped: int) -> list[str]:
    notes = []
    version = latest_version(half_day)
    if version is not None:
        notes.append(
            f"L'agenda publié (version {version.number}) ne correspond plus à ces réglages : "
            "reconstruisez l'agenda puis publiez une nouvelle version, qui préviendra les "
            "intervenants concernés. Aucun créneau n'a été déplacé."
        )
    elif half_day.agenda_built_at is not None:
        notes.append(
            "Le brouillon de l'agenda a été construit avec les anciens réglages : reconstruisez-le "
            "avant de le publier. Aucun créneau n'a été déplacé."
        )
    if dropped:
        notes.append(
            f"{dropped} créneaux du brouillon étaient dans une salle retirée : ils en ont été ôtés."
        )
    registered = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Attendee)
        .where(Attendee.half_day_id == half_day.id, Attendee.status != AttendeeStatus.cancelled)
    )
    if registered:
        notes.append(
            f"{registered} personnes sont inscrites pour assister à la demi-journée : elles ne sont pas "
            "prévenues par ce changement."
        )
    return notes
