"""A teacher in a real browser: Debian's Chromium, driven by Playwright, against a live server.

The catalogue filtered to Péronne, registering for the last seat, the confirmation mail received by
a real SMTP server, the management link from that mail, cancelling — and the colleague on the
waiting list receiving "Une place s'est libérée". Then the same pages on a phone and a tablet, and
the registration form with the keyboard only.

Mails leave the outbox the way the scheduler sends them: `deliver_pending()` in the app's context.
No sleeps: Playwright waits for what it looks for (`expect`).
"""

import re

import pytest

from app.extensions import db
from tests.browser import PHONE, TABLET, assert_no_horizontal_scroll, deliver, text_of

pytestmark = [pytest.mark.live, pytest.mark.browser]

PERONNE_TITLE = "Premiers pas avec l'ENT"
AMIENS_TITLE = "Le tableau blanc interactif en classe"

#: CSS pixels between the banner and the page's first block, and between its last and the footer.
BREATHING_SPACE = """() => {
  const shown = [...document.querySelector('main').children].filter(e => e.offsetHeight > 0);
  const box = e => e.getBoundingClientRect();
  return [
    box(shown[0]).top - box(document.querySelector('header')).bottom,
    box(document.querySelector('footer')).top - box(shown[shown.length - 1]).bottom,
  ];
}"""


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def config_overrides():
    """CSRF on, as in production."""
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture
def app(live_app):
    """The factories commit for real: the live server's threads must see their rows."""
    return live_app


@pytest.fixture
def catalogue(make_site, make_workshop):
    """A Péronne workshop with a single seat, and one at Amiens that the filter must hide.

    Returns plain values: the test's own session is closed, so it holds no snapshot that would
    get in the way of the server's writes (SQLite) or of later reads.
    """
    amiens = make_site(slug="amiens", name="Amiens")
    peronne = make_site(slug="peronne", name="Péronne", street="1 place du Château")
    make_workshop(capacity=10, site=amiens, title=AMIENS_TITLE)
    workshop = make_workshop(capacity=1, site=peronne, title=PERONNE_TITLE)
    ids = {"peronne": workshop.id}
    db.session.remove()
    return ids


# --- helpers -----------------------------------------------------------------------------------


def management_link(message, base_url: str) -> str:
    links = re.findall(r"\S+/inscription/\S+", text_of(message))
    assert len(links) == 1, text_of(message)
    assert links[0].startswith(f"{base_url}/inscription/")
    return links[0]


def only_mail(smtp, address: str, subject_start: str):
    found = [m for m in smtp.to(address) if m["Subject"].startswith(subject_start)]
    subjects = [m["Subject"] for m in smtp.to(address)]
    assert len(found) == 1, f"{address}: expected one {subject_start!r} mail, got {subjects}"
    return found[0]


def fill_registration(page, *, last_name, first_name, email, school, uai=""):
    # "Nom" is also inside "Prénom", and "École" inside "Code UAI de l'école": anchor the labels.
    page.get_by_label(re.compile(r"^Nom\b")).fill(last_name)
    page.get_by_label(re.compile(r"^Prénom\b")).fill(first_name)
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label(re.compile(r"^École\b")).fill(school)
    page.get_by_label("Code UAI").fill(uai)


def cancel_from_management_page(page, look):
    """From a management page: the cancel link, its confirmation page, the button (a POST)."""
    from playwright.sync_api import expect

    page.get_by_role("link", name="Annuler mon inscription").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Annuler mon inscription ?")
    look(page, "annuler")
    page.get_by_role("button", name="Oui, annuler mon inscription").click()
    expect(page.get_by_role("status").filter(has_text="annulée")).to_contain_text(
        "Votre inscription est annulée"
    )
    expect(page.get_by_text("Inscription annulée")).to_be_visible()
    look(page, "annulee")


def assert_content_clear_of_header_and_footer(page, what: str):
    above, below = page.evaluate(BREATHING_SPACE)
    assert above >= 16 and below >= 16, (
        f"{what}: content glued to the banner or footer {above, below}"
    )


# --- the teacher's journey -----------------------------------------------------------------------


