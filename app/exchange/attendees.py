"""The people attending the exchange half-day: registering in person (a seat) or remotely (the
videoconference link), the waiting list, and the management page's cancelling and switching.
Their mails are `attendee_mails`', the link sent the day before `videoconference`'s, the agenda
they read `published`'s, the coordinators' list `attendee_list`'s.

The in-person seats are the seat ledger's (`app.seats`), as a workshop's are: each decision is
one transaction that first locks the half-day row and only then counts; the waiting list is
first come, first served, gap-free, and a freed seat goes to the first person waiting in the
same transaction — except in the last hours before the start, when the door decides. Remote
attendance is always confirmed: it takes no seat. One active registration per address and
half-day (the partial unique index). Mails go through the outbox, in the transaction they
report.
"""

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app import tokens
from app.clock import now
from app.database import valid_id
from app.errors import NotFound, Refused
from app.exchange.attendee_mails import link_is_due, queue_mail
from app.exchange.models import (
    AttendanceMode,
    Attendee,
    AttendeeStatus,
    HalfDay,
)
from app.exchange.services import HalfDayNotFound
from app.extensions import db
from app.forms import normalise_email
from app.seats.ledger import Ledger, Placement, SeatCount
from app.tokens import TokenPurpose


class RegistrationClosed(Refused):
    """Registration is not possible; `str()` is the French explanation."""


class ChangeRefused(Refused):
    """A change asked from the management page cannot be made; `str()` says why, in French."""


class AttendeeNotFound(NotFound):
    """The link opens no registration (unknown, revoked or malformed token, another year)."""


def _mail_promoted(attendee: Attendee) -> None:
    queue_mail(attendee, "promoted")


#: The half-day's in-person seats.
ATTENDEES = Ledger(
    row=Attendee,
    holder=HalfDay,
    holder_key="half_day_id",
    kind="attendee",
    not_found=HalfDayNotFound,
    proving_mails=frozenset(
        {"exchange/attendee_confirmed", "exchange/attendee_waiting", "exchange/attendee_promoted"}
    ),
    on_promoted=_mail_promoted,
    on_link_requested=lambda attendee: queue_mail(attendee, "manage_link"),
    load=(joinedload(HalfDay.site),),
)


@dataclass(frozen=True)
class AttendeeDetails:
    """What a person types in the form, already validated and normalised."""

    last_name: str
    first_name: str
    email: str
    organisation: str
    mode: AttendanceMode


@dataclass(frozen=True)
class AttendanceCounts:
    """In-person seats (booking's SeatCount: capacity, confirmed, waiting) and remote attendees."""

    seats: SeatCount
    remote: int = 0
    cancelled: int = 0


# --- reading ------------------------------------------------------------------------------------


def closed_reason(half_day: HalfDay) -> str | None:
    """Why registration to attend is closed now, in French, or None while it is open."""
    if now() >= half_day.starts_at:
        return "Les Rencontres ont commencé ou sont passées : les inscriptions sont closes."
    return None


def counts(half_day: HalfDay) -> AttendanceCounts:
    """Seats taken, people waiting and remote attendees, in one query."""
    confirmed, waiting, remote, cancelled = db.session.execute(
        sa.select(
            *ATTENDEES.seat_columns(),
            _count(
                Attendee.status == AttendeeStatus.confirmed, Attendee.mode == AttendanceMode.remote
            ),
            _count(Attendee.status == AttendeeStatus.cancelled),
        ).where(Attendee.half_day_id == half_day.id)
    ).one()
    return AttendanceCounts(SeatCount(half_day.capacity, confirmed, waiting), remote, cancelled)


def _count(*conditions) -> sa.ColumnElement:
    return sa.func.count().filter(sa.and_(*conditions))


def attendees(half_day: HalfDay) -> list[Attendee]:
    """Everyone registered and not cancelled, in registration order."""
    return list(
        db.session.scalars(
            sa.select(Attendee)
            .where(Attendee.half_day_id == half_day.id, Attendee.status != AttendeeStatus.cancelled)
            .order_by(Attendee.created_at, Attendee.id)
        )
    )


def attendee_by_id(attendee_id: int) -> Attendee | None:
    return db.session.get(Attendee, attendee_id) if valid_id(attendee_id) else None


def attendee_for_token(secret: str, year: int | None = None) -> Attendee:
    """The registration a management link opens (of school year `year` when given)."""
    token = tokens.resolve(TokenPurpose.exchange_attendee, secret)
    attendee = token and db.session.get(Attendee, token.owner_id)
    if attendee is None or (year is not None and attendee.half_day.school_year != year):
        raise AttendeeNotFound()
    return attendee


# --- registering ----------------------------------------------------------------------------------


