"""The seat guarantee under real concurrency (DESIGN rules 1 and 2), through a live HTTP server.

Each client runs in its own thread with its own HTTP session: it fetches its own form (and CSRF
token) first, then every client waits on one barrier and all POST at once. The holder's data
really commits (the `live_app` fixture), so the server's threads race on the database exactly as
gunicorn workers would. `SEAT_RACE_PAUSE` widens the window between counting the seats and
inserting the row: with the lock, the window changes nothing; without it (the control run), the
race is certain to show.

Every proof runs over both holders of the seat ledger (`app.seats`): a workshop (its
registrations) and the exchange half-day (its in-person attendees), each through its own public
pages; and on SQLite (a file, WAL) and on PostgreSQL (when TEST_DATABASE_URL is set).
"""

import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import httpx
import pytest
import sqlalchemy as sa

from app.booking import services
from app.booking.models import Registration
from app.exchange import attendees
from app.exchange.models import AttendanceMode, Attendee
from app.extensions import db
from app.mail.models import OutboxMail
from app.seats.models import SeatRow
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


@dataclass(frozen=True)
class Holder:
    """One holder of seats as the public reaches it (its pages) and as its table stores it.

    Its rows are read back with plain SQL and the ORM, not through the seat ledger: the proofs
    check the ledger, they must not take its word for it."""

    id: int
    #: The public page with the registration form.
    page: str
    #: Where the form posts; "/merci" after it is where a registration lands.
    register_path: str
    #: A management link's path, before its secret.
    manage_prefix: str
    row: type[SeatRow]
    #: The row's column naming its holder.
    key: str
    #: The count of the holder's rows that hold a seat, in plain SQL (`:holder_id`).
    seat_sql: str
    #: The outbox templates of the rows' mails, before the mail's name ("booking/").
    mail_prefix: str
    #: The form a person fills in: form(n, **fields).
    form: Callable[..., dict]
    #: Registers numbers n one at a time, through the service, before the race.
    register_directly: Callable[[Iterable[int]], None]

    @property
    def thanks_path(self) -> str:
        return f"{self.register_path}/merci"

    def manage_path(self, secret: str) -> str:
        return f"{self.manage_prefix}{secret}"


def a_workshop(make_workshop, capacity: int) -> Holder:
    workshop_id = make_workshop(capacity=capacity).id

    def register_directly(numbers: Iterable[int]) -> None:
        for n in numbers:
            services.register(
                workshop_id,
                services.Applicant(
                    last_name="Avant", first_name="Paul", email=email(n), school="École Curie"
                ),
            )

    return Holder(
        id=workshop_id,
        page=f"/ateliers/{workshop_id}",
        register_path=f"/ateliers/{workshop_id}/inscription",
        manage_prefix="/inscription/",
        row=Registration,
        key="workshop_id",
        seat_sql="SELECT count(*) FROM registrations WHERE workshop_id = :holder_id "
        "AND status = 'confirmed'",
        mail_prefix="booking/",
        form=form_data,
        register_directly=register_directly,
    )


def the_half_day(make_half_day, capacity: int) -> Holder:
    half_day = make_half_day(capacity=capacity)
    half_day_id, url = half_day.id, f"/rencontres/{half_day.school_year}"

    def register_directly(numbers: Iterable[int]) -> None:
        for n in numbers:
            attendees.register(
                half_day_id,
                attendees.AttendeeDetails(
                    "Avant", "Paul", email(n), "École Curie", AttendanceMode.in_person
                ),
            )

    return Holder(
        id=half_day_id,
        page=url,
        register_path=f"{url}/inscription",
        manage_prefix=f"{url}/inscription/",
        row=Attendee,
        key="half_day_id",
        # Remote attendees are confirmed without a seat: only those in person count.
        seat_sql="SELECT count(*) FROM exchange_attendees WHERE half_day_id = :holder_id "
        "AND status = 'confirmed' AND mode = 'in_person'",
        mail_prefix="exchange/attendee_",
        form=attendee_form,
        register_directly=register_directly,
    )


