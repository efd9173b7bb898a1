"""The yearly exchange half-day (demi-journée d'échanges, "Rencontres" on the public pages).

One half-day per school year: its rooms, the proposals presenters send to its call
(contributions), the agenda the builder drafts (slots without a version) and every published
version of it (slots with a version), and the people who register to attend.
"""

from datetime import time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.catalog.models import Level, Room, Topic
from app.clock import now
from app.database import UTCDateTime
from app.enums import TitledEnum, enum_column
from app.extensions import db
from app.seats.models import SeatRow, seat_table_args


class HalfDayState(TitledEnum):
    """call open → review → agenda draft → published (and back to draft for a new version)."""

    call_open = ("call_open", "Appel à propositions ouvert")
    review = ("review", "Examen des propositions")
    draft = ("draft", "Agenda en préparation")
    published = ("published", "Agenda publié")


class Equipment(TitledEnum):
    """What a room offers and a contribution may need."""

    videoconference = ("visio", "Visioconférence")
    tablets = ("tablettes", "Tablettes")
    projector = ("projecteur", "Vidéoprojecteur")
    whiteboard = ("tbi", "Tableau blanc interactif")


class ContributionFormat(TitledEnum):
    testimony = ("testimony", "Témoignage (15 min)")
    demonstration = ("demonstration", "Démonstration (30 min)")
    workshop = ("workshop", "Atelier (45 min)")
    round_table = ("round_table", "Table ronde (60 min)")

    @property
    def minutes(self) -> int:
        return FORMAT_MINUTES[self]

    @property
    def short_title(self) -> str:
        return self.title.split(" (")[0]


FORMAT_MINUTES = {
    ContributionFormat.testimony: 15,
    ContributionFormat.demonstration: 30,
    ContributionFormat.workshop: 45,
    ContributionFormat.round_table: 60,
}


class ContributionStatus(TitledEnum):
    submitted = ("submitted", "En attente d'examen")
    accepted = ("accepted", "Acceptée")
    declined = ("declined", "Non retenue")
    withdrawn = ("withdrawn", "Retirée")


class SlotKind(TitledEnum):
    opening = ("opening", "Ouverture")
    closing = ("closing", "Clôture")
    break_ = ("break", "Pause")
    contribution = ("contribution", "Intervention")


class AttendanceMode(TitledEnum):
    in_person = ("in_person", "Sur place")
    remote = ("remote", "À distance")


class AttendeeStatus(TitledEnum):
    confirmed = ("confirmed", "Inscription confirmée")
    waiting = ("waiting", "En liste d'attente")
    cancelled = ("cancelled", "Annulée")


def equipment_set(value: str) -> frozenset[Equipment]:
    """The members named in a comma-separated column; unknown names are ignored."""
    members = (Equipment.from_value(name.strip()) for name in (value or "").split(","))
    return frozenset(member for member in members if member is not None)


def equipment_value(members) -> str:
    """The column value of a set of members: sorted, comma-separated (the same set, the same text)."""
    return ",".join(sorted(member.value for member in members))


