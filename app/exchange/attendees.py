"""Everything for the people attending the exchange half-day: registering in person (a seat) or
remotely (the videoconference link), the waiting list, the link sent the day before, and the
published agenda they read (its calendar feed and its PDF).

The seat rules are booking's (DESIGN rules 1 to 3), applied to the half-day's in-person seats:
each decision is one transaction that first locks the half-day row (`SELECT … FOR UPDATE` on
PostgreSQL, a transaction begun IMMEDIATE on SQLite) and only then counts; the waiting list is
first come, first served, gap-free, and a freed seat goes to the first person waiting in the same
transaction — except in the last PROMOTION_CUTOFF_HOURS, when the door decides. Remote attendance
is always confirmed: it takes no seat. One active registration per address and half-day (the
partial unique index). Mails go through the outbox, in the transaction they report.
"""

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

import sqlalchemy as sa
from flask import current_app, render_template
from sqlalchemy.exc import IntegrityError

from app import tokens
from app.booking.services import DOUBLE_SUBMIT_WINDOW, SeatCount, normalise_email, race_pause
from app.calendars.services import RenderedFeed, cached_feed
from app.clock import now
from app.database import begin_write, valid_id
from app.exchange import calendar, services
from app.exchange.models import (
    AgendaSlot,
    AgendaVersion,
    AttendanceMode,
    Attendee,
    AttendeeStatus,
    Contribution,
    HalfDay,
)
from app.exchange.services import lock_half_day
from app.extensions import db
from app.formatting import by_name, datetime_fr, school_year_slug
from app.mail import services as mail
from app.pdf import render_pdf
from app.spreadsheet import spreadsheet_csv
from app.sweeps import SweepReport, local_moment
from app.tokens import TokenPurpose

log = logging.getLogger(__name__)

#: The videoconference link goes out from this hour, Paris time, the day before the half-day.
LINK_LOCAL_HOUR = 12


class RegistrationClosed(Exception):
    """Registration is not possible; `str()` is the French explanation."""


class ChangeRefused(Exception):
    """A change asked from the management page cannot be made; `str()` says why, in French."""


class AttendeeNotFound(Exception):
    """The link opens no registration (unknown, revoked or malformed token, another year)."""


@dataclass(frozen=True)
class AttendeeDetails:
    """What a person types in the form, already validated and normalised."""

    last_name: str
    first_name: str
    email: str
    organisation: str
    mode: AttendanceMode


@dataclass(frozen=True)
class AttendeeResult:
    attendee: Attendee
    #: True when the address was already registered: nothing new was created.
    already_registered: bool = False
    #: For an already registered person: whether a fresh management link was mailed.
    link_resent: bool = False

    @property
    def attendee_id(self) -> int:
        return sa.inspect(self.attendee).identity[0]


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
            _count(
                Attendee.status == AttendeeStatus.confirmed,
                Attendee.mode == AttendanceMode.in_person,
            ),
            _count(Attendee.status == AttendeeStatus.waiting),
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


def link_due_at(half_day: HalfDay) -> datetime:
    """When the videoconference link goes out: LINK_LOCAL_HOUR, Paris time, the day before."""
    return local_moment(half_day.starts_at, days_before=1, hour=LINK_LOCAL_HOUR)


def link_is_due(half_day: HalfDay) -> bool:
    """Whether remote attendees get the link now (and a remote registration gets it at once)."""
    return (
        bool(half_day.videoconference_url) and link_due_at(half_day) <= now() < half_day.starts_at
    )


# --- registering ----------------------------------------------------------------------------------


def register(half_day_id: int, details: AttendeeDetails) -> AttendeeResult:
    """Register to attend: remotely always confirmed; in person a seat, or the next place on the
    waiting list. Mails the person. Raises HalfDayNotFound or RegistrationClosed.

    An address already registered gets `already_registered` and, unless it registered seconds
    ago (a double click), a fresh management link by mail; nothing else changes.
    """
    half_day = lock_half_day(half_day_id)
    reason = closed_reason(half_day)
    if reason:
        db.session.rollback()
        raise RegistrationClosed(reason)

    email = normalise_email(details.email)
    seats, existing_id = _seats_and_existing(half_day, email)
    if existing_id is not None:
        return _already_registered(db.session.get(Attendee, existing_id))
    race_pause()
    attendee = Attendee(
        half_day=half_day,
        last_name=details.last_name,
        first_name=details.first_name,
        email=email,
        organisation=details.organisation,
        mode=details.mode,
        status=AttendeeStatus.confirmed,
    )
    if details.mode is AttendanceMode.in_person and seats.full:
        attendee.status = AttendeeStatus.waiting
        attendee.waiting_position = seats.waiting + 1
    db.session.add(attendee)
    try:
        db.session.flush()
    except IntegrityError:
        # Only reachable without the lock: another request registered the same address. The whole
        # transaction is void (PostgreSQL aborts it), so no savepoint would save anything.
        db.session.rollback()
        return _already_registered(_active_attendee(half_day.id, email))
    if attendee.status is AttendeeStatus.waiting:
        queue_mail(attendee, "waiting")
    else:
        queue_mail(attendee, "confirmed", videoconference_url=_claim_link_now(attendee))
    db.session.commit()
    return AttendeeResult(attendee)