def attendee_form(n: int = 1, **fields) -> dict:
    """The half-day's form, for the person of `form_data(n)`, in person."""
    person = form_data(n)
    data = {
        "nom": person["nom"],
        "prenom": person["prenom"],
        "courriel": person["courriel"],
        "organisation": person["ecole"],
        "mode": "sur_place",
    }
    return data | fields


HOLDERS = {"workshop": ("make_workshop", a_workshop), "half-day": ("make_half_day", the_half_day)}


@pytest.fixture(params=HOLDERS)
def make_holder(request) -> Callable[[int], Holder]:
    """Makes the holder of this run, with `capacity` seats: each proof runs over both."""
    factory_name, make = HOLDERS[request.param]
    factory = request.getfixturevalue(factory_name)
    return lambda capacity: make(factory, capacity)


@dataclass
class SeatMonitor:
    """Counts the seats held with plain SQL, over and over, while the race runs."""

    engine: sa.Engine
    holder: Holder
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
                self.samples.append(seated_by_sql(self.engine, self.holder))
                self.stop.wait(0.02)
        except BaseException as error:
            self.error = error


def seated_by_sql(engine: sa.Engine, holder: Holder) -> int:
    """The seats held, straight from the table, outside the ORM and its session."""
    with engine.connect() as connection:
        return connection.execute(sa.text(holder.seat_sql), {"holder_id": holder.id}).scalar_one()


def registration_job(holder: Holder, n: int) -> Job:
    def prepare(client: httpx.Client):
        token = csrf_token(client.get(holder.page))
        return holder.register_path, holder.form(n, csrf_token=token)

    return Job(f"register-{n}", prepare)


def cancel_job(holder: Holder, secret: str, label: str) -> Job:
    """Cancels from the management link; the form's page is the one its address leads to."""
    cancel_path = f"{holder.manage_path(secret)}/annuler"

    def prepare(client: httpx.Client):
        token = csrf_token(client.get(cancel_path, follow_redirects=True))
        return cancel_path, {"csrf_token": token}

    return Job(label, prepare)


def seat_rows(holder: Holder) -> list[SeatRow]:
    db.session.remove()  # a fresh session: everything the server's threads committed
    row = holder.row
    return list(
        db.session.scalars(
            sa.select(row).where(getattr(row, holder.key) == holder.id).order_by(row.id)
        )
    )


def mails(holder: Holder, template: str) -> list[OutboxMail]:
    return list(
        db.session.scalars(
            sa.select(OutboxMail)
            .where(OutboxMail.template == f"{holder.mail_prefix}{template}")
            .order_by(OutboxMail.id)
        )
    )


def email(n: int) -> str:
    return form_data(n)["courriel"]


def with_status(rows: list[SeatRow], status: str) -> list[SeatRow]:
    """The rows of this status ("confirmed"), whichever holder's rows they are."""
    return [r for r in rows if r.status is r.Status[status]]


def assert_waiting_list_gap_free(rows: list[SeatRow]) -> list[SeatRow]:
    waiting = sorted(with_status(rows, "waiting"), key=lambda r: r.waiting_position)
    assert [r.waiting_position for r in waiting] == list(range(1, len(waiting) + 1))
    return waiting


def register_directly(holder: Holder, numbers) -> None:
    """Registrations made before the race, through the service (one at a time)."""
    holder.register_directly(numbers)
    db.session.remove()


# --- the tests -----------------------------------------------------------------------------------

CAPACITY = 8
ALREADY_CONFIRMED = 3
CLIENTS = 60