def test_register_from_the_catalogue_cancel_and_the_waiting_colleague_is_promoted(
    page, new_page, catalogue, smtp, public_url, look
):
    from playwright.sync_api import expect

    # The home page, filtered to Péronne.
    page.goto("/")
    expect(page.get_by_role("link", name=AMIENS_TITLE)).to_be_visible()
    look(page, "accueil")
    page.get_by_label("Site", exact=True).select_option(label="Péronne")
    page.get_by_role("button", name="Filtrer").click()
    expect(page).to_have_url(re.compile(r"[?&]site=peronne\b"))
    expect(page.get_by_label("Site", exact=True)).to_have_value("peronne")
    expect(page.get_by_role("status").filter(has_text="atelier")).to_contain_text(
        "1 atelier à venir pour cette recherche"
    )
    expect(page.get_by_role("link", name=AMIENS_TITLE)).to_have_count(0)
    look(page, "accueil-peronne")

    # The workshop: last seat; she takes it.
    page.get_by_role("link", name=PERONNE_TITLE).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(PERONNE_TITLE)
    expect(page.get_by_text("Dernière place")).to_be_visible()
    expect(page.get_by_text("site de Péronne")).to_be_visible()
    look(page, "atelier")
    fill_registration(
        page,
        last_name="Lefèvre",
        first_name="Élodie",
        email="elodie.lefevre@ac-amiens.fr",
        school="École Jean Macé, Péronne",
        uai="0801234G",
    )
    page.get_by_role("button", name="S'inscrire", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre place est réservée")
    expect(page.get_by_text("elodie.lefevre@ac-amiens.fr")).to_be_visible()
    look(page, "inscrite")

    # A colleague, in her own browser, finds the workshop full and joins the waiting list.
    colleague = new_page()
    colleague.goto(f"/ateliers/{catalogue['peronne']}")
    expect(colleague.get_by_text("Complet — liste d'attente ouverte")).to_be_visible()
    look(colleague, "collegue-atelier-complet")
    fill_registration(
        colleague,
        last_name="Caron",
        first_name="Julien",
        email="julien.caron@ac-amiens.fr",
        school="École Victor Hugo, Péronne",
    )
    colleague.get_by_role("button", name="M'inscrire sur la liste d'attente").click()
    expect(colleague.get_by_role("heading", level=1)).to_have_text(
        "Vous êtes sur la liste d'attente"
    )
    expect(colleague.get_by_text("en position 1")).to_be_visible()
    look(colleague, "collegue-en-attente")

    # The scheduler delivers both mails to the SMTP server.
    assert deliver().sent == 2
    confirmation = only_mail(smtp, "elodie.lefevre@ac-amiens.fr", "Inscription confirmée")
    assert PERONNE_TITLE in confirmation["Subject"]
    assert "Bonjour Élodie," in text_of(confirmation)
    only_mail(smtp, "julien.caron@ac-amiens.fr", "Liste d'attente")

    # The link in her mail opens her registration; she cancels (a POST, after confirming).
    page.goto(management_link(confirmation, public_url))
    expect(page.get_by_text("Inscription confirmée")).to_be_visible()
    look(page, "gestion")
    cancel_from_management_page(page, look)
    expect(page.get_by_role("link", name="Annuler mon inscription")).to_have_count(0)

    # Her seat went to the colleague, who is told by mail.
    assert deliver().sent == 2
    only_mail(smtp, "elodie.lefevre@ac-amiens.fr", "Inscription annulée")
    promotion = only_mail(smtp, "julien.caron@ac-amiens.fr", "Une place s'est libérée")
    assert PERONNE_TITLE in promotion["Subject"]
    assert "elle vous est attribuée" in text_of(promotion)
    colleague.goto(management_link(promotion, public_url))
    expect(colleague.get_by_text("Inscription confirmée")).to_be_visible()
    look(colleague, "collegue-gestion")
    assert len(smtp.received) == 4


# --- phones and tablets ------------------------------------------------------------------------


def test_catalogue_workshop_and_registration_fit_phone_and_tablet_screens(
    new_page, catalogue, smtp, public_url, look
):
    from playwright.sync_api import expect

    tablet = new_page(viewport=TABLET)
    tablet.goto("/?site=peronne")
    expect(tablet.get_by_role("link", name=PERONNE_TITLE)).to_be_visible()
    assert_no_horizontal_scroll(tablet, "catalogue on a tablet")
    assert_content_clear_of_header_and_footer(tablet, "catalogue-tablet")
    look(tablet, "catalogue-tablet")

    phone = new_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    phone.goto("/")
    expect(phone.get_by_role("button", name="Filtrer")).to_be_visible()
    assert_no_horizontal_scroll(phone, "home page on a phone")
    assert_content_clear_of_header_and_footer(phone, "home-phone")
    look(phone, "home-phone")

    phone.goto(f"/ateliers/{catalogue['peronne']}")
    expect(phone.get_by_role("heading", level=1)).to_have_text(PERONNE_TITLE)
    assert_no_horizontal_scroll(phone, "workshop page on a phone")
    assert_content_clear_of_header_and_footer(phone, "workshop-phone")
    look(phone, "workshop-phone")

    # Mistakes: the messages wrap, nothing leaves the screen.
    fill_registration(
        phone,
        last_name="Lefebvre-Delattre",
        first_name="Marie-Christine",
        email="marie-christine.lefebvre-delattre",
        school="École Jules Ferry",
        uai="0801234A",
    )
    phone.get_by_role("button", name="S'inscrire", exact=True).click()
    expect(phone.get_by_role("alert")).to_contain_text("Le formulaire contient 2 erreurs")
    # Keyboard and screen-reader users land on the list of errors, not at the top of the page.
    expect(phone.locator("#erreurs")).to_be_focused()
    assert_no_horizontal_scroll(phone, "workshop page with errors on a phone")
    assert_content_clear_of_header_and_footer(phone, "workshop-errors-phone")
    look(phone, "workshop-errors-phone")

    # A long (and real-looking) address on the confirmation and management pages.
    email = "marie-christine.lefebvre-delattre@ac-amiens.fr"
    phone.get_by_label("Adresse électronique").fill(email)
    phone.get_by_label("Code UAI").fill("0801234G")
    phone.get_by_role("button", name="S'inscrire", exact=True).click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Votre place est réservée")
    assert_no_horizontal_scroll(phone, "confirmation page on a phone")
    assert_content_clear_of_header_and_footer(phone, "registered-phone")
    look(phone, "registered-phone")

    deliver()
    phone.goto(management_link(only_mail(smtp, email, "Inscription confirmée"), public_url))
    expect(phone.get_by_text("Inscription confirmée")).to_be_visible()
    assert_no_horizontal_scroll(phone, "management page on a phone")
    assert_content_clear_of_header_and_footer(phone, "manage-phone")
    look(phone, "manage-phone")


# --- the keyboard only -------------------------------------------------------------------------


def test_registration_form_can_be_filled_and_sent_with_the_keyboard_only(page, catalogue, look):
    from playwright.sync_api import expect

    page.goto(f"/ateliers/{catalogue['peronne']}")
    look(page, "atelier")

    # The first Tab reaches the skip link.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Aller au contenu")).to_be_focused()

    fields = [
        (re.compile(r"^Nom\b"), "Lefèvre"),
        (re.compile(r"^Prénom\b"), "Élodie"),
        ("Adresse électronique", "elodie.lefevre@ac-amiens.fr"),
        (re.compile(r"^École\b"), "École Jean Macé, Péronne"),
        ("Code UAI", "0801234G"),
    ]
    page.get_by_label(fields[0][0]).focus()
    for label, value in fields:
        field = page.get_by_label(label)
        expect(field).to_be_focused()
        page.keyboard.type(value)
        expect(field).to_have_value(value)
        page.keyboard.press("Tab")

    # Past the form's link (the hidden anti-robot field is skipped), to the button.
    expect(page.get_by_role("link", name="En savoir plus")).to_be_focused()
    page.keyboard.press("Tab")
    button = page.get_by_role("button", name="S'inscrire", exact=True)
    expect(button).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Votre place est réservée")
    expect(page.get_by_text("elodie.lefevre@ac-amiens.fr")).to_be_visible()
