"""The production stack, started the way the deployment files say, for the tests and the benches.

Nothing here patches a configuration class: each process is started from the command line of its
systemd unit (`deploy/systemd/*.service`, with /srv/ateliers-tice read as this checkout), with the
environment its `EnvironmentFile=` gives — the example file `deploy/ateliers-tice.env.example`,
read the way systemd reads it — plus the few values a test must change (its database, its
addresses, its mail server).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
ENV_EXAMPLE = DEPLOY / "ateliers-tice.env.example"
UNITS = DEPLOY / "systemd"
#: Where the units (and the README) say the checkout lives on a server.
INSTALL_DIR = "/srv/ateliers-tice"


def wait_for(condition: Callable[[], object], timeout: float = 60.0, interval: float = 0.1):
    """Poll `condition` until it returns something true (returned), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout} s: {condition}")
        time.sleep(interval)


# --- configuration files, read as systemd reads them ------------------------------------------


def read_env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """KEY=VALUE lines of a systemd EnvironmentFile (comments and blank lines skipped)."""
    values = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ValueError(f"{path}:{number}: not KEY=VALUE: {line!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def unit_section(name: str, section: str = "Service") -> dict[str, str]:
    """One section of a unit file (`ateliers-tice-web.service`…), as key → value."""
    values, current = {}, None
    for line in (UNITS / name).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def unit_command(name: str) -> list[str]:
    """The unit's ExecStart, with the install directory read as this checkout."""
    service = unit_section(name)
    assert service["WorkingDirectory"] == INSTALL_DIR, service
    return shlex.split(service["ExecStart"].replace(INSTALL_DIR, str(ROOT)))


def production_env(**overrides: str) -> dict[str, str]:
    """The example environment file, a fresh secret, and `overrides` (None removes a setting)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(APP_SETTINGS)}
    env.update(read_env_file())
    env["SECRET_KEY"] = secrets.token_urlsafe(48)
    env.pop("MAIL_SERVER", None)  # no relay unless a test gives its own
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


#: Settings of the app left in the test runner's environment would leak into the processes.
APP_SETTINGS = (
    "ATELIERS_",
    "SECRET_KEY",
    "DATABASE_URL",
    "PUBLIC_BASE_URL",
    "PROXY_COUNT",
    "RATELIMIT_",
    "SINGLE_PROCESS",
    "MAIL_",
    "ALLOWED_EMAIL_DOMAINS",
    "PROGRAMME_LIST_ADDRESSES",
    "WEB_",
    "SCHEDULER_",
    "PERSONAL_DATA_RETENTION_DAYS",
)


# --- databases ----------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(prefix: str = "deploy") -> Iterator[str]:
    """An empty PostgreSQL database of its own on TEST_DATABASE_URL's server: its URL; dropped
    after (with whatever still connects to it)."""
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(os.environ["TEST_DATABASE_URL"])
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = base.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def libpq_url(database_url: str) -> str:
    """The same database as a URL for psql, pg_dump and pg_restore (no SQLAlchemy driver)."""
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


# --- processes ----------------------------------------------------------------------------------


class Process:
    """A command in its own process group, its output in a log file a test can read."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT):
        self.argv, self.log = argv, log
        self._file = open(log, "ab")  # noqa: SIM115  (closed in stop())
        self.popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=self._file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def running(self) -> bool:
        return self.popen.poll() is None

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signum)

    def kill(self) -> None:
        """SIGKILL to the whole group (a gunicorn master and its workers die at once)."""
        self.signal_group(signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self, timeout: float = 40) -> int:
        """SIGTERM, as systemd stops a unit; SIGKILL if it does not end in time."""
        if self.running():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.popen.wait(timeout=30)
        self.signal_group(signal.SIGKILL)  # workers a dead master left behind
        self._file.close()
        return self.popen.returncode


