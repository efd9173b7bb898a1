"""A trainer's day on a tablet, in a real browser against a live server: the 14 h – 16 h session
of today, seen from the morning to the certificates.

Logged in, the trainer finds today's session set apart at the top of their list, opens its
attendance list (print view, the PDF to download), the check-in page before it opens (it says
when), then at the opening time marks people present and absent, undoes a mistaken mark, adds a
person who came without registering, closes the session early (14 h 24) and reads when the
certificates will leave. The follow-up sweep sends nothing before 16 h; after it, the
certificates arrive and attest the two hours of the session.

The taps go through static/checkin.js, stamped with the device's real time (Date.now()), so the
server's clock is set to today's real date in Paris: a tap dated more than a day ahead of the
server is refused, and one dated earlier is fine.
"""

import re
from datetime import date, datetime, time

import pytest

from app.attendance.followup import send_follow_ups
from app.booking.services import register
from app.extensions import db
from app.formatting import PARIS, date_fr
from tests import test_browser
from tests.browser import TABLET, assert_no_horizontal_scroll, deliver, text_of
from tests.conftest import STAFF_PASSWORD
from tests.test_checkin_browser import add_walk_in, assert_touch_targets_large_enough

pytestmark = [pytest.mark.live, pytest.mark.browser]

config_overrides = test_browser.config_overrides  # CSRF on, as in production
app = test_browser.app  # the factories commit for real, for the live server's threads

TITLE = "Le TBI au cycle 3"
PEOPLE = [
    ("L'Hôte-Dupré", "Zoé", "zoe.lhote-dupre@ac-amiens.fr"),
    ("Caron", "Théo", "theo.caron@ac-amiens.fr"),
    ("Moreau", "Inès", "ines.moreau@ac-amiens.fr"),
]


def today_at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS)


@pytest.fixture
def trainers_day(clock, at, make_staff, applicant):
    """Today (the real date, in Paris) at 12 h 30: the 14 h – 16 h session with three people
    registered, and its trainer's login. Plain values only: the test's own session is closed."""
    day = datetime.now(PARIS).date()
    clock.set(today_at(day, 12, 30))
    workshop = at(today_at(day, 14), ends_at=today_at(day, 16), title=TITLE, capacity=3)
    trainer = make_staff("trainer", trainer=workshop.trainer)
    for last, first, email in PEOPLE:
        register(workshop.id, applicant(last_name=last, first_name=first, email=email))
    values = {"day": day, "workshop_id": workshop.id, "trainer_email": trainer.email}
    db.session.remove()
    return values


def heading(page):
    return page.get_by_role("heading", level=1)


def status_says(page, text: str):
    from playwright.sync_api import expect

    expect(page.locator("#checkin-status")).to_have_text(text)


