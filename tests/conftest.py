"""Fixtures: the app on SQLite and on PostgreSQL, a rolled-back transaction per test, factories,
an injected clock, a real SMTP server (aiosmtpd), a live HTTP server, a query counter.

Every test that uses `app` runs twice: on a file-backed SQLite database and, when
TEST_DATABASE_URL is set, on PostgreSQL. Under CI=true a missing PostgreSQL (or Chromium…) fails
instead of skipping.
"""

import os
import socket
import threading
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes, policy

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db, limiter
from app.formatting import PARIS
from config import TestConfig

#: The browser tests' fixtures (Chromium, pages, `look`: axe-core and screenshots).
pytest_plugins = ["tests.browser"]

IN_CI = os.environ.get("CI", "").lower() == "true"
BACKENDS = ["sqlite", "postgresql"]


def require(condition: bool, reason: str) -> None:
    """Skip when something a newcomer may lack is missing; fail under CI=true."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: nothing may skip)")
    pytest.skip(reason)


def make_config(database_url: str, **overrides):
    engine_options = {"pool_pre_ping": True}
    if database_url.startswith("postgresql"):
        engine_options.update(pool_size=20, max_overflow=80)
    settings = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        **overrides,
    }
    return type("TestRunConfig", (TestConfig,), settings)


# --- databases -------------------------------------------------------------------------------


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    """A migrated, empty database of each backend, for the whole session.

    On PostgreSQL each pytest run works in a schema of its own (through `search_path`), so that
    runs on one server never disturb each other; the schema is dropped at the end.
    """
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.sqlite3'}"
    else:
        url, drop = postgresql_schema(f"pytest_{os.getpid()}")
        request.addfinalizer(drop)
    app = create_app(make_config(url))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


def postgresql_schema(schema: str):
    """A fresh, empty schema on TEST_DATABASE_URL's server: (its URL, a function that drops it).

    The URL sets `search_path`, so everything connecting through it works in that schema only.
    """
    base = os.environ.get("TEST_DATABASE_URL")
    require(bool(base), "PostgreSQL: TEST_DATABASE_URL is not set")
    admin = sa.create_engine(base)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")

    def drop() -> None:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()

    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}", drop


@pytest.fixture
def clock():
    """The injected clock: `clock.now` is what the app sees; move it with `clock.advance`."""

    class Clock:
        now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday in term time

        def __call__(self):
            return self.now

        def advance(self, **delta):
            self.now += timedelta(**delta)

        def set(self, moment: datetime):
            self.now = moment

    return Clock()


@pytest.fixture
def config_overrides():
    """Settings a test module or test changes by overriding this fixture."""
    return {}


@pytest.fixture
def app(request, database_url, clock, config_overrides, tmp_path):
    """The app inside one outer transaction, rolled back after the test.

    Services commit and roll back freely: the session joins the outer transaction through
    savepoints, so nothing a test writes survives it.
    """
    overrides = {"CLOCK": clock, "MAIL_FILE_DIR": str(tmp_path / "mail"), **config_overrides}
    if "smtp" in request.fixturenames:
        smtp = request.getfixturevalue("smtp")
        overrides.update(MAIL_SERVER=smtp.host, MAIL_PORT=smtp.port)
    app = create_app(make_config(database_url, **overrides))
    with app.app_context():
        engine = db.engine
        connection = engine.connect()
        transaction = connection.begin()
        db.engines[None] = connection
        db.session.remove()
        db.session.configure(join_transaction_mode="create_savepoint")
        limiter.reset()
        try:
            yield app
        finally:
            db.session.remove()
            transaction.rollback()
            connection.close()
            engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def count_queries(app):
    """`with count_queries() as counter: …` then `counter.count`: SQL statements run."""
    from contextlib import contextmanager

    @contextmanager
    def counting():
        class Counter:
            count = 0
            statements: list[str] = []

        counter = Counter()
        counter.statements = []

        def before(conn, cursor, statement, *args):
            if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
                counter.count += 1
                counter.statements.append(statement)

        target = db.engines[None]
        sa.event.listen(target, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            sa.event.remove(target, "before_cursor_execute", before)

    return counting


# --- data factories ----------------------------------------------------------------------------


@pytest.fixture
def make_site(app):
    from app.catalog.models import Room, Site

    def make(slug="amiens", name="Amiens", capacity=16, **fields):
        site = Site(
            slug=slug,
            name=name,
            street=fields.pop("street", "45 rue Saint-Leu"),
            postcode="80026",
            city=name,
            latitude=49.9,
            longitude=2.3,
            **fields,
        )
        site.rooms = [Room(name="Salle multimédia", capacity=capacity)]
        db.session.add(site)
        db.session.commit()
        return site

    return make


@pytest.fixture
def make_workshop(app, clock, make_site):
    """A published workshop a week after the clock, in a fresh site unless one is given."""
    from app.catalog.models import Level, Topic, Trainer, Workshop, WorkshopStatus

    counter = iter(range(1, 1_000_000))

    def make(capacity=10, *, site=None, topic=None, level=Level.beginner, starts_in=None, **fields):
        n = next(counter)
        site = site or make_site(slug=f"site-{n}", name=f"Site {n}", capacity=max(capacity, 16))
        topic = topic or db.session.scalar(sa.select(Topic).where(Topic.slug == "ent"))
        if topic is None:
            topic = Topic(slug="ent", name="ENT")
        trainer = (
            fields.pop("trainer", None)
            or db.session.scalar(sa.select(Trainer))
            or Trainer(first_name="Claire", last_name="Dumont", email="claire.dumont@ac-amiens.fr")
        )
        starts_at = clock.now + (starts_in or timedelta(days=7))
        workshop = Workshop(
            title=fields.pop("title", f"Atelier ENT {n}"),
            description=fields.pop("description", "Découvrir l'ENT."),
            topic=topic,
            level=level,
            room=site.rooms[0],
            trainer=trainer,
            capacity=capacity,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=3),
            status=fields.pop("status", WorkshopStatus.published),
            **fields,
        )
        db.session.add(workshop)
        db.session.commit()
        return workshop

    return make


@pytest.fixture
def make_half_day(app, make_site):
    """The exchange half-day of school year 2025 (Wednesday 20 May 2026, 13:30–17:00 in Paris,
    proposals until 1 April 2026 18:00), in the Amiens site with an auditorium of 120 seats
    (visio, projector) and two side rooms (30 seats with tablets, 20 plain)."""
    from app.catalog.models import Room, Site
    from app.exchange.models import Equipment, HalfDay, HalfDayRoom, HalfDayState

    def make(school_year=2025, *, state=HalfDayState.call_open, capacity=120, **fields):
        site = db.session.scalar(sa.select(Site).where(Site.slug == "amiens")) or make_site()
        rooms = {room.name: room for room in site.rooms}
        for name, seats in (("Auditorium", 120), ("Salle 1", 30), ("Salle 2", 20)):
            if name not in rooms:
                rooms[name] = Room(site=site, name=name, capacity=seats, videoconference=True)
        day = fields.pop("day", date(school_year + 1, 5, 20))
        half_day = HalfDay(
            school_year=school_year,
            title=fields.pop("title", f"Rencontres TICE {school_year}-{school_year + 1}"),
            starts_at=fields.pop("starts_at", datetime.combine(day, time(13, 30), PARIS)),
            ends_at=fields.pop("ends_at", datetime.combine(day, time(17, 0), PARIS)),
            deadline=fields.pop("deadline", datetime(school_year + 1, 4, 1, 18, 0, tzinfo=PARIS)),
            state=state,
            site=site,
            capacity=capacity,
            videoconference_url=fields.pop(
                "videoconference_url", "https://visio.ac-amiens.fr/rencontres"
            ),
            **fields,
        )
        half_day.rooms = [
            HalfDayRoom(
                room=rooms["Auditorium"],
                is_auditorium=True,
                position=0,
                equipment={Equipment.videoconference, Equipment.projector},
            ),
            HalfDayRoom(room=rooms["Salle 1"], position=1, equipment={Equipment.tablets}),
            HalfDayRoom(room=rooms["Salle 2"], position=2, equipment=set()),
        ]
        db.session.add(half_day)
        db.session.commit()
        return half_day

    return make


@pytest.fixture
def make_contribution(app, topic):
    """A proposal to a half-day (submitted unless `status`), by a fresh presenter."""
    from app.catalog.models import Level
    from app.exchange.models import Contribution, ContributionFormat, ContributionStatus

    counter = iter(range(1, 1_000_000))

    def make(half_day, *, status=ContributionStatus.submitted, **fields):
        n = next(counter)
        contribution = Contribution(
            half_day=half_day,
            presenters=fields.pop("presenters", f"Intervenant {n}"),
            email=fields.pop("email", f"intervenant{n}@ac-amiens.fr"),
            organisation=fields.pop("organisation", "École Jules Ferry, Amiens"),
            title=fields.pop("title", f"Proposition {n}"),
            summary=fields.pop("summary", "Un retour d'expérience en classe."),
            format=fields.pop("format", ContributionFormat.demonstration),
            topic=fields.pop("topic", None) or topic("ent", "ENT"),
            level=fields.pop("level", Level.beginner),
            status=status,
            **fields,
        )
        db.session.add(contribution)
        db.session.commit()
        return contribution

    return make


@pytest.fixture
def topic(app):
    from app.catalog.models import Topic

    def get(slug, name=None):
        """The topic of this slug, created if missing."""
        found = db.session.scalar(sa.select(Topic).where(Topic.slug == slug))
        if found is None:
            found = Topic(slug=slug, name=name or slug.capitalize())
            db.session.add(found)
            db.session.commit()
        return found

    return get


@pytest.fixture
def sites(make_site):
    return {
        "amiens": make_site(slug="amiens", name="Amiens"),
        "abbeville": make_site(slug="abbeville", name="Abbeville", street="2 rue du Lillier"),
        "peronne": make_site(slug="peronne", name="Péronne", street="9 rue Saint-Sauveur"),
    }


@pytest.fixture
def at(make_workshop, clock):
    """A workshop starting at a given moment (ends three hours later unless `ends_at`)."""

    def make(moment: datetime, ends_at: datetime | None = None, **fields):
        workshop = make_workshop(starts_in=moment - clock.now, **fields)
        if ends_at is not None:
            workshop.ends_at = ends_at
            db.session.commit()
        return workshop

    return make


@pytest.fixture
def applicant():
    from app.booking.services import Applicant

    def make(n=1, **fields):
        values = dict(
            last_name=f"Martin{chr(64 + n % 26 + 1)}",
            first_name="Léa",
            email=f"lea.martin{n}@ac-amiens.fr",
            school="École Jules Ferry",
        )
        values.update(fields)
        return Applicant(**values)

    return make


STAFF_PASSWORD = "un mot de passe de test"


@pytest.fixture
def make_staff(app):
    """A staff account: `make_staff("coordinator")`, or `make_staff("trainer", trainer=…)`
    (a trainer without one gets a fresh catalogue trainer). Password: STAFF_PASSWORD."""
    from app.catalog.models import Trainer
    from app.staff.models import Role
    from app.staff.services import create_account

    counter = iter(range(1, 1_000_000))

    def make(role="trainer", *, trainer=None, email=None, password=STAFF_PASSWORD):
        n = next(counter)
        role = Role(role)
        if role is Role.trainer and trainer is None:
            trainer = Trainer(
                first_name="Formateur", last_name=f"N{n}", email=f"formateur{n}@ac-amiens.fr"
            )
            db.session.add(trainer)
        email = email or (trainer.email if trainer is not None else f"coordination{n}@ac-amiens.fr")
        name = trainer.full_name if trainer is not None else f"Coordination {n}"
        user = create_account(email, name, role, password, trainer=trainer)
        db.session.commit()
        return user

    return make


def login(client, user, password=STAFF_PASSWORD):
    """Log `user` in on this test client (CSRF is off in the in-process tests)."""
    response = client.post("/connexion", data={"courriel": user.email, "mot_de_passe": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def form_data(n=1, **fields):
    data = {
        "nom": "Martin",
        "prenom": "Léa",
        "courriel": f"lea.martin{n}@ac-amiens.fr",
        "ecole": "École Jules Ferry, Amiens",
        "uai": "",
    }
    data.update(fields)
    return data


def free_port() -> int:
    """A TCP port nothing listens on (right now) on the loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def outbox(template: str | None = None):
    """The outbox rows, oldest first; only those of `template` when given ("attendance/certificate";
    a bare name is booking's: "confirmed" is "booking/confirmed")."""
    from app.mail.models import OutboxMail

    query = sa.select(OutboxMail).order_by(OutboxMail.id)
    if template:
        query = query.where(
            OutboxMail.template == (template if "/" in template else f"booking/{template}")
        )
    return list(db.session.scalars(query))


