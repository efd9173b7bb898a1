"""Setting up the exchange half-day in the back office: creating and editing it (every setting
checked, warnings to confirm, nothing written on a refusal), the date suggestions, closing and
reopening the call, the hub page's steps, the list — and only coordinators get in."""

import html
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.catalog.models import Room
from app.exchange.dates import spring_term_start, suggest_dates
from app.exchange.models import (
    AgendaSlot,
    AgendaVersion,
    ContributionStatus,
    Equipment,
    HalfDay,
    HalfDayState,
    SlotKind,
)
from app.extensions import db
from app.formatting import PARIS
from app.staff.models import AuditEntry
from tests.conftest import login


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def half_day_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(HalfDay))


def audit_actions() -> list[tuple[str, str]]:
    return [
        tuple(row)
        for row in db.session.execute(
            sa.select(AuditEntry.action, AuditEntry.summary).order_by(AuditEntry.id)
        )
    ]


@pytest.fixture
def coordinator(client, make_staff):
    user = make_staff("coordinator")
    login(client, user)
    return user


@pytest.fixture
def amiens(make_site):
    """The Amiens site with the rooms of `make_half_day`: Auditorium 120, Salle 1 30, Salle 2 20."""
    site = make_site()
    for name, seats in (("Auditorium", 120), ("Salle 1", 30), ("Salle 2", 20)):
        db.session.add(
            Room(site=site, name=name, capacity=seats, videoconference=name == "Auditorium")
        )
    db.session.commit()
    return site


def room(site, name) -> Room:
    return next(r for r in site.rooms if r.name == name)


def settings_form(at_site, **fields) -> dict:
    """Good settings for school year 2025: Wednesday 20 May 2026, 13:30–17:00, three rooms."""
    site = at_site
    auditorium, salle_1, salle_2 = (
        room(site, "Auditorium"),
        room(site, "Salle 1"),
        room(site, "Salle 2"),
    )
    data = {
        "annee": "2025",
        "titre": "Rencontres TICE 2025-2026",
        "jour": "2026-05-20",
        "debut": "13:30",
        "fin": "17:00",
        "date_limite": "2026-04-01T18:00",
        "site": str(site.id),
        "salles": [str(auditorium.id), str(salle_1.id), str(salle_2.id)],
        "auditorium": str(auditorium.id),
        "equipement": [
            f"{auditorium.id}:visio",
            f"{auditorium.id}:projecteur",
            f"{salle_1.id}:tablettes",
        ],
        "capacite": "100",
        "visio": "https://visio.ac-amiens.fr/rencontres",
        "description": "Une après-midi d'échanges.",
        "ouverture": "15",
        "cloture": "15",
        "pause": "20",
    }
    data.update(fields)
    return {name: value for name, value in data.items() if value is not None}


def edit_form(half_day, **fields) -> dict:
    """The edit form's fields as the page fills them for `half_day` (make_half_day's settings)."""
    rooms = {r.name: r.room_id for r in half_day.rooms}
    data = {
        "titre": half_day.title,
        "jour": "2026-05-20",
        "debut": "13:30",
        "fin": "17:00",
        "date_limite": "2026-04-01T18:00",
        "site": str(half_day.site_id),
        "salles": [str(rooms["Auditorium"]), str(rooms["Salle 1"]), str(rooms["Salle 2"])],
        "auditorium": str(rooms["Auditorium"]),
        "equipement": [
            f"{rooms['Auditorium']}:visio",
            f"{rooms['Auditorium']}:projecteur",
            f"{rooms['Salle 1']}:tablettes",
        ],
        "capacite": "120",
        "visio": half_day.videoconference_url,
        "description": "",
        "ouverture": "15",
        "cloture": "15",
        "pause": "20",
    }
    data.update(fields)
    return {name: value for name, value in data.items() if value is not None}


# --- access --------------------------------------------------------------------------------------

PAGES = [
    "/admin/rencontres/",
    "/admin/rencontres/nouvelle",
    "/admin/rencontres/2025",
    "/admin/rencontres/2025/modifier",
]
ACTIONS = ["/admin/rencontres/2025/clore", "/admin/rencontres/2025/rouvrir"]


def test_anonymous_visitors_are_sent_to_the_login_page(client, make_half_day):
    make_half_day()
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith(
            "/connexion"
        ), path
    for path in ACTIONS:
        assert client.post(path, data={"date_limite": "2026-05-01T18:00"}).status_code == 302, path
    assert db.session.scalar(sa.select(HalfDay.state)) is HalfDayState.call_open


def test_trainers_get_403(client, make_staff, make_half_day):
    make_half_day()
    login(client, make_staff("trainer"))
    for path in PAGES:
        assert client.get(path).status_code == 403, path
    for path in ACTIONS:
        assert client.post(path, data={"date_limite": "2026-05-01T18:00"}).status_code == 403, path
    assert db.session.scalar(sa.select(HalfDay.state)) is HalfDayState.call_open
    assert audit_actions() == []


def test_coordinators_get_in_and_unknown_years_are_404(client, coordinator, make_half_day):
    make_half_day()
    for path in PAGES:
        assert client.get(path).status_code == 200, path
    for path in [
        "/admin/rencontres/2024",
        "/admin/rencontres/2024/modifier",
        "/admin/rencontres/99999999999",
        "/admin/rencontres/1999/modifier",
    ]:
        assert client.get(path).status_code == 404, path
    assert client.post("/admin/rencontres/2024/clore").status_code == 404