class HalfDay(db.Model):
    """The half-day of one school year (`school_year` 2025 is 2025–2026)."""

    __tablename__ = "exchange_half_days"
    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint("capacity > 0", name="positive_capacity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    school_year: Mapped[int] = mapped_column(unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    starts_at = mapped_column(UTCDateTime, nullable=False)
    ends_at = mapped_column(UTCDateTime, nullable=False)
    #: Proposals are taken (and edited by their presenters) until then; the scheduler builds the
    #: first agenda draft once it has passed.
    deadline = mapped_column(UTCDateTime, nullable=False)
    state: Mapped[HalfDayState] = enum_column(HalfDayState)
    #: Where the half-day is held in person (its rooms are this site's).
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"))
    #: Seats for attending in person (at most the auditorium's capacity).
    capacity: Mapped[int]
    videoconference_url: Mapped[str] = mapped_column(sa.String(500), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    opening_minutes: Mapped[int] = mapped_column(default=15)
    closing_minutes: Mapped[int] = mapped_column(default=15)
    break_minutes: Mapped[int] = mapped_column(default=20)
    #: When the agenda was last built (by the scheduler at the deadline or a coordinator).
    agenda_built_at = mapped_column(UTCDateTime, nullable=True)
    #: Raised on each change subscribers' calendars must follow (time, place, state).
    sequence: Mapped[int] = mapped_column(default=0)
    created_at = mapped_column(UTCDateTime, nullable=False, default=now)
    updated_at = mapped_column(UTCDateTime, nullable=False, default=now, onupdate=now)

    site = relationship("Site")
    rooms: Mapped[list["HalfDayRoom"]] = relationship(
        back_populates="half_day", order_by="HalfDayRoom.position", cascade="all, delete-orphan"
    )

    @property
    def auditorium(self) -> "HalfDayRoom | None":
        return next((room for room in self.rooms if room.is_auditorium), None)

    def __repr__(self) -> str:
        return f"<HalfDay {self.school_year} {self.state.value}>"


class HalfDayRoom(db.Model):
    """A room of the site used by the half-day, with what it offers that day."""

    __tablename__ = "exchange_rooms"
    __table_args__ = (
        sa.UniqueConstraint("half_day_id", "room_id", name="uq_exchange_rooms_half_day_id_room_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    half_day_id: Mapped[int] = mapped_column(sa.ForeignKey("exchange_half_days.id"), index=True)
    room_id: Mapped[int] = mapped_column(sa.ForeignKey("rooms.id"))
    #: Where the opening and closing plenaries are held; exactly one per half-day.
    is_auditorium: Mapped[bool] = mapped_column(default=False)
    #: Comma-separated `Equipment` values ("projecteur,visio").
    equipment_names: Mapped[str] = mapped_column("equipment", sa.String(200), default="")
    #: Display order on the agenda (the auditorium first).
    position: Mapped[int] = mapped_column(default=0)

    half_day: Mapped[HalfDay] = relationship(back_populates="rooms")
    room: Mapped[Room] = relationship()

    @property
    def equipment(self) -> frozenset[Equipment]:
        return equipment_set(self.equipment_names)

    @equipment.setter
    def equipment(self, members) -> None:
        self.equipment_names = equipment_value(members)

    @property
    def name(self) -> str:
        return self.room.name

    def __repr__(self) -> str:
        return f"<HalfDayRoom {self.room_id} of half-day {self.half_day_id}>"


class Contribution(db.Model):
    """A proposal to the call; once accepted, placed (or left out) by the agenda builder."""

    __tablename__ = "exchange_contributions"
    __table_args__ = (
        sa.CheckConstraint(
            "available_until IS NULL OR available_from IS NULL OR available_until > available_from",
            name="availability_order",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    half_day_id: Mapped[int] = mapped_column(sa.ForeignKey("exchange_half_days.id"), index=True)
    #: Presenters' names, one per line (the first is the contact's).
    presenters: Mapped[str] = mapped_column(sa.String(500))
    #: Lower-cased and trimmed: where the management link and every notice go.
    email: Mapped[str] = mapped_column(sa.String(254), index=True)
    organisation: Mapped[str] = mapped_column(sa.String(200))
    title: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str] = mapped_column(sa.Text)
    format: Mapped[ContributionFormat] = enum_column(ContributionFormat)
    topic_id: Mapped[int] = mapped_column(sa.ForeignKey("topics.id"))
    level: Mapped[Level] = enum_column(Level)
    #: Comma-separated `Equipment` values the contribution needs.
    needs_names: Mapped[str] = mapped_column("needs", sa.String(200), default="")
    #: Paris local times of the half-day's date: "arrive after 14 h", "leave at 16 h".
    available_from: Mapped[time | None] = mapped_column(sa.Time, nullable=True)
    available_until: Mapped[time | None] = mapped_column(sa.Time, nullable=True)
    status: Mapped[ContributionStatus] = enum_column(ContributionStatus)
    #: The coordinators' message mailed with the decision.
    review_message: Mapped[str] = mapped_column(sa.Text, default="")
    reviewed_at = mapped_column(UTCDateTime, nullable=True)
    #: Why the last agenda build left it out (None when placed or not yet built).
    left_out_reason: Mapped[str | None] = mapped_column(sa.String(300))
    #: Raised each time the presenters' invitation changes (calendar SEQUENCE).
    sequence: Mapped[int] = mapped_column(default=0)
    created_at = mapped_column(UTCDateTime, nullable=False, default=now)
    updated_at = mapped_column(UTCDateTime, nullable=False, default=now, onupdate=now)
    withdrawn_at = mapped_column(UTCDateTime, nullable=True)

    half_day: Mapped[HalfDay] = relationship()
    topic: Mapped[Topic] = relationship()

    @property
    def needs(self) -> frozenset[Equipment]:
        return equipment_set(self.needs_names)

    @needs.setter
    def needs(self, members) -> None:
        self.needs_names = equipment_value(members)

    @property
    def presenter_names(self) -> list[str]:
        return [name.strip() for name in self.presenters.splitlines() if name.strip()]

    @property
    def duration_minutes(self) -> int:
        return self.format.minutes

    def __repr__(self) -> str:
        return f"<Contribution {self.id} {self.status.value}>"


class AgendaVersion(db.Model):
    """A published agenda, kept as it was: its slots are the rows with this version."""

    __tablename__ = "exchange_versions"
    __table_args__ = (
        sa.UniqueConstraint(
            "half_day_id", "number", name="uq_exchange_versions_half_day_id_number"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    half_day_id: Mapped[int] = mapped_column(sa.ForeignKey("exchange_half_days.id"), index=True)
    #: 1 for the first publication, then 2, 3…
    number: Mapped[int]
    published_at = mapped_column(UTCDateTime, nullable=False, default=now)
    #: Who published it (a staff account's e-mail), for the versions' list.
    published_by: Mapped[str] = mapped_column(sa.String(254), default="")
    note: Mapped[str] = mapped_column(sa.String(300), default="")

    slots: Mapped[list["AgendaSlot"]] = relationship(
        order_by="(AgendaSlot.starts_at, AgendaSlot.id)", viewonly=True
    )

    def __repr__(self) -> str:
        return f"<AgendaVersion {self.number} of half-day {self.half_day_id}>"


class AgendaSlot(db.Model):
    """A plenary, the break or a contribution at a time in a room.

    Slots without a version are the draft the builder made and coordinators adjust; publishing
    copies them into a new version.
    """

    __tablename__ = "exchange_slots"
    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint(
            "(kind = 'contribution') = (contribution_id IS NOT NULL)", name="contribution_iff_kind"
        ),
        sa.Index("ix_exchange_slots_half_day_id_version_id", "half_day_id", "version_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    half_day_id: Mapped[int] = mapped_column(sa.ForeignKey("exchange_half_days.id"))
    version_id: Mapped[int | None] = mapped_column(sa.ForeignKey("exchange_versions.id"))
    kind: Mapped[SlotKind] = enum_column(SlotKind)
    contribution_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("exchange_contributions.id"), index=True
    )
    #: None for the common break: everyone.
    room_id: Mapped[int | None] = mapped_column(sa.ForeignKey("exchange_rooms.id"))
    starts_at = mapped_column(UTCDateTime, nullable=False)
    ends_at = mapped_column(UTCDateTime, nullable=False)

    contribution: Mapped[Contribution | None] = relationship()
    room: Mapped[HalfDayRoom | None] = relationship()

    def __repr__(self) -> str:
        return f"<AgendaSlot {self.kind.value} {self.contribution_id} v{self.version_id}>"


ACTIVE_ATTENDEE = (AttendeeStatus.confirmed, AttendeeStatus.waiting)


class Attendee(SeatRow, db.Model):
    """Someone who registered to attend, in person (a seat) or remotely (the link). Seats and
    positions change only through the seat ledger, under the half-day's lock
    (`app.exchange.attendees.ATTENDEES`)."""

    __tablename__ = "exchange_attendees"
    __table_args__ = seat_table_args("exchange_attendees", "half_day_id")
    Status = AttendeeStatus

    id: Mapped[int] = mapped_column(primary_key=True)
    half_day_id: Mapped[int] = mapped_column(sa.ForeignKey("exchange_half_days.id"))
    organisation: Mapped[str] = mapped_column(sa.String(200))
    mode: Mapped[AttendanceMode] = enum_column(AttendanceMode)
    #: When the videoconference link was mailed (the day before), at most once.
    link_sent_at = mapped_column(UTCDateTime, nullable=True)

    half_day: Mapped[HalfDay] = relationship()

    @property
    def takes_seat(self) -> bool:
        return self.mode is AttendanceMode.in_person

    @classmethod
    def holds_seat_clause(cls) -> sa.ColumnElement[bool]:
        return sa.and_(cls.status == AttendeeStatus.confirmed, cls.mode == AttendanceMode.in_person)

    def __repr__(self) -> str:
        return f"<Attendee {self.id} {self.mode.value} {self.status.value}>"
