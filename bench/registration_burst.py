"""Registration burst: 64 concurrent teachers register across 20 workshops, against gunicorn on
PostgreSQL, compared with a ceiling measured in the same run on the same stack.

    .venv/bin/python -m bench.registration_burst            # from the project root
    .venv/bin/python -m bench.registration_burst --help     # workers, threads, sizes…

What it does, in order:

1. Drops and re-creates the bench database (`BENCH_DATABASE_URL`, by default
   postgresql+psycopg://postgres@127.0.0.1:5432/bench; its name must start with "bench"), runs the
   Alembic migrations on it, and seeds 20 published workshops of 20 seats (they all fill up, so
   the waiting list is exercised too) plus one workshop for the ceiling endpoint.
2. Starts gunicorn (`bench.bench_app:app`, gthread) as a subprocess on 127.0.0.1.
3. In a separate client process (so the client's GIL and CPU are not gunicorn's), 64 threads,
   each with its own keep-alive `httpx.Client`, run alternating rounds:
   - ceiling: `POST /_bench/plancher/<id>` — one INSERT and COMMIT through the same gunicorn,
     Flask, SQLAlchemy pool and PostgreSQL (app/bench_views.py);
   - registration: `POST /ateliers/<id>/inscription` — the real thing (form validation, workshop
     row lock, count, insert, management token, two mail bodies rendered into the outbox), each
     with a unique e-mail, round-robin over the 20 workshops; 303 expected.
   Each phase is warmed up first; each client sends a fixed number of requests, under a hard
   time cap. Alternating rounds cancel slow drifts (table growth, autovacuum, CPU frequency).
4. Checks the database with SQL: no workshop has more confirmed registrations than seats, every
   waiting list is numbered 1..n without gaps or duplicates, no one waits while a seat is free,
   every 303 left exactly one registration, one outbox mail and one token.
5. Prints registrations/s, p50 and p99 latency, the ceiling's figures, the ratio, whether the
   targets (ratio ≥ 0.5, p99 < 250 ms) are met, and the integrity check; then where the CPU went
   (gunicorn workers and PostgreSQL in ms per request, the client and any other process in cores,
   from /proc), because on a small machine the ratio is the ratio of CPU costs. Exits 1 on any
   integrity violation (overbooking first of all), 2 when requests failed (no valid figures), 0
   otherwise: missing a target is reported, not fatal.

Gunicorn: 2 workers × 8 gthread threads by default. The machine it was written for has 2 cores,
shared by gunicorn, PostgreSQL and the client: one worker process per core (each has its own GIL;
more processes only add switching and connections), and enough threads per worker to keep its
core busy while other requests wait on PostgreSQL round trips and on a workshop's row lock.
Measured alternatives (4×4, 3×4, 2×4, 2×16, 8×1) gave the same ratio or worse and a higher p99.
The pool holds one connection per thread (bench/bench_app.py). SO_REUSEPORT spreads the 64
keep-alive connections over the workers.

`--stack deployed` measures the README's production stack instead, on loopback: nginx (TLS, the
site rendered from deploy/nginx/) in front of `--instances` gunicorn instances (2 by default, on
127.0.0.2, 127.0.0.3…) started from the systemd unit's command with deploy/gunicorn.conf.py and
the example environment file — PostgreSQL, Redis rate limits, CSRF, secure cookies, ProxyFix —
serving `bench.deployed_app:app` (production plus the ceiling endpoint). `--workers` are shared
among the instances (2 × 1 by default: the same two processes as the single stack). Each client
is a browser of its own: its own source address (127.0.1.N, so that the per-address limits count
it apart), its session cookie and CSRF token from the workshop page it loaded first, that page as
the Referer of its POSTs, one keep-alive TLS connection. The ceiling goes through the same nginx
and instances. nginx's CPU gets its own column.

Only one run at a time (a lock file): a second run would drop the first one's database.
"""

from __future__ import annotations

import argparse
import fcntl
import multiprocessing
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # also runnable as `python bench/registration_burst.py`
    sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
TARGET_RATIO = 0.5
TARGET_P99_MS = 250.0

CEILING = "plafond"
REGISTRATION = "inscription"


# --------------------------------------------------------------------------------------------
# Database: fresh schema, seed, and the integrity check after the run
# --------------------------------------------------------------------------------------------