def test_the_back_office_home_links_to_the_half_days(client, coordinator):
    page = text(client.get("/admin/"))
    assert '<a href="/admin/rencontres/">Rencontres (demi-journée d\'échanges)</a>' in page


# --- creating ------------------------------------------------------------------------------------


def test_creating_opens_the_call_with_every_setting_and_logs_it(client, coordinator, amiens):
    response = client.post("/admin/rencontres/nouvelle", data=settings_form(amiens))
    assert response.status_code == 302 and response.headers["Location"] == "/admin/rencontres/2025"
    half_day = db.session.scalar(sa.select(HalfDay))
    assert half_day.school_year == 2025 and half_day.state is HalfDayState.call_open
    assert half_day.title == "Rencontres TICE 2025-2026"
    assert (half_day.starts_at, half_day.ends_at) == (
        paris(2026, 5, 20, 13, 30),
        paris(2026, 5, 20, 17, 0),
    )
    assert half_day.deadline == paris(2026, 4, 1, 18, 0)
    assert half_day.site_id == amiens.id and half_day.capacity == 100
    assert half_day.videoconference_url == "https://visio.ac-amiens.fr/rencontres"
    assert (half_day.opening_minutes, half_day.closing_minutes, half_day.break_minutes) == (
        15,
        15,
        20,
    )
    assert [(r.name, r.is_auditorium, r.equipment, r.position) for r in half_day.rooms] == [
        ("Auditorium", True, {Equipment.videoconference, Equipment.projector}, 0),
        ("Salle 1", False, {Equipment.tablets}, 1),
        ("Salle 2", False, frozenset(), 2),
    ]
    [(action, summary)] = audit_actions()
    assert action == "half_day.create"
    assert summary == (
        "Création de la demi-journée d'échanges 2025–2026 : mercredi 20 mai 2026, 13 h 30 – 17 h, "
        "site d'Amiens, propositions jusqu'au mercredi 1er avril 2026, 18 h"
    )
    page = text(client.get("/admin/rencontres/2025"))
    assert "Demi-journée créée : l'appel à propositions est ouvert." in page


