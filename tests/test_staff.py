"""Staff accounts: login, roles, who sees which session, password reset by mailed link."""

import re

import pytest
import sqlalchemy as sa
from flask import g

from app.extensions import db
from app.staff import services
from app.staff.models import Role, StaffUser
from app.tokens import Token, TokenPurpose
from tests.conftest import STAFF_PASSWORD, login


def reset_link(mail) -> str:
    return re.search(r"/connexion/reinitialiser/[A-Za-z0-9_-]{43}", mail.body_text).group(0)


def staff_mails():
    from app.mail.models import OutboxMail

    return list(
        db.session.scalars(
            sa.select(OutboxMail)
            .where(OutboxMail.template == "staff/password_reset")
            .order_by(OutboxMail.id)
        )
    )


# --- login ---------------------------------------------------------------------------------------


def test_anonymous_visitors_get_the_login_page(client):
    for path in ("/formateur/", "/formateur/seances/1"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/connexion?next=")
    page = client.get("/connexion").get_data(as_text=True)
    assert "Connexion de l'équipe" in page


def test_login_then_logout(client, make_staff):
    trainer = make_staff("trainer")
    response = login(client, trainer)
    assert response.headers["Location"] == "/formateur/"
    page = client.get("/formateur/").get_data(as_text=True)
    assert "Mes séances" in page and trainer.full_name in page
    assert db.session.get(StaffUser, trainer.id).last_login_at is not None
    client.post("/deconnexion")
    assert client.get("/formateur/").status_code == 302


def test_login_goes_back_to_the_page_asked_for_but_never_to_another_site(client, make_staff):
    user = make_staff("coordinator")
    data = {"courriel": user.email, "mot_de_passe": STAFF_PASSWORD}
    response = client.post("/connexion?next=/formateur/seances/3", data=data)
    assert response.headers["Location"] == "/formateur/seances/3"
    client.post("/deconnexion")
    for evil in (
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
    ):
        response = client.post("/connexion", query_string={"next": evil}, data=data)
        assert response.headers["Location"] == "/admin/", evil
        client.post("/deconnexion")


@pytest.mark.parametrize(
    "email, password",
    [
        ("inconnu@ac-amiens.fr", STAFF_PASSWORD),
        (None, "mauvais mot de passe"),
        (None, ""),
        ("", ""),
        (None, "x" * 10_000),
    ],
)
def test_a_wrong_login_says_so_in_french_and_logs_nobody_in(client, make_staff, email, password):
    user = make_staff("trainer")
    response = client.post(
        "/connexion",
        data={"courriel": user.email if email is None else email, "mot_de_passe": password},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Adresse ou mot de passe incorrect." in page or "Indiquez" in page or "200" in page
    assert client.get("/formateur/").status_code == 302


def test_an_inactive_account_cannot_log_in(client, make_staff):
    user = make_staff("trainer")
    user.active = False
    db.session.commit()
    response = client.post(
        "/connexion", data={"courriel": user.email, "mot_de_passe": STAFF_PASSWORD}
    )
    assert response.status_code == 422


def test_login_attempts_are_rate_limited_per_account(client, make_staff):
    user = make_staff("trainer")
    for _ in range(10):
        client.post("/connexion", data={"courriel": user.email, "mot_de_passe": "mauvais"})
    response = client.post(
        "/connexion", data={"courriel": user.email, "mot_de_passe": STAFF_PASSWORD}
    )
    assert response.status_code == 429
    assert "Trop de demandes" in response.get_data(as_text=True)


def test_passwords_are_hashed(make_staff):
    user = make_staff("coordinator")
    assert STAFF_PASSWORD not in user.password_hash
    assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))


def test_changing_the_password_ends_the_other_sessions(app, client, make_staff):
    user = make_staff("trainer")
    login(client, user)
    services.set_password(user, "un tout autre mot de passe")
    db.session.commit()
    # The test client shares the test's app context, where Flask-Login caches the user of the
    # last request; a real next request starts without it.
    g.pop("_login_user", None)
    response = client.get("/formateur/")
    assert response.status_code == 302


def _cookie_copy(client) -> str:
    """The session cookie as someone who copied it would replay it."""
    return client.get_cookie("session").value


def _replayed(app, cookie: str, path: str) -> int:
    other = app.test_client()
    other.set_cookie("session", cookie)
    g.pop("_login_user", None)  # the test shares the app context: start as a new request would
    return other.get(path).status_code


