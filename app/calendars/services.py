"""The feeds: which workshops each one holds, its bytes reused while the data has not changed,
and its ETag and Last-Modified.

A poll costs one cheap query: a stamp of the feed's selection (count, latest `updated_at`, sum
of the sequences, and today's date, since the window and the dropping of past cancelled
workshops move daily) looked up in an in-process cache of rendered bytes. Only when the stamp
changes is the feed rendered again and its state (hash, first seen) recorded. Edits that touch
no workshop row (a site's address, a trainer's name) show after at most `FEED_CACHE_SECONDS`.
"""

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import quote, urlencode

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app import tokens
from app.calendars.builder import build_calendar, public_url, workshop_event
from app.calendars.models import FeedState
from app.catalog.models import Level, Room, Site, Topic, Trainer, Workshop, WorkshopStatus
from app.clock import now
from app.database import begin_write, valid_id
from app.extensions import db
from app.formatting import PARIS
from app.tokens import TokenPurpose

ALL = "tous"
#: Past workshops stay in the feeds this long.
HISTORY_YEARS = 1


@dataclass(frozen=True)
class RenderedFeed:
    body: bytes
    #: SHA-256 of the body, hex: the strong ETag (unquoted).
    etag: str
    #: When these bytes were first served; whole seconds, as HTTP dates are.
    last_modified: datetime


@dataclass(frozen=True)
class PublicFeed:
    """A feed of the /calendriers page."""

    slug: str
    #: FeedState key.
    key: str
    #: The calendar's name in clients ("Ateliers TICE – Amiens").
    name: str
    #: "tous", "site", "niveau" or "theme".
    kind: str
    #: The selection, as a condition on workshops (None: every workshop).
    condition: sa.ColumnElement | None = None

    @property
    def path(self) -> str:
        return f"/calendriers/{self.slug}.ics"


@dataclass(frozen=True)
class SubscriptionLinks:
    https: str
    webcal: str
    google: str
    outlook: str


def subscription_links(path: str, name: str) -> SubscriptionLinks:
    """The feed's address, its webcal:// form and one-click links for Google and Outlook."""
    https = public_url(path)
    webcal = "webcal://" + https.split("://", 1)[1]
    return SubscriptionLinks(
        https=https,
        webcal=webcal,
        google="https://calendar.google.com/calendar/r?cid=" + quote(webcal, safe=""),
        outlook="https://outlook.live.com/calendar/0/addfromweb?"
        + urlencode({"url": https, "name": name}, quote_via=quote),
    )


# --- which workshops ---------------------------------------------------------------------------


def paris_today() -> date:
    return now().astimezone(PARIS).date()


def window_condition(today: date | None = None) -> sa.ColumnElement:
    """Published workshops from a year back on; cancelled ones until the end of their day."""
    today = today or paris_today()
    midnight = datetime.combine(today, datetime.min.time(), PARIS)
    try:
        year_ago = midnight.replace(year=today.year - HISTORY_YEARS)
    except ValueError:  # 29 February
        year_ago = midnight.replace(year=today.year - HISTORY_YEARS, day=28)
    return sa.or_(
        sa.and_(Workshop.status == WorkshopStatus.published, Workshop.starts_at >= year_ago),
        sa.and_(Workshop.status == WorkshopStatus.cancelled, Workshop.starts_at >= midnight),
    )


def public_feeds() -> list[PublicFeed]:
    """Every public feed: all workshops, each site, each level, each topic (two queries)."""
    sites = db.session.scalars(sa.select(Site).order_by(Site.name)).all()
    topics = db.session.scalars(sa.select(Topic).order_by(Topic.name)).all()
    feeds = [PublicFeed(ALL, ALL, "Ateliers TICE – tous les ateliers", ALL)]
    for site in sites:
        condition = Workshop.room_id.in_(sa.select(Room.id).where(Room.site_id == site.id))
        feeds.append(
            PublicFeed(
                site.slug, f"site:{site.slug}", f"Ateliers TICE – {site.name}", "site", condition
            )
        )
    for level in Level:
        feeds.append(
            PublicFeed(
                level.value,
                f"niveau:{level.value}",
                f"Ateliers TICE – niveau {level.title.lower()}",
                "niveau",
                Workshop.level == level,
            )
        )
    for topic in topics:
        feeds.append(
            PublicFeed(
                topic.slug,
                f"theme:{topic.slug}",
                f"Ateliers TICE – {topic.name}",
                "theme",
                Workshop.topic_id == topic.id,
            )
        )
    return feeds


