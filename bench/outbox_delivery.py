"""Outbox delivery: 5,000 queued mails delivered by the service to a local SMTP sink, compared
with a ceiling measured in the same run: plain `smtplib` sending the same prepared messages.

    .venv/bin/python -m bench.outbox_delivery                     # PostgreSQL (bench_outbox)
    .venv/bin/python -m bench.outbox_delivery --database-url sqlite:////tmp/bench_outbox.sqlite3
    .venv/bin/python -m bench.outbox_delivery --help              # mails, rounds, batch sizes…

What it does, in order:

1. Starts the SMTP sink in its own process (multiprocessing, spawn): aiosmtpd on 127.0.0.1 that
   accepts every mail, keeps only its Message-ID (a counter), and discards it. In its own
   process so its CPU and GIL are not the sender's (TRAPS.md, "Mail"); it reports, per phase,
   how many mails arrived, how many distinct Message-IDs, which ones twice or more.
2. Fresh bench database (its name must start with "bench_outbox"): PostgreSQL is dropped and
   re-created (`--database-url`, default postgresql+psycopg://postgres@127.0.0.1:5432/bench_outbox),
   a SQLite file is deleted; Alembic migrations to head; a catalogue of workshops (the seed of
   bench/registration_burst.py).
3. Queues the mails the real way: `app.booking.services.register()` for `--mails` teachers over
   those workshops (80 seats for 100 teachers each, so ~80 % "inscription confirmée" mails,
   which carry a calendar invitation — a text/calendar part and the .ics attached — and ~20 %
   "liste d'attente" ones, each rendered from its template pair with a fresh management link),
   then prints the sizes (about 0.7 KB of text, 2.7 KB of HTML, 7.4 KB of MIME per mail).
4. Prepares the ceiling's messages before any timing: `build_message(row).as_bytes()` for every
   outbox row (the very bytes, Message-IDs included, that delivery sends) and the envelope
   addresses.
5. Rounds (after a short warm-up of each phase): in each, for every batch size in
   `--batch-sizes` (the configured MAIL_BATCH_SIZE first, then 500), a ceiling run then a
   service run, and one more ceiling run at the very end:
   - ceiling: one `smtplib.SMTP` connection, `sendmail()` of every prepared message, `quit()`;
   - service: the rows re-queued (pending, due now; then VACUUM ANALYZE on PostgreSQL, outside
     the timing), `deliver_pending(batch)` called in one app context until a call delivers
     nothing.
   Each service run's ratio is its rate over the mean of the two ceiling runs around it: the
   speed of this 2-core VM drifts by up to 2× within seconds when other work runs on it. After
   each phase the sink's counts are checked against the expected Message-IDs, and after each
   service phase the database: every row `sent`, none pending, sending or failed.
6. Prints mails, seconds, mails/s per phase, the ratio service/ceiling and whether it meets the
   target (≥ 0.7), the sink's counts, where the CPU went (this process, the sink, PostgreSQL,
   in µs per mail; other processes, in cores) and where the service's wall time went (claim,
   MIME build, SMTP, record). Exits 1 when a mail was lost, doubled or not recorded, 0
   otherwise: missing the target is reported, not fatal.

`--profile [service|p1…p5]` adds one extra run under cProfile (not timed with the rounds) and
prints the functions where the time goes.
`--prototype p1,…,p5` (or `all`) adds, in each round, service runs with the changes proposed
for app/mail/services.py monkeypatched in this process (see the PROTOTYPE section at the end
of this file), after checking that they produce the same mails once parsed: the app's code is
not changed.

Only one run at a time per database (a lock file): a second run would drop the first's database.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import fcntl
import multiprocessing
import os
import re
import smtplib
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # also runnable as `python bench/outbox_delivery.py`
    sys.path.insert(0, str(ROOT))

from bench.registration_burst import (  # noqa: E402
    cpu_by_pid,
    cpu_used,
    free_port,
    machine_busy_seconds,
    migrate_and_seed,
    postgres_pids,
    recreate_database,
)

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_outbox"
TARGET_RATIO = 0.7
CEILING = "plafond smtplib"
SERVICE = "service"
PROTOTYPE = "prototype"

# --------------------------------------------------------------------------------------------
# The SMTP sink, in its own process
# --------------------------------------------------------------------------------------------

_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)


class _CountingHandler:
    """Accepts every mail and keeps only its Message-ID."""

    def __init__(self):
        self.received: collections.Counter[str] = collections.Counter()
        self.recipients = 0

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or b""
        end = content.find(b"\r\n\r\n")
        match = _MESSAGE_ID.search(content, 0, end if end >= 0 else len(content))
        self.received[match.group(1).decode() if match else "(no Message-ID)"] += 1
        self.recipients += len(envelope.rcpt_tos)
        return "250 2.0.0 Ok: queued"


def sink_process(port: int, conn) -> None:
    """Runs aiosmtpd on 127.0.0.1:port; answers "take" (counts since last take) and "stop"."""
    from aiosmtpd.controller import Controller

    handler = _CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=30)
    controller.start()
    conn.send(("ready", os.getpid()))
    try:
        while True:
            command = conn.recv()
            if command == "take":
                # The loop thread only ever adds to the counter; swap it in the loop's thread.
                taken = concurrent.futures.Future()

                def swap(taken=taken):
                    taken.set_result((handler.received, handler.recipients))
                    handler.received, handler.recipients = collections.Counter(), 0

                controller.loop.call_soon_threadsafe(swap)
                received, recipients = taken.result(timeout=30)
                conn.send((dict(received), recipients))
            else:
                break
    finally:
        controller.stop()


class Sink:
    def __init__(self):
        context = multiprocessing.get_context("spawn")
        self.port = free_port()
        self._conn, child = context.Pipe()
        self.process = context.Process(
            target=sink_process, args=(self.port, child), daemon=True, name="smtp-sink"
        )
        self.process.start()
        if not self._conn.poll(60):
            raise SystemExit("the SMTP sink did not start within 60 s")
        _, self.pid = self._conn.recv()

    def take(self) -> tuple[dict[str, int], int]:
        """Message-ID → times received, and recipients, since the previous take."""
        self._conn.send("take")
        if not self._conn.poll(60):
            raise SystemExit("the SMTP sink did not answer within 60 s")
        return self._conn.recv()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send("stop")
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=10)


@dataclass
class Delivery:
    """What the sink received in one phase, against what was expected."""

    received: int
    distinct: int
    duplicated: int  # Message-IDs received more than once
    missing: int  # expected Message-IDs never received
    unexpected: int  # Message-IDs received that were not expected
    recipients: int

    @property
    def exact(self) -> bool:
        return not (self.duplicated or self.missing or self.unexpected)

    def __str__(self) -> str:
        text = f"{self.received} received, {self.distinct} distinct"
        if not self.exact:
            text += (
                f" — {self.duplicated} doubled, {self.missing} missing, "
                f"{self.unexpected} unexpected"
            )
        return text


def check_delivery(sink: Sink, expected: set[str]) -> Delivery:
    received, recipients = sink.take()
    return Delivery(
        received=sum(received.values()),
        distinct=len(received),
        duplicated=sum(1 for count in received.values() if count > 1),
        missing=len(expected - received.keys()),
        unexpected=len(received.keys() - expected),
        recipients=recipients,
    )


# --------------------------------------------------------------------------------------------
# The app, the database and the queued mails
# --------------------------------------------------------------------------------------------


def make_app(database_url: str, smtp_port: int):
    from app import create_app
    from config import Config

    class OutboxBenchConfig(Config):
        SECRET_KEY = "bench-only-not-secret"
        SQLALCHEMY_DATABASE_URI = database_url
        SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        PUBLIC_BASE_URL = "http://ateliers.bench"
        WTF_CSRF_ENABLED = False
        RATELIMIT_ENABLED = False
        RATELIMIT_STORAGE_URI = "memory://"
        MAIL_SERVER = "127.0.0.1"
        MAIL_PORT = smtp_port
        MAIL_USE_TLS = False
        MAIL_USE_SSL = False
        MAIL_USERNAME = None
        MAIL_PASSWORD = None
        MAIL_SUPPRESS_SEND = False

    return create_app(OutboxBenchConfig)


def is_postgresql(url: str) -> bool:
    return url.startswith("postgresql")


def fresh_database(url: str) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.database or ""
    if not Path(name).name.startswith("bench_outbox"):
        raise SystemExit(
            f"refusing to reset database {name!r}: its name must start with 'bench_outbox'"
        )
    if is_postgresql(url):
        recreate_database(url)
    elif parsed.get_backend_name() == "sqlite":
        if not name or name == ":memory:":
            raise SystemExit(
                "SQLite: give a file database, e.g. sqlite:////tmp/bench_outbox.sqlite3"
            )
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(name + suffix).unlink(missing_ok=True)
    else:
        raise SystemExit(f"unsupported database {url!r}: PostgreSQL or a SQLite file")


_FIRST_NAMES = ("Claire", "Jérôme", "Anaïs", "François", "Hélène", "Loïc", "Maëlle", "Benoît")
_LAST_NAMES = ("Lefèvre", "Dupont", "Caron", "Delattre", "Lemaire", "Boulanger", "Pécourt")
_SCHOOLS = (
    "École élémentaire Jules Ferry, Amiens",
    "École primaire Édouard-Herriot, Abbeville",
    "École maternelle Les Tilleuls, Péronne",
    "Groupe scolaire Condorcet, Albert",
)


def queue_mails(app, workshop_ids: list[int], count: int, time_cap: float) -> float:
    """`count` real registrations (hence outbox rows) round-robin over the workshops."""
    from app.booking.services import Applicant, register
    from app.extensions import db

    started = time.perf_counter()
    with app.app_context():
        for n in range(count):
            if time.perf_counter() - started > time_cap:
                raise SystemExit(f"queueing stopped after {time_cap:.0f} s at {n} registrations")
            result = register(
                workshop_ids[n % len(workshop_ids)],
                Applicant(
                    last_name=_LAST_NAMES[n % len(_LAST_NAMES)],
                    first_name=_FIRST_NAMES[n % len(_FIRST_NAMES)],
                    email=f"enseignant.{n:05d}@ac-amiens.fr",
                    school=_SCHOOLS[n % len(_SCHOOLS)],
                    uai="0801234A" if n % 3 else None,
                ),
            )
            if result.already_registered:
                raise SystemExit(f"teacher {n} was already registered: the seed is wrong")
            if n % 250 == 249:
                db.session.remove()
        db.session.remove()
    return time.perf_counter() - started


@dataclass
class Prepared:
    """The ceiling's input, built before any timing: envelope and bytes of every outbox row."""

    sender: str
    messages: list[tuple[str, bytes]]  # (recipient, message bytes), in outbox id order
    message_ids: list[str]
    text_sizes: list[int]
    html_sizes: list[int]


