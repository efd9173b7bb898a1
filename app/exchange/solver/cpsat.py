"""The hard constraints in CP-SAT and the two phases that solve them (see the package
docstring): phase 1 places the most units, phase 2 keeps them and minimises the preferences'
cost. Each phase starts from a complete agenda given as a hint."""

from __future__ import annotations

from collections import defaultdict
from itertools import product

from ortools.sat.python import cp_model

from app.exchange.solver.data import Contribution, Room
from app.exchange.solver.problem import W_BALANCE, W_IDLE, W_ORDER, W_TOPIC, Problem, Solution

SEED = 20131001  #: fixed: CP-SAT is deterministic only with a fixed seed and one worker


def cp_solver(budget: float) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = SEED
    solver.parameters.max_deterministic_time = budget
    return solver


def solved(result) -> bool:
    return result in (cp_model.OPTIMAL, cp_model.FEASIBLE)


class Model:
    """The hard constraints of `problem` in CP-SAT, and the two phases that solve them."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self.frame, self.rooms = problem.frame, problem.rooms
        self.contributions, self.by_id = problem.contributions, problem.by_id
        self.size = problem.size
        self.cp = cp_model.CpModel()
        cp, frame = self.cp, self.frame
        self.break_start = cp.new_int_var(frame.break_earliest, frame.break_latest, "break")
        self.break_end = self.break_start + frame.break_units
        self.start, self.placed_var = {}, {}
        self.at = {}  #: (contribution id, room id, part) -> bool; part 0 before the break, 1 after
        self.in_room = {}  #: (contribution id, room id) -> bool
        room_intervals = defaultdict(list)
        for c in self.contributions:
            self._contribution(c, room_intervals)
        for room in self.rooms:
            cp.add_no_overlap(room_intervals[room.id])
        self._presenters()
        self._loads()
        self.units = sum(self.size[c.id] * self.placed_var[c.id] for c in self.contributions)
        self.used = self.inverted = self.ends = None  #: the second phase's variables
        self.highest = self.lowest = None

    def _contribution(self, c: Contribution, room_intervals) -> None:
        cp, frame = self.cp, self.frame
        size = self.size[c.id]
        earliest, latest_end = frame.availability(c)
        start = cp.new_int_var(earliest, latest_end - size, f"start{c.id}")
        placed = cp.new_bool_var(f"placed{c.id}")
        self.start[c.id], self.placed_var[c.id] = start, placed
        choices = []
        for room in self.rooms:
            if (c.id, room.id) not in self.problem.fits:
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

    def place_most(self, made: list[Solution], budget: float) -> tuple[Solution, bool, float]:
        """The agenda placing the most minutes, whether that is proved, and the deterministic
        time spent. A hand-made agenda (`made`) that reaches `bound` needs no solver."""
        problem = self.problem
        best = min(made, key=lambda s: (-problem.units_of(s), problem.cost(s)))
        bound = problem.bound()
        if problem.units_of(best) >= bound:
            return best, True, 0.0
        self.cp.add(self.units <= bound)
        self.cp.maximize(self.units)
        self.hint(best)
        solver = cp_solver(budget)
        result = solver.solve(self.cp)
        spent = solver.response_proto.deterministic_time
        if not solved(result):
            return best, False, spent
        found = self.solution(solver)
        if problem.units_of(found) < problem.units_of(best):  # not expected: the hint is one
            return best, False, spent
        return found, result == cp_model.OPTIMAL, spent

    # --- phase 2: the preferences, the placed minutes kept --------------------------------------

    def prefer(
        self, placing: Solution, made: list[Solution], budget: float
    ) -> tuple[Solution, bool]:
        """The agenda of least `cost` among those placing at least as many units as `placing`,
        and whether that is proved. The search starts from the cheapest of `placing` and the
        hand-made agendas placing as much; if that one costs no more than `floor`, no search."""
        problem = self.problem
        units = problem.units_of(placing)
        start = min([placing, *(s for s in made if problem.units_of(s) >= units)], key=problem.cost)
        if problem.cost(start) <= problem.floor(units):
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
        solver = cp_solver(budget)
        result = solver.solve(cp)
        if not solved(result):
            return start, False
        return self.solution(solver), result == cp_model.OPTIMAL

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
        full = self.problem.room_units()
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

    # --- to and from the solver ----------------------------------------------------------------

    def hint(self, solution: Solution) -> None:
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
        loads, _, ends = self.problem.occupation(solution)
        cp.add_hint(self.highest, max(loads.values()))
        cp.add_hint(self.lowest, min(loads.values()))
        for (room, part), end in self.ends.items():
            cp.add_hint(end, ends[room.id, part])

    def solution(self, solver: cp_model.CpSolver) -> Solution:
        placed = {
            c_id: (room_id, part, solver.value(self.start[c_id]))
            for (c_id, room_id, part), here in self.at.items()
            if solver.boolean_value(here)
        }
        return Solution(placed, solver.value(self.break_start))
