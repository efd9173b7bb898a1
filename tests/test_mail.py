"""The outbox delivered to a real SMTP server (aiosmtpd): what arrives, retries, failures, claims,
attachments, and the purge of delivered bodies."""

import threading
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.booking import services as booking
from app.extensions import db
from app.mail import services as mail
from app.mail.delivery import deliver_pending
from app.mail.message import message_id_for
from app.mail.models import MailSender, MailStatus, OutboxMail
from tests.conftest import free_port


def rows():
    return list(db.session.scalars(sa.select(OutboxMail).order_by(OutboxMail.id)))


def queue(n=1, recipient="lea.martin@ac-amiens.fr"):
    for _ in range(n):
        db.session.add(
            OutboxMail(
                template="test",
                recipient=recipient,
                subject="Essai",
                body_text="Bonjour",
                body_html="<p>Bonjour</p>",
            )
        )
    db.session.commit()


def test_confirmation_mail_as_received(smtp, make_workshop, applicant):
    workshop = make_workshop(capacity=3, what_to_bring="Votre tablette")
    booking.register(workshop.id, applicant(1, first_name="Zoé", last_name="L'Hôte-Dupré"))

    report = deliver_pending()

    assert (report.sent, report.failed, report.retried) == (1, 0, 0)
    [message] = smtp.messages
    assert message["To"] == "lea.martin1@ac-amiens.fr"
    assert message["Subject"] == f"Inscription confirmée : {workshop.title}"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"] == message_id_for(rows()[0])
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

    report = deliver_pending()

    assert report.retried == 2 and report.sent == 0
    for row in rows():
        assert row.status is MailStatus.pending and row.attempts == 1
        assert "ConnectionRefusedError" in row.last_error
        assert row.next_attempt_at > clock.now
    assert deliver_pending().retried == 0  # not due yet: nothing tried


def test_retry_succeeds_once_the_server_is_back(smtp, app, clock):
    queue(1)
    real_port = app.extensions["mail"].port
    app.extensions["mail"].port = free_port()
    deliver_pending()
    app.extensions["mail"].port = real_port

    clock.advance(minutes=1)
    assert deliver_pending().sent == 1
    assert len(smtp.messages) == 1 and rows()[0].attempts == 1


def test_permanent_refusal_fails_that_mail_only(smtp, app):
    smtp.reject["nobody@ac-amiens.fr"] = (550, "5.1.1 Mailbox unknown")
    queue(1, "first@ac-amiens.fr")
    queue(1, "nobody@ac-amiens.fr")
    queue(1, "last@ac-amiens.fr")

    report = deliver_pending()

    assert (report.sent, report.failed) == (2, 1)
    assert sorted(m["To"] for m in smtp.messages) == ["first@ac-amiens.fr", "last@ac-amiens.fr"]
    failed = [r for r in rows() if r.status is MailStatus.failed]
    assert [r.recipient for r in failed] == ["nobody@ac-amiens.fr"]
    assert failed[0].last_error.startswith("550") and "Mailbox unknown" in failed[0].last_error


def test_temporary_refusal_is_retried(smtp, app, clock):
    smtp.reject["busy@ac-amiens.fr"] = (451, "4.3.0 Try again later")
    queue(1, "busy@ac-amiens.fr")

    assert deliver_pending().retried == 1
    del smtp.reject["busy@ac-amiens.fr"]
    clock.advance(minutes=2)
    assert deliver_pending().sent == 1


def test_gives_up_after_about_a_day(app, clock):
    queue(1)
    app.extensions["mail"].server, app.extensions["mail"].port = "127.0.0.1", free_port()
    app.config["MAIL_SERVER"] = "127.0.0.1"
    start = clock.now
    while rows()[0].status is MailStatus.pending:
        clock.set(rows()[0].next_attempt_at)
        deliver_pending()
    assert rows()[0].status is MailStatus.failed
    assert timedelta(hours=20) < clock.now - start < timedelta(hours=36)
    assert "abandon" in rows()[0].last_error


def test_header_injection_is_refused_not_sent(smtp, app):
    queue(1, "victim@ac-amiens.fr\r\nBcc: everyone@ac-amiens.fr")
    report = deliver_pending()
    assert report.failed == 1 and smtp.received == []


