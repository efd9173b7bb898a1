"""The agenda builder of the exchange half-day: accepted contributions placed in rooms and times.

A pure service (no database, no Flask): plain dataclasses in, plain dataclasses out, so the
scheduler job at the proposals deadline and the coordinators' button call the same code.

The model (OR-Tools CP-SAT), on a 5-minute grid counted from the start of the half-day:

- the opening plenary fills the first `opening_minutes` and the closing plenary the last
  `closing_minutes`, both in the auditorium; contributions run strictly between them;
- one common break of `break_minutes` whose start the solver chooses inside `break_window`
  (or, without one, within half an hour of the middle of the time between the plenaries); it
  splits the afternoon in two parts and every placed contribution lies wholly in one of them;
- per contribution, a start variable whose domain already holds its presenters' availability,
  and one boolean per (equipped room, part): at most one of them is true (placed or left out);
- no overlap in a room (one optional interval per contribution and equipped room), and no
  presenter in two places at once (one optional interval per contribution in a NoOverlap per
  presenter); redundant sums (a room's load per part fits in the part) strengthen the bounds.

It is solved in two phases, each a CP-SAT solve of its own (a lexicographic objective):

1. the most content placed (in 5-minute units), alone: an easy model. The upper bound is every
   room full, each part rounded down to the common divisor of the durations (15 minutes), and
   no more than all the contributions; a hand-made agenda that reaches it needs no solver;
2. the placed units kept (at least phase 1's), the preferences minimised, in 5-minute units:
   - 12 per (topic, room) pair used: a topic spread over two rooms costs 12 more than in one;
   - 6 per (beginner, expert) pair of one topic, both placed, where the expert starts before
     the beginner ends;
   - 1 per 5 minutes between the most and the least loaded room (rooms balanced);
   - 2 per 5 minutes of idle gap: time in a room, within a part, before a contribution that
     could have started earlier (a hole after the opening, the break or another contribution).
     Free time at the end of a part is not a gap: nothing waits on it.
   Every room used costs one pair at least: an agenda that costs 12 per room its units need
   (more content than time, one topic per room, no inversion, gap or imbalance) needs no solver.

Both phases start from hand-made agendas, two per start of the break: first fit, longest
first, least equipped room first (it places the most), and room after room, topic after topic,
beginners first (it costs little; tried again keeping several partial agendas when it fills the
rooms without reaching the floor). The best is given complete as a hint, so a small budget
improves an agenda rather than looking for one; if the solver finds nothing in its budget, the
hand-made agenda stands. The status is "optimal" only when both phases are proved.

Last, without the solver: within each part of each room, the contributions are put in the order
with the fewest topic switches that keeps every rule and costs no more (the objective counts
(topic, room) pairs, not whether a room alternates between two topics).

Deterministic, as CP-SAT is only with one worker, a fixed seed and a deterministic-time limit:
inputs sorted by id before modelling, one worker, a fixed seed and a deterministic-time budget
(`time_limit`, shared by the phases: phase 1 at most `PLACE_SHARE` of it, phase 2 the rest),
never a wall clock: the same input, in any order, gives the same agenda on any machine running
the same OR-Tools.
"""

from __future__ import annotations

from collections import defaultdict
from copy import copy
from dataclasses import dataclass, field
from datetime import time
from itertools import pairwise, permutations, product
from math import gcd
from typing import Literal

from ortools.sat.python import cp_model

from app.formatting import clock_fr

GRID = 5  #: minutes: every start and end lies on this grid, counted from the half-day start
DURATIONS = (15, 30, 45, 60)  #: testimony, demonstration, workshop, round table
BREAK_SPREAD = 30  #: minutes either side of the middle where a break without window may go
SEED = 20131001  #: fixed: CP-SAT is deterministic only with a fixed seed and one worker
TIME_LIMIT = 1.0  #: CP-SAT deterministic time for both phases together (not seconds)
PLACE_SHARE = 0.3  #: the share of `time_limit` phase 1 may use; phase 2 has what it leaves
WIDTH = 5  #: partial agendas kept from room to room by the second try of the hand-made agenda
REGROUP = 6  #: the most contributions in a part whose orders are all tried (6! = 720)