def test_a_trainers_day_on_a_tablet(new_page, trainers_day, clock, smtp, look):
    from playwright.sync_api import expect

    day = trainers_day["day"]
    deliver()  # the registration mails, out of the way
    smtp.received.clear()
    page = new_page(viewport=TABLET, has_touch=True)

    # 12 h 30: the trainer logs in; today's session heads their list.
    page.goto("/connexion")
    look(page, "connexion")
    page.get_by_label("Adresse électronique").fill(trainers_day["trainer_email"])
    page.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(heading(page)).to_have_text("Mes séances")
    today = page.get_by_role("region", name="Aujourd'hui")
    expect(today).to_contain_text(TITLE)
    expect(today).to_contain_text("14 h – 16 h")
    expect(page.locator("tr.is-today")).to_contain_text("Aujourd'hui")
    assert_no_horizontal_scroll(page, "sessions list on a tablet")
    look(page, "mes-seances")

    # The attendance list: the print view, and its PDF.
    today.get_by_role("link", name=TITLE, exact=True).click()
    expect(heading(page)).to_have_text(TITLE)
    look(page, "seance")
    pdf_link = page.get_by_role("link", name="Télécharger la feuille (PDF)")
    pdf = page.request.get(pdf_link.get_attribute("href"))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF-")
    page.get_by_role("link", name="Feuille d'émargement à imprimer").click()
    expect(heading(page)).to_have_text("Feuille d'émargement")
    expect(page.get_by_role("main")).to_contain_text("Moreau")
    expect(page.get_by_role("button", name="Imprimer")).to_be_visible()
    look(page, "emargement")
    page.get_by_role("link", name="← Retour à la séance").click()
    expect(heading(page)).to_have_text(TITLE)
    look(page, "seance-retour")

    # Before 13 h the check-in is not open yet: the page says when, and offers no buttons.
    page.get_by_role("link", name="Pointer les présences").click()
    expect(heading(page)).to_have_text(f"Pointage : {TITLE}")
    expect(page.locator(".checkin-not-open")).to_contain_text(
        f"Le pointage ouvre le {date_fr(today_at(day, 13))}, 13 h"
    )
    expect(page.get_by_role("button", name=re.compile("^Présent·e"))).to_have_count(0)
    look(page, "pointage-avant-ouverture")

    # 13 h: open.
    clock.set(today_at(day, 13))
    page.reload()
    expect(page.locator(".checkin-not-open")).to_have_count(0)
    expect(page.locator('[data-count="unmarked"]')).to_have_text("3")
    assert_no_horizontal_scroll(page, "check-in page on a tablet")
    assert_touch_targets_large_enough(page)
    look(page, "pointage-ouvert")

    # Zoé present; Théo marked absent by mistake, undone, then present when he comes in.
    zoe = page.get_by_role("button", name="Présent·e : Zoé L'Hôte-Dupré")
    zoe.click()
    expect(zoe).to_have_attribute("aria-pressed", "true")
    status_says(page, "Enregistré — L'Hôte-Dupré Zoé : présent·e")
    theo_absent = page.get_by_role("button", name="Absent·e : Théo Caron")
    theo_absent.click()
    status_says(page, "Enregistré — Caron Théo : absent·e")
    expect(page.locator('[data-count="absent"]')).to_have_text("1")
    theo_unmarked = page.get_by_role("button", name="Non pointé·e : Théo Caron")
    theo_unmarked.click()
    expect(theo_unmarked).to_have_attribute("aria-pressed", "true")
    expect(theo_absent).to_have_attribute("aria-pressed", "false")
    status_says(page, "Enregistré — Caron Théo : non pointé·e")
    expect(page.locator('[data-count="absent"]')).to_have_text("0")
    expect(page.locator('[data-count="unmarked"]')).to_have_text("2")
    look(page, "pointage-annule")
    page.reload()  # what the server kept: Théo not checked in
    expect(page.get_by_role("button", name="Non pointé·e : Théo Caron")).to_have_attribute(
        "aria-pressed", "true"
    )
    theo_present = page.get_by_role("button", name="Présent·e : Théo Caron")
    theo_present.click()
    status_says(page, "Enregistré — Caron Théo : présent·e")
    expect(page.locator('[data-count="present"]')).to_have_text("2")
    look(page, "pointage-marques")

    # Someone who came without registering.
    add_walk_in(page)
    expect(page.locator('[data-count="present"]')).to_have_text("3")
    look(page, "pointage-sur-place")

    # 14 h 24: the session ends early. Closing says when the certificates will leave.
    clock.set(today_at(day, 14, 24))
    page.get_by_role("link", name="Clore la séance").click()
    expect(heading(page)).to_have_text("Clore la séance ?")
    expect(page.locator(".checkin-certificates")).to_contain_text(
        "recevront leur attestation de présence par courriel à 16 h, à la fin de la séance"
    )
    expect(page.get_by_text("Moreau Inès")).to_be_visible()  # unmarked: will be absent
    look(page, "clore")
    page.get_by_role("button", name="Oui, clore la séance").click()
    expect(page.locator(".checkin-closed")).to_contain_text("Séance close")
    expect(page.locator(".checkin-certificates")).to_have_text(
        "Les attestations de présence des 3 personnes présentes partiront par courriel "
        "à 16 h, à la fin de la séance, avec le lien du questionnaire."
    )
    expect(page.locator('[data-count="absent"]')).to_have_text("1")
    expect(page.get_by_role("button", name=re.compile("Non pointé·e"))).to_have_count(0)
    look(page, "seance-close")

    # 14 h 27, then 15 h 59: the scheduler's sweeps send no certificate before the end.
    for hour, minute in ((14, 27), (15, 59)):
        clock.set(today_at(day, hour, minute))
        assert not send_follow_ups()
        deliver()
        assert smtp.messages == []

    # 16 h 01: the three people present get their certificate of two hours.
    clock.set(today_at(day, 16, 1))
    assert send_follow_ups().sent == 3
    deliver()
    certificates = {message["To"]: message for message in smtp.messages}
    assert sorted(certificates) == [
        "elodie.lefevre@ac-amiens.fr",
        "theo.caron@ac-amiens.fr",
        "zoe.lhote-dupre@ac-amiens.fr",
    ]
    for message in certificates.values():
        assert message["Subject"] == f"Attestation de présence : {TITLE}"
        assert "(2 heures de formation)" in text_of(message)
        [pdf] = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
        assert pdf.get_content().startswith(b"%PDF")

    # The trainer's page now says they left.
    page.reload()
    expect(page.locator(".checkin-closed")).to_contain_text(
        f"Les attestations de présence ont été envoyées le {date_fr(day)}, 16 h 01."
    )
    look(page, "attestations-envoyees")