def prepare(app) -> Prepared:
    import sqlalchemy as sa
    from flask_mail import sanitize_address

    from app.extensions import db
    from app.mail.models import OutboxMail
    from app.mail.services import build_message

    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxMail).order_by(OutboxMail.id)).all()
        built = [(row, build_message(row)) for row in rows]
        prepared = Prepared(
            sender=sanitize_address(app.config["MAIL_DEFAULT_SENDER"]),
            messages=[(sanitize_address(row.recipient), msg.as_bytes()) for row, msg in built],
            message_ids=[msg.msgId for _, msg in built],
            text_sizes=[len(row.body_text.encode()) for row in rows],
            html_sizes=[len(row.body_html.encode()) for row in rows],
        )
        db.session.remove()
    return prepared


def requeue(app, database_url: str, first: int | None = None) -> None:
    """Every row (or the `first` ones by id) pending again and due now; the rest marked sent."""
    from datetime import timedelta

    import sqlalchemy as sa

    from app.clock import now
    from app.extensions import db
    from app.mail.models import MailStatus, OutboxMail

    with app.app_context():
        due = now() - timedelta(seconds=1)
        db.session.execute(
            sa.update(OutboxMail).values(
                status=MailStatus.pending, attempts=0, next_attempt_at=due, claim=None,
                claimed_at=None, sent_at=None, last_error=None,
            )
        )  # fmt: skip
        if first is not None:
            keep = sa.select(OutboxMail.id).order_by(OutboxMail.id).limit(first).scalar_subquery()
            db.session.execute(
                sa.update(OutboxMail)
                .where(OutboxMail.id.not_in(keep))
                .values(status=MailStatus.sent, sent_at=due)
            )
        db.session.commit()
        if is_postgresql(database_url):
            # The dead tuples of the previous round would otherwise slow this one down.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("VACUUM ANALYZE outbox_mails")
        db.session.remove()