def recreate_database(url: str) -> None:
    """DROP and CREATE the bench database (refuses any name not starting with "bench")."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.database or ""
    if not name.startswith("bench"):
        raise SystemExit(f"refusing to drop database {name!r}: its name must start with 'bench'")
    conninfo = psycopg.conninfo.make_conninfo(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password or None,
        dbname="postgres",
    )
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


@dataclass
class Seeded:
    workshop_ids: list[int]
    capacities: dict[int, int]
    ceiling_workshop_id: int


def migrate_and_seed(app, workshops: int, capacity: int) -> Seeded:
    """Alembic upgrade to head, then the bench catalogue: `workshops` published workshops."""
    from datetime import datetime, timedelta

    import flask_migrate

    from app.catalog.models import Level, Room, Site, Topic, Trainer, Workshop, WorkshopStatus
    from app.extensions import db

    with app.app_context():
        flask_migrate.upgrade()
        site = Site(
            slug="amiens",
            name="Amiens",
            street="45 rue Saint-Leu",
            postcode="80026",
            city="Amiens",
            latitude=49.8967,
            longitude=2.3005,
        )
        room = Room(site=site, name="Auditorium", capacity=80, videoconference=True)
        topic = Topic(slug="ent", name="ENT", description="L'espace numérique de travail.")
        trainer = Trainer(
            first_name="Claire", last_name="Dumont", email="claire.dumont@ac-amiens.fr"
        )
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        start += timedelta(days=30)

        def workshop(title: str, offset_days: int) -> Workshop:
            begins = start + timedelta(days=offset_days)
            return Workshop(
                title=title,
                description="Atelier du banc d'essai.",
                topic=topic,
                level=Level.beginner,
                room=room,
                trainer=trainer,
                starts_at=begins,
                ends_at=begins + timedelta(hours=3),
                capacity=capacity,
                status=WorkshopStatus.published,
                what_to_bring="Vos identifiants ENT",
            )

        booked = [
            workshop(f"Premiers pas dans l'ENT, session {k + 1}", k) for k in range(workshops)
        ]
        ceiling = workshop("Plafond du banc d'essai (hors contrôle des places)", workshops)
        db.session.add_all([*booked, ceiling])
        db.session.commit()
        seeded = Seeded([w.id for w in booked], {w.id: w.capacity for w in booked}, ceiling.id)
        db.session.remove()
        db.engine.dispose()
    return seeded


@dataclass
class Integrity:
    lines: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    overbooked: list[str] = field(default_factory=list)


def check_integrity(app, seeded: Seeded, registered: int, unanswered: int) -> Integrity:
    """Rule 1 and 2 on the registration workshops (the ceiling's workshop is outside the rules:
    its endpoint inserts without counting, on purpose), and nothing lost or doubled."""
    import sqlalchemy as sa

    from app.extensions import db

    report = Integrity()
    ids = seeded.workshop_ids
    with app.app_context():
        rows = db.session.execute(
            sa.text(
                """
                SELECT w.id, w.capacity,
                       count(*) FILTER (WHERE r.status = 'confirmed') AS confirmed,
                       count(*) FILTER (WHERE r.status = 'waiting') AS waiting,
                       count(DISTINCT r.waiting_position) AS distinct_positions,
                       coalesce(min(r.waiting_position), 0) AS min_position,
                       coalesce(max(r.waiting_position), 0) AS max_position
                FROM workshops w LEFT JOIN registrations r ON r.workshop_id = w.id
                WHERE w.id = ANY(:ids)
                GROUP BY w.id, w.capacity ORDER BY w.id
                """
            ),
            {"ids": ids},
        ).all()
        total = db.session.scalar(
            sa.text("SELECT count(*) FROM registrations WHERE workshop_id = ANY(:ids)"),
            {"ids": ids},
        )
        mails = db.session.scalar(
            sa.text(
                "SELECT count(*) FROM outbox_mails WHERE subject_kind = 'registration' "
                "AND template IN ('booking/confirmed', 'booking/waiting')"
            )
        )
        tokens = db.session.scalar(sa.text("SELECT count(*) FROM tokens WHERE purpose = 'manage'"))
        db.session.remove()
        db.engine.dispose()

    seats = confirmed_total = waiting_total = 0
    for wid, capacity, confirmed, waiting, distinct, lowest, highest in rows:
        seats += capacity
        confirmed_total += confirmed
        waiting_total += waiting
        if confirmed > capacity:
            report.overbooked.append(f"workshop {wid}: {confirmed} confirmed for {capacity} seats")
        if waiting and not (distinct == waiting and lowest == 1 and highest == waiting):
            report.violations.append(
                f"workshop {wid}: waiting positions not 1..{waiting} "
                f"(distinct {distinct}, min {lowest}, max {highest})"
            )
        if waiting and confirmed < capacity:
            report.violations.append(
                f"workshop {wid}: {waiting} waiting while {capacity - confirmed} seats are free"
            )
    if not registered <= total <= registered + unanswered:
        report.violations.append(
            f"{registered} registrations answered 303 ({unanswered} failed) but {total} rows exist"
        )
    if mails != total:
        report.violations.append(f"{total} registrations but {mails} confirmation/waiting mails")
    if tokens != total:
        report.violations.append(f"{total} registrations but {tokens} management tokens")
    report.violations[:0] = report.overbooked
    report.lines = [
        f"{len(rows)} workshops, {seats} seats: {confirmed_total} confirmed, "
        f"{waiting_total} waiting; {total} registration rows for {registered} answers 303",
        f"{mails} mails in the outbox, {tokens} management tokens",
    ]
    return report


# --------------------------------------------------------------------------------------------
# gunicorn
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(args, port: int, log_path: Path) -> subprocess.Popen:
    env = dict(os.environ, BENCH_DATABASE_URL=args.database_url, BENCH_THREADS=str(args.threads))
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "--workers", str(args.workers),
        "--worker-class", "gthread",
        "--threads", str(args.threads),
        "--bind", f"127.0.0.1:{port}",
        "--keep-alive", "30",
        "--log-level", "warning",
        "bench.bench_app:app",
    ]  # fmt: skip
    if args.reuse_port:
        command[-1:-1] = ["--reuse-port"]
    log = open(log_path, "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    process.bench_log = log
    return process


def wait_until_ready(process: subprocess.Popen, port: int, workers: int, log_path: Path) -> None:
    """Until every worker answers (`/sante` 200 on fresh connections), or fail with the log."""
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited ({process.returncode}):\n{log_path.read_text()}")
        if len(worker_pids(process.pid)) >= workers:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/sante", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not become ready:\n{log_path.read_text()}")


def stop_gunicorn(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    process.bench_log.close()


def worker_pids(master: int) -> list[int]:
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return []
    return [int(pid) for pid in children]


def cpu_by_pid(pids) -> dict[int, float]:
    """User + system CPU seconds of each of these processes, all threads (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return seconds


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two snapshots (a process born in between counts from zero)."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def postgres_pids(database: str) -> list[int]:
    """The backends serving `database` and PostgreSQL's shared writers (WAL, checkpoints)."""
    shared = ("walwriter", "checkpointer", "background writer", "autovacuum")
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and (
            f" {database} " in title or any(name in title for name in shared)
        ):
            pids.append(int(entry.name))
    return pids


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(values) - idle) / ticks, sum(values) / ticks


