"""The public catalogue through HTTP: filters, the workshop page, a constant number of queries,
accessibility basics that show in the HTML, and the small public pages."""

import html
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app.booking import services as booking
from app.booking.models import Registration, RegistrationStatus
from app.catalog.models import Level, Room, Site, Topic, Trainer, Workshop, WorkshopStatus
from app.extensions import db
from tests.conftest import form_data

PARIS = ZoneInfo("Europe/Paris")
DAYS = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
MONTHS = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]


# --- helpers -------------------------------------------------------------------------------------


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def listed(client, url="/ateliers") -> list[int]:
    """The ids of the workshops a catalogue page lists, in order."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return [
        int(i)
        for i in re.findall(r'<h3><a href="/ateliers/(\d+)">', response.get_data(as_text=True))
    ]


def paris(year, month, day, hour, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def hour_fr(moment: datetime) -> str:
    local = moment.astimezone(PARIS)
    return f"{local.hour} h" if local.minute == 0 else f"{local.hour} h {local.minute:02d}"


def when_fr(start: datetime, end: datetime) -> str:
    """What the page should say, computed here independently of app.formatting."""
    local = start.astimezone(PARIS)
    day = f"{DAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]} {local.year}"
    return f"{day}, {hour_fr(start)} – {hour_fr(end)}"


@pytest.fixture
def catalogue(sites, topic, make_workshop):
    ent, tbi, tablets = topic("ent", "ENT"), topic("tbi", "TBI"), topic("tablettes", "Tablettes")
    w = {
        "ent_amiens": make_workshop(
            site=sites["amiens"],
            topic=ent,
            level=Level.beginner,
            title="Premiers pas dans l'ENT",
            description="Se connecter et publier une actualité.",
        ),
        "tbi_abbeville": make_workshop(
            site=sites["abbeville"],
            topic=tbi,
            level=Level.expert,
            title="Séquences interactives au TBI",
            description="Concevoir des activités pour le cycle 3.",
            starts_in=timedelta(days=8),
        ),
        "tablets_peronne": make_workshop(
            site=sites["peronne"],
            topic=tablets,
            level=Level.beginner,
            title="Tablettes en classe",
            description="Les usages du numérique avec une flotte de tablettes.",
            starts_in=timedelta(days=9),
        ),
        "tablets_amiens": make_workshop(
            site=sites["amiens"],
            topic=tablets,
            level=Level.expert,
            title="Tablettes : récits",
            description="Livres et capsules audio réalisés par les élèves.",
            starts_in=timedelta(days=10),
        ),
        "resources_abbeville": make_workshop(
            site=sites["abbeville"],
            topic=ent,
            level=Level.expert,
            title="Ressources NUMÉRIQUES de l'ENT",
            description="Trouver et utiliser les ressources.",
            starts_in=timedelta(days=11),
        ),
    }
    return {name: workshop.id for name, workshop in w.items()}


# --- filters -------------------------------------------------------------------------------------


def test_everything_upcoming_by_date(client, catalogue):
    expected = list(catalogue.values())
    assert listed(client) == expected
    assert listed(client, "/") == expected


@pytest.mark.parametrize(
    "query, expected",
    [
        ("site=amiens", ["ent_amiens", "tablets_amiens"]),
        ("site=abbeville", ["tbi_abbeville", "resources_abbeville"]),
        ("site=peronne", ["tablets_peronne"]),
        ("niveau=debutant", ["ent_amiens", "tablets_peronne"]),
        ("niveau=expert", ["tbi_abbeville", "tablets_amiens", "resources_abbeville"]),
        ("theme=tablettes", ["tablets_peronne", "tablets_amiens"]),
        ("theme=ent", ["ent_amiens", "resources_abbeville"]),
        ("site=amiens&niveau=expert", ["tablets_amiens"]),
        ("site=abbeville&theme=tbi&niveau=expert", ["tbi_abbeville"]),
        ("site=peronne&niveau=expert", []),
    ],
)
def test_filters(client, catalogue, query, expected):
    assert listed(client, f"/ateliers?{query}") == [catalogue[name] for name in expected]
    assert listed(client, f"/?{query}") == [catalogue[name] for name in expected]


@pytest.mark.parametrize(
    "q, expected",
    [
        ("TABLETTE", ["tablets_peronne", "tablets_amiens"]),
        ("tablettes en classe", ["tablets_peronne"]),
        ("numerique", ["tablets_peronne", "resources_abbeville"]),
        ("NUMÉRIQUE", ["tablets_peronne", "resources_abbeville"]),
        ("numériques", ["resources_abbeville"]),
        ("Numérique tablette", ["tablets_peronne"]),  # every word must match
        ("tablette   numerique", ["tablets_peronne"]),
        ("tablette tbi", []),
        ("sequences", ["tbi_abbeville"]),
        ("l'ent", ["ent_amiens", "resources_abbeville"]),
        (
            "  ",
            [
                "ent_amiens",
                "tbi_abbeville",
                "tablets_peronne",
                "tablets_amiens",
                "resources_abbeville",
            ],
        ),
    ],
)
def test_free_text_ignores_accents_and_case(client, catalogue, q, expected):
    from urllib.parse import quote

    assert listed(client, f"/ateliers?q={quote(q)}") == [catalogue[name] for name in expected]


@pytest.mark.parametrize(
    "q, expected",
    [
        # the site (a teacher types the town, with or without its accent)
        ("Péronne", ["tablets_peronne"]),
        ("peronne", ["tablets_peronne"]),
        ("PERONNE", ["tablets_peronne"]),
        ("abbeville", ["tbi_abbeville", "resources_abbeville"]),
        # the topic, whatever the title says
        ("tablettes", ["tablets_peronne", "tablets_amiens"]),
        ("TBI", ["tbi_abbeville"]),
        # the trainer
        ("helene", ["tbi_abbeville"]),
        ("Hélène Lefèvre", ["tbi_abbeville"]),
        ("dumont", ["ent_amiens", "tablets_peronne", "tablets_amiens", "resources_abbeville"]),
        # every word must match, each in any of them
        ("tablette amiens", ["tablets_amiens"]),
        ("ent abbeville", ["resources_abbeville"]),
        ("peronne expert", []),
    ],
)
def test_free_text_finds_the_site_topic_and_trainer(client, catalogue, q, expected):
    from urllib.parse import quote

    tbi = db.session.get(Workshop, catalogue["tbi_abbeville"])
    tbi.trainer = Trainer(first_name="Hélène", last_name="Lefèvre", email="helene@ac-amiens.fr")
    db.session.commit()
    assert listed(client, f"/ateliers?q={quote(q)}") == [catalogue[name] for name in expected]


def test_free_text_finds_the_town_of_a_site(client, make_site, make_workshop):
    site = make_site(slug="site-nord", name="Site nord")
    site.city = "Saint-Quentin-en-Tourmont"
    db.session.commit()
    there = make_workshop(site=site, title="Atelier TBI")
    make_workshop(title="Atelier TBI")

    assert listed(client, "/ateliers?q=tourmont") == [there.id]


@pytest.mark.parametrize(
    "query, summary",
    [
        ("", "Filtrer les ateliers</summary>"),
        (
            "?site=peronne",
            'Filtrer les ateliers <span class="filters-count">(1 filtre actif)</span>',
        ),
        (
            "?site=peronne&q=tablette&niveau=expert",
            'Filtrer les ateliers <span class="filters-count">(3 filtres actifs)</span>',
        ),
        ("?site=inconnu", "Filtrer les ateliers</summary>"),  # an unknown value filters nothing
    ],
)
def test_the_filters_fold_under_a_summary_that_counts_them(client, catalogue, query, summary):
    """Closed in the page (a phone's first screen shows workshops); forms.js opens it on a wider
    screen. The browser journey (tests/test_journey_teacher.py) shows both."""
    body = client.get("/ateliers" + query).get_data(as_text=True)
    assert '<details class="filters-fold" data-open-wide>' in body
    assert summary in body
    details = body.split('<details class="filters-fold"')[1].split("</details>")[0]
    assert 'role="search"' in details and 'name="q"' in details


def test_percent_and_underscore_are_literal(client, make_workshop):
    percent = make_workshop(title="Réussir à 100% avec le TBI")
    thousand = make_workshop(title="1000 idées pour l'ENT")
    underscore = make_workshop(title="Le dossier classe_ce2 dans l'ENT")
    lookalike = make_workshop(title="Le dossier classexce2 dans l'ENT")

    assert listed(client, "/ateliers?q=100%25") == [percent.id]
    assert listed(client, "/ateliers?q=%25") == [percent.id]
    assert listed(client, "/ateliers?q=classe_ce2") == [underscore.id]
    assert listed(client, "/ateliers?q=_") == [underscore.id]
    assert listed(client, "/ateliers?q=%5C") == []  # a backslash, the escape character itself
    assert thousand.id in listed(client) and lookalike.id in listed(client)


def test_month_is_a_month_in_paris(client, at):
    # The clocks go forward on 29 March 2026: Paris is UTC+2 on both sides of this midnight.
    end_of_march = at(paris(2026, 3, 31, 23, 30))
    start_of_april = at(paris(2026, 4, 1, 0, 30))
    assert end_of_march.starts_at == datetime(2026, 3, 31, 21, 30, tzinfo=UTC)
    assert start_of_april.starts_at == datetime(2026, 3, 31, 22, 30, tzinfo=UTC)
    first_of_march = at(paris(2026, 3, 3, 0, 15))  # 2 March 23:15 UTC: still March in Paris

    assert listed(client, "/ateliers?mois=2026-03") == [first_of_march.id, end_of_march.id]
    assert listed(client, "/ateliers?mois=2026-04") == [start_of_april.id]
    assert listed(client, "/ateliers?mois=2026-05") == []

    # The list's month headings follow Paris time too.
    body = client.get("/ateliers").get_data(as_text=True)
    march, april = body.split('id="mois-2026-04"')
    assert f'/ateliers/{end_of_march.id}"' in march and f'/ateliers/{start_of_april.id}"' in april
    assert "Avril 2026" in april


def test_december_and_january(client, at, clock):
    new_year_eve = at(paris(2026, 12, 31, 23, 30))
    new_year = at(paris(2027, 1, 1, 0, 30))
    assert listed(client, "/ateliers?mois=2026-12") == [new_year_eve.id]
    assert listed(client, "/ateliers?mois=2027-01") == [new_year.id]


@pytest.mark.parametrize(
    "query",
    [
        "site=lyon",
        "site=",
        "niveau=avance",
        "niveau=DEBUTANT ",
        "theme=inconnu",
        "mois=2026-13",
        "mois=2026-00",
        "mois=2026-3",
        "mois=mars",
        "mois=0000-01",
        "mois=9999-12",
        "mois=0001-01",
        "mois=%D9%A2%D9%A0%D9%A2%D9%A6-03",  # Arabic-Indic digits
        "source=inconnue",
        "page=2&tri=prix",
        "site=%00",
        "theme=%00",
        "q=%00",
        "q=%00%0D%0A",
        "q=" + "x" * 10_000,
        "site=lyon&theme=inconnu&niveau=avance&mois=2026-13",
    ],
)
def test_unknown_filter_values_are_ignored(client, catalogue, query):
    everything = list(catalogue.values())
    if query.startswith("q=x"):
        assert listed(client, f"/ateliers?{query}") == []  # a long text finds nothing, calmly
        return
    assert listed(client, f"/ateliers?{query}") == everything
    assert listed(client, f"/?{query}") == everything


def test_unknown_values_leave_the_form_on_all(client, catalogue):
    body = client.get("/ateliers?site=lyon&theme=inconnu").get_data(as_text=True)
    assert "selected" not in body
    assert "Effacer les filtres" not in body


def test_the_filter_form_shows_what_is_chosen(client, catalogue):
    body = client.get(
        "/ateliers?site=peronne&niveau=debutant&theme=tablettes&mois=2026-03&q=tablette"
    ).get_data(as_text=True)
    assert '<option value="peronne" selected>' in body
    assert '<option value="debutant" selected>' in body
    assert '<option value="tablettes" selected>' in body
    assert '<option value="2026-03" selected>' in body
    assert 'value="tablette"' in body


def test_search_text_is_shown_escaped(client, catalogue):
    from urllib.parse import quote

    body = client.get("/ateliers?q=" + quote('<script>alert(1)</script>"')).get_data(as_text=True)
    assert "<script>alert(1)" not in body
    assert "&lt;script&gt;alert(1)" in body


def test_drafts_cancelled_and_past_workshops_are_not_listed(client, make_workshop, clock):
    visible = make_workshop()
    make_workshop(status=WorkshopStatus.draft)
    make_workshop(status=WorkshopStatus.cancelled)
    make_workshop(starts_in=timedelta(days=-1))
    make_workshop(starts_in=timedelta(minutes=-10))  # under way
    for url in (
        "/ateliers",
        "/",
        "/ateliers?niveau=debutant",
        "/ateliers?mois=2026-03",
        "/ateliers?q=atelier",
    ):
        assert listed(client, url) == [visible.id], url


# --- the workshop page ---------------------------------------------------------------------------


def test_workshop_page_details(client, sites, make_workshop, applicant):
    workshop = make_workshop(
        capacity=10,
        site=sites["amiens"],
        what_to_bring="Votre tablette chargée",
        title="Premiers pas dans l'ENT",
    )
    for n in range(1, 4):
        booking.register(workshop.id, applicant(n))

    response = client.get(f"/ateliers/{workshop.id}")
    assert response.status_code == 200
    page = text(response)
    # The clock is Monday 2 March 2026, 9 h UTC: a week later, 10 h in Paris (UTC+1).
    assert when_fr(workshop.starts_at, workshop.ends_at) == "lundi 9 mars 2026, 10 h – 13 h"
    assert "lundi 9 mars 2026, 10 h – 13 h" in page
    assert "Premiers pas dans l'ENT" in page
    assert "45 rue Saint-Leu, 80026 Amiens" in page
    assert "Salle multimédia" in page
    assert "Claire Dumont" in page
    assert "Votre tablette chargée" in page
    assert "7 places restantes" in page
    assert "Niveau débutant" in page


def test_workshop_page_dates_with_minutes_and_summer_time(client, at):
    spring = at(paris(2026, 4, 15, 14, 30))  # Paris is UTC+2
    response = client.get(f"/ateliers/{spring.id}")
    assert when_fr(spring.starts_at, spring.ends_at) == "mercredi 15 avril 2026, 14 h 30 – 17 h 30"
    assert "mercredi 15 avril 2026, 14 h 30 – 17 h 30" in text(response)


@pytest.mark.parametrize(
    "capacity, people, badge",
    [
        (10, 9, "Dernière place"),
        (10, 8, "2 places restantes"),
        (2, 2, "Complet — liste d'attente ouverte"),
        (2, 3, "Complet — 1 personne en liste d'attente"),
        (2, 5, "Complet — 3 personnes en liste d'attente"),
    ],
)
def test_seats_left_and_waiting_list(client, make_workshop, applicant, capacity, people, badge):
    workshop = make_workshop(capacity=capacity)
    for n in range(1, people + 1):
        booking.register(workshop.id, applicant(n))
    page = text(client.get(f"/ateliers/{workshop.id}"))
    assert badge in page
    assert badge in text(client.get("/ateliers"))
    if people >= capacity:
        assert "M'inscrire sur la liste d'attente" in page


def test_cancelled_registrations_free_their_seat_on_the_page(client, make_workshop, applicant):
    workshop = make_workshop(capacity=3)
    for n in range(1, 3):
        booking.register(workshop.id, applicant(n))
    db.session.execute(
        sa.update(Registration)
        .where(Registration.email == "lea.martin1@ac-amiens.fr")
        .values(status=RegistrationStatus.cancelled)
    )
    db.session.commit()
    assert "2 places restantes" in text(client.get(f"/ateliers/{workshop.id}"))


def test_workshop_text_is_escaped(client, make_workshop):
    workshop = make_workshop(
        title="L'ENT <b>en grand</b>",
        description="<script>alert(1)</script>",
        what_to_bring="<img src=x>",
    )
    body = client.get(f"/ateliers/{workshop.id}").get_data(as_text=True)
    assert (
        "<b>en grand" not in body and "<script>alert(1)" not in body and "<img src=x>" not in body
    )
    assert "&lt;b&gt;en grand&lt;/b&gt;" in body


# --- a constant number of queries ----------------------------------------------------------------


def _populate(count: int, start: int = 0) -> None:
    """`count` published workshops over three sites, many rooms, four topics and many trainers,
    each with registrations (confirmed and waiting); added in bulk, committed once."""
    sites = {s.slug: s for s in db.session.scalars(sa.select(Site))}
    for slug, name in (("amiens", "Amiens"), ("abbeville", "Abbeville"), ("peronne", "Péronne")):
        if slug not in sites:
            sites[slug] = Site(slug=slug, name=name, street="1 rue", postcode="80000", city=name)
            db.session.add(sites[slug])
    site_list = list(sites.values())
    topics = {t.slug: t for t in db.session.scalars(sa.select(Topic))}
    for slug in ("ent", "tbi", "tablettes", "ressources-numeriques"):
        if slug not in topics:
            topics[slug] = Topic(slug=slug, name=slug.upper())
            db.session.add(topics[slug])
    topic_list = list(topics.values())
    rooms = list(db.session.scalars(sa.select(Room)))
    trainers = list(db.session.scalars(sa.select(Trainer)))
    first = datetime(2026, 3, 4, 13, 0, tzinfo=UTC)

    for i in range(start, start + count):
        # A new room and a new trainer for the first workshops, then they are shared.
        if len(rooms) <= i % 40:
            rooms.append(Room(site=site_list[i % 3], name=f"Salle {i % 40}", capacity=20))
        if len(trainers) <= i % 25:
            trainers.append(
                Trainer(first_name="Formateur", last_name=f"N{i}", email=f"f{i}@ac-amiens.fr")
            )
        starts_at = first + timedelta(days=i // 4, hours=i % 4)
        workshop = Workshop(
            title=f"Atelier {i}",
            description="Découvrir l'outil.",
            topic=topic_list[i % 4],
            level=Level.beginner if i % 2 else Level.expert,
            room=rooms[i % 40],
            trainer=trainers[i % 25],
            capacity=2,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=2),
            status=WorkshopStatus.published,
        )
        db.session.add(workshop)
        for r in range(i % 4):
            waiting = r >= 2
            db.session.add(
                Registration(
                    workshop=workshop,
                    last_name="Martin",
                    first_name="Léa",
                    email=f"p{r}@ac-amiens.fr",
                    school="École",
                    status=RegistrationStatus.waiting if waiting else RegistrationStatus.confirmed,
                    waiting_position=r - 1 if waiting else None,
                )
            )
    db.session.commit()


@pytest.mark.parametrize(
    "url", ["/ateliers", "/", "/ateliers?site=amiens&niveau=expert", "/ateliers?q=atelier"]
)
def test_the_catalogue_runs_a_constant_number_of_queries(client, count_queries, url):
    def queries() -> tuple[int, int]:
        db.session.expunge_all()  # nothing already loaded may hide a lazy load
        with count_queries() as counter:
            response = client.get(url)
        assert response.status_code == 200
        return counter.count, len(
            re.findall(r'<h3><a href="/ateliers/\d+">', response.get_data(as_text=True))
        )

    _populate(5)
    few, shown_few = queries()
    _populate(495, start=5)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Workshop)) == 500
    many, shown_many = queries()

    assert shown_few >= 1 and shown_many > 50 * shown_few
    assert many == few, f"{few} queries for {shown_few} workshops, {many} for {shown_many}"
    assert few <= 6


def test_the_workshop_page_runs_a_constant_number_of_queries(
    client, count_queries, make_workshop, applicant
):
    def queries(workshop_id: int) -> int:
        db.session.expunge_all()
        with count_queries() as counter:
            assert client.get(f"/ateliers/{workshop_id}").status_code == 200
        return counter.count

    small = make_workshop(capacity=2).id
    booking.register(small, applicant(1))
    big = make_workshop(capacity=20).id
    for n in range(1, 41):
        booking.register(big, applicant(n))
    assert queries(small) == queries(big)


# --- accessibility basics ------------------------------------------------------------------------


class Form(HTMLParser):
    """The controls, labels and ids of a page."""

    VOID = {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }

    def __init__(self, body: str):
        super().__init__(convert_charrefs=True)
        self.html_lang = None
        self.controls: list[dict] = []
        self.labels_for: list[str] = []
        self.links: list[str] = []
        self.ids: dict[str, str] = {}  # id -> text inside
        self._open: list[tuple[str, str | None]] = []
        self.feed(body)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.html_lang = attrs.get("lang")
        if tag in ("input", "select", "textarea"):
            self.controls.append({"tag": tag, **attrs})
        if tag == "label" and "for" in attrs:
            self.labels_for.append(attrs["for"])
        if tag == "a" and "href" in attrs:
            self.links.append(attrs["href"])
        if "id" in attrs:
            assert attrs["id"] not in self.ids, f"duplicate id {attrs['id']}"
            self.ids[attrs["id"]] = ""
        if tag not in self.VOID:
            self._open.append((tag, attrs.get("id")))

    def handle_endtag(self, tag):
        while self._open:
            open_tag, _ = self._open.pop()
            if open_tag == tag:
                break

    def handle_data(self, data):
        for _, element_id in self._open:
            if element_id:
                self.ids[element_id] += data

    def visible_controls(self) -> list[dict]:
        return [c for c in self.controls if c.get("type") not in ("hidden", "submit", "button")]


def page(client, url, method="get", **kwargs) -> Form:
    response = getattr(client, method)(url, **kwargs)
    return Form(response.get_data(as_text=True))


def test_every_page_is_in_french_with_a_skip_link(client, make_workshop):
    workshop = make_workshop()
    for url in (
        "/",
        "/ateliers",
        f"/ateliers/{workshop.id}",
        "/confidentialite",
        "/accessibilite",
        "/nulle-part",
    ):
        parsed = page(client, url)
        assert parsed.html_lang == "fr", url
        assert parsed.links[0] == "#contenu", url  # the first link of the page
        assert "contenu" in parsed.ids, url


@pytest.mark.parametrize("url", ["/", "/ateliers", "/ateliers?site=amiens&q=ent"])
def test_every_filter_has_a_label(client, sites, make_workshop, url):
    make_workshop(site=sites["amiens"])
    parsed = page(client, url)
    controls = parsed.visible_controls()
    assert {c["name"] for c in controls} >= {"q", "site", "niveau", "theme", "mois"}
    for control in controls:
        assert control.get("id") in parsed.labels_for, control


def test_every_registration_field_has_a_label(client, make_workshop):
    workshop = make_workshop()
    parsed = page(client, f"/ateliers/{workshop.id}")
    controls = parsed.visible_controls()
    assert {c["name"] for c in controls} == {
        "nom",
        "prenom",
        "courriel",
        "ecole",
        "uai",
        "site_web",
    }
    for control in controls:
        assert control.get("id") in parsed.labels_for, control


def test_errors_are_linked_to_their_fields(client, make_workshop):
    workshop = make_workshop()
    response = client.post(
        f"/ateliers/{workshop.id}/inscription",
        data=form_data(nom="", courriel="bad", uai="0750654E"),
    )
    assert response.status_code == 422
    parsed = Form(response.get_data(as_text=True))
    controls = {c["name"]: c for c in parsed.visible_controls()}
    expected = {
        "nom": "Indiquez votre nom.",
        "courriel": "Cette adresse électronique n'est pas valide.",
        "uai": "La lettre de contrôle de ce code UAI",
    }
    for name, message in expected.items():
        control = controls[name]
        assert control.get("aria-invalid") == "true", name
        described = control.get("aria-describedby", "").split()
        messages = [parsed.ids[i] for i in described if i in parsed.ids]
        assert len(messages) == len(described), f"{name}: aria-describedby points nowhere"
        assert any(message in m for m in messages), (name, messages)
    for name in ("prenom", "ecole"):
        assert "aria-invalid" not in controls[name], name
    # The summary at the top links to each field in error.
    summary = parsed.ids["erreurs"]
    assert "Indiquez votre nom." in summary
    assert {"#nom", "#courriel", "#uai"} <= set(parsed.links)


# --- small public pages --------------------------------------------------------------------------


def test_health(client):
    response = client.get("/sante")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json()["status"] == "ok"


@pytest.mark.parametrize(
    "url, title",
    [
        ("/confidentialite", "Données personnelles"),
        ("/accessibilite", "Déclaration d'accessibilité"),
    ],
)
def test_privacy_and_accessibility_pages(client, url, title):
    response = client.get(url)
    assert response.status_code == 200
    assert f"<h1>{title}</h1>" in text(response)


def test_unknown_page_is_a_french_404(client, app):
    response = client.get("/nulle-part")
    assert response.status_code == 404
    assert "Page introuvable" in text(response)


def test_every_page_has_an_icon_and_favicon_ico_leads_to_it(client):
    """Browsers ask for /favicon.ico on their own: it answers, with the icon the pages link."""
    page = client.get("/ateliers").get_data(as_text=True)
    linked = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page)
    assert linked and linked[1].startswith("/static/favicon.svg?v=")
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response.headers["Location"] == html.unescape(linked[1])
    with client.get(response.headers["Location"]) as icon:
        assert icon.status_code == 200
        assert icon.mimetype == "image/svg+xml"
        assert icon.get_data(as_text=True).startswith("<svg")
