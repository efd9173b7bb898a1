"""The exchange half-day's public pages (issue 7, part 6): the landing page before and after the
agenda's publication, the agenda by time and room, its PDF (read back by poppler) and its calendar
feed, which passes the same checks as the workshop feeds (the project's lint, `ical` strict and
`vobject`), with conditional GET.
"""

import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from html.parser import HTMLParser

import pytest
import vobject

from app.catalog.models import Level
from app.exchange.models import (
    AgendaSlot,
    AgendaVersion,
    ContributionFormat,
    ContributionStatus,
    HalfDayState,
    SlotKind,
)
from app.exchange.services import at_local
from app.extensions import db
from tests import test_catalog
from tests.browser import NO_HORIZONTAL_SCROLL
from tests.ical_checks import events, lines
from tests.test_sheets import pdf_info, pdf_text

CONTENT_TYPE = "text/calendar; charset=utf-8"
URL = "/rencontres/2025"
FEED = "/rencontres/2025.ics"
PDF = "/rencontres/2025/programme.pdf"

#: A title and a summary that stress iCalendar's escaping and folding.
AWKWARD_TITLE = "Élèves, écrans ; tablettes; virgules, « guillemets » et accents à l'école"
#: An unbreakable word wider than a phone (a pasted address), to be wrapped, not scrolled.
LONG_WORD = "Circonscriptiondesécolesnumériquesdelacadémiedamiensetdusyndicatsommenumérique"
LONG_SUMMARY = (
    "Un retour d'expérience, avec des virgules; des points-virgules ; des accents éèàù. " * 40
).strip()


# --- helpers -------------------------------------------------------------------------------------


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def uid(kind: str, id_: int) -> str:
    return f"{kind}-{id_}@ateliers.test"


@dataclass
class Published:
    """A published agenda made directly with the models (the builder's and the publisher's work
    are other parts' tests)."""

    half_day: object
    version: AgendaVersion
    contributions: dict = field(default_factory=dict)
    slots: list = field(default_factory=list)


@pytest.fixture
def published(make_half_day, make_contribution, topic, clock):
    """The 2025 half-day with version 1 of its agenda: opening, three rooms in parallel, the
    break, a round table, the closing."""

    def make(*, number=1, half_day=None, contributions=None, moved=False):
        half_day = half_day or make_half_day(state=HalfDayState.published)
        auditorium, salle1, salle2 = half_day.rooms
        tbi = topic("tbi", "TBI")
        if contributions is None:
            contributions = {
                "ent": make_contribution(
                    half_day,
                    status=ContributionStatus.accepted,
                    title="L'ENT en maternelle",
                    presenters="Léa Martin\nPaul Durand",
                    organisation="École Jules Ferry, Amiens",
                    summary="Le cahier de vie numérique.\n\nAvec les familles.",
                    format=ContributionFormat.demonstration,
                ),
                "tablettes": make_contribution(
                    half_day,
                    status=ContributionStatus.accepted,
                    title="Tablettes en CP",
                    presenters="Zoé Petit",
                    organisation=LONG_WORD,
                    format=ContributionFormat.workshop,
                    level=Level.expert,
                    topic=tbi,
                ),
                "awkward": make_contribution(
                    half_day,
                    status=ContributionStatus.accepted,
                    title=AWKWARD_TITLE,
                    summary=LONG_SUMMARY,
                    format=ContributionFormat.testimony,
                ),
                "table": make_contribution(
                    half_day,
                    status=ContributionStatus.accepted,
                    title="Table ronde : le numérique demain",
                    format=ContributionFormat.round_table,
                ),
            }
        c = contributions
        version = AgendaVersion(
            half_day_id=half_day.id,
            number=number,
            published_at=clock.now,
            published_by="coordination1@ac-amiens.fr",
        )
        db.session.add(version)
        db.session.flush()
        shift = 15 if moved else 0

        def slot(kind, room, start, end, contribution=None):
            return AgendaSlot(
                half_day_id=half_day.id,
                version_id=version.id,
                kind=kind,
                contribution_id=contribution.id if contribution else None,
                room_id=room.id if room else None,
                starts_at=at_local(half_day, start),
                ends_at=at_local(half_day, end),
            )

        slots = [
            slot(SlotKind.opening, auditorium, time(13, 30), time(13, 45)),
            slot(SlotKind.contribution, auditorium, time(13, 45), time(14, 15), c["ent"]),
            slot(SlotKind.contribution, salle1, time(13, 45), time(14, 30), c["tablettes"]),
            slot(
                SlotKind.contribution,
                salle2,
                time(14, 0 + shift),
                time(14, 15 + shift),
                c["awkward"],
            ),
            slot(SlotKind.break_, None, time(15, 0), time(15, 20)),
            slot(SlotKind.contribution, auditorium, time(15, 20), time(16, 20), c["table"]),
            slot(SlotKind.closing, auditorium, time(16, 45), time(17, 0)),
        ]
        db.session.add_all(slots)
        db.session.commit()
        return Published(half_day, version, contributions, slots)

    return make