def test_logging_out_ends_the_session_even_for_a_copied_cookie(app, client, make_staff):
    """Issue 13: a cookie copied before POST /deconnexion still opened /formateur/ and /admin/
    afterwards. The login is recorded on the server; logout revokes it."""
    trainer, coordinator = make_staff("trainer"), make_staff("coordinator")
    login(client, trainer)
    copied = _cookie_copy(client)
    assert _replayed(app, copied, "/formateur/") == 200
    client.post("/deconnexion")
    assert _replayed(app, copied, "/formateur/") == 302

    second = app.test_client()
    login(second, coordinator)
    copied = _cookie_copy(second)
    second.post("/deconnexion")
    assert _replayed(app, copied, "/admin/") == 302
    # Nothing secret kept in the database: the session's token is stored as a digest.
    sessions = db.session.scalars(
        sa.select(Token).where(Token.purpose == TokenPurpose.staff_session)
    ).all()
    assert len(sessions) == 2 and all(t.revoked_at is not None for t in sessions)


def test_deactivating_an_account_ends_its_sessions_at_once(app, client, make_staff):
    trainer = make_staff("trainer")
    login(client, trainer)
    copied = _cookie_copy(client)
    trainer.active = False
    db.session.commit()
    assert _replayed(app, copied, "/formateur/") == 302


# --- roles ---------------------------------------------------------------------------------------


def test_a_trainer_sees_their_own_sessions_only(client, make_staff, make_workshop):
    from app.catalog.models import Trainer

    mine = make_workshop(title="Mon atelier")
    other_trainer = Trainer(
        first_name="Karim", last_name="Benali", email="karim.benali@ac-amiens.fr"
    )
    theirs = make_workshop(title="L'atelier de Karim", trainer=other_trainer)
    user = make_staff("trainer", trainer=mine.trainer)
    login(client, user)
    page = client.get("/formateur/").get_data(as_text=True)
    assert "Mon atelier" in page and "L&#39;atelier de Karim" not in page
    assert client.get(f"/formateur/seances/{mine.id}").status_code == 200
    assert client.get(f"/formateur/seances/{theirs.id}").status_code == 403
    assert client.get("/formateur/seances/999999").status_code == 404
    assert client.get("/formateur/seances/99999999999999999999").status_code == 404


def test_a_coordinator_sees_every_session(client, make_staff, make_workshop):
    from app.catalog.models import Trainer

    first = make_workshop(title="Atelier un")
    second = make_workshop(
        title="Atelier deux",
        trainer=Trainer(first_name="K", last_name="B", email="k.b@ac-amiens.fr"),
    )
    login(client, make_staff("coordinator"))
    page = client.get("/formateur/").get_data(as_text=True)
    assert "Toutes les séances" in page and "Atelier un" in page and "Atelier deux" in page
    for workshop in (first, second):
        assert client.get(f"/formateur/seances/{workshop.id}").status_code == 200


def test_the_session_page_lists_confirmed_and_waiting_people(
    client, make_staff, make_workshop, applicant
):
    from app.booking.services import register

    workshop = make_workshop(capacity=1)
    register(workshop.id, applicant(1, last_name="L'Hôte-Dupré", first_name="Zoé"))
    register(workshop.id, applicant(2, last_name="<b>Gras</b>", first_name="Théo"))
    login(client, make_staff("trainer", trainer=workshop.trainer))
    page = client.get(f"/formateur/seances/{workshop.id}").get_data(as_text=True)
    assert "L&#39;Hôte-Dupré" in page and "Inscrits (1 / 1)" in page
    assert (
        "Liste d'attente (1)" in page
        and "&lt;b&gt;Gras&lt;/b&gt;" in page
        and "<b>Gras" not in page
    )


# --- password reset ------------------------------------------------------------------------------


def test_password_reset_link_works_once(client, make_staff):
    user = make_staff("trainer")
    response = client.post("/connexion/oubli", data={"courriel": user.email.upper()})
    assert response.status_code == 302
    (mail,) = staff_mails()
    assert mail.recipient == user.email and "valable 2 heures" in mail.body_text
    link = reset_link(mail)
    assert client.get(link).status_code == 200
    new = {"mot_de_passe": "une phrase de passe neuve", "confirmation": "une phrase de passe neuve"}
    assert client.post(link, data=new).status_code == 302
    assert (
        client.post(
            "/connexion", data={"courriel": user.email, "mot_de_passe": new["mot_de_passe"]}
        ).status_code
        == 302
    )
    client.post("/deconnexion")
    # The same link a second time: refused, nothing changed.
    again = client.post(
        link,
        data={"mot_de_passe": "encore une autre phrase", "confirmation": "encore une autre phrase"},
    )
    assert again.status_code == 404 and "n'est plus valable" in again.get_data(as_text=True)
    assert services.authenticate(user.email, "encore une autre phrase") is None


def test_password_reset_link_expires(client, make_staff, clock):
    user = make_staff("trainer")
    client.post("/connexion/oubli", data={"courriel": user.email})
    link = reset_link(staff_mails()[0])
    clock.advance(hours=2, minutes=1)
    assert client.get(link).status_code == 404


