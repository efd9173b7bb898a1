"""Calendar feeds: the cold build of a site feed, and the warm 200 and the 304 of a poll under
gunicorn on PostgreSQL, compared with a ceiling measured in the same run on the same stack.

    .venv/bin/python -m bench.feeds            # from the project root
    .venv/bin/python -m bench.feeds --help     # workers, threads, clients, sizes…

What it does, in order:

1. Drops and re-creates its own database (`--database-url`, by default
   postgresql+psycopg://postgres@127.0.0.1:5432/bench_feeds; its name must start with "bench"),
   runs the Alembic migrations and seeds 1,000 workshops over the three sites (Amiens, Abbeville,
   Péronne), both levels and five topics, from a year back to a year ahead: morning, afternoon
   and late-evening ones (20:00, 22:30), one in nine cancelled, some moved (SEQUENCE 1 or 2), a
   few drafts; then VACUUM ANALYZE, as autovacuum soon would on a live database.
2. Cold build, in this process (an app context per run, as a request has; no HTTP): the Amiens
   feed from an empty in-process cache, `--cold-runs` times (the cache cleared before each), so
   each run is what the first poll after a change costs: the stamp query, the load, the render,
   the hash and the FeedState check. Median and max against the target; the `tous` feed for
   information, and where the Amiens build's time goes.
3. Starts gunicorn (`bench.bench_app:app`, gthread, SO_REUSEPORT) as a subprocess on 127.0.0.1.
4. In a separate client process, `--clients` threads each with its own keep-alive connection run
   three phases, each warmed up first (which also fills each worker's cache), then measured in
   alternating rounds (slow drifts cancel out), each client sending a fixed number of requests
   under a time cap (rounds in the same order: ceiling, 200, 304, ceiling, 200, 304):
   - ceiling: `GET /_bench/plafond` — one `SELECT 1` through the same gunicorn, Flask,
     SQLAlchemy pool and PostgreSQL, two bytes back (app/bench_views.py);
   - warm 200: `GET /calendriers/amiens.ics` — the stamp query, the cached bytes; every answer
     must be a 200 with the right ETag, content type and length, and the body's SHA-256 is
     checked against the ETag on one answer in `--digest-every` (and on each client's first);
   - 304: the same URL with `If-None-Match` set to that ETag; every answer must be a 304 with the
     ETag and no body.
5. Prints req/s, p50 and p99 of each phase, the ratios of the 200 and the 304 to the ceiling,
   whether the targets are met (cold build < 150 ms; 304 ≥ 0.8 and warm 200 ≥ 0.5 of the
   ceiling), and where the CPU went (gunicorn and PostgreSQL in ms per request; the client and
   the rest in cores). Exits 2 when a request failed or an answer was wrong (no valid figures),
   0 otherwise: missing a target is reported, not fatal.

The client: by default a minimal HTTP/1.1 client on raw sockets (a prepared request, the status
line, the headers, Content-Length bytes). On a 2-core machine the client shares the CPU with
gunicorn and PostgreSQL, and a request costs the server one to two milliseconds: httpx spends
about half a millisecond per request of the client's CPU (the raw client under 0.1 ms), taken
from the server alike in every phase, which pulls every ratio towards 1 (measured: ceiling 572
req/s with httpx against about 1,000 raw; ratios 0.83 and 0.71 instead of 0.76 and 0.65).
`--client httpx` measures with httpx all the same.

Gunicorn: 2 workers × 8 gthread threads by default, as bench/registration_burst.py and for the
same reasons (one process per core, each with its own GIL; enough threads to keep a core busy
while requests wait on PostgreSQL round trips); SO_REUSEPORT spreads the keep-alive connections
over the workers. Only one run at a time (a lock file): a second would drop the first's database.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import multiprocessing
import os
import queue
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # also runnable as `python bench/feeds.py`
    sys.path.insert(0, str(ROOT))

from bench.registration_burst import (  # noqa: E402
    Sample,
    cpu_by_pid,
    cpu_used,
    drive_clients,
    figures,
    free_port,
    machine_busy_seconds,
    postgres_pids,
    recreate_database,
    start_gunicorn,
    stop_gunicorn,
    wait_until_ready,
    worker_pids,
)

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_feeds"
TARGET_COLD_MS = 150.0
TARGET_304 = 0.8
TARGET_200 = 0.5

FEED = "amiens"
CEILING = "plafond"
WARM = "200"
NOT_MODIFIED = "304"
PATHS = {
    CEILING: "/_bench/plafond",
    WARM: f"/calendriers/{FEED}.ics",
    NOT_MODIFIED: f"/calendriers/{FEED}.ics",
}


# --------------------------------------------------------------------------------------------
# Database: a thousand workshops
# --------------------------------------------------------------------------------------------

SITES = (
    ("amiens", "Amiens", "45 rue Saint-Leu", "80026", 49.8967, 2.3005),
    ("abbeville", "Abbeville", "2 place Clemenceau", "80100", 50.1054, 1.8339),
    ("peronne", "Péronne", "12 rue Saint-Fursy", "80200", 49.9316, 2.9333),
)
TOPICS = (
    ("ent", "ENT", "Premiers pas dans l'ENT", "Vos identifiants ENT"),
    ("tbi", "Tableau blanc interactif", "Le TBI en classe", ""),
    ("tablettes", "Tablettes", "Tablettes et applications", "Votre tablette chargée"),
    ("ressources-numeriques", "Ressources numériques", "Trouver et citer des ressources", ""),
    ("programmation", "Programmation", "Programmer avec Scratch", "Un ordinateur portable"),
)
#: (hour, minute, minutes): morning, afternoon, end of day, evening, late evening.
SLOTS = ((9, 0, 180), (14, 0, 180), (17, 30, 120), (20, 0, 120), (22, 30, 89))


@dataclass
class Seeded:
    workshops: int
    by_status: dict[str, int]
    moved: int
    late: int


def migrate_and_seed(app, count: int) -> Seeded:
    """Alembic upgrade to head, then `count` workshops from a year back to a year ahead."""
    from datetime import datetime, timedelta

    import flask_migrate
    import sqlalchemy as sa

    from app.calendars.services import paris_today
    from app.catalog.models import Level, Room, Site, Topic, Trainer, Workshop, WorkshopStatus
    from app.clock import now
    from app.extensions import db
    from app.formatting import PARIS

    with app.app_context():
        flask_migrate.upgrade()
        sites = []
        for slug, name, street, postcode, latitude, longitude in SITES:
            site = Site(
                slug=slug,
                name=name,
                street=street,
                postcode=postcode,
                city=name,
                latitude=latitude,
                longitude=longitude,
            )
            site.rooms = [
                Room(name=room, capacity=16)
                for room in ("Salle multimédia 1", "Salle multimédia 2", "Salle de réunion")
            ]
            sites.append(site)
        topics = [Topic(slug=slug, name=name) for slug, name, _, _ in TOPICS]
        trainers = [
            Trainer(first_name=first, last_name=last, email=f"{first}.{last}@ac-amiens.fr".lower())
            for first, last in (
                ("Claire", "Dumont"), ("Julien", "Leroy"), ("Sophie", "Martin"),
                ("Karim", "Benali"), ("Élodie", "Petit"), ("Marc", "Lefebvre"),
                ("Nadia", "Roussel"), ("Thomas", "Caron"), ("Lucie", "Dubois"),
                ("Hugo", "Lemaire"), ("Inès", "Fontaine"), ("Paul", "Gervais"),
            )
        ]  # fmt: skip
        db.session.add_all([*sites, *topics, *trainers])
        today = paris_today()
        first_day = today - timedelta(days=365)
        current = now()
        seeded = Seeded(count, {}, 0, 0)
        for i in range(count):
            day = first_day + timedelta(days=i * 730 // count)
            hour, minute, length = SLOTS[i % len(SLOTS)]
            starts_at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)
            status = WorkshopStatus.published
            if i % 9 == 0:
                status = WorkshopStatus.cancelled
            elif i % 31 == 0:
                status = WorkshopStatus.draft
            sequence = 2 if i % 13 == 0 else 1 if i % 7 == 0 else 0
            site = sites[i % 3]
            _, _, title, bring = TOPICS[i % len(TOPICS)]
            created = min(starts_at - timedelta(days=45), current - timedelta(days=1))
            updated = min(created + timedelta(days=3 * sequence, minutes=i), current)
            db.session.add(
                Workshop(
                    title=f"{title} – session {i // len(TOPICS) + 1}",
                    description=(
                        "Un atelier pratique de trois heures au plus, en petit groupe.\n"
                        "Nous partons de vos usages en classe, puis chacun prépare une séance "
                        "qu'il pourra reprendre avec ses élèves dès la semaine suivante."
                    ),
                    topic=topics[i % len(TOPICS)],
                    level=Level.beginner if (i // 3) % 2 else Level.expert,
                    room=site.rooms[(i // 3) % len(site.rooms)],
                    trainer=trainers[i % len(trainers)],
                    capacity=12,
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(minutes=length),
                    status=status,
                    what_to_bring=bring,
                    sequence=sequence,
                    created_at=created,
                    updated_at=updated,
                )
            )
            seeded.by_status[status.value] = seeded.by_status.get(status.value, 0) + 1
            seeded.moved += sequence > 0
            seeded.late += hour >= 20
        db.session.commit()
        db.session.remove()
        # What autovacuum would have done within a minute on a live database: planner statistics
        # (without them the stamp query takes a nested loop three times slower) and the
        # visibility map.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE"))
        db.engine.dispose()
    return seeded


# --------------------------------------------------------------------------------------------
# Cold build, in process
# --------------------------------------------------------------------------------------------


@dataclass
class Cold:
    slug: str
    events: int
    size: int
    runs_ms: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.runs_ms)

    @property
    def worst(self) -> float:
        return max(self.runs_ms)


def cold_builds(app, slug: str, runs: int) -> Cold:
    """`render_public_feed(slug)` from an empty rendered-bytes cache, each run in a fresh app
    context (a fresh session, as a request has). The feed directory stays warm: it is not
    invalidated by a data change either."""
    from app.calendars import services

    timings = []
    body = b""
    for _ in range(runs):
        with app.app_context():
            state = services._state()
            with state.lock:
                state.feeds.clear()
            began = time.perf_counter()
            feed = services.render_public_feed(slug)
            timings.append((time.perf_counter() - began) * 1000)
            body = feed.body
    return Cold(slug, body.count(b"BEGIN:VEVENT"), len(body), timings)


def cold_breakdown(app, slug: str, runs: int) -> dict[str, float]:
    """Where a cold build's time goes (medians, ms): the same steps as `render_public_feed`."""
    import sqlalchemy as sa

    from app.calendars import builder, services

    steps: dict[str, list[float]] = {}

    @contextlib.contextmanager
    def timed(name: str):
        began = time.perf_counter()
        yield
        steps.setdefault(name, []).append((time.perf_counter() - began) * 1000)

    for _ in range(runs):
        with app.app_context():
            feed = services.public_feed(slug)
            condition = sa.and_(services.window_condition(), feed.condition)
            with timed("stamp query"):
                services.workshop_stamp(condition)
            with timed("load (query + ORM)"):
                found = services.workshops(condition)
            with timed("events"):
                events = [builder.workshop_event(w) for w in found]
            with timed("to_ical"):
                body = builder.build_calendar(events, name=feed.name)
            with timed("sha256"):
                etag = services._digest(body)
            with timed("FeedState"):
                services._record(feed.key, etag)
    return {name: statistics.median(values) for name, values in steps.items()}


