"""What the phases and the hand-made agendas share: the contributions to place in the frame's
rooms, an agenda as a plain solution, and the preferences' cost and bounds computed in Python
(the second phase minimises the same cost in CP-SAT; see the package docstring)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise
from math import gcd

from app.exchange.solver.data import GRID, Contribution, Room
from app.exchange.solver.frame import Frame

W_TOPIC = 12
W_ORDER = 6
W_BALANCE = 1
W_IDLE = 2


@dataclass(frozen=True)
class Solution:
    placed: dict  #: contribution id -> (room id, part, start units); part 0 before the break
    break_start: int


class Problem:
    """The contributions (sorted by id), the rooms (sorted by id), and in which rooms each one
    may go: those that have everything it needs."""

    def __init__(self, frame: Frame, rooms: list[Room], contributions: list[Contribution]):
        self.frame, self.rooms, self.contributions = frame, rooms, contributions
        self.by_id = {c.id: c for c in contributions}
        self.size = {c.id: c.duration_minutes // GRID for c in contributions}
        #: (contribution id, room id) pairs where the contribution may go, contribution by
        #: contribution, room by room
        self.fits = {
            (c.id, room.id): None
            for c in contributions
            for room in rooms
            if c.needs <= room.equipment
        }

    def units_of(self, solution: Solution) -> int:
        return sum(self.size[c_id] for c_id in solution.placed)

    def room_units(self) -> int:
        """The most units one room can hold: each part its length rounded down to the common
        divisor of the durations, at the best start of the break."""
        sizes = [self.size[c.id] for c in self.contributions]
        if not sizes:
            return 0
        divisor, frame = gcd(*sizes), self.frame
        return max(
            sum(
                part // divisor * divisor
                for part in (start - frame.first, frame.last - start - frame.break_units)
            )
            for start in range(frame.break_earliest, frame.break_latest + 1)
        )

    def bound(self) -> int:
        """An upper bound on the placed units: every room that may receive a contribution full,
        and no more than all the contributions."""
        rooms = {room_id for _, room_id in self.fits}
        return min(sum(self.size.values()), len(rooms) * self.room_units())

    def floor(self, units: int) -> int:
        """A lower bound on the cost of an agenda placing `units`: every room used costs one
        (topic, room) pair at least, and `units` need that many rooms at least."""
        return W_TOPIC * -(-units // self.room_units()) if units else 0

    def cost(self, solution: Solution) -> int:
        """What the second phase minimises, for a given agenda (see the package docstring)."""
        size, placed = self.size, solution.placed
        topics, levels = set(), defaultdict(lambda: ([], []))
        for c_id, (room_id, _, start) in placed.items():
            c = self.by_id[c_id]
            topics.add((c.topic, room_id))
            levels[c.topic][c.level == "expert"].append((start, size[c_id]))
        inversions = sum(
            expert < start + length
            for beginners, experts in levels.values()
            for start, length in beginners
            for expert, _ in experts
        )
        loads, starts, ends = self.occupation(solution)
        gaps = sum(ends.values()) - len(self.rooms) * sum(starts) - sum(loads.values())
        return (
            W_TOPIC * len(topics)
            + W_ORDER * inversions
            + W_BALANCE * (max(loads.values()) - min(loads.values()))
            + W_IDLE * gaps
        )

    def occupation(self, solution: Solution) -> tuple[dict, tuple[int, int], dict]:
        """Per room, the units placed; the two parts' starts; per (room, part), where its last
        contribution ends (the part's start when it has none): the balance and idle terms."""
        size, placed = self.size, solution.placed
        loads = {room.id: 0 for room in self.rooms}
        starts = (self.frame.first, solution.break_start + self.frame.break_units)
        ends = {(room.id, part): starts[part] for room in self.rooms for part in (0, 1)}
        for c_id, (room_id, part, start) in placed.items():
            loads[room_id] += size[c_id]
            ends[room_id, part] = max(ends[room_id, part], start + size[c_id])
        return loads, starts, ends

    def switches(self, solution: Solution) -> int:
        """How many times, room by room in time order, a contribution's topic differs from the
        previous one's (the `topic_switches` of the quality)."""
        by_room = defaultdict(list)
        for c_id, (room_id, _, start) in solution.placed.items():
            by_room[room_id].append((start, self.by_id[c_id].topic))
        return sum(
            sum(a[1] != b[1] for a, b in pairwise(sorted(talks))) for talks in by_room.values()
        )
