"""The back office's catalogue work: creating, editing, duplicating, publishing and cancelling
workshops, with the checks of `catalog.checks`, and every action in the audit log.

A published workshop's seats and schedule change only through booking's services (they lock the
workshop row, mail the people concerned and move their calendars); the audit entry is written
in the same unit of work (`write_transaction` around the service's call).
"""

from dataclasses import dataclass, field
from datetime import datetime

from app.admin.workshop_review import WorkshopDraft, review
from app.attendance import services as attendance
from app.booking import changes, coordination
from app.booking.services import REGISTRATIONS
from app.catalog.checks import Problem
from app.catalog.models import Level, Room, Workshop, WorkshopStatus
from app.clock import now
from app.database import begin_write, write_transaction
from app.errors import Refused
from app.extensions import db
from app.formatting import datetime_fr
from app.staff import audit
from app.staff.models import StaffUser


class CatalogueRefused(Refused):
    """A workshop that cannot be saved as typed; `reasons` lists every problem, `warnings` what
    would still need confirming once they are fixed. Nothing was written."""

    def __init__(self, *reasons: str, warnings: list[str] | None = None) -> None:
        super().__init__(*reasons)
        self.warnings = list(warnings or [])


@dataclass
class Saved:
    workshop: Workshop | None = None
    #: Warnings the coordinator must confirm before the save happens (nothing written yet).
    to_confirm: list[Problem] = field(default_factory=list)
    #: What the save told people: "3 personnes prévenues du changement"…
    notes: list[str] = field(default_factory=list)


def save_workshop(
    actor: StaffUser,
    draft: WorkshopDraft,
    *,
    workshop: Workshop | None = None,
    confirmed: bool = False,
) -> Saved:
    """Create (as a draft) or edit a workshop. Blocking problems raise CatalogueRefused (all of
    them, with the warnings); warnings come back in `to_confirm` until `confirmed`."""
    found = review(draft, workshop.id if workshop else None)
    if found.blocking:
        raise CatalogueRefused(*found.blocking, warnings=[p.message for p in found.warnings])
    starts_at, ends_at, deadline = found.starts_at, found.ends_at, found.deadline
    warnings = found.warnings
    if warnings and not confirmed:
        return Saved(workshop, to_confirm=warnings)
    if workshop is None:
        return Saved(_create(actor, draft, starts_at, ends_at, deadline))
    if workshop.status is WorkshopStatus.cancelled:
        raise CatalogueRefused("Cet atelier est annulé : il ne peut plus être modifié.")
    return _edit(actor, workshop, draft, starts_at, ends_at, deadline)


def publish(actor: StaffUser, workshop: Workshop) -> bool:
    """Open a draft to registrations; False when it was not a draft."""
    begin_write()
    db.session.refresh(workshop)
    if workshop.status is not WorkshopStatus.draft:
        db.session.rollback()
        return False
    workshop.status = WorkshopStatus.published
    audit.record(
        actor,
        "workshop.publish",
        "workshop",
        workshop.id,
        f"Publication de « {workshop.title} » ({_when(workshop)})",
    )
    db.session.commit()
    return True


#: Why a session its trainer closed cannot be cancelled.
CLOSED_NOT_CANCELLABLE = (
    "Le formateur a clos cette séance : elle a eu lieu et ne peut plus être annulée."
)
#: Why a session already started (or over) cannot be cancelled; booking refuses it too.
STARTED_NOT_CANCELLABLE = "Cet atelier a déjà commencé ou eu lieu : il ne peut plus être annulé."


def cancellable(workshops: list[Workshop]) -> set[int]:
    """The ids of those workshops that can still be cancelled: drafts, and published sessions not
    started nor closed by their trainer."""
    closed = attendance.closed_ids([w.id for w in workshops])
    moment = now()
    return {
        w.id
        for w in workshops
        if w.status is WorkshopStatus.draft
        or (w.status is WorkshopStatus.published and w.starts_at > moment and w.id not in closed)
    }