# --------------------------------------------------------------------------------------------
# The client process
# --------------------------------------------------------------------------------------------


class RawConnection:
    """One keep-alive HTTP/1.1 connection: send a prepared GET, read the status, the headers
    and Content-Length bytes. Nothing else (no chunks, no redirects): what the bench needs."""

    def __init__(self, host: str, port: int):
        self.address = (host, port)
        self.sock: socket.socket | None = None
        self.buffer = bytearray()

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.buffer.clear()

    def _fill(self) -> None:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("connection closed by the server")
        self.buffer += chunk

    def get(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=30)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock.sendall(request)
            while (end := self.buffer.find(b"\r\n\r\n")) < 0:
                self._fill()
            lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            del self.buffer[: end + 4]
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = 0 if status in (204, 304) else int(headers.get("content-length", "0"))
            while len(self.buffer) < length:
                self._fill()
            body = bytes(self.buffer[:length])
            del self.buffer[:length]
            if headers.get("connection", "").lower() == "close":
                self.close()
            return status, headers, body
        except BaseException:
            self.close()
            raise


class HttpxConnection:
    def __init__(self, host: str, port: int):
        import httpx

        self.client = httpx.Client(
            base_url=f"http://{host}:{port}",
            timeout=httpx.Timeout(30.0),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )

    def close(self) -> None:
        self.client.close()

    def get(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        response = self.client.get(path, headers=headers)
        return response.status_code, response.headers, response.content


@dataclass
class PhaseSpec:
    kind: str  # CEILING, WARM or NOT_MODIFIED
    label: str
    requests_per_client: int
    time_cap: float
    etag: str  # the ETag header expected, quoted
    length: int  # the feed's length in bytes
    digest_every: int


@dataclass
class PhaseResult:
    kind: str
    label: str
    latencies: list[float]  # seconds, right answers only
    errors: dict[str, int]
    elapsed: float  # from the common start to the last answer
    capped: bool  # the time cap stopped some clients
    client_cpu: float  # CPU seconds the client process used during the phase
    digests: int = 0  # bodies whose SHA-256 was checked against the ETag
    body_bytes: int = 0


def client_process(host: str, port: int, clients: int, kind: str, commands, results) -> None:
    """Runs phases sent by the parent until it sends None; one result per phase."""
    factory = RawConnection if kind == "raw" else HttpxConnection
    connections = [factory(host, port) for _ in range(clients)]
    try:
        while (spec := commands.get()) is not None:
            results.put(run_phase(spec, connections, host, port))
    finally:
        for connection in connections:
            connection.close()


def run_phase(spec: PhaseSpec, connections, host: str, port: int) -> PhaseResult:
    clients = len(connections)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[dict[str, int]] = [{} for _ in range(clients)]
    digests = [0] * clients
    sizes = [0] * clients
    capped = threading.Event()
    barrier = threading.Barrier(clients + 1)
    path = PATHS[spec.kind]
    headers = {"If-None-Match": spec.etag} if spec.kind == NOT_MODIFIED else {}
    raw = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: bench-feeds\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        + "\r\n"
    ).encode()
    expected_digest = spec.etag.strip('"')

    def check(n: int, status: int, answer_headers, body: bytes) -> tuple[str | None, bool]:
        """The error key for a wrong answer (None when right), and whether a digest was checked."""
        if spec.kind == CEILING:
            return (None if status == 200 and body == b"ok" else f"HTTP {status}"), False
        if spec.kind == NOT_MODIFIED:
            if status != 304:
                return f"HTTP {status} (304 expected)", False
            if body:
                return "304 with a body", False
            if answer_headers.get("etag") != spec.etag:
                return "304 with another ETag", False
            return None, False
        if status != 200:
            return f"HTTP {status}", False
        if answer_headers.get("etag") != spec.etag:
            return "200 with another ETag", False
        if answer_headers.get("content-type") != "text/calendar; charset=utf-8":
            return "200 with another content type", False
        if len(body) != spec.length:
            return f"200 with {len(body)} bytes, not {spec.length}", False
        if n % spec.digest_every == 0:
            if hashlib.sha256(body).hexdigest() != expected_digest:
                return "200 whose SHA-256 is not its ETag", True
            return None, True
        return None, False

    def client(index: int) -> None:
        connection = connections[index]
        mine, failed = latencies[index], errors[index]
        barrier.wait()
        deadline = time.perf_counter() + spec.time_cap
        for n in range(spec.requests_per_client):
            if time.perf_counter() >= deadline:
                capped.set()
                break
            began = time.perf_counter()
            try:
                if isinstance(connection, RawConnection):
                    status, answer_headers, body = connection.get(raw)
                else:
                    status, answer_headers, body = connection.get(path, headers)
            except Exception as error:  # OSError, a garbled answer, httpx.HTTPError…
                key = type(error).__name__
            else:
                elapsed = time.perf_counter() - began
                key, digested = check(n, status, answer_headers, body)
                digests[index] += digested
                if key is None:
                    mine.append(elapsed)
                    sizes[index] += len(body)
                    continue
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
        sum(digests),
        sum(sizes),
    )


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_FEEDS_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="its database name must start with 'bench' (it is dropped and re-created)",
    )
    parser.add_argument("--workshops", type=int, default=1000)
    parser.add_argument(
        "--cold-runs", type=int, default=9, help="cold builds of each feed (the cache cleared)"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="gthread threads per worker")
    parser.add_argument(
        "--reuse-port",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="SO_REUSEPORT: the kernel spreads the keep-alive connections over the workers",
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="raw: a minimal HTTP/1.1 client on sockets (default); httpx: httpx.Client",
    )
    parser.add_argument("--requests", type=int, default=150, help="per client, per phase and round")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of the phases")
    parser.add_argument(
        "--warmup", type=int, default=10, help="requests per client before measuring"
    )
    parser.add_argument("--time-cap", type=float, default=30.0, help="seconds, per phase")
    parser.add_argument(
        "--digest-every",
        type=int,
        default=10,
        help="check the SHA-256 of one warm 200 body in this many (each client's first too)",
    )
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    return parser.parse_args(argv)


