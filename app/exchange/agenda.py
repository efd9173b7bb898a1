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
  presenter).

The objective is one weighted sum, minimised, in 5-minute units:

- placed content first: -W_place per 5 minutes of placed contribution, where W_place is larger
  than the largest possible sum of every term below, so that placing more content always wins
  (a lexicographic objective in one solve);
- 12 per (topic, room) pair used: a topic spread over two rooms costs 12 more than in one;
- 6 per (beginner, expert) pair of one topic where the expert starts before the beginner ends;
- 1 per 5 minutes between the most and the least loaded room (rooms balanced);
- 2 per 5 minutes of idle gap: time in a room, within a part, before a contribution that
  could have started earlier (a hole after the opening, the break or another contribution).
  Free time at the end of a part is not a gap: nothing waits on it.

The search starts from a first-fit agenda (longest contributions first) given as a hint, so
that a small budget improves a complete agenda rather than looking for one.

Deterministic (TRAPS.md, "Solver"): inputs sorted by id before modelling, one worker, a fixed
seed and a deterministic-time budget (`time_limit`), never a wall clock: the same input, in any
order, gives the same agenda on any machine running the same OR-Tools.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import time
from typing import Literal

from ortools.sat.python import cp_model

GRID = 5  #: minutes: every start and end lies on this grid, counted from the half-day start
DURATIONS = (15, 30, 45, 60)  #: testimony, demonstration, workshop, round table
BREAK_SPREAD = 30  #: minutes either side of the middle where a break without window may go
SEED = 20131001  #: fixed: CP-SAT is deterministic only with a fixed seed and one worker

W_TOPIC = 12
W_ORDER = 6
W_BALANCE = 1
W_IDLE = 2

NO_SLOT = "pas de créneau libre compatible (durée, salle équipée, disponibilités)"
NO_SOLUTION = "aucun agenda trouvé dans le temps de calcul imparti"

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


