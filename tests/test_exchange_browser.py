"""The exchange half-day in a real browser (Debian's Chromium through Playwright) against a live
server: a presenter sends a proposal from the public page, a coordinator accepts it, closes the
call, builds the agenda and publishes it, and the contribution appears on the public agenda."""

import re

import pytest

from app.extensions import db
from tests import test_browser
from tests.conftest import STAFF_PASSWORD

pytestmark = [pytest.mark.live, pytest.mark.browser]

config_overrides = test_browser.config_overrides  # CSRF on, as in production
app = test_browser.app  # the factories commit for real, for the live server's threads


TITLE = "Le cahier de réussites dans l'ENT, au cycle 1"


@pytest.fixture
def half_day(make_half_day, make_staff, topic):
    """The 2025 half-day with its call open, the ENT topic and a coordinator. Plain values."""
    make_half_day()
    topic("ent", "ENT")
    coordinator = make_staff("coordinator").email
    db.session.remove()
    return coordinator


def test_a_proposal_is_sent_accepted_built_into_the_agenda_and_published(new_page, half_day, look):
    from playwright.sync_api import expect

    presenter = new_page()
    presenter.goto("/rencontres/2025")
    expect(presenter.get_by_role("heading", name="Appel à propositions ouvert")).to_be_visible()
    look(presenter, "rencontres")
    presenter.get_by_role("link", name="Proposer une intervention").click()
    expect(presenter.get_by_label(re.compile("^Titre de la proposition"))).to_be_visible()
    look(presenter, "proposer")
    presenter.get_by_label(re.compile("^Personnes qui présentent")).fill("Zoé L'Hôte\nKarim Benali")
    presenter.get_by_label(re.compile("^Adresse électronique")).fill("zoe.lhote@ac-amiens.fr")
    presenter.get_by_label(re.compile("^Établissement ou organisme")).fill(
        "École maternelle Saint-Leu, Amiens"
    )
    presenter.get_by_label(re.compile("^Titre de la proposition")).fill(TITLE)
    presenter.get_by_label(re.compile("^Résumé")).fill(
        "Comment la classe garde trace des réussites de chacun."
    )
    presenter.get_by_label(re.compile(r"^Démonstration")).check()
    presenter.get_by_label(re.compile("^Thème")).select_option(label="ENT")
    presenter.get_by_label(re.compile("^Débutant")).check()
    presenter.get_by_role("button", name="Envoyer ma proposition").click()
    expect(presenter.get_by_role("heading", name=re.compile("Proposition reçue"))).to_be_visible()
    look(presenter, "proposition-recue")

    coordinator = new_page()
    coordinator.goto("/connexion")
    look(coordinator, "connexion")
    coordinator.get_by_label("Adresse électronique").fill(half_day)
    coordinator.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
    coordinator.get_by_role("button", name="Se connecter").click()
    expect(coordinator.get_by_role("heading", name="Administration")).to_be_visible()
    look(coordinator, "administration")
    coordinator.get_by_role("link", name=re.compile("Rencontres")).first.click()
    expect(coordinator).to_have_url(re.compile(r"/admin/rencontres/$"))
    look(coordinator, "admin-rencontres")
    coordinator.get_by_role("link", name=re.compile("2025")).first.click()
    expect(coordinator).to_have_url(re.compile(r"/admin/rencontres/2025$"))
    look(coordinator, "admin-rencontres-2025")
    coordinator.goto("/admin/rencontres/2025/propositions")
    look(coordinator, "propositions")
    coordinator.get_by_role("link", name=TITLE).click()
    expect(coordinator.get_by_role("button", name="Accepter", exact=True)).to_be_visible()
    look(coordinator, "proposition")
    coordinator.get_by_label(re.compile("^Message au proposant")).first.fill(
        "Bienvenue aux Rencontres !"
    )
    coordinator.get_by_role("button", name="Accepter", exact=True).click()
    expect(coordinator.get_by_text("Acceptée").first).to_be_visible()
    look(coordinator, "proposition-acceptee")

    coordinator.goto("/admin/rencontres/2025")
    look(coordinator, "demi-journee")
    coordinator.get_by_role("button", name="Clore l'appel maintenant").click()
    expect(coordinator.get_by_role("button", name="Clore l'appel maintenant")).to_have_count(0)
    look(coordinator, "appel-clos")
    coordinator.goto("/admin/rencontres/2025/agenda")
    look(coordinator, "agenda-vide")
    coordinator.get_by_role("button", name="Construire l'agenda").click()
    expect(coordinator.get_by_role("heading", name="Agenda en préparation")).to_be_visible()
    expect(coordinator.locator("main")).to_contain_text(TITLE)
    look(coordinator, "agenda-construit")
    coordinator.get_by_role("button", name="Publier", exact=True).click()
    expect(coordinator.get_by_role("heading", name="Versions publiées")).to_be_visible()
    expect(coordinator.locator("main")).to_contain_text("Version 1")
    look(coordinator, "agenda-publie")

    public = new_page()  # a teacher: no staff cookie
    public.goto("/rencontres/2025")
    item = public.locator(".agenda-item").filter(has_text=TITLE)
    expect(item).to_be_visible()
    expect(item).to_contain_text("Zoé L'Hôte")
    expect(public.get_by_text("Ouverture", exact=False).first).to_be_visible()
    look(public, "agenda-public")
