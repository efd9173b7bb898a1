"""What a coordinator does to seats from the back office: a capacity changed, a registration
cancelled on someone's behalf, a person waiting admitted to a free seat.

Each is one seat transaction like booking's own (the workshop row locked first, then counted),
with its mails in the outbox, and `before_commit(result)` called inside the transaction so the
back office's audit entry commits with the change or not at all.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from app.booking import services as booking
from app.booking.models import Registration, RegistrationStatus
from app.catalog.models import Workshop
from app.clock import now
from app.database import get_by_id
from app.extensions import db


class ActionRefused(Exception):
    """`str()` is the French explanation; nothing was written."""


@dataclass
class SeatChange:
    workshop: Workshop
    registration: Registration | None = None
    #: The people waiting who got a seat because of it.
    promoted: list[Registration] = field(default_factory=list)
    changed: bool = True


Hook = Callable[[SeatChange], None] | None


def change_capacity(workshop_id: int, capacity: int, *, before_commit: Hook = None) -> SeatChange:
    """Set a workshop's number of seats. Never below the confirmed registrations (rule 2: the
    coordinator cancels registrations first), never above the room's; a rise promotes people
    waiting, first come first served (except in the last hours, as always)."""
    workshop = booking._lock_workshop(workshop_id)
    count = booking._count_locked(workshop)
    problem = None
    if capacity < 1:
        problem = "Un atelier compte au moins une place."
    elif capacity < count.confirmed:
        problem = (
            f"{count.confirmed} personnes ont une place confirmée : la capacité ne peut pas "
            f"descendre à {capacity}. Annulez d'abord des inscriptions."
        )
    elif capacity > workshop.room.capacity:
        problem = (
            f"La salle « {workshop.room.name} » ne compte que {workshop.room.capacity} places."
        )
    if problem:
        db.session.rollback()
        raise ActionRefused(problem)
    result = SeatChange(workshop, changed=capacity != workshop.capacity)
    if not result.changed:
        db.session.rollback()
        return result
    workshop.capacity = capacity
    db.session.flush()
    result.promoted = booking._promote_waiting(workshop)
    _finish(result, before_commit)
    return result


def cancel_registration(registration_id: int, *, before_commit: Hook = None) -> SeatChange:
    """Cancel a registration for its holder (who is told, with METHOD:CANCEL for a seat);
    the seat goes to the first person waiting. Cancelling twice changes nothing."""
    registration, workshop = _lock(registration_id)
    result = SeatChange(workshop, registration)
    if not registration.is_active:
        db.session.rollback()
        result.changed = False
        return result
    was_confirmed = registration.status is RegistrationStatus.confirmed
    booking._withdraw(registration)
    booking.queue_mail(
        registration, "cancelled", with_link=False, invitation="CANCEL" if was_confirmed else None
    )
    if was_confirmed:
        result.promoted = booking._promote_waiting(workshop)
    _finish(result, before_commit)
    return result


def admit(registration_id: int, *, before_commit: Hook = None) -> SeatChange:
    """Give a free seat to this person waiting, whatever their place in the list and even in the
    last hours (the coordinator decides); refused when no seat is free."""
    registration, workshop = _lock(registration_id)
    if registration.status is not RegistrationStatus.waiting:
        db.session.rollback()
        raise ActionRefused("Cette personne n'est pas (ou plus) en liste d'attente.")
    if workshop.starts_at <= now():
        db.session.rollback()
        raise ActionRefused("Cet atelier a déjà commencé : accueillez la personne sur place.")
    if booking._count_locked(workshop).left < 1:
        db.session.rollback()
        raise ActionRefused(
            "Aucune place n'est libre : augmentez la capacité ou annulez une inscription d'abord."
        )
    position = registration.waiting_position
    booking.give_seat(registration)
    db.session.flush()
    booking._shift_waiting_list(workshop.id, after=position)
    booking.queue_mail(registration, "promoted", invitation="REQUEST")
    result = SeatChange(workshop, registration, promoted=[registration])
    _finish(result, before_commit)
    return result


def _lock(registration_id: int) -> tuple[Registration, Workshop]:
    """The registration and its workshop, the workshop row locked first, then the registration
    read again under the lock."""
    registration = get_by_id(Registration, registration_id)
    if registration is None:
        raise ActionRefused("Cette inscription n'existe pas.")
    workshop = booking._lock_workshop(registration.workshop_id)
    db.session.refresh(registration)
    return registration, workshop


def _finish(result: SeatChange, before_commit: Hook) -> None:
    if before_commit is not None:
        before_commit(result)
    db.session.commit()
