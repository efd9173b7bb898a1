"""The outbox delivered to a real SMTP server (aiosmtpd): what arrives, retries, failures, claims."""

import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.booking import services as booking
from app.extensions import db
from app.mail import services as mail
from app.mail.models import MailStatus, OutboxMail
from tests.conftest import free_port


def rows():
    return list(db.session.scalars(sa.select(OutboxMail).order_by(OutboxMail.id)))


def queue(n=1, recipient="lea.martin@ac-amiens.fr"):
    for _ in range(n):
        db.session.add(
            OutboxMail(template="test", recipient=recipient, subject="Essai", body_text="Bonjour",
                       body_html="<p>Bonjour</p>")
        )
    db.session.commit()


def test_confirmation_mail_as_received(smtp, make_workshop, applicant):
    workshop = make_workshop(capacity=3, what_to_bring="Votre tablette")
    booking.register(workshop.id, applicant(1, first_name="Zoé", last_name="L'Hôte-Dupré"))

    report = mail.deliver_pending()

    assert (report.sent, report.failed, report.retried) == (1, 0, 0)
    [message] = smtp.messages
    assert message["To"] == "lea.martin1@ac-amiens.fr"
    assert message["Subject"] == f"Inscription confirmée : {workshop.title}"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"] == mail.message_id_for(rows()[0])
    assert len(message.get_all("Message-ID")) == 1 and len(message.get_all("Date")) == 1
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Bonjour Zoé," in text and "Votre tablette" in text
    assert "lundi 9 mars 2026, 10 h – 13 h" in text  # 09:00 UTC is 10 h in Paris in March
    assert "http://ateliers.test/inscription/" in text
    assert "Gérer mon inscription" in html
    assert rows()[0].status is MailStatus.sent


def test_smtp_down_keeps_mails_and_retries_later(app, clock):
    queue(2)
    app.extensions["mail"].server, app.extensions["mail"].port = "127.0.0.1", free_port()
    app.config["MAIL_SERVER"] = "127.0.0.1"

    report = mail.deliver_pending()

    assert report.retried == 2 and report.sent == 0
    for row in rows():
        assert row.status is MailStatus.pending and row.attempts == 1
        assert "ConnectionRefusedError" in row.last_error
        assert row.next_attempt_at > clock.now
    assert mail.deliver_pending().retried == 0  # not due yet: nothing tried


def test_retry_succeeds_once_the_server_is_back(smtp, app, clock):
    queue(1)
    real_port = app.extensions["mail"].port
    app.extensions["mail"].port = free_port()
    mail.deliver_pending()
    app.extensions["mail"].port = real_port

    clock.advance(minutes=1)
    assert mail.deliver_pending().sent == 1
    assert len(smtp.messages) == 1 and rows()[0].attempts == 1


def test_permanent_refusal_fails_that_mail_only(smtp, app):
    smtp.reject["nobody@ac-amiens.fr"] = (550, "5.1.1 Mailbox unknown")
    queue(1, "first@ac-amiens.fr")
    queue(1, "nobody@ac-amiens.fr")
    queue(1, "last@ac-amiens.fr")

    report = mail.deliver_pending()

    assert (report.sent, report.failed) == (2, 1)
    assert sorted(m["To"] for m in smtp.messages) == ["first@ac-amiens.fr", "last@ac-amiens.fr"]
    failed = [r for r in rows() if r.status is MailStatus.failed]
    assert [r.recipient for r in failed] == ["nobody@ac-amiens.fr"]
    assert failed[0].last_error.startswith("550") and "Mailbox unknown" in failed[0].last_error


def test_temporary_refusal_is_retried(smtp, app, clock):
    smtp.reject["busy@ac-amiens.fr"] = (451, "4.3.0 Try again later")
    queue(1, "busy@ac-amiens.fr")

    assert mail.deliver_pending().retried == 1
    del smtp.reject["busy@ac-amiens.fr"]
    clock.advance(minutes=2)
    assert mail.deliver_pending().sent == 1