def _already_registered(attendee: Attendee) -> AttendeeResult:
    """Re-send a management link, unless the registration is seconds old (a double click)."""
    if now() - attendee.created_at < DOUBLE_SUBMIT_WINDOW:
        db.session.rollback()
        return AttendeeResult(attendee, already_registered=True)
    queue_mail(attendee, "manage_link")
    db.session.commit()
    return AttendeeResult(attendee, already_registered=True, link_resent=True)


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
    half_day = lock_half_day(attendee.half_day_id)
    if attendee.status is AttendeeStatus.cancelled:  # re-read under the lock
        db.session.rollback()
        return attendee
    _refuse_once_started(half_day)
    held_a_seat = _holds_a_seat(attendee)
    _withdraw(attendee)
    queue_mail(attendee, "cancelled", with_link=False)
    if held_a_seat:
        fill_free_seats(half_day)
    db.session.commit()
    return attendee


def change_mode(secret: str, year: int, mode: AttendanceMode) -> Attendee:
    """Switch between in person and remote.

    To remote: always possible; a seat held is freed (and given to the first person waiting), a
    place on the waiting list is left. To in person: only while a seat is free and nobody waits
    for one (no jumping the queue), else ChangeRefused and the person stays remote.
    """
    attendee = attendee_for_token(secret, year)
    half_day = lock_half_day(attendee.half_day_id)
    if attendee.status is AttendeeStatus.cancelled:
        db.session.rollback()
        raise ChangeRefused(
            "Cette inscription est annulée : inscrivez-vous de nouveau depuis la page des Rencontres."
        )
    _refuse_once_started(half_day)
    if attendee.mode is mode:
        db.session.rollback()
        return attendee
    if mode is AttendanceMode.remote:
        held_a_seat = _holds_a_seat(attendee)
        attendee.mode = AttendanceMode.remote
        _set_status(attendee, AttendeeStatus.confirmed)
        queue_mail(
            attendee, "confirmed", changed=True, videoconference_url=_claim_link_now(attendee)
        )
        if held_a_seat:
            fill_free_seats(half_day)
    else:
        seats, _ = _seats_and_existing(half_day, attendee.email)
        if seats.full or seats.waiting:
            db.session.rollback()
            raise ChangeRefused(
                "Il n'y a plus de place sur place : vous restez inscrit·e à distance."
            )
        attendee.mode = AttendanceMode.in_person
        queue_mail(attendee, "confirmed", changed=True)
    db.session.commit()
    return attendee


def _refuse_once_started(half_day: HalfDay) -> None:
    if now() >= half_day.starts_at:
        db.session.rollback()
        raise ChangeRefused(
            "Les Rencontres ont commencé : votre inscription ne peut plus être modifiée."
        )


def _holds_a_seat(attendee: Attendee) -> bool:
    return attendee.mode is AttendanceMode.in_person and attendee.status is AttendeeStatus.confirmed


def _withdraw(attendee: Attendee) -> None:
    attendee.cancelled_at = now()
    _set_status(attendee, AttendeeStatus.cancelled)


def _set_status(attendee: Attendee, status: AttendeeStatus) -> None:
    """Confirmed or cancelled; a person leaving the waiting list closes the gap behind them."""
    position = attendee.waiting_position
    attendee.status = status
    attendee.waiting_position = None
    db.session.flush()
    if position is not None:
        _shift_waiting_list(attendee.half_day_id, after=position)


