"""Check-in on a tablet: taps (twice, out of order, refused), people added on the spot, closing
the session, access and CSRF. On SQLite and PostgreSQL.
"""

import html
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.attendance import checkin
from app.attendance.models import Attendance, Presence, SessionClosure
from app.booking import services as booking
from app.booking.models import Registration, RegistrationStatus
from app.extensions import db
from tests.conftest import login, outbox

JSON = {"Accept": "application/json"}


# --- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture
def today(make_workshop):
    """A session starting in half an hour (check-in is open), with `capacity` seats."""

    def make(capacity=3, **fields):
        return make_workshop(capacity=capacity, starts_in=timedelta(minutes=30), **fields)

    return make


@pytest.fixture
def people(applicant):
    """Register `n` people (a seat each while seats last, then the waiting list): their ids."""

    def make(workshop, n, start=1, **fields):
        return [
            booking.register(workshop.id, applicant(i, **fields)).row_id
            for i in range(start, start + n)
        ]

    return make


@pytest.fixture
def trainer_client(client, make_staff):
    """`trainer_client(workshop)`: the test client, logged in as that workshop's trainer."""

    def make(workshop):
        login(client, make_staff("trainer", trainer=workshop.trainer))
        return client

    return make


def page_url(workshop) -> str:
    return f"/formateur/seances/{workshop.id}/pointage"


def mark_url(workshop, registration_id) -> str:
    return f"/formateur/seances/{workshop.id}/pointage/{registration_id}"


def marks() -> dict[int, tuple[str, int]]:
    """Every stored mark: registration id -> (presence, tap time)."""
    db.session.expire_all()
    return {
        a.registration_id: (a.presence.value if a.presence else None, a.tapped_at_ms)
        for a in db.session.scalars(sa.select(Attendance))
    }


def registrations(workshop) -> list[Registration]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(Registration)
            .where(Registration.workshop_id == workshop.id)
            .order_by(Registration.id)
        )
    )


def text(response) -> str:
    """The page as a person reads it (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def words(response) -> str:
    """The page's words as read: no tags, entities decoded, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", "", text(response)).split())


def walk_in_data(**fields):
    data = {
        "nom": "Lefèvre",
        "prenom": "Élodie",
        "courriel": "elodie.lefevre@ac-amiens.fr",
        "ecole": "École Jean Macé, Péronne",
        "uai": "",
    }
    data.update(fields)
    return data


def seat_badge(client, workshop) -> str:
    page = client.get(f"/ateliers/{workshop.id}").get_data(as_text=True)
    return re.search(r'<span class="badge badge-[a-z]+">([^<]*)</span>', page).group(1)


# --- taps --------------------------------------------------------------------------------------


def test_taps_twice_or_out_of_order_leave_the_last_tap_made(today, people, make_staff):
    workshop = today()
    first, second = people(workshop, 2)
    by = make_staff("trainer", trainer=workshop.trainer)
    t1 = checkin.now_ms() - 5_000
    t2 = t1 + 2_000

    result = checkin.mark(workshop, first, "present", t2, by)
    assert (result.presence, result.applied) == (Presence.present, True)
    # The same tap again (a double tap, a retried request): nothing changes.
    again = checkin.mark(workshop, first, Presence.present, t2, by)
    assert (again.presence, again.tapped_at_ms, again.applied) == (Presence.present, t2, False)
    # An older tap arriving late: present@t2 then absent@t1 stays present.
    late = checkin.mark(workshop, first, "absent", t1, by)
    assert (late.presence, late.tapped_at_ms, late.applied) == (Presence.present, t2, False)
    assert marks() == {first: ("present", t2)}

    # A newer tap wins; the order of arrival does not matter for another person either.
    assert checkin.mark(workshop, first, "absent", t2 + 1, by).applied
    checkin.mark(workshop, second, "absent", t2, by)
    checkin.mark(workshop, second, "present", t1, by)
    assert marks() == {first: ("absent", t2 + 1), second: ("absent", t2)}
    stored = db.session.get(Attendance, first)
    assert stored.marked_by_id == by.id and stored.workshop_id == workshop.id


