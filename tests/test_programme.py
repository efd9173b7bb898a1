"""The programme for the mailing lists: what it lists, the mail (HTML and text) as webmail and an
SMTP server see it, the sending through the outbox with its audit entry, the A4 posters whose QR
codes decode back to the right links, and the coordinators-only pages that refuse bad input."""

import re
import shutil
import subprocess
from datetime import date, timedelta
from html import unescape
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from app.admin import programme_content, programme_mail, programme_poster, programme_request
from app.booking import services as booking
from app.catalog.models import Level, WorkshopStatus
from app.extensions import db
from app.formatting import Period
from app.mail.delivery import deliver_pending
from app.mail.models import OutboxMail
from app.staff.models import AuditEntry
from tests.conftest import login, require

LISTS = ["ecoles-amiens@ac-amiens.fr", "ecoles-peronne@ac-amiens.fr"]
BASE = "http://ateliers.test"
# The clock says Monday 2 March 2026, 9:00 UTC; the period runs from the day before.
PERIOD = Period(date(2026, 3, 1), date(2026, 4, 30))
FORM = {
    "du": "2026-03-01",
    "au": "2026-04-30",
    "sites": ["amiens", "peronne"],
    "objet": "Programme des ateliers TICE – printemps 2026",
    "introduction": "Bonjour à tous.",
}


@pytest.fixture
def config_overrides():
    return {"PROGRAMME_LIST_ADDRESSES": list(LISTS)}


@pytest.fixture
def scene(sites, make_workshop, applicant, topic):
    """Workshops that must be listed for Amiens + Péronne in PERIOD, and some that must not."""
    tbi = topic("tbi", "Tableau blanc interactif")

    def at(days, site, title, **fields):
        return make_workshop(
            site=sites[site], starts_in=timedelta(days=days), title=title, **fields
        )

    listed = {
        "ent": at(2, "amiens", "Découvrir l'ENT à l'école élémentaire"),
        "tbi": at(
            9, "amiens", "Le TBI en classe : créer des séquences", level=Level.expert, topic=tbi
        ),
        "full": at(9, "amiens", "Tablettes : premiers pas", capacity=1),
        "peronne": at(16, "peronne", "Ressources numériques – écrire avec des élèves de CP"),
    }
    booking.register(listed["full"].id, applicant(1))  # its only seat: waiting list now
    unlisted = {
        "abbeville": at(3, "abbeville", "Atelier d'Abbeville, autre site"),
        "later": at(70, "amiens", "Atelier après la période"),
        "started": at(-0.5, "amiens", "Atelier déjà commencé"),  # 1 March, in the period
        "draft": at(5, "amiens", "Brouillon non publié", status=WorkshopStatus.draft),
        "cancelled": at(6, "amiens", "Atelier annulé", status=WorkshopStatus.cancelled),
    }
    return listed, unlisted


def chosen(sites, *slugs):
    return [sites[slug] for slug in slugs]


def programme_mails():
    return list(
        db.session.scalars(
            sa.select(OutboxMail)
            .where(OutboxMail.template == programme_mail.MAIL_TEMPLATE)
            .order_by(OutboxMail.id)
        )
    )


def audit_entries():
    return list(
        db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "programme.send"))
    )


class MailReader(HTMLParser):
    """The links (href, text) and the text of an HTML mail, as a reader sees them."""

    def __init__(self, html: str):
        super().__init__()
        self.links, self.text, self.tags = [], [], set()
        self._href = None
        self.feed(html)
        self.close()
        self.text = " ".join(" ".join(self.text).split())

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "a":
            self._href, self._label = dict(attrs).get("href"), []

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((self._href, " ".join("".join(self._label).split())))
            self._href = None

    def handle_data(self, data):
        self.text.append(data)
        if self._href is not None:
            self._label.append(data)


# --- the programme and its mail -----------------------------------------------------------------