def cancel_refusal(workshop: Workshop) -> str | None:
    """Why this workshop cannot be cancelled now, in French; None when it can (or already is)."""
    if workshop.status is not WorkshopStatus.published:
        return None
    if attendance.session_closed(workshop.id):
        return CLOSED_NOT_CANCELLABLE
    return STARTED_NOT_CANCELLABLE if workshop.starts_at <= now() else None


def cancel(actor: StaffUser, workshop: Workshop, reason: str) -> changes.Outcome:
    """Cancel a published workshop and tell everyone (see booking.changes.cancel_workshop).

    A session already started, or closed by its trainer (possible an hour before the start), is
    refused with ChangeRefused: closed is read under the workshop's lock, which the closing takes
    too, so a closing and a cancelling never both happen.
    """
    if workshop.status is WorkshopStatus.draft:
        begin_write()
        db.session.refresh(workshop)
        workshop.status = WorkshopStatus.cancelled
        audit.record(
            actor,
            "workshop.cancel",
            "workshop",
            workshop.id,
            f"Annulation du brouillon « {workshop.title} »",
            reason=reason,
        )
        db.session.commit()
        return changes.Outcome(workshop)

    with write_transaction():
        outcome = changes.cancel_workshop(workshop.id, reason)
        if outcome.changed and attendance.session_closed(workshop.id):
            raise changes.ChangeRefused(CLOSED_NOT_CANCELLABLE)  # rolls the cancelling back
        if outcome.changed:
            audit.record(
                actor,
                "workshop.cancel",
                "workshop",
                workshop.id,
                f"Annulation de « {workshop.title} » ({_when(workshop)}) : {outcome.confirmed} "
                f"inscrit·es et {outcome.waiting} en attente prévenu·es",
                reason=changes.clean_reason(reason),
            )
    return outcome


def duplicate(workshop: Workshop) -> dict:
    """The form's initial values for a copy of `workshop` (date and place to be chosen)."""
    return {
        "title": workshop.title,
        "description": workshop.description,
        "topic": workshop.topic,
        "level": workshop.level,
        "room": workshop.room,
        "trainer": workshop.trainer,
        "capacity": workshop.capacity,
        "what_to_bring": workshop.what_to_bring,
    }


# --- internals ---------------------------------------------------------------------------------


def _create(actor, draft: WorkshopDraft, starts_at, ends_at, deadline) -> Workshop:
    begin_write()
    workshop = Workshop(
        title=draft.title,
        description=draft.description,
        topic=draft.topic,
        level=draft.level,
        room=draft.room,
        trainer=draft.trainer,
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=draft.capacity,
        what_to_bring=draft.what_to_bring,
        registration_deadline=deadline,
        status=WorkshopStatus.draft,
    )
    db.session.add(workshop)
    db.session.flush()
    audit.record(
        actor,
        "workshop.create",
        "workshop",
        workshop.id,
        f"Création de « {workshop.title} » ({_when(workshop)}, brouillon)",
    )
    db.session.commit()
    return workshop


def _edit(actor, workshop: Workshop, draft: WorkshopDraft, starts_at, ends_at, deadline) -> Saved:
    new = {
        "title": draft.title,
        "description": draft.description,
        "topic": draft.topic,
        "level": draft.level,
        "trainer": draft.trainer,
        "what_to_bring": draft.what_to_bring,
        "registration_deadline": deadline,
    }
    saved = Saved(workshop)
    if workshop.status is WorkshopStatus.draft:
        new.update(room=draft.room, starts_at=starts_at, ends_at=ends_at, capacity=draft.capacity)
        _write_plain(actor, workshop, new)
        return saved
    # Published: plain fields first, then seats and schedule through booking (mails, calendars);
    # what booking would refuse is refused before anything is written.
    _precheck_published(workshop, draft, starts_at, ends_at)
    _write_plain(actor, workshop, new)
    lower_first = draft.capacity < workshop.capacity
    if lower_first:
        _capacity(actor, workshop, draft.capacity, saved)
    _move(actor, workshop, starts_at, ends_at, draft.room, saved)
    if not lower_first:
        _capacity(actor, workshop, draft.capacity, saved)
    db.session.refresh(workshop)
    return saved