def test_the_script_s_request_answers_json_and_the_form_button_comes_back_to_the_page(
    today, people, trainer_client
):
    workshop = today()
    (someone,) = people(workshop, 1)
    client = trainer_client(workshop)
    t1 = checkin.now_ms()

    response = client.post(
        mark_url(workshop, someone),
        data={"presence": "present", "tape": str(t1 + 10)},
        headers=JSON,
    )
    assert response.status_code == 200
    assert response.json == {
        "registration_id": someone,
        "presence": "present",
        "tape": t1 + 10,
        "applied": True,
        "message": "Enregistré",
        "counts": {
            "expected": 1,
            "present": 1,
            "absent": 0,
            "unmarked": 0,
            "walk_ins": 0,
            "waiting": 0,
        },
    }
    # Sent twice, then an older tap: the answers give the stored state, unchanged.
    response = client.post(
        mark_url(workshop, someone),
        data={"presence": "present", "tape": str(t1 + 10)},
        headers=JSON,
    )
    assert response.json["applied"] is False
    response = client.post(
        mark_url(workshop, someone), data={"presence": "absent", "tape": str(t1)}, headers=JSON
    )
    assert (response.json["presence"], response.json["tape"], response.json["applied"]) == (
        "present",
        t1 + 10,
        False,
    )

    # Without JavaScript: the button posts its form, and the page comes back at that person.
    response = client.post(
        mark_url(workshop, someone), data={"presence": "absent", "tape": str(t1 + 20)}
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"{page_url(workshop)}#inscrit-{someone}")
    assert marks() == {someone: ("absent", t1 + 20)}
    # A button from an older page changes nothing, and says so.
    response = client.post(
        mark_url(workshop, someone),
        data={"presence": "present", "tape": str(t1)},
        follow_redirects=True,
    )
    assert "il n'a rien changé" in text(response)
    assert marks() == {someone: ("absent", t1 + 20)}


def test_waiting_people_admitted_at_the_door_and_walk_ins_can_be_marked(
    today, people, trainer_client
):
    workshop = today(capacity=1)
    seat, waiting = people(workshop, 2)
    client = trainer_client(workshop)
    tape = str(checkin.now_ms())
    response = client.post(
        mark_url(workshop, waiting), data={"presence": "present", "tape": tape}, headers=JSON
    )
    assert response.status_code == 200 and response.json["counts"]["present"] == 1
    # Admitted at the door: present, still without a seat.
    assert db.session.get(Registration, waiting).status is RegistrationStatus.waiting
    client.post(f"/formateur/seances/{workshop.id}/sur-place", data=walk_in_data())
    walk_in = registrations(workshop)[-1]
    response = client.post(
        mark_url(workshop, walk_in.id),
        data={"presence": "absent", "tape": str(int(tape) + 1_000_000)},
        headers=JSON,
    )
    assert response.json["presence"] == "absent"


def test_the_page_has_a_toggle_pair_per_person_counts_the_walk_in_form_and_the_close_button(
    today, people, trainer_client
):
    workshop = today(capacity=2)
    first, second, waiting = people(workshop, 3)
    client = trainer_client(workshop)
    checkin.mark(workshop, first, "present", checkin.now_ms())
    page = client.get(page_url(workshop)).get_data(as_text=True)

    assert page.count('class="checkin-toggle"') == 3
    assert page.count('name="tape" value="') == 3 and page.count('name="csrf_token"') >= 4
    assert f'action="{mark_url(workshop, first)}"' in page
    assert re.search(r'value="present" class="checkin-present"\s+aria-pressed="true"', page)
    assert '<dd data-count="present">1</dd>' in page and '<dd data-count="unmarked">1</dd>' in page
    assert "Ajouter une personne venue sans inscription" in page
    assert "son attestation de présence lui est envoyée" in page
    assert f'href="/formateur/seances/{workshop.id}/clore"' in page and "Clore la séance" in page
    assert 'role="status" aria-live="polite"' in page and "checkin.js" in page
    # The session page leads there.
    session_page = client.get(f"/formateur/seances/{workshop.id}").get_data(as_text=True)
    assert f'href="{page_url(workshop)}"' in session_page


