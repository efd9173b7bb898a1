"""Registering to attend the exchange half-day (issue 7, part 6): in person under the workshops'
seat rules (DESIGN rules 1–3: a seat, else the waiting list, gap-free; a cancellation or a switch to
remote promotes the first person waiting, with a mail, except in the last two hours), remotely
always confirmed; the management link; bad input refused in French with nothing written; the
videoconference link sent once, the day before, by a scheduler sweep; the coordinators' list and
its CSV. The last seats under real concurrency are tests/test_concurrency.py's, proven there for
the half-day as for a workshop.
"""

import html
import re
import secrets
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app import tokens
from app.exchange import attendees, videoconference
from app.exchange.models import AttendanceMode, Attendee, AttendeeStatus
from app.extensions import db
from app.mail.delivery import deliver_pending
from app.mail.models import OutboxMail
from app.tokens import Token, TokenPurpose
from scheduler import jobs
from tests.conftest import login, outbox
from tests.test_sheets import read_csv

URL = "/rencontres/2025"
REGISTER = URL + "/inscription"
NOT_FOUND = "Page introuvable"
#: The half-day of the factory starts on Wednesday 20 May 2026 at 13:30 in Paris (11:30 UTC); the
#: link goes out from noon in Paris the day before (10:00 UTC).
STARTS = datetime(2026, 5, 20, 11, 30, tzinfo=UTC)
LINK_DUE = datetime(2026, 5, 19, 10, 0, tzinfo=UTC)
VISIO = "https://visio.ac-amiens.fr/rencontres"


# --- helpers -------------------------------------------------------------------------------------


def form(n=1, **fields):
    data = {
        "nom": "Martin",
        "prenom": "Léa",
        "courriel": f"lea.martin{n}@ac-amiens.fr",
        "organisation": "École Jules Ferry, Amiens",
        "mode": "sur_place",
    }
    data.update(fields)
    return data


def post(client, n=1, **fields):
    return client.post(REGISTER, data=form(n, **fields))


def register(client, n=1, **fields) -> Attendee:
    response = post(client, n, **fields)
    assert response.status_code == 303, text(response)[:2000]
    assert response.headers["Location"].endswith("/rencontres/2025/inscription/merci")
    email = form(n, **fields)["courriel"].strip().lower()
    return db.session.scalar(
        sa.select(Attendee).where(Attendee.email == email).order_by(Attendee.id.desc()).limit(1)
    )


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def rows(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def written() -> tuple[int, int, int]:
    """(attendees, outbox mails, tokens)."""
    return rows(Attendee), rows(OutboxMail), rows(Token)


def everyone() -> list[Attendee]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Attendee).order_by(Attendee.id)))


def mails(name: str) -> list[OutboxMail]:
    return outbox(f"exchange/attendee_{name}")


def secret_of(mail_row: OutboxMail) -> str:
    return mail_row.body_text.split("/rencontres/2025/inscription/")[1].split()[0]


def secret_for(attendee: Attendee) -> str:
    """The management secret of the latest mail that carries one to this person."""
    carrying = [
        m for m in outbox() if m.recipient == attendee.email and "/inscription/" in m.body_text
    ]
    return secret_of(carrying[-1])


def positions() -> dict[str, int]:
    return {a.email: a.waiting_position for a in everyone() if a.status is AttendeeStatus.waiting}


@pytest.fixture
def half_day(make_half_day):
    return make_half_day(capacity=2)


# --- registering ---------------------------------------------------------------------------------