def test_programme_lists_the_period_by_site_then_date(scene, sites):
    listed, _ = scene

    result = programme_content.programme(PERIOD, chosen(sites, "peronne", "amiens"))

    assert [part.site.slug for part in result.sites] == ["amiens", "peronne"]
    amiens = result.sites[0]
    assert [day.day for day in amiens.days] == [date(2026, 3, 4), date(2026, 3, 11)]
    assert [line.workshop for line in amiens.lines] == [
        listed["ent"],
        listed["tbi"],
        listed["full"],
    ]
    assert [line.workshop for line in result.sites[1].lines] == [listed["peronne"]]
    assert result.sites[1].name_with_de == "de Péronne" and amiens.name_with_de == "d'Amiens"
    assert amiens.lines[0].link == f"{BASE}/ateliers/{listed['ent'].id}?source=liste"


def test_links_carry_the_source_marker(scene):
    listed, _ = scene
    workshop = listed["ent"]

    assert (
        programme_content.programme_link(workshop, "liste")
        == f"{BASE}/ateliers/{workshop.id}?source=liste"
    )
    assert (
        programme_content.programme_link(workshop, "affiche")
        == f"{BASE}/ateliers/{workshop.id}?source=affiche"
    )
    assert programme_content.catalogue_link("liste") == f"{BASE}/ateliers?source=liste"
    assert (
        programme_content.catalogue_link("affiche", workshop.site)
        == f"{BASE}/ateliers?site=amiens&source=affiche"
    )


def test_mail_html_lists_every_workshop_of_the_period_with_its_link(scene, sites):
    listed, unlisted = scene

    shown = programme_mail.preview(
        PERIOD, chosen(sites, "amiens", "peronne"), "Programme", "Bonjour."
    )
    mail = MailReader(shown.html)

    hrefs = [href for href, _ in mail.links]
    for workshop in listed.values():
        assert f"{BASE}/ateliers/{workshop.id}?source=liste" in hrefs
        assert workshop.title in mail.text
    for workshop in unlisted.values():
        assert not any(f"/ateliers/{workshop.id}?" in href for href in hrefs)
        assert workshop.title not in mail.text
    workshop_links = [href for href in hrefs if re.search(r"/ateliers/\d+", href)]
    assert len(workshop_links) == len(listed)
    assert all(href.endswith("?source=liste") for href in workshop_links)
    assert f"{BASE}/ateliers?source=liste" in hrefs  # the whole catalogue
    assert f"{BASE}/ateliers?site=amiens&source=liste" in hrefs
    assert {label for href, label in mail.links if href in workshop_links} == {
        "S'inscrire à cet atelier"
    }
    # What each workshop says: level, French date and hours, site and room, seats.
    assert "Niveau expert" in mail.text and "Niveau débutant" in mail.text
    assert "mercredi 11 mars 2026, 10 h – 13 h" in mail.text
    assert "Salle multimédia, site d'Amiens" in mail.text and "Site de Péronne" in mail.text
    assert "10 places restantes" in mail.text
    assert "Complet : inscription en liste d'attente" in mail.text
    # Readable in webmail: tables and inline styles, nothing fetched, 600 px at most.
    assert "table" in mail.tags and not mail.tags & {"style", "link", "img", "script"}
    assert "max-width:600px" in shown.html
    assert "liste de diffusion" in mail.text  # the footer's reason, not the registration one


def test_mail_text_twin_lists_the_same_workshops(scene, sites):
    listed, unlisted = scene

    shown = programme_mail.preview(PERIOD, chosen(sites, "amiens", "peronne"), "Programme", "")

    for workshop in listed.values():
        assert f"S'inscrire : {BASE}/ateliers/{workshop.id}?source=liste" in shown.text
        assert workshop.title in shown.text
    for workshop in unlisted.values():
        assert workshop.title not in shown.text
    assert f"Tout le catalogue des ateliers : {BASE}/ateliers?source=liste" in shown.text
    assert "Mercredi 11 mars 2026" in shown.text and "10 h – 13 h, Salle multimédia" in shown.text
    assert "<" not in shown.text and "\n\n\n" not in shown.text


def test_intro_is_shown_as_text_never_as_html(scene, sites):
    intro = "Premier paragraphe <script>alert(1)</script>\nsuite.\n\nSecond paragraphe."

    shown = programme_mail.preview(PERIOD, chosen(sites, "amiens"), "Programme", intro)

    assert (
        "<script>" not in shown.html
        and "&lt;script&gt;alert(1)&lt;/script&gt;<br>suite." in shown.html
    )
    assert shown.html.count("Second paragraphe.") == 1
    assert (
        "Premier paragraphe <script>alert(1)</script>\nsuite.\n\nSecond paragraphe." in shown.text
    )


