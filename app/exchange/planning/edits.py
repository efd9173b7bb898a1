"""Coordinators adjust the draft by hand: move a contribution, place one the build left out, or
take one out. Every change goes through `clashes` and writes nothing when refused."""

from datetime import time, timedelta

from app.database import get_by_id
from app.exchange.models import (
    AgendaSlot,
    Contribution,
    ContributionStatus,
    HalfDay,
    HalfDayRoom,
    HalfDayState,
    SlotKind,
)
from app.exchange.planning.clashes import Placement, clashes
from app.exchange.planning.draft import WITH_DRAFT, Draft, draft_of
from app.exchange.planning.refusals import lock, refuse
from app.exchange.services import at_local
from app.extensions import db
from app.formatting import time_fr
from app.staff import audit
from app.staff.models import StaffUser

#: Why a contribution a coordinator took out of the draft is not on it.
REMOVED_BY_HAND = "retirée à la main"


def _draft_for_change(half_day_id: int) -> Draft:
    half_day = lock(half_day_id)
    if half_day.state not in WITH_DRAFT:
        refuse("Il n'y a pas encore d'agenda en préparation : construisez-le d'abord.")
    draft = draft_of(half_day)
    if draft.frame is None:
        refuse("L'agenda en préparation n'a pas de plénières : reconstruisez-le.")
    return draft


def _room(draft: Draft, room_id: int | None) -> HalfDayRoom:
    room = next((r for r in draft.half_day.rooms if r.id == room_id), None)
    if room is None:
        refuse("Choisissez une salle de la demi-journée.")
    return room


def _draft_slot(draft: Draft, slot_id: int | None) -> AgendaSlot:
    slot = next(
        (s for s in draft.slots if s.id == slot_id and s.kind is SlotKind.contribution), None
    )
    if slot is None:
        refuse(
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
        refuse(*problems)
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
        refuse(
            f"« {contribution.title} » n'est plus acceptée ({contribution.status.title.lower()}) : "
            "retirez-la de l'agenda."
        )
    room = _room(draft, room_id)
    before = f"{slot.room.name if slot.room else '?'}, {time_fr(slot.starts_at)}"
    placement = _check(draft, contribution, room, start)
    if (slot.room_id, slot.starts_at) == (room.id, placement.starts):
        refuse(
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
        refuse("Cette proposition n'existe pas pour cette demi-journée.")
    if contribution.status is not ContributionStatus.accepted:
        refuse(
            f"« {contribution.title} » n'est pas acceptée ({contribution.status.title.lower()}) : "
            "seules les propositions acceptées vont à l'agenda."
        )
    if contribution.id in draft.placed_ids or any(
        s.contribution_id == contribution.id for s in draft.stale
    ):
        refuse(f"« {contribution.title} » est déjà dans l'agenda : déplacez-la plutôt.")
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