def public_feed(slug: str) -> PublicFeed | None:
    """The feed a slug names, from a directory kept in memory; reloaded when a slug is unknown
    (a new topic) or the directory is older than `FEED_CACHE_SECONDS`."""
    state = _state()
    with state.lock:
        directory, loaded_at = state.directory
    if slug not in directory or time.monotonic() - loaded_at > _ttl():
        directory = {feed.slug: feed for feed in public_feeds()}
        with state.lock:
            state.directory = (directory, time.monotonic())
            state.selections = {}
    return directory.get(slug)


def render_public_feed(slug: str) -> RenderedFeed | None:
    feed = public_feed(slug)
    if feed is None:
        return None
    condition, stamp = _selection(feed)
    return cached_feed(
        feed.key,
        _run_stamp(stamp),
        lambda: build_calendar([workshop_event(w) for w in workshops(condition)], name=feed.name),
    )


def _selection(feed: PublicFeed) -> tuple[sa.ColumnElement, sa.Select]:
    """The feed's condition for today and its stamp query, built once a day per feed.

    Building them is most of a poll's Python time (the expressions, then SQLAlchemy's cache
    key for a new statement): a poll reuses them; a new day or a reloaded directory rebuilds.
    """
    today = paris_today()
    state = _state()
    with state.lock:
        entry = state.selections.get(feed.key)
    if entry is None or entry[0] is not feed or entry[1] != today:
        condition = window_condition(today)
        if feed.condition is not None:
            condition = sa.and_(condition, feed.condition)
        entry = (feed, today, condition, stamp_query(condition))
        with state.lock:
            state.selections[feed.key] = entry
    return entry[2], entry[3]


def stamp_query(condition) -> sa.Select:
    return sa.select(
        sa.func.count(Workshop.id),
        sa.func.max(Workshop.updated_at),
        sa.func.sum(Workshop.sequence),
    ).where(condition)


def workshop_stamp(condition) -> tuple:
    """What changes whenever the selection's bytes may change: one aggregate query."""
    return _run_stamp(stamp_query(condition))


def _run_stamp(statement: sa.Select) -> tuple:
    # On the session's connection: the same transaction, without the ORM's per-execution
    # bookkeeping (the query returns plain values, no objects).
    return tuple(db.session.connection().execute(statement).one())


def workshops(condition) -> list[Workshop]:
    """The selection, by date, with everything an event shows loaded in the same query."""
    return list(
        db.session.scalars(
            sa.select(Workshop)
            .where(condition)
            .options(
                joinedload(Workshop.room).joinedload(Room.site),
                joinedload(Workshop.topic),
                joinedload(Workshop.trainer),
            )
            .order_by(Workshop.starts_at, Workshop.id)
        ).unique()
    )


# --- one workshop, a trainer's sessions ----------------------------------------------------------


def workshop_file(workshop_id: int) -> RenderedFeed | None:
    """One published or cancelled workshop as a calendar file; Last-Modified is its own."""
    if not valid_id(workshop_id):
        return None
    condition = sa.and_(
        Workshop.id == workshop_id,
        Workshop.status.in_([WorkshopStatus.published, WorkshopStatus.cancelled]),
    )
    found = workshops(condition)
    if not found:
        return None
    workshop = found[0]
    body = build_calendar([workshop_event(workshop)], name=workshop.title, feed=False)
    return RenderedFeed(body, _digest(body), workshop.updated_at.replace(microsecond=0))