def test_in_person_gets_a_seat_and_a_mail_with_the_address(client, half_day):
    attendee = register(client, 1, courriel="  Lea.Martin1@AC-Amiens.fr ")
    assert (attendee.mode, attendee.status, attendee.waiting_position) == (
        AttendanceMode.in_person,
        AttendeeStatus.confirmed,
        None,
    )
    assert attendee.email == "lea.martin1@ac-amiens.fr"
    assert attendee.organisation == "École Jules Ferry, Amiens"
    thanks = text(client.get(REGISTER + "/merci"))
    assert "Votre place est réservée" in thanks and "lea.martin1@ac-amiens.fr" in thanks

    (confirmation,) = mails("confirmed")
    assert confirmation.recipient == "lea.martin1@ac-amiens.fr"
    assert confirmation.subject == "Inscription confirmée : Rencontres TICE 2025-2026"
    assert (confirmation.subject_kind, confirmation.subject_id) == ("attendee", attendee.id)
    body = confirmation.body_text
    assert "une place vous est réservée sur place" in body
    assert "Lieu : CRDP, site d'Amiens, 45 rue Saint-Leu, 80026 Amiens" in body
    assert "mercredi 20 mai 2026, de 13 h 30 à 17 h" in body
    assert "Programme : http://ateliers.test/rencontres/2025" in body
    assert VISIO not in body and VISIO not in confirmation.body_html
    assert "45 rue Saint-Leu" in confirmation.body_html
    # The management link opens this registration (TokenPurpose.exchange_attendee).
    secret = secret_of(confirmation)
    assert tokens.resolve(TokenPurpose.exchange_attendee, secret).owner_id == attendee.id
    page = text(client.get(f"{URL}/inscription/{secret}"))
    assert "Inscription confirmée, sur place" in page and "Léa Martin" in page
    assert client.get(f"{URL}/inscription/{secret}").headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("config_overrides", [{"ALLOWED_EMAIL_DOMAINS": ["ac-amiens.fr"]}])
def test_partners_register_with_their_own_domain(client, half_day, config_overrides):
    attendee = register(client, courriel="contact@somme-numerique.fr")

    assert attendee.email == "contact@somme-numerique.fr"


def test_remote_is_confirmed_and_told_the_link_comes_the_day_before(client, half_day):
    attendee = register(client, 1, mode="a_distance")
    assert (attendee.mode, attendee.status) == (AttendanceMode.remote, AttendeeStatus.confirmed)
    assert attendee.link_sent_at is None
    (confirmation,) = mails("confirmed")
    assert "vous suivez les Rencontres à distance" in confirmation.body_text
    assert (
        "vous sera envoyé par courriel la veille, le mardi 19 mai 2026 à partir de 12 h"
        in confirmation.body_text
    )
    assert "45 rue Saint-Leu" not in confirmation.body_text
    assert VISIO not in confirmation.body_text
    assert "Le lien de la visioconférence vous sera envoyé la veille" in text(
        client.get(REGISTER + "/merci")
    )


def test_full_in_person_gives_the_waiting_list_remote_stays_open(client, half_day):
    register(client, 1)
    register(client, 2)
    third = register(client, 3)
    fourth = register(client, 4)
    remote = register(client, 5, mode="a_distance")
    assert [(a.status, a.waiting_position) for a in (third, fourth)] == [
        (AttendeeStatus.waiting, 1),
        (AttendeeStatus.waiting, 2),
    ]
    assert remote.status is AttendeeStatus.confirmed  # remote takes no seat
    assert [m.recipient for m in mails("waiting")] == [third.email, fourth.email]
    assert "en position 2" in mails("waiting")[1].body_text
    page = text(client.get(URL))
    assert "Complet — 2 personnes en liste d'attente" in page
    assert "Toutes les places sur place sont prises." in page
    counts = attendees.counts(half_day)
    assert (counts.seats.confirmed, counts.seats.waiting, counts.remote) == (2, 2, 1)