def race_for_the_last_seats(make_holder, live_server):
    """60 clients at once on a holder of 8 seats with 3 taken: (holder, jobs, monitor)."""
    holder = make_holder(CAPACITY)
    register_directly(holder, range(1, ALREADY_CONFIRMED + 1))
    jobs = [registration_job(holder, 1000 + i) for i in range(CLIENTS)]
    with SeatMonitor(db.engine, holder) as monitor:
        run_together(live_server.url, jobs)
    assert monitor.error is None, monitor.error
    return holder, jobs, monitor


def test_sixty_clients_at_once_never_overbook(make_holder, live_server):
    holder, jobs, monitor = race_for_the_last_seats(make_holder, live_server)

    assert [(job.label, job.status) for job in jobs if job.status != 303] == []
    assert all(job.location.endswith(holder.thanks_path) for job in jobs)

    rows = seat_rows(holder)
    assert len(rows) == ALREADY_CONFIRMED + CLIENTS
    assert len(with_status(rows, "confirmed")) == CAPACITY
    assert seated_by_sql(db.engine, holder) == CAPACITY
    assert monitor.samples and max(monitor.samples) <= CAPACITY
    waiting = assert_waiting_list_gap_free(rows)
    assert len(waiting) == ALREADY_CONFIRMED + CLIENTS - CAPACITY
    assert {r.email for r in rows} == {email(n) for n in range(1, ALREADY_CONFIRMED + 1)} | {
        email(1000 + i) for i in range(CLIENTS)
    }

    # One mail per row, saying what it got: a seat or a place on the waiting list.
    told = Counter(
        (m.subject_id, m.template) for m in mails(holder, "confirmed") + mails(holder, "waiting")
    )
    expected = {(r.id, f"{holder.mail_prefix}{r.status.value}"): 1 for r in rows}
    assert told == expected
    assert mails(holder, "promoted") == []


