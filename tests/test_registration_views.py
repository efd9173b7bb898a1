"""Registering and managing a registration through HTTP: bad input gets a clear French message
(or a 404) and writes nothing; the happy path, double clicks, CSRF, closed workshops, rate limits,
and the public URLs that mails and posters carry.
"""

import html
import re
import secrets
from datetime import timedelta
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from app import tokens
from app.booking.models import Registration, RegistrationStatus, Source
from app.catalog.models import WorkshopStatus
from app.extensions import db
from app.mail.models import OutboxMail
from app.tokens import Token, TokenPurpose
from tests.conftest import form_data, manage_secret, outbox

NOT_FOUND = "Page introuvable"


# --- helpers -------------------------------------------------------------------------------------


def rows(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def written() -> tuple[int, int, int]:
    """(registrations, outbox mails, tokens)."""
    return rows(Registration), rows(OutboxMail), rows(Token)


def assert_nothing_written():
    assert written() == (0, 0, 0)


def registrations() -> list[Registration]:
    return list(db.session.scalars(sa.select(Registration).order_by(Registration.id)))


def text(response) -> str:
    """The page as a reader sees it: entities decoded (apostrophes are escaped by Jinja)."""
    return html.unescape(response.get_data(as_text=True))


def error_of(response, field: str) -> str | None:
    """The error message shown under one field, or None."""
    match = re.search(
        rf'<p class="error-message" id="{field}-erreur">(.*?)</p>', response.get_data(as_text=True)
    )
    return html.unescape(match[1]) if match else None


def input_value(response, name: str) -> str | None:
    """The value attribute of the input called `name`, as a browser reads it."""

    class Inputs(HTMLParser):
        found = None

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "input" and attrs.get("name") == name:
                self.found = attrs.get("value")

    parser = Inputs()
    parser.feed(response.get_data(as_text=True))
    return parser.found


def register(client, workshop, **fields):
    return client.post(f"/ateliers/{workshop.id}/inscription", data=form_data(**fields))


def assert_refused(client, workshop, field: str, message: str, **fields):
    """The POST is answered 422 with `message` under `field`, and nothing is written."""
    response = register(client, workshop, **fields)
    assert response.status_code == 422, response.status_code
    shown = error_of(response, field)
    assert shown is not None, f"no error shown for {field}"
    assert message in shown, shown
    assert_nothing_written()
    return response


# --- required fields, lengths, markup, control characters ----------------------------------------


REQUIRED = {
    "nom": "Indiquez votre nom.",
    "prenom": "Indiquez votre prénom.",
    "courriel": "Indiquez votre adresse électronique.",
    "ecole": "Indiquez le nom de votre école.",
}


@pytest.mark.parametrize("blank", ["", "   ", "\t \n", "\u00a0\u00a0", "\r\n"], ids=repr)
@pytest.mark.parametrize("field", list(REQUIRED))
def test_each_required_field_empty_or_blank(client, make_workshop, field, blank):
    workshop = make_workshop()
    response = assert_refused(client, workshop, field, REQUIRED[field], **{field: blank})
    # The other fields keep what was typed, and only this one is in error.
    assert [f for f in REQUIRED if error_of(response, f)] == [field]


def test_every_field_missing_from_the_post(client, make_workshop):
    workshop = make_workshop()
    response = client.post(f"/ateliers/{workshop.id}/inscription", data={})
    assert response.status_code == 422
    for field, message in REQUIRED.items():
        assert error_of(response, field) == message
    assert error_of(response, "uai") is None  # optional
    assert_nothing_written()


@pytest.mark.parametrize(
    "field, message",
    [
        ("nom", "Le nom ne peut dépasser 100 caractères."),
        ("prenom", "Le prénom ne peut dépasser 100 caractères."),
        ("ecole", "Le nom de l'école ne peut dépasser 200 caractères."),
        ("courriel", "L'adresse électronique est trop longue."),
    ],
)
def test_ten_thousand_characters(client, make_workshop, field, message):
    workshop = make_workshop()
    value = "a" * 9_987 + "@ac-amiens.fr" if field == "courriel" else "Martin" * 1_667
    assert len(value) >= 10_000
    assert_refused(client, workshop, field, message, **{field: value})


NAME_MESSAGE = "ne peut contenir que des lettres, des espaces, des apostrophes et des tirets."
SCHOOL_MESSAGE = "Le nom de l'école ne peut pas contenir les caractères < et >."
SCRIPT = "<script>alert(1)</script>"


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("nom", SCRIPT, "Le nom " + NAME_MESSAGE),
        ("nom", "<b>Dupont</b>", "Le nom " + NAME_MESSAGE),
        ("prenom", SCRIPT, "Le prénom " + NAME_MESSAGE),
        ("prenom", 'Léa" onmouseover="alert(1)', "Le prénom " + NAME_MESSAGE),
        ("ecole", SCRIPT, SCHOOL_MESSAGE),
        ("ecole", "École <img src=x onerror=alert(1)>", SCHOOL_MESSAGE),
    ],
)
def test_markup_is_refused_and_shown_escaped(client, make_workshop, field, value, message):
    workshop = make_workshop()
    response = assert_refused(client, workshop, field, message, **{field: value})
    body = response.get_data(as_text=True)
    # The submitted value comes back in the field, escaped, never as markup.
    assert input_value(response, field) == value
    for dangerous in ("<script>alert(1)", "<b>Dupont", "<img src=x", 'onmouseover="alert'):
        assert dangerous not in body


