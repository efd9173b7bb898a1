"""What the back office shows of the half-days: the list with the proposals counted, the
attendees counted, the coordinator's next step, and whether the agenda is stale."""

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.clock import now
from app.exchange.models import (
    AgendaVersion,
    AttendanceMode,
    Attendee,
    AttendeeStatus,
    Contribution,
    ContributionStatus,
    HalfDay,
    HalfDayState,
)
from app.exchange.services import latest_version
from app.exchange.setup.history import RESCHEDULE, TARGET
from app.extensions import db
from app.formatting import date_fr, datetime_fr
from app.staff.models import AuditEntry


def proposal_counts(half_day_ids) -> dict[int, dict[ContributionStatus, int]]:
    """Proposals per status of each half-day, in one grouped query."""
    counts = {row_id: dict.fromkeys(ContributionStatus, 0) for row_id in half_day_ids}
    if not counts:
        return counts
    rows = db.session.execute(
        sa.select(Contribution.half_day_id, Contribution.status, sa.func.count())
        .where(Contribution.half_day_id.in_(list(counts)))
        .group_by(Contribution.half_day_id, Contribution.status)
    )
    for row_id, status, count in rows:
        counts[row_id][status] = count
    return counts


def attendee_counts(half_day: HalfDay) -> dict[tuple[AttendanceMode, AttendeeStatus], int]:
    """Registered attendees per (mode, status), in one grouped query."""
    counts = {(mode, status): 0 for mode in AttendanceMode for status in AttendeeStatus}
    rows = db.session.execute(
        sa.select(Attendee.mode, Attendee.status, sa.func.count())
        .where(Attendee.half_day_id == half_day.id)
        .group_by(Attendee.mode, Attendee.status)
    )
    for mode, status, count in rows:
        counts[(mode, status)] = count
    return counts


@dataclass(frozen=True)
class Listed:
    half_day: HalfDay
    counts: dict[ContributionStatus, int]


def half_days() -> list[Listed]:
    """Every half-day, newest school year first, with its proposals counted (two queries)."""
    rows = db.session.scalars(
        sa.select(HalfDay).options(joinedload(HalfDay.site)).order_by(HalfDay.school_year.desc())
    ).all()
    counts = proposal_counts([row.id for row in rows])
    return [Listed(row, counts[row.id]) for row in rows]


STEPS = (HalfDayState.call_open, HalfDayState.review, HalfDayState.draft, HalfDayState.published)


@dataclass(frozen=True)
class NextStep:
    """What the coordinator does next, in French, with where to do it."""

    text: str
    link: str | None = None
    link_label: str | None = None


def next_step(half_day: HalfDay, counts: dict[ContributionStatus, int]) -> NextStep:
    year = half_day.school_year
    proposals, agenda = f"/admin/rencontres/{year}/propositions", f"/admin/rencontres/{year}/agenda"
    waiting, accepted = counts[ContributionStatus.submitted], counts[ContributionStatus.accepted]
    if half_day.ends_at <= now():
        return NextStep(
            "La demi-journée a eu lieu. Préparez celle de l'an prochain depuis la liste des rencontres.",
            "/admin/rencontres/",
            "Toutes les rencontres",
        )
    if half_day.state is HalfDayState.call_open:
        if now() < half_day.deadline:
            return NextStep(
                f"L'appel à propositions est ouvert jusqu'au {datetime_fr(half_day.deadline)}. "
                f"Examinez les propositions au fil de l'eau ({_count(waiting, 'en attente')}, "
                f"{_count(accepted, 'acceptée')}) ; à la date limite, l'agenda est construit "
                "automatiquement à partir des propositions acceptées.",
                proposals,
                "Examiner les propositions",
            )
        return NextStep(
            f"La date limite ({datetime_fr(half_day.deadline)}) est passée : le brouillon de "
            "l'agenda va être construit. Examinez les propositions encore en attente "
            f"({_count(waiting, 'en attente')}).",
            proposals,
            "Examiner les propositions",
        )
    if half_day.state is HalfDayState.review:
        if waiting:
            return NextStep(
                f"L'appel est clos. Examinez les propositions en attente ({_count(waiting, 'en attente')}), "
                "puis construisez l'agenda.",
                proposals,
                "Examiner les propositions",
            )
        return NextStep(
            f"Toutes les propositions sont examinées ({_count(accepted, 'acceptée')}) : "
            "construisez l'agenda.",
            agenda,
            "Construire l'agenda",
        )
    if half_day.state is HalfDayState.draft:
        return NextStep(
            "Vérifiez le brouillon de l'agenda, ajustez-le si besoin, puis publiez-le : chaque "
            "intervenant reçoit son créneau et son invitation.",
            agenda,
            "Voir le brouillon de l'agenda",
        )
    version = latest_version(half_day)
    number = f" (version {version.number}, le {date_fr(version.published_at)})" if version else ""
    return NextStep(
        f"L'agenda est publié{number}. Suivez les inscriptions des participants ; après un "
        "changement, publiez une nouvelle version : seuls les intervenants concernés sont prévenus.",
        f"/admin/rencontres/{year}/participants",
        "Voir les participants",
    )


def stale_agenda(half_day: HalfDay) -> str | None:
    """Why the built or published agenda no longer matches the settings, or None."""
    changed_at = db.session.scalar(
        sa.select(sa.func.max(AuditEntry.at)).where(
            AuditEntry.target_kind == TARGET,
            AuditEntry.target_id == half_day.id,
            AuditEntry.action == RESCHEDULE,
        )
    )
    if changed_at is None:
        return None
    published_at = db.session.scalar(
        sa.select(sa.func.max(AgendaVersion.published_at)).where(
            AgendaVersion.half_day_id == half_day.id
        )
    )
    when = datetime_fr(changed_at)
    if published_at is not None and published_at < changed_at:
        return (
            f"La date, les horaires ou les salles ont changé le {when}, après la publication de "
            "l'agenda : reconstruisez-le et publiez une nouvelle version."
        )
    built_at = half_day.agenda_built_at
    if (
        built_at is not None
        and built_at < changed_at
        and (published_at is None or built_at > published_at)
    ):
        return (
            f"La date, les horaires ou les salles ont changé le {when}, après la construction du "
            "brouillon de l'agenda : reconstruisez-le."
        )
    return None


def _count(number: int, what: str) -> str:
    """ "1 acceptée", "3 acceptées", "2 en attente"."""
    plural = "" if number <= 1 or what.startswith("en ") else "s"
    return f"{number} proposition{'s' if number > 1 else ''} {what}{plural}"
