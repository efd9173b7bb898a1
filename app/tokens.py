"""Secret links: 32 random bytes, URL-safe, stored only as a SHA-256 digest.

One purpose per token (managing a registration, reading a personal calendar…), several live
tokens per owner (re-sending a link mints a new one and leaves the first alive), revocable.
The owner is the row of the table the purpose implies (a registration for `manage`).
"""

import hashlib
import re
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.database import UTCDateTime
from app.enums import TitledEnum, enum_column
from app.extensions import db

#: What `secrets.token_urlsafe(32)` produces; anything else is refused before any query.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


class TokenPurpose(TitledEnum):
    manage_registration = ("manage", "Gérer une inscription")
    personal_feed = ("feed", "Calendrier personnel")
    trainer_feed = ("trainer-feed", "Calendrier d'un formateur")
    password_reset = ("password-reset", "Réinitialiser un mot de passe")
    questionnaire = ("questionnaire", "Questionnaire après un atelier")
    exchange_proposal = ("exchange-proposal", "Gérer une proposition aux Rencontres")
    exchange_attendee = ("exchange-attendee", "Gérer une inscription aux Rencontres")
    staff_session = ("staff-session", "Session de connexion du personnel")


class Token(db.Model):
    """A link's secret, by digest; the secret itself is only ever in the mail that carries it."""

    __tablename__ = "tokens"
    __table_args__ = (sa.Index("ix_tokens_purpose_owner_id", "purpose", "owner_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: SHA-256 of the secret, hex.
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    purpose: Mapped[TokenPurpose] = enum_column(TokenPurpose)
    #: Id of the row this token opens: a registration for `manage`, `feed` and `questionnaire`, a
    #: trainer for `trainer-feed`, a staff account for `password-reset`, a contribution for
    #: `exchange-proposal`, an exchange attendee for `exchange-attendee`, a staff account for
    #: `staff-session` (one per login: its secret is the session cookie's login id).
    owner_id: Mapped[int]
    created_at = mapped_column(UTCDateTime, nullable=False, default=now)
    revoked_at = mapped_column(UTCDateTime, nullable=True)

    def __repr__(self) -> str:
        return f"<Token {self.purpose.value} for {self.owner_id}>"


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def mint(purpose: TokenPurpose, owner_id: int) -> str:
    """Create a token and return its secret, to be put in a link; only its digest is kept."""
    secret = secrets.token_urlsafe(32)
    db.session.add(Token(digest=digest_of(secret), purpose=purpose, owner_id=owner_id))
    return secret


def resolve(purpose: TokenPurpose, secret: str) -> Token | None:
    """The live token for this secret and purpose, or None (malformed, unknown, revoked)."""
    if not TOKEN_PATTERN.fullmatch(secret or ""):
        return None
    token = db.session.scalar(sa.select(Token).where(Token.digest == digest_of(secret)))
    if token is None or token.purpose is not purpose or token.revoked_at is not None:
        return None
    return token


def revoke(purpose: TokenPurpose, secret: str) -> None:
    """End this one token (a logout), if it is live."""
    if TOKEN_PATTERN.fullmatch(secret or ""):
        db.session.execute(
            sa.update(Token)
            .where(Token.digest == digest_of(secret), Token.purpose == purpose)
            .where(Token.revoked_at.is_(None))
            .values(revoked_at=now())
        )


def revoke_all(purpose: TokenPurpose, owner_id: int) -> None:
    db.session.execute(
        sa.update(Token)
        .where(Token.purpose == purpose, Token.owner_id == owner_id, Token.revoked_at.is_(None))
        .values(revoked_at=now())
    )