def fetch_feed(port: int) -> tuple[str, bytes, dict[str, str]]:
    """The feed once, from outside: its ETag (checked to be the SHA-256 of the body)."""
    connection = RawConnection("127.0.0.1", port)
    try:
        status, headers, body = connection.get(
            f"GET {PATHS[WARM]} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        )
    finally:
        connection.close()
    if status != 200:
        raise SystemExit(f"GET {PATHS[WARM]} answered {status}")
    etag = headers.get("etag", "")
    if etag != f'"{hashlib.sha256(body).hexdigest()}"':
        raise SystemExit(f"the feed's ETag {etag!r} is not the SHA-256 of its body")
    return etag, body, headers


def server_ms(f) -> float:
    """gunicorn + PostgreSQL CPU per request, ms."""
    return f.gunicorn_cpu_ms + f.postgres_cpu_ms


def await_result(results, client, timeout: float) -> PhaseResult:
    """The client process's answer, or a clear failure if it died or hung."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return results.get(timeout=1)
        except queue.Empty:
            if not client.is_alive():
                raise SystemExit(f"the client process died (exit code {client.exitcode})") from None
    raise SystemExit(f"the client process gave no result within {timeout:.0f} s")


def main(argv=None) -> int:
    args = parse_args(argv)
    guard = open(Path(tempfile.gettempdir()) / "bench_feeds.lock", "w")  # noqa: SIM115
    try:
        fcntl.flock(guard, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit("another bench.feeds run is in progress") from None
    # bench/bench_app.py reads these when imported, here and in gunicorn.
    os.environ["BENCH_DATABASE_URL"] = args.database_url
    os.environ["BENCH_THREADS"] = str(args.threads)
    database = args.database_url.rsplit("/", 1)[-1].split("?")[0]

    print(
        f"Preparing {database!r}: fresh database, migrations, {args.workshops} workshops…",
        flush=True,
    )
    recreate_database(args.database_url)
    from bench.bench_app import app

    seeded = migrate_and_seed(app, args.workshops)
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(seeded.by_status.items()))
    print(
        f"  {seeded.workshops} workshops over {len(SITES)} sites, {len(TOPICS)} topics, 2 levels: "
        f"{statuses}; {seeded.moved} moved, {seeded.late} starting at 20:00 or later",
        flush=True,
    )

    print(f"Cold builds, in process ({args.cold_runs} runs each)…", flush=True)
    cold = cold_builds(app, FEED, args.cold_runs)
    cold_all = cold_builds(app, "tous", args.cold_runs)
    breakdown = cold_breakdown(app, FEED, args.cold_runs)
    with app.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()  # gunicorn's workers open their own connections

    port = args.port or free_port()
    log_path = Path(tempfile.gettempdir()) / f"bench-feeds-gunicorn-{port}.log"
    gunicorn = start_gunicorn(args, port, log_path)
    context = multiprocessing.get_context("spawn")
    commands, results = context.Queue(), context.Queue()
    client = None
    measured: dict[str, list[Sample]] = {CEILING: [], WARM: [], NOT_MODIFIED: []}
    wrong: dict[str, dict[str, int]] = {CEILING: {}, WARM: {}, NOT_MODIFIED: {}}
    digests = 0
    try:
        wait_until_ready(gunicorn, port, args.workers, log_path)
        workers = worker_pids(gunicorn.pid)
        etag, body, _ = fetch_feed(port)
        print(
            f"gunicorn: {args.workers} workers × {args.threads} threads (gthread) on "
            f"127.0.0.1:{port}; {args.clients} {args.client} clients in a separate process; "
            f"{PATHS[WARM]}: {len(body):,} bytes, {body.count(b'BEGIN:VEVENT')} events, "
            f'ETag {etag[:13]}…"',
            flush=True,
        )
        client = context.Process(
            target=client_process,
            args=("127.0.0.1", port, args.clients, args.client, commands, results),
            daemon=True,
        )
        client.start()

        def phase(kind: str, label: str, requests: int) -> Sample:
            spec = PhaseSpec(
                kind, label, requests, args.time_cap, etag, len(body), args.digest_every
            )
            gunicorn_before = cpu_by_pid(workers)
            postgres_before = cpu_by_pid(postgres_pids(database))
            busy_before, total_before = machine_busy_seconds()
            commands.put(spec)
            result = await_result(results, client, args.time_cap + 120)
            busy_after, total_after = machine_busy_seconds()
            return Sample(
                result,
                cpu_used(gunicorn_before, cpu_by_pid(workers)),
                cpu_used(postgres_before, cpu_by_pid(postgres_pids(database))),
                busy_after - busy_before,
                total_after - total_before,
            )

        kinds = (CEILING, WARM, NOT_MODIFIED)
        plan = [(kind, "w", args.warmup) for kind in kinds]
        for r in range(1, args.rounds + 1):
            plan += [(kind, f"r{r}", args.requests) for kind in kinds]
        for kind, label, requests in plan:
            sample = phase(kind, label, requests)
            result = sample.result
            done = len(result.latencies)
            for key, count in result.errors.items():
                wrong[kind][key] = wrong[kind].get(key, 0) + count
            digests += result.digests
            print(
                f"  {label:>2} {kind:<8} {done:6d} ok  {sum(result.errors.values()):4d} errors"
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
        stop_gunicorn(gunicorn)

    ceiling, warm, not_modified = (figures(measured[k]) for k in (CEILING, WARM, NOT_MODIFIED))
    ratio_200 = warm.rate / ceiling.rate if ceiling.rate else float("nan")
    ratio_304 = not_modified.rate / ceiling.rate if ceiling.rate else float("nan")
    cold_ok = cold.median < TARGET_COLD_MS
    ok_200, ok_304 = ratio_200 >= TARGET_200, ratio_304 >= TARGET_304

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print()
    print(
        f"Calendar feeds — {seeded.workshops} workshops; {PATHS[WARM]} holds {cold.events} events "
        f"({cold.size:,} bytes); gunicorn {args.workers}×{args.threads} gthread, PostgreSQL, "
        f"{args.clients} {args.client} clients, {args.rounds} alternating rounds of "
        f"{args.requests} requests per client"
    )
    print()
    header = (
        f"{'cold build, in process':<40}{'events':>8}{'median ms':>11}{'max ms':>9}   runs (ms)"
    )
    print(header)
    print("-" * len(header))
    for name, c in ((f"{FEED} (empty cache)", cold), ("tous (information)", cold_all)):
        runs = " ".join(f"{x:.0f}" for x in c.runs_ms)
        print(f"{name:<40}{c.events:>8}{c.median:>11.1f}{c.worst:>9.1f}   {runs}")
    print(
        f"  {FEED}, where it goes (medians, ms): "
        + ", ".join(f"{name} {value:.1f}" for name, value in breakdown.items())
    )
    print()
    rows = (
        ("ceiling: GET /_bench/plafond", ceiling, None),
        (f"warm 200: GET {PATHS[WARM]}", warm, ratio_200),
        ("304: same, If-None-Match", not_modified, ratio_304),
    )
    header = (
        f"{'':<40}{'requests':>9}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'ratio':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, f, ratio in rows:
        print(
            f"{name:<40}{f.requests:>9}{f.errors:>8}{f.rate:>9.1f}{f.p50_ms:>9.2f}{f.p99_ms:>9.2f}"
            f"{'' if ratio is None else f'{ratio:8.2f}'}"
        )
    print()
    cores = os.cpu_count()
    header = (
        f"{'CPU during the phase':<40}{'gunicorn':>10}{'PostgreSQL':>12}{'ratio':>7}{'client':>8}"
        f"{'others':>8}{'busy':>8}   (ms per request; then cores in use, of {cores})"
    )
    print(header)
    print("-" * len(header))
    for name, f, ratio in rows:
        print(
            f"{name:<40}{f.gunicorn_cpu_ms:>10.3f}{f.postgres_cpu_ms:>12.3f}"
            f"{'' if ratio is None else f'{server_ms(ceiling) / server_ms(f):.2f}':>7}"
            f"{f.client_share:>8.2f}{f.others_share:>8.2f}{f.busy_share:>8.2f}"
        )
    print(
        "(ratio here: the ceiling's server CPU per request, gunicorn + PostgreSQL, over the "
        "phase's; less sensitive than req/s to what else runs on the machine)"
    )
    if max(f.others_share for _, f, _ in rows) > 0.1:
        print(
            "note: other processes used CPU during the run: absolute figures are pessimistic; "
            "the ratios, measured in alternating rounds, are the robust figures"
        )
    print("-" * len(header))
    print(
        f"cold build, {FEED:<12}: median {cold.median:.1f} ms, max {cold.worst:.1f} ms   "
        f"(target < {TARGET_COLD_MS:.0f} ms: {verdict(cold_ok)})"
    )
    print(
        f"warm 200 / ceiling     : {ratio_200:.2f}   ({warm.rate:.0f} / {ceiling.rate:.0f} req/s; "
        f"target ≥ {TARGET_200}: {verdict(ok_200)})"
    )
    print(
        f"304 / ceiling          : {ratio_304:.2f}   ({not_modified.rate:.0f} / {ceiling.rate:.0f} "
        f"req/s; target ≥ {TARGET_304}: {verdict(ok_304)})"
    )
    failures = {k: v for k, v in wrong.items() if v}
    print(
        f"answers                : 304 phase {not_modified.requests} × 304 with the ETag and no "
        f"body; 200 phase {warm.requests} × 200, text/calendar, ETag and {cold.size:,} bytes, "
        f"SHA-256 = ETag checked on {digests} bodies" + (f"; WRONG: {failures}" if failures else "")
    )
    print(f"targets                : {verdict(cold_ok and ok_200 and ok_304)}")
    if failures or not all(f.requests for f in (ceiling, warm, not_modified)):
        print("some requests failed or got a wrong answer: the figures above are not valid")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
