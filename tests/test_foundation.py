"""The skeleton: configurations, migrations, commands, the scheduler process, French dates."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app import create_app
from app.catalog.models import Site, Workshop
from app.extensions import db
from app.formatting import datetime_fr, timespan_fr
from config import ProductionConfig

ROOT = Path(__file__).resolve().parent.parent


def production(**settings):
    """A production configuration that passes every check, but for `settings`.

    Only for the switches no environment variable sets (the seat lock, the test clock…): the
    environment's own settings are tried in a real process, in test_production.py."""
    settings = {"SECRET_KEY": "a-real-secret-" + "x" * 32, "SINGLE_PROCESS": True, **settings}
    return type("Prod", (ProductionConfig,), settings)


@pytest.mark.parametrize(
    "setting",
    [
        {"SEAT_LOCK_ENABLED": False},
        {"SEAT_RACE_PAUSE": 0.1},
        {"CLOCK": lambda: None},
        {"BENCH_ENDPOINTS": True},
    ],
)
def test_production_refuses_test_only_switches(setting):
    with pytest.raises(RuntimeError, match="Configuration de production refusée"):
        create_app(production(**setting))


def test_static_urls_carry_the_files_hash_so_a_release_changes_them(app):
    """nginx lets browsers keep /static/ a year: the URL names the content (its hash)."""
    import hashlib

    from flask import url_for

    expected = hashlib.sha256((ROOT / "app/static/style.css").read_bytes()).hexdigest()[:12]
    client = app.test_client()
    assert f'href="/static/style.css?v={expected}"' in client.get("/").get_data(as_text=True)
    with client.get(f"/static/style.css?v={expected}") as response:
        assert response.status_code == 200
    with app.test_request_context():
        assert url_for("static", filename="absent.css") == "/static/absent.css"


def test_unknown_environment_is_refused(monkeypatch):
    monkeypatch.setenv("ATELIERS_ENV", "staging")
    with pytest.raises(RuntimeError, match="ATELIERS_ENV"):
        create_app()


def test_migrations_match_the_models(app):
    context = MigrationContext.configure(db.session.connection())
    assert compare_metadata(context, db.metadata) == []


def test_seed_demo_is_idempotent(app, clock):
    runner = app.test_cli_runner()
    assert "créées" in runner.invoke(args=["seed-demo"]).output
    assert "rien n'a été ajouté" in runner.invoke(args=["seed-demo"]).output

    slugs = db.session.scalars(sa.select(Site.slug).order_by(Site.slug)).all()
    assert slugs == ["abbeville", "amiens", "peronne"]
    workshops = db.session.scalars(sa.select(Workshop)).all()
    assert len(workshops) > 30
    assert {w.level.value for w in workshops} == {"debutant", "expert"}
    assert {w.site.slug for w in workshops} == {"amiens", "abbeville", "peronne"}
    today, *term = sorted(workshops, key=lambda w: w.starts_at)
    assert all(w.capacity <= w.room.capacity and w.starts_at > clock.now for w in term)
    # Today's session of the demo trainer, for trying the check-in.
    assert today.trainer.email == "claire.dumont@ac-amiens.fr"
    assert today.starts_at <= clock.now < today.ends_at
    from app.booking.models import Registration

    emails = db.session.scalars(
        sa.select(Registration.email).where(Registration.workshop_id == today.id)
    )
    assert sorted(emails) == [
        "emile.bernard@ac-amiens.fr",
        "ines.caron@ac-amiens.fr",
        "lea.martin@ac-amiens.fr",
        "zoe.lhote-dupre@ac-amiens.fr",
    ]
    from app.exchange.models import HalfDay

    assert db.session.scalar(sa.select(sa.func.count()).select_from(HalfDay)) == 1


@pytest.mark.parametrize(
    "today, year, day",
    [
        # Monday 2 March 2026: the first spring Wednesday six weeks ahead that is not in the
        # holidays (15 and 22 April are zone B's spring holidays).
        (datetime(2026, 3, 2, 9, tzinfo=UTC), 2025, datetime(2026, 4, 29).date()),
        # Too late in the school year: next year's, after zone B's winter holidays (20 Feb - 7 March 2027).
        (datetime(2026, 6, 1, 9, tzinfo=UTC), 2026, datetime(2027, 3, 10).date()),
    ],
)
def test_seed_demo_opens_the_call_of_a_half_day_at_amiens(app, clock, today, year, day):
    from datetime import timedelta

    from app.catalog.holidays import day_off
    from app.exchange.models import ContributionStatus, Equipment, HalfDay, HalfDayState
    from app.formatting import PARIS

    clock.set(today)
    assert (
        "Rencontres : « Rencontres TICE" in app.test_cli_runner().invoke(args=["seed-demo"]).output
    )
    half_day = db.session.scalar(sa.select(HalfDay))
    local = half_day.starts_at.astimezone(PARIS)
    assert (half_day.school_year, local.date(), local.strftime("%H:%M")) == (year, day, "13:30")
    assert local.weekday() == 2 and day_off(local.date()) is None
    assert half_day.ends_at.astimezone(PARIS).strftime("%H:%M") == "17:00"
    assert half_day.state is HalfDayState.call_open
    assert half_day.deadline == (half_day.starts_at - timedelta(weeks=3)).astimezone(PARIS).replace(
        hour=18, minute=0
    ).astimezone(UTC)
    assert half_day.deadline > clock.now
    assert half_day.site.slug == "amiens"
    assert [(r.name, r.is_auditorium) for r in half_day.rooms] == [
        ("Auditorium", True),
        ("Salle Saint-Leu", False),
        ("Salle Jules Verne", False),
    ]
    assert half_day.capacity == half_day.auditorium.room.capacity
    assert Equipment.videoconference in half_day.auditorium.equipment
    assert all(r.room.site_id == half_day.site_id for r in half_day.rooms)
    statuses = [c.status for c in half_day_contributions(half_day)]
    assert len(statuses) == 8 and statuses.count(ContributionStatus.accepted) == 6
    assert set(statuses) == {
        ContributionStatus.accepted,
        ContributionStatus.submitted,
        ContributionStatus.declined,
    }
    topics = {c.topic.slug for c in half_day_contributions(half_day)}
    assert topics == {"ent", "tbi", "tablettes", "ressources-numeriques"}
    # The demo's workshops never use the half-day's rooms at its time.
    clash = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Workshop)
        .where(
            Workshop.room_id.in_([r.room_id for r in half_day.rooms]),
            Workshop.starts_at < half_day.ends_at,
            Workshop.ends_at > half_day.starts_at,
        )
    )
    assert clash == 0


