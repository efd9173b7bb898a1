"""The coordinators' review: the half-day's proposals filtered and counted, each one's history,
and the decision mailed to its presenter."""

import json
from collections import Counter
from dataclasses import dataclass, fields
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app import tokens
from app.catalog.models import Level
from app.clock import now
from app.exchange.models import (
    Contribution,
    ContributionFormat,
    ContributionStatus,
    Equipment,
    HalfDay,
)
from app.exchange.proposals.access import delete_draft_slot, lock_contribution
from app.exchange.proposals.data import (
    FIELD_LABELS,
    MAX_MESSAGE_LENGTH,
    PRESENTER_EDIT,
    Decision,
    ProposalRefused,
)
from app.exchange.proposals.mails import queue
from app.exchange.proposals.rules import review_refusal
from app.extensions import db
from app.formatting import count_fr
from app.staff import audit
from app.staff.models import AuditEntry, StaffUser
from app.tokens import TokenPurpose


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


def decide(contribution: Contribution, accepted: bool, message: str, actor: StaffUser) -> Decision:
    """Accept or decline a proposal with a message (required to decline), mail it to the
    presenter with a fresh management link, and log it — one transaction. The same decision
    twice (a double click) changes nothing and sends nothing. Declining an accepted proposal
    removes it from the draft agenda. Raises ProposalRefused (withdrawn, half-day started, no
    message)."""
    message = (message or "").replace("\r\n", "\n").strip()
    status = ContributionStatus.accepted if accepted else ContributionStatus.declined
    half_day, contribution = lock_contribution(contribution.id)
    try:
        refusal = review_refusal(contribution)
        if refusal:
            raise ProposalRefused(refusal)
        if contribution.status is status:
            db.session.rollback()
            return Decision(contribution, changed=False)
        if not accepted and not message:
            raise ProposalRefused(
                "Indiquez au proposant pourquoi sa proposition n'est pas retenue.", "message"
            )
        if len(message) > MAX_MESSAGE_LENGTH:
            raise ProposalRefused(
                f"Le message ne peut dépasser {count_fr(MAX_MESSAGE_LENGTH)} caractères.",
                "message",
            )
    except ProposalRefused:
        db.session.rollback()
        raise
    previous = contribution.status
    contribution.status = status
    contribution.review_message = message
    contribution.reviewed_at = now()
    if not accepted:
        delete_draft_slot(contribution)
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
        queue(contribution, "review_accepted", "Votre proposition est retenue : {title}", secret)
    else:
        queue(
            contribution, "review_declined", "Votre proposition n'est pas retenue : {title}", secret
        )
    db.session.commit()
    return Decision(contribution, changed=True)
