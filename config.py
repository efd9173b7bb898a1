"""Configuration, read from the environment.

`ATELIERS_ENV` names the configuration `wsgi.py` builds: `production` when unset, `development` for
`make run`. Tests pass their own class to `create_app`.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _env_list(name: str) -> list[str]:
    return [item.strip().lower() for item in os.environ.get(name, "").split(",") if item.strip()]


#: Development's fixed key, written here in the open: production refuses it.
DEVELOPMENT_SECRET_KEY = "dev-only-not-secret"
#: Production refuses a shorter SECRET_KEY (`python3 -c "import secrets; print(secrets.token_urlsafe(48))"`).
SECRET_KEY_MIN_LENGTH = 32


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'ateliers.sqlite3'}"
    )
    #: On PostgreSQL, one pooled connection per gunicorn thread (WEB_THREADS, gunicorn.conf.py):
    #: with a smaller pool, every request beyond it opens a connection and closes it after (a new
    #: PostgreSQL backend each time: seen in bench/registration_burst.py --stack deployed).
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True} | (
        {"pool_size": int(os.environ.get("WEB_THREADS", "8")), "max_overflow": 4}
        if SQLALCHEMY_DATABASE_URI.startswith("postgresql")
        else {}
    )

    #: Every link in mails, PDFs, QR codes and calendars is built from this (no request there).
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/")

    #: Registrations accept only these e-mail domains when set, e.g. "ac-amiens.fr".
    ALLOWED_EMAIL_DOMAINS = _env_list("ALLOWED_EMAIL_DOMAINS")
    #: The teachers' mailing lists the programme is sent to, e.g. "ecoles-somme@ac-amiens.fr".
    PROGRAMME_LIST_ADDRESSES = _env_list("PROGRAMME_LIST_ADDRESSES")

    MAIL_SERVER = os.environ.get("MAIL_SERVER")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS")
    MAIL_USE_SSL = _env_bool("MAIL_USE_SSL")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get(
        "MAIL_DEFAULT_SENDER", "Ateliers TICE – CRDP d'Amiens <ateliers-tice@ac-amiens.fr>"
    )
    #: Where answers to the automatic mails go (the CRDP's contact address), if anywhere.
    MAIL_REPLY_TO = os.environ.get("MAIL_REPLY_TO")
    MAIL_SUPPRESS_SEND = False
    #: Without MAIL_SERVER, delivery writes each mail as an .eml file here.
    MAIL_FILE_DIR = os.environ.get("MAIL_FILE_DIR", str(INSTANCE_DIR / "mail"))
    #: Mails claimed per delivery run (one SMTP connection each).
    MAIL_BATCH_SIZE = int(os.environ.get("MAIL_BATCH_SIZE", "100"))
    #: A delivery run's claimed mails go back to the outbox when its heartbeat (beaten every
    #: sixth of this) is older than this: a scheduler killed mid-batch holds them about a minute.
    MAIL_CLAIM_TIMEOUT_SECONDS = float(os.environ.get("MAIL_CLAIM_TIMEOUT_SECONDS", "60"))
    MAIL_SMTP_TIMEOUT = 30

    #: Names and addresses are anonymised this long after the workshop ended: the
    #: current and the previous school year stay whole for certificates and the committee.
    PERSONAL_DATA_RETENTION_DAYS = int(os.environ.get("PERSONAL_DATA_RETENTION_DAYS", "730"))

    #: The largest real form (a workshop's description, a proposal's summary, the programme's
    #: introduction) weighs a few kilobytes: a larger body is refused with 413 before it is
    #: parsed (nginx lets 1 MB through to the app, deploy/nginx).
    MAX_CONTENT_LENGTH = 256 * 1024
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    WTF_I18N_ENABLED = False  # WTForms' own French messages (app.forms.Form), not Flask-Babel's
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"

    #: `memory://` counts per process: several workers or hosts need a shared store (redis://…).
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    #: Prefix of the limits' keys in that store (several services may share one Redis).
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "ateliers-tice")
    #: "10 per 15 minutes" means in any 15 minutes, not per quarter of the clock: a fixed window
    #: would let 20 attempts through around a boundary (and make the limit tests depend on it).
    RATELIMIT_STRATEGY = "moving-window"
    #: Redis unreachable: each process counts in memory meanwhile rather than refusing requests.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 2}
    #: The deployment runs one web process (one gunicorn worker): only then is memory:// exact.
    SINGLE_PROCESS = _env_bool("SINGLE_PROCESS")
    RATELIMIT_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    #: Registrations per e-mail address, and per client address (a whole school may share one).
    RATELIMIT_REGISTRATION_PER_EMAIL = "10 per hour"
    RATELIMIT_REGISTRATION_PER_IP = "300 per minute"
    #: Staff logins: attempts per client address, and per account name.
    RATELIMIT_LOGIN_PER_IP = "30 per minute"
    RATELIMIT_LOGIN_PER_EMAIL = "10 per 15 minutes"
    #: The demo accounts and their printed passwords (development and tests only).
    DEMO_ACCOUNTS = False
    #: Number of reverse proxies in front of the app: the client's address and scheme are read
    #: from that many X-Forwarded-For / X-Forwarded-Proto values (nginx: 1).
    PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))

    #: Reminders to confirmed teachers: days before the workshop, sent at this local hour.
    REMINDER_DAYS_BEFORE = (2,)
    REMINDER_LOCAL_HOUR = 17
    #: The trainer's list of who is coming, the evening before, at this local hour.
    TRAINER_LIST_LOCAL_HOUR = 18
    #: A notice found later than this before the start is no longer useful: dropped and logged.
    NOTICE_USEFUL_UNTIL_HOURS_BEFORE = 2

    #: No automatic promotion from the waiting list this close to the start.
    PROMOTION_CUTOFF_HOURS = 2

    #: Test-only switches; ProductionConfig refuses them.
    SEAT_LOCK_ENABLED = True
    SEAT_RACE_PAUSE = 0.0
    CLOCK = None  # a callable returning an aware UTC datetime, or None for the real clock
    BENCH_ENDPOINTS = False

    #: Seconds between two runs of each sweep, and between two tries of a standby scheduler.
    SCHEDULER_DELIVERY_SECONDS = float(os.environ.get("SCHEDULER_DELIVERY_SECONDS", "5"))
    SCHEDULER_NOTICES_SECONDS = float(os.environ.get("SCHEDULER_NOTICES_SECONDS", "60"))
    SCHEDULER_ELECTION_SECONDS = float(os.environ.get("SCHEDULER_ELECTION_SECONDS", "10"))
    #: On PostgreSQL, one active scheduler among several; off only to race sweepers in tests.
    SCHEDULER_ELECTION = _env_bool("SCHEDULER_ELECTION", default=True)

    #: Calendar feeds: rendered bytes are reused while their data has not changed, and at most
    #: this long (edits of a site, room, topic or trainer touch no workshop row).
    FEED_CACHE_SECONDS = 300
    #: Rendered feeds kept in memory per process (the public ones, then personal ones).
    FEED_CACHE_SIZE = 2000


class DevelopmentConfig(Config):
    SECRET_KEY = DEVELOPMENT_SECRET_KEY
    DEMO_ACCOUNTS = True


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True

    @classmethod
    def validate(cls) -> None:
        """Refuse to start with settings that are only fit for development or tests."""
        problems = []
        if not cls.SECRET_KEY:
            problems.append(
                "SECRET_KEY n'est pas définie (pour en tirer une : "
                'python3 -c "import secrets; print(secrets.token_urlsafe(48))")'
            )
        elif cls.SECRET_KEY == DEVELOPMENT_SECRET_KEY:
            problems.append("SECRET_KEY est la clé de développement")
        elif len(cls.SECRET_KEY) < SECRET_KEY_MIN_LENGTH:
            problems.append(
                f"SECRET_KEY est trop courte ({len(cls.SECRET_KEY)} caractères, "
                f"{SECRET_KEY_MIN_LENGTH} au moins)"
            )
        if cls.RATELIMIT_STORAGE_URI.startswith("memory://") and not cls.SINGLE_PROCESS:
            problems.append(
                "RATELIMIT_STORAGE_URI=memory:// compte à part dans chaque processus : indiquer "
                "redis://… (ou SINGLE_PROCESS=true pour un déploiement d'un seul processus web)"
            )
        if not cls.SEAT_LOCK_ENABLED or cls.SEAT_RACE_PAUSE:
            problems.append("le verrou des places ne peut être ni désactivé ni retardé")
        if cls.DEMO_ACCOUNTS:
            problems.append("les comptes de démonstration et leurs mots de passe sont refusés")
        if cls.CLOCK is not None or cls.BENCH_ENDPOINTS:
            problems.append("les horloges de test et les points de mesure sont refusés")
        if problems:
            raise RuntimeError("Configuration de production refusée : " + " ; ".join(problems))


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret"
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    PUBLIC_BASE_URL = "http://ateliers.test"
    SERVER_NAME = None
    MAIL_SERVER = None
    MAIL_SUPPRESS_SEND = False
    WTF_CSRF_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"
    DEMO_ACCOUNTS = True


CONFIGS = {
    "production": ProductionConfig,
    "development": DevelopmentConfig,
    "test": TestConfig,
}