def test_password_reset_for_an_unknown_address_says_the_same_and_sends_nothing(client, make_staff):
    make_staff("trainer")
    response = client.post(
        "/connexion/oubli", data={"courriel": "personne@ac-amiens.fr"}, follow_redirects=True
    )
    assert "Si un compte correspond à cette adresse" in response.get_data(as_text=True)
    assert staff_mails() == []


@pytest.mark.parametrize(
    "password, confirmation, message",
    [
        ("court", "court", "au moins 12 caractères"),
        (
            "une phrase de passe neuve",
            "une autre phrase",
            "Les deux mots de passe sont différents.",
        ),
        ("", "", "Choisissez un mot de passe."),
    ],
)
def test_a_refused_new_password_says_why_and_keeps_the_link(
    client, make_staff, password, confirmation, message
):
    user = make_staff("trainer")
    client.post("/connexion/oubli", data={"courriel": user.email})
    link = reset_link(staff_mails()[0])
    response = client.post(link, data={"mot_de_passe": password, "confirmation": confirmation})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert client.get(link).status_code == 200
    assert services.authenticate(user.email, STAFF_PASSWORD) is not None


def test_forged_reset_tokens_open_nothing(client, make_staff):
    make_staff("trainer")
    for token in ("x", "A" * 43, "A" * 500, "%00"):
        assert client.get(f"/connexion/reinitialiser/{token}").status_code == 404


def test_a_reset_token_cannot_open_anything_else(client, make_staff):
    user = make_staff("trainer")
    client.post("/connexion/oubli", data={"courriel": user.email})
    secret = reset_link(staff_mails()[0]).rsplit("/", 1)[1]
    assert client.get(f"/inscription/{secret}").status_code == 404
    assert client.get(f"/calendriers/formateur/{secret}.ics").status_code == 404
    token = db.session.scalar(sa.select(Token).where(Token.purpose == TokenPurpose.password_reset))
    assert token.owner_id == user.id


# --- accounts from the shell ---------------------------------------------------------------------


def test_flask_staff_create_makes_a_trainer_account(app, make_workshop):
    workshop = make_workshop()
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["staff", "create", "--courriel", workshop.trainer.email, "--role", "formateur"],
        input="une phrase de passe\nune phrase de passe\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(StaffUser).where(StaffUser.email == workshop.trainer.email))
    assert user.role is Role.trainer and user.trainer_id == workshop.trainer_id
    assert services.authenticate(workshop.trainer.email, "une phrase de passe") == user


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--courriel", "inconnu@ac-amiens.fr", "--role", "formateur"],
            "Aucun formateur du catalogue",
        ),
        (["--courriel", "c@ac-amiens.fr", "--role", "coordinateur"], "Le nom est obligatoire"),
        (
            [
                "--courriel",
                "c@ac-amiens.fr",
                "--role",
                "coordinateur",
                "--nom",
                "C",
                "--mot-de-passe",
                "court",
            ],
            "au moins 12",
        ),
    ],
)
def test_flask_staff_create_refuses_bad_input(app, args, message):
    result = app.test_cli_runner().invoke(
        args=["staff", "create", *args], input="une phrase de passe\nune phrase de passe\n"
    )
    assert result.exit_code != 0 and message in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StaffUser)) == 0


def test_demo_passwords_are_refused_outside_development(app, make_staff):
    user = make_staff("coordinator", password="demo-coordination")
    assert services.authenticate(user.email, "demo-coordination") == user
    app.config["DEMO_ACCOUNTS"] = False
    assert services.authenticate(user.email, "demo-coordination") is None
    with pytest.raises(services.AccountRefused, match="démonstration"):
        services.create_account("x@ac-amiens.fr", "X", Role.coordinator, "demo-coordination")


def test_production_refuses_demo_accounts(monkeypatch):
    from config import ProductionConfig

    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", "a real secret, long enough for production")
    monkeypatch.setattr(ProductionConfig, "SINGLE_PROCESS", True)
    monkeypatch.setattr(ProductionConfig, "DEMO_ACCOUNTS", True)
    with pytest.raises(RuntimeError, match="comptes de démonstration"):
        ProductionConfig.validate()


def test_seed_demo_prints_the_demo_logins(app):
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert "coordination@ateliers-tice.test / mot de passe demo-coordination" in result.output
    assert "claire.dumont@ac-amiens.fr / mot de passe demo-formateur" in result.output
    assert (
        services.authenticate("claire.dumont@ac-amiens.fr", "demo-formateur").role is Role.trainer
    )


def test_every_staff_form_carries_csrf(app, make_staff):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    user = make_staff("trainer")
    for path in ("/connexion", "/connexion/oubli"):
        assert 'name="csrf_token"' in client.get(path).get_data(as_text=True)
        response = client.post(path, data={"courriel": user.email, "mot_de_passe": STAFF_PASSWORD})
        assert response.status_code == 400 and "Le formulaire a expiré" in response.get_data(
            as_text=True
        )
