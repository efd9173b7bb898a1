"""What publishing the draft changes for the presenters, against the previous version:
contributions that appear, move (time or room) or vanish, and whether the plenaries moved."""

from dataclasses import dataclass, field

from app.exchange.models import AgendaSlot, AgendaVersion, Contribution, HalfDay, SlotKind
from app.exchange.planning.draft import PLENARIES, Draft, draft_of
from app.exchange.services import latest_version, slots_of


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
