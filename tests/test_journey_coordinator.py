"""A coordinator's afternoon at a desktop (1280×800), in a real browser against a live server:
logs in, creates a workshop that clashes in four ways and sees every problem in one submit, with
the room's and the trainer's bookings of that day beside the form; fixes them, lands on the new
workshop's page and publishes it; prints the one-page poster of the site; writes the programme
mail and finds in the lists' mailbox exactly what the preview showed; opens the figures and
their PDF. Each page state goes through `look` (axe-core and a screenshot)."""

import re
import shutil
import subprocess
import time
from datetime import datetime

import pytest

from app.extensions import db
from app.formatting import PARIS
from tests.browser import DESKTOP, assert_no_horizontal_scroll, deliver, text_of
from tests.conftest import STAFF_PASSWORD, require

pytestmark = [pytest.mark.live, pytest.mark.browser]

LIST = "ecoles-amiens@ac-amiens.fr"
TITLE = "Robotique pédagogique au cycle 2"
TAKEN = "Le TBI au cycle 2"
MORNING = "ENT : le cahier de textes"


@pytest.fixture
def config_overrides():
    """CSRF on, as in production; one mailing list for the programme."""
    return {"WTF_CSRF_ENABLED": True, "PROGRAMME_LIST_ADDRESSES": [LIST]}


@pytest.fixture
def app(live_app):
    """The factories commit for real: the live server's threads must see their rows."""
    return live_app


@pytest.fixture
def scene(make_site, make_workshop, make_staff, clock):
    """Amiens (a 16-seat room) and Péronne; Claire Dumont holds the Amiens room on Wednesday
    15 April 2026 (zone-B spring holidays), 14 h–17 h, and teaches at Péronne on the morning of
    Wednesday 18 March. Plain values: the test's session is closed afterwards."""
    amiens = make_site(slug="amiens", name="Amiens")
    peronne = make_site(slug="peronne", name="Péronne", street="9 rue Saint-Sauveur")

    def on(month, day, hour, site, title):
        moment = datetime(2026, month, day, hour, tzinfo=PARIS)
        return make_workshop(site=site, title=title, starts_in=moment - clock.now)

    taken = on(4, 15, 14, amiens, TAKEN)
    on(3, 18, 9, peronne, MORNING)
    coordinator = make_staff("coordinator")
    values = {
        "email": coordinator.email,
        "room": taken.room_id,
        "trainer": taken.trainer_id,
        "capacity": taken.room.capacity,
    }
    db.session.remove()
    return values


def pdf_pages_and_text(data: bytes) -> tuple[int, str]:
    require(bool(shutil.which("pdfinfo") and shutil.which("pdftotext")), "poppler-utils missing")
    info = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, check=True).stdout
    pages = int(re.search(rb"^Pages:\s+(\d+)$", info, re.M).group(1))
    text = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True)
    return pages, " ".join(text.stdout.decode("utf-8").split())