@pytest.mark.parametrize("seat_settings", [UNLOCKED], ids=["lock-off"])
def test_control_without_the_lock_the_race_is_real(make_holder, live_server, database_url):
    """The same race with the lock switched off: proof that the test above can fail.

    The switch is the ledger's (`Ledger.holding` reads SEAT_LOCK_ENABLED), so it takes the lock
    off both holders alike.

    PostgreSQL (read committed): every request counts the seats, sleeps 0.2 s, then inserts; the
    requests that counted before the first insert committed all see 5 seats left and all take
    one, so the holder is overbooked, every time.

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
    holder, jobs, _ = race_for_the_last_seats(make_holder, live_server)

    seated = seated_by_sql(db.engine, holder)
    failed = [job.label for job in jobs if job.status >= 500]
    assert all(job.status in (303, 503) for job in jobs), Counter(job.status for job in jobs)
    if database_url.startswith("postgresql"):
        assert seated > CAPACITY, f"no overbooking without the lock ({seated} seated)"
    else:
        assert seated > CAPACITY or failed, "without the lock SQLite neither overbooked nor failed"


def test_cancellations_racing_with_registrations(make_holder, live_server):
    """5 seats all taken and 8 waiting; then at once 5 cancellations and 30 new registrations.

    Each cancellation frees a seat and gives it, in the same transaction, to the first person
    waiting; the 30 newcomers always find the holder full. So: exactly the first 5 people
    waiting are promoted, once each; the 3 others move up to 1–3, the newcomers follow.
    """
    capacity, first_waiting, newcomers = 5, 8, 30
    holder = make_holder(capacity)
    register_directly(holder, range(1, capacity + first_waiting + 1))
    before = seat_rows(holder)
    seated = with_status(before, "confirmed")
    queue = sorted(with_status(before, "waiting"), key=lambda r: r.waiting_position)
    assert len(seated) == capacity and len(queue) == first_waiting
    seated_ids, queue_ids = [r.id for r in seated], [r.id for r in queue]
    secrets = {m.subject_id: manage_secret(m) for m in mails(holder, "confirmed")}
    db.session.remove()

    cancels = [cancel_job(holder, secrets[rid], f"cancel-{rid}") for rid in seated_ids]
    joins = [registration_job(holder, 2000 + i) for i in range(newcomers)]
    jobs = joins[:]
    for i, job in enumerate(cancels):  # spread the cancellations among the registrations
        jobs.insert(i * (len(jobs) // len(cancels) + 1), job)
    with SeatMonitor(db.engine, holder) as monitor:
        run_together(live_server.url, jobs)
    assert monitor.error is None, monitor.error

    assert [(job.label, job.status) for job in jobs if job.status != 303] == []
    for rid, job in zip(seated_ids, cancels, strict=True):
        assert job.location.endswith(holder.manage_path(secrets[rid]))
    assert all(job.location.endswith(holder.thanks_path) for job in joins)

    rows = seat_rows(holder)
    by_id = {r.id: r for r in rows}
    assert all(by_id[rid].status is by_id[rid].Status.cancelled for rid in seated_ids)
    assert all(by_id[rid].waiting_position is None for rid in seated_ids)
    confirmed = with_status(rows, "confirmed")
    assert len(confirmed) == capacity
    assert seated_by_sql(db.engine, holder) == capacity
    assert monitor.samples and max(monitor.samples) <= capacity

    # The first five waiting got the seats, each told exactly once.
    promoted_ids = queue_ids[: len(cancels)]
    assert {r.id for r in confirmed} == set(promoted_ids)
    assert Counter(m.subject_id for m in mails(holder, "promoted")) == {
        rid: 1 for rid in promoted_ids
    }

    # Gap-free, distinct positions: the three left from before first, in their order, then the
    # newcomers, all of whom found the holder full.
    waiting = assert_waiting_list_gap_free(rows)
    assert [r.id for r in waiting[: first_waiting - len(cancels)]] == queue_ids[len(cancels) :]
    newcomer_emails = {email(2000 + i) for i in range(newcomers)}
    assert {r.email for r in waiting[first_waiting - len(cancels) :]} == newcomer_emails
    assert len(waiting) == first_waiting - len(cancels) + newcomers

    assert Counter(m.subject_id for m in mails(holder, "cancelled")) == {
        rid: 1 for rid in seated_ids
    }
    newcomer_ids = {r.id for r in rows if r.email in newcomer_emails}
    assert Counter(
        m.subject_id for m in mails(holder, "waiting") if m.subject_id in newcomer_ids
    ) == {rid: 1 for rid in newcomer_ids}
    assert not any(m.subject_id in newcomer_ids for m in mails(holder, "confirmed"))


CLICKS = 8  # within the per-address limit (RATELIMIT_REGISTRATION_PER_EMAIL)


@pytest.mark.parametrize("seat_settings", [LOCKED, UNLOCKED], ids=["lock-on", "lock-off"])
def test_one_person_posting_many_times_at_once_registers_once(
    make_holder, live_server, seat_settings
):
    """A double click, many times over: the same form posted 8 times at once gives one row and
    one mail; every other post lands on the same thanks page (the mail is on its way, no link is
    resent). Without the lock too: the unique index on the active address decides then (on
    SQLite some posts fail instead, as in the control run above)."""
    holder = make_holder(CAPACITY)
    jobs = run_together(live_server.url, [registration_job(holder, 7) for _ in range(CLICKS)])

    served = [job for job in jobs if job.status == 303]
    assert all(job.status == 503 for job in jobs if job not in served) and served
    if seat_settings is LOCKED:
        assert len(served) == CLICKS
    assert all(job.location.endswith(holder.thanks_path) for job in served)
    (row,) = seat_rows(holder)
    assert (row.email, row.status) == (email(7), row.Status.confirmed)
    told = db.session.execute(sa.select(OutboxMail.template, OutboxMail.subject_id)).all()
    assert [tuple(mail) for mail in told] == [(f"{holder.mail_prefix}confirmed", row.id)]
