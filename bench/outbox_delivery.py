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
4. Prepares the ceiling's messages before any timing: `build_message(row)` for every outbox row
   (the very bytes, Message-IDs included, that delivery sends, and the envelope addresses), and
   checks that each of them parses (standard `email` package, default policy) to the same
   headers and parts as the message Flask-Mail builds from the same row, the way the service
   built them before it wrote its MIME itself (see REFERENCE at the end of this file): no
   defect, CRLF line ends only, no line over 998 octets.
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
   MIME build, SMTP, record). Exits 1 when a mail was lost, doubled or not recorded, or when a
   mail does not parse like the reference; 0 otherwise: missing the target is reported, not
   fatal.

`--profile` adds one extra service run under cProfile (not timed with the rounds) and prints
the functions where the time goes.

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


def prepare(app) -> tuple[Prepared, str]:
    """The ceiling's input, and the check of every mail against the reference (REFERENCE)."""
    import sqlalchemy as sa
    from sqlalchemy.orm import selectinload

    from app.extensions import db
    from app.mail.message import build_message
    from app.mail.models import OutboxMail

    with app.app_context():
        rows = db.session.scalars(
            sa.select(OutboxMail)
            .order_by(OutboxMail.id)
            .options(selectinload(OutboxMail.attachments))
        ).all()
        built = [build_message(row) for row in rows]
        senders = {mail.sender for mail in built}
        if len(senders) != 1:
            raise SystemExit(f"expected one envelope sender, found {senders}")
        prepared = Prepared(
            sender=senders.pop(),
            messages=[(mail.recipient, mail.data) for mail in built],
            message_ids=[mail.message_id for mail in built],
            text_sizes=[len(row.body_text.encode()) for row in rows],
            html_sizes=[len(row.body_html.encode()) for row in rows],
        )
        check = compare_with_reference(rows, [mail.data for mail in built])
        db.session.remove()
    return prepared, check


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
    """Wall time spent in app.mail.delivery's _claim, _send and _record, in build_message() (the
    MIME bytes, called by _claim: timed under the name app.mail.delivery calls it by) and in
    Recorder.wait() (each mail's content waiting for the previous mail's record, called by
    _send). A few µs per call; `claim` includes `build`, `send` includes `sent`."""

    def __init__(self):
        from app.mail import delivery, recorder

        self.module, self.recorder = delivery, recorder
        self.seconds = dict.fromkeys(("claim", "send", "build", "record", "sent"), 0.0)

    def _timed(self, function, key):
        seconds = self.seconds

        def timed(*args, **kwargs):
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[key] += time.perf_counter() - began

        return timed

    def __enter__(self):
        module = self.module
        names = ((module, "_claim", "claim"), (module, "_send", "send"))
        names += ((module, "_record", "record"), (module, "build_message", "build"))
        names += ((self.recorder.Recorder, "wait", "sent"),)
        self.saved = [(owner, name, getattr(owner, name)) for owner, name, _ in names]
        for (owner, name, function), (_, _, key) in zip(self.saved, names, strict=True):
            setattr(owner, name, self._timed(function, key))
        return self

    def __exit__(self, *exc_info):
        for owner, name, function in self.saved:
            setattr(owner, name, function)
        return False


def run_service(app, batch: int, time_cap: float, meter: Meter, timers=None):
    """deliver_pending(batch) until a call delivers nothing, in one app context."""
    from app.extensions import db
    from app.mail.delivery import deliver_pending

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
        action="store_true",
        help="one extra service run under cProfile, after the rounds",
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
    prepared, parse_check = prepare(app)
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

    print(f"  the service's mails against the reference: {parse_check}", flush=True)
    runs: list[Run] = []
    warm = min(args.warmup, args.mails)
    if warm:
        ceiling("w", warm)
        for batch in batch_sizes:
            service("w", warm, batch)
    # A ceiling run before every service run and one at the end: each service run is compared
    # with the two ceilings measured around it (this machine's speed drifts within seconds).
    for r in range(1, args.rounds + 1):
        for batch in batch_sizes:
            runs.append(ceiling(f"r{r}", args.mails))
            runs.append(service(f"r{r}", args.mails, batch))
    runs.append(ceiling(f"r{args.rounds}", args.mails))
    pair_with_ceilings(runs)

    if args.profile:
        profile_service(app, args, batch_sizes[0])

    status = summary(args, runs, batch_sizes, engine_name)
    parses = parse_check.startswith(f"{args.mails} of {args.mails} ")
    print(f"mails parsed like before : {parse_check}")
    return status if parses else 1


def pair_with_ceilings(runs: list[Run]) -> None:
    """Each service run's ceiling: the mean rate of the ceiling runs just before and after it."""
    for index, run in enumerate(runs):
        if run.kind == CEILING:
            continue
        before = next(r for r in reversed(runs[:index]) if r.kind == CEILING)
        after = next((r for r in runs[index + 1 :] if r.kind == CEILING), before)
        run.paired_ceiling = (before.rate + after.rate) / 2


