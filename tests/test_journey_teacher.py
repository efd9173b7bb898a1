"""A teacher's day on a phone (issue 15), in a real browser (Debian's Chromium through
Playwright) against a live server: the home page announces the exchange half-day; the catalogue
shows workshops on its first screen, its filters folded; a search for "peronne" (no accent)
finds the Péronne workshops; a workshop page; the registration form refused once, then accepted;
the management page from the confirmation mail, which says what its data file is.

Then every table the service shows, public or back office, at phone, tablet and desktop
widths: no word split across two lines, no sideways scrolling. And the catalogue's filters on a
desktop: open, each drop-down showing its whole label.
"""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.booking import services as booking
from app.catalog.models import Trainer
from app.extensions import db
from tests import test_browser
from tests.browser import DESKTOP, PHONE, TABLET, assert_no_horizontal_scroll, deliver
from tests.conftest import STAFF_PASSWORD

pytestmark = [pytest.mark.live, pytest.mark.browser]

config_overrides = test_browser.config_overrides  # CSRF on, as in production
app = test_browser.app  # the factories commit for real, for the live server's threads

PERONNE_TITLES = [
    "Premiers pas avec l'ENT",
    "Le tableau blanc interactif en maternelle",
    "Tablettes et classe inversée",
]
AMIENS_TITLE = "Ressources numériques pour le cycle 3"

#: Every word (between spaces, hyphens, slashes or en dashes, where a line may break) of every
#: visible table cell that the layout split across two lines.
SPLIT_WORDS = """() => {
  const split = [];
  document.querySelectorAll('table').forEach((table) => {
    if (!table.getClientRects().length) return;
    table.querySelectorAll('th, td').forEach((cell) => {
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const words = /[^\\s\\-\\u2010\\u2011\\u2013/]+/g;
        let match;
        while ((match = words.exec(node.data))) {
          const range = document.createRange();
          range.setStart(node, match.index);
          range.setEnd(node, match.index + match[0].length);
          const lines = new Set([...range.getClientRects()]
            .filter((r) => r.width > 0).map((r) => Math.round(r.top)));
          if (lines.size > 1) split.push(match[0]);
        }
      }
    });
  });
  return split;
}"""
TABLES_SHOWN = "() => [...document.querySelectorAll('table')].filter(t => t.offsetHeight).length"


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def day(make_site, make_workshop, make_half_day, topic, applicant):
    """Three Péronne workshops and one at Amiens (run by Hélène Lefèvre), the 2025 half-day
    (20 May 2026), and a few registrations for the back office's tables. Plain values."""
    amiens = make_site(slug="amiens", name="Amiens")
    peronne = make_site(slug="peronne", name="Péronne", street="9 rue Saint-Sauveur")
    trainer = Trainer(first_name="Hélène", last_name="Lefèvre", email="helene.lefevre@ac-amiens.fr")
    ids = {}
    for n, title in enumerate(PERONNE_TITLES):
        workshop = make_workshop(
            capacity=12,
            site=peronne,
            title=title,
            topic=topic("tbi", "TBI") if "tableau" in title else None,
            starts_in=timedelta(days=3 + n),
            trainer=trainer,
        )
        ids.setdefault("peronne", workshop.id)
    ids["amiens"] = make_workshop(
        capacity=2, site=amiens, title=AMIENS_TITLE, starts_in=timedelta(days=2), trainer=trainer
    ).id
    make_workshop(  # today, with long words: the tables of a tablet must make room for them
        capacity=12,
        site=amiens,
        title="L'interopérabilité des environnements numériques (démonstration)",
        starts_in=timedelta(hours=3),
        trainer=trainer,
    )
    for n in range(1, 4):  # two seats, one person waiting
        booking.register(ids["amiens"], applicant(n, school="École élémentaire Jules Ferry"))
    make_half_day()
    db.session.remove()
    return ids


@pytest.fixture
def staff(make_staff, day):
    """The trainer of the day's workshops and a coordinator: their logins."""
    trainer = db.session.scalar(sa.select(Trainer).where(Trainer.last_name == "Lefèvre"))
    logins = {
        "trainer": make_staff("trainer", trainer=trainer).email,
        "coordinator": make_staff("coordinator").email,
    }
    db.session.remove()
    return logins


# --- helpers -----------------------------------------------------------------------------------


