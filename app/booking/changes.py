"""Changes that reach people: a workshop moved (date, time, site or room) or cancelled.

The back office and `flask ateliers deplacer|annuler` call these services (no request in them).
Each is one seat transaction, as booking's own: the workshop row is locked first, the change
applied, every active registration's calendar SEQUENCE raised, and the mails written to the
outbox, all committed together or not at all (with the back office's audit entry, when it wraps
the call in its `write_transaction`).

A cancelled workshop keeps its registrations as they were (confirmed or waiting): the workshop's
status says it all. So the teacher's personal feed still lists it, marked cancelled, until its
date (it shows active registrations, and a cancelled workshop until the end of its day); the
figures can count the teachers a cancellation affected; and a cancellation stays one row's
change. Each active registration's SEQUENCE is raised all the same, so the METHOD:CANCEL sent
and the feed's event both supersede the last invitation.
"""

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from app.booking.mails import queue_mail
from app.booking.models import ACTIVE, Registration, RegistrationStatus
from app.booking.services import REGISTRATIONS
from app.catalog.models import Room, Workshop, WorkshopStatus
from app.catalog.services import apply_move
from app.clock import now
from app.database import get_by_id
from app.errors import Refused
from app.extensions import db
from app.formatting import site_place, timespan_fr

#: A cancellation's reason goes into mails and calendars: a few sentences at most.
MAX_REASON_LENGTH = 500


class ChangeRefused(Refused):
    """The change cannot be made; `str()` is the French explanation. Nothing was written."""


@dataclass(frozen=True)
class Change:
    """One thing that changed, as the mail shows it: "Salle : Salle 1 → Salle 2"."""

    label: str
    old: str
    new: str


@dataclass
class Outcome:
    """What a change did: the workshop, what changed, and who was told."""

    workshop: Workshop
    changes: list[Change] = field(default_factory=list)
    #: Teachers holding a seat (they got an invitation: REQUEST for a move, CANCEL otherwise).
    confirmed: int = 0
    #: People waiting (an information mail, no invitation).
    waiting: int = 0
    #: People waiting who got a seat because of the move (their start was too close before).
    promoted: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def reschedule(
    workshop_id: int,
    *,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    room_id: int | None = None,
) -> Outcome:
    """Move a published workshop to another time or room, and tell the people registered.

    A new start without a new end keeps the workshop's length. The new room must hold the
    workshop's capacity (so its confirmed seats). When the date, time, site or room really
    changed, each confirmed teacher gets an update mail with the new invitation (same UID,
    higher SEQUENCE) and each person waiting an information mail; no change sends nothing.
    Raises WorkshopNotFound or ChangeRefused (nothing written).
    """
    if any(moment is not None and moment.tzinfo is None for moment in (starts_at, ends_at)):
        raise ValueError("reschedule() takes aware datetimes (see app.formatting.from_paris)")
    with REGISTRATIONS.holding(workshop_id) as workshop:
        room = _room(room_id) if room_id is not None else None
        if starts_at is not None and ends_at is None:
            ends_at = starts_at + (workshop.ends_at - workshop.starts_at)
        _check_move(workshop, starts_at or workshop.starts_at, ends_at or workshop.ends_at, room)
        before = _description(workshop)
        previous = apply_move(workshop, starts_at=starts_at, ends_at=ends_at, room=room)
        outcome = Outcome(workshop, _changes(before, _description(workshop)))
        if previous:
            _tell_everyone(outcome, "changed", method="REQUEST", changes=outcome.changes)
            # Moved away from its start, a workshop may promote people the last hours' cutoff
            # held back.
            outcome.promoted = len(REGISTRATIONS.promote(workshop))
    return outcome


def cancel_workshop(workshop_id: int, reason: str) -> Outcome:
    """Cancel a published workshop and tell everyone registered or waiting, with the reason.

    Confirmed teachers get METHOD:CANCEL (same UID, higher SEQUENCE), people waiting the same
    mail without invitation; registrations stay as they are (see the module's docstring).
    Cancelling a cancelled workshop changes nothing and sends nothing (`changed` is False).
    Raises WorkshopNotFound or ChangeRefused (nothing written).
    """
    reason = clean_reason(reason)
    with REGISTRATIONS.holding(workshop_id) as workshop:
        outcome = Outcome(workshop)
        if workshop.status is WorkshopStatus.cancelled:  # read under the lock: cancelled once
            return outcome
        if workshop.starts_at <= now():
            raise ChangeRefused(
                "Cet atelier a déjà commencé ou eu lieu : il ne peut plus être annulé."
            )
        workshop.status = WorkshopStatus.cancelled
        workshop.sequence += 1
        outcome.changes.append(
            Change("Statut", WorkshopStatus.published.title, WorkshopStatus.cancelled.title)
        )
        _tell_everyone(
            outcome,
            "workshop_cancelled",
            method="CANCEL",
            notice=f"Atelier annulé : {reason}",
            reason=reason,
        )
    return outcome


