"""The production stack on loopback, started the way deploy/ and the README say: PostgreSQL,
Redis, nginx (TLS, the site rendered from deploy/nginx/ateliers-tice.conf by the envsubst command
of its header) in front of TWO app instances (gunicorn, from the systemd unit's ExecStart) on
127.0.0.2 and 127.0.0.3, TWO schedulers (`python -m scheduler`, one active, one standing by), and
an SMTP sink (aiosmtpd) as the relay.

The processes under test get only the production environment (`deploy/ateliers-tice.env.example`
plus this run's database, addresses and relay); the test itself reads and seeds the database
through its own connection. Clients talk https to nginx only, each with its own cookies and CSRF
token, and a same-origin Referer on their POSTs, as a browser does. A test waits for conditions
(`stack.wait_for`), never for a fixed time.

Scenarios: nginx's own duties (TLS, redirect, static files, body limit, calendars and their 304,
secrets kept out of every log); 50 simultaneous registrations for the last 3 seats over both
instances; the login limits shared by every instance and worker (Redis), per account and per real
client address; a browser (Chromium) registering and cancelling over https; the active scheduler
killed and the standby taking over; an app instance killed in the middle of a burst.

Starting the stack costs ~15 s: it is shared by the whole module (fixture `deployment`).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import socket
import ssl
import sys
import threading
import time
import uuid
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests import stack
from tests.browser import AXE, CHROMIUM, CHROMIUM_ARGS
from tests.conftest import STAFF_PASSWORD, SMTPSink, form_data, make_config, require
from tests.test_browser import cancel_from_management_page, fill_registration
from tests.test_concurrency import csrf_token

pytestmark = pytest.mark.live

HOST = "127.0.0.1"
#: The two app instances: two addresses of the loopback, as two hosts would have.
INSTANCE_HOSTS = ("127.0.0.2", "127.0.0.3")
SCHEDULER_ELECTION_SECONDS = 1
SCHEDULER_DELIVERY_SECONDS = 0.5
#: A takeover happens within one election period; the margin is for a loaded 2-core machine.
TAKEOVER_MARGIN_SECONDS = 15
COORDINATOR = "coordination.deploiement@ac-amiens.fr"


def say(text: str) -> None:
    """A measurement, printed (shown with `pytest -s`)."""
    print(f"\n[deployment] {text}", file=sys.stderr, flush=True)


# --- the stack -------------------------------------------------------------------------------------


@dataclass
class Deployment:
    base_url: str
    http_url: str
    verify: ssl.SSLContext
    env: dict[str, str]
    directory: Path
    site: Path
    web_binds: list[str]
    webs: list[stack.Process]
    schedulers: list[stack.Process]
    nginx: stack.Nginx
    smtp: SMTPSink
    engine: sa.Engine
    seed_app: object
    ids: dict[str, int] = field(default_factory=dict)

    # clients

    def client(self, local_address: str | None = None, **options) -> httpx.Client:
        return stack.browser_like_client(
            self.base_url, self.verify, local_address=local_address, **options
        )

    # logs

    @property
    def access_log(self) -> Path:
        return self.directory / "logs" / "ateliers-tice-access.log"

    def web_log(self, index: int) -> str:
        return (self.directory / f"web-{index}.log").read_text(encoding="utf-8", errors="replace")

    def every_log(self) -> str:
        """nginx's logs, both instances', both schedulers' (every log file this stack wrote)."""
        return "".join(
            path.read_text(encoding="utf-8", errors="replace")
            for path in sorted(self.directory.rglob("*.log"))
        )

    # database

    def rows(self, query: str, **params) -> list[sa.Row]:
        with self.engine.connect() as connection:
            return list(connection.execute(sa.text(query), params))

    def registrations(self, workshop_id: int) -> list[sa.Row]:
        return self.rows(
            "SELECT id, email, status, waiting_position FROM registrations "
            "WHERE workshop_id = :w ORDER BY id",
            w=workshop_id,
        )

    def new_workshop(self, capacity: int, title: str) -> int:
        from app.catalog.models import Level, Room, Topic, Trainer, Workshop, WorkshopStatus
        from app.extensions import db

        with self.seed_app.app_context():
            starts_at = (datetime.now(UTC) + timedelta(days=10)).replace(
                hour=13, minute=0, second=0, microsecond=0
            )
            workshop = Workshop(
                title=title,
                description="Découvrir l'ENT avec sa classe.",
                topic=db.session.get(Topic, self.ids["topic"]),
                level=Level.beginner,
                room=db.session.get(Room, self.ids["room"]),
                trainer=db.session.get(Trainer, self.ids["trainer"]),
                capacity=capacity,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=3),
                status=WorkshopStatus.published,
            )
            db.session.add(workshop)
            db.session.commit()
            workshop_id = workshop.id
            db.session.remove()
        return workshop_id

    # mail

    def mails_to(self, address: str) -> list:
        return [
            message_from_bytes(raw, policy=policy.default)
            for _, recipients, raw in list(self.smtp.received)
            if address in recipients
        ]

    def wait_for_mail(self, address: str, subject_start: str, timeout: float = 60):
        def arrived():
            found = [m for m in self.mails_to(address) if m["Subject"].startswith(subject_start)]
            return found[0] if found else None

        return stack.wait_for(arrived, timeout=timeout)

    def active_scheduler(self) -> stack.Process:
        """The scheduler whose pid the delivery heartbeat carries ("host:pid")."""
        [process] = [
            row.process
            for row in self.rows("SELECT process FROM heartbeats WHERE name = 'deliver_outbox'")
        ]
        pid = int(process.rsplit(":", 1)[1])
        [active] = [s for s in self.schedulers if s.pid == pid]
        return active