def _precheck_published(workshop: Workshop, draft: WorkshopDraft, starts_at, ends_at) -> None:
    moved = (starts_at, ends_at, draft.room.id) != (
        workshop.starts_at,
        workshop.ends_at,
        workshop.room_id,
    )
    if not moved and draft.capacity == workshop.capacity:
        return
    if workshop.starts_at <= now():
        raise CatalogueRefused(
            "Cet atelier a déjà commencé ou eu lieu : sa date, sa salle et sa capacité "
            "ne changent plus."
        )
    if moved and starts_at <= now():
        raise CatalogueRefused("La nouvelle date est déjà passée : choisissez un moment à venir.")
    confirmed = REGISTRATIONS.count(workshop).confirmed
    if draft.capacity < confirmed:
        raise CatalogueRefused(
            f"{confirmed} personnes ont une place confirmée : la capacité ne peut pas "
            f"descendre à {draft.capacity}. Annulez d'abord des inscriptions."
        )


def _write_plain(actor, workshop: Workshop, new: dict) -> None:
    begin_write()
    db.session.refresh(workshop)
    changed = {
        name: (_show(getattr(workshop, name)), _show(value))
        for name, value in new.items()
        if getattr(workshop, name) != value
    }
    if not changed:
        db.session.rollback()
        return
    for name, value in new.items():
        setattr(workshop, name, value)
    audit.record(
        actor,
        "workshop.edit",
        "workshop",
        workshop.id,
        f"Modification de « {workshop.title} » : {audit.changed_fields(changed)}",
        **changed,
    )
    db.session.commit()


def _move(actor, workshop: Workshop, starts_at, ends_at, room: Room, saved: Saved) -> None:
    if (starts_at, ends_at, room.id) == (workshop.starts_at, workshop.ends_at, workshop.room_id):
        return

    try:
        with write_transaction():
            outcome = changes.reschedule(
                workshop.id, starts_at=starts_at, ends_at=ends_at, room_id=room.id
            )
            if outcome.changed:
                audit.record(
                    actor,
                    "workshop.move",
                    "workshop",
                    workshop.id,
                    f"Changement de « {workshop.title} » : "
                    + "; ".join(f"{c.label} {c.old} → {c.new}" for c in outcome.changes),
                    changes=[(c.label, c.old, c.new) for c in outcome.changes],
                )
    except changes.ChangeRefused as refusal:
        raise CatalogueRefused(str(refusal)) from None
    if outcome.changed:
        saved.notes.append(
            f"{outcome.confirmed} inscrit·es ont reçu la nouvelle invitation, "
            f"{outcome.waiting} personnes en attente ont été prévenues."
        )


def _capacity(actor, workshop: Workshop, capacity: int, saved: Saved) -> None:
    before = workshop.capacity

    try:
        with write_transaction():
            result = coordination.change_capacity(workshop.id, capacity)
            if result.changed:
                promoted = f", {len(result.promoted)} personnes promues" if result.promoted else ""
                audit.record(
                    actor,
                    "workshop.capacity",
                    "workshop",
                    workshop.id,
                    f"Capacité de « {workshop.title} » : {before} → {capacity}{promoted}",
                    capacity=(before, capacity),
                    promoted=[r.id for r in result.promoted],
                )
    except coordination.ActionRefused as refusal:
        raise CatalogueRefused(str(refusal)) from None
    if result.promoted:
        saved.notes.append(f"{len(result.promoted)} personnes en attente ont reçu une place.")


def _show(value) -> str:
    if isinstance(value, datetime):
        return datetime_fr(value)
    if isinstance(value, Level):
        return value.title
    for attribute in ("full_name", "name"):
        if hasattr(value, attribute):
            return getattr(value, attribute)
    return "" if value is None else str(value)


def _when(workshop: Workshop) -> str:
    return f"{datetime_fr(workshop.starts_at)}, {workshop.room.site.name}"