@pytest.mark.parametrize(
    "field, value, message",
    [
        (
            "nom",
            "Dupont\r\nBcc: x@y.fr",
            "Le nom ne doit contenir ni retour à la ligne ni caractère invisible.",
        ),
        (
            "prenom",
            "Léa\nBcc: x@y.fr",
            "Le prénom ne doit contenir ni retour à la ligne ni caractère invisible.",
        ),
        (
            "nom",
            "Dup\u200bont",
            "Le nom ne doit contenir ni retour à la ligne ni caractère invisible.",
        ),
        (
            "nom",
            "Dupont\u202e",
            "Le nom ne doit contenir ni retour à la ligne ni caractère invisible.",
        ),
        (
            "ecole",
            "École\r\nBcc: x@y.fr",
            "Le nom de l'école ne doit contenir ni retour à la ligne",
        ),
        (
            "nom",
            "Dupont\x00",
            "Le nom ne doit contenir ni retour à la ligne ni caractère invisible.",
        ),
        ("ecole", "École\x00", "Le nom de l'école ne doit contenir ni retour à la ligne"),
        (
            "courriel",
            "lea.martin@ac-amiens.fr\r\nBcc: x@y.fr",
            "Cette adresse électronique n'est pas valide.",
        ),
        (
            "courriel",
            "lea.martin@ac-amiens.fr\nBcc: x@y.fr",
            "Cette adresse électronique n'est pas valide.",
        ),
        (
            "courriel",
            "x@y.fr\r\nSubject: spam\r\n\r\nbody",
            "Cette adresse électronique n'est pas valide.",
        ),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_header_injection_attempts_are_refused(client, make_workshop, field, value, message):
    workshop = make_workshop()
    assert_refused(client, workshop, field, message, **{field: value})


# --- e-mail addresses ------------------------------------------------------------------------------


EMAIL_MESSAGE = "Cette adresse électronique n'est pas valide. Exemple : prenom.nom@ac-amiens.fr"


@pytest.mark.parametrize(
    "email",
    [
        "bad",
        "a@",
        "@b.fr",
        "a b@c.fr",
        "x@y",
        "lea..martin@ac-amiens.fr",
        "lea.martin@ac-amiens.fr.",
        "lea.martin@@ac-amiens.fr",
        "<lea.martin@ac-amiens.fr>",
        "Léa <lea.martin@ac-amiens.fr>",
        "lea.martin@ac-amiens.fr, x@y.fr",
        # unicode oddities
        "lea\u200b.martin@ac-amiens.fr",  # zero-width space
        "lea.martin\uff20ac-amiens.fr",  # full-width at sign
        "lea.martin@ac-amiens.fr\u202e",  # right-to-left override
        "lea.martin@ac\u2010amiens.fr",  # hyphen that is not a hyphen-minus
        "\uff4c\uff45\uff41@ac-amiens.fr",  # full-width letters: "ｌｅａ"
        "léa.martin@ac-amiens.fr",  # a non-ASCII mailbox no academic relay delivers to
        "lea.martin@ac-amiens.fr\x00",
    ],
    ids=repr,
)
def test_malformed_email(client, make_workshop, email):
    workshop = make_workshop()
    assert_refused(client, workshop, "courriel", EMAIL_MESSAGE, courriel=email)


@pytest.mark.parametrize("config_overrides", [{"ALLOWED_EMAIL_DOMAINS": ["ac-amiens.fr"]}])
@pytest.mark.parametrize(
    "email",
    [
        "lea.martin@gmail.com",
        "lea.martin@ac-amiens.fr.gmail.com",
        "lea.martin@evil-ac-amiens.fr",
        "lea.martin@sub.ac-amiens.fr",
        "lea.martin@\u0430c-amiens.fr",  # Cyrillic "а": looks like ac-amiens.fr
    ],
)
def test_only_the_allowed_domains(client, make_workshop, config_overrides, email):
    workshop = make_workshop()
    assert_refused(
        client,
        workshop,
        "courriel",
        "Utilisez votre adresse professionnelle (@ac-amiens.fr).",
        courriel=email,
    )


@pytest.mark.parametrize("config_overrides", [{"ALLOWED_EMAIL_DOMAINS": ["ac-amiens.fr"]}])
def test_allowed_domain_in_any_case(client, make_workshop, config_overrides):
    workshop = make_workshop()
    response = register(client, workshop, courriel="Lea.Martin@AC-AMIENS.FR")
    assert response.status_code == 303
    assert [r.email for r in registrations()] == ["lea.martin@ac-amiens.fr"]


def test_email_is_normalised_so_the_same_person_is_recognised(client, make_workshop, clock):
    workshop = make_workshop()
    first = register(client, workshop, courriel=" Lea.Martin@AC-Amiens.fr ")
    assert first.status_code == 303
    assert [r.email for r in registrations()] == ["lea.martin@ac-amiens.fr"]
    assert [m.recipient for m in outbox()] == ["lea.martin@ac-amiens.fr"]

    clock.advance(minutes=10)
    again = client.post(
        f"/ateliers/{workshop.id}/inscription",
        data=form_data(courriel="lea.martin@ac-amiens.fr"),
        follow_redirects=True,
    )
    assert "Vous êtes déjà inscrit·e" in text(again)
    assert len(registrations()) == 1
    assert len(outbox("link")) == 1


# --- UAI code ------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["0750654D", "0750654d", " 0750 654 D ", "0750654 d"])
def test_valid_uai_is_accepted_and_normalised(client, make_workshop, typed):
    workshop = make_workshop()
    response = register(client, workshop, uai=typed)
    assert response.status_code == 303
    assert [r.uai for r in registrations()] == ["0750654D"]


def test_uai_is_optional(client, make_workshop):
    workshop = make_workshop()
    assert register(client, workshop, uai="").status_code == 303
    assert register(client, workshop, n=2, uai="   ").status_code == 303
    data = form_data(n=3)
    del data["uai"]
    assert client.post(f"/ateliers/{workshop.id}/inscription", data=data).status_code == 303
    assert [r.uai for r in registrations()] == [None, None, None]


UAI_SHAPE = "Le code UAI de l'école comporte 7 chiffres suivis d'une lettre, par exemple 0801234G."
UAI_LETTER = (
    "La lettre de contrôle de ce code UAI ne correspond pas aux chiffres : vérifiez le code."
)


@pytest.mark.parametrize(
    "typed, message",
    [
        ("0750654E", UAI_LETTER),
        ("0801234A", UAI_LETTER),
        ("075065D", UAI_SHAPE),
        ("07506540D", UAI_SHAPE),
        ("07506541", UAI_SHAPE),
        ("D0750654", UAI_SHAPE),
        ("ABCDEFGH", UAI_SHAPE),
        ("0750654-D", UAI_SHAPE),
        ("<script>", UAI_SHAPE),
        ("\u0660\u0667\u0665\u0660\u0666\u0665\u0664D", UAI_SHAPE),  # Arabic-Indic digits
        ("\uff10\uff17\uff15\uff10\uff16\uff15\uff14D", UAI_SHAPE),  # full-width digits
    ],
    ids=repr,
)
def test_invalid_uai_is_refused(client, make_workshop, typed, message):
    workshop = make_workshop()
    assert_refused(client, workshop, "uai", message, uai=typed)


# --- honeypot --------------------------------------------------------------------------------------


def test_honeypot_filled_is_refused(client, make_workshop):
    workshop = make_workshop()
    response = register(client, workshop, site_web="http://spam.example")
    assert response.status_code == 422
    assert "Votre demande n'a pas pu être enregistrée." in text(response)
    assert_nothing_written()


# --- secret links --------------------------------------------------------------------------------


@pytest.fixture
def registered(client, make_workshop):
    """A workshop, one registration made through the form, and the secret from its mail."""
    workshop = make_workshop(capacity=5)
    assert register(client, workshop).status_code == 303
    (registration,) = registrations()
    return workshop, registration, manage_secret(outbox("confirmed")[0])


def _forgeries(secret: str) -> list[str]:
    return [
        secrets.token_urlsafe(32),  # the right shape, unknown
        secret[:-1],  # truncated
        secret[:20],
        secret + "A",  # one character too many
        ("A" if secret[0] != "A" else "B") + secret[1:],  # one character changed
        "x" * 43,
        "%2e%2e%2f%2e%2e",
        "' OR 1=1 --",
    ]


@pytest.mark.parametrize("suffix", ["", "/annuler", "/donnees"])
def test_forged_or_truncated_tokens_get_the_french_404(client, registered, suffix):
    workshop, registration, secret = registered
    before = written()
    for forged in _forgeries(secret):
        response = client.get(f"/inscription/{forged}{suffix}")
        assert response.status_code == 404, (forged, response.status_code)
        assert NOT_FOUND in text(response)
    assert written() == before


def test_forged_tokens_cannot_cancel(client, registered):
    workshop, registration, secret = registered
    before = written()
    for forged in _forgeries(secret):
        response = client.post(f"/inscription/{forged}/annuler")
        assert response.status_code == 404, (forged, response.status_code)
        assert NOT_FOUND in text(response)
    assert written() == before
    db.session.refresh(registration)
    assert registration.status is RegistrationStatus.confirmed


def test_a_token_of_another_purpose_opens_nothing(client, registered):
    """The calendar feed's read-only token cannot manage or cancel."""
    workshop, registration, secret = registered
    feed_secret = tokens.mint(TokenPurpose.personal_feed, registration.id)
    db.session.commit()
    for method, suffix in [
        ("get", ""),
        ("get", "/annuler"),
        ("post", "/annuler"),
        ("get", "/donnees"),
    ]:
        response = getattr(client, method)(f"/inscription/{feed_secret}{suffix}")
        assert response.status_code == 404
    db.session.refresh(registration)
    assert registration.status is RegistrationStatus.confirmed


def test_a_revoked_token_opens_nothing(client, registered):
    workshop, registration, secret = registered
    tokens.revoke_all(TokenPurpose.manage_registration, registration.id)
    db.session.commit()
    assert client.get(f"/inscription/{secret}").status_code == 404
    assert client.post(f"/inscription/{secret}/annuler").status_code == 404


# --- unknown, malformed and draft workshops --------------------------------------------------------


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/ateliers/abc"),
        ("get", "/ateliers/abc/inscription"),
        ("post", "/ateliers/abc/inscription"),
        ("get", "/ateliers/99999"),
        ("get", "/ateliers/99999/inscription"),
        ("post", "/ateliers/99999/inscription"),
        ("get", "/ateliers/-1"),
        ("post", "/ateliers/-1/inscription"),
        ("get", "/ateliers/1.5"),
        ("get", "/ateliers/99999999999999999999999"),
        ("post", "/ateliers/99999999999999999999999/inscription"),
        ("get", "/ateliers/99999/inscription/merci"),
    ],
)
def test_unknown_workshops_are_not_found(client, app, method, url):
    response = getattr(client, method)(url, data=form_data(), follow_redirects=True)
    assert response.status_code == 404, response.status_code
    assert NOT_FOUND in text(response)
    assert_nothing_written()