def test_a_coordinator_creates_prints_mails_and_reads_the_figures(new_page, look, scene, smtp):
    from playwright.sync_api import expect

    page = new_page(viewport=DESKTOP)
    page.goto("/connexion")
    look(page, "connexion")
    page.get_by_label("Adresse électronique").fill(scene["email"])
    page.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Administration")).to_be_visible()
    look(page, "administration")

    # A new workshop that clashes four ways: every problem comes back from one submit.
    page.get_by_role("link", name="Ateliers", exact=True).click()
    look(page, "ateliers")
    page.get_by_role("link", name="Nouvel atelier").click()
    panel = page.locator("#ce-jour-la")
    expect(panel).to_contain_text("Choisissez une date, une salle et un formateur")
    look(page, "nouvel-atelier")
    page.get_by_label("Titre").fill(TITLE)
    page.get_by_label("Salle").select_option(str(scene["room"]))
    page.get_by_label("Formateur·rice").select_option(str(scene["trainer"]))
    page.get_by_label(re.compile(r"^Date \(obligatoire")).fill("2026-04-15")
    page.get_by_label("Début").fill("14:30")
    page.get_by_label(re.compile(r"^Fin ")).fill("16:30")
    page.get_by_label("Nombre de places").fill(str(scene["capacity"] + 4))
    page.get_by_role("button", name="Enregistrer").click()

    problems = page.locator("#erreurs")
    expect(problems).to_contain_text("3 problèmes à corriger")
    expect(problems).to_contain_text(
        f"est déjà prise le mercredi 15 avril 2026 de 14 h à 17 h par l'atelier « {TAKEN} »"
    )
    expect(problems).to_contain_text(f"Claire Dumont anime déjà « {TAKEN} »")
    expect(problems).to_contain_text(f"{scene['capacity'] + 4} places demandées")
    expect(
        page.get_by_role("alert").filter(has_text="Vacances de printemps (zone B)")
    ).to_be_visible()
    expect(panel).to_contain_text("Ce jour-là : mercredi 15 avril 2026")
    expect(panel.get_by_role("link", name=TAKEN)).to_have_count(2)  # the room's and the trainer's
    assert_no_horizontal_scroll(page, "le formulaire refusé")
    look(page, "quatre-problemes")

    # Another day: the panel follows the date before any submit (the trainer teaches that
    # morning at Péronne: no clash in the afternoon).
    page.get_by_label(re.compile(r"^Date \(obligatoire")).fill("2026-03-18")
    page.get_by_label(re.compile(r"^Date \(obligatoire")).dispatch_event("change")
    expect(panel).to_contain_text("Ce jour-là : mercredi 18 mars 2026")
    expect(panel).to_contain_text(MORNING)
    expect(panel).to_contain_text("Aucun autre atelier dans cette salle.")
    look(page, "ce-jour-la-18-mars")
    page.get_by_label("Nombre de places").fill(str(scene["capacity"] - 4))
    page.get_by_role("button", name="Enregistrer").click()

    # The new draft's own page, then published.
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.get_by_role("status")).to_contain_text("Atelier créé en brouillon")
    expect(page.get_by_text("mercredi 18 mars 2026, 14 h 30 – 16 h 30")).to_be_visible()
    look(page, "atelier-cree")
    page.get_by_role("button", name="Publier").click()
    expect(page.get_by_role("status")).to_contain_text("est publié")
    look(page, "atelier-publie")

    # The poster of Amiens: one A4 page, with the new workshop and the code to the catalogue.
    page.goto("/admin/")
    look(page, "administration-2")
    page.get_by_role("link", name="Programme pour les listes de diffusion").click()
    expect(page.get_by_text("Ajouté automatiquement au courriel")).to_be_visible()
    look(page, "programme")
    page.get_by_label("Site", exact=True).select_option("amiens")
    du = page.locator("#affiche-du").input_value()
    au = page.locator("#affiche-au").input_value()
    poster = page.context.request.get(
        "/admin/programme/affiche", params={"site": "amiens", "du": du, "au": au}
    )
    assert poster.ok and poster.headers["content-type"] == "application/pdf"
    pages, text = pdf_pages_and_text(poster.body())
    assert pages == 1 and TITLE in text and TAKEN in text
    # the site's address, under its code (wrapped where it is long)
    assert "Tous les ateliers du site" in text and "/ateliers?site=amiens" in text.replace(" ", "")

    # The programme mail: the preview is what the list receives, greeting said once.
    page.get_by_label("Votre message d'introduction").fill(
        "Bonjour à toutes et à tous,\n\nVoici le programme du printemps : de nouveaux ateliers "
        "de robotique à Amiens."
    )
    page.get_by_role("button", name="Prévisualiser").click()
    expect(page.get_by_role("heading", name="Aperçu du programme")).to_be_visible()
    preview = page.locator("pre.mail-preview-text").inner_text()
    assert preview.count("Bonjour") == 1 and preview.count("Voici le programme") == 1
    assert TITLE in preview
    look(page, "apercu")
    page.get_by_role("button", name="Envoyer à 1 liste").click()
    expect(page.get_by_role("status")).to_contain_text("Programme mis dans la boîte d'envoi")
    look(page, "programme-envoye")
    deliver()
    (received,) = [m for m in smtp.to(LIST) if m["Subject"].startswith("Programme")]
    sent = text_of(received).replace("\r\n", "\n").strip()
    assert sent == preview.replace("\r\n", "\n").strip()

    # The figures, and the funder's PDF.
    page.goto("/admin/")
    look(page, "administration-3")
    page.get_by_role("link", name="Chiffres").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    look(page, "chiffres")
    href = page.get_by_role("link", name="Rapport pour Somme Numérique (PDF)").get_attribute("href")
    started = time.perf_counter()
    report = page.context.request.get(href)
    took = time.perf_counter() - started
    assert report.ok and report.headers["content-type"] == "application/pdf"
    _, text = pdf_pages_and_text(report.body())
    assert "Bilan des ateliers TICE" in text
    print(f"/admin/chiffres.pdf answered in {took:.2f} s")


def test_the_back_office_filters_show_whole_labels_at_a_desktop(
    new_page, look, make_staff, make_half_day, make_contribution
):
    """The proposals' review list: each drop-down is as wide as its longest choice at 1280 px."""
    from playwright.sync_api import expect

    half_day = make_half_day()
    make_contribution(half_day)
    email, year = make_staff("coordinator").email, half_day.school_year
    db.session.remove()
    page = new_page(viewport=DESKTOP)
    page.goto("/connexion")
    look(page, "connexion")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Administration")).to_be_visible()
    look(page, "administration")
    page.goto(f"/admin/rencontres/{year}/propositions")
    expect(page.get_by_role("button", name="Filtrer")).to_be_visible()
    look(page, "propositions")
    cut = page.evaluate(
        """() => {
      const canvas = document.createElement('canvas').getContext('2d');
      return [...document.querySelectorAll('form.filters select')].flatMap(select => {
        const style = getComputedStyle(select);
        canvas.font = style.font;
        const room = select.clientWidth - parseFloat(style.paddingLeft)
          - parseFloat(style.paddingRight) - 20;  // the arrow
        return [...select.options].filter(o => canvas.measureText(o.text).width > room)
          .map(o => `${select.id}: « ${o.text} » (${Math.round(canvas.measureText(o.text).width)} px > ${Math.round(room)} px)`);
      });
    }"""
    )
    assert cut == [], "labels cut at 1280 px:\n" + "\n".join(cut)