def test_gives_up_after_about_a_day(app, clock):
    queue(1)
    app.extensions["mail"].server, app.extensions["mail"].port = "127.0.0.1", free_port()
    app.config["MAIL_SERVER"] = "127.0.0.1"
    start = clock.now
    while rows()[0].status is MailStatus.pending:
        clock.set(rows()[0].next_attempt_at)
        mail.deliver_pending()
    assert rows()[0].status is MailStatus.failed
    assert timedelta(hours=20) < clock.now - start < timedelta(hours=36)
    assert "abandon" in rows()[0].last_error


def test_header_injection_is_refused_not_sent(smtp, app):
    queue(1, "victim@ac-amiens.fr\r\nBcc: everyone@ac-amiens.fr")
    report = mail.deliver_pending()
    assert report.failed == 1 and smtp.received == []


def test_claimed_rows_are_left_to_their_run_until_stale(smtp, app, clock):
    queue(1)
    row = rows()[0]
    row.status, row.claim, row.claimed_at = MailStatus.sending, "other-run", clock.now
    db.session.commit()

    assert mail.deliver_pending().sent == 0
    clock.advance(minutes=11)  # the other run died
    assert mail.deliver_pending().sent == 1
    assert len(smtp.messages) == 1


def test_without_mail_server_mails_are_written_as_eml_files(app, make_workshop, applicant):
    workshop = make_workshop()
    booking.register(workshop.id, applicant(1))

    mail.deliver_pending()

    files = list(Path(app.config["MAIL_FILE_DIR"]).glob("*.eml"))
    assert len(files) == 1
    assert b"Inscription confirm" in files[0].read_bytes()


class TestTwoDeliveryRuns:
    """Two delivery runs at once (two scheduler processes) never send the same row."""

    @pytest.fixture
    def app(self, live_app):
        return live_app

    def test_each_mail_is_sent_once(self, app, smtp):
        queue(60)
        barrier = threading.Barrier(3)
        errors = []

        def run():
            with app.app_context():
                try:
                    barrier.wait(10)
                    while mail.deliver_pending(batch_size=7).sent:
                        pass
                except Exception as error:  # surfaced below
                    errors.append(error)
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=run) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

        assert errors == []
        ids = sorted(m["Message-ID"] for m in smtp.messages)
        assert len(ids) == 60 and len(set(ids)) == 60
        assert {r.status for r in rows()} == {MailStatus.sent}


def test_an_unknown_address_frees_its_seat_for_the_next_person_waiting(smtp, make_workshop, applicant):
    """Rule 10: a confirmation the server refuses for good cancels that registration."""
    from app.booking.models import Registration, RegistrationStatus

    smtp.reject["lea.martni@ac-amiens.fr"] = (550, "5.1.1 <lea.martni@ac-amiens.fr>: user unknown")
    workshop = make_workshop(capacity=1)
    booking.register(workshop.id, applicant(1, email="lea.martni@ac-amiens.fr"))
    booking.register(workshop.id, applicant(2))

    assert mail.deliver_pending().failed == 1

    by_email = {r.email: r for r in db.session.scalars(sa.select(Registration))}
    assert by_email["lea.martni@ac-amiens.fr"].status is RegistrationStatus.cancelled
    assert by_email["lea.martin2@ac-amiens.fr"].status is RegistrationStatus.confirmed
    failed = [r for r in rows() if r.status is MailStatus.failed]
    assert [r.recipient for r in failed] == ["lea.martni@ac-amiens.fr"]  # shown to coordinators

    mail.deliver_pending()
    assert [m["Subject"] for m in smtp.to("lea.martin2@ac-amiens.fr")] == [
        f"Liste d'attente : {workshop.title}",
        f"Une place s'est libérée : {workshop.title}",
    ]
    assert smtp.to("lea.martni@ac-amiens.fr") == []  # no cancellation mail to a dead address


def test_a_temporary_refusal_keeps_the_seat(smtp, make_workshop, applicant):
    from app.booking.models import Registration, RegistrationStatus

    smtp.reject["lea.martin1@ac-amiens.fr"] = (452, "4.2.2 Mailbox full")
    booking.register(make_workshop(capacity=1).id, applicant(1))

    assert mail.deliver_pending().retried == 1
    assert db.session.scalar(sa.select(Registration.status)) is RegistrationStatus.confirmed
