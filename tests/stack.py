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
    env = {key: value for key, value in os.environ.items() if not key.startswith(_APP_SETTINGS)}
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
_APP_SETTINGS = (
    "ATELIERS_", "SECRET_KEY", "DATABASE_URL", "PUBLIC_BASE_URL", "PROXY_COUNT", "RATELIMIT_",
    "SINGLE_PROCESS", "MAIL_", "ALLOWED_EMAIL_DOMAINS", "PROGRAMME_LIST_ADDRESSES", "WEB_",
    "SCHEDULER_", "PERSONAL_DATA_RETENTION_DAYS",
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
            argv, cwd=cwd, env=env, stdout=self._file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
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


def run(argv: list[str] | str, env: dict[str, str], timeout: float = 300, **kwargs):
    """A command to its end (bash for a string, as written in the README): CompletedProcess;
    its output is in the assertion message when it fails."""
    if isinstance(argv, str):
        argv = ["bash", "-euo", "pipefail", "-c", argv]
    done = subprocess.run(
        argv, cwd=kwargs.pop("cwd", ROOT), env=env, capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL, **kwargs,
    )
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
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