def test_the_new_form_starts_from_the_defaults_and_a_suggested_wednesday(
    client, coordinator, amiens
):
    page = text(client.get("/admin/rencontres/nouvelle"))
    auditorium = room(amiens, "Auditorium")
    assert 'value="13:30"' in page and 'value="17:00"' in page
    # The clock is Monday 2 March 2026: the first suggestion is the first spring Wednesday.
    assert 'id="jour" name="jour" required type="date" value="2026-03-04"' in page
    assert f'<option selected value="{amiens.id}">Amiens</option>' in page
    assert f'id="auditorium-{auditorium.id}" value="{auditorium.id}" checked' in page
    assert 'value="120"' in page  # the auditorium's seats
    assert '<option selected value="2025">2025–2026</option>' in page
    # The suggestions are links that fill the field (and work without JavaScript).
    raw = client.get("/admin/rencontres/nouvelle").get_data(as_text=True)
    assert (
        'data-date="2026-05-20" href="/admin/rencontres/nouvelle?annee=2025&amp;jour=2026-05-20"'
        in raw
    )
    assert "mercredi 20 mai 2026" in page
    assert "mercredi 15 avril 2026" not in page  # spring holidays, zone B
    page = text(client.get("/admin/rencontres/nouvelle?annee=2025&jour=2026-05-20"))
    assert 'id="jour" name="jour" required type="date" value="2026-05-20"' in page
    assert 'value="2026-04-22T18:00"' in page  # four weeks before, at 18:00


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"titre": ""}, "titre", "Indiquez le titre."),
        ({"titre": "x" * 10_000}, "titre", "200 caractères au plus."),
        (
            {"titre": "<script>alert(1)</script>"},
            "titre",
            "ne peut pas contenir les caractères < et >",
        ),
        ({"annee": "1990"}, "annee", "N'est pas un choix valide."),
        ({"annee": "abc"}, "annee", "Choix non valide"),
        ({"jour": ""}, "jour", "Indiquez la date de la demi-journée."),
        ({"jour": "2026-02-31"}, "jour", "N'est pas une date valide."),
        (
            {"jour": "2026-09-02"},
            "jour",
            "Le mercredi 2 septembre 2026 n'est pas dans l'année scolaire 2025–2026 (du lundi 1er septembre 2025 au lundi 31 août 2026).",
        ),
        ({"jour": "2025-06-04"}, "jour", "n'est pas dans l'année scolaire 2025–2026"),
        (
            {"jour": "2026-02-11", "date_limite": "2026-02-01T18:00"},
            "jour",
            "Cette date est déjà passée : choisissez une date à venir.",
        ),
        ({"debut": ""}, "debut", "Indiquez l'heure de début."),
        ({"debut": "25:00"}, "debut", "N'est pas un horaire valide."),
        (
            {"debut": "07:30"},
            "debut",
            "La demi-journée se tient entre 8 h et 20 h : choisissez une heure de début dans cet intervalle.",
        ),
        ({"fin": "20:30"}, "fin", "choisissez une heure de fin dans cet intervalle."),
        ({"debut": "13:32"}, "debut", "Choisissez une heure de début à 5 minutes près"),
        ({"fin": "13:00"}, "fin", "L'heure de fin doit être après l'heure de début."),
        (
            {"fin": "14:45"},
            "fin",
            "De 13 h 30 à 14 h 45, la demi-journée est trop courte : il faut au moins 80 minutes",
        ),
        (
            {"date_limite": ""},
            "date_limite",
            "Indiquez la date limite des propositions (date et heure).",
        ),
        ({"date_limite": "demain"}, "date_limite", "N'est pas une date/heure valide."),
        (
            {"date_limite": "2026-05-20T14:00"},
            "date_limite",
            "La date limite des propositions doit précéder le début de la demi-journée.",
        ),
        ({"date_limite": "2026-03-01T18:00"}, "date_limite", "Cette date limite est déjà passée"),
        (
            {"date_limite": "2026-03-29T02:30"},
            "date_limite",
            "L'heure 2 h 30 n'existe pas le dimanche 29 mars 2026 à Paris",
        ),
        ({"site": "999999"}, "site", "N'est pas un choix valide."),
        ({"salles": None, "auditorium": None}, "salles", "Choisissez au moins une salle"),
        ({"salles": ["999999"]}, "salles", "n'est pas un choix valide pour ce champ."),
        (
            {"auditorium": None},
            "auditorium",
            "Choisissez, parmi les salles retenues, un seul auditorium",
        ),
        ({"capacite": "121", "auditorium": "SALLE1"}, "auditorium", "un seul auditorium"),
        ({"capacite": ""}, "capacite", "Indiquez le nombre de places sur place."),
        ({"capacite": "abc"}, "capacite", "N'est pas un entier valide."),
        ({"capacite": "0"}, "capacite", "Indiquez au moins 1 place sur place."),
        (
            {"capacite": "121"},
            "capacite",
            "121 places sur place demandées, mais l'auditorium « Auditorium » n'en compte que 120.",
        ),
        ({"capacite": "99999999999999999999"}, "capacite", "n'en compte que 120."),
        (
            {"visio": "http://visio.ac-amiens.fr/rencontres"},
            "visio",
            "Le lien de visioconférence doit être une adresse https:// complète",
        ),
        ({"visio": "javascript:alert(1)"}, "visio", "doit être une adresse https:// complète"),
        ({"visio": "https://visio"}, "visio", "doit être une adresse https:// complète"),
        (
            {"visio": 'https://visio.ac-amiens.fr/"><script>'},
            "visio",
            "doit être une adresse https:// complète",
        ),
        ({"visio": "https://visio.ac-amiens.fr/" + "a" * 600}, "visio", "500 caractères au plus."),
        ({"description": "x" * 10_000}, "description", "5 000 caractères au plus."),
        ({"equipement": ["1:laser"]}, "equipement", "n'est pas un choix valide pour ce champ."),
        ({"ouverture": "7"}, "ouverture", "L'ouverture dure un multiple de 5 minutes"),
        ({"ouverture": "0"}, "ouverture", "L'ouverture dure entre 5 et 60 minutes."),
        ({"cloture": "90"}, "cloture", "La clôture dure entre 5 et 60 minutes."),
        ({"pause": "5"}, "pause", "La pause dure entre 10 et 60 minutes."),
        ({"pause": "-20"}, "pause", "La pause dure entre 10 et 60 minutes."),
        ({"pause": "2.5"}, "pause", "N'est pas un entier valide."),
    ],
)
def test_bad_settings_are_refused_in_french_and_nothing_is_written(
    client, coordinator, amiens, fields, field, message
):
    if fields.get("auditorium") == "SALLE1":  # an auditorium that is not among the rooms kept
        fields = {
            **fields,
            "auditorium": str(room(amiens, "Salle 1").id),
            "salles": [str(room(amiens, "Auditorium").id)],
        }
    response = client.post(
        "/admin/rencontres/nouvelle", data={**settings_form(amiens, **fields), "confirmer": "y"}
    )
    assert response.status_code == 422
    page = text(response)
    assert message in page, page[page.find("<main") :][:4000]
    # The message is shown by its field (or above the rooms, for the rooms' fields).
    anchor = {
        "salles": 'id="salles"',
        "auditorium": 'id="salles"',
        "equipement": 'id="salles"',
    }.get(field, f'id="{field}-erreur"')
    assert anchor in page
    assert half_day_count() == 0 and audit_actions() == []


def test_a_room_of_another_site_is_refused(client, coordinator, amiens, make_site):
    other = make_site(slug="abbeville", name="Abbeville")
    data = settings_form(amiens)
    data["salles"] = [*data["salles"], str(other.rooms[0].id)]
    response = client.post("/admin/rencontres/nouvelle", data={**data, "confirmer": "y"})
    assert response.status_code == 422
    assert "La salle « Salle multimédia » n'est pas sur le site d'Amiens" in text(response)
    assert half_day_count() == 0


def test_one_half_day_per_school_year(client, coordinator, make_half_day):
    existing = make_half_day()
    response = client.post(
        "/admin/rencontres/nouvelle",
        data={**settings_form(existing.site, titre="Une deuxième"), "confirmer": "y"},
    )
    assert response.status_code == 422
    assert (
        "Une demi-journée d'échanges existe déjà pour l'année scolaire 2025–2026 (une seule par "
        "année) : modifiez-la plutôt"
    ) in text(response)
    assert half_day_count() == 1 and audit_actions() == []
    assert "2025–2026 (déjà créée)" in text(client.get("/admin/rencontres/nouvelle"))


