"""Rule 11 for the exchange half-day: the same retention period as the workshops, counted from
the end of the half-day. Attendees lose their names and addresses; contributions keep their
title, summary and organisation (the programme as it was) but lose the presenters' names and
address; every link (management tokens) is revoked and the mails about them are emptied."""

from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app import tokens
from app.booking.retention import (
    ANONYMOUS_DOMAIN,
    ANONYMOUS_FIRST_NAME,
    ANONYMOUS_LAST_NAME,
    RetentionReport,
    pseudonym,
)
from app.clock import now
from app.database import begin_write
from app.exchange.models import Attendee, Contribution, HalfDay
from app.extensions import db
from app.mail import services as mail

ANONYMOUS_PRESENTERS = "Intervenant·e anonymisé·e"


def anonymise_due(
    *, before_commit: Callable[[str, list[int]], None] | None = None
) -> RetentionReport:
    """Anonymise the attendees and contributions of half-days over for longer than the period.

    `before_commit(kind, ids)` runs inside the transaction ("attendee" or "contribution"), for
    the audit log to forget them too. Idempotent: anonymised rows are never due again.
    """
    report = RetentionReport()
    cutoff = now() - timedelta(days=current_app.config["PERSONAL_DATA_RETENTION_DAYS"])
    over = sa.select(HalfDay.id).where(HalfDay.ends_at < cutoff)
    not_done = f"%@{ANONYMOUS_DOMAIN}"
    begin_write()
    people = list(
        db.session.scalars(
            sa.select(Attendee).where(
                Attendee.half_day_id.in_(over), Attendee.email.not_like(not_done)
            )
        )
    )
    proposals = list(
        db.session.scalars(
            sa.select(Contribution).where(
                Contribution.half_day_id.in_(over), Contribution.email.not_like(not_done)
            )
        )
    )
    if not people and not proposals:
        db.session.rollback()
        return report
    for kind, rows, purpose in (
        ("attendee", people, tokens.TokenPurpose.exchange_attendee),
        ("contribution", proposals, tokens.TokenPurpose.exchange_proposal),
    ):
        if not rows:
            continue
        ids = _anonymise(kind, rows, purpose, report)
        if before_commit is not None:
            before_commit(kind, ids)
    db.session.commit()
    return report


def _anonymise(
    kind: str, rows: list, purpose: tokens.TokenPurpose, report: RetentionReport
) -> list[int]:
    """Replace the rows' names and addresses by pseudonyms, revoke their links and empty the
    mails about them (counted in `report`); returns their ids."""
    pseudonyms = {row.id: pseudonym(row.email) for row in rows}
    for row in rows:
        row.email = pseudonyms[row.id]
        if kind == "attendee":
            row.first_name, row.last_name = ANONYMOUS_FIRST_NAME, ANONYMOUS_LAST_NAME
        else:
            row.presenters = ANONYMOUS_PRESENTERS
    ids = list(pseudonyms)
    db.session.flush()
    db.session.execute(
        sa.update(tokens.Token)
        .where(
            tokens.Token.purpose == purpose,
            tokens.Token.owner_id.in_(ids),
            tokens.Token.revoked_at.is_(None),
        )
        .values(revoked_at=now())
        .execution_options(synchronize_session=False)
    )
    report.mails += mail.forget(kind, ids, pseudonyms)
    report.people += len(rows)
    return ids
