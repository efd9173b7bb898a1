"""Personal data is kept for a set period (`PERSONAL_DATA_RETENTION_DAYS` after the
workshop ended), then anonymised by the scheduler's daily sweep.

What goes: names (the registration then reads "Personne anonymisée"), the e-mail address (kept
as a pseudonym, see below), the live links (management, personal feed and questionnaire tokens
revoked), the mails' recipients, bodies and attachments, the personal feed's cache state.
What stays: the school and its UAI code (institutional, counted by the committee's figures),
statuses, attendance, hours and certificate codes, questionnaire answers (which hold no name).
The address's pseudonym and the rest of what anonymising means are `app.seats.retention`'s.
"""

import sqlalchemy as sa

from app import tokens
from app.booking.feeds import feed_key
from app.booking.models import Registration
from app.calendars.models import FeedState
from app.catalog.models import Workshop
from app.database import begin_write
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

#: Registrations anonymised per transaction; the sweep goes on until none is due.
BATCH = 500
REVOKED_PURPOSES = (
    tokens.TokenPurpose.manage_registration,
    tokens.TokenPurpose.personal_feed,
    tokens.TokenPurpose.questionnaire,
)


def anonymise_due() -> RetentionReport:
    """Anonymise every registration whose workshop ended more than the retention period ago,
    by batches of `BATCH`, each in its own transaction with the audit log forgetting the names
    it wrote about them. Idempotent: an anonymised row is never due again."""
    report = RetentionReport()
    before = cutoff()
    while True:
        begin_write()
        due = list(
            db.session.scalars(
                sa.select(Registration)
                .join(Registration.workshop)
                .where(Workshop.ends_at < before, not_anonymised(Registration.email))
                .order_by(Registration.id)
                .limit(BATCH)
            )
        )
        if not due:
            db.session.rollback()
            return report
        _anonymise(due, report)
        db.session.commit()


def _anonymise(due: list[Registration], report: RetentionReport) -> None:
    addresses = {registration.email for registration in due}
    for registration in due:
        registration.first_name = ANONYMOUS_FIRST_NAME
        registration.last_name = ANONYMOUS_LAST_NAME
    ids = anonymise("registration", due, REVOKED_PURPOSES, report)
    audit.forget("registration", ids)
    # A personal feed's state goes with the last registration of its address.
    still_used = set(
        db.session.scalars(
            sa.select(Registration.email).where(Registration.email.in_(addresses)).distinct()
        )
    )
    gone = [feed_key(address) for address in addresses - still_used]
    if gone:
        db.session.execute(sa.delete(FeedState).where(FeedState.key.in_(gone)))