def claimed_by_another_run(clock, beat: bool = True) -> OutboxMail:
    """A mail another delivery run claimed just now; with its heartbeat row when `beat`."""
    queue(1)
    row = rows()[0]
    row.status, row.claim, row.claimed_at = MailStatus.sending, "other-run", clock.now
    if beat:
        db.session.add(MailSender(claim="other-run", process="other-host:1", beat_at=clock.now))
    db.session.commit()
    return row


def test_a_run_that_keeps_beating_keeps_its_claim_however_long_it_sends(smtp, app, clock):
    claimed_by_another_run(clock)
    clock.advance(seconds=59)
    assert deliver_pending().sent == 0
    db.session.get(MailSender, "other-run").beat_at = clock.now  # its relay is slow, it beats
    db.session.commit()
    clock.advance(seconds=55)  # 114 s after the claim, 55 s after the beat
    assert deliver_pending().sent == 0 and smtp.messages == []


def test_the_claim_of_a_run_that_stopped_beating_is_taken_back_after_a_minute(smtp, app, clock):
    claimed_by_another_run(clock)
    clock.advance(seconds=59)
    assert deliver_pending().sent == 0
    clock.advance(seconds=2)  # its process died: no beat for 61 s

    assert deliver_pending().sent == 1
    assert len(smtp.messages) == 1
    assert db.session.scalars(sa.select(MailSender)).all() == []  # the dead run's row is gone


def test_a_claim_without_heartbeat_counts_from_when_it_was_made(smtp, app, clock):
    claimed_by_another_run(clock, beat=False)
    clock.advance(seconds=59)
    assert deliver_pending().sent == 0
    clock.advance(seconds=2)
    assert deliver_pending().sent == 1


def test_a_run_records_each_mail_as_it_goes_and_leaves_no_heartbeat(smtp, app):
    queue(3)
    report = deliver_pending()
    assert report.sent == 3
    assert all(r.status is MailStatus.sent and r.claim is None for r in rows())
    assert db.session.scalars(sa.select(MailSender)).all() == []


def test_without_mail_server_mails_are_written_as_eml_files(app, make_workshop, applicant):
    workshop = make_workshop()
    booking.register(workshop.id, applicant(1))

    deliver_pending()

    files = list(Path(app.config["MAIL_FILE_DIR"]).glob("*.eml"))
    assert len(files) == 1
    assert b"Inscription confirm" in files[0].read_bytes()


class TestAClaimTakenBack:
    """A run whose claim another run took back (it looked dead) stops at once: the mail in flight
    is the only one both may send."""

    @pytest.fixture
    def app(self, live_app):
        return live_app

    def test_the_run_stops_at_the_first_mail_it_can_no_longer_record(self, app, smtp, database_url):
        queue(5)
        thief = sa.create_engine(database_url)
        original = smtp.controller.handler.handle_DATA

        async def take_back_during_the_second(server, session, envelope):
            answer = await original(server, session, envelope)
            if len(smtp.received) == 2:  # another run takes every claimed row back
                with thief.begin() as connection:
                    connection.execute(
                        sa.update(OutboxMail)
                        .where(OutboxMail.status == MailStatus.sending)
                        .values(claim="thief")
                    )
            return answer

        smtp.controller.handler.handle_DATA = take_back_during_the_second
        try:
            report = deliver_pending()
        finally:
            thief.dispose()

        assert report.sent == 1 and len(smtp.messages) == 2  # the 2nd, in flight, not recorded
        db.session.remove()
        assert [(r.status, r.claim) for r in rows()] == [(MailStatus.sent, None)] + [
            (MailStatus.sending, "thief")
        ] * 4  # the others untouched: the thief's now


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
                    while deliver_pending(batch_size=7).sent:
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