def test_names_with_html_are_shown_as_text(today, applicant, trainer_client):
    workshop = today()
    booking.register(
        workshop.id, applicant(1, last_name="<b>Gras</b>", school="<i>École</i> & Cie")
    )
    client = trainer_client(workshop)
    for url in (page_url(workshop), f"/formateur/seances/{workshop.id}/clore"):
        page = client.get(url).get_data(as_text=True)
        assert "&lt;b&gt;Gras&lt;/b&gt;" in page and "<b>Gras" not in page, url
        assert "&lt;i&gt;École&lt;/i&gt; &amp; Cie" in page, url


# --- bad input ---------------------------------------------------------------------------------


TOO_FAR_AHEAD = "9" * 15  # under 2**53, but thousands of years ahead


@pytest.mark.parametrize("as_json", [True, False], ids=["fetch", "form"])
@pytest.mark.parametrize(
    "data, message",
    [
        (
            {"presence": "peut-être"},
            "La présence doit être « présent », « absent » ou « non pointé ».",
        ),
        ({"presence": ""}, "Indiquez si la personne est présente ou absente."),
        ({"presence": "<script>"}, "La présence doit être"),
        ({"tape": "abc"}, "L'heure du pointage est invalide"),
        ({"tape": "-5"}, "L'heure du pointage est invalide"),
        ({"tape": "0"}, "L'heure du pointage est invalide"),
        ({"tape": "1e12"}, "L'heure du pointage est invalide"),
        ({"tape": "1.5"}, "L'heure du pointage est invalide"),
        ({"tape": "１２３"}, "L'heure du pointage est invalide"),
        ({"tape": "9" * 40}, "L'heure du pointage est invalide"),
        ({"tape": TOO_FAR_AHEAD}, "L'horloge de cet appareil semble déréglée"),
        ({"tape": ""}, "L'heure du pointage manque"),
    ],
)
def test_bad_taps_get_a_french_message_and_write_nothing(
    today, people, trainer_client, data, message, as_json
):
    workshop = today()
    (someone,) = people(workshop, 1)
    client = trainer_client(workshop)
    data = {"presence": "present", "tape": str(checkin.now_ms()), **data}
    response = client.post(mark_url(workshop, someone), data=data, headers=JSON if as_json else {})
    assert response.status_code == 422
    if as_json:
        assert message in response.json["error"]
    else:
        assert message in text(response) and 'role="alert"' in response.get_data(as_text=True)
    assert marks() == {}


def test_check_in_opens_an_hour_before_the_start_and_says_when_before(
    make_workshop, people, trainer_client, clock
):
    """A session five days ahead: its check-in page says when it opens and offers no buttons;
    a tap (from the script, a form, or the service) is refused until then."""
    workshop = make_workshop(starts_in=timedelta(days=5))  # Saturday 7 March 2026, 10 h in Paris
    (someone,) = people(workshop, 1)
    client = trainer_client(workshop)

    page = client.get(page_url(workshop))
    assert "Le pointage ouvre le samedi 7 mars 2026, 9 h, une heure avant le début" in words(page)
    assert "data-checkin-mark" not in page.text and "Non pointé·e" in text(page)
    tape = str(checkin.now_ms())
    response = client.post(
        mark_url(workshop, someone), data={"presence": "present", "tape": tape}, headers=JSON
    )
    assert response.status_code == 409
    assert response.json["error"] == (
        "Il n'est pas encore possible de pointer les présences : c'est possible à partir du "
        "samedi 7 mars 2026, 9 h, une heure avant le début de la séance."
    )
    response = client.post(mark_url(workshop, someone), data={"presence": "absent", "tape": tape})
    assert response.status_code == 409 and "pas encore possible de pointer" in text(response)
    clock.set(workshop.starts_at - timedelta(hours=1, seconds=1))
    with pytest.raises(checkin.NotNow):
        checkin.mark(workshop, someone, "present", checkin.now_ms())
    assert marks() == {}

    clock.advance(seconds=1)  # an hour before the start: open
    assert "data-checkin-mark" in client.get(page_url(workshop)).text
    assert checkin.mark(workshop, someone, "present", checkin.now_ms()).applied


