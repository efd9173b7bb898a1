"""Hardening (issue 13): bodies are limited (413), every response carries the security headers,
the pages still work under the Content-Security-Policy in a real browser, a file sent where a
text is expected and an id beyond any column's range are refused in French, not with a 500."""

import html
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.conftest import STAFF_PASSWORD, form_data, login, manage_secret, outbox

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
TWO_MEGABYTES = 2 * 1024 * 1024


def row_counts() -> dict[str, int]:
    """Rows in every table: what "nothing written" compares."""
    return {
        table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# --- 3. bodies are limited ---------------------------------------------------------------------


@pytest.mark.parametrize("target", ["registration", "login"])
def test_a_two_megabyte_post_is_refused_with_a_french_413_and_writes_nothing(
    client, make_workshop, make_staff, target
):
    workshop = make_workshop()
    user = make_staff("coordinator")
    if target == "registration":
        path, data = f"/ateliers/{workshop.id}/inscription", form_data(nom="M" * TWO_MEGABYTES)
    else:
        path, data = "/connexion", {"courriel": user.email, "mot_de_passe": "x" * TWO_MEGABYTES}
    before = row_counts()

    response = client.post(path, data=data)

    assert response.status_code == 413
    assert "Envoi trop volumineux" in text(response)
    assert '<html lang="fr">' in text(response)
    assert "M" * 1000 not in text(response) and "x" * 1000 not in text(response)
    db.session.rollback()
    assert row_counts() == before


def test_a_real_form_stays_well_under_the_limit(app):
    assert 64 * 1024 <= app.config["MAX_CONTENT_LENGTH"] <= 1024 * 1024  # nginx lets 1 MB through


# --- 4. security headers -----------------------------------------------------------------------


@pytest.fixture
def pages(client, make_workshop, make_staff):
    """One URL of each kind, and the Referrer-Policy its view chose (or the default)."""
    workshop = make_workshop()
    assert client.post(f"/ateliers/{workshop.id}/inscription", data=form_data()).status_code == 303
    secret = manage_secret(outbox("confirmed")[-1])
    login(client, make_staff("coordinator"))
    return {
        "/ateliers": "strict-origin-when-cross-origin",
        f"/ateliers/{workshop.id}": "strict-origin-when-cross-origin",
        f"/ateliers/{workshop.id}.ics": "strict-origin-when-cross-origin",  # public (secret feeds: no-referrer)
        "/sante": "strict-origin-when-cross-origin",
        "/admin/": "strict-origin-when-cross-origin",
        "/admin/chiffres": "strict-origin-when-cross-origin",
        "/formateur/": "strict-origin-when-cross-origin",
        f"/inscription/{secret}": "same-origin",
        "/connexion/reinitialiser/" + "x" * 43: "same-origin",
        "/page-qui-n-existe-pas": "strict-origin-when-cross-origin",
    }


def test_every_kind_of_response_carries_the_security_headers(client, pages):
    for path, referrer_policy in pages.items():
        response = client.get(path)
        assert response.status_code in (200, 404, 503), (path, response.status_code)
        headers = response.headers
        assert headers.get_all("Content-Security-Policy") == [CSP], path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers.get_all("Referrer-Policy") == [referrer_policy], path
        assert "Strict-Transport-Security" not in headers, path  # plain http: no HSTS
    assert client.get("/page-qui-n-existe-pas").status_code == 404


def test_staff_and_secret_pages_are_not_stored_and_specific_values_are_kept(client, pages):
    for path in pages:
        cache_control = client.get(path).headers.get("Cache-Control", "")
        if path.startswith(("/admin/", "/formateur/", "/connexion/reinitialiser/")):
            assert cache_control == "private, no-store", path
        elif path.startswith("/inscription/"):
            assert cache_control == "no-store", path  # the booking view's own value
        elif path.endswith(".ics"):
            assert cache_control == "public, no-cache", path  # the feed's own value
        else:
            assert "no-store" not in cache_control, path
    # The figures' CSV export keeps its own value.
    assert client.get("/admin/chiffres.csv").headers["Cache-Control"] == "private, no-store"


def test_hsts_only_over_https(client, pages):
    for path in ("/ateliers", "/sante", "/admin/", "/page-qui-n-existe-pas"):
        secure = client.get(path, base_url="https://localhost")
        assert secure.headers.get_all("Strict-Transport-Security") == ["max-age=31536000"], path
        assert "Strict-Transport-Security" not in client.get(path).headers


def test_no_template_has_inline_script_or_style(app):
    """The CSP refuses them: every script and style is a file under app/static. PDFs rendered by
    WeasyPrint and mails are not pages, and keep theirs."""
    from pathlib import Path

    root = Path(app.root_path)
    pdf_only = {"certificate.html", "programme_poster.html", "figures_pdf.html", "agenda_pdf.html"}
    offenders = []
    for template in root.rglob("templates/**/*.html"):
        if "/mail/" in template.as_posix() or template.name in pdf_only:
            continue
        source = template.read_text()
        for pattern in (
            r"<script>",
            r"<script(?![^>]*\bsrc=)[^>]*>",
            r"<style",
            r"\bstyle\s*=",
            r"\son[a-z]+\s*=",
        ):
            if re.search(pattern, source):
                offenders.append(f"{template.relative_to(root)}: {pattern}")
    assert offenders == []


# --- 7. no 500 on a file part or an out-of-range id ----------------------------------------------


@pytest.mark.parametrize("field", ["nom", "prenom", "courriel", "ecole", "uai", "site_web"])
def test_a_file_sent_in_any_field_of_the_registration_form_is_a_french_400(
    client, make_workshop, field
):
    workshop = make_workshop()
    data = form_data()
    data[field] = (io.BytesIO(b"Martin"), "nom.txt")
    before = row_counts()

    response = client.post(
        f"/ateliers/{workshop.id}/inscription", data=data, content_type="multipart/form-data"
    )

    assert response.status_code == 400
    assert "Ce formulaire n'accepte pas de fichier" in text(response)
    db.session.rollback()
    assert row_counts() == before


def test_a_file_sent_to_another_form_is_refused_the_same_way(client, make_staff):
    user = make_staff("coordinator")
    response = client.post(
        "/connexion",
        data={
            "courriel": (io.BytesIO(user.email.encode()), "a.txt"),
            "mot_de_passe": STAFF_PASSWORD,
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "Ce formulaire n'accepte pas de fichier" in text(response)


@pytest.mark.parametrize("before", [2**31, 2**63, 10**20, -5, 0])
def test_the_journal_pages_back_from_any_number(client, make_staff, before):
    login(client, make_staff("coordinator"))
    response = client.get(f"/admin/journal?avant={before}")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/admin/courriels?avant={n}",
        "/admin/ateliers/nouveau?copie={n}",
        "/admin/rencontres/{year}/propositions?theme={n}",
        "/admin/rencontres/nouvelle?annee={n}",
    ],
)
def test_other_numbers_from_the_query_string_beyond_any_column(
    client, make_staff, make_half_day, path
):
    year = make_half_day().school_year
    login(client, make_staff("coordinator"))
    for n in (2**31, 10**20):
        response = client.get(path.format(n=n, year=year))
        assert response.status_code in (200, 404), (path, response.status_code)


# --- 4. the pages still work under the policy, in a real browser -----------------------------------


class TestUnderTheContentSecurityPolicy:
    """Chromium reports every refused script or style on the console ("… violates the following
    Content Security Policy directive …"): none may appear on the main pages."""

    pytestmark = [pytest.mark.live, pytest.mark.browser]

    @pytest.fixture
    def config_overrides(self):
        return {"WTF_CSRF_ENABLED": True}  # as in production

    @pytest.fixture
    def app(self, live_app):
        return live_app  # the factories commit for real, for the live server's threads

    @pytest.fixture
    def data(self, clock, make_workshop, make_staff, make_half_day, applicant):
        from app.booking.services import register

        clock.set(datetime.now(UTC))
        workshop = make_workshop(capacity=3, starts_in=timedelta(minutes=30))
        register(workshop.id, applicant())
        user = make_staff("coordinator")
        make_half_day(datetime.now(UTC).year - 1)
        values = {
            "workshop_id": workshop.id,
            "email": user.email,
            "year": datetime.now(UTC).year - 1,
        }
        db.session.remove()
        return values

    def test_no_csp_violation_on_the_main_pages(self, new_page, data, look):
        from playwright.sync_api import expect

        page = new_page()
        violations = []
        page.on(
            "console",
            lambda message: (
                violations.append((page.url, message.text))
                if "Content Security Policy" in message.text
                else None
            ),
        )
        page.on("pageerror", lambda error: violations.append((page.url, str(error))))

        page.goto("/ateliers")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        look(page, "ateliers")
        page.goto(f"/ateliers/{data['workshop_id']}")
        expect(page.get_by_role("button", name=re.compile("inscri", re.I))).to_be_visible()
        look(page, "atelier")
        page.goto(f"/rencontres/{data['year']}")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        look(page, "rencontres")

        page.goto("/connexion")
        look(page, "connexion")
        page.get_by_label("Adresse électronique").fill(data["email"])
        page.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        expect(page.get_by_role("heading", name="Administration")).to_be_visible()
        look(page, "administration")

        page.goto(f"/formateur/seances/{data['workshop_id']}/pointage")
        expect(page.locator("[data-checkin-close], .checkin-toggle button").first).to_be_visible()
        look(page, "pointage")
        page.goto(f"/formateur/seances/{data['workshop_id']}/emargement")
        expect(page.get_by_role("button", name="Imprimer")).to_be_visible()
        look(page, "emargement")
        page.goto("/admin/chiffres")
        expect(
            page.get_by_role("heading", name="Chiffres pour le comité de pilotage")
        ).to_be_visible()
        look(page, "chiffres")

        assert violations == []
        # The figures' stylesheet applies (it used to be a <style> block in the page).
        assert page.locator(".fig-periods").evaluate("e => getComputedStyle(e).display") == "flex"
