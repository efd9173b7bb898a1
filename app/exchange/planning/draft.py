"""The draft as the checker and the pages see it: its slots, its frame (from its own plenary
slots), its placements, and every violation of the hard constraints in it."""

from dataclasses import dataclass
from datetime import timedelta

from app.exchange.models import (
    AgendaSlot,
    Contribution,
    ContributionStatus,
    HalfDay,
    HalfDayState,
    SlotKind,
)
from app.exchange.planning.clashes import Frame, Placement, clashes
from app.exchange.planning.presenters import Presenters
from app.exchange.planning.solver_input import accepted_contributions
from app.exchange.services import slots_of

#: States in which a draft exists to adjust or publish.
WITH_DRAFT = (HalfDayState.draft, HalfDayState.published)
PLENARIES = (SlotKind.opening, SlotKind.break_, SlotKind.closing)


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
