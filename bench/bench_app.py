"""The app as the benchmarks serve it: `gunicorn bench.bench_app:app`.

Bench-only settings: the bench PostgreSQL database (`BENCH_DATABASE_URL`), no CSRF and no rate
limit (64 clients on one address would hit the per-IP limit), no SMTP (mails stay in the outbox:
the web path only writes them), and the ceiling endpoints of `app/bench_views.py`.
"""

import os

from app import create_app
from config import Config

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench"


class BenchConfig(Config):
    SECRET_KEY = "bench-only-not-secret"
    SQLALCHEMY_DATABASE_URI = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    #: One connection per gunicorn thread (BENCH_THREADS), a little overflow for safety.
    SQLALCHEMY_ENGINE_OPTIONS = {
        "pool_pre_ping": True,
        "pool_size": int(os.environ.get("BENCH_THREADS", "8")),
        "max_overflow": 4,
    }
    PUBLIC_BASE_URL = "http://ateliers.bench"
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"
    MAIL_SERVER = None
    BENCH_ENDPOINTS = True


app = create_app(BenchConfig)
