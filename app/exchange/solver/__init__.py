"""The agenda builder of the exchange half-day: accepted contributions placed in rooms and times.

A pure service (no database, no Flask, no text): plain dataclasses in, plain dataclasses out, so
the scheduler job at the proposals deadline and the coordinators' button call the same code. Why
a contribution is left out, or why a half-day cannot be built at all, comes back as a code
(`reasons`) that `app.exchange.solver_text` puts into the French the pages show.

The modules: `data` (what goes in and out), `reasons`, `frame` (the half-day in grid units and
the checks before the solver), `problem` (the cost and bounds in Python), `handmade`, `cpsat`
(the two phases), `regroup`, and `build` (`build_agenda`, which runs them in that order).

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

from app.exchange.solver.build import TIME_LIMIT, build_agenda
from app.exchange.solver.data import (
    DURATIONS,
    GRID,
    Agenda,
    Contribution,
    HalfDay,
    Room,
    Slot,
)
from app.exchange.solver.reasons import Reason, SettingsError, Unworkable

__all__ = [
    "DURATIONS",
    "GRID",
    "TIME_LIMIT",
    "Agenda",
    "Contribution",
    "HalfDay",
    "Reason",
    "Room",
    "SettingsError",
    "Slot",
    "Unworkable",
    "build_agenda",
]