def fill_free_seats(half_day: HalfDay) -> list[Attendee]:
    """Give free in-person seats to the head of the waiting list and mail them, unless the start
    is too close. Call it under the half-day's lock (`lock_half_day`), inside the transaction
    that freed the seats (a cancellation, a switch to remote, a larger capacity)."""
    cutoff = timedelta(hours=current_app.config["PROMOTION_CUTOFF_HOURS"])
    if now() >= half_day.starts_at - cutoff:
        return []
    seats = counts(half_day).seats
    if seats.left <= 0 or not seats.waiting:
        return []
    promoted = list(
        db.session.scalars(
            sa.select(Attendee)
            .where(Attendee.half_day_id == half_day.id, Attendee.status == AttendeeStatus.waiting)
            .order_by(Attendee.waiting_position)
            .limit(seats.left)
        )
    )
    for attendee in promoted:
        attendee.status = AttendeeStatus.confirmed
        attendee.waiting_position = None
    db.session.flush()
    _shift_waiting_list(half_day.id, after=0, by=len(promoted))
    for attendee in promoted:
        queue_mail(attendee, "promoted")
    return promoted


def _shift_waiting_list(half_day_id: int, *, after: int, by: int = 1) -> None:
    db.session.execute(
        sa.update(Attendee)
        .where(
            Attendee.half_day_id == half_day_id,
            Attendee.status == AttendeeStatus.waiting,
            Attendee.waiting_position > after,
        )
        .values(waiting_position=Attendee.waiting_position - by)
        .execution_options(synchronize_session=False)
    )


#: Mails whose refusal means the address is wrong: the seat or place must not be held by it.
_MAILS_PROVING_THE_ADDRESS = {
    "exchange/attendee_confirmed",
    "exchange/attendee_waiting",
    "exchange/attendee_promoted",
}


@mail.mail_refused.connect
def _on_mail_refused(sender, *, template, subject_kind, subject_id, **details) -> None:
    if subject_kind == "attendee" and template in _MAILS_PROVING_THE_ADDRESS:
        release_undeliverable(subject_id)


def release_undeliverable(attendee_id: int) -> Attendee | None:
    """Cancel a registration whose mail the server refused for good (a typo in the address) and
    give its seat to the next person waiting (DESIGN rule 10). The failed mail stays in the
    outbox for the coordinators to see."""
    attendee = attendee_by_id(attendee_id)
    if attendee is None:
        return None
    half_day = lock_half_day(attendee.half_day_id)
    if attendee.status is AttendeeStatus.cancelled:  # re-read under the lock
        db.session.rollback()
        return attendee
    held_a_seat = _holds_a_seat(attendee)
    _withdraw(attendee)
    log.warning(
        "exchange attendee %s cancelled: its mail to %s was refused", attendee.id, attendee.email
    )
    if held_a_seat:
        fill_free_seats(half_day)
    db.session.commit()
    return attendee


# --- locking and counting --------------------------------------------------------------------------


def _seats_and_existing(half_day: HalfDay, email: str) -> tuple[SeatCount, int | None]:
    """The in-person seat count and this address's active registration, in one query."""
    confirmed, waiting, existing_id = db.session.execute(
        sa.select(
            _count(
                Attendee.status == AttendeeStatus.confirmed,
                Attendee.mode == AttendanceMode.in_person,
            ),
            _count(Attendee.status == AttendeeStatus.waiting),
            sa.func.max(sa.case((Attendee.email == email, Attendee.id))),
        ).where(Attendee.half_day_id == half_day.id, Attendee.status != AttendeeStatus.cancelled)
    ).one()
    return SeatCount(half_day.capacity, confirmed, waiting), existing_id


def _active_attendee(half_day_id: int, email: str) -> Attendee | None:
    return db.session.scalar(
        sa.select(Attendee).where(
            Attendee.half_day_id == half_day_id,
            Attendee.email == email,
            Attendee.status != AttendeeStatus.cancelled,
        )
    )


# --- mails -------------------------------------------------------------------------------------------

SUBJECTS = {
    "confirmed": "Inscription confirmée : {title}",
    "changed": "Inscription modifiée : {title}",
    "waiting": "Liste d'attente : {title}",
    "promoted": "Une place s'est libérée : {title}",
    "cancelled": "Inscription annulée : {title}",
    "manage_link": "Votre lien pour gérer votre inscription : {title}",
    "videoconference": "Demain : le lien de la visioconférence – {title}",
    "rescheduled": "Les Rencontres changent de date, d'horaire ou de lieu : {title}",
}


