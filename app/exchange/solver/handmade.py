"""Agendas made by hand, without the solver: they start both phases (as hints) and, when one
reaches a phase's bound, spare it. First fit, longest first, least equipped room first (it
places the most), and room after room, topic after topic, beginners first (it costs little)."""

from __future__ import annotations

from collections import defaultdict
from copy import copy
from itertools import product

from app.exchange.solver.data import Contribution, Room
from app.exchange.solver.problem import Problem, Solution

WIDTH = 5  #: partial agendas kept from room to room by the second try of the hand-made agenda


class HandMade:
    """The hand-made agendas of `problem`, for every start of the break."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self._eligible_cache = {}

    def agendas(self) -> list[Solution]:
        """Agendas made by hand, for every start of the break: first fit, longest first, in the
        least equipped room first (to place the most), and room after room, topic after topic
        (to cost little). When one of them places all it can but none is proved cheapest (see
        `floor`), the latter again, keeping `WIDTH` partial agendas from one room to the next
        instead of one."""
        problem, frame, made = self.problem, self.problem.frame, []
        longest = sorted(problem.contributions, key=lambda c: (-c.duration_minutes, c.id))
        plainest = sorted(problem.rooms, key=lambda room: len(room.equipment))  # stable: by id
        middle = frame.break_default
        starts = range(frame.break_earliest, frame.break_latest + 1)
        starts = sorted(starts, key=lambda start: (abs(start - middle), start))
        for break_start in starts:
            filling = Filling(problem, break_start)
            for c in longest:
                filling.fit(c, plainest)
            made += [filling.solution(), self._by_room(break_start, 1)]
        full = [solution for solution in made if problem.units_of(solution) >= problem.bound()]
        if full and all(problem.cost(s) > problem.floor(problem.units_of(s)) for s in full):
            made += [self._by_room(break_start, WIDTH) for break_start in starts]
        return made

    def _by_room(self, break_start: int, width: int) -> Solution:
        """Room after room (in id order), each topic first in turn; the `width` best partial
        agendas (the most placed, then the least cost) go on to the next room."""
        problem = self.problem
        beam = [Filling(problem, break_start)]
        for room in problem.rooms:
            trials = []
            for filling in beam:
                topics = [
                    topic
                    for topic, talks in self._eligible(room).items()
                    if any(c.id not in filling.placed for c in talks)
                ]
                for topic in topics:
                    trial = filling.copy()
                    self._fill_room(trial, room, topic)
                    trials.append(trial)
                if not topics:
                    trials.append(filling)
            ranked = sorted(
                trials, key=lambda t: (-problem.units_of(t.solution()), problem.cost(t.solution()))
            )
            beam = []
            for trial in ranked:
                if all(trial.placed != other.placed for other in beam):
                    beam.append(trial)
                if len(beam) == width:
                    break
        return beam[0].solution()

    def _fill_room(self, filling: Filling, room: Room, topic: str) -> None:
        """`topic` first, then the topic with the most minutes left (preferring one placed in no
        other room), and so on while the room has room: beginners first, longest first, and no
        expert before a placed beginner of the topic ends."""
        eligible = self._eligible(room)
        tried = set()
        while topic is not None:
            tried.add(topic)
            for c in eligible[topic]:
                if c.id not in filling.placed:
                    after = filling.beginners_end(topic) if c.level == "expert" else 0
                    filling.fit(c, [room], after)
            if filling.room_left(room) < min(self.problem.size.values()):
                return
            minutes = {
                other: sum(c.duration_minutes for c in talks if c.id not in filling.placed)
                for other, talks in eligible.items()
                if other not in tried
            }
            topic = min(
                (other for other, left in minutes.items() if left),
                key=lambda t: (t in filling.topics, -minutes[t], t),
                default=None,
            )

    def _eligible(self, room: Room) -> dict:
        """Topic -> the contributions that may go in `room`, beginners first, longest first."""
        if room.id not in self._eligible_cache:
            by_topic = defaultdict(list)
            for c in sorted(
                self.problem.contributions,
                key=lambda c: (c.level != "debutant", -c.duration_minutes, c.id),
            ):
                if (c.id, room.id) in self.problem.fits:
                    by_topic[c.topic].append(c)
            self._eligible_cache[room.id] = dict(sorted(by_topic.items()))
        return self._eligible_cache[room.id]


class Filling:
    """An agenda made by hand for one start of the break: in each room and part, contributions
    follow each other from the part's start (a gap only when a presenter arrives later)."""

    def __init__(self, problem: Problem, break_start: int):
        frame = problem.frame
        self.problem, self.break_start = problem, break_start
        self.parts = ((frame.first, break_start), (break_start + frame.break_units, frame.last))
        self.cursor = {(r.id, part): self.parts[part][0] for r in problem.rooms for part in (0, 1)}
        self.busy = defaultdict(list)  #: presenter -> [(start, end)]
        self.placed = {}  #: contribution id -> (room id, part, start)
        self.topics = set()  #: the topics placed

    def copy(self) -> Filling:
        other = copy(self)
        other.cursor, other.placed = dict(self.cursor), dict(self.placed)
        other.topics = set(self.topics)
        other.busy = defaultdict(list, {p: list(times) for p, times in self.busy.items()})
        return other

    def may_go(self, c: Contribution, room: Room) -> bool:
        return c.id not in self.placed and (c.id, room.id) in self.problem.fits

    def room_left(self, room: Room) -> int:
        return max(end - self.cursor[room.id, part] for part, (_, end) in enumerate(self.parts))

    def beginners_end(self, topic: str) -> int:
        problem = self.problem
        return max(
            (
                spot[2] + problem.size[c_id]
                for c_id, spot in self.placed.items()
                if problem.by_id[c_id].topic == topic and problem.by_id[c_id].level == "debutant"
            ),
            default=0,
        )

    def fit(self, c: Contribution, rooms, after: int = 0) -> bool:
        """Place `c` at the end of the first room and part where it fits, not before `after`."""
        earliest, latest_end = self.problem.frame.availability(c)
        size = self.problem.size[c.id]
        for room, part in product(rooms, (0, 1)):
            if not self.may_go(c, room):
                continue
            start = max(self.cursor[room.id, part], earliest, after)
            end = start + size
            if end > min(self.parts[part][1], latest_end) or any(
                start < b and a < end for p in c.presenters for a, b in self.busy[p]
            ):
                continue
            self.placed[c.id] = (room.id, part, start)
            self.cursor[room.id, part] = end
            self.topics.add(c.topic)
            for presenter in c.presenters:
                self.busy[presenter].append((start, end))
            return True
        return False

    def solution(self) -> Solution:
        return Solution(dict(self.placed), self.break_start)