def test_cancelling_a_seat_promotes_the_first_waiting_and_mails_them(client, half_day):
    first = register(client, 1)
    register(client, 2)
    third, fourth, fifth = (register(client, n) for n in (3, 4, 5))
    response = client.post(f"{URL}/inscription/{secret_for(first)}/annuler")
    assert response.status_code == 303
    assert "Votre inscription est annulée" in text(client.get(response.headers["Location"]))

    people = {a.email: a for a in everyone()}
    assert people[first.email].status is AttendeeStatus.cancelled
    assert people[first.email].cancelled_at is not None
    assert people[third.email].status is AttendeeStatus.confirmed
    assert positions() == {fourth.email: 1, fifth.email: 2}  # gap-free
    (promotion,) = mails("promoted")
    assert promotion.recipient == third.email
    assert promotion.subject == "Une place s'est libérée : Rencontres TICE 2025-2026"
    assert (
        "45 rue Saint-Leu" in promotion.body_text
        and "/rencontres/2025/inscription/" in promotion.body_text
    )
    (cancellation,) = mails("cancelled")
    assert cancellation.recipient == first.email and "/inscription/" not in cancellation.body_text

    # Cancelling again changes nothing and sends nothing.
    before = written()
    assert client.post(f"{URL}/inscription/{secret_for(first)}/annuler").status_code == 303
    assert written() == before


def test_leaving_the_waiting_list_closes_the_gap(client, half_day):
    register(client, 1)
    register(client, 2)
    third, fourth, fifth = (register(client, n) for n in (3, 4, 5))
    assert client.post(f"{URL}/inscription/{secret_for(fourth)}/annuler").status_code == 303
    assert positions() == {third.email: 1, fifth.email: 2}
    assert mails("promoted") == []


def test_no_promotion_in_the_last_two_hours(client, half_day, clock):
    first = register(client, 1)
    register(client, 2)
    third = register(client, 3)
    clock.set(STARTS - timedelta(hours=1, minutes=59))
    assert client.post(f"{URL}/inscription/{secret_for(first)}/annuler").status_code == 303
    assert positions() == {third.email: 1}  # the door decides
    assert mails("promoted") == []


def test_a_larger_capacity_gives_seats_to_the_first_waiting(app, client, half_day):
    """What the setup page calls after raising the capacity (`ATTENDEES.promote`), under the
    half-day's lock."""
    register(client, 1)
    register(client, 2)
    third, fourth, fifth = (register(client, n) for n in (3, 4, 5))
    with attendees.ATTENDEES.holding(half_day.id) as locked:
        locked.capacity = 4
        promoted = attendees.ATTENDEES.promote(locked)
    assert [a.email for a in promoted] == [third.email, fourth.email]
    assert positions() == {fifth.email: 1}
    assert [m.recipient for m in mails("promoted")] == [third.email, fourth.email]


# --- one registration per address ----------------------------------------------------------------


def test_the_same_address_is_refused_with_a_message_and_the_link_resent(client, half_day, clock):
    first = register(client, 1)
    before = written()
    # A double click: the same registration, nothing new, no second mail.
    response = post(
        client, 1, courriel=" LEA.MARTIN1@ac-amiens.fr", mode="a_distance", prenom="Autre"
    )
    assert response.status_code == 303
    page = text(client.get(REGISTER + "/merci"))
    assert "Vous êtes déjà inscrit·e aux Rencontres" in page
    assert "nous n'en avons pas créé d'autre" in page
    assert written() == before
    # Later: still refused, and the management link is mailed again.
    clock.advance(minutes=10)
    post(client, 1, mode="a_distance")
    assert "Nous venons de vous renvoyer par courriel le lien" in text(
        client.get(REGISTER + "/merci")
    )
    assert rows(Attendee) == 1
    (resent,) = mails("manage_link")
    assert resent.recipient == first.email
    assert tokens.resolve(TokenPurpose.exchange_attendee, secret_of(resent)).owner_id == first.id
    (only,) = everyone()
    assert only.mode is AttendanceMode.in_person  # the second form changed nothing


def test_after_cancelling_the_same_address_may_register_again(client, half_day):
    first = register(client, 1)
    client.post(f"{URL}/inscription/{secret_for(first)}/annuler")
    again = register(client, 1, mode="a_distance")
    assert again.id != first.id and again.status is AttendeeStatus.confirmed


# --- bad input -----------------------------------------------------------------------------------

LONG = "x" * 10_000