def test_a_draft_workshop_is_not_found(client, make_workshop):
    draft = make_workshop(status=WorkshopStatus.draft)
    assert client.get(f"/ateliers/{draft.id}").status_code == 404
    response = register(client, draft)
    assert response.status_code == 404
    assert NOT_FOUND in text(response)
    invalid = register(client, draft, nom="")
    assert invalid.status_code == 404
    assert_nothing_written()


def test_get_on_the_registration_address_goes_back_to_the_form(client, make_workshop):
    """A reload or a pasted address of the POST target leads to the workshop page, not an error."""
    workshop = make_workshop()
    response = client.get(f"/ateliers/{workshop.id}/inscription", follow_redirects=True)
    assert response.status_code == 200
    assert workshop.title in text(response)
    assert_nothing_written()


# --- success, double click, re-sending the link ----------------------------------------------------


def test_registering_confirms_a_seat(client, make_workshop):
    workshop = make_workshop(capacity=5)
    response = register(client, workshop)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/ateliers/{workshop.id}/inscription/merci")

    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert "Votre place est réservée" in text(page)
    assert "lea.martin1@ac-amiens.fr" in text(page)

    (registration,) = registrations()
    assert registration.status is RegistrationStatus.confirmed
    assert (registration.last_name, registration.first_name) == ("Martin", "Léa")
    assert registration.school == "École Jules Ferry, Amiens"
    assert [m.template for m in outbox()] == ["booking/confirmed"]
    # The management link is only ever in the mail.
    assert "/inscription/" + manage_secret(outbox()[0]) not in page.get_data(as_text=True)