def _seed(app) -> dict[str, int]:
    """One site (Amiens) with a room, a topic, a trainer and a coordinator's account."""
    from app.catalog.models import Room, Site, Topic, Trainer
    from app.extensions import db
    from app.staff.models import Role
    from app.staff.services import create_account

    with app.app_context():
        site = Site(
            slug="amiens",
            name="Amiens",
            street="45 rue Saint-Leu",
            postcode="80026",
            city="Amiens",
            latitude=49.9,
            longitude=2.3,
        )
        room = Room(name="Salle multimédia", capacity=120)
        site.rooms = [room]
        topic = Topic(slug="ent", name="ENT")
        trainer = Trainer(
            first_name="Claire", last_name="Dumont", email="claire.dumont@ac-amiens.fr"
        )
        db.session.add_all([site, topic, trainer])
        db.session.commit()
        create_account(COORDINATOR, "Coordination (test)", Role.coordinator, STAFF_PASSWORD)
        db.session.commit()
        ids = {"site": site.id, "room": room.id, "topic": topic.id, "trainer": trainer.id}
        db.session.remove()
    return ids


def _stop_all(deployment: Deployment) -> None:
    for process in [*deployment.schedulers, deployment.nginx, *deployment.webs]:
        with contextlib.suppress(Exception):
            process.stop()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    require(bool(os.environ.get("TEST_DATABASE_URL")), "PostgreSQL: TEST_DATABASE_URL is not set")
    redis_url = os.environ.get("TEST_REDIS_URL")
    require(bool(redis_url), "Redis: TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0)")
    require(stack.NGINX.exists(), f"nginx is not installed ({stack.NGINX}; apt-get install nginx)")
    require(shutil.which("openssl") is not None, "openssl is not installed")
    require(shutil.which("envsubst") is not None, "envsubst is not installed (gettext-base)")
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
        redis_up = True
    except redis.RedisError:
        redis_up = False
    # Unreachable, the app would fall back to counting in each process: the limits would not hold.
    require(redis_up, f"Redis does not answer at {redis_url}")

    directory = tmp_path_factory.mktemp("deployment")
    (directory / "logs").mkdir()
    started = time.monotonic()
    with contextlib.ExitStack() as cleanup:
        database_url = cleanup.enter_context(stack.fresh_database("deploy"))
        smtp = SMTPSink()
        smtp.start()
        cleanup.callback(smtp.stop)

        web_binds = [f"{host}:{stack.free_port_on(host)}" for host in INSTANCE_HOSTS]
        front = stack.NginxFront(directory, web_binds)
        base_url = front.base_url
        env = stack.production_env(
            DATABASE_URL=database_url,
            PUBLIC_BASE_URL=base_url,
            RATELIMIT_STORAGE_URI=redis_url,
            RATELIMIT_KEY_PREFIX=f"deploy-test-{uuid.uuid4().hex[:12]}",
            ALLOWED_EMAIL_DOMAINS="ac-amiens.fr",
            MAIL_SERVER=smtp.host,
            MAIL_PORT=str(smtp.port),
            WEB_WORKERS="2",
            WEB_THREADS="4",
            SCHEDULER_DELIVERY_SECONDS=str(SCHEDULER_DELIVERY_SECONDS),
            SCHEDULER_ELECTION_SECONDS=str(SCHEDULER_ELECTION_SECONDS),
        )
        flask = str(Path(sys.executable).parent / "flask")
        stack.run([flask, "--app", "wsgi", "db", "upgrade"], env)

        seed_app = _make_seed_app(database_url, base_url)
        cleanup.callback(_dispose, seed_app)
        ids = _seed(seed_app)
        engine = sa.create_engine(database_url, pool_size=5)
        cleanup.callback(engine.dispose)

        deployment = Deployment(
            base_url=base_url,
            http_url=front.http_url,
            verify=front.verify,
            env=env,
            directory=directory,
            site=front.site,
            web_binds=web_binds,
            webs=[],
            schedulers=[],
            nginx=None,
            smtp=smtp,
            engine=engine,
            seed_app=seed_app,
            ids=ids,
        )
        cleanup.callback(_stop_all, deployment)
        for index, bind in enumerate(web_binds):
            deployment.webs.append(stack.start_web(env, bind, directory / f"web-{index}.log"))
        deployment.nginx = front.start()
        for index in range(2):
            deployment.schedulers.append(
                stack.start_scheduler(env, directory / f"scheduler-{index}.log")
            )
        stack.wait_for(
            lambda: (
                sum("now the active scheduler" in s.output for s in deployment.schedulers) == 1
                and sum("standing by" in s.output for s in deployment.schedulers) == 1
            ),
            timeout=60,
        )
        stack.wait_for(
            lambda: deployment.rows("SELECT 1 FROM heartbeats WHERE name = 'deliver_outbox'")
        )
        say(f"stack started in {time.monotonic() - started:.1f} s")
        yield deployment


