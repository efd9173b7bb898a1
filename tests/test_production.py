"""Production, started the way the README says, in real processes: the environment file, the
commands run by hand (`deploy/flask`, `deploy/backup`, `deploy/restore`), gunicorn and the
scheduler from their systemd units — and the refusals, the access log's masks, the example
file's completeness, backup and restore, and the upgrade from the previous release.

Nothing here patches a configuration class: each process reads its environment, as on a server.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import html
import http.client
import json
import os
import re
import secrets
import shlex
import shutil
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from psycopg import sql

from app.secret_paths import redact
from config import DEVELOPMENT_SECRET_KEY
from tests import stack
from tests.conftest import free_port, require

pytestmark = pytest.mark.live

ROOT = stack.ROOT
DEPLOY = stack.DEPLOY
#: The last release that landed, upgraded from in test_upgrade_from_the_previous_release.
PREVIOUS_RELEASE = "d8a2a8f"

#: The first account, as the README's step 4 creates it.
COORDINATOR_EMAIL = "coordination@ac-amiens.fr"
COORDINATOR_NAME = "Marie Leroy"
COORDINATOR_PASSWORD = "un mot de passe de coordination"
#: Where the proxy says the request came from (nginx's X-Forwarded-For).
CLIENT_ADDRESS = "203.0.113.7"

#: Settings read by the code that the example file leaves out on purpose: test and development
#: switches, and the deploy scripts' own variable (which names the file itself).
NOT_IN_EXAMPLE = {
    "SCHEDULER_ELECTION": "off only to race two sweepers in the tests; production keeps it on",
    "MAIL_FILE_DIR": "where mails go without MAIL_SERVER: development only",
    "ATELIERS_ENV_FILE": "which environment file deploy/flask, backup and restore load",
}


# --- environment files and commands --------------------------------------------------------------


def require_postgresql() -> None:
    require(bool(os.environ.get("TEST_DATABASE_URL")), "PostgreSQL: TEST_DATABASE_URL is not set")


def require_redis() -> str:
    url = os.environ.get("TEST_REDIS_URL", "")
    require(bool(url), "Redis: TEST_REDIS_URL is not set")
    return url


def base_env() -> dict[str, str]:
    """The runner's environment without any setting of the app (as a fresh login shell)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(stack.APP_SETTINGS)}


def production_settings(**overrides) -> dict[str, str]:
    """The settings an operator writes in the environment file: the example's, a real random
    key (stack.production_env) and `overrides` (None removes one)."""
    env = stack.production_env(**overrides)
    return {k: v for k, v in env.items() if k.startswith(stack.APP_SETTINGS)}