def in_first_screen(page, locator) -> bool:
    box = locator.bounding_box()
    return (
        box is not None
        and box["y"] >= 0
        and box["y"] + box["height"] <= page.viewport_size["height"]
    )


def assert_tables_read_whole_words(page, what: str):
    split = page.evaluate(SPLIT_WORDS)
    assert not split, f"{what} ({page.viewport_size['width']} px): words split {split}"
    assert_no_horizontal_scroll(page, f"{what} ({page.viewport_size['width']} px)")


def log_in(page, look, email: str):
    from playwright.sync_api import expect

    page.goto("/connexion")
    look(page, "connexion")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()


# --- the teacher's day ---------------------------------------------------------------------------


def test_a_teacher_on_a_phone_finds_registers_and_manages(new_page, day, smtp, public_url, look):
    from playwright.sync_api import expect

    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)

    # The home page announces the exchange half-day.
    page.goto("/")
    half_day = page.get_by_role("link", name="programme et inscription")
    expect(half_day).to_be_visible()
    expect(page.locator(".half-day-link")).to_contain_text("Rencontres TICE 2025-2026")
    expect(page.locator(".half-day-link")).to_contain_text("le mercredi 20 mai 2026 à Amiens")
    assert half_day.get_attribute("href") == "/rencontres/2025"
    assert_no_horizontal_scroll(page, "home page")
    look(page, "accueil")

    # The catalogue: its first screen shows a workshop; the filters are folded.
    page.get_by_role("link", name="Tous les ateliers").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Les ateliers")
    first = page.get_by_role("link", name=AMIENS_TITLE)
    expect(first).to_be_visible()
    assert in_first_screen(page, first), "no workshop on the catalogue's first screen"
    assert in_first_screen(page, page.locator(".card").first.locator(".when"))
    expect(page.get_by_label("Rechercher")).to_be_hidden()
    expect(page.get_by_text("Filtrer les ateliers", exact=True)).to_be_visible()
    look(page, "catalogue")

    # She opens the filters and searches "peronne", without the accent.
    page.get_by_text("Filtrer les ateliers", exact=True).click()
    expect(page.get_by_label("Rechercher")).to_be_visible()
    look(page, "catalogue-filtres-ouverts")
    page.get_by_label("Rechercher").fill("peronne")
    page.get_by_role("button", name="Filtrer", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]q=peronne\b"))
    expect(page.get_by_role("status").filter(has_text="atelier")).to_contain_text(
        "3 ateliers à venir pour cette recherche"
    )
    for title in PERONNE_TITLES:
        expect(page.get_by_role("link", name=title)).to_be_visible()
    expect(page.get_by_role("link", name=AMIENS_TITLE)).to_have_count(0)
    # folded again, saying a filter is on; the first result on the first screen
    expect(page.get_by_text("Filtrer les ateliers (1 filtre actif)")).to_be_visible()
    expect(page.get_by_label("Rechercher")).to_be_hidden()
    assert in_first_screen(page, page.get_by_role("link", name=PERONNE_TITLES[0]))
    look(page, "recherche-peronne")

    # The workshop page.
    page.get_by_role("link", name=PERONNE_TITLES[0]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(PERONNE_TITLES[0])
    expect(page.get_by_text("12 places restantes")).to_be_visible()
    expect(page.get_by_text("site de Péronne")).to_be_visible()
    assert_no_horizontal_scroll(page, "workshop page")
    look(page, "atelier")

    # A typo in her address: the summary's link shows the field with its label and message.
    test_browser.fill_registration(
        page,
        last_name="Lefebvre-Delattre",
        first_name="Marie-Christine",
        email="marie-christine.lefebvre-delattre@ac-amiens",
        school="École Jules Ferry, Péronne",
    )
    page.get_by_role("button", name="S'inscrire", exact=True).click()
    summary = page.get_by_role("alert").filter(has_text="Le formulaire contient")
    expect(summary).to_contain_text("1 erreur")
    look(page, "erreur")
    summary.get_by_role("link").click()
    email = page.get_by_label("Adresse électronique")
    expect(email).to_be_focused()
    field = page.locator(".field").filter(has=email)
    for part in (field.locator("label"), field.locator(".hint"), field.locator(".error-message")):
        assert in_first_screen(page, part), "the field's label, hint or message is off screen"
    look(page, "erreur-champ")

    email.fill("marie-christine.lefebvre-delattre@ac-amiens.fr")
    page.get_by_role("button", name="S'inscrire", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre place est réservée")
    expect(page.get_by_text("marie-christine.lefebvre-delattre@ac-amiens.fr")).to_be_visible()
    assert_no_horizontal_scroll(page, "registered page")  # a long address wraps
    look(page, "inscrite")

    # The link in her confirmation mail: her page, and what its data file is.
    deliver()
    confirmation = test_browser.only_mail(
        smtp, "marie-christine.lefebvre-delattre@ac-amiens.fr", "Inscription confirmée"
    )
    page.goto(test_browser.management_link(confirmation, public_url))
    expect(page.get_by_text("Inscription confirmée")).to_be_visible()
    download = page.get_by_role("link", name=re.compile("^Télécharger toutes mes données"))
    expect(download).to_have_text(
        "Télécharger toutes mes données (un fichier texte au format JSON, lisible par un programme)"
    )
    expect(page.get_by_role("link", name="Annuler mon inscription")).to_be_visible()
    assert_no_horizontal_scroll(page, "management page")
    assert_tables_read_whole_words(page, "management page")
    look(page, "gestion")


# --- tables at every width -------------------------------------------------------------------------


@pytest.mark.parametrize("viewport", [PHONE, TABLET, DESKTOP], ids=["390", "768", "1280"])
def test_every_table_reads_whole_words(new_page, day, staff, look, viewport):
    """The trainer's "Mes séances" and session, the back office's lists: at each width no word
    of a cell breaks across lines (on a phone each row is a card naming its columns), and the
    page does not scroll sideways."""
    from playwright.sync_api import expect

    trainer = new_page(viewport=viewport)
    log_in(trainer, look, staff["trainer"])
    expect(trainer.get_by_role("heading", level=1)).to_have_text("Mes séances")
    assert trainer.evaluate(TABLES_SHOWN) == 2
    assert_tables_read_whole_words(trainer, "Mes séances")
    if viewport is PHONE:  # a card says which column each value is
        row = trainer.get_by_role("row").filter(has_text=AMIENS_TITLE)
        expect(row.locator('td[data-label="Inscrits"]')).to_have_text("2 / 2")
        expect(row.locator('td[data-label="Attente"]')).to_have_text("1")
        assert trainer.evaluate(
            "() => getComputedStyle(document.querySelector('tbody td'), '::before').content"
        ).startswith('"Date')
    if viewport is DESKTOP:  # room enough: a real table, no cards
        assert trainer.locator("table.table-cards").count() == 0
    look(trainer, "mes-seances")
    trainer.get_by_role("link", name=AMIENS_TITLE).click()
    expect(trainer.get_by_role("heading", level=1)).to_contain_text(AMIENS_TITLE)
    assert_tables_read_whole_words(trainer, "a session")
    look(trainer, "seance")

    coordinator = new_page(viewport=viewport)
    log_in(coordinator, look, staff["coordinator"])
    look(coordinator, "administration")
    pages = {
        "/formateur/": "toutes-les-seances",  # a column more than the trainer's
        "/admin/ateliers": "ateliers",
        f"/admin/ateliers/{day['amiens']}/inscriptions": "inscriptions",
        "/admin/courriels": "courriels",
        "/admin/lieux": "lieux",
        "/admin/journal": "journal",
        "/admin/rencontres/": "rencontres",
    }
    for path, name in pages.items():
        coordinator.goto(path)
        expect(coordinator.locator("table").first).to_be_visible()
        assert_tables_read_whole_words(coordinator, path)
        look(coordinator, name)


def test_on_a_desktop_the_filters_are_open_and_show_whole_labels(new_page, day, look):
    from playwright.sync_api import expect

    page = new_page(viewport=DESKTOP)
    page.goto("/ateliers")
    expect(page.get_by_label("Rechercher")).to_be_visible()  # open, without a click
    cut = page.evaluate(
        """() => [...document.querySelectorAll('.filters select')].filter((select) => {
          const shown = select.offsetWidth;
          select.style.width = 'max-content';  // as wide as its longest choice
          const needed = select.offsetWidth;
          select.style.width = '';
          return shown < needed;
        }).map((select) => select.name)"""
    )
    assert not cut, f"drop-downs cutting their labels: {cut}"
    look(page, "catalogue-bureau")
