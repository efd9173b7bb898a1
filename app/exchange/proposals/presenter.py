"""What a presenter does through the proposal's secret link: submit it, change it until the
deadline, withdraw it until the half-day starts."""

from datetime import time

from app import tokens
from app.catalog.models import Topic
from app.clock import now
from app.exchange.models import Contribution, ContributionStatus, HalfDay
from app.exchange.proposals.access import delete_draft_slot, lock, lock_contribution
from app.exchange.proposals.data import (
    FIELD_LABELS,
    PRESENTER_EDIT,
    CallClosed,
    ProposalData,
    ProposalRefused,
)
from app.exchange.proposals.mails import queue
from app.exchange.proposals.rules import check, closed_reason, refuse_duplicate
from app.exchange.services import call_is_open
from app.extensions import db
from app.staff import audit
from app.tokens import TokenPurpose


def submit(half_day: HalfDay, data: ProposalData) -> tuple[Contribution, str]:
    """Record a proposal (submitted), its management token and the acknowledgement mail, in one
    transaction. Returns the proposal and the token's secret.

    Raises CallClosed, or ProposalRefused — also for a second proposal of the same title from
    the same address (a double click, or the form sent again): the first one stands.
    """
    half_day = lock(half_day.id)
    try:
        if not call_is_open(half_day):
            raise CallClosed(closed_reason(half_day))
        check(half_day, data)
        refuse_duplicate(half_day, data.email, data.title)
    except (CallClosed, ProposalRefused):
        db.session.rollback()
        raise
    contribution = Contribution(
        half_day=half_day, email=data.email, status=ContributionStatus.submitted
    )
    _apply(contribution, data)
    db.session.add(contribution)
    db.session.flush()
    secret = tokens.mint(TokenPurpose.exchange_proposal, contribution.id)
    queue(contribution, "proposal_received", "Proposition reçue : {title}", secret)
    db.session.commit()
    return contribution, secret


def update(contribution: Contribution, data: ProposalData) -> list[str]:
    """Change a proposal from its presenter's page, until the deadline; returns the names of the
    fields that changed (none: nothing written). The decision stays; a change after it is in the
    audit log, for the coordinators. Raises CallClosed or ProposalRefused."""
    half_day, contribution = lock_contribution(contribution.id)
    try:
        if contribution.status is ContributionStatus.withdrawn:
            raise ProposalRefused(
                "Cette proposition a été retirée : elle ne peut plus être modifiée."
            )
        if not call_is_open(half_day):
            raise CallClosed(closed_reason(half_day))
        check(half_day, data)
        refuse_duplicate(half_day, contribution.email, data.title, other_than=contribution.id)
    except (CallClosed, ProposalRefused):
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
    already withdrawn (nothing changed, nothing sent). Raises ProposalRefused once the half-day
    started."""
    half_day, contribution = lock_contribution(contribution.id)
    if contribution.status is ContributionStatus.withdrawn:
        db.session.rollback()
        return False
    if now() >= half_day.starts_at:
        db.session.rollback()
        raise ProposalRefused(
            "La demi-journée a commencé : la proposition ne peut plus être retirée."
        )
    contribution.status = ContributionStatus.withdrawn
    contribution.withdrawn_at = now()
    delete_draft_slot(contribution)
    queue(contribution, "proposal_withdrawn", "Proposition retirée : {title}", None)
    db.session.commit()
    return True


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