# --- sending ------------------------------------------------------------------------------------


def test_sending_queues_one_mail_per_list_and_logs_it(scene, sites, make_staff, smtp):
    listed, _ = scene
    coordinator = make_staff("coordinator")
    subject = "Programme des ateliers TICE – du 1er mars au 30 avril 2026"

    mails = programme_mail.send_programme(
        coordinator, PERIOD, chosen(sites, "amiens", "peronne"), subject, ""
    )

    assert [m.recipient for m in programme_mails()] == LISTS == [m.recipient for m in mails]
    [entry] = audit_entries()
    assert entry.actor_id == coordinator.id and entry.target_kind == "programme"
    assert "envoyé à 2 listes" in entry.summary and "4 ateliers" in entry.summary
    assert all(address in entry.summary for address in LISTS)
    assert all(str(w.id) in entry.details for w in listed.values())

    report = deliver_pending()

    assert (report.sent, report.failed) == (3, 0)  # and the scene's booking confirmation
    received = [m for m in smtp.messages if m["To"] in LISTS]
    assert sorted(m["To"] for m in received) == sorted(LISTS)
    for message in received:
        assert message["Subject"] == subject
        # The outbox's one layout: mixed [ alternative (text, HTML) ], here without attachments.
        assert [part.get_content_type() for part in message.walk()] == [
            "multipart/mixed",
            "multipart/alternative",
            "text/plain",
            "text/html",
        ]
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        for workshop in listed.values():
            link = f"{BASE}/ateliers/{workshop.id}?source=liste"
            assert link in text and f'href="{link}"' in html


def test_the_mail_says_hello_and_announces_the_programme_once(scene, sites):
    where = chosen(sites, "amiens")
    plain = programme_mail.preview(PERIOD, where, "Programme", "")
    assert plain.text.startswith(
        "Bonjour,\n\nVoici le programme des ateliers TICE du 1er mars au 30 avril 2026. "
        "L'inscription est gratuite"
    )
    own = programme_mail.preview(
        PERIOD,
        where,
        "Programme",
        "Bonjour à toutes et à tous,\n\nVoici le programme du printemps : bonne lecture !",
    )
    assert own.text.startswith(
        "Bonjour à toutes et à tous,\n\nVoici le programme du printemps : bonne lecture !\n\n"
        "L'inscription est gratuite, en ligne, sans compte"
    )
    for body in (own.text, MailReader(own.html).text):
        assert body.count("Bonjour") == 1 and body.count("Voici le programme") == 1, body[:400]
    # a message that neither greets nor announces gets both around it
    note = programme_mail.preview(PERIOD, where, "Programme", "Nouveaux ateliers TBI ce trimestre.")
    assert note.text.startswith("Bonjour,\n\nNouveaux ateliers TBI ce trimestre.\n\nVoici le")


def test_the_same_programme_is_not_sent_twice_in_a_row(scene, sites, make_staff, clock):
    """A double click on "Envoyer", or a reloaded page, must not mail the lists twice."""
    coordinator, where = make_staff("coordinator"), chosen(sites, "amiens")
    programme_mail.send_programme(coordinator, PERIOD, where, "Programme", "")

    with pytest.raises(
        programme_request.ProgrammeRefused, match="déjà été mis dans la boîte d'envoi à 10 h par"
    ):
        programme_mail.send_programme(coordinator, PERIOD, where, "Programme", "Autre introduction")
    assert len(programme_mails()) == 2 and len(audit_entries()) == 1

    programme_mail.send_programme(
        coordinator, PERIOD, where, "Programme corrigé", ""
    )  # another subject
    clock.advance(minutes=11)
    programme_mail.send_programme(coordinator, PERIOD, where, "Programme", "")  # later on
    assert len(programme_mails()) == 6 and len(audit_entries()) == 3


def test_sending_without_list_addresses_is_refused(app, scene, sites, make_staff):
    app.config["PROGRAMME_LIST_ADDRESSES"] = []

    with pytest.raises(programme_request.ProgrammeRefused, match="PROGRAMME_LIST_ADDRESSES"):
        programme_mail.send_programme(
            make_staff("coordinator"), PERIOD, chosen(sites, "amiens"), "Programme", ""
        )

    assert programme_mails() == [] and audit_entries() == []


