"""Personal data is kept for a set period (`PERSONAL_DATA_RETENTION_DAYS` after the
workshop ended), then anonymised by the scheduler's daily sweep.

What goes: names (the registration then reads "Personne anonymisée"), the e-mail address (kept
as a pseudonym, see below), the live links (management, personal feed and questionnaire tokens
revoked), the mails' recipients, bodies and attachments, the personal feed's cache state.
What stays: the school and its UAI code (institutional, counted by the committee's figures),
statuses, attendance, hours and certificate codes, questionnaire answers (which hold no name).

The pseudonym is an HMAC of the address under the app's secret key: the same teacher keeps one
pseudonym, so "distinct teachers" in past years' figures stays right, while the address cannot
be read back (only confirmed by someone holding both the secret key and a guessed address).
"""

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app import tokens
from app.booking.feeds import feed_key
from app.booking.models import Registration
from app.calendars.models import FeedState
from app.catalog.models import Workshop
from app.clock import now
from app.database import begin_write
from app.extensions import db
from app.mail import services as mail

ANONYMOUS_DOMAIN = "anonyme.invalid"
ANONYMOUS_FIRST_NAME = "Personne"
ANONYMOUS_LAST_NAME = "anonymisée"
#: Registrations anonymised per transaction; the sweep goes on until none is due.
BATCH = 500
REVOKED_PURPOSES = (
    tokens.TokenPurpose.manage_registration,
    tokens.TokenPurpose.personal_feed,
    tokens.TokenPurpose.questionnaire,
)


def pseudonym(email: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, email.encode(), hashlib.sha256).hexdigest()[:24]
    return f"anonyme-{digest}@{ANONYMOUS_DOMAIN}"


def is_anonymised(registration: Registration) -> bool:
    return registration.email.endswith("@" + ANONYMOUS_DOMAIN)


@dataclass
class RetentionReport:
    #: Rows anonymised: registrations (and, in the sweep's total, exchange attendees and
    #: contributions).
    people: int = 0
    mails: int = 0

    def __str__(self) -> str:
        return f"{self.people} people anonymised, {self.mails} mails emptied"

    def add(self, other: "RetentionReport") -> None:
        self.people += other.people
        self.mails += other.mails

    def __bool__(self) -> bool:
        return bool(self.people)


def anonymise_due(*, before_commit: Callable[[list[int]], None] | None = None) -> RetentionReport:
    """Anonymise every registration whose workshop ended more than the retention period ago.

    `before_commit(ids)` runs inside each batch's transaction (the audit log forgets the names
    it wrote about these registrations). Idempotent: an anonymised row is never due again.
    """
    report = RetentionReport()
    cutoff = now() - timedelta(days=current_app.config["PERSONAL_DATA_RETENTION_DAYS"])
    while True:
        begin_write()
        due = list(
            db.session.scalars(
                sa.select(Registration)
                .join(Registration.workshop)
                .where(
                    Workshop.ends_at < cutoff,
                    Registration.email.not_like(f"%@{ANONYMOUS_DOMAIN}"),
                )
                .order_by(Registration.id)
                .limit(BATCH)
            )
        )
        if not due:
            db.session.rollback()
            return report
        report.mails += _anonymise(due)
        ids = [registration.id for registration in due]
        if before_commit is not None:
            before_commit(ids)
        db.session.commit()
        report.people += len(due)


def _anonymise(due: list[Registration]) -> int:
    ids = [registration.id for registration in due]
    addresses = {registration.email for registration in due}
    pseudonyms = {}
    for registration in due:
        pseudonyms[registration.id] = pseudonym(registration.email)
        registration.first_name = ANONYMOUS_FIRST_NAME
        registration.last_name = ANONYMOUS_LAST_NAME
        registration.email = pseudonyms[registration.id]
    db.session.flush()
    db.session.execute(
        sa.update(tokens.Token)
        .where(
            tokens.Token.purpose.in_(REVOKED_PURPOSES),
            tokens.Token.owner_id.in_(ids),
            tokens.Token.revoked_at.is_(None),
        )
        .values(revoked_at=now())
        .execution_options(synchronize_session=False)
    )
    # A personal feed's state goes with the last registration of its address.
    still_used = set(
        db.session.scalars(
            sa.select(Registration.email).where(Registration.email.in_(addresses)).distinct()
        )
    )
    gone = [feed_key(address) for address in addresses - still_used]
    if gone:
        db.session.execute(sa.delete(FeedState).where(FeedState.key.in_(gone)))
    return mail.forget("registration", ids, pseudonyms)
