"""What a proposal holds, as the presenter types it and as the audit log names it; the limits of
its fields; and the refusals of its services."""

from dataclasses import dataclass
from datetime import time

import sqlalchemy as sa

from app.catalog.models import Level, Topic
from app.errors import NotFound, Refused
from app.exchange.models import Contribution, ContributionFormat, Equipment
from app.extensions import db

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


class ProposalNotFound(NotFound):
    """The link opens no proposal (unknown, revoked or malformed token, or another year's)."""


class CallClosed(Refused):
    """The call is closed (deadline passed, or the half-day moved on); `str()` says so in French."""


class ProposalRefused(Refused):
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


#: The fields a presenter may change, by the French names the audit log and the history show.
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


def topics() -> list[Topic]:
    """The catalogue's topics a proposal may choose, by name."""
    return list(db.session.scalars(sa.select(Topic).order_by(Topic.name)))