def summary(args, runs: list[Run], batch_sizes: list[int], engine_name: str) -> int:
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
        claim = steps["claim"] - steps["build"]
        smtp = steps["send"] - steps["sent"]
        record = steps["record"] + steps["sent"]
        print(
            f"{name:<40}{claim * per:>7.0f}{steps['build'] * per:>7.0f}{smtp * per:>7.0f}"
            f"{record * per:>8.0f}{(run.elapsed - inside) * per:>7.0f}"
            f"{run.elapsed * per:>7.0f}"
        )
    print("-" * len(header))
    print(
        "(claim: the claiming transaction, rows loaded; build: build_message(), the MIME bytes; "
        "SMTP: sending, connection included, i.e. smtplib and the waits for the sink; record: "
        "the waits for each mail's record before the next one's content (the records run on "
        "a thread while the next envelope goes), and the batch's closing transaction)"
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


def profile_service(app, args, batch: int) -> None:
    import cProfile
    import pstats

    requeue(app, args.database_url)
    profiler = cProfile.Profile()
    meter = Meter(0, None)
    profiler.enable()
    elapsed, sent, *_ = run_service(app, batch, args.time_cap, meter)
    profiler.disable()
    print(
        f"\ncProfile of one service run (batch {batch}): {sent} mails in {elapsed:.2f} s "
        f"(slowed by the profiler; only this process's main thread is profiled)"
    )
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(25)


# --------------------------------------------------------------------------------------------
# REFERENCE — the mail as Flask-Mail builds it from the same row: the way the service built its
# mails before it wrote the MIME bytes itself, now app/mail/message.py (a Message whose _message()
# adds the text/calendar alternative last with its method parameter, and the .ics attached). Not
# the app's code: only what the service's bytes are compared with once parsed.
# --------------------------------------------------------------------------------------------


def reference_message(row) -> bytes:
    from email.mime.text import MIMEText

    from flask import current_app
    from flask_mail import Message

    from app.mail.message import message_id_for

    class InvitationMessage(Message):
        def __init__(self, *args, method: str, calendar: str, **kwargs):
            super().__init__(*args, **kwargs)
            self.method, self.calendar = method, calendar

        def _message(self):
            message = super()._message()
            alternative = message.get_payload()[0]
            part = MIMEText(self.calendar, "calendar", "utf-8")
            part.set_param("method", self.method)
            alternative.attach(part)
            return message

    fields = dict(
        subject=row.subject,
        recipients=[row.recipient],
        body=row.body_text,
        html=row.body_html,
        sender=current_app.config["MAIL_DEFAULT_SENDER"],
        reply_to=current_app.config["MAIL_REPLY_TO"],
        extra_headers={"Auto-Submitted": "auto-generated"},
    )
    if row.calendar_ics:
        message = InvitationMessage(method=row.calendar_method, calendar=row.calendar_ics, **fields)
        message.attach("invitation.ics", "application/ics", row.calendar_ics.encode("utf-8"))
    else:
        message = Message(**fields)
    for attachment in row.attachments:
        message.attach(attachment.filename, attachment.content_type, attachment.data)
    message.msgId = message_id_for(row)
    return message.as_bytes()


def parsed(data: bytes):
    """(headers, parts, defects) of a mail once parsed with the standard `email` package."""
    import email
    from email import policy

    message = email.message_from_bytes(data, policy=policy.default)
    names = ("Subject", "From", "To", "Cc", "Reply-To", "Message-ID", "Auto-Submitted", "Date")
    headers = {name: [str(value) for value in message.get_all(name, [])] for name in names}
    headers["Date"] = len(headers["Date"])  # now(): only its presence, once
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
    defects = [defect for part in message.walk() for defect in part.defects]
    return headers, parts, defects


def compare_with_reference(rows, datas: list[bytes]) -> str:
    """How many of the service's mails parse to the reference's headers and parts, without
    defects, with CRLF line ends only and no line over 998 octets."""
    differences, longest, example = 0, 0, ""
    for row, data in zip(rows, datas, strict=True):
        mine, reference = parsed(data), parsed(reference_message(row))
        longest = max(longest, *map(len, data.split(b"\r\n")))
        bare_line_end = b"\n" in data.replace(b"\r\n", b"") or b"\r" in data.replace(b"\r\n", b"")
        if mine[:2] != reference[:2] or mine[2] or bare_line_end or longest > 998:
            differences += 1
            example = example or f" (first: outbox row {row.id})"
    return (
        f"{len(rows) - differences} of {len(rows)} parse to the same headers and parts, no "
        f"defect, CRLF only; longest line {longest} octets{example}"
    )


if __name__ == "__main__":
    sys.exit(main())
