"""The coordinators' outbox view: every mail with its state, a failed one offered again, a mail
read as it is sent."""

from email import message_from_bytes, policy

import pytest
import sqlalchemy as sa

from app.booking.models import Registration, RegistrationStatus
from app.booking.services import register
from app.extensions import db
from app.mail import services as mail
from app.mail.delivery import RETRY_DELAYS_MINUTES, deliver_pending
from app.mail.models import MailStatus, OutboxMail
from app.staff.models import AuditEntry
from tests.conftest import free_port, login, manage_secret, outbox


@pytest.fixture
def coordinator(client, make_staff):
    user = make_staff("coordinator")
    login(client, user)
    return user


def test_only_coordinators_see_the_outbox(client, make_staff, make_workshop, applicant):
    register(make_workshop().id, applicant(1))
    mail_id = outbox()[0].id
    paths = ["/admin/courriels", f"/admin/courriels/{mail_id}", f"/admin/courriels/{mail_id}.eml"]
    for path in paths:
        assert client.get(path).status_code == 302
    login(client, make_staff("trainer"))
    for path in paths:
        assert client.get(path).status_code == 403
    assert client.post(f"/admin/courriels/{mail_id}/renvoyer").status_code == 403


def test_the_list_shows_state_attempts_and_the_server_answer(
    client, coordinator, make_workshop, applicant, smtp
):
    workshop = make_workshop()
    register(workshop.id, applicant(1))
    register(workshop.id, applicant(2, email="inconnu@ac-amiens.fr"))
    smtp.reject["inconnu@ac-amiens.fr"] = (550, "5.1.1 Mailbox unknown")
    deliver_pending()
    page = client.get("/admin/courriels").get_data(as_text=True)
    assert "lea.martin1@ac-amiens.fr" in page and "inconnu@ac-amiens.fr" in page
    assert "550 5.1.1 Mailbox unknown" in page
    assert "Échec (1)" in page and "Envoyé (1)" in page
    failed_only = client.get("/admin/courriels?etat=failed").get_data(as_text=True)
    assert "inconnu@ac-amiens.fr" in failed_only and "lea.martin1@ac-amiens.fr" not in failed_only
    searched = client.get("/admin/courriels?q=LEA.MARTIN1").get_data(as_text=True)
    assert "lea.martin1@ac-amiens.fr" in searched and "inconnu@ac-amiens.fr" not in searched
    assert client.get("/admin/courriels?etat=nimporte&avant=abc&q=%25").status_code == 200


def test_a_mail_reads_as_sent_with_its_parts(client, coordinator, make_workshop, applicant):
    register(
        make_workshop(title="L'ENT <en classe>").id,
        applicant(1, last_name="L'Hôte-Dupré", first_name="Zoé"),
    )
    (row,) = outbox()
    page = client.get(f"/admin/courriels/{row.id}").get_data(as_text=True)
    assert "Inscription confirmée : L&#39;ENT &lt;en classe&gt;" in page
    assert "invitation.ics (application/ics, 1,3 Ko)" in page
    assert 'sandbox srcdoc="' in page and "<script" not in page.split("srcdoc")[1][:200]
    assert "Bonjour Zoé" in page
    eml = client.get(f"/admin/courriels/{row.id}.eml")
    assert eml.headers["Content-Type"] == "message/rfc822"
    message = message_from_bytes(eml.data, policy=policy.default)
    assert message["To"] == "lea.martin1@ac-amiens.fr"
    assert "Bonjour Zoé" in message.get_body(("plain",)).get_content()


