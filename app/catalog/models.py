"""The catalogue: where (sites, rooms), what (topics, workshops) and who runs it (trainers)."""

import re

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.clock import now
from app.database import UTCDateTime
from app.enums import TitledEnum, enum_column
from app.extensions import db
from app.formatting import folded


class Level(TitledEnum):
    beginner = ("debutant", "Débutant")
    expert = ("expert", "Expert")


class WorkshopStatus(TitledEnum):
    draft = ("draft", "Brouillon")
    published = ("published", "Publié")
    cancelled = ("cancelled", "Annulé")


#: Lower-case ASCII words joined by hyphens: what a slug in a URL or a feed's address may be.
SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
#: Feed names under /calendriers/ that are not topics (the sites' slugs are reserved too).
RESERVED_FEED_SLUGS = frozenset({"tous", "perso", "formateur", *(level.value for level in Level)})
#: The agreement's sites: reserved for them even before they exist in the database.
AGREEMENT_SITE_SLUGS = frozenset({"amiens", "abbeville", "peronne"})


def _check_slug(value: str) -> str:
    if not SLUG_PATTERN.fullmatch(value or "") or len(value) > 40:
        raise ValueError(
            "L'identifiant ne peut contenir que des lettres minuscules sans accent, des chiffres "
            "et des tirets (40 caractères au plus), par exemple « ressources-numeriques »."
        )
    return value


#: Lower-case, accents removed: the form both the search column and the query take.
search_key = folded


class Site(db.Model):
    """One of the CRDP's premises: Amiens, Abbeville, Péronne."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The URL and calendar name: amiens, abbeville, peronne.
    slug: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    #: Street address, one line: "45 rue Saint-Leu".
    street: Mapped[str] = mapped_column(sa.String(200))
    postcode: Mapped[str] = mapped_column(sa.String(10))
    city: Mapped[str] = mapped_column(sa.String(80))
    #: For maps and calendars (GEO).
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    #: How to get there, shown on workshop pages.
    access_notes: Mapped[str] = mapped_column(sa.Text, default="")

    rooms: Mapped[list["Room"]] = relationship(back_populates="site", order_by="Room.name")

    @validates("slug")
    def _validate_slug(self, key, value: str) -> str:
        """A site's slug names its calendar feed: it may not be a reserved feed name or a topic's."""
        _check_slug(value)
        if value in RESERVED_FEED_SLUGS or _slug_taken(Topic, value):
            raise ValueError(
                f"L'identifiant « {value} » est déjà pris par un calendrier : choisissez-en un autre."
            )
        return value

    @property
    def address(self) -> str:
        return f"{self.street}, {self.postcode} {self.city}"

    def __repr__(self) -> str:
        return f"<Site {self.slug}>"


class Room(db.Model):
    """A room (salle) of a site; its capacity bounds every workshop held in it."""

    __tablename__ = "rooms"
    __table_args__ = (
        sa.UniqueConstraint("site_id", "name", name="uq_rooms_site_id_name"),
        sa.CheckConstraint("capacity > 0", name="positive_capacity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    capacity: Mapped[int]
    #: Equipped for videoconference.
    videoconference: Mapped[bool] = mapped_column(default=False)
    #: Reachable without steps (wheelchair access).
    step_free: Mapped[bool] = mapped_column(default=True)

    site: Mapped[Site] = relationship(back_populates="rooms")

    def __repr__(self) -> str:
        return f"<Room {self.name!r} of site {self.site_id}>"


class Topic(db.Model):
    """A theme of the catalogue: ENT, TBI, tablettes, ressources numériques…"""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: URL and calendar slug; may not take a reserved feed name (sites, levels, tous…).
    slug: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    description: Mapped[str] = mapped_column(sa.Text, default="")

    @validates("slug")
    def _validate_slug(self, key, value: str) -> str:
        """A topic's slug names its calendar feed, beside `tous`, the sites and the levels."""
        _check_slug(value)
        reserved = RESERVED_FEED_SLUGS | AGREEMENT_SITE_SLUGS
        if value in reserved or _slug_taken(Site, value):
            raise ValueError(
                f"L'identifiant « {value} » est réservé aux calendriers (tous, sites, niveaux, "
                "perso, formateur) : choisissez-en un autre pour ce thème."
            )
        return value

    def __repr__(self) -> str:
        return f"<Topic {self.slug}>"


def _slug_taken(model, slug: str) -> bool:
    """Whether a row of `model` (sites or topics) already has this slug."""
    with db.session.no_autoflush:
        return db.session.scalar(sa.select(sa.exists().where(model.slug == slug)))


class Trainer(db.Model):
    """A CRDP trainer (animateur) who runs workshops."""

    __tablename__ = "trainers"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(sa.String(100))
    last_name: Mapped[str] = mapped_column(sa.String(100))
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def __repr__(self) -> str:
        return f"<Trainer {self.full_name!r}>"


class Workshop(db.Model):
    """A session (atelier) of the catalogue, held in one room at one time."""

    __tablename__ = "workshops"
    __table_args__ = (
        sa.CheckConstraint("capacity > 0", name="positive_capacity"),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.Index("ix_workshops_status_starts_at", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    topic_id: Mapped[int] = mapped_column(sa.ForeignKey("topics.id"), index=True)
    level: Mapped[Level] = enum_column(Level)
    #: The room, and through it the site; capacity never exceeds the room's.
    room_id: Mapped[int] = mapped_column(sa.ForeignKey("rooms.id"), index=True)
    trainer_id: Mapped[int] = mapped_column(sa.ForeignKey("trainers.id"), index=True)
    starts_at = mapped_column(UTCDateTime, nullable=False)
    ends_at = mapped_column(UTCDateTime, nullable=False)
    #: Seats; at most the room's capacity, never below the confirmed registrations.
    capacity: Mapped[int]
    status: Mapped[WorkshopStatus] = enum_column(WorkshopStatus, default=WorkshopStatus.draft)
    #: "Apportez votre tablette", shown on the page and in mails.
    what_to_bring: Mapped[str] = mapped_column(sa.Text, default="")
    #: Registrations close at this moment (by default, when the workshop starts).
    registration_deadline = mapped_column(UTCDateTime, nullable=True)
    #: Raised on each change of time, place or status (calendar SEQUENCE).
    sequence: Mapped[int] = mapped_column(default=0)
    #: Title and description, lower-cased and without accents, for the text search.
    search_text: Mapped[str] = mapped_column(sa.Text, default="")
    created_at = mapped_column(UTCDateTime, nullable=False, default=now)
    updated_at = mapped_column(UTCDateTime, nullable=False, default=now, onupdate=now)

    topic: Mapped[Topic] = relationship()
    room: Mapped[Room] = relationship()
    trainer: Mapped[Trainer] = relationship()

    @property
    def site(self) -> Site:
        return self.room.site

    @property
    def closes_at(self):
        """When registrations close: the deadline, or the start."""
        return self.registration_deadline or self.starts_at

    @property
    def duration_hours(self) -> float:
        return (self.ends_at - self.starts_at).total_seconds() / 3600

    def __repr__(self) -> str:
        return f"<Workshop {self.id} {self.title!r}>"


@sa.event.listens_for(Workshop, "before_insert")
@sa.event.listens_for(Workshop, "before_update")
def _refresh_search_text(mapper, connection, workshop: Workshop) -> None:
    workshop.search_text = search_key(f"{workshop.title} {workshop.description or ''}")