class AgendaReader(HTMLParser):
    """The agenda as a reader meets it: rows (time headings) of items (their text, anchor id,
    grid column)."""

    def __init__(self):
        super().__init__()
        self.rows: list[tuple[str, list[dict]]] = []
        self._in_time = False
        self._item_depth = 0
        self._depth = 0
        self._item = None

    VOID = test_catalog.Form.VOID  # elements without an end tag

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        attrs = dict(attrs)
        self._depth += 1
        classes = (attrs.get("class") or "").split()
        if tag == "section" and "agenda-row" in classes:
            self.rows.append(("", []))
        elif tag == "h3" and self.rows and self._item is None and not self.rows[-1][0]:
            self._in_time = True
        elif "agenda-item" in classes:
            self._item = {"id": attrs.get("id"), "classes": classes, "text": ""}
            self._item_depth = self._depth
            self.rows[-1][1].append(self._item)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if self._item is not None and self._depth == self._item_depth:
            self._item["text"] = " ".join(self._item["text"].split())
            self._item = None
        self._in_time = False if tag == "h3" else self._in_time
        self._depth -= 1

    def handle_startendtag(self, tag, attrs):
        pass  # a self-closed tag opens nothing

    def handle_data(self, data):
        if self._in_time:
            self.rows[-1] = (self.rows[-1][0] + data.strip(), self.rows[-1][1])
        elif self._item is not None:
            self._item["text"] += " " + data


def agenda_rows(response):
    reader = AgendaReader()
    reader.feed(response.get_data(as_text=True))
    return reader.rows


def get_ics(client, url, status=200, **headers):
    response = client.get(url, headers=headers)
    assert response.status_code == status, (url, response.status_code)
    if status == 200:
        assert response.headers["Content-Type"] == CONTENT_TYPE
    return response


# --- the landing page ----------------------------------------------------------------------------


def test_before_publication_the_page_says_when_where_and_how_to_propose(client, make_half_day):
    make_half_day(description="Une après-midi pour partager.\n\nVenez nombreux.")
    response = client.get(URL)
    assert response.status_code == 200
    page = text(response)
    assert "<h1>Rencontres TICE 2025-2026</h1>" in page
    assert "mercredi 20 mai 2026, de 13 h 30 à 17 h" in page
    assert "CRDP, site d'Amiens — 45 rue Saint-Leu, 80026 Amiens" in page
    assert "<p>Une après-midi pour partager.</p>" in page and "<p>Venez nombreux.</p>" in page
    # The call is open: a prominent link to the proposal form, with the deadline.
    assert 'href="/rencontres/2025/proposer">Proposer une intervention</a>' in page
    assert "jusqu'au mercredi 1er avril 2026, 18 h" in page
    assert "Le programme sera publié après l'examen des propositions." in page
    assert 'class="agenda' not in page and "programme.pdf" not in page
    # Subscribing is offered from the start; the registration form is there.
    assert 'value="http://ateliers.test/rencontres/2025.ics"' in page
    assert 'href="webcal://ateliers.test/rencontres/2025.ics"' in page
    assert 'action="/rencontres/2025/inscription"' in page
    for name in ("nom", "prenom", "courriel", "organisation", "site_web"):
        assert f'name="{name}"' in page
    assert 'value="sur_place"' in page and 'value="a_distance"' in page