def _dispose(app) -> None:
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _make_seed_app(database_url: str, base_url: str):
    """The test's own door to the database (models and services), not a process under test."""
    from app import create_app

    return create_app(make_config(database_url, PUBLIC_BASE_URL=base_url))


# --- helpers ---------------------------------------------------------------------------------------


def register(client: httpx.Client, workshop_id: int, n: int) -> httpx.Response:
    """Fetch the workshop's form, then post it (with the page as Referer)."""
    token = csrf_token(client.get(f"/ateliers/{workshop_id}"))
    return client.post(f"/ateliers/{workshop_id}/inscription", data=form_data(n, csrf_token=token))


def email(n: int) -> str:
    return form_data(n)["courriel"]


def assert_waiting_list_gap_free(rows) -> int:
    positions = sorted(r.waiting_position for r in rows if r.status == "waiting")
    assert positions == list(range(1, len(positions) + 1))
    return len(positions)


def assert_each_registration_whole(deployment: Deployment, workshop_id: int) -> None:
    """Every registration row has its management token and its outbox mail (one transaction)."""
    incomplete = deployment.rows(
        """
        SELECT r.id,
               (SELECT count(*) FROM tokens t
                 WHERE t.purpose = 'manage' AND t.owner_id = r.id) AS tokens,
               (SELECT count(*) FROM outbox_mails m
                 WHERE m.subject_kind = 'registration' AND m.subject_id = r.id
                   AND m.template = 'booking/' || r.status) AS mails
          FROM registrations r WHERE r.workshop_id = :w
        """,
        w=workshop_id,
    )
    assert [r for r in incomplete if r.tokens != 1 or r.mails != 1] == []


def request_lines(log: str, method: str, path: str) -> int:
    return len(re.findall(rf'"{method} {re.escape(path)} HTTP/[0-9.]+"', log))


# --- the site file ---------------------------------------------------------------------------------


def test_the_site_is_rendered_by_the_documented_envsubst_command(deployment):
    command = stack.nginx_envsubst_command()
    listed = set(re.search(r"envsubst '([^']+)'", command)[1].replace("$", "").split())
    assert listed == stack.nginx_template_variables()
    rendered = deployment.site.read_text(encoding="utf-8")
    assert not re.search(r"\$\{[A-Z]", rendered), "a template variable was left unrendered"
    for own in ("$remote_addr", "$proxy_add_x_forwarded_for", "$scheme", "$request_uri"):
        assert own in rendered, f"envsubst ate nginx's {own}"


def nginx_redaction_maps() -> list[re.Pattern]:
    """The regexes of the site's four redaction maps (request twice, Referer twice), in Python's
    syntax (named groups `(?P<…>`, nginx's `\\"` unquoted)."""
    found = re.findall(
        r'^\s*"~(\^.*\$)" "\$\{\w+\}\*\*\*\$\{\w+\}";$',
        stack.NGINX_SITE.read_text(encoding="utf-8"),
        re.MULTILINE,
    )
    assert len(found) == 4, found
    return [re.compile(re.sub(r"\(\?<(\w+)>", r"(?P<\1>", p.replace('\\"', '"'))) for p in found]


def nginx_redact(text: str, passes: list[re.Pattern]) -> str:
    """What nginx's chained maps make of `text`."""
    for pattern in passes:
        if found := pattern.match(text):
            text = f"{found[1]}***{found[pattern.groups]}"
    return text


def test_the_access_log_masks_exactly_what_gunicorns_masks():
    """No stack needed: every route with a <token> or <code>, as a request and as a Referer,
    gives the same line through the site's maps as through app/secret_paths.py."""
    from app import create_app
    from app.secret_paths import redact
    from config import TestConfig

    uri_maps, referer_maps = nginx_redaction_maps()[:2], nginx_redaction_maps()[2:]
    samples = []
    for rule in create_app(TestConfig).url_map.iter_rules():
        secret = "s3Cr_et-" + uuid.uuid4().hex
        values = {name: secret if name in {"token", "code"} else 2025 for name in rule.arguments}
        path = rule.build(values, append_unknown=False)[1]
        other = "aUtRe-" + uuid.uuid4().hex
        samples += [path, f"{path}?source=liste", f"{path}?suite=/questionnaire/{other}"]
    for path in samples:
        assert nginx_redact(path, uri_maps) == redact(path), path
        referer = f"https://ateliers.crdp-amiens.fr{path}#haut"
        assert nginx_redact(referer, referer_maps) == redact(referer), referer
    masked = [p for p in samples if redact(p) != p]
    assert len(masked) >= 3 * 10, "fewer secret routes than expected"
    assert all("s3Cr_et-" not in nginx_redact(p, uri_maps) for p in masked)
    for kept in ("/ateliers/12/inscription/merci", "/rencontres/2025/inscription/merci", "/"):
        assert nginx_redact(kept, uri_maps) == kept