def test_sending_an_empty_programme_is_refused(scene, sites, make_staff):
    empty = Period(date(2026, 7, 1), date(2026, 7, 31))

    with pytest.raises(programme_request.ProgrammeRefused, match="Aucun atelier"):
        programme_mail.send_programme(
            make_staff("coordinator"), empty, chosen(sites, "amiens"), "Programme", ""
        )

    assert programme_mails() == [] and audit_entries() == []


def test_a_subject_with_a_line_break_is_refused_by_the_service_too(scene, sites, make_staff):
    with pytest.raises(programme_request.ProgrammeRefused, match="une ligne"):
        programme_mail.send_programme(
            make_staff("coordinator"),
            PERIOD,
            chosen(sites, "amiens"),
            "Programme\r\nBcc: x@y.fr",
            "",
        )
    assert programme_mails() == []


# --- posters ------------------------------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    require(
        shutil.which("pdftotext") is not None, "pdftotext missing: apt-get install poppler-utils"
    )
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"],
        input=data,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return result.stdout.decode("utf-8")


def qr_payloads(data: bytes, tmp_path) -> list[str]:
    """Every QR code of every page, decoded by zbar from 150 and 200 dpi renderings (zbar, which
    scans a whole page at once, can miss one code of a dozen at one resolution; a phone frames
    one code at a time)."""
    require(
        bool(shutil.which("zbarimg") and shutil.which("pdftoppm")),
        "zbarimg or pdftoppm missing: apt-get install zbar-tools poppler-utils",
    )
    pdf = tmp_path / "affiche.pdf"
    pdf.write_bytes(data)
    found = set()
    for dpi in ("150", "200"):
        prefix = tmp_path / f"page-{dpi}"
        subprocess.run(
            ["pdftoppm", "-r", dpi, "-png", str(pdf), str(prefix)], check=True, timeout=120
        )
        pages = sorted(str(path) for path in tmp_path.glob(f"page-{dpi}*.png"))
        assert pages
        result = subprocess.run(
            ["zbarimg", "--raw", "-q", *pages], capture_output=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        found.update(result.stdout.decode("utf-8").splitlines())
    return sorted(found)


def test_poster_qr_codes_decode_to_each_workshop_and_the_catalogue(
    scene, sites, make_workshop, tmp_path
):
    listed, _ = scene
    # Ten workshops: two a row, each with its code, still one page.
    extra = [
        make_workshop(
            site=sites["amiens"],
            starts_in=timedelta(days=20 + n),
            title=f"Élèves et écrans, séance {n}",
        )
        for n in range(7)
    ]
    amiens = [listed["ent"], listed["tbi"], listed["full"], *extra]

    data = programme_poster.poster_pdf(sites["amiens"], PERIOD)

    expected = sorted(
        [f"{BASE}/ateliers/{w.id}?source=affiche" for w in amiens]
        + [f"{BASE}/ateliers?site=amiens&source=affiche"]
    )
    assert qr_payloads(data, tmp_path) == expected
    assert pdf_pages(data) == 1
    text = " ".join(pdf_text(data).split())
    for workshop in amiens:
        assert workshop.title in text
    assert "Ateliers TICE – site d'Amiens" in text and "du 1er mars au 30 avril 2026" in text
    assert "45 rue Saint-Leu, 80026 Amiens" in text
    assert "Niveau expert" in text and "mercredi 11 mars 2026".capitalize() in text
    assert "Ressources numériques" not in text  # Péronne's


def pdf_pages(data: bytes) -> int:
    require(shutil.which("pdfinfo") is not None, "pdfinfo missing: apt-get install poppler-utils")
    info = subprocess.run(
        ["pdfinfo", "-"], input=data, capture_output=True, check=True, timeout=60
    ).stdout.decode("utf-8")
    return int(re.search(r"^Pages:\s+(\d+)$", info, re.M).group(1))


TITLES = [
    "Le TBI en classe de CP : créer des séquences interactives",
    "ENT : le cahier de textes et la messagerie avec les familles",
    "Tablettes : produire un livre numérique avec les élèves de cycle 2",
    "Ressources numériques pour l'enseignement des langues vivantes",
]


@pytest.mark.parametrize("count", [1, 8, 20, 60])
def test_the_poster_is_one_page_whatever_the_number_of_workshops(
    sites, make_workshop, tmp_path, count
):
    workshops = [
        make_workshop(
            site=sites["amiens"],
            starts_in=timedelta(days=1, hours=n * 6),
            title=f"{TITLES[n % len(TITLES)]} ({n + 1})",
        )
        for n in range(count)
    ]

    data = programme_poster.poster_pdf(sites["amiens"], Period(date(2026, 3, 1), date(2026, 6, 30)))

    assert pdf_pages(data) == 1
    text = " ".join(pdf_text(data).split())
    shown = [w for w in workshops if f"{w.title}" in text]
    assert shown == workshops[: len(shown)]  # the first ones, by date, none cut
    hidden = count - len(shown)
    if hidden:
        assert f"… et {hidden} autres ateliers : scannez le code" in text
        assert len(shown) >= 20
    else:
        assert "autres ateliers" not in text
    assert count < 20 or hidden or len(shown) == 20
    payloads = qr_payloads(data, tmp_path)
    catalogue = f"{BASE}/ateliers?site=amiens&source=affiche"
    assert catalogue in payloads and "ateliers.test/ateliers?site=amiens" in text
    if count <= programme_poster.GRID_MAX:  # each workshop keeps its own code
        assert sorted(payloads) == sorted(
            [catalogue, *(f"{BASE}/ateliers/{w.id}?source=affiche" for w in workshops)]
        )


def test_poster_qr_codes_are_printed_big_enough(scene, sites):
    html = programme_poster.poster_html(sites["amiens"], PERIOD)

    boxes = re.findall(
        r'width: ([0-9.]+)mm;[^"]*" class="qr-box qr-(\w+)">\s*<svg viewBox="0 0 (\d+) \d+"', html
    )
    assert sorted(kind for _, kind, _ in boxes) == ["catalogue"] + ["workshop"] * 3
    for width, kind, modules in boxes:
        symbol_mm = (
            float(width) * (int(modules) - 2 * programme_poster.QR_QUIET_ZONE) / int(modules)
        )
        assert symbol_mm >= (40 if kind == "catalogue" else 20)
    code = programme_poster.qr_code(
        f"{BASE}/ateliers/1?source=affiche", programme_poster.WORKSHOP_QR_MM
    )
    assert code.symbol_mm == programme_poster.WORKSHOP_QR_MM


def test_an_empty_poster_is_refused(scene, sites):
    with pytest.raises(programme_request.ProgrammeRefused, match="pas d'affiche"):
        programme_poster.poster_pdf(sites["abbeville"], Period(date(2026, 4, 1), date(2026, 4, 30)))


# --- the pages ----------------------------------------------------------------------------------


PAGES = [
    ("get", "/admin/programme/"),
    ("post", "/admin/programme/apercu"),
    ("post", "/admin/programme/envoyer"),
    ("get", "/admin/programme/affiche/amiens.pdf?du=2026-03-01&au=2026-04-30"),
]


@pytest.mark.parametrize(("method", "url"), PAGES)
def test_anonymous_visitors_go_to_the_login(client, scene, method, url):
    response = getattr(client, method)(url, data=FORM if method == "post" else None)

    assert response.status_code == 302 and "/connexion" in response.headers["Location"]
    assert programme_mails() == []


@pytest.mark.parametrize(("method", "url"), PAGES)
def test_trainers_are_refused(client, scene, make_staff, method, url):
    login(client, make_staff("trainer"))

    response = getattr(client, method)(url, data=FORM if method == "post" else None)

    assert response.status_code == 403
    assert programme_mails() == []


@pytest.fixture
def coordinator(client, make_staff):
    user = make_staff("coordinator")
    login(client, user)
    return user


def test_the_form_is_prefilled(client, scene, coordinator):
    response = client.get("/admin/programme/")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert (
        'value="2026-03-02"' in page and 'value="2026-04-30"' in page
    )  # today to end of next month
    assert "Programme des ateliers TICE – du 2 mars au 30 avril 2026" in page
    assert page.count('name="sites"') == 3 and page.count(" checked") == 3
    assert "/admin/programme/" in client.get("/admin/").get_data(as_text=True)


def test_preview_shows_the_mail_its_text_and_the_lists_without_sending(client, scene, coordinator):
    listed, _ = scene

    response = client.post("/admin/programme/apercu", data=FORM)

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<iframe" in page and "sandbox" in page and "srcdoc=" in page
    for workshop in listed.values():
        assert f"{BASE}/ateliers/{workshop.id}?source=liste" in page
    assert all(address in page for address in LISTS)
    assert 'formaction="/admin/programme/envoyer"' in page and "Envoyer à 2 listes" in page
    assert "/admin/programme/affiche/amiens.pdf?du=2026-03-01&amp;au=2026-04-30" in page
    assert programme_mails() == [] and audit_entries() == []


def test_the_preview_is_exactly_the_mail_the_lists_receive(client, scene, coordinator, smtp):
    form = {**FORM, "introduction": "Bonjour à toutes et à tous,\n\nVoici le programme."}
    page = client.post("/admin/programme/apercu", data=form).get_data(as_text=True)
    shown_text = unescape(re.search(r'<pre class="mail-preview-text">(.*?)</pre>', page, re.S)[1])
    shown_html = unescape(re.search(r'srcdoc="([^"]*)"', page)[1])

    assert client.post("/admin/programme/envoyer", data=form).status_code == 302
    deliver_pending()

    received = [m for m in smtp.messages if m["To"] in LISTS]
    assert len(received) == 2

    def body(message, kind):  # SMTP carries lines ended by CRLF
        return message.get_body((kind,)).get_content().replace("\r\n", "\n").rstrip("\n")

    for message in received:
        assert body(message, "plain") == shown_text.rstrip("\n")
        assert body(message, "html") == shown_html.rstrip("\n")
    assert shown_text.count("Bonjour") == 1 and shown_text.count("Voici le programme") == 1


def test_the_form_says_what_the_mail_adds_by_itself(client, scene, coordinator):
    page = unescape(client.get("/admin/programme/").get_data(as_text=True))
    assert "Ajouté automatiquement au courriel" in page
    assert "« Bonjour, » — sauf si votre message commence déjà par une salutation" in page
    assert "sauf si votre message dit déjà « Voici le programme »" in page
    assert "L'aperçu montre le courriel exactement tel qu'il partira." in page


def test_preview_without_list_addresses_says_how_to_set_them(app, client, scene, coordinator):
    app.config["PROGRAMME_LIST_ADDRESSES"] = []

    page = client.post("/admin/programme/apercu", data=FORM).get_data(as_text=True)

    assert "PROGRAMME_LIST_ADDRESSES" in page and "Envoyer à" not in page
    response = client.post("/admin/programme/envoyer", data=FORM)
    assert response.status_code == 400 and "PROGRAMME_LIST_ADDRESSES" in response.get_data(
        as_text=True
    )
    assert programme_mails() == []


def test_send_queues_the_mails_and_says_so(client, scene, coordinator):
    response = client.post("/admin/programme/envoyer", data=FORM)

    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/admin/programme/"
    )
    page = unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "Programme mis dans la boîte d'envoi pour 2 listes." in page
    mails = programme_mails()
    assert [m.recipient for m in mails] == LISTS
    assert {m.subject for m in mails} == {FORM["objet"]}
    assert "Bonjour à tous." in mails[0].body_text
    [entry] = audit_entries()
    assert entry.actor_id == coordinator.id
    again = client.post("/admin/programme/envoyer", data=FORM)
    assert again.status_code == 400 and "déjà été mis dans la boîte" in unescape(
        again.get_data(as_text=True)
    )
    assert len(programme_mails()) == 2