def test_a_holiday_warns_and_saves_only_once_confirmed(client, coordinator, amiens):
    data = settings_form(amiens, jour="2026-04-15")
    response = client.post("/admin/rencontres/nouvelle", data=data)
    assert response.status_code == 422
    page = text(response)
    assert "Le mercredi 15 avril 2026 : Vacances de printemps (zone B)." in page
    assert "J'ai lu les avertissements et je confirme" in page
    assert half_day_count() == 0 and audit_actions() == []
    assert (
        client.post("/admin/rencontres/nouvelle", data={**data, "confirmer": "y"}).status_code
        == 302
    )
    assert db.session.scalar(sa.select(HalfDay.starts_at)) == paris(2026, 4, 15, 13, 30)


@pytest.mark.parametrize(
    "clock_at, year, day, deadline, warning",
    [
        (
            datetime(2026, 3, 2, 9, tzinfo=UTC),
            "2025",
            "2026-05-19",
            "2026-04-01T18:00",
            "Le mardi 19 mai 2026 n'est pas un mercredi : les professeurs des écoles ont classe ce jour-là",
        ),
        (
            datetime(2026, 3, 2, 9, tzinfo=UTC),
            "2026",
            "2026-11-11",
            "2026-10-01T18:00",
            "Le mercredi 11 novembre 2026 : jour férié (Armistice).",
        ),
        (
            datetime(2028, 9, 10, 9, tzinfo=UTC),
            "2028",
            "2029-03-14",
            "2029-02-01T18:00",
            "Le mercredi 14 mars 2029 : date au-delà des vacances scolaires connues (données jusqu'au 31/08/2028)",
        ),
    ],
)
def test_other_days_need_a_confirmation(
    client, coordinator, amiens, clock, clock_at, year, day, deadline, warning
):
    clock.set(clock_at)
    data = settings_form(amiens, annee=year, jour=day, date_limite=deadline, titre="Rencontres")
    response = client.post("/admin/rencontres/nouvelle", data=data)
    assert response.status_code == 422 and warning in text(response)
    assert half_day_count() == 0
    assert (
        client.post("/admin/rencontres/nouvelle", data={**data, "confirmer": "y"}).status_code
        == 302
    )
    assert db.session.scalar(sa.select(HalfDay.school_year)) == int(year)


def test_a_workshop_in_a_chosen_room_is_a_warning(
    client, coordinator, amiens, make_workshop, clock
):
    workshop = make_workshop(
        site=amiens, starts_in=paris(2026, 5, 20, 14, 0) - clock.now, title="TBI au cycle 2"
    )
    data = settings_form(amiens)
    data["salles"] = [*data["salles"], str(workshop.room_id)]
    response = client.post("/admin/rencontres/nouvelle", data=data)
    assert response.status_code == 422
    assert (
        f"La salle « {workshop.room.name} » est prise de 14 h à 17 h par l'atelier « TBI au cycle 2 » : "
        "déplacez-le ou choisissez une autre salle."
    ) in text(response)
    assert half_day_count() == 0
    assert (
        client.post("/admin/rencontres/nouvelle", data={**data, "confirmer": "y"}).status_code
        == 302
    )


# --- editing -------------------------------------------------------------------------------------


def test_the_edit_page_shows_the_settings_and_saves_a_change(client, coordinator, make_half_day):
    half_day = make_half_day()
    page = text(client.get("/admin/rencontres/2025/modifier"))
    assert (
        'value="2026-05-20"' in page
        and 'value="13:30"' in page
        and 'value="2026-04-01T18:00"' in page
    )
    assert 'name="annee"' not in page  # the school year is chosen once
    response = client.post(
        "/admin/rencontres/2025/modifier",
        data=edit_form(half_day, titre="Rencontres du numérique", capacite="90"),
    )
    assert response.status_code == 302
    db.session.expire_all()
    half_day = db.session.get(HalfDay, half_day.id)
    assert (half_day.title, half_day.capacity, half_day.sequence) == (
        "Rencontres du numérique",
        90,
        0,
    )
    [(action, summary)] = audit_actions()
    assert action == "half_day.edit"
    assert (
        summary == "Modification de la demi-journée d'échanges 2025–2026 : titre, places sur place"
    )


def test_saving_unchanged_settings_writes_nothing(client, coordinator, make_half_day):
    half_day = make_half_day()
    response = client.post(
        "/admin/rencontres/2025/modifier", data=edit_form(half_day), follow_redirects=True
    )
    assert "Rien n'a changé." in text(response)
    assert audit_actions() == []


def test_a_bad_edit_writes_nothing(client, coordinator, make_half_day):
    half_day = make_half_day()
    response = client.post(
        "/admin/rencontres/2025/modifier",
        data=edit_form(half_day, titre="Autre titre", capacite="500", ouverture="12"),
    )
    assert response.status_code == 422
    page = text(response)
    assert (
        "500 places sur place demandées" in page
        and "L'ouverture dure un multiple de 5 minutes" in page
    )
    db.session.expire_all()
    assert db.session.get(HalfDay, half_day.id).title == "Rencontres TICE 2025-2026"
    assert audit_actions() == []


def test_the_deadline_of_a_closed_call_changes_only_by_reopening(
    client, coordinator, make_half_day
):
    half_day = make_half_day(state=HalfDayState.review)
    response = client.post(
        "/admin/rencontres/2025/modifier", data=edit_form(half_day, date_limite="2026-04-10T18:00")
    )
    assert response.status_code == 422
    assert "L'appel à propositions est clos : sa date limite ne se change plus ici" in text(
        response
    )
    assert "readonly" in text(client.get("/admin/rencontres/2025/modifier"))