def outbox_states(app) -> dict[str, int]:
    import sqlalchemy as sa

    from app.extensions import db
    from app.mail.models import OutboxMail

    with app.app_context():
        rows = db.session.execute(
            sa.select(OutboxMail.status, sa.func.count()).group_by(OutboxMail.status)
        ).all()
        db.session.remove()
    return {status.value: count for status, count in rows}


# --------------------------------------------------------------------------------------------
# The phases
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    kind: str
    label: str
    batch: int | None
    mails: int  # sent, by the sender's own account
    elapsed: float
    capped: bool
    delivery: Delivery
    own_cpu: float = 0.0  # seconds: this process
    sink_cpu: float = 0.0
    postgres_cpu: float = 0.0
    busy: float = 0.0  # the whole machine
    batches: int = 0
    problems: list[str] = field(default_factory=list)
    #: Wall seconds inside deliver_pending's steps (service runs): claim, send, build, record.
    steps: dict[str, float] = field(default_factory=dict)
    #: Service runs: the mean rate of the ceiling runs measured just before and just after.
    paired_ceiling: float = 0.0

    @property
    def rate(self) -> float:
        return self.mails / self.elapsed if self.elapsed else 0.0


class Meter:
    """CPU seconds of this process, the sink, PostgreSQL and the machine around a phase."""

    def __init__(self, sink_pid: int, database: str | None):
        self.sink_pid, self.database = sink_pid, database

    def _pids(self):
        pids = [os.getpid(), self.sink_pid]
        if self.database:
            pids += postgres_pids(self.database)
        return pids

    def __enter__(self):
        self.before = cpu_by_pid(self._pids())
        self.busy_before, _ = machine_busy_seconds()
        return self

    def __exit__(self, *exc_info):
        after = cpu_by_pid(self._pids())
        self.busy = machine_busy_seconds()[0] - self.busy_before
        me, sink = os.getpid(), self.sink_pid
        self.own = after.get(me, 0.0) - self.before.get(me, 0.0)
        self.sink = after.get(sink, 0.0) - self.before.get(sink, 0.0)
        others = {p: v for p, v in after.items() if p not in (me, sink)}
        self.postgres = cpu_used({p: self.before.get(p, 0.0) for p in others}, others)
        return False

    def fill(self, run: Run) -> Run:
        run.own_cpu, run.sink_cpu, run.postgres_cpu, run.busy = (
            self.own, self.sink, self.postgres, self.busy,
        )  # fmt: skip
        return run


def run_ceiling(prepared: Prepared, port: int, count: int, time_cap: float, meter: Meter):
    """Plain smtplib: one connection, sendmail() of each prepared message, quit()."""
    messages = prepared.messages[:count]
    sent = 0
    capped = False
    with meter:
        started = time.perf_counter()
        deadline = started + time_cap
        smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
        try:
            for recipient, data in messages:
                if time.perf_counter() >= deadline:
                    capped = True
                    break
                smtp.sendmail(prepared.sender, [recipient], data)
                sent += 1
        finally:
            smtp.quit()
        elapsed = time.perf_counter() - started
    return elapsed, sent, capped


class step_timers:
    """Wall time spent in app.mail.services' _claim, _send and _record, and in building the MIME
    bytes: each message that build_message() returns gets its as_bytes() wrapped (an instance
    attribute, so whatever its class). A few µs per call; `send` includes `build`."""

    def __init__(self):
        from app.mail import services

        self.module = services
        self.seconds = dict.fromkeys(("claim", "send", "build", "record"), 0.0)

    def _timed(self, function, key):
        seconds = self.seconds

        def timed(*args, **kwargs):
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[key] += time.perf_counter() - began

        return timed

    def _build_message(self, build_message):
        def timed_build(row):
            message = build_message(row)
            message.as_bytes = self._timed(message.as_bytes, "build")
            return message

        return timed_build

    def __enter__(self):
        names = ("_claim", "_send", "_record", "build_message")
        self.saved = {name: getattr(self.module, name) for name in names}
        for name, key in (("_claim", "claim"), ("_send", "send"), ("_record", "record")):
            setattr(self.module, name, self._timed(self.saved[name], key))
        self.module.build_message = self._build_message(self.saved["build_message"])
        return self

    def __exit__(self, *exc_info):
        for name, function in self.saved.items():
            setattr(self.module, name, function)
        return False


