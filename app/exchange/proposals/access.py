"""Finding a proposal (by its presenter's link, by id, within a half-day), locking it for a
change, and dropping it from the draft agenda."""

import sqlalchemy as sa

from app import tokens
from app.database import get_by_id
from app.exchange.models import AgendaSlot, Contribution, HalfDay
from app.exchange.proposals.data import ProposalNotFound
from app.exchange.services import HalfDayNotFound, lock_half_day
from app.extensions import db
from app.tokens import TokenPurpose


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


def lock(half_day_id: int) -> HalfDay:
    """Begin the change's write transaction with the half-day row locked; a half-day gone
    meanwhile opens no proposal."""
    try:
        return lock_half_day(half_day_id)
    except HalfDayNotFound:
        raise ProposalNotFound() from None


def lock_contribution(contribution_id: int) -> tuple[HalfDay, Contribution]:
    """Lock the proposal's half-day (agenda builds lock it too), then re-read the proposal."""
    half_day_id = db.session.scalar(
        sa.select(Contribution.half_day_id).where(Contribution.id == contribution_id)
    )
    if half_day_id is None:
        raise ProposalNotFound()
    half_day = lock(half_day_id)
    contribution = db.session.scalar(
        sa.select(Contribution)
        .where(Contribution.id == contribution_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return half_day, contribution


def delete_draft_slot(contribution: Contribution) -> None:
    """A proposal withdrawn or declined leaves the draft; the published versions keep it as
    published until the next publication."""
    db.session.execute(
        sa.delete(AgendaSlot).where(
            AgendaSlot.contribution_id == contribution.id, AgendaSlot.version_id.is_(None)
        )
    )
