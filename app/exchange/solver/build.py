"""`build_agenda`: the checks before the solver, the hand-made agendas, the two phases, the
regrouping, and the agenda they give as slots of wall-clock times."""

from __future__ import annotations

from app.exchange.solver.cpsat import Model
from app.exchange.solver.data import GRID, Agenda, HalfDay, Slot
from app.exchange.solver.frame import Frame, minutes_of, precheck
from app.exchange.solver.handmade import HandMade
from app.exchange.solver.problem import Problem
from app.exchange.solver.reasons import NoSlot
from app.exchange.solver.regroup import regroup

TIME_LIMIT = 1.0  #: CP-SAT deterministic time for both phases together (not seconds)
PLACE_SHARE = 0.3  #: the share of `time_limit` phase 1 may use; phase 2 has what it leaves


def build_agenda(half_day: HalfDay, contributions, *, time_limit: float = TIME_LIMIT) -> Agenda:
    """Place `contributions` in the rooms and times of `half_day`; see the package docstring.

    `time_limit` is CP-SAT deterministic time for both phases, not seconds. On the 2-core
    machine of issue 7, 1.0 took 1.5 to 3 s of processor time when the search used all of it
    (20 contributions nearly filling the rooms: the preferences are rarely proved best), and
    0.05 to 0.3 s when the hand-made agenda was proved best (60 or 120 contributions, more
    content than time); see bench/agenda.py.
    A half-day that cannot hold its own plenaries and break raises SettingsError (a ValueError:
    a setting to fix); a contribution that cannot be placed never raises: it is left out with
    the reason (a code of `app.exchange.solver.reasons`).
    """
    frame = Frame.of(half_day)
    rooms = sorted(half_day.rooms, key=lambda room: room.id)
    candidates, left_out = [], []
    for contribution in sorted(contributions, key=lambda c: c.id):
        reason = precheck(contribution, frame, rooms)
        if reason is not None:
            left_out.append((contribution.id, reason))
        else:
            candidates.append(contribution)
    problem = Problem(frame, rooms, candidates)
    model = Model(problem)
    made = HandMade(problem).agendas()
    placing, placing_proved, spent = model.place_most(made, time_limit * PLACE_SHARE)
    best, best_proved = model.prefer(placing, made, max(time_limit - spent, 0.0))
    best = regroup(problem, best)
    left_out += [(c.id, NoSlot()) for c in candidates if c.id not in best.placed]
    return _agenda(
        frame,
        rooms,
        {c_id: (room_id, start) for c_id, (room_id, _, start) in best.placed.items()},
        sorted(left_out, key=lambda item: item[0]),
        "optimal" if placing_proved and best_proved else "feasible",
        candidates,
        best.break_start,
    )


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
            idle += minutes_of(talk.starts) - minutes_of(cursor)
            cursor = talk.ends
            topic = by_id[talk.contribution_id].topic
            switches += previous_topic is not None and topic != previous_topic
            previous_topic = topic
    return {"idle_minutes": idle, "topic_switches": switches, "room_load": load}