def test_lowering_the_seats_below_the_confirmed_attendees_is_refused(
    client, coordinator, make_half_day
):
    from app.exchange.models import AttendanceMode, Attendee, AttendeeStatus

    half_day = make_half_day()
    for n in range(3):
        db.session.add(
            Attendee(
                half_day=half_day,
                last_name=f"Martin{n}",
                first_name="Léa",
                email=f"lea{n}@ac-amiens.fr",
                organisation="École",
                mode=AttendanceMode.in_person,
                status=AttendeeStatus.confirmed,
            )
        )
    db.session.commit()
    response = client.post(
        "/admin/rencontres/2025/modifier", data=edit_form(half_day, capacite="2")
    )
    assert response.status_code == 422
    assert (
        "3 personnes ont une place confirmée sur place : la capacité ne peut pas descendre à 2."
        in text(response)
    )


def test_more_seats_go_to_the_first_people_waiting_with_a_mail(client, coordinator, make_half_day):
    from app.exchange.models import AttendanceMode, Attendee, AttendeeStatus
    from tests.conftest import outbox

    half_day = make_half_day(capacity=1)
    people = [
        Attendee(
            half_day=half_day,
            last_name=f"Martin{n}",
            first_name="Léa",
            email=f"lea{n}@ac-amiens.fr",
            organisation="École",
            mode=AttendanceMode.in_person,
            status=AttendeeStatus.confirmed if n == 0 else AttendeeStatus.waiting,
            waiting_position=None if n == 0 else n,
        )
        for n in range(3)
    ]
    db.session.add_all(people)
    db.session.commit()

    response = client.post(
        "/admin/rencontres/2025/modifier", data=edit_form(half_day, capacite="2")
    )

    assert response.status_code == 302
    assert "1 personne(s) de la liste d'attente ont maintenant une place" in text(
        client.get(response.headers["Location"])
    )
    for person in people:
        db.session.refresh(person)
    assert [(p.status, p.waiting_position) for p in people] == [
        (AttendeeStatus.confirmed, None),
        (AttendeeStatus.confirmed, None),
        (AttendeeStatus.waiting, 1),
    ]
    assert [m.recipient for m in outbox("exchange/attendee_promoted")] == ["lea1@ac-amiens.fr"]


def publish(half_day) -> AgendaVersion:
    """A published version with the opening plenary in the auditorium (as the planning would)."""
    version = AgendaVersion(
        half_day_id=half_day.id, number=1, published_by="coordination@ac-amiens.fr"
    )
    db.session.add(version)
    db.session.flush()
    db.session.add(
        AgendaSlot(
            half_day_id=half_day.id,
            version_id=version.id,
            kind=SlotKind.opening,
            room_id=half_day.auditorium.id,
            starts_at=half_day.starts_at,
            ends_at=half_day.starts_at + timedelta(minutes=15),
        )
    )
    half_day.state, half_day.agenda_built_at = HalfDayState.published, half_day.created_at
    db.session.commit()
    return version


def test_moving_a_published_half_day_raises_the_sequence_and_says_to_rebuild(
    client, coordinator, make_half_day, clock
):
    half_day = make_half_day()
    publish(half_day)
    clock.advance(hours=1)
    response = client.post(
        "/admin/rencontres/2025/modifier",
        data=edit_form(half_day, jour="2026-05-27"),
        follow_redirects=True,
    )
    page = text(response)
    assert (
        "L'agenda publié (version 1) ne correspond plus à ces réglages : reconstruisez l'agenda puis "
        "publiez une nouvelle version"
    ) in page
    assert "Aucun créneau n'a été déplacé." in page
    # The hub keeps saying it until the agenda is published again.
    assert (
        "après la publication de l'agenda : reconstruisez-le et publiez une nouvelle version."
        in page
    )
    db.session.expire_all()
    half_day = db.session.get(HalfDay, half_day.id)
    assert half_day.starts_at == paris(2026, 5, 27, 13, 30) and half_day.sequence == 1
    slot = db.session.scalar(sa.select(AgendaSlot))
    assert slot.starts_at == paris(2026, 5, 20, 13, 30)  # no slot moved
    [(action, summary)] = audit_actions()
    assert action == "half_day.reschedule" and summary.endswith(": début, fin")
    # A new version published afterwards: the warning goes.
    clock.advance(hours=1)
    db.session.add(AgendaVersion(half_day_id=half_day.id, number=2))
    db.session.commit()
    assert "reconstruisez-le" not in text(client.get("/admin/rencontres/2025"))


def test_registered_people_hear_of_a_new_date_and_remote_ones_get_a_new_link_again(
    client, coordinator, make_half_day, clock
):
    from app.exchange.models import AttendanceMode, Attendee, AttendeeStatus
    from tests.conftest import outbox

    half_day = make_half_day()
    people = [
        Attendee(
            half_day=half_day,
            last_name="Martin",
            first_name="Léa",
            email="lea@ac-amiens.fr",
            organisation="École",
            mode=AttendanceMode.in_person,
            status=AttendeeStatus.confirmed,
        ),
        Attendee(
            half_day=half_day,
            last_name="Roux",
            first_name="Paul",
            email="paul@ac-amiens.fr",
            organisation="École",
            mode=AttendanceMode.remote,
            status=AttendeeStatus.confirmed,
            link_sent_at=clock.now,
        ),
        Attendee(
            half_day=half_day,
            last_name="Petit",
            first_name="Ana",
            email="ana@ac-amiens.fr",
            organisation="École",
            mode=AttendanceMode.in_person,
            status=AttendeeStatus.cancelled,
        ),
    ]
    db.session.add_all(people)
    db.session.commit()

    # A new description tells nobody; a new link goes again to who had the old one.
    client.post(
        "/admin/rencontres/2025/modifier",
        data=edit_form(half_day, description="Nouveau.", visio="https://visio.ac-amiens.fr/autre"),
    )
    assert outbox("exchange/attendee_rescheduled") == []
    db.session.refresh(people[1])
    assert people[1].link_sent_at is None

    response = client.post(
        "/admin/rencontres/2025/modifier",
        data=edit_form(
            half_day,
            jour="2026-05-27",
            description="Nouveau.",
            visio="https://visio.ac-amiens.fr/autre",
        ),
    )

    assert "2 personne(s) inscrite(s) sont prévenues par courriel." in text(
        client.get(response.headers["Location"])
    )
    mails = outbox("exchange/attendee_rescheduled")
    assert sorted(m.recipient for m in mails) == ["lea@ac-amiens.fr", "paul@ac-amiens.fr"]
    body = mails[0].body_text
    assert "avant : mercredi 20 mai 2026, 13 h 30 – 17 h" in body
    assert "désormais : mercredi 27 mai 2026, 13 h 30 – 17 h" in body
    assert mails[0].subject.startswith("Les Rencontres changent de date")