def test_an_empty_subject_takes_the_default_one(client, scene, coordinator):
    client.post("/admin/programme/envoyer", data={**FORM, "objet": "  "})

    assert {m.subject for m in programme_mails()} == {
        "Programme des ateliers TICE – du 1er mars au 30 avril 2026"
    }


def test_modify_sends_the_fields_back_to_the_form(client, scene, coordinator):
    page = client.post("/admin/programme/", data={**FORM, "sites": ["peronne"]}).get_data(
        as_text=True
    )

    assert 'value="2026-03-01"' in page and "printemps 2026" in page and page.count(" checked") == 1


BAD_INPUTS = [
    ({"du": "", "au": ""}, "Indiquez la période"),
    ({"du": "2026-03-01", "au": ""}, "Indiquez la période"),
    ({"du": "2026-04-30", "au": "2026-03-01"}, "la date de début doit précéder la date de fin"),
    ({"du": "2026-03-01", "au": "2027-03-02"}, "La période dépasse un an"),
    ({"du": "2026-13-01"}, "n&#39;est pas une date"),
    ({"du": "9999-12-31", "au": "9999-12-31"}, "entre 2000 et 2099"),
    ({"sites": ["amiens", "lille"]}, "Site inconnu : « lille »"),
    ({"sites": []}, "Choisissez au moins un site"),
    ({"objet": "Programme\r\nBcc: tout-le-monde@ac-amiens.fr"}, "tenir sur une ligne"),
    ({"objet": "P" * 201}, "L&#39;objet du courriel est trop long"),
    ({"introduction": "Bonjour. " * 1000}, "L&#39;introduction est trop longue"),
    ({"introduction": "Bonjour\x00"}, "caractères invisibles"),
    ({"du": "2026-07-01", "au": "2026-07-31"}, "Aucun atelier publié à venir"),
]