def run(
    argv: list | str,
    env: dict[str, str],
    *,
    cwd: Path = ROOT,
    input: str = "",
    check: bool = True,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    """A command to its end (bash for a string, as written in the README), in a session of its
    own (no terminal: a password prompt reads `input`); its output is in the assertion message
    when `check` fails."""
    argv = (
        ["bash", "-euo", "pipefail", "-c", argv] if isinstance(argv, str) else list(map(str, argv))
    )
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        start_new_session=True,
    )
    if check:
        assert done.returncode == 0, (
            f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done


def start_web(env: dict[str, str], bind: str, log: Path, **overrides: str) -> Process:
    """One app instance (gunicorn, as its unit starts it) on `bind`, once it answers /sante."""
    process = Process(
        unit_command("ateliers-tice-web.service"), {**env, "WEB_BIND": bind, **overrides}, log
    )
    wait_until_healthy(f"http://{bind}", process)
    return process


def start_scheduler(env: dict[str, str], log: Path, **overrides: str) -> Process:
    return Process(unit_command("ateliers-tice-scheduler.service"), {**env, **overrides}, log)


def wait_until_healthy(base_url: str, process: Process | None = None, timeout: float = 90) -> None:
    def healthy():
        if process is not None and not process.running():
            raise AssertionError(f"{process.argv} exited:\n{process.output[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/sante", timeout=5) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    wait_for(healthy, timeout=timeout, interval=0.2)


# --- nginx in front, over TLS (the deployment test) ------------------------------------------------

NGINX = Path("/usr/sbin/nginx")
#: The site file, a template for envsubst; its header gives the command that renders it.
NGINX_SITE = DEPLOY / "nginx" / "ateliers-tice.conf"
#: Where that command (and the README) writes the rendered site.
NGINX_SITE_TARGET = "/etc/nginx/sites-available/ateliers-tice"


def free_port_on(host: str) -> int:
    """A TCP port nothing listens on (right now) on `host` (any of 127.0.0.0/8 on Linux)."""
    import socket

    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def self_signed_certificate(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A certificate for `host` (an IP address or a name) and its key, PEM, made with the openssl
    CLI. It is its own authority: a client trusts it with `tls_context(certificate)`."""
    import ipaddress

    try:
        ipaddress.ip_address(host)
        alt_name = f"IP:{host}"
    except ValueError:
        alt_name = f"DNS:{host}"
    directory.mkdir(parents=True, exist_ok=True)
    certificate, key = directory / "certificate.pem", directory / "key.pem"
    run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
            "-days",
            "2",
            "-subj",
            f"/CN={host}",
            "-addext",
            f"subjectAltName={alt_name}",
        ],
        env=dict(os.environ),
        timeout=60,
    )
    return certificate, key


def tls_context(certificate: Path):
    """A client TLS context trusting only `certificate` (build it once: each costs ~0.1 s)."""
    import ssl

    return ssl.create_default_context(cafile=str(certificate))


def nginx_envsubst_command() -> str:
    """The envsubst command written in the site file's header (the one the README gives)."""
    import re

    for line in NGINX_SITE.read_text(encoding="utf-8").splitlines():
        found = re.fullmatch(r"#\s+(envsubst '[^']+' < \S+ > \S+)\s*", line)
        if found:
            return found[1]
    raise AssertionError(f"{NGINX_SITE}: no `envsubst '…' < … > …` line in its header")


def nginx_template_variables() -> set[str]:
    """The ${NAME} placeholders of the site template (nginx's own variables are lower case)."""
    import re

    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", NGINX_SITE.read_text(encoding="utf-8")))


def render_nginx_site(values: dict[str, str], target: Path) -> Path:
    """The site rendered to `target` by the header's own command, with `values` exported."""
    command = nginx_envsubst_command().replace(NGINX_SITE_TARGET, shlex.quote(str(target)))
    run(command, env={**os.environ, **values}, timeout=60)
    return target


class Nginx(Process):
    """nginx in the foreground (`-g 'daemon off;'`) with a main configuration of its own under
    `directory` (pid, error log, temporary files), `http { include mime.types; include site; }`,
    as Debian's /etc/nginx/nginx.conf includes the sites."""

    def __init__(self, directory: Path, site: Path, workers: int = 2):
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.conf = directory / "nginx.conf"
        # As root, nginx's workers would run as `nobody`, who cannot enter pytest's 0700 temp
        # directories (temporary files of large bodies and responses): keep them as this user.
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp = "\n".join(
            f"    {kind}_temp_path {directory / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        self.conf.write_text(
            f"{user}worker_processes {workers};\n"
            f"pid {directory / 'nginx.pid'};\n"
            f"error_log {directory / 'error.log'} warn;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            "    include /etc/nginx/mime.types;\n"
            "    default_type application/octet-stream;\n"
            "    sendfile on;\n"
            f"{temp}\n"
            f"    include {site};\n"
            "}\n",
            encoding="utf-8",
        )
        argv = [
            str(NGINX),
            "-p",
            str(directory),
            "-e",
            str(directory / "error.log"),
            "-c",
            str(self.conf),
        ]
        run([*argv, "-t"], env=dict(os.environ), timeout=60)
        super().__init__([*argv, "-g", "daemon off;"], dict(os.environ), directory / "nginx.log")

    def wait_until_serving(self, url: str, verify, timeout: float = 30) -> None:
        """Until `url` answers anything over HTTP(S) through nginx."""
        import httpx

        def serving():
            if not self.running():
                raise AssertionError(f"nginx exited:\n{self.output[-3000:]}")
            try:
                httpx.get(url, verify=verify, timeout=5, trust_env=False)
            except httpx.TransportError:
                return False
            return True

        wait_for(serving, timeout=timeout, interval=0.1)


def browser_like_client(base_url: str, verify, *, local_address: str | None = None, **options):
    """An httpx client that behaves as a browser where the app cares: its own cookies, and on a
    POST the page it last loaded as `Referer` (Flask-WTF refuses a POST over https without a
    same-origin Referer). `local_address` binds its connections to that source address, so that
    nginx sees it as another client (any of 127.0.0.0/8)."""
    import httpx

    last_page: list[str] = []

    def on_request(request: httpx.Request) -> None:
        if request.method == "POST" and "referer" not in request.headers and last_page:
            request.headers["Referer"] = last_page[-1]

    def on_response(response: httpx.Response) -> None:
        if response.request.method == "GET" and response.headers.get("content-type", "").startswith(
            "text/html"
        ):
            last_page[:] = [str(response.request.url)]

    transport = httpx.HTTPTransport(verify=verify, local_address=local_address)
    return httpx.Client(
        base_url=base_url,
        transport=transport,
        trust_env=False,
        event_hooks={"request": [on_request], "response": [on_response]},
        **{"timeout": 60, **options},
    )


class NginxFront:
    """nginx in front of app instances, as deploy/nginx says: a certificate for 127.0.0.1, the
    upstream file listing the instances (`binds`), the site rendered by the header's envsubst
    command, on two free ports (https, and http that redirects). `start()` once the instances
    serve; `base_url` and `certificate` are known before (PUBLIC_BASE_URL needs them)."""

    HOST = "127.0.0.1"

    def __init__(self, directory: Path, binds: list[str]):
        self.directory = directory
        (directory / "logs").mkdir(parents=True, exist_ok=True)
        self.https_port = free_port_on(self.HOST)
        self.http_port = wait_for(
            lambda: (port := free_port_on(self.HOST)) != self.https_port and port
        )
        self.base_url = f"https://{self.HOST}:{self.https_port}"
        self.http_url = f"http://{self.HOST}:{self.http_port}"
        self.certificate, key = self_signed_certificate(directory / "tls", self.HOST)
        self.verify = tls_context(self.certificate)
        upstream = directory / "ateliers-tice-upstream.conf"
        upstream.write_text(
            "".join(f"server {bind} max_fails=1 fail_timeout=10s;\n" for bind in binds),
            encoding="utf-8",
        )
        self.site = render_nginx_site(
            {
                "SERVER_NAME": self.HOST,
                "PUBLIC_BASE_URL": self.base_url,
                "HTTP_PORT": str(self.http_port),
                "HTTPS_PORT": str(self.https_port),
                "TLS_CERTIFICATE": str(self.certificate),
                "TLS_CERTIFICATE_KEY": str(key),
                "APP_DIR": str(ROOT),
                "LOG_DIR": str(directory / "logs"),
                "UPSTREAM_CONF": str(upstream),
            },
            directory / "ateliers-tice.site.conf",
        )
        self.nginx: Nginx | None = None

    @property
    def access_log(self) -> Path:
        return self.directory / "logs" / "ateliers-tice-access.log"

    def start(self) -> Nginx:
        self.nginx = Nginx(self.directory / "nginx", self.site)
        self.nginx.wait_until_serving(f"{self.base_url}/sante", self.verify)
        return self.nginx

    def pids(self) -> list[int]:
        """nginx's master and workers (for the benches' CPU accounting)."""
        if self.nginx is None:
            return []
        master = self.nginx.pid
        try:
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        except OSError:
            children = []
        return [master, *map(int, children)]

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
