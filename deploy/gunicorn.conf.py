"""gunicorn's settings for Ateliers TICE: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

Read from the environment (the systemd unit loads /etc/ateliers-tice/ateliers-tice.env):
  WEB_BIND     address:port to listen on, behind nginx (default 127.0.0.1:8000); several
               addresses separated by commas
  WEB_WORKERS  worker processes (default: one per core, at least 2)
  WEB_THREADS  threads per worker (default 8): requests mostly wait on PostgreSQL
  WEB_TIMEOUT  seconds before a stuck worker is killed and replaced (default 30)

The access log goes to standard output (the journal under systemd), one line per request, with
the real client address and the secrets of management, feed, reset and
certificate links masked (app/secret_paths.py). The `Server` header names no version.
"""

import os
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gunicorn.glogging import Logger  # noqa: E402

from app.secret_paths import redact  # noqa: E402


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"{name}={value!r} : un nombre entier d'au moins 1 est attendu")
    return int(value)


chdir = str(ROOT)
wsgi_app = "wsgi:app"
bind = [address.strip() for address in os.environ.get("WEB_BIND", "127.0.0.1:8000").split(",")]
worker_class = "gthread"
workers = _int("WEB_WORKERS", max(os.cpu_count() or 1, 2))
threads = _int("WEB_THREADS", 8)
timeout = _int("WEB_TIMEOUT", 30)
graceful_timeout = 30
keepalive = 5  # nginx keeps upstream connections open (its `keepalive` directive)
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
proc_name = "ateliers-tice"

if (
    os.environ.get("SINGLE_PROCESS", "").strip().lower() in {"1", "true", "yes", "on"}
    and workers > 1
):
    raise SystemExit(
        f"SINGLE_PROCESS=true avec WEB_WORKERS={workers} : les limites comptées en mémoire le "
        "seraient une fois par worker ; un seul worker, ou Redis (RATELIMIT_STORAGE_URI=redis://…)"
    )

accesslog = "-"
errorlog = "-"
# %(h)s is the client's address: the app's ProxyFix (PROXY_COUNT) has read it from nginx.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s"'
control_socket_disable = True  # no gunicornc here: and several instances may share a host


class RedactingLogger(Logger):
    """gunicorn's logger, with the secret segments of paths and referrers masked."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q", "f", "{referer}i"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms


logger_class = RedactingLogger


def post_worker_init(worker):
    """Each worker, once started, imports WeasyPrint and lays out a first page in the background
    (app.pdf.warm_up): the first figures PDF or poster then takes its own rendering time, not a
    second more (measured by bench/figures_pdf.py)."""
    from app.pdf import warm_up

    threading.Thread(target=warm_up, name="pdf-warm-up", daemon=True).start()
