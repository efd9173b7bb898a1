"""The seat guarantee under real concurrency (DESIGN rules 1 and 2), through a live HTTP server.

Each client runs in its own thread with its own HTTP session: it fetches its own form (and CSRF
token) first, then every client waits on one barrier and all POST at once. The workshop's data
really commits (the `live_app` fixture), so the server's threads race on the database exactly as
gunicorn workers would. `SEAT_RACE_PAUSE` widens the window between counting the seats and
inserting the registration: with the lock, the window changes nothing; without it (the control
run), the race is certain to show.

Every test runs on SQLite (a file, WAL) and on PostgreSQL (when TEST_DATABASE_URL is set).
"""

import re
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest
import sqlalchemy as sa

from app.booking import services
from app.booking.models import Registration, RegistrationStatus
from app.extensions import db
from app.mail.models import OutboxMail
from tests.conftest import form_data, manage_secret

pytestmark = pytest.mark.live

#: Generous limits for a loaded 2-core machine; a healthy run takes a few seconds.
BARRIER_TIMEOUT = 120
HTTP_TIMEOUT = 120
JOIN_TIMEOUT = 240

LOCKED = {"SEAT_LOCK_ENABLED": True, "SEAT_RACE_PAUSE": 0.05}
UNLOCKED = {"SEAT_LOCK_ENABLED": False, "SEAT_RACE_PAUSE": 0.2}

CSRF_INPUT = re.compile(r"<input[^>]*\bname=\"csrf_token\"[^>]*>")
VALUE = re.compile(r"\bvalue=\"([^\"]+)\"")


@pytest.fixture
def seat_settings():
    """The seat lock and race pause; a test parametrizes this name to run without the lock."""
    return LOCKED


@pytest.fixture
def config_overrides(seat_settings):
    return {
        "WTF_CSRF_ENABLED": True,
        # Every client comes from 127.0.0.1: the per-IP limit must not be what we measure.
        "RATELIMIT_REGISTRATION_PER_IP": "10000 per minute",
        **seat_settings,
    }


@pytest.fixture
def app(live_app):
    """Factories and services commit for real: the server's threads must see the data."""
    return live_app


# --- helpers -------------------------------------------------------------------------------------


def csrf_token(response: httpx.Response) -> str:
    assert response.status_code == 200, (response.status_code, response.text[:500])
    tag = CSRF_INPUT.search(response.text)
    assert tag, "no csrf_token input on the page"
    return VALUE.search(tag[0])[1]


@dataclass
class Job:
    """One client: `prepare(client)` fetches its form and returns the (url, data) to POST."""

    label: str
    prepare: object
    status: int | None = None
    location: str = ""
    error: BaseException | None = None