def test_every_mark_can_be_undone_until_the_session_is_closed(today, people, trainer_client):
    workshop = today()
    came, undone = people(workshop, 2)
    client = trainer_client(workshop)
    t1 = checkin.now_ms()
    checkin.mark(workshop, came, "present", t1)
    checkin.mark(workshop, undone, "absent", t1)

    # From the script: back to "non pointé·e", and the counts say so.
    response = client.post(
        mark_url(workshop, undone),
        data={"presence": "unmarked", "tape": str(t1 + 10)},
        headers=JSON,
    )
    assert response.status_code == 200
    assert (response.json["presence"], response.json["applied"]) == (None, True)
    assert response.json["counts"]["absent"] == 0 and response.json["counts"]["unmarked"] == 1
    assert marks()[undone] == (None, t1 + 10)
    page = client.get(page_url(workshop)).text
    assert re.search(
        r'value="unmarked" class="checkin-unmarked"\s+aria-pressed="true">Non pointé·e'
        r'<span class="visually-hidden"> : Léa MartinC</span>',
        page,
    ), "the undone person shows as not checked in"
    assert '<dd data-count="unmarked">1</dd>' in page
    # An older tap arriving after the undo changes nothing.
    response = client.post(
        mark_url(workshop, undone), data={"presence": "absent", "tape": str(t1 + 5)}, headers=JSON
    )
    assert (response.json["presence"], response.json["applied"]) == (None, False)

    # Without JavaScript: the "Non pointé·e" button posts its form too.
    response = client.post(
        mark_url(workshop, came), data={"presence": "unmarked", "tape": str(t1 + 20)}
    )
    assert response.status_code == 303
    assert marks() == {came: (None, t1 + 20), undone: (None, t1 + 10)}

    # Closing marks the undone people absent, as the never marked; then no undo.
    response = client.post(f"/formateur/seances/{workshop.id}/clore", follow_redirects=True)
    assert "Personnes non pointées, marquées absentes : 2." in text(response)
    assert {k: v[0] for k, v in marks().items()} == {came: "absent", undone: "absent"}
    response = client.post(
        mark_url(workshop, came), data={"presence": "unmarked", "tape": str(t1 + 30)}, headers=JSON
    )
    assert response.status_code == 409 and "La séance est close" in response.json["error"]


def test_a_tap_without_its_fields_is_refused(today, people, trainer_client):
    workshop = today()
    (someone,) = people(workshop, 1)
    client = trainer_client(workshop)
    response = client.post(mark_url(workshop, someone), data={}, headers=JSON)
    assert response.status_code == 422 and "Indiquez si la personne" in response.json["error"]
    assert marks() == {}


def test_a_tap_for_someone_not_on_this_session_is_refused(
    today, people, trainer_client, make_workshop
):
    workshop = today()
    mine, cancelled = people(workshop, 2)
    other_workshop = make_workshop(trainer=workshop.trainer)
    (elsewhere,) = people(other_workshop, 1, start=10)
    registration = db.session.get(Registration, cancelled)
    registration.status = RegistrationStatus.cancelled
    db.session.commit()
    client = trainer_client(workshop)
    tape = str(checkin.now_ms())
    for registration_id in (999_999, 99_999_999_999_999_999_999, elsewhere, cancelled):
        response = client.post(
            mark_url(workshop, registration_id),
            data={"presence": "present", "tape": tape},
            headers=JSON,
        )
        assert response.status_code == 404, registration_id
        assert "n'est pas inscrite à cette séance" in response.json["error"]
        response = client.post(
            mark_url(workshop, registration_id), data={"presence": "present", "tape": tape}
        )
        assert response.status_code == 404 and "n'est pas inscrite à cette séance" in text(response)
    assert marks() == {}