def queue_mail(
    attendee: Attendee, template: str, *, with_link: bool = True, changed: bool = False, **context
) -> None:
    """Queue `mail/exchange/attendee_<template>` to the attendee, with a fresh management link
    (earlier ones stay valid) unless `with_link` is False."""
    half_day = attendee.half_day
    base_url = current_app.config["PUBLIC_BASE_URL"]
    context["manage_url"] = None
    if with_link:
        secret = tokens.mint(TokenPurpose.exchange_attendee, attendee.id)
        context["manage_url"] = f"{base_url}{manage_path(half_day, secret)}"
    subject = SUBJECTS["changed" if changed else template].format(title=half_day.title)
    mail.queue(
        f"exchange/attendee_{template}",
        attendee.email,
        subject,
        about=attendee,
        attendee=attendee,
        half_day=half_day,
        changed=changed,
        programme_url=f"{base_url}{calendar.agenda_path(half_day)}",
        link_due_at=link_due_at(half_day),
        **context,
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


def manage_path(half_day: HalfDay, secret: str) -> str:
    return f"{calendar.agenda_path(half_day)}/inscription/{secret}"


# --- the videoconference link, the day before ----------------------------------------------------


def send_videoconference_links() -> SweepReport:
    """Mail the videoconference link to each remote attendee, once, from LINK_LOCAL_HOUR the day
    before the half-day until its start."""
    report = SweepReport()
    moment = now()
    half_days = db.session.scalars(
        sa.select(HalfDay).where(
            HalfDay.starts_at > moment, HalfDay.starts_at <= moment + timedelta(days=2)
        )
    ).all()
    due = [half_day.id for half_day in half_days if link_due_at(half_day) <= moment]
    db.session.commit()  # end the read: each half-day's links take their own write transaction
    for half_day_id in due:
        _send_links(half_day_id, report)
    return report


def _send_links(half_day_id: int, report: SweepReport) -> None:
    begin_write()
    half_day = db.session.get(HalfDay, half_day_id, populate_existing=True)
    if half_day is None or not link_is_due(half_day):  # moved, started, or no link set
        if half_day is not None and not half_day.videoconference_url:
            log.warning("half-day %s: no videoconference link to send yet", half_day.school_year)
        db.session.rollback()
        return
    waiting_for_it = db.session.scalars(
        sa.select(Attendee.id).where(*_owed_a_link(half_day_id)).order_by(Attendee.id)
    ).all()
    for attendee_id in waiting_for_it:
        if _claim_link(half_day_id, attendee_id):
            attendee = db.session.get(Attendee, attendee_id, populate_existing=True)
            queue_mail(
                attendee, "videoconference", videoconference_url=half_day.videoconference_url
            )
            report.sent += 1
    db.session.commit()


def _owed_a_link(half_day_id: int) -> tuple:
    return (
        Attendee.half_day_id == half_day_id,
        Attendee.mode == AttendanceMode.remote,
        Attendee.status == AttendeeStatus.confirmed,
        Attendee.link_sent_at.is_(None),
    )


def _claim_link(half_day_id: int, attendee_id: int) -> bool:
    """Mark the link sent if nobody did (a conditional UPDATE: on PostgreSQL a second scheduler's
    UPDATE waits for the first to commit, then finds the row taken and changes nothing)."""
    claimed = db.session.execute(
        sa.update(Attendee)
        .where(Attendee.id == attendee_id, *_owed_a_link(half_day_id))
        .values(link_sent_at=now())
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1


# --- the published agenda: feed and PDF ---------------------------------------------------------


@dataclass(frozen=True)
class AgendaRow:
    """The slots starting at one time: a plenary or the break (everyone), or contributions by room."""

    starts_at: datetime
    slots: list[AgendaSlot]

    @property
    def plenary(self) -> bool:
        return any(slot.contribution_id is None for slot in self.slots)


@dataclass(frozen=True)
class PublishedAgenda:
    half_day: HalfDay
    version: AgendaVersion
    rows: list[AgendaRow]

    @cached_property
    def rooms(self):
        """The half-day's rooms that hold a slot, in display order (the grid's columns)."""
        used = {slot.room_id for row in self.rows for slot in row.slots}
        return [room for room in self.half_day.rooms if room.id in used]

    def column(self, slot: AgendaSlot) -> int:
        return next((i for i, room in enumerate(self.rooms) if room.id == slot.room_id), 0)


def published_agenda(half_day: HalfDay) -> PublishedAgenda | None:
    """The last published version by time, then room; None before the first publication."""
    version = services.latest_version(half_day)
    if version is None:
        return None
    rows: list[AgendaRow] = []
    for slot in services.slots_of(half_day, version):
        if rows and rows[-1].starts_at == slot.starts_at:
            rows[-1].slots.append(slot)
        else:
            rows.append(AgendaRow(slot.starts_at, [slot]))
    return PublishedAgenda(half_day, version, rows)


def agenda_feed(half_day: HalfDay) -> RenderedFeed:
    """The published agenda as a calendar feed, re-rendered only when its data changes.

    Before the first publication the feed is a valid calendar without events: the page offers
    the subscription from the start, and the agenda appears in subscribers' calendars when it
    is published (a 404 would make clients report an error, or drop the subscription).
    """
    version = services.latest_version(half_day)

    def render() -> bytes:
        if version is None:
            return calendar.agenda_feed(half_day, [], stamp=half_day.updated_at)
        slots = services.slots_of(half_day, version)
        return calendar.agenda_feed(half_day, slots, stamp=version.published_at)

    return cached_feed(f"rencontres:{half_day.school_year}", _feed_stamp(half_day, version), render)


def _feed_stamp(half_day: HalfDay, version: AgendaVersion | None) -> tuple:
    """What changes whenever the feed's bytes may: the version, the half-day row, and its
    contributions' rows (a title corrected after publication)."""
    stamp = (half_day.id, half_day.updated_at, half_day.sequence, version and version.id)
    if version is None:
        return stamp
    contributions = db.session.execute(
        sa.select(
            sa.func.count(AgendaSlot.id),
            sa.func.max(Contribution.updated_at),
            sa.func.sum(Contribution.sequence),
        )
        .select_from(AgendaSlot)
        .outerjoin(Contribution, AgendaSlot.contribution_id == Contribution.id)
        .where(AgendaSlot.version_id == version.id)
    ).one()
    return (*stamp, *contributions)


def agenda_pdf(agenda: PublishedAgenda) -> bytes:
    """The published agenda as an A4 PDF, in French; the last one of each half-day is kept while
    its data is unchanged (a few tenths of a second to draw; a poster may bring many readers).
    An edit of the site's address shows after at most FEED_CACHE_SECONDS, as in the feeds."""
    half_day = agenda.half_day
    stamp = (
        *_feed_stamp(half_day, agenda.version),
        time.monotonic() // current_app.config["FEED_CACHE_SECONDS"],
    )
    cache = current_app.extensions.setdefault("exchange_agenda_pdf", {})
    with _pdf_lock:
        cached = cache.get(half_day.id)
    if cached and cached[0] == stamp:
        return cached[1]
    html = render_template(
        "exchange/agenda_pdf.html",
        agenda=agenda,
        half_day=half_day,
        plenary_titles=calendar.PLENARY_TITLES,
        programme_url=current_app.config["PUBLIC_BASE_URL"] + calendar.agenda_path(half_day),
    )
    data = render_pdf(html)
    with _pdf_lock:
        cache[half_day.id] = (stamp, data)
    return data


_pdf_lock = threading.Lock()


def pdf_filename(half_day: HalfDay) -> str:
    return f"rencontres-{school_year_slug(half_day.school_year)}-programme.pdf"


# --- the coordinators' list ----------------------------------------------------------------------

#: How the coordinators' list may be sorted (`?tri=`): by name, by mode and status, by date.
ORDERS = ("nom", "statut", "inscription")


def sorted_attendees(people: list[Attendee], order: str = "nom") -> list[Attendee]:
    """By name as a French reader looks for one (accents and case set aside, the same on every
    database); by mode then status (the waiting list in its order); or in registration order."""
    if order == "inscription":
        return sorted(people, key=lambda a: (a.created_at, a.id))
    if order == "statut":
        return sorted(
            people,
            key=lambda a: (a.mode.value, a.status.value, a.waiting_position or 0, by_name(a)),
        )
    return sorted(people, key=by_name)


def attendees_csv(people: list[Attendee]) -> bytes:
    """The list for a French spreadsheet (attendance's conventions: BOM, `;`, no formula)."""
    header = [
        "Nom",
        "Prénom",
        "Adresse électronique",
        "École ou structure",
        "Mode",
        "Statut",
        "Position en liste d'attente",
        "Inscrit·e le",
    ]
    rows = [
        [
            a.last_name,
            a.first_name,
            a.email,
            a.organisation,
            a.mode.title,
            a.status.title,
            str(a.waiting_position or ""),
            datetime_fr(a.created_at),
        ]
        for a in people
    ]
    return spreadsheet_csv(header, rows)


def csv_filename(half_day: HalfDay) -> str:
    return f"rencontres-{school_year_slug(half_day.school_year)}-participants.csv"
