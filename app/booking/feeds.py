"""A teacher's personal calendar: the active registrations of their e-mail address, behind a
read-only token of its own (purpose `feed`, owned by a registration), revocable and renewable
from the management page.

Booking chooses the registrations and hands their workshops, with plain values (UID, sequence,
status), to `app.calendars`, which knows nothing of registrations.

Waiting registrations are in the feed too, as `STATUS:TENTATIVE` with "liste d'attente" after
the title: the teacher keeps the date free until a seat comes or they cancel. A cancelled
registration leaves the feed; a cancelled workshop stays until its date, marked cancelled.
"""

import hashlib

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, joinedload

from app import tokens
from app.booking.models import ACTIVE, Registration, RegistrationStatus
from app.booking.services import RegistrationCancelled, registration_for_token
from app.calendars import services as calendars
from app.calendars.builder import TENTATIVE, build_calendar, event_uid, workshop_event
from app.catalog.models import Room, Workshop, WorkshopStatus
from app.clock import now
from app.database import begin_write
from app.extensions import db
from app.tokens import Token, TokenPurpose

FEED_NAME = "Mes ateliers TICE"
WAITING_NOTE = "liste d'attente"


def feed_path(secret: str) -> str:
    return f"/calendriers/perso/{secret}.ics"


def subscription_links(secret: str) -> calendars.SubscriptionLinks:
    return calendars.subscription_links(feed_path(secret), FEED_NAME)


def personal_feed(secret: str) -> calendars.RenderedFeed | None:
    """The feed a personal token opens, or None (malformed, unknown or revoked token)."""
    email = _email_for_feed_token(secret)
    if email is None:
        return None
    condition = sa.and_(
        Registration.email == email,
        Registration.status.in_(ACTIVE),
        calendars.window_condition(),
    )
    return calendars.cached_feed(
        feed_key(email),
        _stamp(condition),
        lambda: build_calendar([_event(r) for r in _registrations(condition)], name=FEED_NAME),
    )


def feed_key(email: str) -> str:
    """The cache and Last-Modified key of an address's personal feed (no address in clear)."""
    return "perso:" + hashlib.sha256(email.encode()).hexdigest()[:40]


def _email_for_feed_token(secret: str) -> str | None:
    """The e-mail of the registration owning this live feed token: one query."""
    if not tokens.TOKEN_PATTERN.fullmatch(secret or ""):
        return None
    return db.session.scalar(
        sa.select(Registration.email)
        .join(Token, Token.owner_id == Registration.id)
        .where(
            Token.digest == tokens.digest_of(secret),
            Token.purpose == TokenPurpose.personal_feed,
            Token.revoked_at.is_(None),
        )
    )


def _stamp(condition) -> tuple:
    row = db.session.execute(
        sa.select(
            sa.func.count(Registration.id),
            sa.func.max(Registration.updated_at),
            sa.func.sum(Registration.sequence),
            sa.func.max(Workshop.updated_at),
            sa.func.sum(Workshop.sequence),
        )
        .join(Registration.workshop)
        .where(condition)
    ).one()
    return tuple(row)


def _registrations(condition) -> list[Registration]:
    return list(
        db.session.scalars(
            sa.select(Registration)
            .join(Registration.workshop)
            .where(condition)
            .options(
                contains_eager(Registration.workshop).options(
                    joinedload(Workshop.room).joinedload(Room.site),
                    joinedload(Workshop.topic),
                    joinedload(Workshop.trainer),
                )
            )
            .order_by(Workshop.starts_at, Registration.id)
        ).unique()
    )


def _event(registration: Registration):
    waiting = registration.status is RegistrationStatus.waiting
    workshop = registration.workshop
    return workshop_event(
        workshop,
        uid=event_uid("registration", registration.id),
        sequence=registration.sequence,
        status=TENTATIVE if waiting and workshop.status is not WorkshopStatus.cancelled else None,
        note=WAITING_NOTE if waiting else None,
        stamp=max(registration.updated_at, workshop.updated_at),
    )


def live_feed_since(registration: Registration):
    """When this person's live personal feed link was made, or None.

    Only digests are stored, so a link cannot be shown again: the management page says one
    exists and offers a new one (the POST below). Nothing is written on a GET (nothing a mail scanner opens may change anything)."""
    return db.session.scalar(
        sa.select(sa.func.max(Token.created_at)).where(
            Token.purpose == TokenPurpose.personal_feed,
            Token.owner_id.in_(_same_person(registration.email)),
            Token.revoked_at.is_(None),
        )
    )


def _same_person(email: str):
    return sa.select(Registration.id).where(Registration.email == email)


def renew_feed_secret(manage_secret: str) -> tuple[int, str]:
    """Revoke every personal feed token of this e-mail address and mint a new one.

    Returns the registration's id and the new secret; raises RegistrationNotFound for a link
    that opens no registration, RegistrationCancelled for a cancelled one (its person's other
    registrations have links of their own).
    """
    registration = registration_for_token(manage_secret)
    if not registration.is_active:
        raise RegistrationCancelled()
    registration_id, email = registration.id, registration.email
    begin_write()
    db.session.execute(
        sa.update(Token)
        .where(
            Token.purpose == TokenPurpose.personal_feed,
            Token.owner_id.in_(_same_person(email)),
            Token.revoked_at.is_(None),
        )
        .values(revoked_at=now())
        .execution_options(synchronize_session=False)
    )
    secret = tokens.mint(TokenPurpose.personal_feed, registration_id)
    db.session.commit()
    return registration_id, secret