BAD_INPUT = [
    ({"nom": ""}, "Indiquez votre nom."),
    ({"prenom": "   "}, "Indiquez votre prénom."),
    ({"courriel": ""}, "Indiquez votre adresse électronique."),
    ({"organisation": "\u00a0"}, "Indiquez votre école ou votre structure."),
    ({"mode": ""}, "Choisissez si vous venez sur place ou suivez à distance."),
    ({"mode": "partout"}, "Choisissez si vous venez sur place ou suivez à distance."),
    ({"nom": LONG}, "Le nom ne peut dépasser 100 caractères."),
    ({"prenom": LONG}, "Le prénom ne peut dépasser 100 caractères."),
    ({"courriel": LONG + "@ac-amiens.fr"}, "L'adresse électronique est trop longue."),
    ({"organisation": LONG}, "ne peut dépasser 200 caractères."),
    ({"nom": "<b>Martin</b>"}, "Le nom ne peut contenir que des lettres"),
    ({"organisation": "<script>alert(1)</script>"}, "ne peut pas contenir les caractères < et >"),
    ({"nom": "Martin\r\nBcc: pirate@example.com"}, "ne doit contenir ni retour à la ligne"),
    ({"organisation": "École\r\nX-Header: 1"}, "ne doit contenir ni retour à la ligne"),
    ({"courriel": "lea@ac-amiens.fr\r\nBcc: pirate@example.com"}, "n'est pas valide"),
    ({"courriel": "lea.martin@"}, "n'est pas valide"),
    ({"courriel": "léa@ac-amiens.fr"}, "n'est pas valide"),
    ({"site_web": "http://spam.example"}, "Votre demande n'a pas pu être enregistrée."),
]


@pytest.mark.parametrize("fields, message", BAD_INPUT, ids=lambda v: repr(v)[:40])
def test_bad_input_gets_a_french_message_and_writes_nothing(client, half_day, fields, message):
    response = post(client, **fields)
    assert response.status_code == 422
    page = text(response)
    assert message in page, page[page.find("erreurs") :][:600]
    assert "Le formulaire contient 1 erreur" in page
    assert written() == (0, 0, 0)


def test_a_missing_field_altogether(client, half_day):
    response = client.post(REGISTER, data={"nom": "Martin"})
    assert response.status_code == 422
    assert "Le formulaire contient 4 erreurs" in text(response)
    assert written() == (0, 0, 0)


def test_markup_is_shown_escaped_when_the_form_comes_back(client, half_day):
    body = post(client, organisation="<script>alert(1)</script>").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in body


def test_registration_closes_when_the_half_day_starts(client, half_day, clock):
    clock.set(STARTS)
    response = post(client)
    assert response.status_code == 409
    assert "Les Rencontres ont commencé ou sont passées : les inscriptions sont closes." in text(
        response
    )
    assert written() == (0, 0, 0)
    page = text(client.get(URL))
    assert (
        "les inscriptions sont closes" in page
        and 'action="/rencontres/2025/inscription"' not in page
    )


def test_registration_on_an_unknown_year_is_not_found(client, half_day):
    for year in ("2030", "99999999999999999999"):
        response = client.post(f"/rencontres/{year}/inscription", data=form())
        assert response.status_code == 404 and NOT_FOUND in text(response)
    assert written() == (0, 0, 0)


def test_get_on_the_form_target_goes_back_to_the_form(client, half_day):
    response = client.get(REGISTER)
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/rencontres/2025#inscription"
    )


