"""The application factory: binds extensions, registers blueprints, error pages and commands.

No side effects: no migration, no database creation, no network here.
"""

import hashlib
import logging
import os
from functools import cache
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app import extensions as ext
from app.secret_paths import redact

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def create_app(config=None) -> Flask:
    """Build the app from a config class, or from the one `ATELIERS_ENV` names."""
    config = config or _config_from_environment()
    if hasattr(config, "validate"):
        config.validate()
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_object(config)
    _register_extensions(app)
    _register_security(app)  # before the blueprints: its after_request runs after theirs
    _register_blueprints(app)
    _register_templating(app)
    _register_static_versions(app)
    _register_errors(app)
    _register_logging(app)
    _register_commands(app)
    if proxies := app.config["PROXY_COUNT"]:
        # The client's address (rate limits, audit) and https (Secure cookies, CSRF's referrer
        # check, links) as the proxy saw them; values a client forged further left are ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    return app


def _config_from_environment():
    from config import CONFIGS

    name = os.environ.get("ATELIERS_ENV", "production")
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"ATELIERS_ENV={name!r}: expected one of {', '.join(CONFIGS)}") from None


def _register_extensions(app: Flask) -> None:
    from app import models  # noqa: F401  (every table known to Alembic and to relationships)

    ext.db.init_app(app)
    ext.migrate.init_app(app, ext.db, directory=str(MIGRATIONS_DIR))
    ext.mail.init_app(app)
    ext.csrf.init_app(app)
    ext.limiter.init_app(app)
    ext.login_manager.init_app(app)


def _register_security(app: Flask) -> None:
    from app import security

    security.register(app)


def _register_blueprints(app: Flask) -> None:
    from app.admin.figures_views import blueprint as figures
    from app.admin.programme_views import blueprint as programme
    from app.admin.views import blueprint as admin
    from app.attendance.checkin_views import blueprint as checkin
    from app.attendance.followup_views import blueprint as followup
    from app.attendance.views import blueprint as attendance
    from app.booking.views import blueprint as booking
    from app.calendars.views import blueprint as calendars
    from app.catalog.views import blueprint as catalog
    from app.exchange.attendee_admin_views import blueprint as exchange_attendees
    from app.exchange.planning_views import blueprint as exchange_planning
    from app.exchange.proposal_views import blueprint as exchange_proposals
    from app.exchange.review_views import blueprint as exchange_review
    from app.exchange.setup_views import blueprint as exchange_setup
    from app.exchange.views import blueprint as exchange
    from app.mail.views import blueprint as mail_templates
    from app.pages import blueprint as pages
    from app.staff.views import blueprint as staff
    from app.teachers.views import blueprint as teachers

    app.register_blueprint(pages)
    app.register_blueprint(catalog)
    app.register_blueprint(booking)
    app.register_blueprint(teachers)
    app.register_blueprint(calendars)
    app.register_blueprint(mail_templates)
    app.register_blueprint(staff)
    app.register_blueprint(attendance)
    app.register_blueprint(admin)
    app.register_blueprint(figures)
    app.register_blueprint(programme)
    app.register_blueprint(checkin)
    app.register_blueprint(followup)
    app.register_blueprint(exchange)
    app.register_blueprint(exchange_proposals)
    app.register_blueprint(exchange_setup)
    app.register_blueprint(exchange_review)
    app.register_blueprint(exchange_planning)
    app.register_blueprint(exchange_attendees)
    if app.config["BENCH_ENDPOINTS"]:
        from app.bench_views import blueprint as bench

        app.register_blueprint(bench)


def _register_templating(app: Flask) -> None:
    from app import formatting

    formatting.register_filters(app)


def _register_static_versions(app: Flask) -> None:
    """`url_for('static', …)` carries the file's hash (`?v=…`): nginx lets browsers keep static
    files for a year, and a new release's files have new URLs."""

    @cache
    def version(filename: str) -> str | None:
        try:
            content = (Path(app.static_folder) / filename).read_bytes()
        except OSError:
            return None
        return hashlib.sha256(content).hexdigest()[:12]

    @app.url_defaults
    def add_version(endpoint: str, values: dict) -> None:
        if (
            endpoint == "static"
            and "v" not in values
            and (v := version(values.get("filename", "")))
        ):
            values["v"] = v


def _register_errors(app: Flask) -> None:
    from app import errors

    errors.register(app)


class _SecretsMasked(logging.Filter):
    """Masks the secret segment of links in what the app logs ("Exception on /inscription/…")."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        return True


def _register_logging(app: Flask) -> None:
    if not any(isinstance(f, _SecretsMasked) for f in app.logger.filters):
        app.logger.addFilter(_SecretsMasked())


def _register_commands(app: Flask) -> None:
    from app.commands import register

    register(app)
