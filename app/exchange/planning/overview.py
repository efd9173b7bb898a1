"""What the coordinators' agenda page shows: the draft and its problems, warnings, figures and
pending changes, the grid of rooms and times, and the published versions."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.clock import now
from app.exchange.models import (
    AgendaSlot,
    AgendaVersion,
    HalfDay,
    HalfDayRoom,
    HalfDayState,
    SlotKind,
)
from app.exchange.planning.changes import Changes, pending_changes
from app.exchange.planning.draft import PLENARIES, WITH_DRAFT, Draft, draft_of, draft_problems
from app.extensions import db
from app.formatting import datetime_fr


@dataclass
class Quality:
    """The draft's figures, on the solver's definitions: idle minutes (a hole in a room before
    a contribution, within the part before or after the break), topic switches (two successive
    contributions of different topics in a room), and each room's load in minutes."""

    idle_minutes: int = 0
    topic_switches: int = 0
    room_load: list[tuple[HalfDayRoom, int]] = field(default_factory=list)


def quality_of(draft: Draft) -> Quality:
    quality = Quality()
    if draft.frame is None:
        return quality
    frame = draft.frame
    for room in draft.half_day.rooms:
        talks = sorted(
            (p for p in draft.placements if p.room.id == room.id), key=lambda p: p.starts
        )
        quality.room_load.append((room, sum(p.contribution.duration_minutes for p in talks)))
        cursor, topic = frame.first, None
        for talk in talks:
            if frame.break_ends is not None and talk.starts >= frame.break_ends > cursor:
                cursor = frame.break_ends
            quality.idle_minutes += max(0, int((talk.starts - cursor) / timedelta(minutes=1)))
            cursor = max(cursor, talk.ends)
            quality.topic_switches += topic is not None and talk.contribution.topic_id != topic
            topic = talk.contribution.topic_id
    return quality


@dataclass
class GridRow:
    starts: datetime
    plenary: AgendaSlot | None = None  #: opening, break or closing: the whole row
    cells: list[list[AgendaSlot]] = field(default_factory=list)  #: per room, slots starting now
    continuing: list[AgendaSlot | None] = field(default_factory=list)  #: per room, still running


def grid(half_day: HalfDay, slots: list[AgendaSlot]) -> list[GridRow]:
    """The agenda as rows by start time and columns by room (the half-day's rooms, in order)."""
    rooms = half_day.rooms
    rows = []
    for starts in sorted({slot.starts_at for slot in slots}):
        row = GridRow(starts)
        for slot in slots:
            if slot.starts_at == starts and slot.kind in PLENARIES:
                row.plenary = slot
        for room in rooms:
            here = [s for s in slots if s.room_id == room.id and s.kind is SlotKind.contribution]
            row.cells.append([s for s in here if s.starts_at == starts])
            row.continuing.append(next((s for s in here if s.starts_at < starts < s.ends_at), None))
        if row.plenary is not None and any(row.cells):
            rows.append(GridRow(starts, row.plenary, [[] for _ in rooms], [None for _ in rooms]))
            row.plenary = None
        rows.append(row)
    return rows


@dataclass
class Overview:
    draft: Draft
    problems: list[str]
    warnings: list[str]
    quality: Quality
    changes: Changes | None
    versions: list[AgendaVersion]
    grid: list[GridRow]
    build_blocked: str | None  #: why the build button is not offered


def versions_of(half_day: HalfDay) -> list[AgendaVersion]:
    return list(
        db.session.scalars(
            sa.select(AgendaVersion)
            .where(AgendaVersion.half_day_id == half_day.id)
            .order_by(AgendaVersion.number.desc())
        )
    )


def version_of(half_day: HalfDay, number: int) -> AgendaVersion | None:
    if not 0 < number <= 2**31 - 1:
        return None
    return db.session.scalar(
        sa.select(AgendaVersion).where(
            AgendaVersion.half_day_id == half_day.id, AgendaVersion.number == number
        )
    )


def overview(half_day: HalfDay) -> Overview:
    draft = draft_of(half_day)
    has_draft = half_day.state in WITH_DRAFT and draft.frame is not None
    problems = draft_problems(draft) if has_draft else []
    warnings = []
    for slot in draft.stale:
        c = slot.contribution
        warnings.append(
            f"« {c.title} » est dans l'agenda mais n'est plus acceptée "
            f"({c.status.title.lower()}) : elle ne sera pas publiée."
        )
    not_built = [c for c in draft.left_out if c.left_out_reason is None]
    if has_draft and not_built:
        warnings.append(
            f"{len(not_built)} proposition(s) acceptée(s) depuis la dernière construction ne "
            "sont pas dans l'agenda : placez-les à la main ou reconstruisez."
        )
    build_blocked = None
    if half_day.state is HalfDayState.call_open and now() < half_day.deadline:
        build_blocked = (
            f"L'appel à propositions est ouvert jusqu'au {datetime_fr(half_day.deadline)} : "
            "l'agenda sera construit automatiquement à cette date limite."
        )
    return Overview(
        draft=draft,
        problems=problems,
        warnings=warnings,
        quality=quality_of(draft),
        changes=pending_changes(half_day, draft) if has_draft else None,
        versions=versions_of(half_day),
        grid=grid(half_day, draft.slots) if has_draft else [],
        build_blocked=build_blocked,
    )