def run_together(base_url: str, jobs: list[Job]) -> list[Job]:
    """Each job in its own thread and HTTP session; all POST together once all are prepared."""
    barrier = threading.Barrier(len(jobs), timeout=BARRIER_TIMEOUT)
    # Plain HTTP, but httpx builds a TLS context per client (~0.1 s of CPU each): share one.
    tls = ssl.create_default_context()

    def work(job: Job) -> None:
        try:
            with httpx.Client(
                base_url=base_url, timeout=HTTP_TIMEOUT, verify=tls, trust_env=False
            ) as client:
                url, data = job.prepare(client)
                barrier.wait()
                response = client.post(url, data=data, follow_redirects=False)
                job.status = response.status_code
                job.location = response.headers.get("location", "")
        except BaseException as error:  # reported by the main thread below
            job.error = error
            barrier.abort()

    threads = [
        threading.Thread(target=work, args=(job,), name=job.label, daemon=True) for job in jobs
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + JOIN_TIMEOUT
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    stuck = [thread.name for thread in threads if thread.is_alive()]
    assert not stuck, f"clients still running after {JOIN_TIMEOUT} s: {stuck}"
    errors = [job for job in jobs if job.error is not None]
    root = [job for job in errors if not isinstance(job.error, threading.BrokenBarrierError)]
    if errors:
        first = (root or errors)[0]
        raise AssertionError(
            f"{len(errors)} clients failed; {first.label}: {first.error!r}"
        ) from first.error
    return jobs


@dataclass
class SeatMonitor:
    """Counts the confirmed seats with plain SQL, over and over, while the race runs."""

    engine: sa.Engine
    workshop_id: int
    samples: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def __enter__(self):
        self.thread = threading.Thread(target=self._run, name="seat-monitor", daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive(), "seat monitor did not stop"

    def _run(self):
        try:
            while not self.stop.is_set():
                self.samples.append(confirmed_by_sql(self.engine, self.workshop_id))
                self.stop.wait(0.02)
        except BaseException as error:
            self.error = error


def confirmed_by_sql(engine: sa.Engine, workshop_id: int) -> int:
    """The confirmed count straight from the table, outside the ORM and its session."""
    with engine.connect() as connection:
        return connection.execute(
            sa.text(
                "SELECT count(*) FROM registrations "
                "WHERE workshop_id = :workshop_id AND status = 'confirmed'"
            ),
            {"workshop_id": workshop_id},
        ).scalar_one()


def registration_job(workshop_id: int, n: int) -> Job:
    def prepare(client: httpx.Client):
        token = csrf_token(client.get(f"/ateliers/{workshop_id}"))
        return f"/ateliers/{workshop_id}/inscription", form_data(n, csrf_token=token)

    return Job(f"register-{n}", prepare)


def cancel_job(secret: str, label: str) -> Job:
    def prepare(client: httpx.Client):
        token = csrf_token(client.get(f"/inscription/{secret}/annuler"))
        return f"/inscription/{secret}/annuler", {"csrf_token": token}

    return Job(label, prepare)


def registrations(workshop_id: int) -> list[Registration]:
    db.session.remove()  # a fresh session: everything the server's threads committed
    return list(
        db.session.scalars(
            sa.select(Registration)
            .where(Registration.workshop_id == workshop_id)
            .order_by(Registration.id)
        )
    )


def mails(template: str) -> list[OutboxMail]:
    return list(
        db.session.scalars(
            sa.select(OutboxMail)
            .where(OutboxMail.template == f"booking/{template}")
            .order_by(OutboxMail.id)
        )
    )


def email(n: int) -> str:
    return form_data(n)["courriel"]


def assert_waiting_list_gap_free(rows: list[Registration]) -> list[Registration]:
    waiting = sorted(
        (r for r in rows if r.status is RegistrationStatus.waiting),
        key=lambda r: r.waiting_position,
    )
    assert [r.waiting_position for r in waiting] == list(range(1, len(waiting) + 1))
    return waiting


def register_directly(workshop_id: int, numbers) -> None:
    """Registrations made before the race, through the service (one at a time)."""
    for n in numbers:
        services.register(
            workshop_id,
            services.Applicant(
                last_name="Avant", first_name="Paul", email=email(n), school="École Curie"
            ),
        )
    db.session.remove()


# --- the tests -----------------------------------------------------------------------------------

CAPACITY = 8
ALREADY_CONFIRMED = 3
CLIENTS = 60


def race_for_the_last_seats(make_workshop, live_server):
    """60 clients at once on a workshop of 8 seats with 3 taken: (workshop_id, jobs, monitor)."""
    workshop_id = make_workshop(capacity=CAPACITY).id
    register_directly(workshop_id, range(1, ALREADY_CONFIRMED + 1))
    jobs = [registration_job(workshop_id, 1000 + i) for i in range(CLIENTS)]
    with SeatMonitor(db.engine, workshop_id) as monitor:
        run_together(live_server.url, jobs)
    assert monitor.error is None, monitor.error
    return workshop_id, jobs, monitor


def test_sixty_clients_at_once_never_overbook(make_workshop, live_server):
    workshop_id, jobs, monitor = race_for_the_last_seats(make_workshop, live_server)

    merci = f"/ateliers/{workshop_id}/inscription/merci"
    assert [(job.label, job.status) for job in jobs if job.status != 303] == []
    assert all(job.location.endswith(merci) for job in jobs)

    rows = registrations(workshop_id)
    assert len(rows) == ALREADY_CONFIRMED + CLIENTS
    confirmed = [r for r in rows if r.status is RegistrationStatus.confirmed]
    assert len(confirmed) == CAPACITY
    assert confirmed_by_sql(db.engine, workshop_id) == CAPACITY
    assert monitor.samples and max(monitor.samples) <= CAPACITY
    waiting = assert_waiting_list_gap_free(rows)
    assert len(waiting) == ALREADY_CONFIRMED + CLIENTS - CAPACITY
    assert {r.email for r in rows} == {email(n) for n in range(1, ALREADY_CONFIRMED + 1)} | {
        email(1000 + i) for i in range(CLIENTS)
    }

    # One mail per registration, saying what it got: a seat or a place on the waiting list.
    told = Counter((m.subject_id, m.template) for m in mails("confirmed") + mails("waiting"))
    expected = {(r.id, f"booking/{r.status.value}"): 1 for r in rows}
    assert told == expected
    assert mails("promoted") == []


@pytest.mark.parametrize("seat_settings", [UNLOCKED], ids=["lock-off"])
def test_control_without_the_lock_the_race_is_real(make_workshop, live_server, database_url):
    """The same race with the lock switched off: proof that the test above can fail.

    PostgreSQL (read committed): every request counts the seats, sleeps 0.2 s, then inserts; the
    requests that counted before the first insert committed all see 5 seats left and all take
    one, so the workshop is overbooked, every time.

    SQLite cannot overbook even without the lock, and fails requests instead: without
    `BEGIN IMMEDIATE` the transaction begins deferred, as a read transaction on a WAL snapshot.
    Its INSERT must then upgrade it to a write transaction, which SQLite refuses at once (the
    busy timeout does not apply to an upgrade) when another connection holds the write lock or
    has committed since the snapshot was taken: "database is locked" (SQLITE_BUSY /
    SQLITE_BUSY_SNAPSHOT), an HTTP 503 (app.errors: try again shortly). With the 0.2 s pause,
    requests overlap, so some fail. The
    lock is what turns those failures into an orderly waiting list, so the SQLite check is
    "overbooked, or some requests failed".
    """
    workshop_id, jobs, _ = race_for_the_last_seats(make_workshop, live_server)

    confirmed = confirmed_by_sql(db.engine, workshop_id)
    failed = [job.label for job in jobs if job.status >= 500]
    assert all(job.status in (303, 503) for job in jobs), Counter(job.status for job in jobs)
    if database_url.startswith("postgresql"):
        assert confirmed > CAPACITY, f"no overbooking without the lock ({confirmed} confirmed)"
    else:
        assert confirmed > CAPACITY or failed, (
            "without the lock SQLite neither overbooked nor failed"
        )


def test_cancellations_racing_with_registrations(make_workshop, live_server):
    """5 seats all taken and 8 waiting; then at once 5 cancellations and 30 new registrations.

    Each cancellation frees a seat and gives it, in the same transaction, to the first person
    waiting; the 30 newcomers always find the workshop full. So: exactly the first 5 people
    waiting are promoted, once each; the 3 others move up to 1–3, the newcomers follow.
    """
    capacity, first_waiting, newcomers = 5, 8, 30
    workshop_id = make_workshop(capacity=capacity).id
    register_directly(workshop_id, range(1, capacity + first_waiting + 1))
    before = registrations(workshop_id)
    seated = [r for r in before if r.status is RegistrationStatus.confirmed]
    queue = sorted(
        (r for r in before if r.status is RegistrationStatus.waiting),
        key=lambda r: r.waiting_position,
    )
    assert len(seated) == capacity and len(queue) == first_waiting
    seated_ids, queue_ids = [r.id for r in seated], [r.id for r in queue]
    secrets = {m.subject_id: manage_secret(m) for m in mails("confirmed")}
    db.session.remove()

    cancels = [cancel_job(secrets[rid], f"cancel-{rid}") for rid in seated_ids]
    joins = [registration_job(workshop_id, 2000 + i) for i in range(newcomers)]
    jobs = joins[:]
    for i, job in enumerate(cancels):  # spread the cancellations among the registrations
        jobs.insert(i * (len(jobs) // len(cancels) + 1), job)
    with SeatMonitor(db.engine, workshop_id) as monitor:
        run_together(live_server.url, jobs)
    assert monitor.error is None, monitor.error

    assert [(job.label, job.status) for job in jobs if job.status != 303] == []
    for rid, job in zip(seated_ids, cancels, strict=True):
        assert job.location.endswith(f"/inscription/{secrets[rid]}")
    assert all(job.location.endswith(f"/ateliers/{workshop_id}/inscription/merci") for job in joins)

    rows = registrations(workshop_id)
    by_id = {r.id: r for r in rows}
    assert all(by_id[rid].status is RegistrationStatus.cancelled for rid in seated_ids)
    assert all(by_id[rid].waiting_position is None for rid in seated_ids)
    confirmed = [r for r in rows if r.status is RegistrationStatus.confirmed]
    assert len(confirmed) == capacity
    assert confirmed_by_sql(db.engine, workshop_id) == capacity
    assert monitor.samples and max(monitor.samples) <= capacity

    # The first five waiting got the seats, each told exactly once.
    promoted_ids = queue_ids[: len(cancels)]
    assert {r.id for r in confirmed} == set(promoted_ids)
    assert Counter(m.subject_id for m in mails("promoted")) == {rid: 1 for rid in promoted_ids}

    # Gap-free, distinct positions: the three left from before first, in their order, then the
    # newcomers, all of whom found the workshop full.
    waiting = assert_waiting_list_gap_free(rows)
    assert [r.id for r in waiting[: first_waiting - len(cancels)]] == queue_ids[len(cancels) :]
    newcomer_emails = {email(2000 + i) for i in range(newcomers)}
    assert {r.email for r in waiting[first_waiting - len(cancels) :]} == newcomer_emails
    assert len(waiting) == first_waiting - len(cancels) + newcomers

    assert Counter(m.subject_id for m in mails("cancelled")) == {rid: 1 for rid in seated_ids}
    newcomer_ids = {r.id for r in rows if r.email in newcomer_emails}
    assert Counter(m.subject_id for m in mails("waiting") if m.subject_id in newcomer_ids) == {
        rid: 1 for rid in newcomer_ids
    }
    assert not any(m.subject_id in newcomer_ids for m in mails("confirmed"))