def half_day_contributions(half_day):
    from app.exchange.models import Contribution

    return db.session.scalars(
        sa.select(Contribution).where(Contribution.half_day_id == half_day.id)
    ).all()


def test_demo_term_avoids_zone_b_holidays_and_public_holidays(app, clock):
    from app.catalog.demo import is_school_day_off

    clock.set(datetime(2026, 12, 1, 9, tzinfo=UTC))  # the term crosses Christmas
    app.test_cli_runner().invoke(args=["seed-demo"])
    days = {w.starts_at.date() for w in db.session.scalars(sa.select(Workshop))}
    assert not any(is_school_day_off(day) for day in days)
    assert is_school_day_off(datetime(2026, 12, 23).date())  # Christmas holidays, zone B
    assert is_school_day_off(datetime(2027, 7, 14).date())


def test_french_dates():
    moment = datetime(2025, 3, 12, 13, 30, tzinfo=UTC)
    assert datetime_fr(moment) == "mercredi 12 mars 2025, 14 h 30"
    assert (
        timespan_fr(moment, moment.replace(hour=15, minute=0))
        == "mercredi 12 mars 2025, 14 h 30 – 16 h"
    )
    summer = datetime(2025, 7, 2, 15, 0, tzinfo=UTC)
    assert datetime_fr(summer) == "mercredi 2 juillet 2025, 17 h"
    assert datetime_fr(datetime(2025, 4, 1, 7, 5, tzinfo=UTC)) == "mardi 1er avril 2025, 9 h 05"


def test_health_reports_the_outbox(client):
    response = client.get("/sante")
    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "database": "ok",
        "scheduler": None,
        "outbox_pending": 0,
        "outbox_failed": 0,
        "mail_relay": "ok",
        "rate_limits": "ok",
    }


def test_health_says_when_the_rate_limits_store_does_not_answer(database_url):
    """Redis down: the site still serves (each process counts on its own meanwhile, and the
    login limit still holds in each), and /sante says so for the operator."""
    from tests.conftest import free_port, make_config

    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(make_config(database_url, RATELIMIT_STORAGE_URI=unreachable))
    client = app.test_client()
    health = client.get("/sante")
    assert health.status_code == 200
    assert health.json["status"] == "ok"
    assert health.json["rate_limits"] == "stockage injoignable : chaque processus compte à part"
    answers = [
        client.post(
            "/connexion", data={"courriel": "x@ac-amiens.fr", "mot_de_passe": "faux"}
        ).status_code
        for _ in range(11)
    ]
    assert answers == [422] * 10 + [429]
    with app.app_context():
        db.engine.dispose()


def test_make_run_path_migrates_seeds_and_delivers_with_the_scheduler(tmp_path):
    """What `make run` does, on a fresh SQLite file: upgrade, seed, register, `--once` delivery."""
    env = {
        **os.environ,
        "ATELIERS_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}",
        "MAIL_FILE_DIR": str(tmp_path / "mail"),
    }
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    for command in (["db", "upgrade"], ["seed-demo"], ["seed-demo"]):
        subprocess.run([*flask, *command], cwd=ROOT, env=env, check=True, capture_output=True)

    script = (
        "from app import create_app\n"
        "from app.booking.services import Applicant, register\n"
        "from app.catalog.services import upcoming_workshops\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    w = upcoming_workshops()[0]\n"
        "    register(w.id, Applicant('Martin', 'Léa', 'lea@ac-amiens.fr', 'École'))\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True)
    done = subprocess.run(
        [sys.executable, "-m", "scheduler", "--once"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert "1 sent" in done.stderr
    [eml] = (tmp_path / "mail").glob("*.eml")
    assert b"lea@ac-amiens.fr" in eml.read_bytes()


def test_health_is_503_when_the_database_does_not_answer():
    from tests.conftest import free_port, make_config

    app = create_app(make_config(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/absent"))
    response = app.test_client().get("/sante")
    assert response.status_code == 503
    assert response.json["status"] == "error"
    with app.app_context():
        db.engine.dispose()