def test_names_are_tidied(client, make_workshop):
    workshop = make_workshop()
    register(
        client,
        workshop,
        nom="  Le   Goff-Dupré ",
        prenom=" Anne  Marie",
        ecole=" École   du Centre ",
    )
    (registration,) = registrations()
    assert (registration.last_name, registration.first_name) == ("Le Goff-Dupré", "Anne Marie")
    assert registration.school == "École du Centre"


def test_a_full_workshop_gives_the_waiting_list_position(client, make_workshop):
    workshop = make_workshop(capacity=1)
    register(client, workshop, n=1)
    register(client, workshop, n=2)
    response = client.post(
        f"/ateliers/{workshop.id}/inscription", data=form_data(n=3), follow_redirects=True
    )
    page = text(response)
    assert response.status_code == 200
    assert "Vous êtes sur la liste d'attente" in page
    assert "en position 2" in page
    assert [m.template for m in outbox()] == [
        "booking/confirmed",
        "booking/waiting",
        "booking/waiting",
    ]


def test_double_click_makes_one_registration_and_one_mail(client, make_workshop, clock):
    workshop = make_workshop(capacity=5)
    first = register(client, workshop)
    second = client.post(
        f"/ateliers/{workshop.id}/inscription", data=form_data(), follow_redirects=True
    )
    assert first.status_code == 303
    assert second.status_code == 200
    assert "Vous êtes déjà inscrit·e" in text(second)
    assert "est en route" in text(second)
    assert len(registrations()) == 1
    assert [m.template for m in outbox()] == ["booking/confirmed"]
    tokens_before = rows(Token)

    # Ten minutes later, the same POST sends a fresh management link by mail, never on the page.
    clock.advance(minutes=10)
    later = client.post(
        f"/ateliers/{workshop.id}/inscription", data=form_data(), follow_redirects=True
    )
    page = later.get_data(as_text=True)
    assert "Vous êtes déjà inscrit·e" in text(later)
    assert "renvoyer par courriel" in text(later)
    assert len(registrations()) == 1
    assert [m.template for m in outbox()] == ["booking/confirmed", "booking/link"]
    assert rows(Token) == tokens_before + 1
    link_mail = outbox("link")[0]
    assert link_mail.recipient == "lea.martin1@ac-amiens.fr"
    for mail in outbox():
        assert "/inscription/" + manage_secret(mail) not in page
    assert "/inscription/" not in re.sub(r"/ateliers/\d+/inscription", "", page)


