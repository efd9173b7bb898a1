"""`python -m scheduler`: one BlockingScheduler running every sweep periodically.

`--once` runs every sweep once and exits (for cron and for tests).
"""

import argparse
import contextlib
import logging
import signal
import sys
from datetime import UTC, datetime

from apscheduler.schedulers.blocking import BlockingScheduler

from app import create_app
from scheduler.jobs import SWEEPS

log = logging.getLogger("scheduler")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scheduler", description=__doc__)
    parser.add_argument("--once", action="store_true", help="run every sweep once and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # our sweeps log what they did
    app = create_app()

    if args.once:
        for job, _ in SWEEPS:
            job(app)
        return 0

    scheduler = BlockingScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    for job, setting in SWEEPS:
        scheduler.add_job(
            job, "interval", args=[app], seconds=app.config[setting], id=job.__name__,
            next_run_time=datetime.now(UTC),
        )
    signal.signal(signal.SIGTERM, lambda signum, frame: scheduler.shutdown(wait=True))
    log.info("scheduler started: %s", ", ".join(job.__name__ for job, _ in SWEEPS))
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
    log.info("scheduler stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