@dataclass
class Served:
    """The app, serving: where clients go, and the processes whose CPU the figures report."""

    base_url: str
    description: str
    app_pids: Callable[[], list[int]]  # the gunicorn workers, of every instance
    front_pids: Callable[[], list[int]]  # nginx's processes (deployed stack)
    certificate: str | None
    stop: Callable[[], None]


def serve_single(args) -> Served:
    """gunicorn alone, `bench.bench_app:app` (CSRF and limits off), plain http."""
    port = args.port or free_port()
    log_path = Path(tempfile.gettempdir()) / f"bench-gunicorn-{port}.log"
    gunicorn = start_gunicorn(args, port, log_path)
    try:
        wait_until_ready(gunicorn, port, args.workers, log_path)
    except BaseException:
        stop_gunicorn(gunicorn)
        raise
    workers = worker_pids(gunicorn.pid)
    return Served(
        f"http://127.0.0.1:{port}",
        f"gunicorn {args.workers}×{args.threads} gthread on 127.0.0.1:{port}",
        lambda: workers,
        list,
        None,
        lambda: stop_gunicorn(gunicorn),
    )


def serve_deployed(args, directory: Path) -> Served:
    """The production stack of the README on loopback: nginx (TLS) in front of `--instances`
    gunicorn instances started from the systemd unit with deploy/gunicorn.conf.py and the example
    environment file (PostgreSQL, Redis limits, CSRF, secure cookies), serving
    `bench.deployed_app:app` — production plus the ceiling endpoint."""
    from tests import stack

    workers = max(1, args.workers // args.instances)
    env = stack.production_env(
        DATABASE_URL=args.database_url,
        RATELIMIT_STORAGE_URI=args.redis_url,
        RATELIMIT_KEY_PREFIX=f"bench-{os.getpid()}",
        ALLOWED_EMAIL_DOMAINS="ac-amiens.fr",
        WEB_WORKERS=str(workers),
        WEB_THREADS=str(args.threads),
    )
    command = [*stack.unit_command("ateliers-tice-web.service"), "bench.deployed_app:app"]
    binds = [
        f"127.0.0.{2 + i}:{stack.free_port_on(f'127.0.0.{2 + i}')}" for i in range(args.instances)
    ]
    front = stack.NginxFront(directory, binds)
    env["PUBLIC_BASE_URL"] = front.base_url
    instances: list = []

    def stop() -> None:
        front.stop()
        for instance in instances:
            instance.stop()

    try:
        for index, bind in enumerate(binds):
            instance = stack.Process(
                command, {**env, "WEB_BIND": bind}, directory / f"web-{index}.log"
            )
            instances.append(instance)
            stack.wait_until_healthy(f"http://{bind}", instance)
            stack.wait_for(lambda instance=instance: len(worker_pids(instance.pid)) >= workers)
        front.start()
    except BaseException:
        stop()
        raise
    return Served(
        front.base_url,
        f"nginx (TLS) → {args.instances} instances × {workers} workers × {args.threads} "
        f"threads (deploy/gunicorn.conf.py), Redis limits, CSRF on",
        lambda: [pid for instance in instances for pid in worker_pids(instance.pid)],
        front.pids,
        str(front.certificate),
        stop,
    )


# --------------------------------------------------------------------------------------------
# The client process: `clients` threads, each with its own keep-alive httpx.Client
# --------------------------------------------------------------------------------------------


@dataclass
class PhaseSpec:
    kind: str  # CEILING or REGISTRATION
    label: str  # unique per phase: goes into the e-mail addresses
    requests_per_client: int
    time_cap: float
    workshop_ids: list[int]
    ceiling_workshop_id: int


@dataclass
class PhaseResult:
    kind: str
    label: str
    latencies: list[float]  # seconds, successful requests only
    errors: dict[str, int]
    elapsed: float  # from the common start to the last answer
    capped: bool  # the time cap stopped some clients
    client_cpu: float  # CPU seconds the client process used during the phase


def client_process(base_url: str, clients: int, commands, results, certificate=None) -> None:
    """Runs phases sent by the parent until it sends None; one result per phase.

    On the deployed stack (`certificate` given: nginx's, over https) each client is a browser of
    its own: its own source address (127.0.1.N: nginx passes it on, the per-address limits count
    it), its session cookie and CSRF token from the workshop page it loaded first, and that page
    as the Referer of its POSTs."""
    import httpx

    tls = None
    if certificate:
        import ssl

        tls = ssl.create_default_context(cafile=certificate)

    def session(index: int) -> httpx.Client:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        if tls is None:
            return httpx.Client(base_url=base_url, timeout=httpx.Timeout(30.0), limits=limits)
        transport = httpx.HTTPTransport(
            verify=tls, limits=limits, local_address=f"127.0.1.{index % 250 + 1}"
        )
        return httpx.Client(
            base_url=base_url, timeout=httpx.Timeout(30.0), transport=transport, trust_env=False
        )

    sessions = [session(i) for i in range(clients)]
    forms: list[dict[str, str]] = [{} for _ in range(clients)]
    try:
        while (spec := commands.get()) is not None:
            if tls is not None and not forms[0]:
                load_forms(sessions, forms, spec.workshop_ids[0])
            results.put(run_phase(spec, sessions, forms))
    finally:
        for client in sessions:
            client.close()


def load_forms(sessions, forms, workshop_id: int) -> None:
    """Each client loads a workshop page once, as a teacher would: its session cookie, its CSRF
    token (valid for the session) and the Referer its POSTs carry."""
    from tests.test_concurrency import csrf_token

    for client, form in zip(sessions, forms, strict=True):
        page = client.get(f"/ateliers/{workshop_id}")
        form["csrf_token"] = csrf_token(page)
        client.headers["Referer"] = str(page.url)


def drive_clients(client, clients: int, barrier, errors: list[dict[str, int]]):
    """Run `client(i)` in one thread per client, released together by `barrier` (the caller is
    its last party); (elapsed seconds, this process's CPU seconds, the clients' errors merged)."""
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    cpu_before = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    cpu = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - cpu_before
    merged: dict[str, int] = {}
    for failed in errors:
        for key, count in failed.items():
            merged[key] = merged.get(key, 0) + count
    return elapsed, cpu, merged


def run_phase(spec: PhaseSpec, sessions, forms) -> PhaseResult:
    import httpx

    clients = len(sessions)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[dict[str, int]] = [{} for _ in range(clients)]
    capped = threading.Event()
    barrier = threading.Barrier(clients + 1)
    workshops = spec.workshop_ids

    def client(index: int) -> None:
        session = sessions[index]
        mine, failed = latencies[index], errors[index]
        barrier.wait()
        deadline = time.perf_counter() + spec.time_cap
        for n in range(spec.requests_per_client):
            if time.perf_counter() >= deadline:
                capped.set()
                break
            email = f"banc-{spec.label}-{index}-{n}@ac-amiens.fr"
            if spec.kind == CEILING:
                url, expected = f"/_bench/plancher/{spec.ceiling_workshop_id}", 204
                data = {"courriel": email}
            else:
                # Round-robin, shifted per client: every workshop is hit by several clients at once.
                url, expected = (
                    f"/ateliers/{workshops[(index + n) % len(workshops)]}/inscription",
                    303,
                )
                data = {
                    "nom": "Martin",
                    "prenom": "Claire",
                    "courriel": email,
                    "ecole": "École élémentaire Jules Ferry, Amiens",
                    **forms[index],
                }
            began = time.perf_counter()
            try:
                status = session.post(url, data=data).status_code
            except httpx.HTTPError as error:
                key = type(error).__name__
            else:
                if status == expected:
                    mine.append(time.perf_counter() - began)
                    continue
                key = f"HTTP {status}"
            failed[key] = failed.get(key, 0) + 1

    elapsed, cpu, merged = drive_clients(client, clients, barrier, errors)
    return PhaseResult(
        spec.kind,
        spec.label,
        [x for mine in latencies for x in mine],
        merged,
        elapsed,
        capped.is_set(),
        cpu,
    )


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


@dataclass
class Sample:
    """One measured phase and what the machine's CPUs did meanwhile (seconds)."""

    result: PhaseResult
    gunicorn_cpu: float
    postgres_cpu: float
    machine_busy: float
    machine_total: float
    front_cpu: float = 0.0


@dataclass
class Figures:
    requests: int
    errors: int
    elapsed: float
    p50_ms: float
    p99_ms: float
    gunicorn_cpu_ms: float  # gunicorn workers' CPU per request
    postgres_cpu_ms: float  # the bench database's backends and PostgreSQL's writers, per request
    front_cpu_ms: float  # nginx's CPU per request (deployed stack)
    client_share: float  # the client process's CPU, in cores (1.0 = one core all the time)
    others_share: float  # CPU of everything else on the machine, in cores
    busy_share: float  # all the machine's CPU, in cores

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


def figures(samples: list[Sample]) -> Figures:
    latencies = [x for sample in samples for x in sample.result.latencies]
    requests = len(latencies)
    elapsed = sum(sample.result.elapsed for sample in samples)
    cores = os.cpu_count() or 1
    total = sum(sample.machine_total for sample in samples) / cores  # wall seconds
    gunicorn = sum(sample.gunicorn_cpu for sample in samples)
    postgres = sum(sample.postgres_cpu for sample in samples)
    front = sum(sample.front_cpu for sample in samples)
    client = sum(sample.result.client_cpu for sample in samples)
    busy = sum(sample.machine_busy for sample in samples)
    per_request = 1000 / requests if requests else float("nan")
    return Figures(
        requests=requests,
        errors=sum(sum(sample.result.errors.values()) for sample in samples),
        elapsed=elapsed,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        gunicorn_cpu_ms=gunicorn * per_request,
        postgres_cpu_ms=postgres * per_request,
        front_cpu_ms=front * per_request,
        client_share=client / total if total else float("nan"),
        others_share=max(busy - gunicorn - postgres - front - client, 0.0) / total
        if total
        else float("nan"),
        busy_share=busy / total if total else float("nan"),
    )


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="gunicorn worker processes (default 2: one per core; each has its own GIL, and "
        "more processes on 2 cores only add context switches next to PostgreSQL and the client)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=8,
        help="gthread threads per worker (default 8: enough to keep a core busy while other "
        "requests wait on PostgreSQL round trips and on the workshop row lock)",
    )
    parser.add_argument(
        "--reuse-port",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="SO_REUSEPORT: the kernel spreads the 64 keep-alive connections evenly "
        "over the workers (otherwise one worker may accept most of them)",
    )
    parser.add_argument(
        "--stack",
        choices=("single", "deployed"),
        default="single",
        help="single: gunicorn alone, CSRF and limits off (default); deployed: the README's "
        "production stack on loopback — nginx with TLS in front of --instances gunicorn "
        "instances (deploy/gunicorn.conf.py, the systemd unit's command, the example environment "
        "file), Redis limits, CSRF; --workers are shared among the instances",
    )
    parser.add_argument("--instances", type=int, default=2, help="app instances (deployed stack)")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="the rate limits' store (deployed stack)",
    )
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--workshops", type=int, default=20)
    parser.add_argument("--capacity", type=int, default=20)
    parser.add_argument("--requests", type=int, default=40, help="per client, per phase and round")
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternating ceiling/registration rounds"
    )
    parser.add_argument(
        "--warmup", type=int, default=5, help="requests per client before measuring"
    )
    parser.add_argument("--time-cap", type=float, default=60.0, help="seconds, per phase")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    # Two runs at once would drop each other's database and mix their figures.
    guard = open(Path(tempfile.gettempdir()) / "registration_burst.lock", "w")  # noqa: SIM115
    try:
        fcntl.flock(guard, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit("another registration_burst run is in progress") from None
    os.environ["BENCH_DATABASE_URL"] = args.database_url
    os.environ["BENCH_THREADS"] = str(args.threads)

    print(
        f"Preparing {args.database_url.rsplit('/', 1)[-1]!r}: fresh database, migrations, "
        f"{args.workshops} workshops of {args.capacity} seats + 1 for the ceiling…",
        flush=True,
    )
    recreate_database(args.database_url)
    from bench.bench_app import app

    seeded = migrate_and_seed(app, args.workshops, args.capacity)

    database = args.database_url.rsplit("/", 1)[-1].split("?")[0]
    work = Path(tempfile.mkdtemp(prefix="bench-burst-"))
    served = serve_deployed(args, work) if args.stack == "deployed" else serve_single(args)
    context = multiprocessing.get_context("spawn")
    commands, results = context.Queue(), context.Queue()
    client = None
    measured: dict[str, list] = {CEILING: [], REGISTRATION: []}
    registered = unanswered = 0
    try:
        app_pids, front_pids = served.app_pids(), served.front_pids()
        print(f"{served.description}; {args.clients} clients in a separate process", flush=True)
        client = context.Process(
            target=client_process,
            args=(served.base_url, args.clients, commands, results, served.certificate),
            daemon=True,
        )
        client.start()

        def phase(kind: str, label: str, requests: int) -> Sample:
            spec = PhaseSpec(
                kind,
                label,
                requests,
                args.time_cap,
                seeded.workshop_ids,
                seeded.ceiling_workshop_id,
            )
            app_before, front_before = cpu_by_pid(app_pids), cpu_by_pid(front_pids)
            postgres_before = cpu_by_pid(postgres_pids(database))
            busy_before, total_before = machine_busy_seconds()
            commands.put(spec)
            result = results.get(timeout=args.time_cap + 120)
            busy_after, total_after = machine_busy_seconds()
            return Sample(
                result,
                cpu_used(app_before, cpu_by_pid(app_pids)),
                cpu_used(postgres_before, cpu_by_pid(postgres_pids(database))),
                busy_after - busy_before,
                total_after - total_before,
                cpu_used(front_before, cpu_by_pid(front_pids)),
            )

        plan = [(CEILING, "w", args.warmup), (REGISTRATION, "w", args.warmup)]
        for r in range(1, args.rounds + 1):
            plan += [(CEILING, f"r{r}", args.requests), (REGISTRATION, f"r{r}", args.requests)]
        for kind, label, requests in plan:
            sample = phase(kind, label, requests)
            result = sample.result
            if kind == REGISTRATION:
                registered += len(result.latencies)
                unanswered += sum(result.errors.values())  # may or may not have committed
            done = len(result.latencies)
            print(
                f"  {label:>2} {kind:<11} {done:6d} ok  {sum(result.errors.values()):4d} errors"
                f"  {done / result.elapsed:8.1f} req/s"
                f"{'  (time cap reached)' if result.capped else ''}"
                f"{'  ' + str(result.errors) if result.errors else ''}",
                flush=True,
            )
            if label != "w":
                measured[kind].append(sample)
    finally:
        if client is not None:
            commands.put(None)
            client.join(timeout=30)
            if client.is_alive():
                client.terminate()
        served.stop()

    integrity = check_integrity(app, seeded, registered, unanswered)
    ceiling, booking = figures(measured[CEILING]), figures(measured[REGISTRATION])
    ratio = booking.rate / ceiling.rate if ceiling.rate else float("nan")
    ratio_ok, p99_ok = ratio >= TARGET_RATIO, booking.p99_ms < TARGET_P99_MS

    print()
    print(
        f"Registration burst — {args.clients} clients, {args.workshops} workshops × "
        f"{args.capacity} seats, {served.description}, PostgreSQL, "
        f"{args.rounds} alternating rounds of {args.requests} requests per client"
    )
    rows = (("ceiling: 1 INSERT + COMMIT", ceiling), ("registration: POST inscription", booking))
    header = f"{'':<32}{'requests':>9}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
    print(header)
    print("-" * len(header))
    for name, f in rows:
        print(
            f"{name:<32}{f.requests:>9}{f.errors:>8}{f.rate:>9.1f}{f.p50_ms:>9.1f}{f.p99_ms:>9.1f}"
        )
    print()
    cores = os.cpu_count()
    header = (
        f"{'CPU during the phase':<32}{'gunicorn':>10}{'PostgreSQL':>12}{'nginx':>8}"
        f"{'client':>8}{'others':>8}{'busy':>8}   (ms per request; then cores in use, of {cores})"
    )
    print(header)
    print("-" * len(header))
    for name, f in rows:
        print(
            f"{name:<32}{f.gunicorn_cpu_ms:>10.2f}{f.postgres_cpu_ms:>12.2f}{f.front_cpu_ms:>8.2f}"
            f"{f.client_share:>8.2f}{f.others_share:>8.2f}{f.busy_share:>8.2f}"
        )
    if max(ceiling.others_share, booking.others_share) > 0.1:
        print(
            "note: other processes used CPU during the run: absolute figures are pessimistic; "
            "the ratio, measured in alternating rounds, is the robust figure"
        )
    print("-" * len(header))
    print(f"registrations per second : {booking.rate:.1f}")
    print(
        f"ratio to the ceiling     : {ratio:.2f}   (target ≥ {TARGET_RATIO}: "
        f"{'met' if ratio_ok else 'NOT met'})"
    )
    print(
        f"registration p99         : {booking.p99_ms:.1f} ms   (target < {TARGET_P99_MS:.0f} ms: "
        f"{'met' if p99_ok else 'NOT met'})"
    )
    print(f"registration p50         : {booking.p50_ms:.1f} ms")
    for line in integrity.lines:
        print(f"database                 : {line}")
    if integrity.overbooked:
        print("OVERBOOKING              : " + "; ".join(integrity.overbooked))
    else:
        print("overbooking              : none (confirmed ≤ capacity on every workshop)")
    other = integrity.violations[len(integrity.overbooked) :]
    if other:
        print("INTEGRITY VIOLATIONS     : " + "; ".join(other))
    else:
        print(
            "waiting lists            : numbered 1..n, no gaps, no one waiting beside a free seat"
        )
    print(f"targets                  : {'met' if ratio_ok and p99_ok else 'NOT met'}")
    if integrity.violations:
        return 1
    if ceiling.errors or booking.errors or not booking.requests:
        print("some requests failed: the figures above are not a valid measurement")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