def test_an_unknown_address_frees_its_seat_for_the_next_person_waiting(
    smtp, make_workshop, applicant
):
    """A confirmation the server refuses for good cancels that registration."""
    from app.booking.models import Registration, RegistrationStatus

    smtp.reject["lea.martni@ac-amiens.fr"] = (550, "5.1.1 <lea.martni@ac-amiens.fr>: user unknown")
    workshop = make_workshop(capacity=1)
    booking.register(workshop.id, applicant(1, email="lea.martni@ac-amiens.fr"))
    booking.register(workshop.id, applicant(2))

    assert deliver_pending().failed == 1

    by_email = {r.email: r for r in db.session.scalars(sa.select(Registration))}
    assert by_email["lea.martni@ac-amiens.fr"].status is RegistrationStatus.cancelled
    assert by_email["lea.martin2@ac-amiens.fr"].status is RegistrationStatus.confirmed
    failed = [r for r in rows() if r.status is MailStatus.failed]
    assert [r.recipient for r in failed] == ["lea.martni@ac-amiens.fr"]  # shown to coordinators

    deliver_pending()
    assert [m["Subject"] for m in smtp.to("lea.martin2@ac-amiens.fr")] == [
        f"Liste d'attente : {workshop.title}",
        f"Une place s'est libérée : {workshop.title}",
    ]
    assert smtp.to("lea.martni@ac-amiens.fr") == []  # no cancellation mail to a dead address


def test_a_temporary_refusal_keeps_the_seat(smtp, make_workshop, applicant):
    from app.booking.models import Registration, RegistrationStatus

    smtp.reject["lea.martin1@ac-amiens.fr"] = (452, "4.2.2 Mailbox full")
    booking.register(make_workshop(capacity=1).id, applicant(1))

    assert deliver_pending().retried == 1
    assert db.session.scalar(sa.select(Registration.status)) is RegistrationStatus.confirmed


# --- the MIME bytes ------------------------------------------------------------------------------


def raw_lines(raw: bytes) -> list[bytes]:
    """The lines of a received mail, checking on the way that every line ends with CRLF."""
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    return raw.split(b"\r\n")


def test_booking_mail_bytes_are_well_formed(smtp, clock, make_workshop, applicant):
    workshop = make_workshop(title="Découvrir l'ENT « Léo » : premiers pas " + "très " * 20)
    booking.register(workshop.id, applicant(1, first_name="Zoé"))
    deliver_pending()

    [(_, _, raw)] = smtp.received
    [message] = smtp.messages
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\nSubject: =?utf-8?" in head  # RFC 2047: the raw header is ASCII
    assert head.isascii()
    assert max(map(len, raw_lines(raw))) <= 998
    assert all(part.defects == [] for part in message.walk())
    assert message["Subject"] == f"Inscription confirmée : {workshop.title}"
    assert message["From"].addresses[0].display_name == "Ateliers TICE – CRDP d'Amiens"
    assert message["Date"].datetime == clock.now


def test_a_line_longer_than_998_octets_is_sent_quoted_printable(smtp, app):
    long_line = "Émargement " + "é" * 1200
    db.session.add(
        OutboxMail(
            template="test",
            recipient="lea.martin@ac-amiens.fr",
            subject="Essai",
            body_text=f"Bonjour\n{long_line}\nFin",
            body_html=f"<p>{long_line}</p>",
        )
    )
    db.session.commit()
    deliver_pending()

    [(_, _, raw)] = smtp.received
    assert max(map(len, raw_lines(raw))) <= 998
    [message] = smtp.messages
    plain = message.get_body(("plain",))
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"
    assert plain.get_content().splitlines() == ["Bonjour", long_line, "Fin"]
    assert message.get_body(("html",)).get_content().strip() == f"<p>{long_line}</p>"


def test_a_line_break_in_the_subject_fails_that_mail_and_the_batch_goes_on(smtp, app):
    queue(1, "first@ac-amiens.fr")
    db.session.add(
        OutboxMail(
            template="test",
            recipient="victim@ac-amiens.fr",
            subject="Essai\r\nBcc: everyone@ac-amiens.fr",
            body_text="x",
            body_html="x",
        )
    )
    queue(1, "last@ac-amiens.fr")

    report = deliver_pending()

    assert (report.sent, report.failed) == (2, 1)
    assert sorted(m["To"] for m in smtp.messages) == ["first@ac-amiens.fr", "last@ac-amiens.fr"]
    assert all("everyone" not in rcpt for _, rcpts, _ in smtp.received for rcpt in rcpts)
    [failed] = [r for r in rows() if r.status is MailStatus.failed]
    assert failed.recipient == "victim@ac-amiens.fr" and "en-têtes invalides" in failed.last_error