def test_live_links_are_masked_for_coordinators(client, coordinator, make_workshop, applicant):
    """Issue 13, item 9: the management link is the teacher's alone — whoever reads the outbox
    sees it masked, on the page and in the .eml, and the link still works for its owner."""
    register(make_workshop().id, applicant(1))
    (row,) = outbox()
    secret = manage_secret(row)
    page = client.get(f"/admin/courriels/{row.id}").get_data(as_text=True)
    assert secret not in page
    assert "http://ateliers.test/inscription/***" in page  # in the text and in the HTML
    assert "Les liens personnels sont masqués" in page
    eml = client.get(f"/admin/courriels/{row.id}.eml")
    assert secret.encode() not in eml.data
    message = message_from_bytes(eml.data, policy=policy.default)
    assert "/inscription/***" in message.get_body(("plain",)).get_content()
    assert "/inscription/***" in message.get_body(("html",)).get_content()
    assert secret not in message.get_body(("html",)).get_content()
    db.session.refresh(row)
    assert secret in row.body_text  # the mail itself is sent with its link
    assert client.get(f"/inscription/{secret}").status_code == 200


def test_a_purged_mail_says_its_content_is_gone(
    client, coordinator, make_workshop, applicant, clock, smtp
):
    register(make_workshop().id, applicant(1))
    deliver_pending()
    clock.advance(days=31)
    mail.purge_delivered()
    (row,) = outbox()
    page = client.get(f"/admin/courriels/{row.id}").get_data(as_text=True)
    assert (
        "a été effacé 30 jours après l&#39;envoi" in page
        or "a été effacé 30 jours après l'envoi" in page
    )
    assert client.get(f"/admin/courriels/{row.id}.eml").status_code == 404


def test_a_failed_mail_is_offered_again_and_logged(
    app, client, coordinator, make_workshop, applicant, smtp, clock
):
    workshop = make_workshop()
    register(workshop.id, applicant(1))
    app.extensions["mail"].port = free_port()  # the relay is down for a day: the mail gives up
    for _ in range(len(RETRY_DELAYS_MINUTES) + 1):
        deliver_pending()
        clock.advance(hours=13)
    app.extensions["mail"].port = smtp.port
    (row,) = outbox()
    assert row.status is MailStatus.failed
    client.post(f"/admin/courriels/{row.id}/renvoyer")
    db.session.expire_all()
    row = db.session.get(OutboxMail, row.id)
    assert (row.status, row.attempts) == (MailStatus.pending, 0)
    assert deliver_pending().sent == 1
    assert [m["To"] for m in smtp.messages] == ["lea.martin1@ac-amiens.fr"]
    (entry,) = db.session.scalars(sa.select(AuditEntry)).all()
    assert entry.action == "mail.retry" and entry.actor_id == coordinator.id


def test_a_confirmation_whose_seat_was_released_is_not_sent_again(
    client, coordinator, make_workshop, applicant, smtp
):
    workshop = make_workshop()
    register(workshop.id, applicant(1, email="inconnu@ac-amiens.fr"))
    smtp.reject["inconnu@ac-amiens.fr"] = (550, "5.1.1 Mailbox unknown")
    deliver_pending()
    assert db.session.scalar(sa.select(Registration.status)) is RegistrationStatus.cancelled
    (row,) = outbox()
    page = client.post(f"/admin/courriels/{row.id}/renvoyer", follow_redirects=True).get_data(
        as_text=True
    )
    assert "a été annulée depuis" in page
    db.session.expire_all()
    assert db.session.get(OutboxMail, row.id).status is MailStatus.failed


def test_retrying_a_mail_that_did_not_fail_changes_nothing(
    client, coordinator, make_workshop, applicant
):
    register(make_workshop().id, applicant(1))
    (row,) = outbox()
    page = client.post(f"/admin/courriels/{row.id}/renvoyer", follow_redirects=True).get_data(
        as_text=True
    )
    assert "n&#39;est pas en échec" in page or "n'est pas en échec" in page
    for path in (
        "/admin/courriels/999999",
        "/admin/courriels/99999999999999999999",
        "/admin/courriels/999999.eml",
    ):
        assert client.get(path).status_code == 404
    assert client.post("/admin/courriels/999999/renvoyer").status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0