def trainer_feed(secret: str) -> RenderedFeed | None:
    """A trainer's sessions, for the link minted by `flask calendars lien-formateur`."""
    token = tokens.resolve(TokenPurpose.trainer_feed, secret)
    if token is None:
        return None
    trainer_id = token.owner_id
    condition = sa.and_(window_condition(), Workshop.trainer_id == trainer_id)

    def render() -> bytes:
        trainer = db.session.get(Trainer, trainer_id)
        name = f"Ateliers TICE – sessions de {trainer.full_name}" if trainer else "Ateliers TICE"
        return build_calendar([workshop_event(w) for w in workshops(condition)], name=name)

    return cached_feed(f"formateur:{trainer_id}", workshop_stamp(condition), render)


def trainer_feed_link(email: str) -> str | None:
    """Mint a trainer's feed token and return the feed's URL; None for an unknown address."""
    trainer = db.session.scalar(
        sa.select(Trainer).where(sa.func.lower(Trainer.email) == email.strip().lower())
    )
    if trainer is None:
        return None
    secret = tokens.mint(TokenPurpose.trainer_feed, trainer.id)
    db.session.commit()
    return public_url(f"/calendriers/formateur/{secret}.ics")


# --- rendered bytes, kept while the stamp holds ---------------------------------------------------


class _CalendarState:
    """Per app: rendered feeds by key (least recently used dropped first), the feed directory."""

    def __init__(self, size: int):
        self.lock = threading.Lock()
        self.size = size
        self.feeds: OrderedDict[str, tuple[tuple, float, RenderedFeed]] = OrderedDict()
        self.directory: tuple[dict[str, PublicFeed], float] = ({}, float("-inf"))
        #: Per public feed: (feed, day, condition, stamp query), see `_selection`.
        self.selections: dict[str, tuple[PublicFeed, date, sa.ColumnElement, sa.Select]] = {}


def _state() -> _CalendarState:
    extensions = current_app.extensions
    state = extensions.get("calendars")
    if state is None:
        state = extensions.setdefault(
            "calendars", _CalendarState(current_app.config["FEED_CACHE_SIZE"])
        )
    return state


def _ttl() -> float:
    return current_app.config["FEED_CACHE_SECONDS"]


def cached_feed(key: str, stamp: tuple, render: Callable[[], bytes]) -> RenderedFeed:
    """The feed's bytes for this stamp of its data, rendered only when the stamp changed."""
    stamp = (paris_today(), *stamp)
    state = _state()
    with state.lock:
        entry = state.feeds.get(key)
        if entry and entry[0] == stamp and time.monotonic() - entry[1] <= _ttl():
            state.feeds.move_to_end(key)
            return entry[2]
    body = render()
    etag = _digest(body)
    feed = RenderedFeed(body, etag, _record(key, etag))
    with state.lock:
        state.feeds[key] = (stamp, time.monotonic(), feed)
        state.feeds.move_to_end(key)
        while len(state.feeds) > state.size:
            state.feeds.popitem(last=False)
    return feed


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _record(key: str, etag: str) -> datetime:
    """The time these bytes were first seen; a new hash moves it forward by a second at least
    (HTTP dates have whole seconds: If-Modified-Since must see every change)."""
    begin_write()
    moment = now().replace(microsecond=0)
    state = db.session.get(FeedState, key, populate_existing=True)
    if state is None:
        try:
            with db.session.begin_nested():
                db.session.add(FeedState(key=key, etag=etag, first_seen_at=moment))
        except IntegrityError:  # another worker recorded it first
            state = db.session.get(FeedState, key, populate_existing=True)
    if state is not None and state.etag != etag:
        state.etag = etag
        state.first_seen_at = max(moment, state.first_seen_at + timedelta(seconds=1))
    first_seen = state.first_seen_at if state is not None else moment
    db.session.commit()
    return first_seen