def test_a_cancelled_workshop_takes_no_check_in(today, people, trainer_client):
    from app.catalog.models import WorkshopStatus

    workshop = today()
    (someone,) = people(workshop, 1)
    workshop.status = WorkshopStatus.cancelled
    db.session.commit()
    client = trainer_client(workshop)
    response = client.post(
        mark_url(workshop, someone),
        data={"presence": "present", "tape": str(checkin.now_ms())},
        headers=JSON,
    )
    assert response.status_code == 409 and "annulé" in response.json["error"]
    response = client.post(f"/formateur/seances/{workshop.id}/clore")
    assert response.status_code == 409 and "annulé" in text(response)
    assert marks() == {} and db.session.get(SessionClosure, workshop.id) is None


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"nom": "x" * 10_000}, "Le nom ne peut dépasser 100 caractères."),
        ({"prenom": "y" * 10_000}, "Le prénom ne peut dépasser 100 caractères."),
        ({"ecole": "z" * 10_000}, "Le nom de l'école ne peut dépasser 200 caractères."),
        ({"nom": "<script>alert(1)</script>"}, "Le nom ne peut contenir que des lettres"),
        ({"prenom": "<b>Théo</b>"}, "Le prénom ne peut contenir que des lettres"),
        ({"ecole": "<i>École</i>"}, "ne peut pas contenir les caractères < et >"),
        ({"nom": "Martin\r\nBcc: x@y.fr"}, "ni retour à la ligne"),
        ({"nom": ""}, "Indiquez le nom de la personne."),
        ({"courriel": ""}, "son attestation de présence lui est envoyée à cette adresse"),
        ({"courriel": "elodie.lefevre"}, "Cette adresse électronique n'est pas valide."),
        ({"courriel": "a@b.fr\r\nBcc: x@y.fr"}, "Cette adresse électronique n'est pas valide."),
        ({"uai": "0801234A"}, "La lettre de contrôle de ce code UAI"),
    ],
)
def test_a_bad_walk_in_gets_a_french_message_and_writes_nothing(
    today, people, trainer_client, fields, message
):
    workshop = today()
    people(workshop, 1)
    client = trainer_client(workshop)
    mails = len(outbox())
    response = client.post(
        f"/formateur/seances/{workshop.id}/sur-place", data=walk_in_data(**fields)
    )
    assert response.status_code == 422
    assert message in text(response)
    page = response.get_data(as_text=True)
    assert "<script>alert" not in page and "<b>Théo" not in page and "<i>École" not in page
    assert len(registrations(workshop)) == 1 and marks() == {} and len(outbox()) == mails


# --- walk-ins ----------------------------------------------------------------------------------