def build_agenda(half_day: HalfDay, contributions, *, time_limit: float = 0.1) -> Agenda:
    """Place `contributions` in the rooms and times of `half_day`; see the module docstring.

    `time_limit` is CP-SAT deterministic time, not seconds: on the 2-core machine of issue 7
    under load, 0.1 took 0.5 s for 20 contributions, 1.5 s for 60 and 3 s for 120 (bench/agenda.py);
    10 took over a minute. Placement rarely gets a proof of optimality within it.
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
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = SEED
    solver.parameters.max_deterministic_time = time_limit
    result = solver.solve(model.cp)
    if result not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        left_out += [(c.id, NO_SOLUTION) for c in candidates]
        return _agenda(
            frame,
            rooms,
            {},
            sorted(left_out, key=lambda item: item[0]),
            "feasible",
            candidates,
            frame.break_default,
        )
    placed = model.placed(solver)
    left_out += [(c.id, NO_SLOT) for c in candidates if c.id not in placed]
    status = "optimal" if result == cp_model.OPTIMAL else "feasible"
    return _agenda(
        frame,
        rooms,
        placed,
        sorted(left_out, key=lambda item: item[0]),
        status,
        candidates,
        solver.value(model.break_start),
    )


# --- the frame: the half-day in grid units --------------------------------------------------


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _clock(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


def _clock_fr(moment: time) -> str:
    """Times as app.formatting writes them: "14 h", "14 h 30"."""
    return f"{moment.hour} h" if moment.minute == 0 else f"{moment.hour} h {moment.minute:02d}"


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
        until = _clock_fr(contribution.available_until)
        return (
            f"intervenant·e disponible seulement avant le début de la demi-journée "
            f"(jusqu'à {until}, interventions à partir de {_clock_fr(frame.clock(frame.first))})"
        )
    if start >= frame.last:
        since = _clock_fr(contribution.available_from)
        return (
            f"intervenant·e disponible seulement après la fin de la demi-journée "
            f"(à partir de {since}, interventions jusqu'à {_clock_fr(frame.clock(frame.last))})"
        )
    if (stop - start) * GRID < contribution.duration_minutes:
        window = f"{_clock_fr(frame.clock(start))} – {_clock_fr(frame.clock(stop))}"
        return (
            f"durée ({contribution.duration_minutes} min) plus longue que la disponibilité "
            f"de l'intervenant·e pendant la demi-journée ({window})"
        )
    return None


# --- the CP-SAT model -----------------------------------------------------------------------


class _Model:
    def __init__(self, frame: _Frame, rooms: list[Room], contributions: list[Contribution]):
        self.frame, self.rooms, self.contributions = frame, rooms, contributions
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
        cp.minimize(self._objective())
        self._hint_greedy()

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

    def _objective(self):
        terms, ceiling = [], 0
        for weight, penalties, bound in (
            (W_TOPIC, *self._topic_spread()),
            (W_ORDER, *self._order_inversions()),
            (W_BALANCE, *self._imbalance()),
            (W_IDLE, *self._idle()),
        ):
            terms.append(weight * penalties)
            ceiling += weight * bound
        placed_units = sum(self.size[c.id] * self.placed_var[c.id] for c in self.contributions)
        return sum(terms) - (ceiling + 1) * placed_units

    def _topic_spread(self):
        used = {}
        for c in self.contributions:
            for room in self.rooms:
                if (c.id, room.id) not in self.in_room:
                    continue
                key = (c.topic, room.id)
                if key not in used:
                    used[key] = self.cp.new_bool_var(f"topic{len(used)}")
                self.cp.add_implication(self.in_room[c.id, room.id], used[key])
        return sum(used.values()), len(used)

    def _order_inversions(self):
        inversions = []
        by_topic = defaultdict(list)
        for c in self.contributions:
            by_topic[c.topic].append(c)
        for topic in sorted(by_topic):
            talks = by_topic[topic]
            for beginner in (c for c in talks if c.level == "debutant"):
                for expert in (c for c in talks if c.level == "expert"):
                    inverted = self.cp.new_bool_var(f"inv{beginner.id}_{expert.id}")
                    self.cp.add(
                        self.start[expert.id] >= self.start[beginner.id] + self.size[beginner.id]
                    ).only_enforce_if(~inverted)
                    inversions.append(inverted)
        return sum(inversions), len(inversions)

    def _imbalance(self):
        span = self.frame.last - self.frame.first
        highest = self.cp.new_int_var(0, span, "highest")
        lowest = self.cp.new_int_var(0, span, "lowest")
        for room in self.rooms:
            load = sum(
                self.size[c.id] * self.in_room[c.id, room.id]
                for c in self.contributions
                if (c.id, room.id) in self.in_room
            )
            self.cp.add(highest >= load)
            self.cp.add(lowest <= load)
        return highest - lowest, span

    def _idle(self):
        """Per room and part: the end of its last contribution, minus the part's start and load."""
        frame, gaps = self.frame, []
        for room in self.rooms:
            for part, part_start in ((0, frame.first), (1, self.break_end)):
                end = self.cp.new_int_var(frame.first, frame.last, f"end{room.id}_{part}")
                self.cp.add(end >= part_start)
                load = 0
                for c in self.contributions:
                    here = self.at.get((c.id, room.id, part))
                    if here is None:
                        continue
                    self.cp.add(end >= self.start[c.id] + self.size[c.id]).only_enforce_if(here)
                    load += self.size[c.id] * here
                gaps.append(end - part_start - load)
        return sum(gaps), len(gaps) * (frame.last - frame.first)

    def _hint_greedy(self) -> None:
        """Start the search from a first-fit agenda (longest first): with a small deterministic
        budget, the solver then improves a full agenda instead of first looking for one."""
        frame, cp = self.frame, self.cp
        break_start = frame.break_default
        parts = ((frame.first, break_start), (break_start + frame.break_units, frame.last))
        cursor = {(room.id, part): parts[part][0] for room in self.rooms for part in (0, 1)}
        busy = defaultdict(list)
        cp.add_hint(self.break_start, break_start)
        for c in sorted(self.contributions, key=lambda c: (-c.duration_minutes, c.id)):
            spot = self._first_fit(c, parts, cursor, busy)
            for (c_id, room_id, part), here in self.at.items():
                if c_id == c.id:
                    cp.add_hint(here, spot is not None and spot[:2] == (room_id, part))
            cp.add_hint(self.placed_var[c.id], spot is not None)
            for room in self.rooms:
                if (c.id, room.id) in self.in_room:
                    cp.add_hint(
                        self.in_room[c.id, room.id], spot is not None and spot[0] == room.id
                    )
            if spot is not None:
                room_id, part, start = spot
                end = start + self.size[c.id]
                cursor[room_id, part] = end
                for presenter in c.presenters:
                    busy[presenter].append((start, end))
                cp.add_hint(self.start[c.id], start)

    def _first_fit(self, c, parts, cursor, busy):
        earliest, latest_end = self.frame.availability(c)
        for room in self.rooms:
            if (c.id, room.id) not in self.in_room:
                continue
            for part, (_, part_end) in enumerate(parts):
                start = max(cursor[room.id, part], earliest)
                end = start + self.size[c.id]
                free = all(end <= a or b <= start for p in c.presenters for a, b in busy[p])
                if end <= min(part_end, latest_end) and free:
                    return room.id, part, start
        return None

    def placed(self, solver: cp_model.CpSolver) -> dict:
        """Contribution id -> (room id, start units) of every placed contribution."""
        return {
            c_id: (room_id, solver.value(self.start[c_id]))
            for (c_id, room_id), in_room in self.in_room.items()
            if solver.boolean_value(in_room)
        }


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