W_TOPIC = 12
W_ORDER = 6
W_BALANCE = 1
W_IDLE = 2

NO_SLOT = "pas de créneau libre compatible (durée, salle équipée, disponibilités)"

Level = Literal["debutant", "expert"]
SlotKind = Literal["opening", "closing", "break", "contribution"]


@dataclass(frozen=True)
class Room:
    id: int | str
    name: str
    capacity: int
    equipment: frozenset[str] = frozenset()
    is_auditorium: bool = False


@dataclass(frozen=True)
class Contribution:
    id: int | str
    title: str
    duration_minutes: int
    topic: str
    level: Level
    presenters: tuple[str, ...] = ()
    needs: frozenset[str] = frozenset()
    available_from: time | None = None
    available_until: time | None = None


@dataclass(frozen=True)
class HalfDay:
    starts: time
    ends: time
    rooms: tuple[Room, ...]
    opening_minutes: int = 15
    closing_minutes: int = 15
    break_minutes: int = 20
    break_window: tuple[time, time] | None = None


@dataclass(frozen=True)
class Slot:
    contribution_id: int | str | None
    kind: SlotKind
    room_id: int | str | None  #: None for the common break: everyone
    starts: time
    ends: time


@dataclass
class Agenda:
    slots: list[Slot]
    left_out: list[tuple[int | str, str]]
    quality: dict = field(default_factory=dict)
    status: Literal["optimal", "feasible"] = "optimal"


def build_agenda(half_day: HalfDay, contributions, *, time_limit: float = TIME_LIMIT) -> Agenda:
    """Place `contributions` in the rooms and times of `half_day`; see the module docstring.

    `time_limit` is CP-SAT deterministic time for both phases, not seconds. On the 2-core
    machine of issue 7, 1.0 took 1.5 to 3 s of processor time when the search used all of it
    (20 contributions nearly filling the rooms: the preferences are rarely proved best), and
    0.05 to 0.3 s when the hand-made agenda was proved best (60 or 120 contributions, more
    content than time); see bench/agenda.py.
    A half-day that cannot hold its own plenaries and break raises ValueError (a setting to fix);
    a contribution that cannot be placed never raises: it is left out with the reason.
    """
    frame = _Frame.of(half_day)
    rooms = sorted(half_day.rooms, key=lambda room: room.id)
    candidates, left_out = [], []
    for contribution in sorted(contributions, key=lambda c: c.id):
        reason = _precheck(contribution, frame, rooms)
        if reason:
            left_out.append((contribution.id, reason))
        else:
            candidates.append(contribution)
    model = _Model(frame, rooms, candidates)
    made = model.hand_made()
    placing, placing_proved, spent = model.place_most(made, time_limit * PLACE_SHARE)
    best, best_proved = model.prefer(placing, made, max(time_limit - spent, 0.0))
    best = model.regroup(best)
    left_out += [(c.id, NO_SLOT) for c in candidates if c.id not in best.placed]
    return _agenda(
        frame,
        rooms,
        {c_id: (room_id, start) for c_id, (room_id, _, start) in best.placed.items()},
        sorted(left_out, key=lambda item: item[0]),
        "optimal" if placing_proved and best_proved else "feasible",
        candidates,
        best.break_start,
    )