def test_a_walk_in_beyond_capacity_is_marked_present_and_takes_no_seat(
    today, people, trainer_client
):
    workshop = today(capacity=3)
    people(workshop, 2)
    client = trainer_client(workshop)
    assert seat_badge(client, workshop) == "Dernière place"
    seats_before = booking.REGISTRATIONS.count(workshop)
    mails = len(outbox())

    for n, email in enumerate(["elodie.lefevre@ac-amiens.fr", "marc.petit@ac-amiens.fr"]):
        response = client.post(
            f"/formateur/seances/{workshop.id}/sur-place",
            data=walk_in_data(courriel=email, nom=f"Petit{'e' * n}", uai="0801234G"),
        )
        assert response.status_code == 303
        walk_in = registrations(workshop)[-1]
        assert response.headers["Location"].endswith(f"#inscrit-{walk_in.id}")
        assert walk_in.status is RegistrationStatus.walk_in and walk_in.waiting_position is None
        assert marks()[walk_in.id][0] == "present"
    assert walk_in.email == "marc.petit@ac-amiens.fr" and walk_in.uai == "0801234G"

    page = client.get(page_url(workshop))
    assert "est ajouté·e sur place et marqué·e présent·e" in text(page)
    assert "Venu·e sans inscription" in text(page) and "dont 2 sur place" in text(page)
    # The seats, the public page and the mails ignore them.
    assert booking.REGISTRATIONS.count(workshop) == seats_before
    assert seat_badge(client, workshop) == "Dernière place"
    assert len(outbox()) == mails


def test_a_walk_in_already_registered_is_not_duplicated_but_marked_present(
    today, people, trainer_client, applicant
):
    workshop = today(capacity=1)
    seat, waiting = people(workshop, 2)
    client = trainer_client(workshop)
    url = f"/formateur/seances/{workshop.id}/sur-place"

    response = client.post(
        url, data=walk_in_data(courriel="  Lea.Martin1@AC-Amiens.fr "), follow_redirects=True
    )
    assert "était déjà inscrit·e (inscription confirmée) avec cette adresse" in text(response)
    assert "aucune nouvelle inscription n'a été créée" in text(response)
    response = client.post(
        url, data=walk_in_data(courriel="lea.martin2@ac-amiens.fr"), follow_redirects=True
    )
    assert "(en liste d'attente)" in text(response)
    assert len(registrations(workshop)) == 2
    assert {k: v[0] for k, v in marks().items()} == {seat: "present", waiting: "present"}

    client.post(url, data=walk_in_data())
    response = client.post(url, data=walk_in_data(nom="Autre"), follow_redirects=True)
    assert "avait déjà été ajouté·e sur place" in text(response)
    assert len(registrations(workshop)) == 3

    # The person added at the door who then registers on the public page is already there.
    result = booking.register(workshop.id, applicant(3, email="elodie.lefevre@ac-amiens.fr"))
    assert result.already_registered
    assert len(registrations(workshop)) == 3


def test_a_walk_in_marks_present_even_after_a_tap_from_a_fast_clock(today, people, make_staff):
    workshop = today()
    (someone,) = people(workshop, 1)
    ahead = checkin.now_ms() + 3_600_000  # a tablet an hour ahead tapped "absent"
    checkin.mark(workshop, someone, "absent", ahead)
    result = checkin.add_walk_in(workshop, "Martin", "Léa", "lea.martin1@ac-amiens.fr", "École")
    assert result.registration_id == someone
    assert marks() == {someone: ("present", ahead + 1)}


def test_walk_ins_and_closing_wait_for_the_hour_before_the_start(
    make_workshop, people, trainer_client, clock
):
    workshop = make_workshop(starts_in=timedelta(hours=2))
    people(workshop, 1)
    client = trainer_client(workshop)
    page = text(client.get(page_url(workshop)))
    assert "Possible à partir du lundi 2 mars 2026, 11 h" in page  # noon in Paris, minus an hour
    assert "pourra être close à partir du lundi 2 mars 2026, 11 h" in page
    confirm = text(client.get(f"/formateur/seances/{workshop.id}/clore"))
    assert "La séance ne peut être close qu'à partir du lundi 2 mars 2026, 11 h" in confirm

    response = client.post(f"/formateur/seances/{workshop.id}/sur-place", data=walk_in_data())
    assert response.status_code == 409 and "à partir du lundi 2 mars 2026, 11 h" in text(response)
    response = client.post(f"/formateur/seances/{workshop.id}/clore")
    assert response.status_code == 409
    assert "Il n'est pas encore possible de clore la séance" in text(response)
    assert len(registrations(workshop)) == 1 and db.session.get(SessionClosure, workshop.id) is None

    clock.advance(hours=1)
    assert client.post(f"/formateur/seances/{workshop.id}/clore").status_code == 303
    assert db.session.get(SessionClosure, workshop.id) is not None