def manage_secret(mail) -> str:
    """The management token in a booking mail's link."""
    return mail.body_text.split("/inscription/")[1].split()[0]


# --- mail --------------------------------------------------------------------------------------


class SMTPSink:
    """A real SMTP server (aiosmtpd) in the test process; keeps what it receives, parsed."""

    def __init__(self, **controller_options):
        from aiosmtpd.controller import Controller

        self.received = []
        self.reject = {}  # address -> (code, text) to answer RCPT with
        self.host, self.port = "127.0.0.1", free_port()
        self.controller = Controller(
            self.make_handler(), hostname=self.host, port=self.port, **controller_options
        )

    def make_handler(self):
        """The aiosmtpd handler; a test's own sink extends its class (refusing other steps)."""
        sink = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if address.lower() in sink.reject:
                    code, text = sink.reject[address.lower()]
                    return f"{code} {text}"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                sink.received.append(
                    (envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
                )
                return "250 Message accepted for delivery"

        return Handler()

    def start(self):
        self.controller.start()

    def stop(self):
        self.controller.stop()

    @property
    def messages(self):
        return [message_from_bytes(raw, policy=policy.default) for _, _, raw in self.received]

    def to(self, address):
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp():
    sink = SMTPSink()
    sink.start()
    yield sink
    sink.stop()


# --- a live HTTP server --------------------------------------------------------------------------


class LiveServer:
    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join(10)


def empty_tables() -> None:
    """Delete every row (live-server tests commit for real)."""
    with db.engine.begin() as connection:
        for table in reversed(db.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def live_app(database_url, clock, config_overrides, tmp_path, request):
    """An app whose data really commits (for live servers and other processes); emptied after.

    A live test module overrides `app` with this one, so that the factories commit for real:
    `@pytest.fixture def app(live_app): return live_app`.
    """
    overrides = {"CLOCK": clock, "MAIL_FILE_DIR": str(tmp_path / "mail"), **config_overrides}
    if "smtp" in request.fixturenames:
        smtp = request.getfixturevalue("smtp")
        overrides.update(MAIL_SERVER=smtp.host, MAIL_PORT=smtp.port)
    app = create_app(make_config(database_url, **overrides))
    with app.app_context():
        limiter.reset()
        empty_tables()
        yield app
        db.session.remove()
        empty_tables()
        db.engine.dispose()


@pytest.fixture
def live_server(live_app):
    server = LiveServer(live_app)
    server.start()
    yield server
    server.stop()
