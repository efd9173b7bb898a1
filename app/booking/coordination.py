"""What a coordinator does to seats from the back office: a capacity changed, a registration
cancelled on someone's behalf, a person waiting admitted to a free seat.

Each is one seat transaction like booking's own (the workshop row locked first, then counted),
with its mails in the outbox. The back office wraps each call in a `write_transaction` with its
audit entry: both commit together, or neither.
"""

from dataclasses import dataclass, field

from app.booking import services as booking
from app.booking.models import Registration, RegistrationStatus
from app.booking.services import REGISTRATIONS
from app.catalog.models import Workshop
from app.clock import now
from app.database import get_by_id
from app.errors import Refused
from app.extensions import db


class ActionRefused(Refused):
    """`str()` is the French explanation; nothing was written."""


@dataclass
class SeatChange:
    workshop: Workshop
    registration: Registration | None = None
    #: The people waiting who got a seat because of it.
    promoted: list[Registration] = field(default_factory=list)
    changed: bool = True


def change_capacity(workshop_id: int, capacity: int) -> SeatChange:
    """Set a workshop's number of seats. Never below the confirmed registrations (the
    coordinator cancels registrations first: a confirmed seat is never taken back), never above
    the room's; a rise promotes people waiting, first come first served (except in the last
    hours, as always)."""
    with REGISTRATIONS.holding(workshop_id) as workshop:
        problem = _capacity_problem(workshop, capacity)
        if problem:
            raise ActionRefused(problem)
        result = SeatChange(workshop, changed=capacity != workshop.capacity)
        if result.changed:
            workshop.capacity = capacity
            result.promoted = REGISTRATIONS.promote(workshop)
    return result


def _capacity_problem(workshop: Workshop, capacity: int) -> str | None:
    confirmed = REGISTRATIONS.count(workshop).confirmed
    if capacity < 1:
        return "Un atelier compte au moins une place."
    if capacity < confirmed:
        return (
            f"{confirmed} personnes ont une place confirmée : la capacité ne peut pas "
            f"descendre à {capacity}. Annulez d'abord des inscriptions."
        )
    if capacity > workshop.room.capacity:
        return f"La salle « {workshop.room.name} » ne compte que {workshop.room.capacity} places."
    return None


def cancel_registration(registration_id: int) -> SeatChange:
    """Cancel a registration for its holder (who is told, with METHOD:CANCEL for a seat);
    the seat goes to the first person waiting. Cancelling twice changes nothing."""
    registration = _registration(registration_id)
    with REGISTRATIONS.holding(registration.workshop_id) as workshop:
        promoted = booking.withdraw(registration, workshop)
    return SeatChange(workshop, registration, promoted or [], changed=promoted is not None)


def admit(registration_id: int) -> SeatChange:
    """Give a free seat to this person waiting, whatever their place in the list and even in the
    last hours (the coordinator decides); refused when no seat is free."""
    registration = _registration(registration_id)
    with REGISTRATIONS.holding(registration.workshop_id) as workshop:
        db.session.refresh(registration)  # read again under the lock
        if registration.status is not RegistrationStatus.waiting:
            raise ActionRefused("Cette personne n'est pas (ou plus) en liste d'attente.")
        if workshop.starts_at <= now():
            raise ActionRefused("Cet atelier a déjà commencé : accueillez la personne sur place.")
        if REGISTRATIONS.count(workshop).left < 1:
            raise ActionRefused(
                "Aucune place n'est libre : augmentez la capacité ou annulez une inscription "
                "d'abord."
            )
        REGISTRATIONS.admit(registration)
    return SeatChange(workshop, registration, promoted=[registration])


def _registration(registration_id: int) -> Registration:
    registration = get_by_id(Registration, registration_id)
    if registration is None:
        raise ActionRefused("Cette inscription n'existe pas.")
    return registration