@pytest.mark.parametrize("config_overrides", [{"WTF_CSRF_ENABLED": True}])
def test_csrf_is_required_and_the_page_token_works(client, half_day, config_overrides):
    response = post(client)
    assert response.status_code == 400
    assert "Le formulaire a expiré" in text(response)
    assert written() == (0, 0, 0)
    page = client.get(URL).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    assert post(client, csrf_token=token).status_code == 303
    attendee = everyone()[0]
    manage = client.get(f"{URL}/inscription/{secret_for(attendee)}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', manage)[1]
    assert client.post(f"{URL}/inscription/{secret_for(attendee)}/annuler").status_code == 400
    cancelled = client.post(
        f"{URL}/inscription/{secret_for(attendee)}/annuler", data={"csrf_token": token}
    )
    assert cancelled.status_code == 303


# --- the management link -------------------------------------------------------------------------


def _forgeries(secret: str) -> list[str]:
    return [
        secrets.token_urlsafe(32),
        secret[:-1],
        secret + "A",
        ("A" if secret[0] != "A" else "B") + secret[1:],
        "x" * 43,
        "' OR 1=1 --",
    ]


def test_forged_tokens_open_nothing_and_cancel_nothing(client, half_day):
    attendee = register(client, 1)
    secret = secret_for(attendee)
    before = written()
    for forged in _forgeries(secret):
        for method, suffix in (
            ("get", ""),
            ("post", "/annuler"),
            ("post", "/mode"),
            ("get", "/annuler"),
        ):
            response = getattr(client, method)(
                f"{URL}/inscription/{forged}{suffix}", data={"mode": "a_distance"}
            )
            assert response.status_code == 404, (forged, suffix, response.status_code)
            assert NOT_FOUND in text(response)
    assert written() == before
    assert everyone()[0].status is AttendeeStatus.confirmed


def test_a_token_of_another_purpose_or_year_opens_nothing(client, half_day, make_half_day):
    attendee = register(client, 1)
    other_purpose = tokens.mint(TokenPurpose.exchange_proposal, attendee.id)
    booking_token = tokens.mint(TokenPurpose.manage_registration, attendee.id)
    db.session.commit()
    make_half_day(2026)
    for url in (
        f"{URL}/inscription/{other_purpose}",
        f"{URL}/inscription/{booking_token}",
        f"/rencontres/2026/inscription/{secret_for(attendee)}",  # the right token, another year
    ):
        assert client.get(url).status_code == 404, url
    assert (
        client.post(f"/rencontres/2026/inscription/{secret_for(attendee)}/annuler").status_code
        == 404
    )
    assert everyone()[0].status is AttendeeStatus.confirmed


def test_following_the_cancel_link_cancels_nothing(client, half_day):
    attendee = register(client, 1)
    response = client.get(f"{URL}/inscription/{secret_for(attendee)}/annuler")
    assert response.status_code == 302 and response.headers["Location"].endswith("#annuler")
    assert everyone()[0].status is AttendeeStatus.confirmed


def test_no_change_once_the_half_day_has_started(client, half_day, clock):
    attendee = register(client, 1)
    secret = secret_for(attendee)
    clock.set(STARTS + timedelta(minutes=5))
    before = written()
    response = client.post(f"{URL}/inscription/{secret}/annuler")
    assert response.status_code == 409
    assert "Les Rencontres ont commencé : votre inscription ne peut plus être modifiée." in text(
        response
    )
    assert (
        client.post(f"{URL}/inscription/{secret}/mode", data={"mode": "a_distance"}).status_code
        == 409
    )
    assert written() == before
    assert "Annuler mon inscription" not in text(client.get(f"{URL}/inscription/{secret}"))


# --- switching between in person and remote ------------------------------------------------------


def test_in_person_to_remote_frees_the_seat_for_the_first_waiting(client, half_day):
    first = register(client, 1)
    register(client, 2)
    third = register(client, 3)
    response = client.post(
        f"{URL}/inscription/{secret_for(first)}/mode", data={"mode": "a_distance"}
    )
    assert response.status_code == 303
    assert "Votre participation est enregistrée : à distance." in text(
        client.get(response.headers["Location"])
    )
    people = {a.email: a for a in everyone()}
    assert (people[first.email].mode, people[first.email].status) == (
        AttendanceMode.remote,
        AttendeeStatus.confirmed,
    )
    assert people[third.email].status is AttendeeStatus.confirmed and positions() == {}
    assert [m.recipient for m in mails("promoted")] == [third.email]
    changed = [m for m in mails("confirmed") if m.subject.startswith("Inscription modifiée")]
    assert [m.recipient for m in changed] == [first.email]
    assert "vous suivez les Rencontres à distance" in changed[0].body_text


def test_waiting_to_remote_leaves_the_list(client, half_day):
    register(client, 1)
    register(client, 2)
    third, fourth = register(client, 3), register(client, 4)
    client.post(f"{URL}/inscription/{secret_for(third)}/mode", data={"mode": "a_distance"})
    people = {a.email: a for a in everyone()}
    assert (people[third.email].mode, people[third.email].status) == (
        AttendanceMode.remote,
        AttendeeStatus.confirmed,
    )
    assert positions() == {fourth.email: 1}


def test_remote_to_in_person_takes_a_free_seat_or_is_refused(client, half_day):
    remote = register(client, 1, mode="a_distance")
    register(client, 2)
    secret = secret_for(remote)
    page = text(client.get(f"{URL}/inscription/{secret}"))
    assert "Des places sont encore libres sur place." in page
    assert (
        client.post(f"{URL}/inscription/{secret}/mode", data={"mode": "sur_place"}).status_code
        == 303
    )
    assert everyone()[0].mode is AttendanceMode.in_person
    assert "une place vous est réservée sur place" in mails("confirmed")[-1].body_text

    # Full now: a second remote person cannot come in person, and stays remote.
    other = register(client, 3, mode="a_distance")
    before = written()
    response = client.post(
        f"{URL}/inscription/{secret_for(other)}/mode", data={"mode": "sur_place"}
    )
    assert response.status_code == 409
    assert "Il n'y a plus de place sur place : vous restez inscrit·e à distance." in text(response)
    assert written() == before
    assert everyone()[2].mode is AttendanceMode.remote


def test_remote_to_in_person_does_not_jump_the_queue(client, half_day, clock):
    """Seats freed in the last two hours wait for the door, not for a remote person's click."""
    first = register(client, 1)
    register(client, 2)
    register(client, 3)  # waiting
    remote = register(client, 4, mode="a_distance")
    clock.set(STARTS - timedelta(hours=1))
    client.post(f"{URL}/inscription/{secret_for(first)}/annuler")
    response = client.post(
        f"{URL}/inscription/{secret_for(remote)}/mode", data={"mode": "sur_place"}
    )
    assert response.status_code == 409
    assert {a.email: a.mode for a in everyone()}[remote.email] is AttendanceMode.remote


def test_a_bad_mode_is_refused_and_the_same_mode_changes_nothing(client, half_day):
    attendee = register(client, 1)
    secret = secret_for(attendee)
    before = written()
    response = client.post(f"{URL}/inscription/{secret}/mode", data={"mode": "ailleurs"})
    assert response.status_code == 422
    assert "Choisissez si vous venez sur place ou suivez à distance." in text(response)
    response = client.post(f"{URL}/inscription/{secret}/mode", data={"mode": "sur_place"})
    assert "rien n'a changé" in text(client.get(response.headers["Location"]))
    assert written() == before


# --- a refused address ----------------------------------------------------------------------------


def test_an_undeliverable_confirmation_frees_the_seat(client, half_day, smtp):
    """DESIGN rule 10: a typo must not hold a seat."""
    typo = register(client, 1, courriel="inconnu@ac-amiens.fr")
    register(client, 2)
    waiting = register(client, 3)
    smtp.reject["inconnu@ac-amiens.fr"] = (550, "5.1.1 Mailbox unknown")
    deliver_pending()
    people = {a.email: a for a in everyone()}
    assert people[typo.email].status is AttendeeStatus.cancelled
    assert people[waiting.email].status is AttendeeStatus.confirmed
    assert [m.recipient for m in mails("promoted")] == [waiting.email]


# --- the videoconference link, the day before ------------------------------------------------------


@pytest.fixture
def mixed(client, half_day):
    """Two remote attendees, one cancelled remote one, one in person and one waiting."""
    people = {
        "remote1": register(client, 1, mode="a_distance"),
        "remote2": register(client, 2, mode="a_distance"),
        "gone": register(client, 3, mode="a_distance"),
        "present": register(client, 4),
        "present2": register(client, 5),
        "waiting": register(client, 6),
    }
    client.post(f"{URL}/inscription/{secret_for(people['gone'])}/annuler")
    return people


def test_no_link_before_noon_the_day_before(mixed, clock):
    clock.set(LINK_DUE - timedelta(minutes=1))
    report = videoconference.send_videoconference_links()
    assert report.sent == 0 and not report
    assert mails("videoconference") == []


def test_the_link_goes_once_to_each_confirmed_remote_attendee(mixed, clock):
    clock.set(LINK_DUE)
    report = jobs.send_exchange_links()
    assert str(report) == "2 sent, 0 dropped"
    sent = mails("videoconference")
    assert sorted(m.recipient for m in sent) == sorted(
        [mixed["remote1"].email, mixed["remote2"].email]
    )
    for row in sent:
        assert row.subject == "Demain : le lien de la visioconférence – Rencontres TICE 2025-2026"
        assert VISIO in row.body_text and f'href="{VISIO}"' in row.body_html
        assert "http://ateliers.test/rencontres/2025" in row.body_text
    people = {a.email: a for a in everyone()}
    assert people[mixed["remote1"].email].link_sent_at == LINK_DUE
    assert people[mixed["gone"].email].link_sent_at is None
    assert people[mixed["present"].email].link_sent_at is None

    # The next runs, that evening and the next morning: nothing more.
    clock.advance(hours=3)
    assert videoconference.send_videoconference_links().sent == 0
    clock.set(STARTS - timedelta(minutes=1))
    assert videoconference.send_videoconference_links().sent == 0
    assert len(mails("videoconference")) == 2


def test_registering_remotely_after_the_sweep_gets_the_link_in_the_confirmation(
    client, mixed, clock
):
    clock.set(LINK_DUE + timedelta(hours=2))
    videoconference.send_videoconference_links()
    late = register(client, 7, mode="a_distance")
    confirmation = mails("confirmed")[-1]
    assert confirmation.recipient == late.email
    assert f"Le lien de la visioconférence :\n{VISIO}" in confirmation.body_text
    assert late.link_sent_at == clock.now
    assert videoconference.send_videoconference_links().sent == 0
    assert late.email not in [m.recipient for m in mails("videoconference")]
    # The management page shows the link too, now that it is due.
    assert f'href="{VISIO}"' in client.get(f"{URL}/inscription/{secret_of(confirmation)}").get_data(
        as_text=True
    )


def test_switching_to_remote_after_the_sweep_gets_the_link_at_once(client, mixed, clock):
    clock.set(LINK_DUE + timedelta(hours=1))
    videoconference.send_videoconference_links()
    client.post(
        f"{URL}/inscription/{secret_for(mixed['present'])}/mode", data={"mode": "a_distance"}
    )
    changed = mails("confirmed")[-1]
    assert changed.recipient == mixed["present"].email and VISIO in changed.body_text
    assert videoconference.send_videoconference_links().sent == 0


def test_no_link_after_the_start_nor_without_an_address(mixed, clock, half_day):
    clock.set(STARTS)
    assert videoconference.send_videoconference_links().sent == 0
    clock.set(LINK_DUE)
    half_day.videoconference_url = ""
    db.session.commit()
    assert videoconference.send_videoconference_links().sent == 0
    half_day.videoconference_url = VISIO  # set late: the next run sends
    db.session.commit()
    assert videoconference.send_videoconference_links().sent == 2


def test_an_already_claimed_link_is_not_sent_again(mixed, clock):
    """The claim is a conditional UPDATE: a row another run marked is passed by."""
    clock.set(LINK_DUE)
    db.session.execute(
        sa.update(Attendee)
        .where(Attendee.email == mixed["remote1"].email)
        .values(link_sent_at=LINK_DUE)
    )
    db.session.commit()
    assert videoconference._claim_link(mixed["remote1"].half_day_id, mixed["remote1"].id) is False
    db.session.rollback()
    assert videoconference.send_videoconference_links().sent == 1
    assert [m.recipient for m in mails("videoconference")] == [mixed["remote2"].email]


def test_the_sweep_is_in_the_scheduler():
    assert (jobs.send_exchange_links, "SCHEDULER_NOTICES_SECONDS") in jobs.SWEEPS


# --- the coordinators' list -------------------------------------------------------------------------


def test_the_participants_page_is_for_coordinators(client, half_day, make_staff):
    url = "/admin/rencontres/2025/participants"
    assert client.get(url).status_code == 302  # to the login page
    login(client, make_staff("trainer"))
    assert client.get(url).status_code == 403
    assert client.get(url + ".csv").status_code == 403


def test_the_participants_page_counts_lists_and_sorts(client, half_day, make_staff):
    register(client, 1, nom="Zola", prenom="Émile")
    register(client, 2, nom="Élie", prenom="Anne", mode="a_distance")
    register(client, 3, nom="durand", prenom="Paul")
    register(client, 4, nom="Abel", prenom="Jean")  # waiting
    gone = register(client, 5, nom="Parti", prenom="Pierre", mode="a_distance")
    client.post(f"{URL}/inscription/{secret_for(gone)}/annuler")
    login(client, make_staff("coordinator"))
    page = text(client.get("/admin/rencontres/2025/participants"))
    assert re.search(r"Sur place</dt><dd>2 <small>/ 2 places", page)
    assert re.search(r"En liste d'attente</dt><dd>1<", page)
    assert re.search(r"À distance</dt><dd>1<", page)
    assert "Parti Pierre" not in page and "lea.martin5@" not in page
    names = re.findall(r"<tr><td>([^<]+)</td>", page)
    assert names == [
        "Abel Jean",
        "durand Paul",
        "Élie Anne",
        "Zola Émile",
    ]  # accents and case set aside
    assert (
        "<td>lea.martin2@ac-amiens.fr</td><td>À distance</td><td>Inscription confirmée</td>" in page
    )
    assert "<td>En liste d'attente</td><td>1</td>" in page
    by_date = text(client.get("/admin/rencontres/2025/participants?tri=inscription"))
    assert re.findall(r"<tr><td>([^<]+)</td>", by_date) == [
        "Zola Émile",
        "Élie Anne",
        "durand Paul",
        "Abel Jean",
    ]
    assert client.get("/admin/rencontres/2025/participants?tri=%27;drop").status_code == 200
    assert client.get("/admin/rencontres/2030/participants").status_code == 404


def test_the_csv_opens_in_a_french_spreadsheet(client, half_day, make_staff):
    register(client, 1, nom="Zola", organisation='=HYPERLINK("http://x";"clic")')
    register(client, 2, nom="Abel", organisation="+33 École; Amiens", mode="a_distance")
    login(client, make_staff("coordinator"))
    response = client.get("/admin/rencontres/2025/participants.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response.headers["Content-Disposition"]
        == 'attachment; filename="rencontres-2025-2026-participants.csv"'
    )
    assert response.headers["Cache-Control"] == "private, no-store"
    table = read_csv(response.data)  # BOM, then `;`-separated
    assert b"\r\n" in response.data
    assert table[0] == [
        "Nom",
        "Prénom",
        "Adresse électronique",
        "École ou structure",
        "Mode",
        "Statut",
        "Position en liste d'attente",
        "Inscrit·e le",
    ]
    assert table[1][:7] == [
        "Abel",
        "Léa",
        "lea.martin2@ac-amiens.fr",
        "'+33 École; Amiens",
        "À distance",
        "Inscription confirmée",
        "",
    ]
    assert table[2][:4] == [
        "Zola",
        "Léa",
        "lea.martin1@ac-amiens.fr",
        '\'=HYPERLINK("http://x";"clic")',
    ]
    assert table[2][7] == "lundi 2 mars 2026, 10 h"
