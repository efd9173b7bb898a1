"""A trainer checks people in on a tablet, in a real browser (Debian's Chromium through Playwright)
against a live server: login, today's session, two taps, a walk-in, closing — then the follow-up
sweep mails the three certificates, and the verification link of one says it is genuine.

The taps go through static/checkin.js (fetch(), the tap time from Date.now()), so the injected
clock is set to the real time: the server refuses taps dated a day ahead of its clock.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.attendance.models import Attendance, SessionClosure
from app.booking.services import register
from app.extensions import db
from tests import test_browser
from tests.browser import TABLET, assert_no_horizontal_scroll, deliver, text_of
from tests.conftest import STAFF_PASSWORD
from tests.test_browser import fill_registration

pytestmark = [pytest.mark.live, pytest.mark.browser]

config_overrides = test_browser.config_overrides  # CSRF on, as in production
app = test_browser.app  # the factories commit for real, for the live server's threads

TITLE = "Le TBI au cycle 3"
#: The smallest touch target a finger hits reliably (WCAG 2.5.5 asks 44 px; Android, 48 dp).
TOUCH_TARGET_PX = 48
TOUCH_TARGETS = """() => [...document.querySelectorAll(
  '.checkin-toggle button, [data-checkin-close], .checkin-walk-in button[type=submit]'
)].map(e => { const r = e.getBoundingClientRect(); return [e.textContent.trim(), r.width, r.height]; })"""


def assert_touch_targets_large_enough(page):
    small = [t for t in page.evaluate(TOUCH_TARGETS) if min(t[1], t[2]) < TOUCH_TARGET_PX]
    assert not small, f"touch targets under {TOUCH_TARGET_PX} px: {small}"


def add_walk_in(page):
    """Élodie Lefèvre, who came without registering, added and marked present."""
    from playwright.sync_api import expect

    fill_registration(
        page,
        last_name="Lefèvre",
        first_name="Élodie",
        email="elodie.lefevre@ac-amiens.fr",
        school="École Jean Macé, Péronne",
    )
    page.get_by_role("button", name="Ajouter et marquer présent·e").click()
    expect(page.get_by_role("status").filter(has_text="sur place")).to_contain_text(
        "Élodie Lefèvre est ajouté·e sur place et marqué·e présent·e."
    )


@pytest.fixture
def session_today(clock, make_workshop, make_staff, applicant):
    """Today's session in half an hour: three seats taken, one person waiting; its trainer's
    login. Plain values only: the test's own session is closed afterwards."""
    clock.set(datetime.now(UTC))
    workshop = make_workshop(capacity=3, starts_in=timedelta(minutes=30), title=TITLE)
    trainer = make_staff("trainer", trainer=workshop.trainer)
    people = [
        ("L'Hôte-Dupré", "Zoé", "zoe.lhote-dupre@ac-amiens.fr"),
        ("Caron", "Théo", "theo.caron@ac-amiens.fr"),
        ("Moreau", "Inès", "ines.moreau@ac-amiens.fr"),
        ("Roux", "Julien", "julien.roux@ac-amiens.fr"),  # waiting
    ]
    ids = {
        email: register(
            workshop.id, applicant(last_name=last, first_name=first, email=email)
        ).row_id
        for last, first, email in people
    }
    values = {
        "workshop_id": workshop.id,
        "trainer_email": trainer.email,
        "ids": ids,
        "ends_at": workshop.ends_at,
    }
    db.session.remove()
    return values


