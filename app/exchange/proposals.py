"""The call for contributions and its review: submitting, editing and withdrawing a proposal
(through the presenter's secret link), and the coordinators' decision.

Every change is one write transaction that first locks the half-day row (`FOR UPDATE` on
PostgreSQL, `BEGIN IMMEDIATE` on SQLite), then re-reads what it decides on: a double click, or a
presenter withdrawing while a coordinator decides, sees the other's result and not a stale row.
The mails each change implies are written to the outbox in the same transaction.

A presenter's edit after a review keeps the decision (an accepted proposal stays accepted) and
is written to the audit log (`contribution.presenter_edit`, fields before and after): the review
pages flag a proposal whose last such entry is later than its `reviewed_at`.
"""

import json
from collections import Counter
from dataclasses import dataclass, fields
from datetime import datetime, time

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from app import tokens
from app.catalog.models import Level, Topic
from app.clock import now
from app.database import get_by_id, valid_id
from app.exchange.models import (
    AgendaSlot,
    Contribution,
    ContributionFormat,
    ContributionStatus,
    Equipment,
    HalfDay,
)
from app.exchange.services import HalfDayNotFound, call_is_open, local_time, lock_half_day
from app.extensions import db
from app.formatting import clock_fr, date_fr, datetime_fr
from app.mail import services as mail
from app.staff import audit
from app.staff.models import AuditEntry, StaffUser
from app.tokens import TokenPurpose

#: Presenters one proposal may name (one per line).
MAX_PRESENTERS = 4
#: Characters of a presenter's name, of a summary, of a review message.
MAX_PRESENTER_LENGTH = 100
MAX_SUMMARY_LENGTH = 2000
MAX_MESSAGE_LENGTH = 2000
#: Availability times are on this grid (minutes).
GRID_MINUTES = 5

#: The audit action of a presenter's change after a review (coordinators see it flagged).
PRESENTER_EDIT = "contribution.presenter_edit"


class ProposalNotFound(Exception):
    """The link opens no proposal (unknown, revoked or malformed token, or another year's)."""


class CallClosed(Exception):
    """The call is closed (deadline passed, or the half-day moved on); `str()` says so in French."""


class Refused(Exception):
    """A rule refuses the change; `str()` is the French explanation, `field` the form field it
    concerns (None for the whole form)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ProposalData:
    """What a presenter types, validated and normalised by the form (the e-mail only when
    submitting: it is where the link goes, and stays)."""

    presenters: tuple[str, ...]
    organisation: str
    title: str
    summary: str
    format: ContributionFormat
    topic_id: int
    level: Level
    needs: frozenset[Equipment]
    available_from: time | None
    available_until: time | None
    email: str = ""


@dataclass(frozen=True)
class Decision:
    contribution: Contribution
    #: False when the proposal already had this decision: nothing changed, nothing was sent.
    changed: bool


# --- reading -------------------------------------------------------------------------------------


def topics() -> list[Topic]:
    """The catalogue's topics a proposal may choose, by name."""
    return list(db.session.scalars(sa.select(Topic).order_by(Topic.name)))


