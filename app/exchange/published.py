"""The published agenda as its readers get it: rows by time for the page, the calendar feed
(re-rendered only when its data changes) and the A4 PDF."""

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import sqlalchemy as sa
from flask import current_app, render_template

from app.calendars.services import RenderedFeed, cached_feed
from app.exchange import calendar, services
from app.exchange.models import AgendaSlot, AgendaVersion, Contribution, HalfDay
from app.extensions import db
from app.formatting import school_year_slug
from app.pdf import render_pdf


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