def run_service(app, batch: int, time_cap: float, meter: Meter, timers=None):
    """deliver_pending(batch) until a call delivers nothing, in one app context."""
    from app.extensions import db
    from app.mail.services import deliver_pending

    sent = retried = failed = batches = 0
    errors: collections.Counter[str] = collections.Counter()
    capped = False
    with app.app_context(), timers or contextlib.nullcontext(), meter:
        started = time.perf_counter()
        deadline = started + time_cap
        while True:
            if time.perf_counter() >= deadline:
                capped = True
                break
            report = deliver_pending(batch)
            if not (report.sent or report.retried or report.failed):
                break
            batches += 1
            sent, retried, failed = (
                sent + report.sent, retried + report.retried, failed + report.failed,
            )  # fmt: skip
            errors.update(report.errors)
        elapsed = time.perf_counter() - started
        db.session.remove()
    problems = (
        [f"{retried} to retry, {failed} failed: {dict(errors.most_common(3))}"]
        if (retried or failed)
        else []
    )
    return elapsed, sent, capped, batches, problems


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_OUTBOX_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL, or a SQLite file (sqlite:////tmp/bench_outbox.sqlite3); the database "
        "name must start with 'bench_outbox': it is dropped and re-created",
    )
    parser.add_argument("--mails", type=int, default=5000)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="alternating ceiling/service rounds (default 3: this VM's speed drifts by up to 2× "
        "over seconds, so each round's service is compared with its own ceiling)",
    )
    parser.add_argument(
        "--batch-sizes",
        default="",
        help="comma-separated batch sizes for the service, each run every round "
        "(default: the configured MAIL_BATCH_SIZE, then 500)",
    )
    parser.add_argument("--warmup", type=int, default=300, help="mails per warm-up phase")
    parser.add_argument("--time-cap", type=float, default=120.0, help="seconds, per phase")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="service",
        default=None,
        help="one extra run under cProfile, after the rounds: 'service' (the default), or a "
        "prototype variant (p1, p2, p3)",
    )
    parser.add_argument(
        "--prototype",
        default="",
        help="comma-separated variants among p1,p2,p3 (or 'all'): also run, each round, the "
        "delivery changes proposed for app/mail/services.py, monkeypatched in this process only "
        "(see the PROTOTYPE section of this file)",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    lock_name = re.sub(r"[^A-Za-z0-9_.-]", "_", args.database_url.rsplit("/", 1)[-1])
    lock_path = Path(tempfile.gettempdir()) / f"outbox_delivery-{lock_name}.lock"
    guard = open(lock_path, "w")  # noqa: SIM115 (held until the process exits)
    try:
        fcntl.flock(guard, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit("another outbox_delivery run on this database is in progress") from None

    postgresql = is_postgresql(args.database_url)
    database = args.database_url.rsplit("/", 1)[-1].split("?")[0] if postgresql else None
    engine_name = "PostgreSQL" if postgresql else "SQLite (file)"
    sink = Sink()
    try:
        return bench(args, sink, postgresql, database, engine_name)
    finally:
        sink.stop()


def bench(args, sink: Sink, postgresql: bool, database: str | None, engine_name: str) -> int:
    from math import ceil

    print(
        f"SMTP sink: aiosmtpd in process {sink.pid} on 127.0.0.1:{sink.port}. "
        f"Preparing {args.database_url.rsplit('/', 1)[-1]!r} ({engine_name}): fresh database, "
        f"migrations, {args.mails} registrations…",
        flush=True,
    )
    fresh_database(args.database_url)
    app = make_app(args.database_url, sink.port)
    configured = app.config["MAIL_BATCH_SIZE"]
    batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()] or [configured, 500]
    seeded = migrate_and_seed(app, ceil(args.mails / 100), 80)
    queued_in = queue_mails(app, seeded.workshop_ids, args.mails, 10 * args.time_cap)
    states = outbox_states(app)
    if states.get("pending") != args.mails:
        raise SystemExit(f"expected {args.mails} pending mails, found {states}")
    prepared = prepare(app)
    expected_all = set(prepared.message_ids)
    if len(expected_all) != args.mails:
        raise SystemExit("Message-IDs are not unique: the sink's check would be meaningless")
    sizes = [len(data) for _, data in prepared.messages]
    print(
        f"  {args.mails} mails queued by register() in {queued_in:.1f} s "
        f"({len(seeded.workshop_ids)} workshops of 80 seats, 100 teachers each); "
        f"bodies: text {sum(prepared.text_sizes) / args.mails:.0f} B, "
        f"html {sum(prepared.html_sizes) / args.mails:.0f} B on average; "
        f"MIME message {sum(sizes) / args.mails:.0f} B on average",
        flush=True,
    )
    meter = Meter(sink.pid, database)
    with meter:
        time.sleep(2.0)
    others = max(meter.busy - meter.own - meter.sink - meter.postgres, 0.0) / 2.0
    print(
        f"  machine before the rounds: other processes use {others:.2f} of {os.cpu_count()} cores"
        f"{' — figures will be noisy' if others > 0.2 else ''}",
        flush=True,
    )
    # Make sure nothing reached the sink before the first phase.
    check_delivery(sink, set())

    def ceiling(label: str, count: int) -> Run:
        expected = set(prepared.message_ids[:count])
        elapsed, sent, capped = run_ceiling(prepared, sink.port, count, args.time_cap, meter)
        delivery = check_delivery(sink, expected)
        run = meter.fill(Run(CEILING, label, None, sent, elapsed, capped, delivery, batches=1))
        if sent != count:
            run.problems.append(f"{sent} of {count} sent")
        return report(run)

    def service(label: str, count: int, batch: int, kind: str = SERVICE) -> Run:
        requeue(app, args.database_url, None if count == args.mails else count)
        expected = set(prepared.message_ids[:count])
        timers = step_timers()
        elapsed, sent, capped, batches, problems = run_service(
            app, batch, args.time_cap, meter, timers
        )
        delivery = check_delivery(sink, expected)
        run = meter.fill(Run(kind, label, batch, sent, elapsed, capped, delivery, batches=batches))
        run.steps = timers.seconds
        run.problems += problems
        after = outbox_states(app)
        if after.get("sent", 0) != args.mails or len(after) != 1:
            run.problems.append(f"outbox after delivery: {after}")
        return report(run)

    def report(run: Run) -> Run:
        batch = f" batch {run.batch:<4}" if run.batch else " " * 11
        print(
            f"  {run.label:>2} {run.kind:<15}{batch}{run.mails:6d} mails {run.elapsed:7.2f} s"
            f" {run.rate:8.1f} mails/s   sink: {run.delivery}"
            f"{'  (time cap reached)' if run.capped else ''}"
            f"{'  ' + '; '.join(run.problems) if run.problems else ''}",
            flush=True,
        )
        return run

    variants = (
        list(VARIANTS)
        if args.prototype == "all"
        else [v for v in args.prototype.split(",") if v.strip()]
    )
    if unknown := set(variants) - set(VARIANTS):
        raise SystemExit(f"unknown prototype variants {sorted(unknown)}: choose among {VARIANTS}")
    if variants:
        print(f"  prototype bytes check: {compare_prototype_bytes(app, prepared)}", flush=True)
    runs: list[Run] = []
    warm = min(args.warmup, args.mails)
    if warm:
        ceiling("w", warm)
        for batch in batch_sizes:
            service("w", warm, batch)
        for variant in variants:
            with prototype_installed(variant):
                service("w", warm, batch_sizes[0], f"{PROTOTYPE} {variant}")
    # A ceiling run before every service run and one at the end: each service run is compared
    # with the two ceilings measured around it (this machine's speed drifts within seconds).
    for r in range(1, args.rounds + 1):
        for batch in batch_sizes:
            runs.append(ceiling(f"r{r}", args.mails))
            runs.append(service(f"r{r}", args.mails, batch))
        for variant in variants:
            for batch in batch_sizes:
                runs.append(ceiling(f"r{r}", args.mails))
                with prototype_installed(variant):
                    runs.append(service(f"r{r}", args.mails, batch, f"{PROTOTYPE} {variant}"))
    runs.append(ceiling(f"r{args.rounds}", args.mails))
    pair_with_ceilings(runs)

    if args.profile:
        profile_service(app, args, batch_sizes[0], args.profile)

    return summary(args, runs, batch_sizes, variants, engine_name)


def pair_with_ceilings(runs: list[Run]) -> None:
    """Each service run's ceiling: the mean rate of the ceiling runs just before and after it."""
    for index, run in enumerate(runs):
        if run.kind == CEILING:
            continue
        before = next(r for r in reversed(runs[:index]) if r.kind == CEILING)
        after = next((r for r in runs[index + 1 :] if r.kind == CEILING), before)
        run.paired_ceiling = (before.rate + after.rate) / 2


def summary(
    args, runs: list[Run], batch_sizes: list[int], variants: list[str], engine_name: str
) -> int:
    def total(kind: str, batch: int | None) -> Run | None:
        chosen = [r for r in runs if r.kind == kind and r.batch == batch]
        if not chosen:
            return None
        merged = Run(
            kind, "all", batch, sum(r.mails for r in chosen), sum(r.elapsed for r in chosen),
            any(r.capped for r in chosen), chosen[0].delivery,
        )  # fmt: skip
        for name in ("own_cpu", "sink_cpu", "postgres_cpu", "busy", "batches"):
            setattr(merged, name, sum(getattr(r, name) for r in chosen))
        merged.steps = {k: sum(r.steps.get(k, 0.0) for r in chosen) for k in chosen[0].steps}
        merged.problems = [p for r in chosen for p in r.problems]
        merged.rates = [r.rate for r in chosen]
        merged.ratios = [r.rate / r.paired_ceiling if r.paired_ceiling else 1.0 for r in chosen]
        merged.deliveries = [r.delivery for r in chosen]
        return merged

    ceiling = total(CEILING, None)

    def ratio_of(run: Run) -> float:
        """The mean of the runs' ratios, each to the ceilings measured around it."""
        return statistics.fmean(run.ratios)

    rows = [("ceiling: smtplib, prepared bytes", ceiling)]
    kinds = [(SERVICE, "service: deliver_pending")]
    kinds += [(f"{PROTOTYPE} {v}", f"prototype {v}: deliver_pending") for v in variants]
    for kind, name in kinds:
        for batch in batch_sizes:
            merged = total(kind, batch)
            if merged:
                rows.append((f"{name}({batch})", merged))

    def pg(value: float) -> str:  # SQLite: the database's work is this process's own
        return f"{value:.0f}" if engine_name == "PostgreSQL" else "—"

    print()
    print(
        f"Outbox delivery — {args.mails} mails, {engine_name}, aiosmtpd sink in its own process, "
        f"{args.rounds} alternating rounds, {os.cpu_count()} cores"
    )
    header = (
        f"{'':<36}{'mails':>7}{'seconds':>8}{'mails/s':>8}{'ratio':>6}"
        f"{'mails/s per run':>21}{'ratio per run':>19}"
        f"{'own µs':>7}{'sink µs':>8}{'PG µs':>6}{'others':>7}{'busy':>5}"
    )
    print(header)
    print("-" * len(header))
    for name, run in rows:
        ratio = ratio_of(run)
        if run is ceiling:
            rates = f"{min(run.rates):.0f}–{max(run.rates):.0f} ({len(run.rates)} runs)"
            ratios = ""
        else:
            rates = " / ".join(f"{rate:.0f}" for rate in run.rates)
            ratios = " / ".join(f"{r:.2f}" for r in run.ratios)
        per_mail = 1e6 / run.mails if run.mails else float("nan")
        others = max(run.busy - run.own_cpu - run.sink_cpu - run.postgres_cpu, 0.0)
        print(
            f"{name:<36}{run.mails:>7}{run.elapsed:>8.2f}{run.rate:>8.1f}{ratio:>6.2f}"
            f"{rates:>21}{ratios:>19}"
            f"{run.own_cpu * per_mail:>7.0f}{run.sink_cpu * per_mail:>8.0f}"
            f"{pg(run.postgres_cpu * per_mail):>6}{others / run.elapsed:>7.2f}"
            f"{run.busy / run.elapsed:>5.2f}"
        )
    print("-" * len(header))
    print(
        "(ratio: the mean of the runs' ratios, each to the ceiling runs just before and after it; "
        "own/sink/PG µs: CPU per mail of this process, the sink process, PostgreSQL's backends "
        "and writers; others: cores used by any other process; busy: cores in use, whole "
        "machine)"
    )
    print()
    header = (
        f"{'where the wall time goes, µs per mail':<40}{'claim':>7}{'build':>7}{'SMTP':>7}"
        f"{'record':>8}{'other':>7}{'total':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, run in rows:
        if not run.steps or not run.mails:
            continue
        per = 1e6 / run.mails
        steps = run.steps
        inside = steps["claim"] + steps["send"] + steps["record"]
        smtp = steps["send"] - steps["build"]
        print(
            f"{name:<40}{steps['claim'] * per:>7.0f}{steps['build'] * per:>7.0f}{smtp * per:>7.0f}"
            f"{steps['record'] * per:>8.0f}{(run.elapsed - inside) * per:>7.0f}"
            f"{run.elapsed * per:>7.0f}"
        )
    print("-" * len(header))
    print(
        "(claim: the claiming transaction and the Message objects; build: the MIME bytes; SMTP: "
        "the rest of sending, connection included, i.e. smtplib, the waits for the sink and "
        "what Flask-Mail adds; record: the outcomes' transaction)"
    )
    print()
    headline = total(SERVICE, batch_sizes[0])
    ratio = ratio_of(headline)
    met = ratio >= TARGET_RATIO
    print(f"service mails per second : {headline.rate:.1f}  (batch {batch_sizes[0]})")
    print(f"ceiling mails per second : {ceiling.rate:.1f}")
    spread = headline.ratios
    print(
        f"ratio to the ceiling     : {ratio:.2f}   (target ≥ {TARGET_RATIO}: "
        f"{'met' if met else 'NOT met'}; per round {min(spread):.2f}–{max(spread):.2f})"
    )
    for variant in variants:
        best = total(f"{PROTOTYPE} {variant}", batch_sizes[0])
        print(
            f"prototype {variant} ratio       : {ratio_of(best):.2f}   "
            f"({best.rate:.1f} mails/s, batch {batch_sizes[0]}; per round "
            f"{min(best.ratios):.2f}–{max(best.ratios):.2f})"
        )
    bad = []
    for name, run in rows:
        for delivery in run.deliveries:
            if not delivery.exact or delivery.received != args.mails:
                bad.append(f"{name}: {delivery}")
        bad += [f"{name}: {problem}" for problem in run.problems]
    for name, run in rows:
        counts = ", ".join(str(d.received) for d in run.deliveries)
        doubled = sum(d.duplicated for d in run.deliveries)
        missing = sum(d.missing for d in run.deliveries)
        print(f"sink, {name:<33}: {counts} received per run; {doubled} doubled, {missing} missing")
    if bad:
        print("DELIVERY PROBLEMS        : " + "; ".join(bad))
        return 1
    print("delivery                 : every mail received exactly once in every phase; all 'sent'")
    return 0


# --------------------------------------------------------------------------------------------
# Profile
# --------------------------------------------------------------------------------------------


def profile_service(app, args, batch: int, variant: str) -> None:
    import cProfile
    import pstats

    requeue(app, args.database_url)
    profiler = cProfile.Profile()
    meter = Meter(0, None)
    patched = prototype_installed(variant) if variant != "service" else contextlib.nullcontext()
    with patched:
        profiler.enable()
        elapsed, sent, *_ = run_service(app, batch, args.time_cap, meter)
        profiler.disable()
    print(
        f"\ncProfile of one {variant} run (batch {batch}): {sent} mails in {elapsed:.2f} s "
        f"(slowed by the profiler; only this process's main thread is profiled)"
    )
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(25)


# --------------------------------------------------------------------------------------------
# PROTOTYPE — changes proposed for app/mail/services.py, monkeypatched in this process only.
# Nothing here is the app's code: `prototype_installed(variant)` swaps functions of
# app.mail.services for the duration of a phase and puts the originals back. Each variant adds
# one change to the previous one:
#   p1 lean MIME: build_message() returns an OutboxMessage, the Flask-Mail subclass DESIGN.md
#      already calls for, whose _message() builds the tree itself with the legacy generator
#      (compat32, CRLF, no ">From" mangling) instead of policy.SMTP (whose generator re-parses
#      every header through email.headerregistry: ~1 ms a mail), sets its MIME boundaries
#      (the generator otherwise compiles a new regex per boundary to check it against the
#      text), and encodes Subject and From once per distinct value (cached), folded with the
#      header's name counted. Anything but text + html (attachments, cc, reply-to, other
#      alternatives) still goes through Flask-Mail's own _message().
#   p2 direct sendmail: _send() gives each message's bytes, built once, to the connection's
#      smtplib.SMTP.sendmail(), the envelope sender encoded once per batch and a plain ASCII
#      recipient address taken as it is; Flask-Mail's Connection.send() re-encodes both
#      envelope addresses for every mail (parseaddr + RFC 2047) and fires a signal no one
#      listens to. Same outcomes, same exceptions. (p1 already takes a plain To as it is.)
#   p3 bulk record: _record() marks all the sent rows with one UPDATE … WHERE id IN (…),
#      instead of loading every row of the batch again (bodies included) and flushing one
#      UPDATE per row; the rare retries and failures keep the row-by-row path.
#   p4 pre-folded headers: the message's policy writes a header whose value is already ASCII
#      and folded (CRLF + whitespace, lines ≤ 78) as it is, instead of running it through
#      email.header.Header again; any other value takes compat32's folding.
#   p5 written MIME: p4, but OutboxMessage.as_bytes() writes the same structure (mixed >
#      alternative > text/plain, text/html; 8bit UTF-8, as Flask-Mail does) with string
#      formatting instead of email.mime + email.generator: not proposed as such (hand-written
#      MIME is one more thing to get right), measured to show what the email package costs.
# --------------------------------------------------------------------------------------------

VARIANTS = ("p1", "p2", "p3", "p4", "p5")


def _prototype_parts():
    import base64
    import functools
    import secrets
    import smtplib as _smtplib
    from email import policy as email_policy
    from email.encoders import encode_base64
    from email.header import Header
    from email.mime.base import MIMEBase
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText
    from email.utils import formatdate, parseaddr

    import sqlalchemy as sa
    from flask import current_app
    from flask_mail import BadHeaderError, Message, sanitize_address

    from app.clock import now
    from app.database import begin_write
    from app.extensions import db, mail
    from app.mail import services
    from app.mail.models import MailStatus, OutboxMail

    crlf = "\r\n"
    compat_crlf = email_policy.compat32.clone(linesep=crlf, mangle_from_=False)

    class PreFolded(type(email_policy.compat32)):
        """compat32, CRLF; a value already ASCII and folded is written as it is."""

        def fold_binary(self, name, value):
            if isinstance(value, str) and value.isascii():
                lines = value.split(crlf)
                if (
                    len(name) + 2 + len(lines[0]) <= 78
                    and "\r" not in value.replace(crlf, "")
                    and "\n" not in value.replace(crlf, "")
                    and all(line[:1] in (" ", "\t") and len(line) <= 78 for line in lines[1:])
                ):
                    return f"{name}: {value}{crlf}".encode("ascii")
            return super().fold_binary(name, value)

    prefolded = PreFolded(linesep=crlf, mangle_from_=False)

    @functools.lru_cache(maxsize=1024)
    def encoded_text(name: str, value: str) -> str:
        """RFC 2047 when needed, folded (CRLF) with `Name: ` counted on the first line."""
        if value.isascii():
            return value
        return Header(value, "utf-8", header_name=name).encode(linesep=crlf)

    plain_address = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+").fullmatch

    def encoded_address(name: str, address: str) -> str:
        """Flask-Mail's sanitize_address(), folded (CRLF) with `Name: ` counted; a plain ASCII
        address (what the outbox holds for recipients) is its own result: no parsing."""
        if plain_address(address):
            return address
        return encoded_named_address(name, address)

    @functools.lru_cache(maxsize=1024)
    def encoded_named_address(name: str, address: str) -> str:
        display, addr = parseaddr(address)
        if not addr.isascii() or not display or display.isascii():
            return sanitize_address(address)  # IDN, a bare address, an ASCII name: as it is now
        words = Header(display, "utf-8", header_name=name).encode(linesep=crlf)
        last = words.rsplit(crlf, 1)[-1]
        width = len(last) + (len(name) + 2 if crlf not in words else 0)
        fold = crlf if width + len(addr) + 3 > 78 else ""
        return f"{words}{fold} <{addr}>"

    def make_outbox_message(policy):
        class OutboxMessage(Message):
            """Flask-Mail's layout — mixed [ alternative (plain, html, the calendar of an
            invitation last), attachments ] — built with `policy` and cheap headers."""

            def _unusual(self) -> bool:
                ascii_names = current_app.extensions["mail"].ascii_attachments
                return bool(set(self.alts) - {"html"}) or (ascii_names and self.attachments)

            def _message(self):
                if self._unusual():  # nothing the outbox sends: Flask-Mail's own way
                    msg = super()._message()
                    msg.policy = policy
                    return msg
                token = secrets.token_urlsafe(16)
                alternative = MIMEMultipart("alternative", boundary=f"=_a{token}", policy=policy)
                alternative.attach(MIMEText(self.body, "plain", "utf-8", policy=policy))
                if self.html is not None:
                    alternative.attach(MIMEText(self.html, "html", "utf-8", policy=policy))
                calendar = getattr(self, "calendar", None)  # an invitation (InvitationMessage)
                if calendar is not None:
                    part = MIMEText(calendar, "calendar", "utf-8", policy=policy)
                    part.set_param("method", self.method)
                    alternative.attach(part)
                msg = MIMEMultipart("mixed", boundary=f"=_m{token}", policy=policy)
                msg.attach(alternative)
                if self.subject:
                    msg["Subject"] = encoded_text("Subject", self.subject)
                msg["From"] = encoded_address("From", self.sender)
                msg["To"] = ", ".join(sorted({encoded_address("To", r) for r in self.recipients}))
                msg["Date"] = formatdate(self.date, localtime=True)
                msg["Message-ID"] = self.msgId
                if self.cc:
                    msg["Cc"] = ", ".join(sorted({encoded_address("Cc", r) for r in self.cc}))
                if self.reply_to:
                    msg["Reply-To"] = encoded_address("Reply-To", self.reply_to)
                for key, value in (self.extra_headers or {}).items():
                    msg[key] = value
                for attachment in self.attachments:
                    part = MIMEBase(*attachment.content_type.split("/"), policy=policy)
                    part.set_payload(attachment.data)
                    encode_base64(part)
                    if attachment.filename is not None:
                        name = attachment.filename
                        if not name.isascii():
                            name = ("UTF8", "", name)
                        part.add_header(
                            "Content-Disposition", attachment.disposition, filename=name
                        )
                    for key, value in attachment.headers.items():
                        part.add_header(key, value)
                    msg.attach(part)
                return msg

        return OutboxMessage

    lean_compat, lean_prefolded = make_outbox_message(compat_crlf), make_outbox_message(prefolded)

    def crlf_text(text: str) -> str:
        return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", crlf)

    class WrittenMessage(lean_prefolded):
        """p5: the same MIME structure as p4's, written with string formatting."""

        def as_bytes(self) -> bytes:
            simple = all(
                a.filename and a.filename.isascii() and not a.headers for a in self.attachments
            )
            if self._unusual() or not simple:
                return super().as_bytes()
            token = secrets.token_urlsafe(16)
            mixed, alternative = f"=_m{token}", f"=_a{token}"
            head = [f'Content-Type: multipart/mixed; boundary="{mixed}"', "MIME-Version: 1.0"]
            if self.subject:
                head.append(f"Subject: {encoded_text('Subject', self.subject)}")
            head += [
                f"From: {encoded_address('From', self.sender)}",
                "To: " + ", ".join(sorted({encoded_address("To", r) for r in self.recipients})),
                f"Date: {formatdate(self.date, localtime=True)}",
                f"Message-ID: {self.msgId}",
            ]
            if self.cc:
                head.append("Cc: " + ", ".join(sorted({encoded_address("Cc", r) for r in self.cc})))
            if self.reply_to:
                head.append(f"Reply-To: {encoded_address('Reply-To', self.reply_to)}")
            head += [f"{key}: {value}" for key, value in (self.extra_headers or {}).items()]
            text = 'Content-Type: text/{}; charset="utf-8"{}' + crlf
            text += f"MIME-Version: 1.0{crlf}Content-Transfer-Encoding: 8bit{crlf}{crlf}"
            out = [
                crlf.join(head),
                f"{crlf}{crlf}--{mixed}{crlf}",
                f'Content-Type: multipart/alternative; boundary="{alternative}"{crlf}',
                f"MIME-Version: 1.0{crlf}{crlf}",
                f"--{alternative}{crlf}",
                text.format("plain", ""),
                crlf_text(self.body or ""),
            ]
            if self.html is not None:
                out += [
                    f"{crlf}--{alternative}{crlf}",
                    text.format("html", ""),
                    crlf_text(self.html),
                ]
            calendar = getattr(self, "calendar", None)
            if calendar is not None:
                method = f'; method="{self.method}"'
                out += [
                    f"{crlf}--{alternative}{crlf}",
                    text.format("calendar", method),
                    crlf_text(calendar),
                ]
            out.append(f"{crlf}--{alternative}--{crlf}")
            for a in self.attachments:
                data = base64.encodebytes(a.data).decode("ascii").replace("\n", crlf)
                out += [
                    f"{crlf}--{mixed}{crlf}Content-Type: {a.content_type}{crlf}",
                    f"MIME-Version: 1.0{crlf}Content-Transfer-Encoding: base64{crlf}",
                    f'Content-Disposition: {a.disposition}; filename="{a.filename}"{crlf}{crlf}',
                    data,
                ]
            out.append(f"{crlf}--{mixed}--{crlf}")
            return "".join(out).encode("utf-8")

    original_build, original_send, original_record = (
        services.build_message,
        services._send,
        services._record,
    )
    known = (Message, services.InvitationMessage)

    def builder(cls):
        def build_message(row):
            message = original_build(row)
            if type(message) in known:  # the same attributes; its own _message()
                message.__class__ = cls
            return message

        return build_message

    def _bytes(message) -> bytes:
        if message.has_bad_headers():
            raise BadHeaderError
        return message.as_bytes()

    def _send(messages):
        if not current_app.config.get("MAIL_SERVER"):
            return original_send(messages)  # the .eml directory: unchanged
        outcomes = {}
        try:
            connection = mail.connect()
            connection.__enter__()
        except (OSError, _smtplib.SMTPException) as error:
            problem = f"connexion impossible : {services._describe(error)}"
            return {row_id: ("retry", problem) for row_id in messages}
        envelopes: dict = {}
        try:
            for row_id, message in messages.items():
                outcomes[row_id] = outcome = _send_one(connection, envelopes, message)
                if outcome[0] == "lost":
                    break  # the rest waits for the next run
        finally:
            with contextlib.suppress(OSError, _smtplib.SMTPException):
                connection.__exit__(None, None, None)  # QUIT may fail: the mails were accepted
        for row_id in messages:
            outcomes.setdefault(row_id, ("retry", "connexion interrompue avant l'envoi"))
        return outcomes

    def envelope(address: str) -> str:
        return address if plain_address(address) else sanitize_address(address)

    def _send_one(connection, envelopes, message):
        try:
            data = _bytes(message)
            if message.sender not in envelopes:
                envelopes[message.sender] = sanitize_address(message.sender)
            if connection.host is not None:  # None: MAIL_SUPPRESS_SEND
                connection.host.sendmail(
                    envelopes[message.sender],
                    [envelope(address) for address in message.send_to],
                    data,
                    message.mail_options,
                    message.rcpt_options,
                )
        except _smtplib.SMTPRecipientsRefused as error:
            code, answer = next(iter(error.recipients.values()))
            return services._refusal(code, answer)
        except _smtplib.SMTPResponseException as error:
            return services._refusal(error.smtp_code, error.smtp_error)
        except (_smtplib.SMTPServerDisconnected, OSError) as error:
            return ("lost", f"connexion perdue : {services._describe(error)}")
        except BadHeaderError:
            return ("failed", "en-têtes invalides (retour à la ligne dans un en-tête)")
        return ("sent", None)

    def _record(outcomes, report):
        sent = [row_id for row_id, (kind, _) in outcomes.items() if kind == "sent"]
        others = {row_id: o for row_id, o in outcomes.items() if o[0] != "sent"}
        if sent:
            begin_write()
            db.session.execute(
                sa.update(OutboxMail)
                .where(OutboxMail.id.in_(sent))
                .values(
                    status=MailStatus.sent, sent_at=now(), last_error=None, claim=None,
                    claimed_at=None,
                )
                .execution_options(synchronize_session=False)
            )  # fmt: skip
            db.session.commit()
            report.sent += len(sent)
        if others:  # rare: the row-by-row path, as it is now
            original_record(others, report)

    p1 = {"build_message": builder(lean_compat)}
    p2 = {**p1, "_send": _send}
    p3 = {**p2, "_record": _record}
    p4 = {**p3, "build_message": builder(lean_prefolded)}
    p5 = {**p4, "build_message": builder(WrittenMessage)}
    return services, {"p1": p1, "p2": p2, "p3": p3, "p4": p4, "p5": p5}


class prototype_installed:
    """Within the block, app.mail.services uses the prototype's functions of `variant`."""

    def __init__(self, variant: str):
        self.module, variants = _prototype_parts()
        self.replacements = variants[variant]

    def __enter__(self):
        self.saved = {name: getattr(self.module, name) for name in self.replacements}
        for name, function in self.replacements.items():
            setattr(self.module, name, function)
        return self

    def __exit__(self, *exc_info):
        for name, function in self.saved.items():
            setattr(self.module, name, function)
        return False


def compare_prototype_bytes(app, prepared: Prepared) -> str:
    """Every mail, built by the prototype, parses to the same headers and parts as the service's."""
    import email
    from email import policy

    import sqlalchemy as sa

    from app.extensions import db
    from app.mail.models import OutboxMail

    def parsed(data: bytes):
        message = email.message_from_bytes(data, policy=policy.default)
        headers = {
            k: str(message[k])
            for k in ("Subject", "From", "To", "Cc", "Reply-To", "Message-ID", "Auto-Submitted")
        }
        parts = [
            (
                part.get_content_type(),
                [(k, v) for k, v in part.get_params() or () if k != "boundary"],
                part.get_filename(),
                part.get_content_disposition(),
                None if part.is_multipart() else part.get_content(),
            )
            for part in message.walk()
        ]
        return headers, parts, message.defects

    from app.mail import services

    results = []
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxMail).order_by(OutboxMail.id)).all()
        for variant in ("p1", "p4", "p5"):
            differences = longest = 0
            with prototype_installed(variant):
                for row, (_, original) in zip(rows, prepared.messages, strict=True):
                    mine = services.build_message(row).as_bytes()
                    a, b = parsed(original), parsed(mine)
                    bare_lf = b"\n" in mine.replace(b"\r\n", b"")
                    if a[:2] != b[:2] or b[2] or bare_lf:
                        differences += 1
                    head = mine.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
                    longest = max(longest, *map(len, head))
            results.append(
                f"{variant}: {len(rows) - differences} of {len(rows)} the same once parsed "
                f"(headers, parts), longest header line {longest}"
            )
        db.session.remove()
    return "; ".join(results)


if __name__ == "__main__":
    sys.exit(main())