def test_an_address_that_cannot_be_written_in_ascii_fails_that_mail_only(smtp, app):
    queue(1, "léa@ac-amiens.fr")  # would need SMTPUTF8
    queue(1, "last@ac-amiens.fr")

    report = deliver_pending()

    assert (report.sent, report.failed) == (1, 1)
    assert [m["To"] for m in smtp.messages] == ["last@ac-amiens.fr"]
    assert rows()[0].status is MailStatus.failed and "impossible" in rows()[0].last_error


def test_a_relay_that_never_answers_is_retried_after_the_timeout(app):
    """A silent server (no greeting) must not hang the sweep: MAIL_SMTP_TIMEOUT bounds it."""
    import socket

    queue(1)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        app.extensions["mail"].server, app.extensions["mail"].port = silent.getsockname()
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_SMTP_TIMEOUT=0.5)

        report = deliver_pending()

    assert report.retried == 1
    assert rows()[0].status is MailStatus.pending and "connexion impossible" in rows()[0].last_error


# --- attachments ---------------------------------------------------------------------------------

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 40 + b"\r\n\x00trailer\n%%EOF\n"


@pytest.fixture
def document_template(app):
    """A template pair `mail/test/document` for mails that carry files."""
    from jinja2 import ChoiceLoader, DictLoader

    app.jinja_env.loader = ChoiceLoader([
        DictLoader({
            "mail/test/document.txt": "Bonjour {{ name }},\n\nVous trouverez le document joint.\n",
            "mail/test/document.html": '{% extends "mail/layout.html" %}{% block body %}'
                                       "<p>Bonjour {{ name }},</p>{% endblock %}",
        }),
        app.jinja_env.loader,
    ])  # fmt: skip
    return "test/document"


def test_attachments_arrive_byte_identical_with_their_names(smtp, document_template):
    long_name = "Attestation de présence – Zoé L'Hôte, atelier « TBI » du mercredi 12 mars 2026.pdf"
    mail.queue(
        document_template, "lea.martin@ac-amiens.fr", "Votre attestation", name="Léa",
        attachments=[("emargement-2026-03-12-amiens.pdf", "application/pdf", PDF),
                     (long_name, "application/pdf", PDF[::-1])],
    )  # fmt: skip
    db.session.commit()
    assert [(a.filename, a.data) for a in rows()[0].attachments] == [
        ("emargement-2026-03-12-amiens.pdf", PDF),
        (long_name, PDF[::-1]),
    ]

    assert deliver_pending().sent == 1

    [(_, _, raw)] = smtp.received
    assert max(map(len, raw_lines(raw))) <= 998
    assert b"filename*0*=utf-8''Attestation%20de%20pr%C3%A9sence" in raw  # RFC 2231
    [message] = smtp.messages
    assert message.get_content_type() == "multipart/mixed"
    alternative, *files = message.get_payload()
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html"]
    assert "Bonjour Léa," in message.get_body(("plain",)).get_content()
    assert [(f.get_filename(), f.get_content_type(), f.get_content_disposition(),
             f["Content-Transfer-Encoding"], f.get_payload(decode=True)) for f in files] == [
        ("emargement-2026-03-12-amiens.pdf", "application/pdf", "attachment", "base64", PDF),
        (long_name, "application/pdf", "attachment", "base64", PDF[::-1]),
    ]  # fmt: skip
    assert all(part.defects == [] for part in message.walk())


def test_an_attachment_beside_an_invitation(smtp, document_template, make_workshop, applicant):
    booking.register(make_workshop().id, applicant(1))
    calendar = rows()[0].calendar_ics.encode()
    mail.queue(
        document_template, "lea.martin1@ac-amiens.fr", "Votre convocation", name="Léa",
        invitation=("REQUEST", calendar),
        attachments=[("convocation.pdf", "application/pdf", PDF)],
    )  # fmt: skip
    db.session.commit()

    assert deliver_pending().sent == 2

    message = smtp.messages[-1]
    assert message["Subject"] == "Votre convocation"
    alternative, ics, pdf = message.get_payload()
    types = [part.get_content_type() for part in alternative.get_payload()]
    assert types == ["text/plain", "text/html", "text/calendar"]  # the calendar last
    calendar_part = alternative.get_payload()[-1]
    assert calendar_part.get_param("method") == "REQUEST"
    assert calendar_part.get_payload(decode=True) == calendar
    assert (ics.get_filename(), ics.get_payload(decode=True)) == ("invitation.ics", calendar)
    assert (pdf.get_filename(), pdf.get_content_type(), pdf.get_payload(decode=True)) == (
        "convocation.pdf",
        "application/pdf",
        PDF,
    )
    assert [f.get_filename() for f in message.iter_attachments()] == [
        "invitation.ics",
        "convocation.pdf",
    ]