def test_a_trainer_checks_in_on_a_tablet_closes_and_the_certificates_go_out(
    new_page, session_today, smtp, public_url, look, clock
):
    from playwright.sync_api import expect

    deliver()  # the registration mails, out of the way
    smtp.received.clear()
    page = new_page(viewport=TABLET, has_touch=True)

    # Login, today's session, its check-in page.
    page.goto("/connexion")
    look(page, "connexion")
    page.get_by_label("Adresse électronique").fill(session_today["trainer_email"])
    page.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes séances")
    look(page, "mes-seances")
    page.get_by_role("region", name="Aujourd'hui").get_by_role(
        "link", name=TITLE, exact=True
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    look(page, "seance")
    page.get_by_role("link", name="Pointer les présences").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Pointage : {TITLE}")
    expect(page.locator('[data-count="unmarked"]')).to_have_text("3")
    assert_no_horizontal_scroll(page, "check-in page on a tablet")
    assert_touch_targets_large_enough(page)

    # Two taps: shown at once, then confirmed by the server.
    zoe = page.get_by_role("button", name="Présent·e : Zoé L'Hôte-Dupré")
    theo = page.get_by_role("button", name="Présent·e : Théo Caron")
    zoe.click()
    expect(zoe).to_have_attribute("aria-pressed", "true")
    theo.click()
    expect(theo).to_have_attribute("aria-pressed", "true")
    expect(page.locator('[data-count="present"]')).to_have_text("2")
    expect(page.locator("#checkin-status")).to_contain_text("Enregistré — Caron Théo : présent·e")
    look(page, "checkin-tablet")

    # A walk-in, beyond the capacity.
    add_walk_in(page)
    expect(page.get_by_role("button", name="Présent·e : Élodie Lefèvre")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.locator('[data-count="present"]')).to_have_text("3")
    look(page, "checkin-walk-in")

    # Closing, after the confirmation step that says who will be marked absent.
    page.get_by_role("link", name="Clore la séance").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Clore la séance ?")
    expect(
        page.get_by_text("1 personne inscrite n'est pas pointée et sera marquée absente")
    ).to_be_visible()
    expect(page.get_by_text("Moreau Inès")).to_be_visible()
    look(page, "clore")
    page.get_by_role("button", name="Oui, clore la séance").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Pointage : {TITLE}")
    expect(page.locator(".checkin-closed")).to_contain_text("Séance close")
    expect(page.locator('[data-count="present"]')).to_have_text("3")
    expect(page.locator('[data-count="absent"]')).to_have_text("1")
    expect(page.locator('[data-count="unmarked"]')).to_have_text("0")
    expect(page.locator(".checkin-toggle")).to_have_count(0)
    look(page, "checkin-closed-tablet")

    db.session.remove()
    assert db.session.get(SessionClosure, session_today["workshop_id"]) is not None
    presences = dict(
        db.session.execute(sa.select(Attendance.registration_id, Attendance.presence)).all()
    )
    ids = session_today["ids"]
    assert {ids[e]: presences.get(ids[e]) and presences[ids[e]].value for e in ids} == {
        ids["zoe.lhote-dupre@ac-amiens.fr"]: "present",
        ids["theo.caron@ac-amiens.fr"]: "present",
        ids["ines.moreau@ac-amiens.fr"]: "absent",
        ids["julien.roux@ac-amiens.fr"]: None,  # waiting, did not come in
    }
    db.session.remove()

    # The follow-up sweep, then delivery: nothing before the session's end; then three
    # certificates, each a PDF.
    from app.attendance.followup import send_follow_ups

    assert not send_follow_ups()
    clock.set(session_today["ends_at"] + timedelta(minutes=1))
    send_follow_ups()
    deliver()
    certificates = {}
    for message in smtp.messages:
        pdfs = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
        if pdfs:
            assert pdfs[0].get_content().startswith(b"%PDF")
            certificates[message["To"]] = message
    assert sorted(certificates) == [
        "elodie.lefevre@ac-amiens.fr",
        "theo.caron@ac-amiens.fr",
        "zoe.lhote-dupre@ac-amiens.fr",
    ]

    # The verification link printed in a certificate mail says it is genuine.
    links = re.findall(
        r"\S+/attestations/[\w-]+", text_of(certificates["zoe.lhote-dupre@ac-amiens.fr"])
    )
    assert links and links[0].startswith(f"{public_url}/attestations/"), links
    page.goto(links[0])
    expect(page.get_by_role("heading", level=1)).to_contain_text("authentique")
    expect(page.get_by_text("Zoé L'Hôte-Dupré")).to_be_visible()
    look(page, "attestation-verifiee")


def test_a_tap_made_offline_is_retried_until_it_gets_through(new_page, session_today, look):
    from playwright.sync_api import expect

    page = new_page(viewport=TABLET, has_touch=True)
    page.goto("/connexion")
    look(page, "connexion")
    page.get_by_label("Adresse électronique").fill(session_today["trainer_email"])
    page.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes séances")
    look(page, "mes-seances")
    page.goto(f"/formateur/seances/{session_today['workshop_id']}/pointage")

    page.context.set_offline(True)
    absent = page.get_by_role("button", name="Absent·e : Inès Moreau")
    absent.click()
    expect(absent).to_have_attribute("aria-pressed", "true")  # shown at once
    expect(page.locator("#checkin-status")).to_have_text("Hors ligne, nouvel essai…")
    # Closing now would have the tap refused: the page holds the trainer back.
    page.get_by_role("link", name="Clore la séance").click()
    expect(page.locator("#checkin-status")).to_contain_text("pas encore enregistrés")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Pointage")

    page.context.set_offline(False)
    expect(page.locator("#checkin-status")).to_contain_text("Enregistré — Moreau Inès : absent·e")
    db.session.remove()
    mark = db.session.get(Attendance, session_today["ids"]["ines.moreau@ac-amiens.fr"])
    assert mark is not None and mark.presence.value == "absent"
    db.session.remove()