# --- closing -----------------------------------------------------------------------------------


def test_closing_marks_the_unmarked_absent_and_closing_twice_is_harmless(
    today, people, trainer_client, clock
):
    workshop = today(capacity=2)
    came, missed, waited, admitted = people(workshop, 4)
    client = trainer_client(workshop)
    quiet = booking.add_walk_in(
        workshop.id, booking.Applicant("Roux", "Ana", "ana.roux@ac-amiens.fr", "École")
    )
    db.session.commit()  # a walk-in without a mark (added, not tapped)
    tape = checkin.now_ms()
    checkin.mark(workshop, came, "present", tape)
    checkin.mark(workshop, admitted, "present", tape)

    confirm = text(client.get(f"/formateur/seances/{workshop.id}/clore"))
    assert (
        "Clore la séance ?" in confirm and "2 personnes inscrites ne sont pas pointées" in confirm
    )
    assert "Oui, clore la séance" in confirm

    response = client.post(f"/formateur/seances/{workshop.id}/clore", follow_redirects=True)
    assert (
        "Séance close : la présence est figée. Personnes non pointées, marquées absentes : 2."
        in text(response)
    )
    closed = marks()
    walk_in_id = quiet.row_id
    assert {k: v[0] for k, v in closed.items()} == {
        came: "present",
        admitted: "present",
        missed: "absent",
        walk_in_id: "absent",
    }
    assert waited not in closed  # waited and did not come in: no mark
    closure = db.session.get(SessionClosure, workshop.id)
    first_closed_at = closure.closed_at
    assert first_closed_at == clock.now

    clock.advance(minutes=10)
    response = client.post(f"/formateur/seances/{workshop.id}/clore", follow_redirects=True)
    assert response.status_code == 200
    assert "La séance était déjà close : rien n'a changé." in text(response)
    assert checkin.close(workshop).already_closed
    db.session.expire_all()
    assert db.session.get(SessionClosure, workshop.id).closed_at == first_closed_at
    assert marks() == closed

    page = text(client.get(page_url(workshop)))
    assert "Séance close" in page and 'class="checkin-toggle"' not in page
    assert "Ajouter une personne venue sans inscription" not in page
    assert client.get(f"/formateur/seances/{workshop.id}/clore").status_code == 303


def test_a_closed_session_refuses_taps_and_walk_ins_with_409_and_changes_nothing(
    today, people, trainer_client
):
    workshop = today()
    came, missed = people(workshop, 2)
    client = trainer_client(workshop)
    checkin.mark(workshop, came, "present", checkin.now_ms())
    checkin.close(workshop)
    frozen = marks()
    people_before = len(registrations(workshop))

    late = str(checkin.now_ms() + 60_000)
    for registration_id, presence in ((came, "absent"), (missed, "present")):
        response = client.post(
            mark_url(workshop, registration_id),
            data={"presence": presence, "tape": late},
            headers=JSON,
        )
        assert response.status_code == 409
        assert response.json == {
            "error": "La séance est close : la présence est figée et ne peut plus être modifiée."
        }
        response = client.post(
            mark_url(workshop, registration_id), data={"presence": presence, "tape": late}
        )
        assert response.status_code == 409 and "La séance est close" in text(response)
    with pytest.raises(checkin.SessionClosed):
        checkin.mark(workshop, missed, "present", int(late))
    response = client.post(f"/formateur/seances/{workshop.id}/sur-place", data=walk_in_data())
    assert response.status_code == 409 and "La séance est close" in text(response)
    with pytest.raises(checkin.SessionClosed):
        checkin.add_walk_in(workshop, "Martin", "Léa", "lea.martin1@ac-amiens.fr", "École")
    assert marks() == frozen and len(registrations(workshop)) == people_before