def time_grid(half_day: HalfDay) -> list[time]:
    """The half-day's Paris wall-clock times on the 5-minute grid, from its start to its end."""
    start = _minutes(local_time(half_day.starts_at))
    end = _minutes(local_time(half_day.ends_at))
    first = -(-start // GRID_MINUTES) * GRID_MINUTES
    return [time(m // 60, m % 60) for m in range(first, end + 1, GRID_MINUTES)]


def arrival_choices(half_day: HalfDay) -> list[time]:
    """The times one may "arrive after": any grid time before the end."""
    return time_grid(half_day)[:-1]


def departure_choices(half_day: HalfDay) -> list[time]:
    """The times one may "leave at": any grid time after the start."""
    return time_grid(half_day)[1:]


def contribution_for_token(secret: str, school_year: int | None = None) -> Contribution:
    """The proposal a management link opens (of that school year when given), or
    ProposalNotFound."""
    token = tokens.resolve(TokenPurpose.exchange_proposal, secret)
    contribution = token and get_by_id(Contribution, token.owner_id)
    if contribution is None or (
        school_year is not None and contribution.half_day.school_year != school_year
    ):
        raise ProposalNotFound()
    return contribution


def contribution_by_id(contribution_id: int | None) -> Contribution | None:
    return get_by_id(Contribution, contribution_id)


def contribution_of(half_day: HalfDay, contribution_id: int) -> Contribution:
    """A proposal of this half-day, by id, or ProposalNotFound."""
    contribution = get_by_id(Contribution, contribution_id)
    if contribution is None or contribution.half_day_id != half_day.id:
        raise ProposalNotFound()
    return contribution


@dataclass(frozen=True)
class Filters:
    status: ContributionStatus | None = None
    topic_id: int | None = None
    format: ContributionFormat | None = None
    level: Level | None = None
    need: Equipment | None = None

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))


def proposals(
    half_day: HalfDay, status: ContributionStatus | None = None, filters: Filters | None = None
) -> list[Contribution]:
    """The half-day's proposals, oldest first, with their topics; narrowed by `filters`."""
    filters = filters or Filters(status=status)
    query = (
        sa.select(Contribution)
        .where(Contribution.half_day_id == half_day.id)
        .options(joinedload(Contribution.topic))
        .order_by(Contribution.created_at, Contribution.id)
    )
    if filters.status is not None:
        query = query.where(Contribution.status == filters.status)
    if filters.topic_id is not None:
        query = query.where(Contribution.topic_id == filters.topic_id)
    if filters.format is not None:
        query = query.where(Contribution.format == filters.format)
    if filters.level is not None:
        query = query.where(Contribution.level == filters.level)
    found = db.session.scalars(query).all()
    if filters.need is not None:
        found = [c for c in found if filters.need in c.needs]
    return list(found)


def counts(half_day: HalfDay) -> dict[ContributionStatus, int]:
    """The number of proposals in each status (every status present, zero included)."""
    rows = db.session.execute(
        sa.select(Contribution.status, sa.func.count())
        .where(Contribution.half_day_id == half_day.id)
        .group_by(Contribution.status)
    )
    found = Counter(dict(rows.all()))
    return {status: found[status] for status in ContributionStatus}


def edited_after_review(contributions: list[Contribution]) -> dict[int, datetime]:
    """For each reviewed proposal its presenter changed since the last decision: when."""
    reviewed = {c.id: c.reviewed_at for c in contributions if c.reviewed_at is not None}
    if not reviewed:
        return {}
    rows = db.session.execute(
        sa.select(AuditEntry.target_id, sa.func.max(AuditEntry.at))
        .where(
            AuditEntry.action == PRESENTER_EDIT,
            AuditEntry.target_kind == "contribution",
            AuditEntry.target_id.in_(list(reviewed)),
        )
        .group_by(AuditEntry.target_id)
    )
    return {target: at for target, at in rows if at > reviewed[target]}


@dataclass(frozen=True)
class HistoryItem:
    at: datetime
    actor_name: str
    summary: str
    #: For a presenter's edit: (field, before, after) for each field changed.
    changes: tuple[tuple[str, str, str], ...] = ()


def history(contribution: Contribution) -> list[HistoryItem]:
    """The decisions and the presenter's later changes, newest first."""
    items = []
    for entry in audit.entries(target_kind="contribution", target_id=contribution.id, limit=50):
        changes = ()
        if entry.action == PRESENTER_EDIT:
            details = json.loads(entry.details or "{}")
            changes = tuple(
                (FIELD_LABELS.get(name, name), change.get("avant", ""), change.get("après", ""))
                for name, change in details.items()
                if isinstance(change, dict)
            )
        items.append(HistoryItem(entry.at, entry.actor_name, entry.summary, changes))
    return items


def can_edit(contribution: Contribution) -> bool:
    return contribution.status is not ContributionStatus.withdrawn and call_is_open(
        contribution.half_day
    )


def can_withdraw(contribution: Contribution) -> bool:
    return (
        contribution.status is not ContributionStatus.withdrawn
        and now() < contribution.half_day.starts_at
    )


def review_refusal(contribution: Contribution) -> str | None:
    """Why this proposal cannot be reviewed now, in French, or None when it can."""
    if contribution.status is ContributionStatus.withdrawn:
        return "Cette proposition a été retirée par son auteur : elle ne peut plus être examinée."
    if now() >= contribution.half_day.starts_at:
        return "La demi-journée a commencé ou est passée : les propositions ne s'examinent plus."
    return None


def closed_reason(half_day: HalfDay) -> str:
    """Why the call takes no more proposals, in French (for a closed call)."""
    if now() >= half_day.deadline:
        return (
            f"L'appel à propositions est clos depuis le {datetime_fr(half_day.deadline)} : "
            "il n'est plus possible d'envoyer ou de modifier une proposition."
        )
    return "L'appel à propositions est clos : il n'est plus possible d'envoyer ou de modifier une proposition."


def management_url(half_day: HalfDay, secret: str) -> str:
    base_url = current_app.config["PUBLIC_BASE_URL"]
    return f"{base_url}/rencontres/{half_day.school_year}/propositions/{secret}"


# --- the rules a proposal's content must meet -------------------------------------------------


def check(half_day: HalfDay, data: ProposalData) -> None:
    """Raise Refused (with the field) when the proposal breaks a rule of this half-day."""
    if not data.presenters:
        raise Refused("Indiquez le nom d'au moins une personne qui présente.", "intervenants")
    if len(data.presenters) > MAX_PRESENTERS:
        raise Refused(
            f"{MAX_PRESENTERS} personnes au plus peuvent présenter une proposition (un nom par ligne).",
            "intervenants",
        )
    if len(data.summary) > MAX_SUMMARY_LENGTH:
        raise Refused(
            f"Le résumé ne peut dépasser {_count(MAX_SUMMARY_LENGTH)} caractères.", "resume"
        )
    if not valid_id(data.topic_id) or db.session.get(Topic, data.topic_id) is None:
        raise Refused("Choisissez un thème de la liste.", "theme")
    check_availability(half_day, data.format, data.available_from, data.available_until)


def check_availability(
    half_day: HalfDay, form: ContributionFormat, arrival: time | None, departure: time | None
) -> None:
    """Raise Refused when "arrive after" / "leave at" fall outside the half-day's hours or its
    grid, leave before arriving, or leave less time than the format lasts."""
    start, end = local_time(half_day.starts_at), local_time(half_day.ends_at)
    if arrival is not None and arrival not in arrival_choices(half_day):
        raise Refused(
            f"L'heure d'arrivée doit être pendant la demi-journée, entre {clock_fr(start)} et "
            f"{clock_fr(_minus(end))}, par pas de {GRID_MINUTES} minutes.",
            "arrivee",
        )
    if departure is not None and departure not in departure_choices(half_day):
        raise Refused(
            f"L'heure de départ doit être pendant la demi-journée, entre {clock_fr(_plus(start))} et "
            f"{clock_fr(end)}, par pas de {GRID_MINUTES} minutes.",
            "depart",
        )
    window_start, window_end = arrival or start, departure or end
    if window_end <= window_start:
        raise Refused(
            f"Vous partez ({clock_fr(window_end)}) avant d'arriver ({clock_fr(window_start)}) : "
            "l'heure de départ doit être après l'heure d'arrivée.",
            "depart",
        )
    if _minutes(window_end) - _minutes(window_start) < form.minutes:
        raise Refused(
            f"De {clock_fr(window_start)} à {clock_fr(window_end)}, vous n'êtes pas disponible assez "
            f"longtemps pour une intervention de {form.minutes} minutes "
            f"({form.short_title.lower()}) : élargissez vos disponibilités ou choisissez un "
            "format plus court.",
            "depart" if departure is not None else "arrivee",
        )


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _plus(moment: time) -> time:
    total = _minutes(moment) + GRID_MINUTES
    return time(total // 60, total % 60)


def _minus(moment: time) -> time:
    total = _minutes(moment) - GRID_MINUTES
    return time(total // 60, total % 60)


def _count(number: int) -> str:
    """2000 → "2 000" (French thousands, with a no-break space)."""
    return f"{number:,}".replace(",", "\u00a0")


def _same_title(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


# --- submitting, editing, withdrawing (the presenter) ------------------------------------------


def submit(half_day: HalfDay, data: ProposalData) -> tuple[Contribution, str]:
    """Record a proposal (submitted), its management token and the acknowledgement mail, in one
    transaction. Returns the proposal and the token's secret.

    Raises CallClosed, or Refused — also for a second proposal of the same title from the same
    address (a double click, or the form sent again): the first one stands.
    """
    half_day = _lock_half_day(half_day.id)
    try:
        if not call_is_open(half_day):
            raise CallClosed(closed_reason(half_day))
        check(half_day, data)
        _refuse_duplicate(half_day, data.email, data.title)
    except (CallClosed, Refused):
        db.session.rollback()
        raise
    contribution = Contribution(
        half_day=half_day, email=data.email, status=ContributionStatus.submitted
    )
    _apply(contribution, data)
    db.session.add(contribution)
    db.session.flush()
    secret = tokens.mint(TokenPurpose.exchange_proposal, contribution.id)
    _queue(contribution, "proposal_received", "Proposition reçue : {title}", secret)
    db.session.commit()
    return contribution, secret


def update(contribution: Contribution, data: ProposalData) -> list[str]:
    """Change a proposal from its presenter's page, until the deadline; returns the names of the
    fields that changed (none: nothing written). The decision stays; a change after it is in the
    audit log, for the coordinators. Raises CallClosed or Refused."""
    half_day, contribution = _lock_contribution(contribution.id)
    try:
        if contribution.status is ContributionStatus.withdrawn:
            raise Refused("Cette proposition a été retirée : elle ne peut plus être modifiée.")
        if not call_is_open(half_day):
            raise CallClosed(closed_reason(half_day))
        check(half_day, data)
        _refuse_duplicate(half_day, contribution.email, data.title, other_than=contribution.id)
    except (CallClosed, Refused):
        db.session.rollback()
        raise
    before = _values(contribution)
    _apply(contribution, data)
    after = _values(contribution)
    changed = [name for name in before if before[name] != after[name]]
    if not changed:
        db.session.rollback()
        return []
    if contribution.status in (ContributionStatus.accepted, ContributionStatus.declined):
        entry = audit.record(
            None,
            PRESENTER_EDIT,
            "contribution",
            contribution.id,
            f"Proposition « {contribution.title} » modifiée par son auteur après l'examen "
            f"({contribution.status.title.lower()}) : {', '.join(FIELD_LABELS[n] for n in changed)}",
            **{name: {"avant": before[name], "après": after[name]} for name in changed},
        )
        entry.actor_name = f"{contribution.email} (lien de la proposition)"
    db.session.commit()
    return changed


def withdraw(contribution: Contribution) -> bool:
    """Withdraw a proposal, until the half-day starts: its draft agenda slot goes too (the next
    publication drops it), and the presenter gets a confirmation. Returns False when it was
    already withdrawn (nothing changed, nothing sent). Raises Refused once the half-day started."""
    half_day, contribution = _lock_contribution(contribution.id)
    if contribution.status is ContributionStatus.withdrawn:
        db.session.rollback()
        return False
    if now() >= half_day.starts_at:
        db.session.rollback()
        raise Refused("La demi-journée a commencé : la proposition ne peut plus être retirée.")
    contribution.status = ContributionStatus.withdrawn
    contribution.withdrawn_at = now()
    _delete_draft_slot(contribution)
    _queue(contribution, "proposal_withdrawn", "Proposition retirée : {title}", None)
    db.session.commit()
    return True


# --- the review (coordinators) -----------------------------------------------------------------


def decide(contribution: Contribution, accepted: bool, message: str, actor: StaffUser) -> Decision:
    """Accept or decline a proposal with a message (required to decline), mail it to the
    presenter with a fresh management link, and log it — one transaction. The same decision
    twice (a double click) changes nothing and sends nothing. Declining an accepted proposal
    removes it from the draft agenda. Raises Refused (withdrawn, half-day started, no message)."""
    message = (message or "").replace("\r\n", "\n").strip()
    status = ContributionStatus.accepted if accepted else ContributionStatus.declined
    half_day, contribution = _lock_contribution(contribution.id)
    try:
        refusal = review_refusal(contribution)
        if refusal:
            raise Refused(refusal)
        if contribution.status is status:
            db.session.rollback()
            return Decision(contribution, changed=False)
        if not accepted and not message:
            raise Refused(
                "Indiquez au proposant pourquoi sa proposition n'est pas retenue.", "message"
            )
        if len(message) > MAX_MESSAGE_LENGTH:
            raise Refused(
                f"Le message ne peut dépasser {_count(MAX_MESSAGE_LENGTH)} caractères.", "message"
            )
    except Refused:
        db.session.rollback()
        raise
    previous = contribution.status
    contribution.status = status
    contribution.review_message = message
    contribution.reviewed_at = now()
    if not accepted:
        _delete_draft_slot(contribution)
    verb = "acceptée" if accepted else "non retenue"
    audit.record(
        actor,
        "contribution.accept" if accepted else "contribution.decline",
        "contribution",
        contribution.id,
        f"Proposition « {contribution.title} » {verb}"
        + (
            f" (elle était {previous.title.lower()})"
            if previous is not ContributionStatus.submitted
            else ""
        ),
        status={"avant": previous.value, "après": status.value},
        message=message,
    )
    secret = tokens.mint(TokenPurpose.exchange_proposal, contribution.id)
    if accepted:
        _queue(contribution, "review_accepted", "Votre proposition est retenue : {title}", secret)
    else:
        _queue(
            contribution, "review_declined", "Votre proposition n'est pas retenue : {title}", secret
        )
    db.session.commit()
    return Decision(contribution, changed=True)


# --- helpers -----------------------------------------------------------------------------------

FIELD_LABELS = {
    "presenters": "intervenants",
    "organisation": "organisation",
    "title": "titre",
    "summary": "résumé",
    "format": "format",
    "topic_id": "thème",
    "level": "niveau",
    "needs_names": "besoins",
    "available_from": "arrivée",
    "available_until": "départ",
}


def _apply(contribution: Contribution, data: ProposalData) -> None:
    contribution.presenters = "\n".join(data.presenters)
    contribution.organisation = data.organisation
    contribution.title = data.title
    contribution.summary = data.summary
    contribution.format = data.format
    contribution.topic_id = data.topic_id
    contribution.topic = db.session.get(Topic, data.topic_id)
    contribution.level = data.level
    contribution.needs = data.needs
    contribution.available_from = data.available_from
    contribution.available_until = data.available_until


def _values(contribution: Contribution) -> dict[str, str]:
    """The editable fields as text, to compare and to log."""

    def text(value) -> str:
        if value is None:
            return ""
        if isinstance(value, time):
            return value.strftime("%H:%M")
        return str(getattr(value, "value", value))

    return {name: text(getattr(contribution, name)) for name in FIELD_LABELS}


def _refuse_duplicate(
    half_day: HalfDay, email: str, title: str, other_than: int | None = None
) -> None:
    """The same address may not hold two live proposals of the same title (a double click)."""
    titles = db.session.execute(
        sa.select(Contribution.id, Contribution.title).where(
            Contribution.half_day_id == half_day.id,
            Contribution.email == email,
            Contribution.status != ContributionStatus.withdrawn,
        )
    )
    if any(_same_title(existing, title) for row_id, existing in titles if row_id != other_than):
        raise Refused(
            f"Vous avez déjà envoyé une proposition intitulée « {title} » avec l'adresse {email} : "
            "elle est bien enregistrée. Le courriel d'accusé de réception contient le lien pour la "
            "modifier ; pour une autre proposition, choisissez un autre titre.",
            "titre",
        )


def _lock_half_day(half_day_id: int) -> HalfDay:
    try:
        return lock_half_day(half_day_id)
    except HalfDayNotFound:
        raise ProposalNotFound() from None


def _lock_contribution(contribution_id: int) -> tuple[HalfDay, Contribution]:
    """Lock the proposal's half-day (agenda builds lock it too), then re-read the proposal."""
    half_day_id = db.session.scalar(
        sa.select(Contribution.half_day_id).where(Contribution.id == contribution_id)
    )
    if half_day_id is None:
        raise ProposalNotFound()
    half_day = _lock_half_day(half_day_id)
    contribution = db.session.scalar(
        sa.select(Contribution)
        .where(Contribution.id == contribution_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return half_day, contribution


def _delete_draft_slot(contribution: Contribution) -> None:
    db.session.execute(
        sa.delete(AgendaSlot).where(
            AgendaSlot.contribution_id == contribution.id, AgendaSlot.version_id.is_(None)
        )
    )


def _queue(contribution: Contribution, template: str, subject: str, secret: str | None) -> None:
    half_day = contribution.half_day
    base_url = current_app.config["PUBLIC_BASE_URL"]
    mail.queue(
        f"exchange/{template}",
        contribution.email,
        subject.format(title=contribution.title),
        about=contribution,
        contribution=contribution,
        half_day=half_day,
        day=date_fr(half_day.starts_at),
        manage_url=management_url(half_day, secret) if secret else None,
        call_url=f"{base_url}/rencontres/{half_day.school_year}/proposer",
        half_day_url=f"{base_url}/rencontres/{half_day.school_year}",
        deadline=datetime_fr(half_day.deadline),
        editable=call_is_open(half_day),
    )
