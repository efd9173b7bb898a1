"""What anonymising a person means, for every kind of row that names one (a workshop's
registrations, the half-day's attendees and contributions), once the retention period is over
(`PERSONAL_DATA_RETENTION_DAYS` after the session ended).

The pseudonym is an HMAC of the address under the app's secret key: the same teacher keeps one
pseudonym, so "distinct teachers" in past years' figures stays right, while the address cannot
be read back (only confirmed by someone holding both the secret key and a guessed address).
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app import tokens
from app.clock import now
from app.extensions import db
from app.mail import services as mail

ANONYMOUS_DOMAIN = "anonyme.invalid"
ANONYMOUS_FIRST_NAME = "Personne"
ANONYMOUS_LAST_NAME = "anonymisée"


def cutoff() -> datetime:
    """Sessions that ended before this moment are past the retention period."""
    return now() - timedelta(days=current_app.config["PERSONAL_DATA_RETENTION_DAYS"])


def pseudonym(email: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, email.encode(), hashlib.sha256).hexdigest()[:24]
    return f"anonyme-{digest}@{ANONYMOUS_DOMAIN}"


def not_anonymised(email_column):
    """The clause that keeps only rows still holding a real address: an anonymised row is
    never due again, so every sweep is idempotent."""
    return email_column.not_like(f"%@{ANONYMOUS_DOMAIN}")


@dataclass
class RetentionReport:
    #: Rows anonymised: registrations, exchange attendees and contributions.
    people: int = 0
    mails: int = 0

    def __str__(self) -> str:
        return f"{self.people} people anonymised, {self.mails} mails emptied"

    def add(self, other: "RetentionReport") -> None:
        self.people += other.people
        self.mails += other.mails

    def __bool__(self) -> bool:
        return bool(self.people)


def anonymise(kind: str, rows: list, purposes, report: RetentionReport) -> list[int]:
    """Give the rows (their names already replaced by the caller) pseudonymous addresses, revoke
    their links of these token purposes and empty the mails about them, in the caller's
    transaction; counted in `report`. Returns the rows' ids."""
    pseudonyms = {row.id: pseudonym(row.email) for row in rows}
    for row in rows:
        row.email = pseudonyms[row.id]
    ids = list(pseudonyms)
    db.session.flush()
    db.session.execute(
        sa.update(tokens.Token)
        .where(
            tokens.Token.purpose.in_(purposes),
            tokens.Token.owner_id.in_(ids),
            tokens.Token.revoked_at.is_(None),
        )
        .values(revoked_at=now())
        .execution_options(synchronize_session=False)
    )
    report.mails += mail.forget(kind, ids, pseudonyms)
    report.people += len(rows)
    return ids