# --- access and CSRF ---------------------------------------------------------------------------


def _every_request(workshop, registration_id):
    tape = str(checkin.now_ms())
    return [
        ("get", page_url(workshop), {}),
        ("get", f"/formateur/seances/{workshop.id}/clore", {}),
        ("post", mark_url(workshop, registration_id), {"presence": "present", "tape": tape}),
        ("post", f"/formateur/seances/{workshop.id}/sur-place", walk_in_data()),
        ("post", f"/formateur/seances/{workshop.id}/clore", {}),
    ]


def test_anonymous_visitors_go_to_the_login_page_and_write_nothing(client, today, people):
    workshop = today()
    (someone,) = people(workshop, 1)
    for method, url, data in _every_request(workshop, someone):
        response = getattr(client, method)(url, data=data)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/connexion?next="), url
    assert marks() == {} and len(registrations(workshop)) == 1
    assert db.session.get(SessionClosure, workshop.id) is None


def test_another_trainer_gets_403_and_writes_nothing(client, today, people, make_staff):
    workshop = today()
    (someone,) = people(workshop, 1)
    login(client, make_staff("trainer"))
    for method, url, data in _every_request(workshop, someone):
        assert getattr(client, method)(url, data=data).status_code == 403, url
    assert marks() == {} and len(registrations(workshop)) == 1
    assert db.session.get(SessionClosure, workshop.id) is None
    assert client.get("/formateur/seances/999999/pointage").status_code == 404


def test_a_coordinator_checks_in_any_session(client, today, people, make_staff):
    workshop = today()
    (someone,) = people(workshop, 1)
    coordinator = make_staff("coordinator")
    login(client, coordinator)
    assert client.get(page_url(workshop)).status_code == 200
    response = client.post(
        mark_url(workshop, someone),
        data={"presence": "present", "tape": str(checkin.now_ms())},
        headers=JSON,
    )
    assert response.status_code == 200
    assert db.session.get(Attendance, someone).marked_by_id == coordinator.id
    assert client.post(f"/formateur/seances/{workshop.id}/clore").status_code == 303
    assert db.session.get(SessionClosure, workshop.id).closed_by_id == coordinator.id


def test_csrf_the_script_s_header_is_accepted_and_a_request_without_token_is_refused(
    app, today, people, trainer_client
):
    workshop = today()
    first, second = people(workshop, 2)
    # Logged in while CSRF is off (the login form's own test has it on).
    client = trainer_client(workshop)
    app.config["WTF_CSRF_ENABLED"] = True
    page = client.get(page_url(workshop)).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    tape = str(checkin.now_ms())

    response = client.post(
        mark_url(workshop, first),
        data={"presence": "present", "tape": tape},
        headers={**JSON, "X-CSRFToken": token},
    )
    assert response.status_code == 200 and response.json["presence"] == "present"
    response = client.post(
        mark_url(workshop, second), data={"presence": "present", "tape": tape, "csrf_token": token}
    )
    assert response.status_code == 303

    newer = str(int(tape) + 1)
    for url, data, headers in [
        (mark_url(workshop, first), {"presence": "absent", "tape": newer}, JSON),
        (
            mark_url(workshop, first),
            {"presence": "absent", "tape": newer},
            {**JSON, "X-CSRFToken": "forged"},
        ),
        (mark_url(workshop, first), {"presence": "absent", "tape": newer}, {}),
        (f"/formateur/seances/{workshop.id}/sur-place", walk_in_data(), {}),
        (f"/formateur/seances/{workshop.id}/clore", {}, {}),
    ]:
        response = client.post(url, data=data, headers=headers)
        assert response.status_code == 400, url
        assert "Le formulaire a expiré" in text(response)
    assert marks() == {first: ("present", int(tape)), second: ("present", int(tape))}
    assert len(registrations(workshop)) == 2 and db.session.get(SessionClosure, workshop.id) is None