def clean_reason(reason: str) -> str:
    """The reason as mails and calendars show it: trimmed, line breaks kept, other control
    characters dropped; refused when empty or too long (ChangeRefused)."""
    text = (reason or "").replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(c for c in text if c == "\n" or unicodedata.category(c) not in {"Cc", "Cf"})
    text = "\n".join(" ".join(line.split()) for line in text.strip().split("\n"))
    if not text:
        raise ChangeRefused(
            "Indiquez le motif de l'annulation : il figure dans le courriel envoyé aux inscrits."
        )
    if len(text) > MAX_REASON_LENGTH:
        raise ChangeRefused(f"Le motif est trop long : {MAX_REASON_LENGTH} caractères au plus.")
    return text


# --- checks ------------------------------------------------------------------------------------


def _room(room_id: int) -> Room:
    room = get_by_id(Room, room_id)
    if room is None:
        raise ChangeRefused(f"Aucune salle n'a l'identifiant {room_id}.")
    return room


def _check_move(
    workshop: Workshop, starts_at: datetime, ends_at: datetime, room: Room | None
) -> None:
    if workshop.status is not WorkshopStatus.published:
        raise ChangeRefused("Cet atelier est annulé : il ne peut plus être déplacé.")
    if workshop.starts_at <= now():
        raise ChangeRefused(
            "Cet atelier a déjà commencé ou eu lieu : il ne peut plus être déplacé."
        )
    if ends_at <= starts_at:
        raise ChangeRefused("La fin de l'atelier doit être après son début.")
    if starts_at <= now():
        raise ChangeRefused("La nouvelle date est déjà passée : choisissez un moment à venir.")
    if room is None or room.id == workshop.room_id:
        return
    confirmed = REGISTRATIONS.count(workshop).confirmed
    if room.capacity < confirmed:
        raise ChangeRefused(
            f"La salle « {room.name} » n'a {_only(room.capacity)} pour {confirmed} inscriptions "
            "confirmées : choisissez une salle plus grande ou annulez d'abord des inscriptions."
        )
    if room.capacity < workshop.capacity:
        raise ChangeRefused(
            f"L'atelier offre {workshop.capacity} places et la salle « {room.name} » n'en a "
            f"{_only(room.capacity, 'une')} : réduisez d'abord la capacité de l'atelier ou "
            "choisissez une salle plus grande."
        )


def _only(number: int, one: str = "une place") -> str:
    """French for "only so many places": "qu'une place", "que 12 places"."""
    return f"qu'{one}" if number == 1 else f"que {number} places"


# --- what changed ------------------------------------------------------------------------------


def _description(workshop: Workshop) -> dict[str, str]:
    """The workshop's time and place as a teacher reads them, to compare before and after."""
    return {
        "Date et horaire": timespan_fr(workshop.starts_at, workshop.ends_at),
        "Lieu": f"{site_place(workshop.site)}, {workshop.site.address}",
        "Salle": workshop.room.name,
    }


def _changes(before: dict[str, str], after: dict[str, str]) -> list[Change]:
    return [
        Change(label, before[label], after[label])
        for label in before
        if before[label] != after[label]
    ]


# --- who is told -------------------------------------------------------------------------------


def _tell_everyone(
    outcome: Outcome, template: str, *, method: str, notice: str | None = None, **context
) -> None:
    """Raise each active registration's SEQUENCE (their calendars must follow) and mail them;
    the seat holders' mails carry the invitation (`method`), the waiting people's none."""
    registrations = _active_registrations(outcome.workshop)
    for registration in registrations:
        registration.sequence += 1
    db.session.flush()  # the new `updated_at`s date the invitations (DTSTAMP)
    for registration in registrations:
        confirmed = registration.status is RegistrationStatus.confirmed
        queue_mail(
            registration,
            template,
            invitation=method if confirmed else None,
            notice=notice,
            **context,
        )
        if confirmed:
            outcome.confirmed += 1
        else:
            outcome.waiting += 1


def _active_registrations(workshop: Workshop) -> list[Registration]:
    """Confirmed first, then the waiting list in order."""
    return list(
        db.session.scalars(
            sa.select(Registration)
            .where(Registration.workshop_id == workshop.id, Registration.status.in_(ACTIVE))
            .order_by(Registration.status, Registration.waiting_position, Registration.id)
        )
    )
