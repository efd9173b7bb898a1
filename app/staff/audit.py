"""Writing and reading the audit log. `record()` joins the caller's transaction: the entry is
committed with the change it describes, or not at all."""

import json

import sqlalchemy as sa

from app.extensions import db
from app.staff.models import AuditEntry, StaffUser

SHELL = "ligne de commande"
#: An entry's summary once the person it named is anonymised.
FORGOTTEN = "(données personnelles effacées après la durée de conservation)"

#: How a changed field is named in an entry's summary ("Modification de « … » : salle, début").
FIELD_LABELS = {
    "title": "titre",
    "description": "description",
    "topic": "thème",
    "level": "niveau",
    "trainer": "formateur",
    "what_to_bring": "à apporter",
    "registration_deadline": "date limite",
    "room": "salle",
    "starts_at": "début",
    "ends_at": "fin",
    "capacity": "places",
    "slug": "identifiant",
    "name": "nom",
    "street": "adresse",
    "postcode": "code postal",
    "city": "ville",
    "latitude": "latitude",
    "longitude": "longitude",
    "access_notes": "accès",
    "videoconference": "visioconférence",
    "step_free": "accès sans marche",
    "first_name": "prénom",
    "last_name": "nom",
    "email": "adresse",
    "site_id": "site",
}


def changed_fields(names) -> str:
    """The French names of changed fields, for a summary: "salle, début"."""
    return ", ".join(FIELD_LABELS.get(name, name) for name in names)


def record(
    actor: StaffUser | None,
    action: str,
    target_kind: str,
    target_id: int | None,
    summary: str,
    **details,
) -> AuditEntry:
    """Add an entry (not committed). `actor` None means the shell (CLI commands)."""
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        actor_name=actor.full_name if actor is not None else SHELL,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        summary=summary,
        details=json.dumps(details, ensure_ascii=False, default=str, sort_keys=True),
    )
    db.session.add(entry)
    return entry


def entries(
    *,
    target_kind: str | None = None,
    target_id: int | None = None,
    limit: int = 200,
    before_id: int | None = None,
) -> list[AuditEntry]:
    """The latest entries, newest first; `before_id` pages back."""
    query = sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if target_kind is not None:
        query = query.where(AuditEntry.target_kind == target_kind)
    if target_id is not None:
        query = query.where(AuditEntry.target_id == target_id)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(db.session.scalars(query))


def forget(target_kind: str, target_ids: list[int]) -> None:
    """Drop the names the entries about these rows hold (their personal data's retention
    period, PERSONAL_DATA_RETENTION_DAYS, is over); the action, who did it and when stay. Joins
    the caller's transaction."""
    db.session.execute(
        sa.update(AuditEntry)
        .where(AuditEntry.target_kind == target_kind, AuditEntry.target_id.in_(target_ids))
        .values(summary=FORGOTTEN, details="{}")
        .execution_options(synchronize_session=False)
    )