def test_a_title_change_after_publication_keeps_the_sequence(client, coordinator, make_half_day):
    half_day = make_half_day()
    publish(half_day)
    response = client.post(
        "/admin/rencontres/2025/modifier",
        data=edit_form(half_day, titre="Rencontres 2026"),
        follow_redirects=True,
    )
    assert "reconstruisez" not in text(response)
    db.session.expire_all()
    assert db.session.get(HalfDay, half_day.id).sequence == 0


def test_a_room_of_a_published_version_cannot_be_removed(client, coordinator, make_half_day):
    half_day = make_half_day()
    publish(half_day)
    rooms = {r.name: r.room_id for r in half_day.rooms}
    data = edit_form(
        half_day,
        salles=[str(rooms["Salle 1"]), str(rooms["Salle 2"])],
        auditorium=str(rooms["Salle 1"]),
        capacite="30",
    )
    response = client.post("/admin/rencontres/2025/modifier", data=data)
    assert response.status_code == 422
    assert "La salle « Auditorium » figure dans une version publiée de l'agenda" in text(response)
    assert len(db.session.get(HalfDay, half_day.id).rooms) == 3


def test_removing_a_room_drops_its_draft_slots_and_says_to_rebuild(
    client, coordinator, make_half_day, make_contribution, clock
):
    half_day = make_half_day(
        state=HalfDayState.draft, agenda_built_at=datetime(2026, 3, 1, tzinfo=UTC)
    )
    contribution = make_contribution(half_day, status=ContributionStatus.accepted)
    salle_2 = next(r for r in half_day.rooms if r.name == "Salle 2")
    db.session.add(
        AgendaSlot(
            half_day_id=half_day.id,
            kind=SlotKind.contribution,
            contribution_id=contribution.id,
            room_id=salle_2.id,
            starts_at=paris(2026, 5, 20, 14, 0),
            ends_at=paris(2026, 5, 20, 14, 30),
        )
    )
    db.session.commit()
    rooms = {r.name: r.room_id for r in half_day.rooms}
    data = edit_form(half_day, salles=[str(rooms["Auditorium"]), str(rooms["Salle 1"])])
    page = text(client.post("/admin/rencontres/2025/modifier", data=data, follow_redirects=True))
    assert (
        "Le brouillon de l'agenda a été construit avec les anciens réglages : reconstruisez-le"
        in page
    )
    assert "1 créneaux du brouillon étaient dans une salle retirée" in page
    assert "après la construction du brouillon de l'agenda : reconstruisez-le." in page
    db.session.expire_all()
    assert [r.name for r in db.session.get(HalfDay, half_day.id).rooms] == ["Auditorium", "Salle 1"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AgendaSlot)) == 0


# --- date suggestions ----------------------------------------------------------------------------


def test_suggestions_are_school_wednesdays_of_zone_b(app, clock):
    clock.set(datetime(2025, 8, 1, 9, tzinfo=UTC))
    found = suggest_dates(2025)
    days = [s.day for s in found]
    assert all(day.weekday() == 2 for day in days)
    assert min(days) == date(2025, 9, 3) and max(days) == date(2026, 7, 1)
    for holiday in (
        date(2025, 10, 22),
        date(2025, 10, 29),  # Toussaint, zone B
        date(2025, 12, 24),
        date(2025, 12, 31),  # Noël
        date(2026, 2, 18),
        date(2026, 2, 25),  # hiver, zone B (14 février – 1er mars)
        date(2026, 4, 15),
        date(2026, 4, 22),  # printemps, zone B (11 – 26 avril)
        date(2026, 7, 8),
    ):  # été
        assert holiday not in days, holiday
    assert date(2026, 3, 4) in days and date(2026, 4, 8) in days and date(2026, 4, 29) in days
    assert not any(s.uncertain for s in found)


def test_the_spring_term_comes_first(app, clock):
    clock.set(datetime(2025, 8, 1, 9, tzinfo=UTC))
    assert spring_term_start(2025) == date(2026, 3, 2)  # the Monday after the winter holidays
    found = suggest_dates(2025)
    preferred = [s.day for s in found if s.preferred]
    assert preferred[0] == date(2026, 3, 4) and preferred[-1] == date(2026, 5, 27)
    assert [s.day for s in found[: len(preferred)]] == preferred  # first, in date order
    assert found[len(preferred)].day == date(2025, 9, 3)
    assert not any(s.preferred for s in suggest_dates(2025, prefer_spring=False))
    assert [s.day for s in suggest_dates(2025, 3)] == [
        date(2026, 3, 4),
        date(2026, 3, 11),
        date(2026, 3, 18),
    ]


