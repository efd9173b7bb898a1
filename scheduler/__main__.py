"""`python -m scheduler`: one BlockingScheduler running every sweep periodically.

Several hosts may run it: on PostgreSQL one is active (it holds an advisory lock) and the others
stand by, trying again every SCHEDULER_ELECTION_SECONDS. `--once` runs every sweep once and
exits; where another process holds the lock, it says so and exits 0.
"""

import argparse
import contextlib
import logging
import signal
import sys
from datetime import UTC, datetime

from apscheduler.schedulers.blocking import BlockingScheduler

from app import create_app
from scheduler.jobs import SWEEPS, claims_beat_seconds, keep_claims_alive, run_sweep
from scheduler.leader import Leadership

log = logging.getLogger("scheduler")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scheduler", description=__doc__)
    parser.add_argument("--once", action="store_true", help="run every sweep once and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # our sweeps log what they did
    app = create_app()
    leadership = Leadership.for_app(app)
    try:
        return run_once(app, leadership) if args.once else run_forever(app, leadership)
    finally:
        leadership.release()


def run_once(app, leadership) -> int:
    if not leadership.keep():
        log.info("another scheduler process is active: nothing to do")
        return 0
    for sweep, _ in SWEEPS:
        run_sweep(app, leadership, sweep)
    return 0


def run_forever(app, leadership) -> int:
    scheduler = BlockingScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    start = datetime.now(UTC)
    if not leadership.keep():
        log.info("another scheduler process is active: standing by")
    scheduler.add_job(
        leadership.keep,
        "interval",
        seconds=app.config["SCHEDULER_ELECTION_SECONDS"],
        id="election",
        next_run_time=start,
    )
    scheduler.add_job(
        keep_claims_alive,
        "interval",
        args=[app],
        seconds=claims_beat_seconds(app),
        id="claims",
    )
    for sweep, every in SWEEPS:
        seconds = app.config[every] if isinstance(every, str) else every
        scheduler.add_job(
            run_sweep,
            "interval",
            args=[app, leadership, sweep],
            seconds=seconds,
            id=sweep.__name__,
            next_run_time=start,
        )
    signal.signal(signal.SIGTERM, lambda signum, frame: scheduler.shutdown(wait=True))
    log.info("scheduler started: %s", ", ".join(sweep.__name__ for sweep, _ in SWEEPS))
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
    log.info("scheduler stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
