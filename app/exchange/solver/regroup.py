"""After the solver: within each part of each room, the contributions in the order with the
fewest topic switches that keeps every rule and costs no more. The objective counts (topic,
room) pairs, not whether a room alternates between two topics."""

from __future__ import annotations

from collections import defaultdict
from itertools import permutations, product

from app.exchange.solver.data import Room
from app.exchange.solver.problem import Problem, Solution

REGROUP = 6  #: the most contributions in a part whose orders are all tried (6! = 720)


def regroup(problem: Problem, solution: Solution) -> Solution:
    """Within each part of each room (of at most `REGROUP` contributions), every order laid
    end to end from the part's start (a gap only when a presenter arrives later) that keeps
    every rule: the one of least cost, then fewest topic switches in the room, replaces the
    solver's if better. The objective counts (topic, room) pairs, not their order."""
    best, best_key = solution, (problem.cost(solution), problem.switches(solution))
    for room, part in product(problem.rooms, (0, 1)):
        here = sorted(
            (spot[2], c_id) for c_id, spot in best.placed.items() if spot[:2] == (room.id, part)
        )
        if not 1 < len(here) <= REGROUP:
            continue
        others = {c_id: spot for c_id, spot in best.placed.items() if spot[:2] != (room.id, part)}
        busy = defaultdict(list)
        for c_id, (_, _, start) in others.items():
            for presenter in problem.by_id[c_id].presenters:
                busy[presenter].append((start, start + problem.size[c_id]))
        for order in permutations([c_id for _, c_id in here]):
            placed = _laid(problem, order, room, part, best.break_start, busy)
            if placed is None:
                continue
            trial = Solution({**others, **placed}, best.break_start)
            key = (problem.cost(trial), problem.switches(trial))
            if key < best_key:
                best, best_key = trial, key
    return best


def _laid(problem: Problem, order, room: Room, part: int, break_start: int, busy) -> dict | None:
    """`order` end to end in the part, or None if a rule forbids it."""
    frame = problem.frame
    cursor = frame.first if part == 0 else break_start + frame.break_units
    part_end = break_start if part == 0 else frame.last
    placed = {}
    for c_id in order:
        c = problem.by_id[c_id]
        earliest, latest_end = frame.availability(c)
        start = max(cursor, earliest)
        cursor = start + problem.size[c_id]
        if cursor > min(part_end, latest_end) or any(
            start < b and a < cursor for p in c.presenters for a, b in busy[p]
        ):
            return None
        placed[c_id] = (room.id, part, start)
    return placed
