"""The agenda of the exchange half-day, from the database to published versions.

- `build_draft` hands the half-day and its accepted contributions to the solver
  (`app.exchange.solver`, pure) and writes what it returns as the draft: the slots without a
  version, each left-out contribution with the solver's reason. The scheduler's sweep
  `build_due_agendas` does the same once the proposals deadline has passed.
- Coordinators adjust the draft by hand: `move_slot`, `place_contribution`, `remove_from_draft`.
  Every change goes through `clashes`, the one checker of the solver's hard constraints, and
  `draft_problems` runs it over the whole draft before a publication.
- `publish` copies the draft into a new version, then tells each presenter whose slot appeared,
  moved or vanished since the previous version — one mail each, with an updated invitation
  (same UID `contribution-<id>@host`, a higher SEQUENCE) — and nobody else.

Each write is one transaction that first locks the half-day row (`begin_write`, then `FOR
UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` locks the database): two builds, a build and a
publication, or two schedulers never interleave, and a refused change writes nothing.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from app import tokens
from app.calendars.builder import Person
from app.clock import now
from app.database import get_by_id
from app.exchange import calendar as exchange_calendar
from app.exchange import solver
from app.exchange.models import (
    AgendaSlot,
    AgendaVersion,
    Contribution,
    ContributionStatus,
    HalfDay,
    HalfDayRoom,
    HalfDayState,
    SlotKind,
)
from app.exchange.services import (
    HalfDayNotFound,
    at_local,
    latest_version,
    local_time,
    lock_half_day,
    slots_of,
)
from app.exchange.solver_text import reason_text, settings_text
from app.extensions import db
from app.formatting import date_fr, datetime_fr, folded, time_fr, timespan_fr
from app.mail import services as mail
from app.staff import audit
from app.staff.models import StaffUser
from app.tokens import TokenPurpose

log = logging.getLogger(__name__)

#: Minutes: every contribution starts on this grid, counted from the start of the half-day.
GRID = solver.GRID
#: Why a contribution a coordinator took out of the draft is not on it.
REMOVED_BY_HAND = "retirée à la main"
#: The left-out reason column's size.
REASON_LENGTH = 300
#: From these states a build is allowed (call_open only once its deadline has passed).
BUILDABLE = (
    HalfDayState.call_open,
    HalfDayState.review,
    HalfDayState.draft,
    HalfDayState.published,
)
#: States in which a draft exists to adjust or publish.
WITH_DRAFT = (HalfDayState.draft, HalfDayState.published)
PLENARIES = (SlotKind.opening, SlotKind.break_, SlotKind.closing)


class PlanningRefused(Exception):
    """A build, change or publication that cannot be done; the message is French, for the page."""


# --- presenters: the same person on two proposals is one presenter ------------------------------


def presenter_key(name: str) -> str:
    """A name as compared: case, accents, apostrophes and spaces do not matter."""
    return " ".join(folded(name.replace("’", "'")).split())


class Presenters:
    """Who presents what: each presenter name becomes an identity, and two contributions sent
    from the same e-mail address share the identity of their first presenter (the contact), so
    "Marie Dupont" and "marie  DUPONT" — or "M. Dupont" writing from the same address — are one
    person who cannot be in two rooms at once."""

    def __init__(self, contributions):
        self._parent: dict[str, str] = {}
        self._names: dict[int, list[tuple[str, str]]] = {}  # id -> [(display name, node)]
        for contribution in contributions:
            names = contribution.presenter_names
            nodes = [f"nom:{presenter_key(name)}" for name in names]
            email = f"courriel:{contribution.email.strip().lower()}"
            self._find(email)
            if nodes:
                self._union(nodes[0], email)
            else:
                names, nodes = [contribution.email], [email]
            self._names[contribution.id] = list(zip(names, nodes, strict=True))

    def _find(self, node: str) -> str:
        parent = self._parent.setdefault(node, node)
        if parent != node:
            parent = self._parent[node] = self._find(parent)
        return parent

    def _union(self, a: str, b: str) -> None:
        root_a, root_b = self._find(a), self._find(b)
        if root_a != root_b:  # the smaller root wins: the same input, the same identities
            low, high = sorted((root_a, root_b))
            self._parent[high] = low

    def of(self, contribution_id: int) -> frozenset[str]:
        return frozenset(self._find(node) for _, node in self._names.get(contribution_id, ()))

    def shared(self, first: Contribution, second: Contribution) -> list[str]:
        """The names, as `first` writes them, of the presenters `first` and `second` share."""
        common = self.of(first.id) & self.of(second.id)
        names = [
            " ".join(name.split())
            for name, node in self._names[first.id]
            if self._find(node) in common
        ]
        return names or [first.presenter_names[0] if first.presenter_names else first.email]


# --- from the database to the solver and back -----------------------------------------------------


def accepted_contributions(half_day: HalfDay) -> list[Contribution]:
    return list(
        db.session.scalars(
            sa.select(Contribution)
            .where(
                Contribution.half_day_id == half_day.id,
                Contribution.status == ContributionStatus.accepted,
            )
            .options(joinedload(Contribution.topic))
            .order_by(Contribution.id)
        )
    )


def solver_half_day(half_day: HalfDay) -> solver.HalfDay:
    rooms = tuple(
        solver.Room(
            id=room.id,
            name=room.name,
            capacity=room.room.capacity,
            equipment=frozenset(member.value for member in room.equipment),
            is_auditorium=room.is_auditorium,
        )
        for room in half_day.rooms
    )
    return solver.HalfDay(
        starts=local_time(half_day.starts_at),
        ends=local_time(half_day.ends_at),
        rooms=rooms,
        opening_minutes=half_day.opening_minutes,
        closing_minutes=half_day.closing_minutes,
        break_minutes=half_day.break_minutes,
    )


def solver_contribution(contribution: Contribution, presenters: Presenters) -> solver.Contribution:
    return solver.Contribution(
        id=contribution.id,
        title=contribution.title,
        duration_minutes=contribution.duration_minutes,
        topic=contribution.topic.slug,
        level=contribution.level.value,
        presenters=tuple(sorted(presenters.of(contribution.id))),
        needs=frozenset(member.value for member in contribution.needs),
        available_from=contribution.available_from,
        available_until=contribution.available_until,
    )


def _lock(half_day_id: int) -> HalfDay:
    try:
        return lock_half_day(half_day_id)
    except HalfDayNotFound:
        raise PlanningRefused("Cette demi-journée n'existe plus.") from None


def _refuse(message: str):
    db.session.rollback()
    raise PlanningRefused(message)


# --- building the draft ---------------------------------------------------------------------------


@dataclass
class BuildReport:
    placed: int
    left_out: int
    status: str  #: the solver's: "optimal" or "feasible"

    def __str__(self) -> str:
        return f"{self.placed} placées, {self.left_out} laissées de côté"


def build_draft(
    half_day: HalfDay, actor: StaffUser | None = None, *, replace: bool = True
) -> BuildReport:
    """Build the draft of `half_day` from its accepted contributions, replacing the draft (and
    any change made by hand to it) when `replace`; refused when a draft exists and not `replace`
    (a double click, or a page older than the last build)."""
    half_day = _lock(half_day.id)
    if half_day.state not in BUILDABLE:
        _refuse("L'agenda ne peut pas être construit dans l'état actuel de la demi-journée.")
    if half_day.state is HalfDayState.call_open and now() < half_day.deadline:
        _refuse(
            "L'appel à propositions est ouvert jusqu'au "
            f"{datetime_fr(half_day.deadline)} : l'agenda se construit après cette date limite "
            "(automatiquement, ou avec ce bouton)."
        )
    if not replace and half_day.agenda_built_at is not None:
        _refuse(
            f"L'agenda a déjà été construit le {datetime_fr(half_day.agenda_built_at)}. Pour le "
            "reconstruire, cochez la confirmation : les changements faits à la main seront perdus."
        )
    try:
        report = _build(half_day, actor)
    except solver.SettingsError as problem:
        _refuse(_settings_message(problem))
    db.session.commit()
    return report


def _settings_message(problem: solver.SettingsError) -> str:
    return (
        "Les réglages de la demi-journée ne permettent pas de construire l'agenda : "
        f"{settings_text(problem.problem)}. "
        "Corrigez les horaires, les durées des plénières et de la pause ou les salles."
    )


def _build(half_day: HalfDay, actor: StaffUser | None) -> BuildReport:
    """Solve and write the draft; the caller holds the lock and commits. SettingsError (from the
    solver) when the half-day cannot hold its plenaries and break: nothing is written then."""
    contributions = accepted_contributions(half_day)
    presenters = Presenters(contributions)
    result = solver.build_agenda(
        solver_half_day(half_day), [solver_contribution(c, presenters) for c in contributions]
    )
    db.session.execute(
        sa.delete(AgendaSlot).where(
            AgendaSlot.half_day_id == half_day.id, AgendaSlot.version_id.is_(None)
        )
    )
    kinds = {kind.value: kind for kind in SlotKind}
    for slot in result.slots:
        if slot.ends <= slot.starts:  # a break of 0 minutes: no break at all
            continue
        db.session.add(
            AgendaSlot(
                half_day_id=half_day.id,
                kind=kinds[slot.kind],
                contribution_id=slot.contribution_id,
                room_id=slot.room_id,
                starts_at=at_local(half_day, slot.starts),
                ends_at=at_local(half_day, slot.ends),
            )
        )
    reasons = {c_id: reason_text(reason) for c_id, reason in result.left_out}
    for contribution in contributions:
        reason = reasons.get(contribution.id)
        contribution.left_out_reason = reason[:REASON_LENGTH] if reason else None
    db.session.execute(  # not on the agenda any more, for a reason of their own (their status)
        sa.update(Contribution)
        .where(
            Contribution.half_day_id == half_day.id,
            Contribution.status != ContributionStatus.accepted,
            Contribution.left_out_reason.is_not(None),
        )
        .values(left_out_reason=None)
    )
    half_day.agenda_built_at = now()
    half_day.state = HalfDayState.draft
    placed = len(contributions) - len(reasons)
    audit.record(
        actor,
        "exchange.agenda.build",
        "half_day",
        half_day.id,
        f"Agenda des {half_day.title} construit : {placed} intervention(s) placée(s), "
        f"{len(reasons)} laissée(s) de côté",
        placed=placed,
        left_out=reasons,
        quality=result.quality,
        status=result.status,
    )
    return BuildReport(placed, len(reasons), result.status)


@dataclass
class AgendaSweepReport:
    built: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"{self.built} built, {self.failed} failed"

    def __bool__(self) -> bool:
        return bool(self.built or self.failed)


def build_due_agendas() -> AgendaSweepReport:
    """The scheduler's sweep: close the call of every half-day whose deadline has passed and
    build its first draft, in one transaction each. Idempotent: the half-day is locked and
    checked again, so a second scheduler (or a second run) finds nothing to do. Settings that
    cannot hold the plenaries still close the call; the coordinators see why on the page."""
    report = AgendaSweepReport()
    due = db.session.scalars(
        sa.select(HalfDay.id).where(
            HalfDay.state == HalfDayState.call_open,
            HalfDay.deadline <= now(),
            HalfDay.agenda_built_at.is_(None),
        )
    ).all()
    db.session.commit()  # end the read: each half-day takes its own write transaction
    for half_day_id in due:
        try:
            half_day = _lock(half_day_id)
        except PlanningRefused:  # deleted meanwhile
            continue
        if not (
            half_day.state is HalfDayState.call_open
            and half_day.deadline <= now()
            and half_day.agenda_built_at is None
        ):
            db.session.rollback()  # another scheduler got there first
            continue
        half_day.state = HalfDayState.review
        audit.record(
            None,
            "exchange.call.close",
            "half_day",
            half_day.id,
            f"Appel à propositions des {half_day.title} clos (date limite passée)",
        )
        try:
            _build(half_day, None)  # the solver refuses the settings before anything is written
        except solver.SettingsError as problem:
            log.warning(
                "agenda of half-day %s not built: %s", half_day_id, settings_text(problem.problem)
            )
            audit.record(
                None,
                "exchange.agenda.build_failed",
                "half_day",
                half_day.id,
                _settings_message(problem),
            )
            report.failed += 1
        else:
            report.built += 1
        db.session.commit()
    return report


# --- the one checker of the hard constraints ------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """Where contributions may go in a draft: after the opening, before the closing, never
    across the break (all from the draft's own plenary slots)."""

    starts: datetime  #: the half-day's start: the 5-minute grid counts from it
    first: datetime  #: the end of the opening plenary
    last: datetime  #: the start of the closing plenary
    break_starts: datetime | None
    break_ends: datetime | None


@dataclass(frozen=True)
class Placement:
    contribution: Contribution
    room: HalfDayRoom
    starts: datetime
    ends: datetime
    slot_id: int | None = None  #: the draft slot it comes from (None for a proposed change)

    @property
    def span(self) -> str:
        return f"{time_fr(self.starts)} – {time_fr(self.ends)}"

    def overlaps(self, starts: datetime, ends: datetime) -> bool:
        return self.starts < ends and starts < self.ends


def _equipment(members) -> str:
    return ", ".join(sorted(member.title for member in members))


def clashes(
    half_day: HalfDay, frame: Frame, placement: Placement, others, presenters: Presenters
) -> list[str]:
    """What stops `placement` among `others` (the rest of the draft), in French, naming what
    clashes with what: the solver's hard constraints — the 5-minute grid, between the opening
    and the closing plenaries, not across the break, room equipment, presenters' availability,
    no presenter in two places, no overlap in the room. Empty when it fits."""
    c, room = placement.contribution, placement.room
    what = f"« {c.title} » ({placement.span})"
    problems = []
    offset = (placement.starts - frame.starts) / timedelta(minutes=1)
    if offset % GRID:
        problems.append(
            f"{what} : le début doit tomber sur la grille de {GRID} minutes "
            f"({time_fr(frame.starts)}, {time_fr(frame.starts + timedelta(minutes=GRID))}…)."
        )
    if placement.starts < frame.first:
        problems.append(
            f"{what} commencerait avant la fin de la plénière d'ouverture ({time_fr(frame.first)})."
        )
    if placement.ends > frame.last:
        problems.append(
            f"{what} finirait après le début de la plénière de clôture ({time_fr(frame.last)})."
        )
    if frame.break_starts is not None and placement.overlaps(frame.break_starts, frame.break_ends):
        problems.append(
            f"{what} empiéterait sur la pause commune "
            f"({time_fr(frame.break_starts)} – {time_fr(frame.break_ends)})."
        )
    missing = c.needs - room.equipment
    if missing:
        problems.append(
            f"« {room.name} » n'a pas l'équipement dont « {c.title} » a besoin : {_equipment(missing)}."
        )
    if c.available_from is not None and placement.starts < at_local(half_day, c.available_from):
        problems.append(
            f"{what} : les intervenant·es ne sont disponibles qu'à partir de "
            f"{time_fr(at_local(half_day, c.available_from))}."
        )
    if c.available_until is not None and placement.ends > at_local(half_day, c.available_until):
        problems.append(
            f"{what} : les intervenant·es ne sont disponibles que jusqu'à "
            f"{time_fr(at_local(half_day, c.available_until))}."
        )
    for other in others:
        if other.contribution.id == c.id or not placement.overlaps(other.starts, other.ends):
            continue
        theirs = f"« {other.contribution.title} » ({other.span})"
        if other.room.id == room.id:
            problems.append(
                f"Conflit de salle : {what} chevaucherait {theirs} dans « {room.name} »."
            )
        if presenters.of(c.id) & presenters.of(other.contribution.id):
            names = ", ".join(presenters.shared(c, other.contribution))
            problems.append(
                f"{names} serait à deux endroits à la fois : {what} dans « {room.name} » et "
                f"{theirs} dans « {other.room.name} »."
            )
    return problems


# --- the draft as the checker and the pages see it -----------------------------------------------


@dataclass
class Draft:
    """The draft of a half-day: its slots, its frame, and the placements of its accepted
    contributions; `stale` are the slots of contributions no longer accepted (not published)."""

    half_day: HalfDay
    slots: list[AgendaSlot]
    frame: Frame | None
    placements: list[Placement]
    stale: list[AgendaSlot]
    presenters: Presenters
    accepted: list[Contribution]

    @property
    def placed_ids(self) -> set[int]:
        return {p.contribution.id for p in self.placements}

    @property
    def left_out(self) -> list[Contribution]:
        placed = self.placed_ids
        return [c for c in self.accepted if c.id not in placed]

    def others(self, contribution_id: int) -> list[Placement]:
        return [p for p in self.placements if p.contribution.id != contribution_id]


def _frame(half_day: HalfDay, slots: list[AgendaSlot]) -> Frame | None:
    by_kind = {slot.kind: slot for slot in slots if slot.kind in PLENARIES}
    opening, closing = by_kind.get(SlotKind.opening), by_kind.get(SlotKind.closing)
    if opening is None or closing is None:
        return None
    pause = by_kind.get(SlotKind.break_)
    return Frame(
        starts=opening.starts_at,
        first=opening.ends_at,
        last=closing.starts_at,
        break_starts=pause.starts_at if pause else None,
        break_ends=pause.ends_at if pause else None,
    )


def draft_of(half_day: HalfDay) -> Draft:
    slots = slots_of(half_day, None)
    accepted = accepted_contributions(half_day)
    rooms = {room.id: room for room in half_day.rooms}
    placements, stale = [], []
    for slot in slots:
        if slot.kind is not SlotKind.contribution:
            continue
        if slot.contribution.status is not ContributionStatus.accepted or slot.room_id not in rooms:
            stale.append(slot)
        else:
            placements.append(
                Placement(
                    slot.contribution, rooms[slot.room_id], slot.starts_at, slot.ends_at, slot.id
                )
            )
    return Draft(
        half_day, slots, _frame(half_day, slots), placements, stale, Presenters(accepted), accepted
    )


def settings_changed(half_day: HalfDay, draft: Draft) -> bool:
    """Whether the half-day's hours, plenaries or break no longer match the draft's."""
    frame = draft.frame
    if frame is None:
        return False
    by_kind = {slot.kind: slot for slot in draft.slots if slot.kind in PLENARIES}
    opening, closing = by_kind[SlotKind.opening], by_kind[SlotKind.closing]
    pause = by_kind.get(SlotKind.break_)
    minutes = timedelta(minutes=1)
    return (
        opening.starts_at != half_day.starts_at
        or closing.ends_at != half_day.ends_at
        or (opening.ends_at - opening.starts_at) != half_day.opening_minutes * minutes
        or (closing.ends_at - closing.starts_at) != half_day.closing_minutes * minutes
        or (pause is None) != (half_day.break_minutes == 0)
        or (
            pause is not None
            and pause.ends_at - pause.starts_at != half_day.break_minutes * minutes
        )
        or opening.room is None
        or not opening.room.is_auditorium
    )


def draft_problems(draft: Draft) -> list[str]:
    """Every violation of the hard constraints in the draft (empty when it may be published)."""
    half_day = draft.half_day
    if draft.frame is None:
        return [
            "L'agenda en préparation n'a pas de plénières d'ouverture et de clôture : reconstruisez-le."
        ]
    problems = []
    if settings_changed(half_day, draft):
        problems.append(
            "Les horaires de la demi-journée (début, fin, plénières ou pause) ont changé depuis la "
            "construction de l'agenda : reconstruisez-le."
        )
    seen = []
    for placement in draft.placements:
        if placement.contribution.id in {p.contribution.id for p in seen}:
            problems.append(f"« {placement.contribution.title} » figure deux fois dans l'agenda.")
            continue
        problems += clashes(half_day, draft.frame, placement, seen, draft.presenters)
        seen.append(placement)
    return problems


# --- changes by hand --------------------------------------------------------------------------------


def _draft_for_change(half_day_id: int) -> Draft:
    half_day = _lock(half_day_id)
    if half_day.state not in WITH_DRAFT:
        _refuse("Il n'y a pas encore d'agenda en préparation : construisez-le d'abord.")
    draft = draft_of(half_day)
    if draft.frame is None:
        _refuse("L'agenda en préparation n'a pas de plénières : reconstruisez-le.")
    return draft


def _room(draft: Draft, room_id: int | None) -> HalfDayRoom:
    room = next((r for r in draft.half_day.rooms if r.id == room_id), None)
    if room is None:
        _refuse("Choisissez une salle de la demi-journée.")
    return room


def _draft_slot(draft: Draft, slot_id: int | None) -> AgendaSlot:
    slot = next(
        (s for s in draft.slots if s.id == slot_id and s.kind is SlotKind.contribution), None
    )
    if slot is None:
        _refuse(
            "Ce créneau n'est plus dans l'agenda en préparation (il a peut-être été reconstruit "
            "entre-temps) : rechargez la page."
        )
    return slot


def _check(draft: Draft, contribution: Contribution, room: HalfDayRoom, start: time) -> Placement:
    starts = at_local(draft.half_day, start)
    placement = Placement(
        contribution, room, starts, starts + timedelta(minutes=contribution.duration_minutes)
    )
    problems = clashes(
        draft.half_day, draft.frame, placement, draft.others(contribution.id), draft.presenters
    )
    if problems:
        _refuse(" ".join(problems))
    return placement


def _changed(half_day: HalfDay) -> None:
    """A change by hand: the draft differs from what was published, until published again."""
    half_day.state = HalfDayState.draft


def move_slot(
    half_day: HalfDay, slot_id: int, room_id: int, start: time, actor: StaffUser
) -> AgendaSlot:
    """Move a contribution of the draft to `room_id` at `start` (Paris time), if it fits."""
    draft = _draft_for_change(half_day.id)
    slot = _draft_slot(draft, slot_id)
    contribution = slot.contribution
    if contribution.status is not ContributionStatus.accepted:
        _refuse(
            f"« {contribution.title} » n'est plus acceptée ({contribution.status.title.lower()}) : "
            "retirez-la de l'agenda."
        )
    room = _room(draft, room_id)
    before = f"{slot.room.name if slot.room else '?'}, {time_fr(slot.starts_at)}"
    placement = _check(draft, contribution, room, start)
    if (slot.room_id, slot.starts_at) == (room.id, placement.starts):
        _refuse(
            f"« {contribution.title} » est déjà en {room.name} à {time_fr(placement.starts)} : rien n'a changé."
        )
    slot.room_id, slot.starts_at, slot.ends_at = room.id, placement.starts, placement.ends
    _changed(draft.half_day)
    audit.record(
        actor,
        "exchange.agenda.move",
        "contribution",
        contribution.id,
        f"« {contribution.title} » déplacée à la main : {before} → {room.name}, "
        f"{time_fr(placement.starts)}",
    )
    db.session.commit()
    return slot


def place_contribution(
    half_day: HalfDay, contribution_id: int, room_id: int, start: time, actor: StaffUser
) -> AgendaSlot:
    """Place an accepted contribution the draft left out, if it fits."""
    draft = _draft_for_change(half_day.id)
    contribution = get_by_id(Contribution, contribution_id)
    if contribution is None or contribution.half_day_id != draft.half_day.id:
        _refuse("Cette proposition n'existe pas pour cette demi-journée.")
    if contribution.status is not ContributionStatus.accepted:
        _refuse(
            f"« {contribution.title} » n'est pas acceptée ({contribution.status.title.lower()}) : "
            "seules les propositions acceptées vont à l'agenda."
        )
    if contribution.id in draft.placed_ids or any(
        s.contribution_id == contribution.id for s in draft.stale
    ):
        _refuse(f"« {contribution.title} » est déjà dans l'agenda : déplacez-la plutôt.")
    room = _room(draft, room_id)
    placement = _check(draft, contribution, room, start)
    slot = AgendaSlot(
        half_day_id=draft.half_day.id,
        kind=SlotKind.contribution,
        contribution_id=contribution.id,
        room_id=room.id,
        starts_at=placement.starts,
        ends_at=placement.ends,
    )
    db.session.add(slot)
    contribution.left_out_reason = None
    _changed(draft.half_day)
    audit.record(
        actor,
        "exchange.agenda.place",
        "contribution",
        contribution.id,
        f"« {contribution.title} » placée à la main : {room.name}, {placement.span}",
    )
    db.session.commit()
    return slot


def remove_from_draft(half_day: HalfDay, slot_id: int, actor: StaffUser) -> Contribution:
    """Take a contribution out of the draft (left out: "retirée à la main")."""
    draft = _draft_for_change(half_day.id)
    slot = _draft_slot(draft, slot_id)
    contribution = slot.contribution
    where = f"{slot.room.name if slot.room else '?'}, {time_fr(slot.starts_at)} – {time_fr(slot.ends_at)}"
    db.session.delete(slot)
    if contribution.status is ContributionStatus.accepted:
        contribution.left_out_reason = REMOVED_BY_HAND
    _changed(draft.half_day)
    audit.record(
        actor,
        "exchange.agenda.remove",
        "contribution",
        contribution.id,
        f"« {contribution.title} » retirée de l'agenda à la main (elle était en {where})",
    )
    db.session.commit()
    return contribution


# --- comparing with the last version, publishing ---------------------------------------------------


@dataclass(frozen=True)
class SlotChange:
    contribution: Contribution
    before: AgendaSlot | None  #: in the previous version
    after: AgendaSlot | None  #: in the draft (or the new version)

    @property
    def time_changed(self) -> bool:
        return (self.before.starts_at, self.before.ends_at) != (
            self.after.starts_at,
            self.after.ends_at,
        )

    @property
    def room_changed(self) -> bool:
        return self.before.room_id != self.after.room_id


@dataclass
class Changes:
    """What publishing the draft changes for the presenters, against the previous version."""

    previous: AgendaVersion | None
    added: list[SlotChange] = field(default_factory=list)
    moved: list[SlotChange] = field(default_factory=list)
    removed: list[SlotChange] = field(default_factory=list)
    plenaries_moved: bool = False

    def __bool__(self) -> bool:
        return bool(self.added or self.moved or self.removed or self.plenaries_moved)


def _where(slot: AgendaSlot) -> tuple:
    return (slot.room_id, slot.starts_at, slot.ends_at)


def publishable(draft: Draft) -> list[AgendaSlot]:
    """The draft's slots a version holds: plenaries, break, and accepted contributions."""
    stale = {slot.id for slot in draft.stale}
    return [slot for slot in draft.slots if slot.id not in stale]


def compare(
    previous: AgendaVersion | None, before: list[AgendaSlot], after: list[AgendaSlot]
) -> Changes:
    """Contributions that appear, move (time or room) or vanish from `before` to `after`, and
    whether the plenaries or the break moved."""
    changes = Changes(previous)
    old = {s.contribution_id: s for s in before if s.kind is SlotKind.contribution}
    new = {s.contribution_id: s for s in after if s.kind is SlotKind.contribution}
    for contribution_id, slot in new.items():
        if contribution_id not in old:
            changes.added.append(SlotChange(slot.contribution, None, slot))
        elif _where(old[contribution_id]) != _where(slot):
            changes.moved.append(SlotChange(slot.contribution, old[contribution_id], slot))
    for contribution_id, slot in old.items():
        if contribution_id not in new:
            changes.removed.append(SlotChange(slot.contribution, slot, None))
    if previous is not None:
        plenaries = lambda slots: {s.kind: _where(s) for s in slots if s.kind in PLENARIES}  # noqa: E731
        changes.plenaries_moved = plenaries(before) != plenaries(after)
    for changed in (changes.added, changes.moved, changes.removed):
        changed.sort(key=lambda c: ((c.after or c.before).starts_at, c.contribution.id))
    return changes


def pending_changes(half_day: HalfDay, draft: Draft | None = None) -> Changes:
    """What publishing now would change."""
    draft = draft or draft_of(half_day)
    previous = latest_version(half_day)
    before = slots_of(half_day, previous) if previous is not None else []
    return compare(previous, before, publishable(draft))


def publish(half_day: HalfDay, actor: StaffUser, note: str = "") -> AgendaVersion:
    """Publish the draft as a new version and tell the presenters whose slot changed: one mail
    each with an updated invitation (REQUEST, or CANCEL when their contribution vanished)."""
    half_day = _lock(half_day.id)
    if half_day.state not in WITH_DRAFT:
        _refuse("Il n'y a pas d'agenda en préparation à publier : construisez-le d'abord.")
    draft = draft_of(half_day)
    if not draft.placements:
        _refuse(
            "L'agenda en préparation ne contient aucune intervention : il n'y a rien à publier."
        )
    problems = draft_problems(draft)
    if problems:
        _refuse(
            "L'agenda ne peut pas être publié tant que ceci n'est pas corrigé : "
            + " ".join(problems)
        )
    changes = pending_changes(half_day, draft)
    if changes.previous is not None and not changes:
        _refuse(
            f"Rien n'a changé depuis la version {changes.previous.number} : aucune nouvelle version."
        )
    version = AgendaVersion(
        half_day_id=half_day.id,
        number=changes.previous.number + 1 if changes.previous else 1,
        published_at=now(),
        published_by=actor.email if actor is not None else "",
        note=(note or "").strip()[:300],
    )
    db.session.add(version)
    db.session.flush()
    new_slots = {}
    for slot in publishable(draft):
        copy = AgendaSlot(
            half_day_id=half_day.id,
            version_id=version.id,
            kind=slot.kind,
            contribution_id=slot.contribution_id,
            room_id=slot.room_id,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
        )
        db.session.add(copy)
        new_slots[slot.id] = copy
    db.session.flush()
    if changes.plenaries_moved:
        half_day.sequence += 1
    for change in changes.added:
        _tell(half_day, version, SlotChange(change.contribution, None, new_slots[change.after.id]))
    for change in changes.moved:
        _tell(
            half_day,
            version,
            SlotChange(change.contribution, change.before, new_slots[change.after.id]),
        )
    for change in changes.removed:
        _tell(half_day, version, change)
    half_day.state = HalfDayState.published
    mails = len(changes.added) + len(changes.moved) + len(changes.removed)
    audit.record(
        actor,
        "exchange.agenda.publish",
        "half_day",
        half_day.id,
        f"Agenda des {half_day.title} publié : version {version.number} "
        f"({len(changes.added)} nouvelle(s), {len(changes.moved)} déplacée(s), "
        f"{len(changes.removed)} retirée(s) ; {mails} courriel(s))",
        version=version.number,
        note=version.note,
        added=[c.contribution.id for c in changes.added],
        moved=[c.contribution.id for c in changes.moved],
        removed=[c.contribution.id for c in changes.removed],
        plenaries_moved=changes.plenaries_moved,
    )
    db.session.commit()
    return version


# --- the presenters' mails ------------------------------------------------------------------------


SUBJECTS = {
    "agenda_placed": "Votre intervention aux {event} : {title}",
    "agenda_changed": "Votre intervention change d'horaire ou de salle : {title}",
    "agenda_removed": "Votre intervention ne figure plus au programme : {title}",
}


def _span(half_day: HalfDay, slot: AgendaSlot) -> str:
    room = slot.room.name if slot.room is not None else "toutes les salles"
    if date_fr(slot.starts_at) == date_fr(half_day.starts_at):
        return f"{time_fr(slot.starts_at)} – {time_fr(slot.ends_at)}, {room}"
    return f"{timespan_fr(slot.starts_at, slot.ends_at)}, {room}"


def _removal_reason(contribution: Contribution) -> str:
    if contribution.status is ContributionStatus.withdrawn:
        return "withdrawn"
    if contribution.status is ContributionStatus.declined:
        return "declined"
    return "removed"


def _tell(half_day: HalfDay, version: AgendaVersion, change: SlotChange) -> None:
    """One mail to the contribution's address, with its invitation at the version's stamp."""
    contribution = change.contribution
    contribution.sequence += 1
    person = Person(", ".join(contribution.presenter_names), contribution.email)
    base_url = current_app.config["PUBLIC_BASE_URL"]
    context = {
        "half_day": half_day,
        "contribution": contribution,
        "before": change.before,
        "after": change.after,
        "agenda_url": base_url + exchange_calendar.agenda_path(half_day),
    }
    if change.after is None:
        template = "agenda_removed"
        notice = f"Retirée du programme (version {version.number} de l'agenda)."
        invitation = exchange_calendar.invitation(
            half_day,
            change.before,
            person,
            stamp=version.published_at,
            cancelled=True,
            notice=notice,
        )
        context["reason"] = _removal_reason(contribution)
    else:
        if change.before is None:
            template, notice = "agenda_placed", None
        else:
            template = "agenda_changed"
            notice = (
                f"Modifié : désormais {_span(half_day, change.after)} "
                f"(auparavant {_span(half_day, change.before)})."
            )
            context.update(time_changed=change.time_changed, room_changed=change.room_changed)
        invitation = exchange_calendar.invitation(
            half_day, change.after, person, stamp=version.published_at, notice=notice
        )
        secret = tokens.mint(TokenPurpose.exchange_proposal, contribution.id)
        context["manage_url"] = (
            f"{base_url}/rencontres/{half_day.school_year}/propositions/{secret}"
        )
    title = " ".join(contribution.title.split())
    mail.queue(
        f"exchange/{template}",
        contribution.email,
        SUBJECTS[template].format(event=" ".join(half_day.title.split()), title=title),
        about=contribution,
        invitation=invitation,
        **context,
    )


# --- what the coordinators' page shows ---------------------------------------------------------------


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