# --- nginx's own duties ----------------------------------------------------------------------------


def test_tls_redirect_static_files_and_body_limit(deployment):
    with deployment.client() as client:
        home = client.get("/")
        assert home.status_code == 200
        assert home.headers["server"] == "nginx"  # no version
        assert home.headers.get_list("Strict-Transport-Security") == ["max-age=31536000"]
        assert "script-src 'self'" in home.headers["Content-Security-Policy"]  # the app's

        # Static files: served by nginx itself, kept a year (their URL carries the file's hash).
        css = re.search(r'href="(/static/style\.css\?v=[0-9a-f]+)"', home.text)[1]
        static = client.get(css)
        assert static.status_code == 200
        assert static.content == (stack.ROOT / "app/static/style.css").read_bytes()
        assert "max-age=31536000" in static.headers["cache-control"]
        assert "immutable" in static.headers["cache-control"]
        assert static.headers["server"] == "nginx"

        # A body over the limit: refused by nginx, in French.
        workshop_id = deployment.new_workshop(capacity=5, title="Atelier limite de taille")
        token = csrf_token(client.get(f"/ateliers/{workshop_id}"))
        too_large = client.post(
            f"/ateliers/{workshop_id}/inscription",
            data={**form_data(1, csrf_token=token), "ecole": "x" * (2 * 1024 * 1024)},
        )
        assert too_large.status_code == 413
        assert "Envoi trop volumineux" in too_large.text
    assert deployment.registrations(workshop_id) == []

    # The static file never reached an instance; nginx logged it with no upstream.
    path = css.split("?")[0]
    assert all(path not in deployment.web_log(i) for i in range(2))
    assert re.search(
        rf'"GET {re.escape(css)} HTTP/1.1" 200 .* upstream=- ', deployment.access_log.read_text()
    )

    # http:// → the public https address, same path and query.
    redirect = httpx.get(
        f"{deployment.http_url}/ateliers?site=amiens", follow_redirects=False, trust_env=False
    )
    assert redirect.status_code == 301
    assert redirect.headers["location"] == f"{deployment.base_url}/ateliers?site=amiens"
    assert redirect.headers["server"] == "nginx"

    # TLS 1.2 and 1.3 only.
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        context = stack.tls_context(deployment.directory / "tls" / "certificate.pem")
        context.minimum_version = context.maximum_version = version
        with httpx.Client(verify=context, trust_env=False) as pinned:
            response = pinned.get(f"{deployment.base_url}/sante")
            assert response.status_code == 200
            assert response.extensions["network_stream"].get_extra_info("ssl_object").version() == (
                "TLSv1.2" if version is ssl.TLSVersion.TLSv1_2 else "TLSv1.3"
            )
    # An old client (TLS 1.1 allowed on its side): nginx itself refuses the protocol (alert 70).
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 is deprecated: the point
        old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    https_port = int(deployment.base_url.rsplit(":", 1)[1])
    with (
        pytest.raises(ssl.SSLError) as refused,
        socket.create_connection((HOST, https_port)) as raw,
    ):
        old.wrap_socket(raw).close()
    assert refused.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION", refused.value