def test_the_thank_you_page_without_a_registration_goes_back_to_the_workshop(client, make_workshop):
    workshop = make_workshop()
    response = client.get(f"/ateliers/{workshop.id}/inscription/merci")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/ateliers/{workshop.id}")


@pytest.mark.parametrize(
    "source, expected",
    [
        ("liste", Source.mailing_list),
        ("affiche", Source.poster),
        ("ent", Source.ent),
        ("spam", None),
    ],
)
def test_source_rides_along_into_the_registration(client, make_workshop, source, expected):
    workshop = make_workshop()
    assert client.get(f"/ateliers/{workshop.id}?source={source}").status_code == 200
    register(client, workshop)
    (registration,) = registrations()
    assert registration.source is expected


def test_source_from_the_catalogue_page(client, make_workshop):
    workshop = make_workshop()
    client.get("/ateliers?source=liste")
    client.get(f"/ateliers/{workshop.id}")
    register(client, workshop)
    assert registrations()[0].source is Source.mailing_list


# --- CSRF ----------------------------------------------------------------------------------------


CSRF = {"WTF_CSRF_ENABLED": True}


def _token_in(response) -> str:
    body = response.get_data(as_text=True)
    match = re.search(r'<input[^>]*name="csrf_token"[^>]*>', body)
    assert match, "no csrf_token field in the form"
    return re.search(r'value="([^"]+)"', match[0])[1]