@pytest.mark.parametrize(
    "year, holidays",
    [
        (2023, [date(2024, 5, 1), date(2024, 5, 8)]),  # Fête du Travail, Victoire 1945: Wednesdays
        (2026, [date(2026, 11, 11)]),  # Armistice, a Wednesday
    ],
)
def test_public_holidays_on_a_wednesday_are_left_out(app, clock, year, holidays):
    clock.set(datetime(year, 8, 1, 9, tzinfo=UTC))
    days = [s.day for s in suggest_dates(year)]
    for holiday in holidays:
        assert holiday.weekday() == 2 and holiday not in days
        assert holiday + timedelta(weeks=1) in days or holiday + timedelta(weeks=2) in days


def test_past_wednesdays_are_not_suggested(app, clock):
    # The clock: Monday 2 March 2026.
    days = [s.day for s in suggest_dates(2025)]
    assert min(days) == date(2026, 3, 4)
    clock.set(datetime(2026, 3, 4, 8, tzinfo=UTC))  # that Wednesday morning: too late for it
    assert date(2026, 3, 4) not in [s.day for s in suggest_dates(2025)]
    clock.set(datetime(2026, 7, 2, 8, tzinfo=UTC))
    assert suggest_dates(2025) == []


def test_dates_beyond_the_holiday_data_are_flagged_uncertain(app, clock):
    clock.set(datetime(2028, 8, 1, 9, tzinfo=UTC))  # the data stops on 31 August 2028
    found = suggest_dates(2028)
    assert found and all(s.uncertain for s in found)
    assert "date au-delà des vacances scolaires connues" in found[0].note
    assert spring_term_start(2028) == date(2029, 3, 1)  # unknown winter holidays: 1 March
    assert found[0].day == date(2029, 3, 7) and found[0].preferred


def test_the_form_flags_uncertain_suggestions(client, coordinator, amiens, clock):
    clock.set(datetime(2027, 9, 1, 9, tzinfo=UTC))  # offers 2027, 2028 (beyond the data), 2029
    page = text(client.get("/admin/rencontres/nouvelle"))
    assert "mercredi 7 mars 2029 (à vérifier)" in page
    assert "« À vérifier » : date au-delà des vacances scolaires connues" in page


# --- the call: closing and reopening -------------------------------------------------------------


def test_closing_the_call_now(client, coordinator, make_half_day, clock):
    make_half_day()
    response = client.post("/admin/rencontres/2025/clore", follow_redirects=True)
    assert "L'appel à propositions est clos" in text(response)
    half_day = db.session.scalar(sa.select(HalfDay))
    assert half_day.state is HalfDayState.review and half_day.deadline == clock.now
    [(action, summary)] = audit_actions()
    assert action == "half_day.close_call"
    assert summary == (
        "Appel à propositions 2025–2026 clos le lundi 2 mars 2026, 10 h "
        "(date limite prévue : mercredi 1er avril 2026, 18 h)"
    )
    # A second click changes nothing.
    page = text(client.post("/admin/rencontres/2025/clore", follow_redirects=True))
    assert "L'appel à propositions est déjà clos : rien n'a changé." in page
    assert len(audit_actions()) == 1


def test_reopening_the_call_with_a_new_deadline(client, coordinator, make_half_day, clock):
    make_half_day(state=HalfDayState.review, deadline=paris(2026, 3, 1, 18, 0))
    page = text(client.get("/admin/rencontres/2025"))
    assert "Rouvrir l'appel" in page and "Clore l'appel maintenant" not in page
    response = client.post(
        "/admin/rencontres/2025/rouvrir",
        data={"date_limite": "2026-04-15T12:00"},
        follow_redirects=True,
    )
    assert "L'appel à propositions est rouvert jusqu'au mercredi 15 avril 2026, 12 h." in text(
        response
    )
    half_day = db.session.scalar(sa.select(HalfDay))
    assert half_day.state is HalfDayState.call_open and half_day.deadline == paris(
        2026, 4, 15, 12, 0
    )
    [(action, _)] = audit_actions()
    assert action == "half_day.reopen_call"
    response = client.post(
        "/admin/rencontres/2025/rouvrir", data={"date_limite": "2026-04-20T12:00"}
    )
    assert response.status_code == 422
    assert "L'appel à propositions est déjà ouvert : rien n'a changé." in text(response)
    assert len(audit_actions()) == 1


@pytest.mark.parametrize(
    "deadline, message",
    [
        ("", "Indiquez la nouvelle date limite des propositions (date et heure)."),
        ("n'importe quoi", "N'est pas une date/heure valide."),
        ("2026-03-01T12:00", "La nouvelle date limite doit être à venir."),
        (
            "2026-05-20T14:00",
            "La nouvelle date limite doit précéder le début de la demi-journée (mercredi 20 mai 2026, 13 h 30).",
        ),
        ("2026-03-29T02:30", "n'existe pas le dimanche 29 mars 2026"),
    ],
)
def test_a_bad_new_deadline_is_refused(client, coordinator, make_half_day, deadline, message):
    make_half_day(state=HalfDayState.review, deadline=paris(2026, 3, 1, 18, 0))
    response = client.post("/admin/rencontres/2025/rouvrir", data={"date_limite": deadline})
    assert response.status_code == 422 and message in text(response)
    assert db.session.scalar(sa.select(HalfDay.state)) is HalfDayState.review
    assert audit_actions() == []