def test_once_the_deadline_has_passed_no_proposal_link(client, make_half_day, clock):
    make_half_day(state=HalfDayState.review)
    page = text(client.get(URL))
    assert "/proposer" not in page and "Appel à propositions" not in page
    assert "Le programme sera publié après l'examen des propositions." in page


def test_the_call_closes_at_its_deadline_even_before_the_state_changes(
    client, make_half_day, clock
):
    make_half_day()
    clock.set(datetime(2026, 4, 1, 16, 0, tzinfo=UTC))  # 18:00 in Paris
    assert "/proposer" not in text(client.get(URL))


@pytest.mark.parametrize("year", ["2030", "1999", "99999999999999999999", "0"])
def test_an_unknown_year_is_not_found(client, make_half_day, year):
    make_half_day()
    for url in (
        f"/rencontres/{year}",
        f"/rencontres/{year}.ics",
        f"/rencontres/{year}/programme.pdf",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Page introuvable" in text(response)


def test_the_published_agenda_by_time_then_room(client, published):
    agenda = published()
    c = agenda.contributions
    response = client.get(URL)
    page = text(response)
    assert "Le programme sera publié" not in page
    rows = agenda_rows(response)
    assert [time_ for time_, _ in rows] == [
        "13 h 30",
        "13 h 45",
        "14 h",
        "15 h",
        "15 h 20",
        "16 h 45",
    ]
    by_time = dict(rows)
    assert [item["id"] for item in by_time["13 h 45"]] == [
        f"contribution-{c['ent'].id}",
        f"contribution-{c['tablettes'].id}",
    ]
    # Each contribution sits in its room's column of the grid (the auditorium first); classes,
    # not style="…", which the Content-Security-Policy refuses.
    assert "agenda-col-2" in by_time["13 h 45"][0]["classes"]
    assert "agenda-col-3" in by_time["13 h 45"][1]["classes"]
    assert "agenda-col-4" in by_time["14 h"][0]["classes"]
    # The plenaries and the break are for everyone: no contribution anchor.
    assert by_time["13 h 30"][0]["id"] is None
    assert "Ouverture des Rencontres (plénière)" in by_time["13 h 30"][0]["text"]
    assert (
        "Pause" in by_time["15 h"][0]["text"] and "Pour tout le monde" in by_time["15 h"][0]["text"]
    )
    assert "Clôture des Rencontres (plénière)" in by_time["16 h 45"][0]["text"]

    ent = by_time["13 h 45"][0]["text"]
    for part in (
        "13 h 45 – 14 h 15 · Auditorium",
        "L'ENT en maternelle",
        "Léa Martin, Paul Durand — École Jules Ferry, Amiens",
        "Démonstration (30 min)",
        "ENT",
        "Niveau débutant",
        "Résumé",
        "Le cahier de vie numérique.",
    ):
        assert part in ent, part
    tablets = by_time["13 h 45"][1]["text"]
    assert "Atelier (45 min)" in tablets and "TBI" in tablets and "Niveau expert" in tablets
    assert "Salle 1" in tablets
    # The summary is collapsible, its paragraphs kept.
    assert re.search(
        rf'id="contribution-{c["ent"].id}".*?<details>\s*<summary>Résumé.*?'
        r"<p>Le cahier de vie numérique.</p><p>Avec les familles.</p>\s*</details>",
        page,
        re.S,
    )
    # The grid has one column per room used, and the room names as its head.
    assert 'class="agenda agenda-rooms-3"' in page
    assert re.search(r'class="agenda-head".*?Auditorium.*?Salle 1.*?Salle 2', page, re.S)


def test_the_published_page_links_the_pdf_and_the_feed(client, published):
    published()
    page = text(client.get(URL))
    assert 'href="/rencontres/2025/programme.pdf"' in page
    assert 'value="http://ateliers.test/rencontres/2025.ics"' in page
    assert 'href="webcal://ateliers.test/rencontres/2025.ics"' in page
    assert (
        "calendar.google.com/calendar/r?cid=webcal%3A%2F%2Fateliers.test%2Frencontres%2F2025.ics"
        in page
    )


def test_the_page_shows_the_latest_version(client, published, clock):
    first = published()
    clock.advance(days=1)
    published(number=2, half_day=first.half_day, contributions=first.contributions, moved=True)
    rows = dict(agenda_rows(client.get(URL)))
    assert "14 h 15" in rows and "14 h" not in rows
    assert "(version 2)" in text(client.get(URL))


def test_names_and_titles_are_escaped(client, published, make_half_day, make_contribution):
    half_day = make_half_day(state=HalfDayState.published)
    evil = make_contribution(
        half_day,
        status=ContributionStatus.accepted,
        title="<script>alert(1)</script>",
        presenters="<img src=x onerror=alert(1)>",
        summary="<b>gras</b>",
    )
    others = {
        name: make_contribution(half_day, status=ContributionStatus.accepted)
        for name in ("tablettes", "awkward", "table")
    }
    published(half_day=half_day, contributions={"ent": evil, **others})
    body = client.get(URL).get_data(as_text=True)
    assert (
        "<script>alert(1)</script>" not in body
        and "<img src=x" not in body
        and "<b>gras</b>" not in body
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_a_phone_reads_a_single_column_without_horizontal_scrolling(client, published):
    """The markup's promises for a 360 px screen: the viewport meta, the grid only from 48rem, no
    fixed widths, long words wrapped. (The browser test of issue 7 shows the page for real.)"""
    published()
    body = client.get(URL).get_data(as_text=True)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in body
    with client.get("/static/style.css") as response:
        sheet = response.get_data(as_text=True)
    style = sheet.split("/* the public page: agenda by time")[1].split("/* the proposal form */")[0]
    narrow, _, wide = style.partition("@media (min-width: 48rem)")
    assert "display: grid" not in narrow and "display: grid" in wide
    assert "overflow-wrap: anywhere" in narrow
    assert "minmax(0, 1fr)" in wide
    assert not re.search(r"\b(min-)?width:\s*\d{3,}px", style)


# --- the PDF ---------------------------------------------------------------------------------------


def test_the_pdf_is_the_published_agenda_on_a4(client, published):
    agenda = published()
    response = client.get(PDF)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert (
        response.headers["Content-Disposition"]
        == 'inline; filename="rencontres-2025-2026-programme.pdf"'
    )
    assert "A4" in pdf_info(response.data)["Page size"]
    content = " ".join(pdf_text(response.data).split())
    for part in (
        "Rencontres TICE 2025-2026",
        "mercredi 20 mai 2026, de 13 h 30 à 17 h",
        "CRDP, site d'Amiens — 45 rue Saint-Leu, 80026 Amiens",
        "13 h 30 – 13 h 45",
        "Ouverture des Rencontres (plénière)",
        "L'ENT en maternelle",
        "Léa Martin, Paul Durand — École Jules Ferry, Amiens",
        "Démonstration (30 min) · ENT · niveau débutant",
        "Tablettes en CP",
        "Salle 1",
        "Pause",
        "Clôture des Rencontres (plénière)",
        "http://ateliers.test/rencontres/2025",
        "version 1",
    ):
        assert part in content, part
    assert agenda.contributions["awkward"].title in content
    # Nothing runs off the page: a long summary wraps whole, an unbreakable word is broken.
    # (pdftotext joins a word cut at its hyphen: "points-virgules" may read "pointsvirgules")
    assert " ".join(LONG_SUMMARY.split()).replace("-", "") in content.replace("-", "")
    assert LONG_WORD in content.replace(" ", "")
    assert pdf_text(response.data).index("Ouverture") < pdf_text(response.data).index("Clôture")


def test_no_pdf_before_publication(client, make_half_day):
    make_half_day()
    response = client.get(PDF)
    assert response.status_code == 404
    assert "Page introuvable" in text(response)


def test_the_pdf_follows_a_new_version(client, published, clock):
    first = published()
    before = pdf_text(client.get(PDF).data)
    clock.advance(days=1)
    first.contributions["table"].title = "Table ronde renommée"
    db.session.commit()
    published(number=2, half_day=first.half_day, contributions=first.contributions, moved=True)
    after = " ".join(pdf_text(client.get(PDF).data).split())
    assert "Table ronde renommée" in after and "Table ronde renommée" not in before
    assert "14 h 15 – 14 h 30 Salle 2" in after and "version 2" in after


# --- the calendar feed --------------------------------------------------------------------------


def test_the_feed_passes_the_calendar_checks(client, published):
    agenda = published()
    c = agenda.contributions
    half_day = agenda.half_day
    data = get_ics(client, FEED).data
    found = events(data)  # the lint, then `ical` (strict) and `vobject`, which must agree
    expected = {
        uid("exchange-opening", half_day.id),
        uid("exchange-break", half_day.id),
        uid("exchange-closing", half_day.id),
        *(uid("contribution", contribution.id) for contribution in c.values()),
    }
    assert set(found) == expected
    for slot in agenda.slots:
        key = (
            uid("contribution", slot.contribution_id)
            if slot.contribution_id
            else uid(f"exchange-{slot.kind.value}", half_day.id)
        )
        assert (found[key]["start"], found[key]["end"]) == (slot.starts_at, slot.ends_at)
        assert found[key]["status"] == "CONFIRMED"
    assert found[uid("contribution", c["ent"].id)]["summary"] == "L'ENT en maternelle"
    assert found[uid("contribution", c["ent"].id)]["location"] == (
        "CRDP, site d'Amiens – Auditorium, 45 rue Saint-Leu, 80026 Amiens"
    )
    assert found[uid("exchange-break", half_day.id)]["location"].startswith(
        "CRDP, site d'Amiens – Tous"
    )


def test_accents_commas_semicolons_and_a_long_summary_survive(client, published):
    agenda = published()
    awkward = agenda.contributions["awkward"]
    data = get_ics(client, FEED).data
    found = events(data)
    assert found[uid("contribution", awkward.id)]["summary"] == AWKWARD_TITLE
    # The long description is folded at 75 octets (the lint said so) and reads back whole.
    assert max(len(line) for line in data.split(b"\r\n")) <= 75
    assert sum(line.startswith(b" ") for line in data.split(b"\r\n")) > 40
    event = next(
        e
        for e in vobject.readOne(data.decode()).vevent_list
        if e.uid.value == uid("contribution", awkward.id)
    )
    assert LONG_SUMMARY in event.description.value
    assert event.url.value == f"http://ateliers.test/rencontres/2025#contribution-{awkward.id}"
    assert "Thème : ENT" in event.description.value


def test_the_feed_properties_are_the_workshop_feeds(client, published, clock):
    agenda = published()
    data = get_ics(client, FEED).data
    unfolded = lines(data)
    assert "NAME:Rencontres TICE 2025-2026" in unfolded
    assert "X-WR-CALNAME:Rencontres TICE 2025-2026" in unfolded
    assert "X-WR-TIMEZONE:Europe/Paris" in unfolded
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT4H" in unfolded
    assert "X-PUBLISHED-TTL:PT4H" in unfolded
    assert not any(line.startswith("METHOD") for line in unfolded)
    zone = unfolded[unfolded.index("BEGIN:VTIMEZONE") : unfolded.index("END:VTIMEZONE") + 1]
    assert zone.count("BEGIN:STANDARD") == 1 and zone.count("BEGIN:DAYLIGHT") == 1
    assert not any(line.startswith("RDATE") for line in zone)
    stamp = agenda.version.published_at.strftime("%Y%m%dT%H%M%SZ")
    assert f"DTSTAMP:{stamp}" in unfolded
    assert sum(line.startswith("UID:") for line in unfolded) == len(agenda.slots)
    # The same version gives the same bytes, later and in a cold process.
    clock.advance(hours=3)
    client.application.extensions.pop("calendars", None)
    assert get_ics(client, FEED).data == data


def test_before_publication_the_feed_is_an_empty_valid_calendar(client, make_half_day):
    make_half_day()
    data = get_ics(client, FEED).data
    assert events(data) == {}
    unfolded = lines(data)
    assert "BEGIN:VEVENT" not in unfolded
    assert "NAME:Rencontres TICE 2025-2026" in unfolded
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT4H" in unfolded


def test_conditional_get_and_a_new_version(client, published, clock):
    first = published()
    response = get_ics(client, FEED)
    etag, modified = response.headers["ETag"], response.last_modified
    assert not etag.startswith("W/")
    assert response.headers["Cache-Control"] == "public, no-cache"
    for headers in (
        {"If-None-Match": etag},
        {"If-Modified-Since": response.headers["Last-Modified"]},
    ):
        again = client.get(FEED, headers=headers)
        assert again.status_code == 304 and again.data == b""
        assert again.headers["ETag"] == etag

    clock.advance(minutes=5)
    second = published(
        number=2, half_day=first.half_day, contributions=first.contributions, moved=True
    )
    changed = client.get(FEED, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.last_modified > modified
    awkward = events(changed.data)[uid("contribution", first.contributions["awkward"].id)]
    assert (
        awkward["start"]
        == second.slots[3].starts_at
        == first.slots[3].starts_at + timedelta(minutes=15)
    )


def test_publishing_turns_the_empty_feed_into_the_agenda(client, make_half_day, published, clock):
    half_day = make_half_day(state=HalfDayState.draft)
    empty = get_ics(client, FEED)
    clock.advance(minutes=1)
    published(half_day=half_day)
    full = client.get(FEED, headers={"If-None-Match": empty.headers["ETag"]})
    assert full.status_code == 200 and len(events(full.data)) == 7


# --- on a phone, for real --------------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.browser
class TestInABrowser:
    """The agenda in Debian's Chromium: one column without horizontal scrolling at 360 px, the
    time × room grid on a wide screen."""

    @pytest.fixture
    def app(self, live_app):
        return live_app

    def items(self, page):
        return page.eval_on_selector_all(
            ".agenda-item",
            "els => els.map(e => { const b = e.getBoundingClientRect();"
            " return {id: e.id, x: Math.round(b.left), y: Math.round(b.top), w: Math.round(b.width)}; })",
        )

    def test_a_phone_gets_one_column_a_desktop_the_grid(self, new_page, look, published):
        agenda = published()
        c = agenda.contributions
        page = new_page(viewport={"width": 360, "height": 740})
        page.goto(URL)
        assert page.evaluate(NO_HORIZONTAL_SCROLL)
        items = self.items(page)
        assert len(items) == 7
        assert len({item["x"] for item in items}) == 1  # one column
        assert all(item["w"] <= 360 for item in items)
        look(page, "agenda-telephone")
        page.click(f"#contribution-{c['awkward'].id} summary")
        assert page.is_visible(f"#contribution-{c['awkward'].id} details p")
        assert page.evaluate(NO_HORIZONTAL_SCROLL)
        look(page, "agenda-telephone-resume-ouvert")

        page.set_viewport_size({"width": 1200, "height": 900})
        by_id = {item["id"]: item for item in self.items(page)}
        ent, tablets = (
            by_id[f"contribution-{c['ent'].id}"],
            by_id[f"contribution-{c['tablettes'].id}"],
        )
        assert ent["y"] == tablets["y"] and ent["x"] < tablets["x"]  # side by side, by room
        assert page.evaluate(NO_HORIZONTAL_SCROLL)
        look(page, "agenda-grand-ecran")
