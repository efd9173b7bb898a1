"""Personal data of the exchange half-day: the same retention period as the workshops, counted
from the end of the half-day. Attendees lose their names and addresses; contributions keep their
title, summary and organisation (the programme as it was) but lose the presenters' names and
address; every link (management tokens) is revoked and the mails about them are emptied. What
anonymising means is `app.seats.retention`'s."""

import sqlalchemy as sa

from app import tokens
from app.database import begin_write
from app.exchange.models import Attendee, Contribution, HalfDay
from app.extensions import db
from app.seats.retention import (
    ANONYMOUS_FIRST_NAME,
    ANONYMOUS_LAST_NAME,
    RetentionReport,
    anonymise,
    cutoff,
    not_anonymised,
)
from app.staff import audit

ANONYMOUS_PRESENTERS = "Intervenant·e anonymisé·e"


def anonymise_due() -> RetentionReport:
    """Anonymise the attendees and contributions of half-days over for longer than the period,
    in one transaction with the audit log forgetting the names it wrote about them. Idempotent:
    anonymised rows are never due again."""
    report = RetentionReport()
    over = sa.select(HalfDay.id).where(HalfDay.ends_at < cutoff())
    begin_write()
    people = list(
        db.session.scalars(
            sa.select(Attendee).where(
                Attendee.half_day_id.in_(over), not_anonymised(Attendee.email)
            )
        )
    )
    proposals = list(
        db.session.scalars(
            sa.select(Contribution).where(
                Contribution.half_day_id.in_(over), not_anonymised(Contribution.email)
            )
        )
    )
    if not people and not proposals:
        db.session.rollback()
        return report
    for person in people:
        person.first_name, person.last_name = ANONYMOUS_FIRST_NAME, ANONYMOUS_LAST_NAME
    for proposal in proposals:
        proposal.presenters = ANONYMOUS_PRESENTERS
    for kind, rows, purpose in (
        ("attendee", people, tokens.TokenPurpose.exchange_attendee),
        ("contribution", proposals, tokens.TokenPurpose.exchange_proposal),
    ):
        if rows:
            audit.forget(kind, anonymise(kind, rows, [purpose], report))
    db.session.commit()
    return report
