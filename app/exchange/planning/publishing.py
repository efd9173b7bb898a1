"""Publishing: the draft copied into a new version, then each presenter whose slot appeared,
moved or vanished since the previous version told — one mail each, with an updated invitation
(same UID `contribution-<id>@host`, a higher SEQUENCE) — and nobody else."""

from app.clock import now
from app.exchange.models import AgendaSlot, AgendaVersion, HalfDay, HalfDayState
from app.exchange.planning.changes import Changes, SlotChange, pending_changes, publishable
from app.exchange.planning.draft import WITH_DRAFT, Draft, draft_of, draft_problems
from app.exchange.planning.mails import tell
from app.exchange.planning.refusals import lock, refuse
from app.extensions import db
from app.staff import audit
from app.staff.models import StaffUser


def publish(half_day: HalfDay, actor: StaffUser, note: str = "") -> AgendaVersion:
    """Publish the draft as a new version and tell the presenters whose slot changed: one mail
    each with an updated invitation (REQUEST, or CANCEL when their contribution vanished)."""
    half_day = lock(half_day.id)
    draft, changes = _publishable(half_day)
    version = AgendaVersion(
        half_day_id=half_day.id,
        number=changes.previous.number + 1 if changes.previous else 1,
        published_at=now(),
        published_by=actor.email if actor is not None else "",
        note=(note or "").strip()[:300],
    )
    db.session.add(version)
    db.session.flush()
    copies = _copy_slots(draft, version)
    if changes.plenaries_moved:  # the plenaries' and the break's events carry this sequence
        half_day.sequence += 1
    _tell_presenters(half_day, version, changes, copies)
    half_day.state = HalfDayState.published
    _record(actor, half_day, version, changes)
    db.session.commit()
    return version


def _publishable(half_day: HalfDay) -> tuple[Draft, Changes]:
    """The locked half-day's draft and what publishing it changes; refused when there is no
    draft, nothing in it, a hard constraint broken, or nothing new since the last version."""
    if half_day.state not in WITH_DRAFT:
        refuse("Il n'y a pas d'agenda en préparation à publier : construisez-le d'abord.")
    draft = draft_of(half_day)
    if not draft.placements:
        refuse("L'agenda en préparation ne contient aucune intervention : il n'y a rien à publier.")
    problems = draft_problems(draft)
    if problems:
        refuse("L'agenda ne peut pas être publié tant que ceci n'est pas corrigé :", *problems)
    changes = pending_changes(half_day, draft)
    if changes.previous is not None and not changes:
        refuse(
            f"Rien n'a changé depuis la version {changes.previous.number} : aucune nouvelle version."
        )
    return draft, changes


def _copy_slots(draft: Draft, version: AgendaVersion) -> dict[int, AgendaSlot]:
    """The draft's publishable slots copied into `version`: draft slot id -> its copy."""
    copies = {}
    for slot in publishable(draft):
        copy = AgendaSlot(
            half_day_id=draft.half_day.id,
            version_id=version.id,
            kind=slot.kind,
            contribution_id=slot.contribution_id,
            room_id=slot.room_id,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
        )
        db.session.add(copy)
        copies[slot.id] = copy
    db.session.flush()
    return copies


def _tell_presenters(
    half_day: HalfDay, version: AgendaVersion, changes: Changes, copies: dict[int, AgendaSlot]
) -> None:
    """One mail per contribution placed, moved or removed; a placed or moved one's invitation
    names the version's copy of its slot, not the draft's."""
    for change in changes.added:
        tell(half_day, version, SlotChange(change.contribution, None, copies[change.after.id]))
    for change in changes.moved:
        tell(
            half_day,
            version,
            SlotChange(change.contribution, change.before, copies[change.after.id]),
        )
    for change in changes.removed:
        tell(half_day, version, change)


def _record(actor: StaffUser, half_day: HalfDay, version: AgendaVersion, changes: Changes) -> None:
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