def test_calendar_feeds_and_webcal_links_through_nginx(deployment):
    deployment.new_workshop(capacity=12, title="Le TBI en maternelle")
    deployment.new_workshop(capacity=12, title="Tablettes et lecture au CP")
    host = deployment.base_url.split("://", 1)[1]
    with deployment.client() as client:
        page = client.get("/calendriers")
        assert page.status_code == 200
        webcal = re.findall(r'href="(webcal://[^"]+)"', page.text)
        assert f"webcal://{host}/calendriers/tous.ics" in webcal
        assert f"webcal://{host}/calendriers/amiens.ics" in webcal
        # What a calendar client does with a webcal:// link: the same address over https.
        for link in webcal:
            assert link.startswith(f"webcal://{host}/calendriers/"), link
            feed = client.get("https://" + link.removeprefix("webcal://"))
            assert feed.status_code == 200, link
            assert feed.headers["content-type"] == "text/calendar; charset=utf-8"
            assert feed.text.startswith("BEGIN:VCALENDAR")

        # Compressed: nginx turns the strong ETag into a weak one, which the app still matches.
        feed = client.get("/calendriers/amiens.ics")
        assert feed.headers.get("content-encoding") == "gzip"
        assert feed.headers["etag"].startswith('W/"')
        assert "Le TBI en maternelle" in feed.text
        again = client.get(
            "/calendriers/amiens.ics", headers={"If-None-Match": feed.headers["etag"]}
        )
        assert again.status_code == 304 and again.content == b""
        # The 304 has no body, so nothing to compress: the app's own (strong) form of the same tag.
        assert again.headers["etag"] == feed.headers["etag"].removeprefix("W/")

        # Uncompressed (a client that asks for no gzip): the strong ETag as the app wrote it.
        plain = client.get("/calendriers/amiens.ics", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.headers["etag"].startswith('"')
        assert plain.content == feed.content
        for condition in (
            {"If-None-Match": plain.headers["etag"]},
            {"If-Modified-Since": plain.headers["last-modified"]},
        ):
            revalidated = client.get(
                "/calendriers/amiens.ics", headers={"Accept-Encoding": "identity", **condition}
            )
            assert revalidated.status_code == 304, condition
        say(
            f"amiens.ics: {len(plain.content)} bytes, {feed.num_bytes_downloaded} on the wire "
            f"gzipped; 304 with the weak and with the strong ETag"
        )


def test_no_secret_in_any_log(deployment):
    """A management link and a personal feed visited through nginx: the tokens appear masked in
    nginx's and gunicorn's logs, and nowhere in clear."""
    workshop_id = deployment.new_workshop(capacity=10, title="Atelier des liens secrets")
    address = "lien.secret@ac-amiens.fr"
    with deployment.client() as client:
        token = csrf_token(client.get(f"/ateliers/{workshop_id}"))
        registered = client.post(
            f"/ateliers/{workshop_id}/inscription",
            data=form_data(1, courriel=address, csrf_token=token),
            follow_redirects=True,
        )
        assert registered.status_code == 200
        assert "Votre place est réservée" in registered.text

        mail = deployment.wait_for_mail(address, "Inscription confirmée")
        text = mail.get_body(preferencelist=("plain",)).get_content()
        [link] = re.findall(r"\S+/inscription/[A-Za-z0-9_-]+", text)
        assert link.startswith(f"{deployment.base_url}/inscription/")
        secret = link.rsplit("/", 1)[1]

        manage = client.get(link)
        assert manage.status_code == 200 and "Inscription confirmée" in manage.text
        made = client.post(
            f"/inscription/{secret}/calendrier/renouveler", data={"csrf_token": csrf_token(manage)}
        )
        feed_path = re.search(r"/calendriers/perso/[A-Za-z0-9_-]+\.ics", made.text)[0]
        feed_secret = feed_path.rsplit("/", 1)[1].removesuffix(".ics")
        feed = client.get(feed_path)
        assert feed.status_code == 200 and "Atelier des liens secrets" in feed.text
        # A page's own requests carry it as Referer (the page's style sheet, its cancel page).
        css = re.search(r'href="(/static/style\.css\?v=[0-9a-f]+)"', manage.text)[1]
        assert client.get(css, headers={"Referer": link}).status_code == 200
        assert (
            client.get(f"/inscription/{secret}/annuler", headers={"Referer": link}).status_code
            == 200
        )

    # Both logs have the requests, masked… (waiting for the last request's line: nginx writes
    # each line when its request ends, and the last one may still be on its way)
    stack.wait_for(
        lambda: '"GET /inscription/***/annuler HTTP/1.1"' in deployment.access_log.read_text()
    )
    access = deployment.access_log.read_text()
    assert '"GET /inscription/*** HTTP/1.1" 200' in access
    assert '"GET /inscription/***/annuler HTTP/1.1" 200' in access
    assert f'"{deployment.base_url}/inscription/***"' in access  # the Referer
    stack.wait_for(
        lambda: "/calendriers/perso/***.ics" in deployment.web_log(0) + deployment.web_log(1)
    )
    instances = deployment.web_log(0) + deployment.web_log(1)
    assert "GET /inscription/***" in instances
    # …and the secrets nowhere: nginx's access and error logs, both instances', both schedulers'.
    everything = deployment.every_log()
    assert secret not in everything
    assert feed_secret not in everything
    assert (
        deployment.rows("SELECT status FROM registrations WHERE workshop_id = :w", w=workshop_id)[
            0
        ].status
        == "confirmed"
    )


# --- registrations over both instances -------------------------------------------------------------


def test_fifty_registrations_at_once_for_the_last_three_seats(deployment):
    capacity, clients = 3, 50
    workshop_id = deployment.new_workshop(capacity=capacity, title="Atelier très demandé")
    barrier = threading.Barrier(clients, timeout=120)
    results: dict[int, httpx.Response | BaseException] = {}

    def one(n: int) -> None:
        try:
            with deployment.client(local_address="127.0.0.40") as client:
                token = csrf_token(client.get(f"/ateliers/{workshop_id}"))
                barrier.wait()
                results[n] = client.post(
                    f"/ateliers/{workshop_id}/inscription",
                    data=form_data(n, csrf_token=token),
                )
        except BaseException as error:  # reported below
            results[n] = error
            barrier.abort()

    numbers = range(100, 100 + clients)
    threads = [threading.Thread(target=one, args=(n,), daemon=True) for n in numbers]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    elapsed = time.monotonic() - started
    errors = {n: r for n, r in results.items() if isinstance(r, BaseException)}
    assert not errors, errors
    merci = f"/ateliers/{workshop_id}/inscription/merci"
    assert sorted(n for n, r in results.items() if r.status_code == 303) == list(numbers)
    assert all(r.headers["location"].endswith(merci) for r in results.values())

    rows = deployment.registrations(workshop_id)
    assert {r.email for r in rows} == {email(n) for n in numbers}
    confirmed = [r for r in rows if r.status == "confirmed"]
    assert len(confirmed) == capacity
    assert assert_waiting_list_gap_free(rows) == clients - capacity
    assert_each_registration_whole(deployment, workshop_id)

    # Both instances took some.
    path = f"/ateliers/{workshop_id}/inscription"
    per_instance = [request_lines(deployment.web_log(i), "POST", path) for i in range(2)]
    assert sum(per_instance) == clients and min(per_instance) > 0, per_instance

    # One mail each, delivered by the schedulers to the relay, each Message-ID once.
    def delivered():
        return all(len(deployment.mails_to(email(n))) >= 1 for n in numbers)

    stack.wait_for(delivered, timeout=90)
    mails = [m for n in numbers for m in deployment.mails_to(email(n))]
    assert len(mails) == clients
    assert len({m["Message-ID"] for m in mails}) == clients
    subjects = Counter(m["Subject"].split(" :")[0] for m in mails)
    assert subjects == {"Inscription confirmée": capacity, "Liste d'attente": clients - capacity}
    for row in rows:
        [mail] = deployment.mails_to(row.email)
        expected = "Inscription confirmée" if row.status == "confirmed" else "Liste d'attente"
        assert mail["Subject"].startswith(expected)
    say(
        f"{clients} registrations for {capacity} seats in {elapsed:.1f} s: {len(confirmed)} "
        f"confirmed, waiting 1..{clients - capacity}; per instance {per_instance}; "
        f"{len(mails)} mails, {len({m['Message-ID'] for m in mails})} Message-IDs"
    )


# --- login limits, shared through Redis ------------------------------------------------------------


def _login_attempts(deployment, plan, threads_per_address: int = 3):
    """`plan`: (source address, [(e-mail, password, extra headers), …]). Each address's attempts
    are shared among a few threads, each with its own session and CSRF token, all at once."""
    outcomes: list[tuple[str, int, str]] = []
    lock = threading.Lock()

    def worker(address, attempts):
        with deployment.client(local_address=address) as client:
            token = csrf_token(client.get("/connexion"))
            for courriel, password, headers in attempts:
                response = client.post(
                    "/connexion",
                    data={"courriel": courriel, "mot_de_passe": password, "csrf_token": token},
                    headers=headers,
                )
                with lock:
                    outcomes.append((address, response.status_code, response.text))

    jobs = [
        (address, attempts[i::threads_per_address])
        for address, attempts in plan
        for i in range(threads_per_address)
    ]
    with ThreadPoolExecutor(len(jobs)) as pool:
        for future in [pool.submit(worker, *job) for job in jobs]:
            future.result()
    return outcomes


def test_login_limits_hold_across_instances_and_workers(deployment):
    # One account, 40 wrong passwords from 4 addresses (10 each: under the per-address limit).
    wrong = [(COORDINATOR, "pas le bon mot de passe", {})] * 10
    plan = [(f"127.0.0.{20 + i}", wrong) for i in range(4)]
    outcomes = _login_attempts(deployment, plan)
    statuses = Counter(status for _, status, _ in outcomes)
    assert statuses == {422: 10, 429: 30}, statuses
    assert all("Adresse ou mot de passe incorrect." in text for _, s, text in outcomes if s == 422)
    assert all("Trop de demandes" in text for _, s, text in outcomes if s == 429)
    per_instance = [request_lines(deployment.web_log(i), "POST", "/connexion") for i in range(2)]
    assert min(per_instance) > 0, per_instance
    # Even the right password waits now: the limit protects the account.
    [(_, status, _)] = _login_attempts(
        deployment, [("127.0.0.24", [(COORDINATOR, STAFF_PASSWORD, {})])], threads_per_address=1
    )
    assert status == 429

    # Per client address, read from X-Forwarded-For as nginx wrote it: 36 attempts from one
    # address, half of them forging X-Forwarded-For, pass 30 times (the limit) and no more…
    rng = random.Random(12)
    attempts = [
        (
            f"inconnu{n}@ac-amiens.fr",
            "pas le bon mot de passe",
            {"X-Forwarded-For": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{n}"}
            if n % 2
            else {},
        )
        for n in range(36)
    ]
    outcomes = _login_attempts(deployment, [("127.0.0.30", attempts)], threads_per_address=6)
    statuses = Counter(status for _, status, _ in outcomes)
    assert statuses == {422: 30, 429: 6}, statuses
    # …while another address has its own counter.
    others = [(f"autre{n}@ac-amiens.fr", "pas le bon mot de passe", {}) for n in range(5)]
    outcomes = _login_attempts(deployment, [("127.0.0.31", others)], threads_per_address=1)
    assert Counter(status for _, status, _ in outcomes) == {422: 5}

    # The instances saw the real addresses, never a forged one.
    instances = deployment.web_log(0) + deployment.web_log(1)
    assert re.search(r'^127\.0\.0\.30 "POST /connexion', instances, re.MULTILINE)
    assert re.search(r'^127\.0\.0\.31 "POST /connexion', instances, re.MULTILINE)
    assert not re.search(r"^10\.", instances, re.MULTILINE)
    say(
        f"login limits: account 10 checked / 30 refused (per instance {per_instance}); "
        f"address 30 checked / 6 refused (18 forged X-Forwarded-For); other address 5 / 5"
    )


# --- a browser, over https through nginx -------------------------------------------------------------


@pytest.mark.browser
def test_a_teacher_registers_and_cancels_in_a_browser_over_https(deployment, look):
    """The management pages let the browser send its Referer to the site itself
    (Referrer-Policy: same-origin): without it, Flask-WTF refuses the cancel form over https."""
    require(os.path.exists(CHROMIUM), "Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    title = "Le TBI pas à pas"
    workshop_id = deployment.new_workshop(capacity=4, title=title)
    address = "elodie.lefevre@ac-amiens.fr"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                base_url=deployment.base_url, ignore_https_errors=True, locale="fr-FR"
            )
            context.set_default_timeout(20_000)
            context.add_init_script(path=str(AXE))
            expect.set_options(timeout=20_000)
            page = context.new_page()
            page.goto(f"/ateliers/{workshop_id}")
            expect(page.get_by_role("heading", level=1)).to_have_text(title)
            look(page, "atelier")
            fill_registration(
                page,
                last_name="Lefèvre",
                first_name="Élodie",
                email=address,
                school="École Jean Macé, Amiens",
            )
            page.get_by_role("button", name="S'inscrire", exact=True).click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Votre place est réservée")
            look(page, "inscrite")

            mail = deployment.wait_for_mail(address, "Inscription confirmée")
            text = mail.get_body(preferencelist=("plain",)).get_content()
            [link] = re.findall(r"\S+/inscription/[A-Za-z0-9_-]+", text)
            assert link.startswith(f"{deployment.base_url}/inscription/")
            page.goto(link)
            expect(page.get_by_text("Inscription confirmée")).to_be_visible()
            look(page, "gestion")
            cancel_from_management_page(page, look)
        finally:
            browser.close()

    [row] = deployment.registrations(workshop_id)
    assert row.status == "cancelled"
    deployment.wait_for_mail(address, "Inscription annulée")
    secret = link.rsplit("/", 1)[1]
    access = deployment.access_log.read_text()
    assert '"POST /inscription/***/annuler HTTP/' in access
    assert f'"{deployment.base_url}/inscription/***/annuler"' in access  # its Referer, masked
    assert secret not in deployment.every_log()


# --- the schedulers ------------------------------------------------------------------------------


def test_the_standby_scheduler_takes_over_when_the_active_one_is_killed(deployment):
    def outbox_idle():
        return not deployment.rows(
            "SELECT 1 FROM outbox_mails WHERE status IN ('pending', 'sending')"
        )

    active = deployment.active_scheduler()
    [standby] = [s for s in deployment.schedulers if s is not active]
    assert "standing by" in standby.output
    assert "now the active scheduler" not in standby.output
    # Killed while idle between sweeps: nothing claimed. (Killed in the middle of a delivery
    # batch: tests/test_scheduler.py, test_a_scheduler_killed_mid_batch_….)
    stack.wait_for(outbox_idle, timeout=60)
    killed_at = time.time()
    active.kill()

    # Mails queued after the kill: they wait for the standby.
    workshop_id = deployment.new_workshop(capacity=10, title="Atelier après la relève")
    numbers = range(300, 305)
    with deployment.client() as client:
        for n in numbers:
            assert register(client, workshop_id, n).status_code == 303

    line = stack.wait_for(
        lambda: re.search(
            r"^(\S+ \S+) scheduler INFO this process is now the active scheduler$",
            standby.output,
            re.MULTILINE,
        ),
        timeout=SCHEDULER_ELECTION_SECONDS + TAKEOVER_MARGIN_SECONDS + 30,
    )
    # The time the standby wrote on that line (logging's asctime: local time, milliseconds).
    took_over_at = datetime.strptime(line[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    takeover = took_over_at - killed_at
    say(
        f"scheduler takeover: {takeover:.2f} s after the kill (election every "
        f"{SCHEDULER_ELECTION_SECONDS} s)"
    )
    assert takeover <= SCHEDULER_ELECTION_SECONDS + TAKEOVER_MARGIN_SECONDS

    for n in numbers:
        deployment.wait_for_mail(email(n), "Inscription confirmée")
    stack.wait_for(outbox_idle, timeout=60)
    assert deployment.active_scheduler() is standby
    assert_each_registration_whole(deployment, workshop_id)

    # Every mail of this run delivered exactly once.
    sent = deployment.rows("SELECT status, count(*) AS n FROM outbox_mails GROUP BY status")
    assert {row.status: row.n for row in sent}.keys() == {"sent"}
    message_ids = Counter(
        message_from_bytes(raw, policy=policy.default)["Message-ID"]
        for _, _, raw in list(deployment.smtp.received)
    )
    assert [mid for mid, count in message_ids.items() if count > 1] == []
    assert sum(message_ids.values()) == sent[0].n
    say(f"{sent[0].n} mails in the outbox, {sum(message_ids.values())} received, each once")

    # Back to two schedulers: the new one stands by.
    index = deployment.schedulers.index(active)
    active.stop()
    deployment.schedulers[index] = stack.start_scheduler(
        deployment.env, deployment.directory / f"scheduler-{index}-restarted.log"
    )
    stack.wait_for(lambda: "standing by" in deployment.schedulers[index].output, timeout=60)


# --- an app instance killed in the middle of a burst ----------------------------------------------------


def refused(host: str, port: int) -> bool:
    """Nothing listens there any more (every process holding the socket is gone)."""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    except OSError:  # a timeout: the dying listener's backlog is full, it is not gone yet
        return False
    return False


@dataclass
class Sent:
    method: str
    started: float
    ended: float | None = None
    status: int | None = None
    error: BaseException | None = None
    text: str = ""


def test_an_instance_killed_during_a_burst_loses_nothing(deployment):
    """SIGKILL to one instance (gunicorn's master and workers) while 80 teachers register, 10 at a
    time: nginx sends the rest to the other instance. Only requests in flight at the kill may
    fail; whatever was written is whole (registration, token, mail), no seat is overbooked."""
    capacity, clients, concurrency, kill_after = 10, 80, 10, 20
    workshop_id = deployment.new_workshop(capacity=capacity, title="Atelier de la panne")
    sent: list[Sent] = []
    lock = threading.Lock()
    posts_done = threading.Semaphore(0)
    registered: dict[int, int] = {}

    def timed(method: str, call):
        record = Sent(method, time.monotonic())
        with lock:
            sent.append(record)
        try:
            response = call()
            record.status = response.status_code
            if response.status_code >= 500:
                record.text = response.text
            return response
        except httpx.HTTPError as error:
            record.error = error
            return None
        finally:
            record.ended = time.monotonic()

    def one(n: int) -> None:
        with deployment.client(local_address="127.0.0.41") as client:
            page = timed("GET", lambda: client.get(f"/ateliers/{workshop_id}"))
            if page is None or page.status_code != 200:
                return
            data = form_data(n, csrf_token=csrf_token(page))
            response = timed(
                "POST", lambda: client.post(f"/ateliers/{workshop_id}/inscription", data=data)
            )
            registered[n] = response.status_code if response is not None else 0
            posts_done.release()

    victim = deployment.webs[0]
    kill: dict[str, float] = {}
    kill_error: list[BaseException] = []

    def killer():
        try:
            for _ in range(kill_after):
                posts_done.acquire()
            kill["started"] = time.monotonic()
            victim.kill()  # returns once the master is reaped; its workers may take a moment more
            host, port = deployment.web_binds[0].split(":")
            stack.wait_for(lambda: refused(host, int(port)), timeout=60, interval=0.01)
            kill["ended"] = time.monotonic()
        except BaseException as error:  # reported by the test below
            kill_error.append(error)

    killing = threading.Thread(target=killer, daemon=True)
    killing.start()
    numbers = range(400, 400 + clients)
    try:
        with ThreadPoolExecutor(concurrency) as pool:
            for future in [pool.submit(one, n) for n in numbers]:
                future.result()
        killing.join(90)
        assert "ended" in kill, f"the instance was not killed: {kill_error}"
    finally:
        index = deployment.webs.index(victim)
        victim.stop()
        deployment.webs[index] = stack.start_web(
            deployment.env, deployment.web_binds[index], deployment.directory / f"web-{index}.log"
        )

    in_flight = [s for s in sent if s.started < kill["ended"] and s.ended > kill["started"]]
    failed = [s for s in sent if s.error is not None or s.status >= 500]
    after = [s for s in sent if s.started > kill["ended"]]
    assert after, "the burst was over before the kill"
    assert [(s.method, s.status, s.error) for s in after if s.status not in (200, 303)] == []
    assert len(failed) <= len(in_flight), (failed, len(in_flight))
    assert all(s.method == "POST" for s in failed), "a GET must go to the other instance"
    # What the teachers whose POST was cut see: nginx's page, in French, saying what to check.
    assert all(
        "Service momentanément indisponible" in s.text and "vérifiez vos courriels" in s.text
        for s in failed
    )

    rows = deployment.registrations(workshop_id)
    confirmed = [r for r in rows if r.status == "confirmed"]
    assert len(confirmed) == capacity
    waiting = assert_waiting_list_gap_free(rows)
    assert_each_registration_whole(deployment, workshop_id)
    emails = {r.email for r in rows}
    ok = [n for n, status in registered.items() if status == 303]
    assert {email(n) for n in ok} <= emails  # every confirmation page shown has its row
    assert len(rows) <= len(registered)
    # Each row's mail goes out, once.
    stack.wait_for(lambda: all(len(deployment.mails_to(e)) >= 1 for e in emails), timeout=90)
    assert all(len(deployment.mails_to(e)) == 1 for e in emails)
    retried = len(
        re.findall(
            rf'"(?:GET|POST) /ateliers/{workshop_id}(?:/inscription)? HTTP/1.1" \d+ .* upstream=[0-9.:]+, ',
            deployment.access_log.read_text(),
        )
    )
    say(
        f"instance killed after {kill_after} registrations: {len(sent)} requests "
        f"({len(sent) - len(after)} before or during the kill), {len(in_flight)} in flight at the "
        f"kill, {len(failed)} failed {Counter(s.status or repr(s.error) for s in failed)}; "
        f"{len(after)} sent after the kill, all answered; {retried} requests nginx moved to the "
        f"other instance; {len(rows)} registrations for {len(ok)} confirmation pages: "
        f"{len(confirmed)} confirmed, waiting 1..{waiting}"
    )