def register(half_day_id: int, details: AttendeeDetails) -> Placement:
    """Register to attend: remotely always confirmed; in person a seat, or the next place on the
    waiting list. Mails the person. Raises HalfDayNotFound or RegistrationClosed.

    An address already registered gets `already_registered` and, unless it registered seconds
    ago (a double click), a fresh management link by mail; nothing else changes.
    """
    with ATTENDEES.holding(half_day_id) as half_day:
        reason = closed_reason(half_day)
        if reason:
            raise RegistrationClosed(reason)
        new_attendee = Attendee(
            half_day=half_day,
            last_name=details.last_name,
            first_name=details.first_name,
            email=normalise_email(details.email),
            organisation=details.organisation,
            mode=details.mode,
        )
        placement = ATTENDEES.enter(half_day, new_attendee)
        if placement.already_registered:
            return placement
        attendee = placement.row
        if attendee.status is AttendeeStatus.waiting:
            queue_mail(attendee, "waiting")
        else:
            queue_mail(attendee, "confirmed", videoconference_url=_claim_link_now(attendee))
    return placement


def _claim_link_now(attendee: Attendee) -> str | None:
    """For a remote attendee confirmed once the links went out: the link, marked sent with the
    mail that carries it (the sweep then passes them by). None otherwise."""
    if (
        attendee.mode is AttendanceMode.remote
        and attendee.status is AttendeeStatus.confirmed
        and attendee.link_sent_at is None
        and link_is_due(attendee.half_day)
    ):
        attendee.link_sent_at = now()
        return attendee.half_day.videoconference_url
    return None


# --- the management page: cancelling, switching mode ---------------------------------------------


def cancel(secret: str, year: int) -> Attendee:
    """Cancel the registration the link opens; an in-person seat goes to the first person waiting.

    Cancelling twice is harmless: the second time changes nothing and sends nothing. Raises
    AttendeeNotFound, or ChangeRefused once the half-day has started.
    """
    attendee = attendee_for_token(secret, year)
    with ATTENDEES.holding(attendee.half_day_id) as half_day:
        db.session.refresh(attendee)  # read again under the lock
        if attendee.status is AttendeeStatus.cancelled:
            return attendee
        _refuse_once_started(half_day)
        held_seat = ATTENDEES.withdraw(attendee)
        queue_mail(attendee, "cancelled", with_link=False)
        if held_seat:
            ATTENDEES.promote(half_day)
    return attendee


def change_mode(secret: str, year: int, mode: AttendanceMode) -> Attendee:
    """Switch between in person and remote.

    To remote: always possible; a seat held is freed (and given to the first person waiting), a
    place on the waiting list is left. To in person: only while a seat is free and nobody waits
    for one (no jumping the queue), else ChangeRefused and the person stays remote.
    """
    attendee = attendee_for_token(secret, year)
    with ATTENDEES.holding(attendee.half_day_id) as half_day:
        db.session.refresh(attendee)  # read again under the lock
        if attendee.status is AttendeeStatus.cancelled:
            raise ChangeRefused(
                "Cette inscription est annulée : inscrivez-vous de nouveau depuis la page des "
                "Rencontres."
            )
        _refuse_once_started(half_day)
        if attendee.mode is not mode:
            _switch(attendee, half_day, mode)
    return attendee


def _switch(attendee: Attendee, half_day: HalfDay, mode: AttendanceMode) -> None:
    if mode is AttendanceMode.remote:
        held_seat = attendee.holds_seat
        attendee.mode = AttendanceMode.remote
        ATTENDEES.confirm(attendee)
        queue_mail(
            attendee, "confirmed", changed=True, videoconference_url=_claim_link_now(attendee)
        )
        if held_seat:
            ATTENDEES.promote(half_day)
        return
    seats = ATTENDEES.count(half_day)
    if seats.full or seats.waiting:
        raise ChangeRefused("Il n'y a plus de place sur place : vous restez inscrit·e à distance.")
    attendee.mode = AttendanceMode.in_person
    queue_mail(attendee, "confirmed", changed=True)


def _refuse_once_started(half_day: HalfDay) -> None:
    if now() >= half_day.starts_at:
        raise ChangeRefused(
            "Les Rencontres ont commencé : votre inscription ne peut plus être modifiée."
        )


def tell_of_changes(half_day: HalfDay, was: dict[str, str], changed: set[str]) -> int:
    """After a coordinator changed the half-day's settings (inside that transaction, under the
    half-day's lock): everyone registered hears of a new date, hours or place, with what it was
    (`was`: the old "span" of time and "site", as shown); a new videoconference link goes again to the remote
    attendees who already had the old one (the sweep sends it when due, or at once if it is).
    Returns the number of people mailed about the new date, hours or place."""
    people = attendees(half_day)
    if "videoconference_url" in changed:
        for attendee in people:
            if attendee.mode is AttendanceMode.remote and attendee.link_sent_at is not None:
                attendee.link_sent_at = None
    moved = changed & {"starts_at", "ends_at", "site"}
    if moved:
        for attendee in people:
            queue_mail(attendee, "rescheduled", was=was, moved=moved)
    return len(people) if moved else 0