@pytest.mark.parametrize("url", ["/admin/programme/apercu", "/admin/programme/envoyer"])
@pytest.mark.parametrize(("fields", "message"), BAD_INPUTS)
def test_bad_input_gets_a_french_message_and_sends_nothing(
    client, scene, coordinator, url, fields, message
):
    response = client.post(url, data={**FORM, **fields})

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page and "Rien n'a été envoyé" in page
    assert programme_mails() == [] and audit_entries() == []


def test_every_problem_is_listed_at_once(client, scene, coordinator):
    page = client.post(
        "/admin/programme/apercu", data={**FORM, "du": "", "sites": [], "objet": "a\nb"}
    ).get_data(as_text=True)

    assert "Indiquez la période" in page and "Choisissez au moins un site" in page
    assert "tenir sur une ligne" in page


def test_posts_without_the_csrf_token_are_refused(app, client, scene, coordinator):
    app.config["WTF_CSRF_ENABLED"] = True

    response = client.post("/admin/programme/envoyer", data=FORM)

    assert response.status_code == 400 and "Le formulaire a expiré" in response.get_data(
        as_text=True
    )
    assert programme_mails() == []
    form = client.get("/admin/programme/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
    assert (
        client.post("/admin/programme/envoyer", data={**FORM, "csrf_token": token}).status_code
        == 302
    )
    assert len(programme_mails()) == 2


def test_poster_download(client, scene, coordinator):
    response = client.get("/admin/programme/affiche/amiens.pdf?du=2026-03-01&au=2026-04-30")

    assert response.status_code == 200 and response.content_type == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    assert (
        'filename="affiche-amiens-2026-03-01_2026-04-30.pdf"'
        in response.headers["Content-Disposition"]
    )
    chooser = client.get("/admin/programme/affiche?site=peronne&du=2026-03-01&au=2026-04-30")
    assert chooser.headers["Location"].startswith(
        "/admin/programme/affiche/peronne.pdf?du=2026-03-01"
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("du=2026-04-30&au=2026-03-01", "la date de début doit précéder la date de fin"),
        ("du=&au=", "Indiquez la période"),
        ("du=2026-03-01&au=2028-03-01", "La période dépasse un an"),
        ("du=2026-07-01&au=2026-07-31", "pas d&#39;affiche à imprimer"),
    ],
)
def test_poster_bad_periods_get_a_french_message(client, scene, coordinator, query, message):
    response = client.get(f"/admin/programme/affiche/amiens.pdf?{query}")

    assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_poster_of_an_unknown_site_is_not_found(client, scene, coordinator):
    assert (
        client.get("/admin/programme/affiche/lille.pdf?du=2026-03-01&au=2026-04-30").status_code
        == 404
    )
    assert (
        client.get("/admin/programme/affiche?site=lille&du=2026-03-01&au=2026-04-30").status_code
        == 400
    )