def test_an_attachment_in_the_eml_file_without_a_mail_server(app, document_template):
    mail.queue(
        document_template,
        "lea.martin@ac-amiens.fr",
        "Essai",
        name="Léa",
        attachments=[("fiche élève.pdf", "application/pdf", PDF)],
    )
    db.session.commit()

    assert deliver_pending().sent == 1

    [file] = Path(app.config["MAIL_FILE_DIR"]).glob("*.eml")
    [attached] = message_from_bytes(file.read_bytes(), policy=policy.default).iter_attachments()
    assert (attached.get_filename(), attached.get_payload(decode=True)) == ("fiche élève.pdf", PDF)


@pytest.mark.parametrize("content_type", ["pdf", "application/pdf\r\nBcc: x@y.fr", ""])
def test_queue_refuses_a_bad_content_type(app, document_template, content_type):
    with pytest.raises(ValueError):
        mail.queue(
            document_template,
            "lea.martin@ac-amiens.fr",
            "Essai",
            name="Léa",
            attachments=[("fiche.pdf", content_type, PDF)],
        )


# --- purge of delivered bodies ------------------------------------------------------------------


def test_delivered_bodies_are_purged_after_30_days_the_rows_stay(
    app, clock, document_template, make_workshop, applicant
):
    booking.register(make_workshop().id, applicant(1))  # a mail with an invitation
    mail.queue(
        document_template,
        "lea.martin@ac-amiens.fr",
        "Votre attestation",
        name="Léa",
        attachments=[("attestation.pdf", "application/pdf", PDF)],
    )
    db.session.commit()
    assert deliver_pending().sent == 2
    sent_at = clock.now
    clock.advance(days=10)
    queue(1, "later@ac-amiens.fr")  # sent 10 days after the others
    assert deliver_pending().sent == 1

    clock.set(sent_at + timedelta(days=30))
    assert not mail.purge_delivered()  # not *more* than 30 days yet
    clock.advance(minutes=1)
    report = mail.purge_delivered()

    assert report.purged == 2 and str(report) == "2 purged"
    first, second, later = rows()
    for row in (first, second):
        assert (row.body_text, row.body_html, row.calendar_ics) == (None, None, None)
        assert row.purged_at == clock.now
        assert row.status is MailStatus.sent and row.sent_at == sent_at  # the log row stays
    assert first.calendar_method == "REQUEST" and second.subject == "Votre attestation"
    assert [(a.filename, a.data) for a in second.attachments] == [("attestation.pdf", None)]
    assert later.body_text == "Bonjour" and later.purged_at is None

    purged_at = clock.now
    clock.advance(days=1)
    assert mail.purge_delivered().purged == 0  # idempotent: a purged row is not touched again
    assert rows()[0].purged_at == purged_at
    clock.advance(days=10)
    assert mail.purge_delivered().purged == 1 and rows()[2].body_html is None


def test_mails_not_delivered_keep_their_bodies(app, clock):
    queue(1, "victim@ac-amiens.fr\r\nBcc: everyone@ac-amiens.fr")
    assert deliver_pending().failed == 1
    queue(1, "pending@ac-amiens.fr")  # still waiting: no delivery run since

    clock.advance(days=90)
    assert mail.purge_delivered().purged == 0
    assert [r.body_text for r in rows()] == ["Bonjour", "Bonjour"]


def test_the_daily_sweep_purges(app, clock):
    from scheduler.jobs import SWEEPS, purge_mail_bodies

    queue(1)
    deliver_pending()
    clock.advance(days=31)

    assert str(purge_mail_bodies()) == "1 purged"
    assert rows()[0].body_text is None
    assert not purge_mail_bodies()  # nothing to log the next day
    assert purge_mail_bodies in [sweep for sweep, _ in SWEEPS]
