"""Reading the public catalogue: upcoming workshops, filtered, in a constant number of queries."""

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.catalog.models import (
    Level,
    Room,
    Site,
    Topic,
    Trainer,
    Workshop,
    WorkshopStatus,
    search_key,
)
from app.clock import now
from app.extensions import db

PARIS = ZoneInfo("Europe/Paris")
MONTH_PATTERN = re.compile(r"([0-9]{4})-([0-9]{2})")
#: Months outside these years are ignored (year 0 or 9999-12 would overflow the month bounds).
YEARS = range(2000, 2100)
MAX_QUERY_LENGTH = 100


@dataclass(frozen=True)
class CatalogFilters:
    """The catalogue's filters, as read from a URL; unknown values are simply ignored."""

    site: str | None = None
    level: Level | None = None
    topic: str | None = None
    month: tuple[int, int] | None = None
    text: str = ""

    @classmethod
    def from_args(cls, args, *, sites=None, topics=None) -> "CatalogFilters":
        """`sites` and `topics`, the known ones: a slug not among them is ignored, not searched."""
        month = None
        match = MONTH_PATTERN.fullmatch(args.get("mois", "").strip())
        if match and int(match[1]) in YEARS and 1 <= int(match[2]) <= 12:
            month = (int(match[1]), int(match[2]))
        site = args.get("site", "").strip() or None
        topic = args.get("theme", "").strip() or None
        if sites is not None and site not in {s.slug for s in sites}:
            site = None
        if topics is not None and topic not in {t.slug for t in topics}:
            topic = None
        text = "".join(c for c in args.get("q", "") if c.isprintable() or c.isspace())
        return cls(
            site=site,
            level=Level.from_value(args.get("niveau", "").strip()),
            topic=topic,
            month=month,
            text=" ".join(text.split())[:MAX_QUERY_LENGTH],
        )

    @property
    def active(self) -> bool:
        return bool(self.active_count)

    @property
    def active_count(self) -> int:
        """How many filters narrow the list (the folded filters say it)."""
        return sum(
            bool(value) for value in (self.site, self.level, self.topic, self.month, self.text)
        )

    def as_args(self) -> dict[str, str]:
        args = {"site": self.site, "theme": self.topic, "q": self.text or None}
        args["niveau"] = self.level.value if self.level else None
        args["mois"] = f"{self.month[0]}-{self.month[1]:02d}" if self.month else None
        return {key: value for key, value in args.items() if value}


def upcoming_workshops(
    filters: CatalogFilters = CatalogFilters(), *, known_sites=None, known_topics=None
) -> list[Workshop]:
    """Published workshops not yet started, by date, with room, site, topic and trainer loaded.

    `known_sites` and `known_topics`: the lists the caller already read, if any (the text search
    reads their names)."""
    query = (
        sa.select(Workshop)
        .join(Workshop.room)
        .join(Room.site)
        .join(Workshop.topic)
        .options(
            joinedload(Workshop.room).joinedload(Room.site),
            joinedload(Workshop.topic),
            joinedload(Workshop.trainer),
        )
        .where(Workshop.status == WorkshopStatus.published, Workshop.starts_at > now())
        .order_by(Workshop.starts_at, Workshop.id)
    )
    if filters.site:
        query = query.where(Site.slug == filters.site)
    if filters.level:
        query = query.where(Workshop.level == filters.level)
    if filters.topic:
        query = query.where(Topic.slug == filters.topic)
    if filters.month:
        start, end = _month_bounds(*filters.month)
        query = query.where(Workshop.starts_at >= start, Workshop.starts_at < end)
    words = search_key(filters.text).split()
    if words:
        names = _SearchNames(
            sites=[(s.id, search_key(f"{s.name} {s.city}")) for s in known_sites or sites()],
            topics=[(t.id, search_key(t.name)) for t in known_topics or topics()],
            trainers=[
                (t.id, search_key(t.full_name)) for t in db.session.scalars(sa.select(Trainer))
            ],
        )
        for word in words:
            query = query.where(_matches(word, names))
    return list(db.session.scalars(query).unique())


@dataclass(frozen=True)
class _SearchNames:
    """(id, folded name) of every site (with its town), topic and trainer."""

    sites: list[tuple[int, str]]
    topics: list[tuple[int, str]]
    trainers: list[tuple[int, str]]


def _matches(word: str, names: _SearchNames):
    """A workshop whose title or description holds `word` (folded), or whose topic, site, town
    or trainer does. The names are few: they are folded here, the same way on every database
    (SQLite has no accent folding), and the search becomes a choice among their ids."""
    pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    topic_ids = [row_id for row_id, name in names.topics if word in name]
    site_ids = [row_id for row_id, name in names.sites if word in name]
    trainer_ids = [row_id for row_id, name in names.trainers if word in name]
    return sa.or_(
        Workshop.search_text.like(pattern, escape="\\"),
        Workshop.topic_id.in_(topic_ids),
        Room.site_id.in_(site_ids),
        Workshop.trainer_id.in_(trainer_ids),
    )


def _month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=PARIS)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=PARIS)
    return start, end


def sites() -> list[Site]:
    return list(db.session.scalars(sa.select(Site).order_by(Site.name)))


def topics() -> list[Topic]:
    return list(db.session.scalars(sa.select(Topic).order_by(Topic.name)))


def move_workshop(
    workshop: Workshop,
    *,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    room: Room | None = None,
) -> Workshop:
    """Change a workshop's time or room; a real change raises its calendar SEQUENCE (the UID
    stays, so calendars move the event instead of adding another). Committed.

    Only the catalogue row: telling the registered teachers is the caller's business
    (`app.booking.changes.reschedule` does both in one transaction).
    """
    apply_move(workshop, starts_at=starts_at, ends_at=ends_at, room=room)
    db.session.commit()
    return workshop


def apply_move(
    workshop: Workshop,
    *,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    room: Room | None = None,
) -> dict[str, object]:
    """`move_workshop` without the commit, for a caller's own transaction.

    Returns the previous value of each field that really changed (empty: nothing changed).
    """
    changes = {"starts_at": starts_at, "ends_at": ends_at, "room": room}
    previous = {}
    for name, value in changes.items():
        if value is not None and value != getattr(workshop, name):
            previous[name] = getattr(workshop, name)
            setattr(workshop, name, value)
    if previous:
        workshop.sequence += 1
    return previous
