"""The agenda builder of the exchange half-day: build time and quality for 20, 60 and 120
contributions over 4 rooms, 13:30–17:00.

    .venv/bin/python -m bench.agenda            # from the project root
    .venv/bin/python -m bench.agenda --help     # sizes, seed, solver budget

Each size gets its own seeded random set of contributions: six topics, both levels, durations
of 15, 30, 45 and 60 minutes (testimonies the most common), needs ("visio" in one in six,
"tablettes" in one in eight; only the auditorium has the visio, one side room the tablets), one
presenter in five also giving another contribution, one contribution in six with an
availability limit ("arrive after 14 h 30", "leave at 16 h"). 20 contributions nearly fill the
afternoon; 60 and 120 are more content than time, so most of the work is choosing what to place.

Prints, per size: the build time (wall clock, perf_counter, in this process) and the processor
time of this process (process_time: on a shared machine, closer to what the build would take
alone), the solver's status ("optimal" when both phases are proved), how many placed and left
out (and the minutes placed out of the rooms' free minutes), idle minutes, topic switches, the
load of each room, and the ratio of the build time to the 5-second ceiling of issue 7. With
`--repeat N` each size is built N times (the agenda is the same every time: deterministic) and
the times are the medians. Nothing is written anywhere; exits 0.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # also runnable as `python bench/agenda.py`
    sys.path.insert(0, str(ROOT))

from app.exchange.solver import (  # noqa: E402
    TIME_LIMIT,
    Contribution,
    HalfDay,
    Room,
    build_agenda,
)

CEILING_SECONDS = 5.0
TOPICS = ("ent", "tbi", "tablettes", "ressources", "programmation", "pratiques")
ROOMS = (
    Room("amphi", "Amphithéâtre", 120, frozenset({"visio"}), True),
    Room("salle-1", "Salle 1", 30, frozenset({"tablettes"})),
    Room("salle-2", "Salle 2", 30),
    Room("salle-3", "Salle 3", 20),
)
HALF_DAY = HalfDay(clock(13, 30), clock(17, 0), ROOMS, break_window=(clock(15, 0), clock(15, 45)))


def contributions(count: int, seed: int) -> list[Contribution]:
    rng = random.Random(seed)
    presenters = [f"intervenant{n}@ac-amiens.fr" for n in range(count)]
    made = []
    for n in range(count):
        presenter = presenters[n]
        if n and rng.random() < 0.2:  # one in five shares a presenter with an earlier one
            presenter = rng.choice([c.presenters[0] for c in made])
        needs = set()
        if rng.random() < 1 / 6:
            needs.add("visio")
        elif rng.random() < 1 / 8:
            needs.add("tablettes")
        since = until = None
        if rng.random() < 1 / 6:
            if rng.random() < 0.5:
                since = clock(14, 30)
            else:
                until = clock(16, 0)
        made.append(
            Contribution(
                id=n + 1,
                title=f"Proposition {n + 1}",
                duration_minutes=rng.choices((15, 30, 45, 60), weights=(4, 3, 2, 1))[0],
                topic=rng.choice(TOPICS),
                level=rng.choice(("debutant", "expert")),
                presenters=(presenter,),
                needs=frozenset(needs),
                available_from=since,
                available_until=until,
            )
        )
    return made


def free_minutes(half_day: HalfDay) -> int:
    span = (half_day.ends.hour * 60 + half_day.ends.minute) - (
        half_day.starts.hour * 60 + half_day.starts.minute
    )
    per_room = span - half_day.opening_minutes - half_day.closing_minutes - half_day.break_minutes
    return per_room * len(half_day.rooms)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 60, 120])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--time-limit",
        type=float,
        default=TIME_LIMIT,
        help=f"CP-SAT deterministic time budget, both phases (default: build_agenda's, {TIME_LIMIT})",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="builds per size; the times are the medians"
    )
    args = parser.parse_args(argv)
    free = free_minutes(HALF_DAY)
    print(
        f"Agenda builder, 4 rooms, 13 h 30 – 17 h ({free} free room-minutes), seed {args.seed}, "
        f"time limit {args.time_limit:g} (deterministic)"
    )
    print()
    header = (
        f"{'contributions':>13}{'build s':>9}{'cpu s':>7}{'ratio':>7}  {'status':<9}{'placed':>7}"
        f"{'left out':>9}{'minutes':>9}{'idle min':>9}{'switches':>9}  room load (min)"
    )
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        items = contributions(size, args.seed + size)
        walls, cpus = [], []
        for _ in range(max(args.repeat, 1)):
            started, cpu_started = time.perf_counter(), time.process_time()
            agenda = build_agenda(HALF_DAY, items, time_limit=args.time_limit)
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu_started)
        elapsed, cpu = statistics.median(walls), statistics.median(cpus)
        placed = [s for s in agenda.slots if s.kind == "contribution"]
        minutes = sum(agenda.quality["room_load"].values())
        loads = " ".join(str(v) for v in agenda.quality["room_load"].values())
        print(
            f"{size:>13}{elapsed:>9.2f}{cpu:>7.2f}{elapsed / CEILING_SECONDS:>7.2f}  "
            f"{agenda.status:<9}{len(placed):>7}{len(agenda.left_out):>9}{minutes:>9}"
            f"{agenda.quality['idle_minutes']:>9}{agenda.quality['topic_switches']:>9}  {loads}"
        )
    print()
    print(
        f"ratio: build time / {CEILING_SECONDS:.0f} s ceiling (issue 7); minutes: placed of {free}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
