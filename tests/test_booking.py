"""The seat rules, through the services: seats, waiting list, cancellation, promotion, mails."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.booking import services
from app.booking.models import Registration, RegistrationStatus
from app.catalog.models import WorkshopStatus
from app.extensions import db
from app.tokens import Token
from tests.conftest import manage_secret, outbox


def test_seats_then_waiting_list_in_order(make_workshop, applicant):
    workshop = make_workshop(capacity=2)
    results = [services.register(workshop.id, applicant(n)) for n in range(1, 6)]

    statuses = [r.row.status for r in results]
    assert statuses == [RegistrationStatus.confirmed] * 2 + [RegistrationStatus.waiting] * 3
    assert [r.row.waiting_position for r in results[2:]] == [1, 2, 3]
    assert [m.recipient for m in outbox("confirmed")] == [
        "lea.martin1@ac-amiens.fr",
        "lea.martin2@ac-amiens.fr",
    ]
    assert len(outbox("waiting")) == 3


def test_cancelling_a_seat_promotes_the_first_waiting_and_mails_them(make_workshop, applicant):
    workshop = make_workshop(capacity=1)
    first = services.register(workshop.id, applicant(1)).row
    services.register(workshop.id, applicant(2))
    services.register(workshop.id, applicant(3))

    services.cancel(manage_secret(outbox("confirmed")[0]))

    by_email = {r.email: r for r in db.session.scalars(sa.select(Registration))}
    assert by_email[first.email].status is RegistrationStatus.cancelled
    assert by_email["lea.martin2@ac-amiens.fr"].status is RegistrationStatus.confirmed
    assert by_email["lea.martin3@ac-amiens.fr"].waiting_position == 1
    assert [m.recipient for m in outbox("promoted")] == ["lea.martin2@ac-amiens.fr"]
    assert [m.recipient for m in outbox("cancelled")] == [first.email]


def test_leaving_the_waiting_list_closes_the_gap(make_workshop, applicant):
    workshop = make_workshop(capacity=1)
    for n in range(1, 5):
        services.register(workshop.id, applicant(n))
    second_waiting = outbox("waiting")[1]

    services.cancel(manage_secret(second_waiting))

    waiting = db.session.scalars(
        sa.select(Registration)
        .where(Registration.status == RegistrationStatus.waiting)
        .order_by(Registration.waiting_position)
    ).all()
    assert [(r.email, r.waiting_position) for r in waiting] == [
        ("lea.martin2@ac-amiens.fr", 1),
        ("lea.martin4@ac-amiens.fr", 2),
    ]
    assert outbox("promoted") == []


def test_no_automatic_promotion_in_the_last_two_hours(make_workshop, applicant, clock):
    workshop = make_workshop(capacity=1, starts_in=timedelta(hours=1, minutes=59))
    services.register(workshop.id, applicant(1))
    services.register(workshop.id, applicant(2))

    services.cancel(manage_secret(outbox("confirmed")[0]))

    waiting = db.session.scalar(
        sa.select(Registration).where(Registration.email == "lea.martin2@ac-amiens.fr")
    )
    assert waiting.status is RegistrationStatus.waiting
    assert outbox("promoted") == []


def test_cancelling_twice_changes_nothing_the_second_time(make_workshop, applicant):
    workshop = make_workshop(capacity=1)
    services.register(workshop.id, applicant(1))
    services.register(workshop.id, applicant(2))
    secret = manage_secret(outbox("confirmed")[0])

    services.cancel(secret)
    mails = len(outbox())
    services.cancel(secret)

    assert len(outbox()) == mails
    assert len(outbox("promoted")) == 1


def test_same_person_twice_gets_a_new_link_without_a_second_registration(
    make_workshop, applicant, clock
):
    workshop = make_workshop(capacity=5)
    services.register(workshop.id, applicant(1))

    double_click = services.register(workshop.id, applicant(1, email="lea.martin1@ac-amiens.fr"))
    assert double_click.already_registered and not double_click.link_resent
    assert outbox("link") == []

    clock.advance(minutes=10)
    later = services.register(workshop.id, applicant(1))
    assert later.already_registered and later.link_resent
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 1
    # Both links stay valid: re-sending mints a new token without killing the first.
    first, resent = manage_secret(outbox("confirmed")[0]), manage_secret(outbox("link")[0])
    assert first != resent
    assert services.registration_for_token(first).id == services.registration_for_token(resent).id


def test_registering_again_after_cancelling_makes_a_fresh_registration(make_workshop, applicant):
    workshop = make_workshop(capacity=5)
    services.register(workshop.id, applicant(1))
    services.cancel(manage_secret(outbox("confirmed")[0]))

    again = services.register(workshop.id, applicant(1))

    assert not again.already_registered
    assert again.row.status is RegistrationStatus.confirmed
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 2


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda w, clock: setattr(w, "status", WorkshopStatus.cancelled), "annulé"),
        (
            lambda w, clock: setattr(w, "registration_deadline", clock.now - timedelta(minutes=1)),
            "date limite",
        ),
        (lambda w, clock: clock.advance(days=8), "déjà eu lieu"),
    ],
    ids=["cancelled", "after-deadline", "past"],
)
def test_registration_closed(make_workshop, applicant, clock, change, message):
    workshop = make_workshop(capacity=5)
    change(workshop, clock)
    db.session.commit()

    with pytest.raises(services.RegistrationClosed, match=message):
        services.register(workshop.id, applicant(1))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 0
    assert outbox() == []


def test_draft_or_unknown_workshop_is_not_found(make_workshop, applicant):
    draft = make_workshop(status=WorkshopStatus.draft)
    for workshop_id in (draft.id, 999_999):
        with pytest.raises(services.WorkshopNotFound):
            services.register(workshop_id, applicant(1))


def test_tokens_are_stored_only_as_digests(make_workshop, applicant):
    workshop = make_workshop()
    services.register(workshop.id, applicant(1))
    secret = manage_secret(outbox("confirmed")[0])

    stored = db.session.scalars(sa.select(Token.digest)).all()
    assert len(secret) == 43 and secret not in stored
    assert all(len(d) == 64 for d in stored)


@pytest.mark.parametrize(
    "secret", ["", "abc", "x" * 43, "x" * 44, "../../etc/passwd", "' OR 1=1 --"]
)
def test_forged_tokens_open_nothing(app, secret):
    with pytest.raises(services.RegistrationNotFound):
        services.registration_for_token(secret)


def test_a_waiting_person_leaves_the_list_with_the_button_their_mail_names(
    client, make_workshop, applicant
):
    """The waiting-list mail says to choose « Quitter la liste d'attente »; the page has that
    button (not « Annuler mon inscription »), and so do the confirmation page and its answer."""
    import html

    workshop = make_workshop(capacity=1)
    services.register(workshop.id, applicant(1))
    services.register(workshop.id, applicant(2))
    mail = outbox("waiting")[0]
    assert "« Quitter la liste d'attente »" in mail.body_text
    assert "« Quitter la liste d'attente »" in html.unescape(mail.body_html)
    secret = manage_secret(mail)

    page = html.unescape(client.get(f"/inscription/{secret}").get_data(as_text=True))
    assert f'href="/inscription/{secret}/annuler">Quitter la liste d\'attente</a>' in page
    assert "Annuler mon inscription" not in page
    confirm = html.unescape(client.get(f"/inscription/{secret}/annuler").get_data(as_text=True))
    assert "<h1>Quitter la liste d'attente ?</h1>" in confirm
    assert "Oui, quitter la liste d'attente" in confirm and "Oui, annuler" not in confirm
    answer = client.post(f"/inscription/{secret}/annuler", follow_redirects=True)
    assert "Vous avez quitté la liste d'attente." in html.unescape(answer.get_data(as_text=True))

    # a confirmed seat keeps its own words
    seat = manage_secret(outbox("confirmed")[0])
    page = html.unescape(client.get(f"/inscription/{seat}").get_data(as_text=True))
    assert "Annuler mon inscription</a>" in page and "Quitter la liste d'attente" not in page