def test_the_call_is_not_reopened_once_an_agenda_was_built(client, coordinator, make_half_day):
    make_half_day(state=HalfDayState.draft, agenda_built_at=datetime(2026, 3, 1, tzinfo=UTC))
    assert "Rouvrir l'appel" not in text(client.get("/admin/rencontres/2025"))
    response = client.post(
        "/admin/rencontres/2025/rouvrir", data={"date_limite": "2026-04-15T12:00"}
    )
    assert response.status_code == 422
    assert (
        "Un agenda a déjà été construit à partir des propositions : l'appel ne peut plus être rouvert."
        in text(response)
    )
    assert db.session.scalar(sa.select(HalfDay.state)) is HalfDayState.draft
    assert audit_actions() == []


# --- the hub and the list ------------------------------------------------------------------------


def test_the_hub_shows_the_settings_the_step_and_the_links(
    client, coordinator, make_half_day, make_contribution
):
    half_day = make_half_day()
    make_contribution(half_day)
    make_contribution(half_day, status=ContributionStatus.accepted)
    page = text(client.get("/admin/rencontres/2025"))
    assert "mercredi 20 mai 2026, 13 h 30 – 17 h" in page
    assert (
        '<li aria-current="step"><strong>Appel à propositions ouvert (étape actuelle)</strong></li>'
        in page
    )
    assert (
        "<strong>Prochaine étape :</strong> L'appel à propositions est ouvert jusqu'au mercredi 1er "
        "avril 2026, 18 h. Examinez les propositions au fil de l'eau (1 proposition en attente, "
        "1 proposition acceptée)"
    ) in page
    for link in (
        "/admin/rencontres/2025/propositions",
        "/admin/rencontres/2025/agenda",
        "/admin/rencontres/2025/participants",
        "/rencontres/2025",
        "/admin/rencontres/2025/modifier",
    ):
        assert f'href="{link}"' in page, link
    assert (
        "<li>Auditorium (120 places) — <strong>auditorium</strong> : Vidéoprojecteur, Visioconférence</li>"
        in page
    )
    assert "<li>Salle 2 (20 places) : sans équipement</li>" in page
    assert "Clore l'appel maintenant" in page


@pytest.mark.parametrize(
    "state, statuses, expected",
    [
        (
            HalfDayState.review,
            [ContributionStatus.submitted, ContributionStatus.submitted],
            "L'appel est clos. Examinez les propositions en attente (2 propositions en attente), puis construisez l'agenda.",
        ),
        (
            HalfDayState.review,
            [ContributionStatus.accepted, ContributionStatus.declined],
            "Toutes les propositions sont examinées (1 proposition acceptée) : construisez l'agenda.",
        ),
        (
            HalfDayState.draft,
            [],
            "Vérifiez le brouillon de l'agenda, ajustez-le si besoin, puis publiez-le",
        ),
    ],
)
def test_the_hub_says_the_next_step(
    client, coordinator, make_half_day, make_contribution, state, statuses, expected
):
    half_day = make_half_day(state=state)
    for status in statuses:
        make_contribution(half_day, status=status)
    page = text(client.get("/admin/rencontres/2025"))
    assert expected in page
    assert f'<li aria-current="step"><strong>{state.title} (étape actuelle)</strong></li>' in page


def test_the_hub_after_publication_and_after_the_day(client, coordinator, make_half_day, clock):
    half_day = make_half_day()
    publish(half_day)
    page = text(client.get("/admin/rencontres/2025"))
    assert "L'agenda est publié (version 1, le lundi 2 mars 2026)" in page
    assert page.count("✓ ") == 3
    clock.set(datetime(2026, 5, 21, tzinfo=UTC))
    assert "La demi-journée a eu lieu." in text(client.get("/admin/rencontres/2025"))


def test_the_hub_says_when_the_call_deadline_has_passed(client, coordinator, make_half_day, clock):
    make_half_day()
    clock.set(datetime(2026, 4, 2, 9, tzinfo=UTC))
    assert "La date limite (mercredi 1er avril 2026, 18 h) est passée" in text(
        client.get("/admin/rencontres/2025")
    )


def test_the_list_newest_first_with_counts_in_a_fixed_number_of_queries(
    client, coordinator, make_half_day, make_contribution, count_queries
):
    first = make_half_day(2024, state=HalfDayState.published, day=date(2025, 5, 21))
    for status in (
        ContributionStatus.accepted,
        ContributionStatus.accepted,
        ContributionStatus.withdrawn,
    ):
        make_contribution(first, status=status)
    with count_queries() as one:
        client.get("/admin/rencontres/")
    second = make_half_day(2025)
    make_half_day(2026, day=date(2027, 3, 10))
    make_contribution(second, status=ContributionStatus.declined)
    with count_queries() as three:
        response = client.get("/admin/rencontres/")
    assert three.count == one.count
    page = text(response)
    assert page.index("2026–2027") < page.index("2025–2026") < page.index("2024–2025")
    row_2024 = page[page.index("2024–2025") :]
    assert "Acceptée : 2" in row_2024 and "Retirée : 1" in row_2024 and "Agenda publié" in row_2024
    row_2025 = page[page.index("2025–2026") : page.index("2024–2025")]
    assert "Non retenue : 1" in row_2025 and "Acceptée : 0" in row_2025
    assert 'href="/admin/rencontres/nouvelle">Nouvelle demi-journée</a>' in page
