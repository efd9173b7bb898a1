"""A coordinator in a real browser (Debian's Chromium through Playwright) against a live server:
logs in, creates a workshop on 14 July, is warned it is a public holiday, confirms, publishes it,
and finds it in the public catalogue."""

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.staff.models import AuditEntry
from tests import test_browser
from tests.conftest import STAFF_PASSWORD

pytestmark = [pytest.mark.live, pytest.mark.browser]

config_overrides = test_browser.config_overrides  # CSRF on, as in production
app = test_browser.app  # the factories commit for real, for the live server's threads


TITLE = "Robotique pédagogique au cycle 2"


@pytest.fixture
def coordinator(make_staff, make_workshop):
    """A coordinator's login, and a catalogue with a site, a topic and a trainer. Plain values."""
    make_workshop(title="Premiers pas dans l'ENT")
    user = make_staff("coordinator")
    email = user.email
    db.session.remove()
    return email


def test_a_coordinator_creates_confirms_a_holiday_publishes_and_finds_it_public(
    new_page, coordinator, look
):
    from playwright.sync_api import expect

    page = new_page()
    page.goto("/connexion")
    look(page, "connexion")
    page.get_by_label("Adresse électronique").fill(coordinator)
    page.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Administration")).to_be_visible()
    look(page, "administration")

    page.get_by_role("link", name="Ateliers", exact=True).click()
    expect(page.get_by_role("link", name="Nouvel atelier")).to_be_visible()
    look(page, "ateliers")
    page.get_by_role("link", name="Nouvel atelier").click()
    expect(page.get_by_label("Titre")).to_be_visible()
    look(page, "nouvel-atelier")
    page.get_by_label("Titre").fill(TITLE)
    page.get_by_label(re.compile(r"^Date \(obligatoire")).fill("2026-07-14")
    page.get_by_label("Début").fill("09:00")
    page.get_by_label(re.compile(r"^Fin ")).fill("12:00")
    page.get_by_label("Nombre de places").fill("12")
    page.get_by_role("button", name="Enregistrer").click()

    warning = page.get_by_role("alert")
    expect(warning).to_contain_text("Le mardi 14 juillet 2026 : jour férié (Fête nationale).")
    look(page, "avertissements")
    page.get_by_label("J'ai lu les avertissements et je confirme").check()
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("status")).to_contain_text("Atelier créé en brouillon")
    look(page, "atelier-cree")

    # the new draft's own page
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.get_by_text("Brouillon : pas encore dans le catalogue")).to_be_visible()
    page.get_by_role("button", name="Publier").click()
    expect(page.get_by_role("status")).to_contain_text("est publié")
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    look(page, "atelier-publie")

    public = new_page()  # a teacher: no staff cookie
    public.goto("/ateliers")
    expect(public.get_by_role("link", name=TITLE)).to_be_visible()
    look(public, "catalogue")
    public.get_by_role("link", name=TITLE).click()
    expect(public.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(public.get_by_text("12 places restantes")).to_be_visible()
    look(public, "atelier-public")

    actions = list(db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["workshop.create", "workshop.publish"]