@pytest.mark.parametrize("config_overrides", [CSRF])
def test_a_post_without_csrf_token_is_refused_in_french(client, make_workshop, config_overrides):
    workshop = make_workshop()
    response = register(client, workshop)
    assert response.status_code == 400
    assert "Le formulaire a expiré" in text(response)
    assert_nothing_written()

    forged = client.post(
        f"/ateliers/{workshop.id}/inscription", data=form_data(csrf_token="forged")
    )
    assert forged.status_code == 400
    assert "Le formulaire a expiré" in text(forged)
    assert_nothing_written()


@pytest.mark.parametrize("config_overrides", [CSRF])
def test_a_post_with_the_form_csrf_token_works(client, make_workshop, config_overrides):
    workshop = make_workshop()
    page = client.get(f"/ateliers/{workshop.id}")
    token = _token_in(page)
    response = register(client, workshop, csrf_token=token)
    assert response.status_code == 303
    assert len(registrations()) == 1


@pytest.mark.parametrize("config_overrides", [CSRF])
def test_cancelling_needs_the_csrf_token_too(client, make_workshop, config_overrides):
    workshop = make_workshop()
    register(client, workshop, csrf_token=_token_in(client.get(f"/ateliers/{workshop.id}")))
    secret = manage_secret(outbox("confirmed")[0])
    before = written()

    refused = client.post(f"/inscription/{secret}/annuler")
    assert refused.status_code == 400
    assert "Le formulaire a expiré" in text(refused)
    assert written() == before
    assert registrations()[0].status is RegistrationStatus.confirmed

    confirm = client.get(f"/inscription/{secret}/annuler")
    response = client.post(
        f"/inscription/{secret}/annuler", data={"csrf_token": _token_in(confirm)}
    )
    assert response.status_code == 303
    assert registrations()[0].status is RegistrationStatus.cancelled


# --- closed registration -------------------------------------------------------------------------


CLOSED = [
    (
        lambda clock: {"registration_deadline": clock.now - timedelta(hours=1)},
        "La date limite d'inscription à cet atelier est passée.",
    ),
    (
        lambda clock: {"status": WorkshopStatus.cancelled},
        "Cet atelier a été annulé : les inscriptions sont fermées.",
    ),
    (
        lambda clock: {"starts_in": timedelta(days=-1)},
        "Cet atelier a déjà eu lieu : les inscriptions sont fermées.",
    ),
    (
        lambda clock: {"starts_in": timedelta(minutes=-30)},  # under way
        "Cet atelier est en cours : les inscriptions sont fermées.",
    ),
]


@pytest.mark.parametrize("fields, reason", CLOSED, ids=["deadline", "cancelled", "past", "started"])
def test_closed_registration(client, make_workshop, clock, fields, reason):
    workshop = make_workshop(**fields(clock))

    page = client.get(f"/ateliers/{workshop.id}")
    assert page.status_code == 200
    assert reason in text(page)
    assert '<form method="post"' not in page.get_data(as_text=True)
    assert 'name="nom"' not in page.get_data(as_text=True)

    response = register(client, workshop)
    assert response.status_code == 409
    assert reason in text(response)
    assert_nothing_written()


@pytest.mark.parametrize(
    "starts_in, says",
    [
        (timedelta(minutes=-30), "Cet atelier est en cours"),  # started, not ended
        (timedelta(days=-1), "Cet atelier a déjà eu lieu"),
    ],
    ids=["running", "past"],
)
def test_a_started_workshop_counts_no_seats(client, make_workshop, starts_in, says):
    """A teacher opening the page of a workshop under way reads that it is, and no seat count
    beside it."""
    workshop = make_workshop(capacity=10, starts_in=starts_in)
    page = text(client.get(f"/ateliers/{workshop.id}"))
    assert says in page
    assert "places restantes" not in page and "<dt>Places</dt>" not in page
    assert "S'inscrire" not in page
    future = make_workshop(capacity=10)
    assert "10 places restantes" in text(client.get(f"/ateliers/{future.id}"))