def write_env_file(path: Path, settings: dict[str, str]) -> Path:
    """An environment file as the example asks: KEY=value, "…" around a value with spaces."""
    lines = ["# Écrit par tests/test_production.py"]
    for key, value in settings.items():
        assert not set(value) & set('$`\\"\n'), f"{key}: not writable in the file: {value!r}"
        if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]*", value):
            lines.append(f"{key}={value}")
        else:
            lines.append(f'{key}="{value}"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o640)
    return path


def shell_env(env_file: Path, **extra: str) -> dict[str, str]:
    """The environment of an operator's shell: the deploy scripts load the file themselves."""
    return {**base_env(), "ATELIERS_ENV_FILE": str(env_file), **extra}


def unit_env(env_file: Path) -> dict[str, str]:
    """What systemd gives a unit: its EnvironmentFile=, read as systemd reads it."""
    return {**base_env(), **stack.read_env_file(env_file)}


def output(done: subprocess.CompletedProcess) -> str:
    return done.stdout + done.stderr


def as_admin(database_url: str) -> str:
    """The same database for libpq, as TEST_DATABASE_URL's (super)user: the test's own look."""
    from sqlalchemy.engine import make_url

    database = make_url(database_url).database
    admin = make_url(os.environ["TEST_DATABASE_URL"]).set(database=database)
    return stack.libpq_url(admin.render_as_string(hide_password=False))


def psql(database_url: str, query: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(as_admin(database_url)) as connection:
        return connection.execute(query).fetchall()


@contextlib.contextmanager
def service_role() -> Iterator[tuple[str, str]]:
    """A login role of its own, as the service's `ateliers` (no superuser): (name, password);
    dropped after (the databases it owns must be dropped first)."""
    import psycopg

    name, password = f"ateliers_{uuid.uuid4().hex[:12]}", "mot de passe : p@ss/w%rd"
    admin = stack.libpq_url(os.environ["TEST_DATABASE_URL"])
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(password)
            )
        )
    try:
        yield name, password
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def owned_by(database_url: str, role: tuple[str, str]) -> str:
    """The database handed to `role` (as `createdb --owner=ateliers`): its URL as that role."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    admin = stack.libpq_url(os.environ["TEST_DATABASE_URL"])
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(url.database), sql.Identifier(role[0])
            )
        )
    return url.set(username=role[0], password=role[1]).render_as_string(hide_password=False)


def plain_dump(database_url: str) -> str:
    """The whole database as SQL text (schema and rows): equal dumps, unchanged database.
    (Without the random key of psql's \\restrict lines, new in pg_dump 15.14.)"""
    done = subprocess.run(
        ["pg_dump", "--format=plain", "--no-owner", as_admin(database_url)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return re.sub(r"(?m)^\\(un)?restrict .*$", r"\\\1restrict", done.stdout)


def assert_unchanged(before: str, after: str) -> None:
    if before != after:
        diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=1)
        pytest.fail("the database changed:\n" + "\n".join(list(diff)[:80]))


# --- HTTP, as nginx forwards a browser's requests ------------------------------------------------


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    text: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass
class Browser:
    """One browser behind nginx: cookies kept (the Secure ones too — nginx forwards https as
    plain http to gunicorn), X-Forwarded-Proto/-For as nginx sets them, and a POST carries the
    same-origin https Referer a browser sends. Redirects are not followed."""

    address: str  # host:port of gunicorn
    cookies: dict[str, str] = field(default_factory=dict)
    cookie_attributes: dict[str, str] = field(default_factory=dict)

    def request(
        self, method: str, path: str, *, form: dict | None = None, headers: dict | None = None
    ) -> Response:
        host, port = self.address.rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        sent = {"X-Forwarded-Proto": "https", "X-Forwarded-For": CLIENT_ADDRESS}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        sent.update(headers or {})
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            text = response.read().decode("utf-8", errors="replace")
        finally:
            connection.close()
        for cookie in response.headers.get_all("Set-Cookie") or []:
            pair, _, attributes = cookie.partition(";")
            name, _, value = pair.strip().partition("=")
            self.cookies[name] = value
            self.cookie_attributes[name] = attributes
        return Response(response.status, response.headers, text)

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, form: dict, *, page: str | None = None) -> Response:
        """A form sent from `page` (this path by default) of the same https site."""
        referer = f"https://{self.address}{page or path}"
        return self.request("POST", path, form=form, headers={"Referer": referer})

    def csrf_token(self, page: Response) -> str:
        found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        assert found, page.text[:2000]
        return found.group(1)

    def login(self, email: str, password: str) -> Response:
        page = self.get("/connexion")
        assert page.status == 200, page.text[:2000]
        return self.post(
            "/connexion",
            {
                "csrf_token": self.csrf_token(page),
                "courriel": email,
                "mot_de_passe": password,
            },
        )


def health(address: str) -> dict:
    response = Browser(address).get("/sante")
    assert response.status == 200, response.text
    return json.loads(response.text)


def seats_badge(page: Response) -> str:
    """The workshop page's seat count ("12 places restantes", "Complet — …")."""
    found = re.search(r'<span class="badge[^"]*">([^<]+)</span>', page.text)
    assert found, page.text[:3000]
    return html.unescape(found.group(1)).strip()


# --- the README's commands ----------------------------------------------------------------------


def readme_commands(step: str) -> list[str]:
    """The commands of one step of the README's "Mise en production" (`### {step}`): its
    indented code lines, continuation lines joined."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Mise en production\n", 1)[1].split("\n## ", 1)[0]
    body = section.split(f"\n### {step}\n", 1)[1].split("\n### ", 1)[0]
    commands, pending = [], ""
    for line in body.splitlines():
        if not line.startswith("    "):
            continue
        pending += line[4:].strip()
        if pending.endswith("\\"):
            pending = pending[:-1]
        else:
            commands.append(pending)
            pending = ""
    return commands


def as_run_here(command: str) -> str:
    """A README command as this checkout runs it: the service's user is this test's, and the
    install directory is the checkout."""
    return command.removeprefix("sudo -u ateliers ").replace(stack.INSTALL_DIR, str(ROOT))


def test_the_readme_gives_the_commands_the_deployment_files_hold():
    """The steps a test cannot run as written (root's installs) name the files the tests use."""
    first_install = readme_commands("4. La base et le premier compte")
    assert [shlex.split(c)[:5] for c in first_install] == [
        ["sudo", "-u", "ateliers", f"{stack.INSTALL_DIR}/deploy/flask", "db"],
        ["sudo", "-u", "ateliers", f"{stack.INSTALL_DIR}/deploy/flask", "staff"],
    ]
    [install, _, enable] = readme_commands("5. Les services")
    units = sorted(path.name for path in stack.UNITS.glob("*.service"))
    assert sorted(install.split()[3:5]) == [f"deploy/systemd/{name}" for name in units]
    assert sorted(enable.split()[-2:]) == [name.removesuffix(".service") for name in units]
    assert stack.nginx_envsubst_command() in readme_commands("6. nginx et le certificat")
    upgrade = readme_commands("Mettre à jour")
    assert first_install[0] in [c.split("  #")[0].strip() for c in upgrade]
    for script in ("backup", "restore", "flask"):
        assert (DEPLOY / script).stat().st_mode & stat.S_IXUSR, f"deploy/{script} not executable"


def test_systemd_accepts_the_units(tmp_path):
    """`systemd-analyze verify` on the units as installed here (the checkout for /srv/…, the
    example for the environment file): no warning, no error (a misspelt setting is a warning
    that systemd would otherwise ignore silently)."""
    require(
        shutil.which("systemd-analyze") is not None, "systemd-analyze is not installed (systemd)"
    )
    for unit in stack.UNITS.glob("*.service"):
        text = unit.read_text(encoding="utf-8").replace(stack.INSTALL_DIR, str(ROOT))
        text = text.replace("/etc/ateliers-tice/ateliers-tice.env", str(stack.ENV_EXAMPLE))
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", *sorted(map(str, tmp_path.glob("*.service")))],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0 and not done.stdout.strip() and not done.stderr.strip(), done


# --- the service, installed as the README says ---------------------------------------------------


@dataclass
class Service:
    tmp: Path
    database_url: str  #: as the service's own role, which owns the database
    role: tuple[str, str]
    env_file: Path
    settings: dict[str, str]
    address: str
    web: stack.Process
    installed: dict[str, subprocess.CompletedProcess]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """A fresh PostgreSQL database owned by a role of its own (not a superuser) and an
    environment file written from the example; then the README's step 4 run as written
    (`deploy/flask db upgrade`, `deploy/flask staff create …`, the password typed twice), and
    gunicorn started from its unit (step 5), answering /sante."""
    require_postgresql()
    redis_url = require_redis()
    tmp = tmp_path_factory.mktemp("production")
    prefix = f"test-production-{uuid.uuid4().hex[:12]}"
    with service_role() as role, stack.fresh_database("production") as admin_url:
        database_url = owned_by(admin_url, role)
        settings = production_settings(
            DATABASE_URL=database_url,
            RATELIMIT_STORAGE_URI=redis_url,
            RATELIMIT_KEY_PREFIX=prefix,
            MAIL_FILE_DIR=str(tmp / "mail"),
        )
        env_file = write_env_file(tmp / "ateliers-tice.env", settings)
        shell = shell_env(env_file)
        upgrade, staff = readme_commands("4. La base et le premier compte")
        installed = {
            "upgrade": stack.run(["bash", "-c", as_run_here(upgrade)], shell, cwd=tmp),
            "staff": stack.run(
                ["bash", "-c", as_run_here(staff)],
                shell,
                cwd=tmp,
                input=f"{COORDINATOR_PASSWORD}\n{COORDINATOR_PASSWORD}\n",
            ),
        }
        address = f"127.0.0.1:{free_port()}"
        web = stack.start_web(unit_env(env_file), address, tmp / "web.log")
        try:
            yield Service(tmp, database_url, role, env_file, settings, address, web, installed)
        finally:
            web.stop()
            _forget_rate_limits(redis_url, prefix)


def _forget_rate_limits(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=f"*{prefix}*"):
            client.delete(key)
    finally:
        client.close()


def test_production_starts_as_the_readme_says(service):
    """First install: migrations, a coordinator's account, the site; /sante answers "ok" and
    the coordinator logs in through the proxy's https."""
    assert "Running upgrade" in output(service.installed["upgrade"])
    assert f"Compte créé : {COORDINATOR_EMAIL}" in service.installed["staff"].stdout
    assert health(service.address)["status"] == "ok"
    assert health(service.address)["database"] == "ok"

    browser = Browser(service.address)
    response = browser.login(COORDINATOR_EMAIL, COORDINATOR_PASSWORD)
    assert response.status == 302, response.text[:2000]
    assert urlsplit(response.header("Location")).path == "/admin/"
    session_cookie = browser.cookie_attributes["session"].lower()
    assert "secure" in session_cookie and "httponly" in session_cookie
    assert "samesite=lax" in session_cookie
    home = browser.get("/admin/")
    assert home.status == 200, home.text[:2000]
    assert COORDINATOR_NAME in html.unescape(home.text)

    # A wrong password is refused the same way (and counted in Redis, under this prefix).
    refused = Browser(service.address).login(COORDINATOR_EMAIL, "pas le bon mot de passe")
    assert refused.status == 422
    assert "Adresse ou mot de passe incorrect." in html.unescape(refused.text)
    import redis

    client = redis.Redis.from_url(service.settings["RATELIMIT_STORAGE_URI"])
    try:
        assert list(client.scan_iter(match=f"*{service.settings['RATELIMIT_KEY_PREFIX']}*"))
    finally:
        client.close()


def test_the_scheduler_started_from_its_unit_writes_its_heartbeat(service):
    scheduler = stack.start_scheduler(unit_env(service.env_file), service.tmp / "scheduler.log")
    try:

        def beat():
            assert scheduler.running(), scheduler.output[-3000:]
            return health(service.address)["scheduler"]

        heartbeat = stack.wait_for(beat, timeout=90, interval=0.5)
        assert heartbeat["sweeps"], heartbeat
        assert heartbeat["seconds_ago"] < 120
    finally:
        code = scheduler.stop()
    assert code == 0, scheduler.output[-3000:]
    assert "Traceback" not in scheduler.output


# --- refusals, each in its own process -----------------------------------------------------------


REFUSED = {
    "missing key": ({"SECRET_KEY": None}, "SECRET_KEY n'est pas définie"),
    "short key": (
        {"SECRET_KEY": "k" * 31},
        "SECRET_KEY est trop courte (31 caractères, 32 au moins)",
    ),
    "development key": (
        {"SECRET_KEY": DEVELOPMENT_SECRET_KEY},
        "SECRET_KEY est la clé de développement",
    ),
    "memory limits": (
        {"RATELIMIT_STORAGE_URI": "memory://", "SINGLE_PROCESS": "false"},
        "RATELIMIT_STORAGE_URI=memory:// compte à part dans chaque processus",
    ),
}


def _unreachable_database() -> str:
    """Where no database answers: a configuration that passed its checks could touch nothing."""
    return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/absent"


@pytest.mark.parametrize("case", list(REFUSED))
def test_production_refuses_to_start_with(case, tmp_path):
    overrides, reason = REFUSED[case]
    settings = production_settings(DATABASE_URL=_unreachable_database(), **overrides)
    env_file = write_env_file(tmp_path / "ateliers-tice.env", settings)

    by_hand = stack.run(
        [DEPLOY / "flask", "db", "upgrade"], shell_env(env_file), cwd=tmp_path, check=False
    )
    assert by_hand.returncode != 0
    assert "Configuration de production refusée" in output(by_hand)
    assert reason in output(by_hand)

    served = stack.run(
        [sys.executable, "-c", "import wsgi"], unit_env(env_file), cwd=ROOT, check=False
    )
    assert served.returncode != 0
    assert reason in output(served)


@pytest.mark.parametrize(
    "overrides",
    [{"SECRET_KEY": "k" * 32}, {"RATELIMIT_STORAGE_URI": "memory://", "SINGLE_PROCESS": "true"}],
    ids=["32-character key", "memory limits in a single process"],
)
def test_production_starts_with(overrides, tmp_path):
    settings = production_settings(DATABASE_URL=_unreachable_database(), **overrides)
    env = unit_env(write_env_file(tmp_path / "ateliers-tice.env", settings))
    script = "import os, wsgi; print(wsgi.app.config['SECRET_KEY'] == os.environ['SECRET_KEY'])"
    done = stack.run([sys.executable, "-c", script], env, cwd=ROOT)
    assert done.stdout.strip() == "True"


def test_gunicorn_refuses_single_process_with_several_workers(tmp_path):
    settings = production_settings(
        DATABASE_URL=_unreachable_database(),
        RATELIMIT_STORAGE_URI="memory://",
        SINGLE_PROCESS="true",
        WEB_WORKERS="2",
        WEB_BIND=f"127.0.0.1:{free_port()}",
    )
    env = unit_env(write_env_file(tmp_path / "ateliers-tice.env", settings))
    web = stack.Process(stack.unit_command("ateliers-tice-web.service"), env, tmp_path / "web.log")
    try:
        stack.wait_for(lambda: not web.running(), timeout=60)
    finally:
        code = web.stop()
    assert code != 0
    assert "SINGLE_PROCESS=true avec WEB_WORKERS=2" in web.output


def test_development_keeps_its_fixed_key_whatever_the_environment_says(tmp_path):
    """The issue's bug: DevelopmentConfig read SECRET_KEY too, so production refused every key
    (or development took the production one). Development's key is its own; production's is the
    environment's."""
    key = secrets.token_urlsafe(48)
    common = {**base_env(), "SECRET_KEY": key, "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.db'}"}
    script = "import wsgi; print(wsgi.app.config['SECRET_KEY'])"
    development = stack.run(
        [sys.executable, "-c", script], {**common, "ATELIERS_ENV": "development"}, cwd=ROOT
    )
    assert development.stdout.strip() == DEVELOPMENT_SECRET_KEY
    production = stack.run(
        [sys.executable, "-c", script],
        {
            **common,
            "ATELIERS_ENV": "production",
            "RATELIMIT_STORAGE_URI": "memory://",
            "SINGLE_PROCESS": "true",
        },
        cwd=ROOT,
    )
    assert production.stdout.strip() == key


# --- the access log and the headers ---------------------------------------------------------------


def secret_requests() -> list[tuple[str, str, str]]:
    """(method, path, secret) for every route of the app whose URL carries a `<token>` or a
    `<code>`, each with its own fake secret shaped like a real token (43 URL-safe characters)."""
    from app import create_app
    from config import TestConfig

    app = create_app(TestConfig)
    requests = []
    for rule in app.url_map.iter_rules():
        if not {"token", "code"} & rule.arguments:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            secret = f"SeCrEt{len(requests):02d}" + secrets.token_urlsafe(32)[:35]
            values = {
                name: secret if name in {"token", "code"} else 2025 for name in rule.arguments
            }
            _, path = rule.build(values, append_unknown=False)
            assert secret in path, (rule, path)
            requests.append((method, path, secret))
    return requests


def test_the_access_log_masks_every_secret_url(service):
    requests = secret_requests()
    paths = {path.split("SeCrEt")[0] for _, path, _ in requests}
    assert {
        "/inscription/",
        "/calendriers/perso/",
        "/attestations/",
        "/connexion/reinitialiser/",
        "/questionnaire/",
    } <= paths, paths
    browser = Browser(service.address)
    for method, path, _ in requests:
        referer = f"https://ateliers.crdp-amiens.fr{path}?source=liste"
        browser.request(
            method, path, headers={"Referer": referer}, form={} if method == "POST" else None
        )

    def expected_line(method: str, path: str, secret: str) -> str:
        masked = path.replace(secret, "***")
        return (
            f'"{method} {masked} HTTP/1.1" ',
            f'"https://ateliers.crdp-amiens.fr{masked}?source=liste"',
        )

    def all_logged():
        log = service.web.output
        return all(
            any(request_line in line and referer in line for line in log.splitlines())
            for request_line, referer in (expected_line(*r) for r in requests)
        )

    stack.wait_for(all_logged, timeout=30)
    log = service.web.output
    for _, _, secret in requests:
        assert secret[:12] not in log  # neither the whole secret nor any part of it
    # The client's address is the one nginx forwarded (ProxyFix, PROXY_COUNT=1).
    masked_lines = [line for line in log.splitlines() if "***" in line]
    assert masked_lines and all(line.startswith(f"{CLIENT_ADDRESS} ") for line in masked_lines)


def merci_paths() -> list[str]:
    from app import create_app
    from config import TestConfig

    rules = create_app(TestConfig).url_map.iter_rules()
    found = [r.build({a: 2025 for a in r.arguments})[1] for r in rules if "/merci" in r.rule]
    assert len(found) >= 3, found
    return found


def test_redact_keeps_the_thank_you_pages_and_masks_full_urls():
    for path in merci_paths():
        assert redact(path) == path
        assert redact(f"GET {path}?source=liste HTTP/1.1") == f"GET {path}?source=liste HTTP/1.1"
    token = "mErCi" + secrets.token_urlsafe(32)[:38]  # a token may begin like "merci"
    referer = f"https://ateliers.crdp-amiens.fr/inscription/{token}/annuler?source=liste#haut"
    assert (
        redact(referer)
        == "https://ateliers.crdp-amiens.fr/inscription/***/annuler?source=liste#haut"
    )
    assert redact(f"/calendriers/perso/{token}.ics") == "/calendriers/perso/***.ics"
    assert redact(f"/rencontres/2025/propositions/{token}/retirer") == (
        "/rencontres/2025/propositions/***/retirer"
    )
    assert redact("/ateliers/12/inscription/merci") == "/ateliers/12/inscription/merci"
    assert redact("/ateliers/12/inscription") == "/ateliers/12/inscription"


def test_the_app_log_masks_secrets_too(caplog):
    """Flask logs an error with its path ("Exception on /inscription/<token> [POST]"): masked
    before any handler (gunicorn's error log, the journal) sees it."""
    from app import create_app
    from tests.conftest import make_config

    app = create_app(make_config("sqlite://"))
    secret = secrets.token_urlsafe(32)
    with caplog.at_level("ERROR", logger=app.logger.name):
        app.logger.error("Exception on %s [%s]", f"/inscription/{secret}/annuler", "POST")
    assert caplog.messages == ["Exception on /inscription/***/annuler [POST]"]


def test_the_server_header_names_no_version(service):
    for path in ("/", "/sante", "/absent"):
        server = Browser(service.address).get(path).header("Server") or ""
        assert not re.search(r"\d", server), server


# --- the example environment file ----------------------------------------------------------------


def settings_read_by_the_code() -> set[str]:
    """Every environment variable the Python code reads: os.environ.get/[…], os.getenv, and
    config's _env_list/_env_bool and gunicorn.conf's _int helpers."""
    files = [
        ROOT / "config.py",
        ROOT / "wsgi.py",
        DEPLOY / "gunicorn.conf.py",
        *(ROOT / "app").rglob("*.py"),
        *(ROOT / "scheduler").rglob("*.py"),
    ]
    names = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            key = None
            if isinstance(node, ast.Call) and node.args:
                func = ast.unparse(node.func)
                if func in {"os.environ.get", "os.getenv", "_env_list", "_env_bool", "_int"}:
                    key = node.args[0]
            elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                names.add(key.value)
    return names


def settings_read_by_the_deployment_files() -> set[str]:
    """$NAME and ${NAME} in the deploy scripts and the nginx site template."""
    files = [DEPLOY / name for name in ("env.sh", "flask", "backup", "restore")]
    files += [path for path in (DEPLOY / "nginx").glob("*") if path.is_file()]
    return {
        name
        for path in files
        for name in re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", path.read_text(encoding="utf-8"))
    }


SETTING_LINE = re.compile(r"^#?([A-Z][A-Z0-9_]*)=")


def test_the_example_environment_file_explains_every_setting():
    """Every setting the code reads is in the example (active, or commented out when optional)
    under a comment: the prose comment that opens its block — settings that share one comment
    follow it without a blank line. Nothing stale, and no test/development-only switch."""
    read = settings_read_by_the_code()
    # The parser sees the code (each kind of reader at least once).
    assert {
        "SECRET_KEY",
        "ALLOWED_EMAIL_DOMAINS",
        "MAIL_USE_TLS",
        "ATELIERS_ENV",
        "WEB_WORKERS",
        "WEB_BIND",
        "SINGLE_PROCESS",
    } <= read

    lines = stack.ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    where = {}
    for number, line in enumerate(lines):
        if match := SETTING_LINE.match(line.strip()):
            where.setdefault(match.group(1), number)

    missing = sorted(read - set(where) - set(NOT_IN_EXAMPLE))
    assert not missing, f"read by the code but absent from the example: {missing}"
    unexplained = []
    for name in sorted(read & set(where)):
        # A prose comment in the block of lines just above (settings may share one comment).
        number, explained = where[name] - 1, False
        while number >= 0 and lines[number].strip() and not explained:
            line = lines[number].strip()
            explained = line.startswith("#") and not SETTING_LINE.match(line)
            number -= 1
        if not explained:
            unexplained.append(name)
    assert not unexplained, f"settings without a comment above them: {unexplained}"
    stale = sorted(set(where) - read - settings_read_by_the_deployment_files())
    assert not stale, f"settings in the example that nothing reads: {stale}"
    for name in NOT_IN_EXAMPLE:
        assert name not in where, f"{name} is test/development only: not in the example"


def test_the_example_file_reads_the_same_in_systemd_and_in_the_shell():
    """deploy/flask and deploy/backup source the file systemd reads: same values both ways."""
    done = stack.run(
        ["bash", "-c", 'set -a; . "$1"; set +a; env -0', "bash", stack.ENV_EXAMPLE],
        base_env(),
        cwd=ROOT,
    )
    shell = dict(item.split("=", 1) for item in done.stdout.split("\0") if "=" in item)
    systemd = stack.read_env_file()
    assert {key: shell.get(key) for key in systemd} == systemd


def test_the_scripts_give_libpq_the_database_without_the_password_on_the_command_line(tmp_path):
    """deploy/env.sh: SQLAlchemy's URL → libpq's scheme, the password (decoded) in PGPASSWORD,
    since `ps` shows command lines to every user of the host."""
    url = "postgresql+psycopg://ateliers:mot de passe %3A p%40ss%2Fw%25rd@db.local:5433/ateliers"
    env_file = write_env_file(tmp_path / "ateliers-tice.env", {"DATABASE_URL": url})
    script = [
        "bash",
        "-euo",
        "pipefail",
        "-c",
        '. "$1"; database_for_libpq; printf "%s\\n%s\\n%s" "$ROOT" "$PG_URL" "${PGPASSWORD-none}"',
        "bash",
        DEPLOY / "env.sh",
    ]
    env = {k: v for k, v in shell_env(env_file).items() if k != "PGPASSWORD"}
    done = stack.run(script, env, cwd=tmp_path)
    assert done.stdout.split("\n") == [
        str(ROOT),
        "postgresql://ateliers@db.local:5433/ateliers",
        "mot de passe : p@ss/w%rd",
    ]
    socket = "postgresql+psycopg://ateliers@/ateliers?host=/run/postgresql"
    write_env_file(env_file, {"DATABASE_URL": socket})
    done = stack.run(script, env, cwd=tmp_path)
    assert done.stdout.split("\n")[1:] == [
        "postgresql://ateliers@/ateliers?host=/run/postgresql",
        "none",
    ]
    write_env_file(env_file, {"DATABASE_URL": "sqlite:////srv/ateliers.sqlite3"})
    refused = stack.run(script, env, cwd=tmp_path, check=False)
    assert refused.returncode == 1 and "n'est pas une base PostgreSQL" in refused.stderr


# --- backup and restore ----------------------------------------------------------------------------


def open_workshop(database_url: str) -> int:
    [(workshop_id,)] = psql(
        database_url,
        """
        SELECT id FROM workshops
        WHERE status = 'published' AND coalesce(registration_deadline, starts_at) > now() + interval '1 day'
        ORDER BY starts_at, id LIMIT 1
    """,
    )
    return workshop_id


def test_backup_and_restore(service):
    tmp = service.tmp
    shell = shell_env(service.env_file)
    # The catalogue (the demo's), then a registration through the running site.
    stack.run(
        [ROOT / ".venv/bin/flask", "--app", "wsgi", "seed-demo"],
        {
            **base_env(),
            "ATELIERS_ENV": "development",
            "DATABASE_URL": service.database_url,
            "MAIL_FILE_DIR": str(tmp / "mail"),
        },
        cwd=ROOT,
    )
    workshop_id = open_workshop(service.database_url)
    page_path = f"/ateliers/{workshop_id}"
    browser = Browser(service.address)
    before = browser.get(page_path)
    assert before.status == 200
    registered = browser.post(
        f"{page_path}/inscription",
        {
            "csrf_token": browser.csrf_token(before),
            "nom": "Martin",
            "prenom": "Léa",
            "courriel": "lea.martin@ac-amiens.fr",
            "ecole": "École Jules Ferry, Amiens",
            "uai": "",
            "site_web": "",
        },
        page=page_path,
    )
    assert registered.status == 303, registered.text[:3000]
    seats = seats_badge(browser.get(page_path))
    assert seats != seats_badge(before)  # one seat taken

    backups = tmp / "sauvegardes"
    done = stack.run([DEPLOY / "backup", backups], shell, cwd=tmp)
    [dump] = backups.iterdir()  # one file, no temporary one left
    assert done.stdout.splitlines()[0] == str(dump)
    assert re.fullmatch(r"ateliers-tice-\d{8}-\d{6}\.dump", dump.name)
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format

    with stack.fresh_database("restored") as admin_url:
        restored_url = owned_by(admin_url, service.role)
        restored_env = write_env_file(
            tmp / "restored.env", {**service.settings, "DATABASE_URL": restored_url}
        )
        done = stack.run([DEPLOY / "restore", dump], shell_env(restored_env), cwd=tmp)
        assert "restaurée" in done.stdout
        owners = psql(
            restored_url, "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
        )
        assert owners == [(service.role[0],)]  # --no-owner: the service's role owns its copy
        address = f"127.0.0.1:{free_port()}"
        web = stack.start_web(unit_env(restored_env), address, tmp / "restored-web.log")
        try:
            assert health(address)["status"] == "ok"
            restored = Browser(address)
            assert seats_badge(restored.get(page_path)) == seats
            # The staff account came along: the coordinator logs in on the restored copy.
            assert restored.login(COORDINATOR_EMAIL, COORDINATOR_PASSWORD).status == 302
        finally:
            web.stop()

    # Restoring over a database that has data is refused, and changes nothing.
    unchanged = plain_dump(service.database_url)
    refused = stack.run([DEPLOY / "restore", dump], shell, cwd=tmp, check=False)
    assert refused.returncode != 0
    assert "Restauration refusée" in refused.stderr
    assert "n'est pas vide" in refused.stderr
    assert_unchanged(unchanged, plain_dump(service.database_url))


def test_backup_keeps_the_last_ones(service):
    """BACKUP_KEEP: older backups beyond it are removed; other files are left alone."""
    backups = service.tmp / "rotation"
    backups.mkdir()
    old = [backups / f"ateliers-tice-2020010{day}-020000.dump" for day in range(1, 5)]
    for path in old:
        path.write_bytes(b"old")
    (backups / "notes.txt").write_text("à garder")
    done = stack.run(
        [DEPLOY / "backup", backups], shell_env(service.env_file, BACKUP_KEEP="3"), cwd=service.tmp
    )
    newest = Path(done.stdout.splitlines()[0])
    assert sorted(p.name for p in backups.iterdir()) == sorted(
        [old[2].name, old[3].name, newest.name, "notes.txt"]
    )


# --- upgrade from the previous release -------------------------------------------------------------


def test_upgrade_from_the_previous_release(tmp_path):
    """The previous release's own `db upgrade` and demo data, then this release's `deploy/flask
    db upgrade` (once, before the new code serves): the schema matches the models, a second
    upgrade changes nothing, and the new site serves the old data."""
    require_postgresql()
    found = subprocess.run(
        ["git", "-C", ROOT, "rev-parse", "--verify", "--quiet", f"{PREVIOUS_RELEASE}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    require(found.returncode == 0, f"the previous release {PREVIOUS_RELEASE} is not in this clone")
    commit = found.stdout.strip()
    old = tmp_path / "previous"
    old.mkdir()
    stack.run(f"git -C '{ROOT}' archive {commit} | tar -x -C '{old}'", base_env())

    with stack.fresh_database("upgrade") as database_url:
        previous = {
            **base_env(),
            "ATELIERS_ENV": "development",
            "DATABASE_URL": database_url,
            "MAIL_FILE_DIR": str(tmp_path / "mail"),
        }
        flask = [ROOT / ".venv/bin/flask", "--app", "wsgi"]
        # That flask runs the previous release's code, not this checkout's.
        located = stack.run(
            [*flask, "shell"], previous, cwd=old, input="import app; print(app.__file__)\n"
        )
        assert str(old / "app" / "__init__.py") in located.stdout, output(located)
        stack.run([*flask, "db", "upgrade"], previous, cwd=old)
        assert "créées" in stack.run([*flask, "seed-demo"], previous, cwd=old).stdout
        [(previous_revision,)] = psql(database_url, "SELECT version_num FROM alembic_version")

        settings = production_settings(
            DATABASE_URL=database_url,
            RATELIMIT_STORAGE_URI="memory://",
            SINGLE_PROCESS="true",
            WEB_WORKERS="1",
            MAIL_FILE_DIR=str(tmp_path / "mail"),
        )
        env_file = write_env_file(tmp_path / "ateliers-tice.env", settings)
        shell = shell_env(env_file)
        stack.run([DEPLOY / "flask", "db", "upgrade"], shell, cwd=tmp_path)
        heads = stack.run([DEPLOY / "flask", "db", "heads"], shell, cwd=tmp_path).stdout.split()
        [(revision,)] = psql(database_url, "SELECT version_num FROM alembic_version")
        assert revision == heads[0], (previous_revision, revision, heads)
        checked = stack.run([DEPLOY / "flask", "db", "check"], shell, cwd=tmp_path)
        assert "No new upgrade operations detected" in output(checked)

        # Idempotent: a second upgrade runs nothing and changes nothing.
        upgraded = plain_dump(database_url)
        again = stack.run([DEPLOY / "flask", "db", "upgrade"], shell, cwd=tmp_path)
        assert "Running upgrade" not in output(again)
        assert_unchanged(upgraded, plain_dump(database_url))

        titles = [
            title
            for (title,) in psql(
                database_url,
                """
            SELECT title FROM workshops WHERE status = 'published' AND starts_at > now()
            ORDER BY starts_at, id LIMIT 3
        """,
            )
        ]
        assert titles
        address = f"127.0.0.1:{free_port()}"
        web = stack.start_web(unit_env(env_file), address, tmp_path / "web.log")
        try:
            assert health(address)["status"] == "ok"
            catalogue = Browser(address).get("/ateliers")
            assert catalogue.status == 200
            text = html.unescape(catalogue.text)
            assert all(title in text for title in titles), titles
        finally:
            web.stop()