# --- the frame: the half-day in grid units --------------------------------------------------


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _clock(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


@dataclass(frozen=True)
class _Frame:
    """The half-day in grid units from its start: where contributions and the break may go."""

    origin: int  #: minutes since midnight of the half-day start
    end: int  #: units: the end of the half-day
    first: int  #: units: the end of the opening plenary, where contributions may begin
    last: int  #: units: the start of the closing plenary, where contributions must have ended
    break_units: int
    break_earliest: int
    break_latest: int  #: the latest start of the break

    @classmethod
    def of(cls, half_day: HalfDay) -> _Frame:
        for minutes in (half_day.opening_minutes, half_day.closing_minutes, half_day.break_minutes):
            if minutes < 0 or minutes % GRID:
                raise ValueError(f"durée de {minutes} min hors de la grille de {GRID} min")
        origin = _minutes(half_day.starts)
        length = _minutes(half_day.ends) - origin
        if length <= 0 or length % GRID:
            raise ValueError("l'heure de fin doit suivre l'heure de début, par pas de 5 min")
        if not any(room.is_auditorium for room in half_day.rooms):
            raise ValueError("aucun amphithéâtre pour les plénières d'ouverture et de clôture")
        first = half_day.opening_minutes // GRID
        last = (length - half_day.closing_minutes) // GRID
        break_units = half_day.break_minutes // GRID
        if last - first < break_units:
            raise ValueError("la demi-journée est trop courte pour les plénières et la pause")
        if half_day.break_window:
            earliest = max(first, _units_up(half_day.break_window[0], origin))
            latest = min(last, _units_down(half_day.break_window[1], origin)) - break_units
        else:
            middle = (first + last - break_units) // 2
            earliest = max(first, middle - BREAK_SPREAD // GRID)
            latest = min(last - break_units, middle + BREAK_SPREAD // GRID)
        if latest < earliest:
            raise ValueError("la fenêtre de la pause ne tient pas entre les plénières")
        return cls(origin, length // GRID, first, last, break_units, earliest, latest)

    @property
    def break_default(self) -> int:
        return (self.break_earliest + self.break_latest) // 2

    def clock(self, units: int) -> time:
        return _clock(self.origin + units * GRID)

    def availability(self, contribution: Contribution) -> tuple[int, int]:
        """The units between which the contribution may run, within the contributions' time."""
        start, stop = self.first, self.last
        if contribution.available_from is not None:
            start = max(start, _units_up(contribution.available_from, self.origin))
        if contribution.available_until is not None:
            stop = min(stop, _units_down(contribution.available_until, self.origin))
        return start, stop


def _units_up(moment: time, origin: int) -> int:
    return -((origin - _minutes(moment)) // GRID)


def _units_down(moment: time, origin: int) -> int:
    return (_minutes(moment) - origin) // GRID


# --- the checks before the solver: reasons a coordinator can act on --------------------------


def _precheck(contribution: Contribution, frame: _Frame, rooms: list[Room]) -> str | None:
    return (
        _duration_problem(contribution)
        or _equipment_problem(contribution, rooms)
        or _availability_problem(contribution, frame)
    )


def _duration_problem(contribution: Contribution) -> str | None:
    if contribution.duration_minutes not in DURATIONS:
        return f"durée non prévue : {contribution.duration_minutes} min (15, 30, 45 ou 60 min)"
    return None


def _equipment_problem(contribution: Contribution, rooms: list[Room]) -> str | None:
    if any(contribution.needs <= room.equipment for room in rooms):
        return None
    missing = sorted(
        need for need in contribution.needs if not any(need in room.equipment for room in rooms)
    )
    if missing:
        names = ", ".join(f"« {need} »" for need in missing)
        return f"aucune salle n'a l'équipement demandé : {names}"
    names = ", ".join(f"« {need} »" for need in sorted(contribution.needs))
    return f"aucune salle n'a à la fois les équipements demandés : {names}"


def _availability_problem(contribution: Contribution, frame: _Frame) -> str | None:
    start, stop = frame.availability(contribution)
    if stop <= frame.first:
        until = clock_fr(contribution.available_until)
        return (
            f"intervenant·e disponible seulement avant le début de la demi-journée "
            f"(jusqu'à {until}, interventions à partir de {clock_fr(frame.clock(frame.first))})"
        )
    if start >= frame.last:
        since = clock_fr(contribution.available_from)
        return (
            f"intervenant·e disponible seulement après la fin de la demi-journée "
            f"(à partir de {since}, interventions jusqu'à {clock_fr(frame.clock(frame.last))})"
        )
    if (stop - start) * GRID < contribution.duration_minutes:
        window = f"{clock_fr(frame.clock(start))} – {clock_fr(frame.clock(stop))}"
        return (
            f"durée ({contribution.duration_minutes} min) plus longue que la disponibilité "
            f"de l'intervenant·e pendant la demi-journée ({window})"
        )
    return None


# --- the CP-SAT model -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Solution:
    placed: dict  #: contribution id -> (room id, part, start units); part 0 before the break
    break_start: int


def _solver(budget: float) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = SEED
    solver.parameters.max_deterministic_time = budget
    return solver


def _solved(result) -> bool:
    return result in (cp_model.OPTIMAL, cp_model.FEASIBLE)


class _Model:
    """The hard constraints in CP-SAT, the two phases that solve them, and the hand-made agendas,
    bounds and cost (the second phase's objective, computed in Python) that start or spare them."""

    def __init__(self, frame: _Frame, rooms: list[Room], contributions: list[Contribution]):
        self.frame, self.rooms, self.contributions = frame, rooms, contributions
        self.by_id = {c.id: c for c in contributions}
        self.cp = cp_model.CpModel()
        cp = self.cp
        self.break_start = cp.new_int_var(frame.break_earliest, frame.break_latest, "break")
        self.break_end = self.break_start + frame.break_units
        self.start, self.size, self.placed_var = {}, {}, {}
        self.at = {}  #: (contribution id, room id, part) -> bool; part 0 before the break, 1 after
        self.in_room = {}  #: (contribution id, room id) -> bool
        room_intervals = defaultdict(list)
        for c in contributions:
            self._contribution(c, room_intervals)
        for room in rooms:
            cp.add_no_overlap(room_intervals[room.id])
        self._presenters()
        self._loads()
        self.units = sum(self.size[c.id] * self.placed_var[c.id] for c in contributions)
        self.used = self.inverted = self.ends = None  #: the second phase's variables
        self.highest = self.lowest = None
        self._eligible_cache = {}

    def _contribution(self, c: Contribution, room_intervals) -> None:
        cp, frame = self.cp, self.frame
        size = c.duration_minutes // GRID
        earliest, latest_end = frame.availability(c)
        start = cp.new_int_var(earliest, latest_end - size, f"start{c.id}")
        placed = cp.new_bool_var(f"placed{c.id}")
        self.start[c.id], self.size[c.id], self.placed_var[c.id] = start, size, placed
        choices = []
        for room in self.rooms:
            if not c.needs <= room.equipment:
                continue
            parts = [cp.new_bool_var(f"at{c.id}_{room.id}_{part}") for part in (0, 1)]
            self.at[c.id, room.id, 0], self.at[c.id, room.id, 1] = parts
            in_room = cp.new_bool_var(f"in{c.id}_{room.id}")
            cp.add(in_room == sum(parts))
            self.in_room[c.id, room.id] = in_room
            room_intervals[room.id].append(
                cp.new_optional_fixed_size_interval_var(start, size, in_room, f"iv{c.id}_{room.id}")
            )
            cp.add(start + size <= self.break_start).only_enforce_if(parts[0])
            cp.add(start >= self.break_end).only_enforce_if(parts[1])
            choices += parts
        cp.add(placed == sum(choices))

    def _presenters(self) -> None:
        by_presenter = defaultdict(list)
        for c in self.contributions:
            for presenter in set(c.presenters):
                by_presenter[presenter].append(c)
        for presenter in sorted(by_presenter):
            talks = by_presenter[presenter]
            if len(talks) > 1:
                self.cp.add_no_overlap(
                    self.cp.new_optional_fixed_size_interval_var(
                        self.start[c.id], self.size[c.id], self.placed_var[c.id], f"p{c.id}"
                    )
                    for c in talks
                )

    def _load(self, room: Room, part: int | None = None):
        """The units in `room` (in one part of it if `part` is given), as a linear expression."""
        return sum(
            self.size[c.id]
            * (self.in_room[c.id, room.id] if part is None else self.at[c.id, room.id, part])
            for c in self.contributions
            if (c.id, room.id) in self.in_room
        )

    def _loads(self) -> None:
        """Redundant: what a room holds in a part fits in the part. The no-overlap constraints
        imply it, but as sums they give the linear relaxation a bound on the placed units (and
        presolve rounds them down to the durations' common divisor)."""
        frame = self.frame
        for room in self.rooms:
            self.cp.add(self._load(room, 0) <= self.break_start - frame.first)
            self.cp.add(self._load(room, 1) <= frame.last - self.break_end)
            self.cp.add(self._load(room) <= frame.last - frame.first - frame.break_units)

    # --- phase 1: the most minutes placed ------------------------------------------------------

    def place_most(self, made: list[_Solution], budget: float) -> tuple[_Solution, bool, float]:
        """The agenda placing the most minutes, whether that is proved, and the deterministic
        time spent. A hand-made agenda (`made`) that reaches `bound` needs no solver."""
        best = min(made, key=lambda s: (-self.units_of(s), self.cost(s)))
        bound = self.bound()
        if self.units_of(best) >= bound:
            return best, True, 0.0
        self.cp.add(self.units <= bound)
        self.cp.maximize(self.units)
        self.hint(best)
        solver = _solver(budget)
        result = solver.solve(self.cp)
        spent = solver.response_proto.deterministic_time
        if not _solved(result):
            return best, False, spent
        found = self.solution(solver)
        if self.units_of(found) < self.units_of(best):  # not expected: the hint is a solution
            return best, False, spent
        return found, result == cp_model.OPTIMAL, spent

    def units_of(self, solution: _Solution) -> int:
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
        rooms = {room_id for _, room_id in self.in_room}
        return min(sum(self.size.values()), len(rooms) * self.room_units())

    # --- phase 2: the preferences, the placed minutes kept --------------------------------------

    def prefer(
        self, placing: _Solution, made: list[_Solution], budget: float
    ) -> tuple[_Solution, bool]:
        """The agenda of least `cost` among those placing at least as many units as `placing`,
        and whether that is proved. The search starts from the cheapest of `placing` and the
        hand-made agendas placing as much; if that one costs no more than `floor`, no search."""
        units = self.units_of(placing)
        start = min([placing, *(s for s in made if self.units_of(s) >= units)], key=self.cost)
        if self.cost(start) <= self.floor(units):
            return start, True
        cp, frame = self.cp, self.frame
        cp.clear_objective()
        cp.add(self.units >= units)
        self.used = self._topic_spread()
        self.inverted = self._order_inversions()
        self.highest, self.lowest = self._imbalance()
        self.ends = self._idle_ends()
        gaps = sum(
            end - (frame.first if part == 0 else self.break_end) - self._load(room, part)
            for (room, part), end in self.ends.items()
        )
        cp.minimize(
            W_TOPIC * sum(self.used.values())
            + W_ORDER * sum(self.inverted.values())
            + W_BALANCE * (self.highest - self.lowest)
            + W_IDLE * gaps
        )
        self.hint(start)
        solver = _solver(budget)
        result = solver.solve(cp)
        if not _solved(result):
            return start, False
        return self.solution(solver), result == cp_model.OPTIMAL

    def floor(self, units: int) -> int:
        """A lower bound on the cost of an agenda placing `units`: every room used costs one
        (topic, room) pair at least, and `units` need that many rooms at least."""
        return W_TOPIC * -(-units // self.room_units()) if units else 0

    def cost(self, solution: _Solution) -> int:
        """What the second phase minimises, for a given agenda (see the module docstring)."""
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

    def occupation(self, solution: _Solution) -> tuple[dict, tuple[int, int], dict]:
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

    def _pairs(self):
        """(beginner, expert) of one topic, topic by topic."""
        by_topic = defaultdict(list)
        for c in self.contributions:
            by_topic[c.topic].append(c)
        for topic in sorted(by_topic):
            talks = by_topic[topic]
            for beginner in (c for c in talks if c.level == "debutant"):
                for expert in (c for c in talks if c.level == "expert"):
                    yield beginner, expert

    def _topic_spread(self) -> dict:
        """(topic, room id) -> bool, true when a contribution of the topic is in the room. Also
        as a sum (the topic's units in the room at most a full room while the pair is used), so
        that the linear relaxation sees that placing many units takes many pairs."""
        used = {}
        for (c_id, room_id), in_room in self.in_room.items():
            key = (self.by_id[c_id].topic, room_id)
            if key not in used:
                used[key] = self.cp.new_bool_var(f"topic{len(used)}")
            self.cp.add_implication(in_room, used[key])
        full = self.room_units()
        for (topic, room_id), flag in used.items():
            self.cp.add(
                sum(
                    self.size[c_id] * in_room
                    for (c_id, r_id), in_room in self.in_room.items()
                    if r_id == room_id and self.by_id[c_id].topic == topic
                )
                <= full * flag
            )
        return used

    def _order_inversions(self) -> dict:
        """(beginner id, expert id) -> bool, true when both are placed and the expert starts
        before the beginner ends."""
        inverted = {}
        for beginner, expert in self._pairs():
            flag = self.cp.new_bool_var(f"inv{beginner.id}_{expert.id}")
            self.cp.add(
                self.start[expert.id] >= self.start[beginner.id] + self.size[beginner.id]
            ).only_enforce_if(~flag, self.placed_var[beginner.id], self.placed_var[expert.id])
            inverted[beginner.id, expert.id] = flag
        return inverted

    def _imbalance(self):
        span = self.frame.last - self.frame.first
        highest = self.cp.new_int_var(0, span, "highest")
        lowest = self.cp.new_int_var(0, span, "lowest")
        for room in self.rooms:
            load = self._load(room)
            self.cp.add(highest >= load)
            self.cp.add(lowest <= load)
        return highest, lowest

    def _idle_ends(self) -> dict:
        """(room, part) -> the end of its last contribution, the part's start if none; the
        idle gaps of the part are that end minus the part's start and load. Stating that the
        end follows the start and load (redundant) keeps the relaxation from negative gaps."""
        frame, ends = self.frame, {}
        for room, part in product(self.rooms, (0, 1)):
            end = self.cp.new_int_var(frame.first, frame.last, f"end{room.id}_{part}")
            part_start = frame.first if part == 0 else self.break_end
            self.cp.add(end >= part_start + self._load(room, part))
            for c in self.contributions:
                here = self.at.get((c.id, room.id, part))
                if here is not None:
                    self.cp.add(end >= self.start[c.id] + self.size[c.id]).only_enforce_if(here)
            ends[room, part] = end
        return ends

    # --- after the solver: same-topic contributions next to each other ---------------------

    def regroup(self, solution: _Solution) -> _Solution:
        """Within each part of each room (of at most `REGROUP` contributions), every order laid
        end to end from the part's start (a gap only when a presenter arrives later) that keeps
        every rule: the one of least cost, then fewest topic switches in the room, replaces the
        solver's if better. The objective counts (topic, room) pairs, not their order."""
        best, best_key = solution, (self.cost(solution), self._switches(solution))
        for room, part in product(self.rooms, (0, 1)):
            here = sorted(
                (spot[2], c_id) for c_id, spot in best.placed.items() if spot[:2] == (room.id, part)
            )
            if not 1 < len(here) <= REGROUP:
                continue
            others = {
                c_id: spot for c_id, spot in best.placed.items() if spot[:2] != (room.id, part)
            }
            busy = defaultdict(list)
            for c_id, (_, _, start) in others.items():
                for presenter in self.by_id[c_id].presenters:
                    busy[presenter].append((start, start + self.size[c_id]))
            for order in permutations([c_id for _, c_id in here]):
                placed = self._laid(order, room, part, best.break_start, busy)
                if placed is None:
                    continue
                trial = _Solution({**others, **placed}, best.break_start)
                key = (self.cost(trial), self._switches(trial))
                if key < best_key:
                    best, best_key = trial, key
        return best

    def _laid(self, order, room: Room, part: int, break_start: int, busy) -> dict | None:
        """`order` end to end in the part, or None if a rule forbids it."""
        frame = self.frame
        cursor = frame.first if part == 0 else break_start + frame.break_units
        part_end = break_start if part == 0 else frame.last
        placed = {}
        for c_id in order:
            c = self.by_id[c_id]
            earliest, latest_end = frame.availability(c)
            start = max(cursor, earliest)
            cursor = start + self.size[c_id]
            if cursor > min(part_end, latest_end) or any(
                start < b and a < cursor for p in c.presenters for a, b in busy[p]
            ):
                return None
            placed[c_id] = (room.id, part, start)
        return placed

    def _switches(self, solution: _Solution) -> int:
        """How many times, room by room in time order, a contribution's topic differs from the
        previous one's (the `topic_switches` of the quality)."""
        by_room = defaultdict(list)
        for c_id, (room_id, _, start) in solution.placed.items():
            by_room[room_id].append((start, self.by_id[c_id].topic))
        return sum(
            sum(a[1] != b[1] for a, b in pairwise(sorted(talks))) for talks in by_room.values()
        )

    # --- hand-made agendas ---------------------------------------------------------------------

    def hand_made(self) -> list[_Solution]:
        """Agendas made by hand, for every start of the break: first fit, longest first, in the
        least equipped room first (to place the most), and room after room, topic after topic (to cost little). When one of
        them places all it can but none is proved cheapest (see `floor`), the latter again,
        keeping `WIDTH` partial agendas from one room to the next instead of one."""
        made = []
        longest = sorted(self.contributions, key=lambda c: (-c.duration_minutes, c.id))
        plainest = sorted(self.rooms, key=lambda room: len(room.equipment))  # stable: by id
        middle = self.frame.break_default
        starts = range(self.frame.break_earliest, self.frame.break_latest + 1)
        starts = sorted(starts, key=lambda start: (abs(start - middle), start))
        for break_start in starts:
            filling = _Filling(self, break_start)
            for c in longest:
                filling.fit(c, plainest)
            made += [filling.solution(), self._by_room(break_start, 1)]
        full = [solution for solution in made if self.units_of(solution) >= self.bound()]
        if full and all(self.cost(s) > self.floor(self.units_of(s)) for s in full):
            made += [self._by_room(break_start, WIDTH) for break_start in starts]
        return made

    def _by_room(self, break_start: int, width: int) -> _Solution:
        """Room after room (in id order), each topic first in turn; the `width` best partial
        agendas (the most placed, then the least cost) go on to the next room."""
        beam = [_Filling(self, break_start)]
        for room in self.rooms:
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
                trials, key=lambda t: (-self.units_of(t.solution()), self.cost(t.solution()))
            )
            beam = []
            for trial in ranked:
                if all(trial.placed != other.placed for other in beam):
                    beam.append(trial)
                if len(beam) == width:
                    break
        return beam[0].solution()

    def _fill_room(self, filling: _Filling, room: Room, topic: str) -> None:
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
            if filling.room_left(room) < min(self.size.values()):
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
                self.contributions, key=lambda c: (c.level != "debutant", -c.duration_minutes, c.id)
            ):
                if (c.id, room.id) in self.in_room:
                    by_topic[c.topic].append(c)
            self._eligible_cache[room.id] = dict(sorted(by_topic.items()))
        return self._eligible_cache[room.id]

    # --- to and from the solver ----------------------------------------------------------------

    def hint(self, solution: _Solution) -> None:
        """Every variable's value in `solution`: the search starts from a complete agenda."""
        cp, frame, size = self.cp, self.frame, self.size
        placed = solution.placed
        cp.clear_hints()
        cp.add_hint(self.break_start, solution.break_start)
        for c in self.contributions:
            spot = placed.get(c.id)
            cp.add_hint(self.placed_var[c.id], spot is not None)
            cp.add_hint(self.start[c.id], spot[2] if spot else frame.availability(c)[0])
        for (c_id, room_id, part), here in self.at.items():
            cp.add_hint(here, placed.get(c_id, (None, None))[:2] == (room_id, part))
        for (c_id, room_id), in_room in self.in_room.items():
            cp.add_hint(in_room, placed.get(c_id, (None,))[0] == room_id)
        if self.used is None:
            return
        topics = {(self.by_id[c_id].topic, spot[0]) for c_id, spot in placed.items()}
        for key, used in self.used.items():
            cp.add_hint(used, key in topics)
        for (beginner, expert), flag in self.inverted.items():
            b, e = placed.get(beginner), placed.get(expert)
            cp.add_hint(flag, b is not None and e is not None and e[2] < b[2] + size[beginner])
        loads, _, ends = self.occupation(solution)
        cp.add_hint(self.highest, max(loads.values()))
        cp.add_hint(self.lowest, min(loads.values()))
        for (room, part), end in self.ends.items():
            cp.add_hint(end, ends[room.id, part])

    def solution(self, solver: cp_model.CpSolver) -> _Solution:
        placed = {
            c_id: (room_id, part, solver.value(self.start[c_id]))
            for (c_id, room_id, part), here in self.at.items()
            if solver.boolean_value(here)
        }
        return _Solution(placed, solver.value(self.break_start))


class _Filling:
    """An agenda made by hand for one start of the break: in each room and part, contributions
    follow each other from the part's start (a gap only when a presenter arrives later)."""

    def __init__(self, model: _Model, break_start: int):
        frame = model.frame
        self.model, self.break_start = model, break_start
        self.parts = ((frame.first, break_start), (break_start + frame.break_units, frame.last))
        self.cursor = {(r.id, part): self.parts[part][0] for r in model.rooms for part in (0, 1)}
        self.busy = defaultdict(list)  #: presenter -> [(start, end)]
        self.placed = {}  #: contribution id -> (room id, part, start)
        self.topics = set()  #: the topics placed

    def copy(self) -> _Filling:
        other = copy(self)
        other.cursor, other.placed = dict(self.cursor), dict(self.placed)
        other.topics = set(self.topics)
        other.busy = defaultdict(list, {p: list(times) for p, times in self.busy.items()})
        return other

    def may_go(self, c: Contribution, room: Room) -> bool:
        return c.id not in self.placed and (c.id, room.id) in self.model.in_room

    def room_left(self, room: Room) -> int:
        return max(end - self.cursor[room.id, part] for part, (_, end) in enumerate(self.parts))

    def beginners_end(self, topic: str) -> int:
        model = self.model
        return max(
            (
                spot[2] + model.size[c_id]
                for c_id, spot in self.placed.items()
                if model.by_id[c_id].topic == topic and model.by_id[c_id].level == "debutant"
            ),
            default=0,
        )

    def fit(self, c: Contribution, rooms, after: int = 0) -> bool:
        """Place `c` at the end of the first room and part where it fits, not before `after`."""
        earliest, latest_end = self.model.frame.availability(c)
        size = self.model.size[c.id]
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

    def solution(self) -> _Solution:
        return _Solution(dict(self.placed), self.break_start)


# --- the result -----------------------------------------------------------------------------


def _agenda(frame, rooms, placed, left_out, status, contributions, break_start) -> Agenda:
    auditorium = next(room for room in rooms if room.is_auditorium)
    by_id = {c.id: c for c in contributions}
    slots = [
        Slot(None, "opening", auditorium.id, frame.clock(0), frame.clock(frame.first)),
        Slot(
            None,
            "break",
            None,
            frame.clock(break_start),
            frame.clock(break_start + frame.break_units),
        ),
        Slot(None, "closing", auditorium.id, frame.clock(frame.last), frame.clock(frame.end)),
    ]
    for c_id, (room_id, start) in placed.items():
        size = by_id[c_id].duration_minutes // GRID
        slots.append(
            Slot(c_id, "contribution", room_id, frame.clock(start), frame.clock(start + size))
        )
    order = {room.id: index for index, room in enumerate(rooms)}
    slots.sort(key=lambda s: (s.starts, -1 if s.room_id is None else order[s.room_id]))
    quality = _quality(frame, rooms, slots, by_id, break_start)
    return Agenda(slots, left_out, quality, status)


def _quality(frame, rooms, slots, by_id, break_start) -> dict:
    """Idle minutes (holes before a contribution within a part), topic switches, room loads."""
    break_end = frame.clock(break_start + frame.break_units)
    idle, switches, load = 0, 0, {}
    for room in rooms:
        talks = [s for s in slots if s.kind == "contribution" and s.room_id == room.id]
        load[room.id] = sum(by_id[s.contribution_id].duration_minutes for s in talks)
        cursor, previous_topic = frame.clock(frame.first), None
        for talk in talks:
            if talk.starts >= break_end > cursor:
                cursor = break_end
            idle += _minutes(talk.starts) - _minutes(cursor)
            cursor = talk.ends
            topic = by_id[talk.contribution_id].topic
            switches += previous_topic is not None and topic != previous_topic
            previous_topic = topic
    return {"idle_minutes": idle, "topic_switches": switches, "room_load": load}