def test_deadline_passing_between_the_page_and_the_post(client, make_workshop, clock):
    workshop = make_workshop(registration_deadline=clock.now + timedelta(minutes=5))
    assert 'name="nom"' in client.get(f"/ateliers/{workshop.id}").get_data(as_text=True)
    clock.advance(minutes=6)
    response = register(client, workshop)
    assert response.status_code == 409
    assert "La date limite d'inscription à cet atelier est passée." in text(response)
    assert_nothing_written()


# --- rate limit ----------------------------------------------------------------------------------


@pytest.mark.parametrize("config_overrides", [{"RATELIMIT_REGISTRATION_PER_EMAIL": "3 per hour"}])
def test_rate_limit_per_email(client, make_workshop, config_overrides):
    workshops = [make_workshop() for _ in range(4)]
    for workshop in workshops[:3]:
        assert register(client, workshop).status_code == 303
    before = written()

    # The same address, however it is typed, is the same key.
    response = register(client, workshops[3], courriel=" LEA.Martin1@AC-amiens.fr ")
    assert response.status_code == 429
    assert "Trop de demandes" in text(response)
    assert written() == before

    other = register(client, workshops[3], n=2)
    assert other.status_code == 303
    assert len(registrations()) == 4


# --- managing a registration ---------------------------------------------------------------------


def test_management_page_cancel_confirmation_and_cancel(client, registered):
    workshop, registration, secret = registered

    page = client.get(f"/inscription/{secret}")
    assert page.status_code == 200
    shown = text(page)
    assert "Inscription confirmée" in shown
    assert "Léa Martin" in shown and "lea.martin1@ac-amiens.fr" in shown
    assert workshop.title in shown
    assert page.headers["Cache-Control"] == "no-store"
    # same-origin: never to another site, but the cancel form's POST keeps the Referer that
    # Flask-WTF requires over https (tests/test_deployment.py).
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert f'href="/inscription/{secret}/annuler"' in page.get_data(as_text=True)

    # Following the cancel link (as a mail scanner would) changes nothing.
    before = written()
    confirm = client.get(f"/inscription/{secret}/annuler")
    assert confirm.status_code == 200
    assert "Annuler mon inscription ?" in text(confirm)
    assert f'action="/inscription/{secret}/annuler"' in confirm.get_data(as_text=True)
    assert written() == before
    db.session.refresh(registration)
    assert registration.status is RegistrationStatus.confirmed

    response = client.post(f"/inscription/{secret}/annuler")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/inscription/{secret}")
    db.session.refresh(registration)
    assert registration.status is RegistrationStatus.cancelled
    assert [m.template for m in outbox()] == ["booking/confirmed", "booking/cancelled"]

    after = client.get(response.headers["Location"])
    assert "Votre inscription est annulée." in text(after)
    assert "Inscription annulée" in text(after)
    # Cancelled: the confirmation page now leads back to the management page.
    assert client.get(f"/inscription/{secret}/annuler").status_code == 302
    # Cancelling twice is harmless.
    assert client.post(f"/inscription/{secret}/annuler").status_code == 303
    assert len(outbox()) == 2


# --- the owner corrects their data ----------------------------------------------------------------


def correct(client, secret, **fields):
    data = {"nom": "Martin", "prenom": "Léa", "ecole": "École Jules Ferry", "uai": "", **fields}
    return client.post(f"/inscription/{secret}/informations", data=data)


def test_the_owner_corrects_name_school_and_uai_and_the_sheet_follows(client, registered):
    workshop, registration, secret = registered
    assert "Corriger mes informations" in text(client.get(f"/inscription/{secret}"))

    response = correct(
        client, secret, nom="Martin-Leroy", prenom="Léa", ecole="École Voltaire", uai="0750654d"
    )

    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/inscription/{secret}#informations")
    db.session.refresh(registration)
    assert (registration.last_name, registration.school, registration.uai) == (
        "Martin-Leroy",
        "École Voltaire",
        "0750654D",
    )
    assert registration.email == "lea.martin1@ac-amiens.fr"  # the identity does not change
    assert "Vos informations sont corrigées." in text(client.get(f"/inscription/{secret}"))
    assert [m.template for m in outbox()] == ["booking/confirmed"]  # no mail for a spelling fix


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"nom": ""}, "Indiquez votre nom."),
        ({"prenom": "x" * 10_000}, "Le prénom ne peut dépasser 100 caractères."),
        ({"nom": "<script>alert(1)</script>"}, "Le nom ne peut contenir que des lettres"),
        ({"ecole": "École\r\nBcc: x@y.fr"}, "ne doit contenir ni retour à la ligne"),
        ({"uai": "0750654A"}, "La lettre de contrôle de ce code UAI"),
    ],
)
def test_a_bad_correction_gets_a_french_message_and_changes_nothing(
    client, registered, fields, message
):
    workshop, registration, secret = registered
    client.get(f"/inscription/{secret}")  # the page's personal feed link, minted once per browser
    before = written()

    response = correct(client, secret, **fields)

    assert response.status_code == 422
    assert message in text(response)
    assert written() == before
    db.session.refresh(registration)
    assert registration.last_name == "Martin"


def test_no_correction_once_the_session_is_closed_nor_with_a_forged_link(client, registered, clock):
    from app.attendance.models import SessionClosure

    workshop, registration, secret = registered
    assert correct(client, secrets.token_urlsafe(32), nom="Autre").status_code == 404
    db.session.add(SessionClosure(workshop_id=workshop.id, closed_at=clock.now))
    db.session.commit()

    assert "Corriger mes informations" not in text(client.get(f"/inscription/{secret}"))
    response = correct(client, secret, nom="Autre")

    assert response.status_code == 303
    assert "La séance est close" in text(client.get(response.headers["Location"]))
    db.session.refresh(registration)
    assert registration.last_name == "Martin"


def test_data_export(client, make_workshop):
    workshop = make_workshop()
    register(client, workshop, uai="0750654D")
    secret = manage_secret(outbox("confirmed")[0])

    response = client.get(f"/inscription/{secret}/donnees")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    data = response.get_json()
    person = data["inscription"]
    assert person["nom"] == "Martin"
    assert person["prenom"] == "Léa"
    assert person["courriel"] == "lea.martin1@ac-amiens.fr"
    assert person["ecole"] == "École Jules Ferry, Amiens"
    assert person["uai"] == "0750654D"
    assert person["statut"] == "Inscription confirmée"
    assert data["atelier"]["titre"] == workshop.title
    assert written()[0] == 1
    # the page's link says what the file is, in a teacher's words
    page = text(client.get(f"/inscription/{secret}"))
    assert (
        f'<a href="/inscription/{secret}/donnees">Télécharger toutes mes données (un fichier '
        "texte au format JSON, lisible par un programme)</a>"
    ) in page
    assert "(JSON)" not in page


def test_a_cancelled_registration_link_corrects_nothing_and_makes_no_feed_link(
    client, make_workshop
):
    """Issue 13: after cancelling, the management link still corrected the name and renewed the
    personal feed. Both are refused now, with a French message, and change nothing."""
    workshop = make_workshop()
    client.post(f"/ateliers/{workshop.id}/inscription", data=form_data())
    secret = manage_secret(outbox()[-1])
    assert client.post(f"/inscription/{secret}/annuler").status_code == 303

    page = html.unescape(client.get(f"/inscription/{secret}").get_data(as_text=True))
    assert "Inscription annulée" in page
    assert "Corriger" not in page and "Obtenir le lien de mon calendrier" not in page

    corrected = client.post(
        f"/inscription/{secret}/informations",
        data={"nom": "Autre", "prenom": "Nom", "ecole": "Ailleurs", "uai": ""},
        follow_redirects=True,
    )
    renewed = client.post(f"/inscription/{secret}/calendrier/renouveler", follow_redirects=True)
    for response in (corrected, renewed):
        assert response.status_code == 200
        assert "Cette inscription est annulée : elle ne se modifie plus." in html.unescape(
            response.get_data(as_text=True)
        )
    [registration] = db.session.scalars(sa.select(Registration)).all()
    db.session.refresh(registration)
    assert (registration.last_name, registration.school) == ("Martin", "École Jules Ferry, Amiens")
    feed_tokens = (
        sa.select(sa.func.count())
        .select_from(Token)
        .where(Token.purpose == TokenPurpose.personal_feed)
    )
    assert db.session.scalar(feed_tokens) == 0
