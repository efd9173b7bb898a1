"""The relay's own refusals (issue 13, item 1), against a real aiosmtpd
server: only a 5xx to `RCPT TO` says the address is bad and frees the seat. A 5xx to `MAIL FROM`,
to `AUTH` or after `DATA` is the relay's fault: the mail waits (pending, retried with backoff), the
seat stays, nobody is cancelled or promoted, `/sante` and `/admin/courriels` say so; after a few
such refusals in a row the sweep stops sending and the relay is left alone for a while.
"""

import pytest
import sqlalchemy as sa
from aiosmtpd.smtp import AuthResult

from app.booking import services as booking
from app.booking.models import Registration, RegistrationStatus
from app.exchange.models import AttendeeStatus
from app.extensions import db
from app.mail.delivery import deliver_pending
from app.mail.models import MailStatus, OutboxMail
from app.mail.relay import RELAY_REFUSED
from tests.conftest import SMTPSink, login, manage_secret, outbox
from tests.test_exchange_attendees import everyone, register

SENDER_REFUSED = (550, "5.7.1 Sender address rejected: not owned by user")
CONTENT_REFUSED = (554, "5.7.1 Message rejected as spam by content filter")
RECIPIENT_REFUSED = (550, "5.1.1 Mailbox unknown")


class RelaySink(SMTPSink):
    """The test SMTP server, which can also refuse the sender, the content or the login."""

    def __init__(self):
        self.refuse_sender = None  # (code, text) to answer MAIL FROM with
        self.refuse_data = None  # (code, text) to answer the end of DATA with
        self.require_login = None  # the only (user, password) AUTH accepts, when set
        self.mail_from_count = 0  # MAIL FROM commands received: mails the app tried to send
        super().__init__(authenticator=self.authenticate, auth_require_tls=False)

    def make_handler(self):
        sink = self

        class Handler(type(super().make_handler())):
            async def handle_MAIL(self, server, session, envelope, address, mail_options):
                sink.mail_from_count += 1
                if sink.refuse_sender:
                    return "{} {}".format(*sink.refuse_sender)
                envelope.mail_from = address
                envelope.mail_options.extend(mail_options)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                if sink.refuse_data:
                    return "{} {}".format(*sink.refuse_data)
                return await super().handle_DATA(server, session, envelope)

        return Handler()

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        given = (auth_data.login.decode(), auth_data.password.decode())
        # handled=False: aiosmtpd answers a failure itself (535 5.7.8).
        return AuthResult(success=given == self.require_login, handled=False)

    def accept_everything(self):
        self.refuse_sender = self.refuse_data = None
        self.reject.clear()


@pytest.fixture
def smtp():
    """Overrides conftest's: the app fixture points MAIL_SERVER at this one."""
    sink = RelaySink()
    sink.start()
    yield sink
    sink.stop()


def refuse(app, smtp, kind: str, address: str) -> None:
    """Make the relay refuse: the sender, the content, our login, or the recipient `address`."""
    if kind == "MAIL FROM":
        smtp.refuse_sender = SENDER_REFUSED
    elif kind == "DATA":
        smtp.refuse_data = CONTENT_REFUSED
    elif kind == "AUTH":
        smtp.require_login = ("ateliers", "le bon mot de passe")
        settings = app.extensions["mail"]
        settings.username, settings.password = "ateliers", "un mot de passe perime"
    else:
        smtp.reject[address] = RECIPIENT_REFUSED


def sweep_until_quiet(clock, rounds=20):
    """Run delivery as the scheduler would, an hour apart: every backoff has passed."""
    for _ in range(rounds):
        clock.advance(hours=1)
        if not deliver_pending():
            return


@pytest.fixture
def half_day(make_half_day):
    """As in test_exchange_attendees: 2 seats in person."""
    return make_half_day(capacity=2)


def registrations() -> dict[str, Registration]:
    db.session.expire_all()
    return {
        r.email: r for r in db.session.scalars(sa.select(Registration).order_by(Registration.id))
    }


def statuses(people) -> list[str]:
    return [p.status.value for p in people.values()]


def queue(n, recipient="lea.martin{}@ac-amiens.fr"):
    for i in range(n):
        db.session.add(
            OutboxMail(
                template="test",
                recipient=recipient.format(i),
                subject="Essai",
                body_text="Bonjour",
                body_html="<p>Bonjour</p>",
            )
        )
    db.session.commit()


# --- who loses a seat --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["MAIL FROM", "DATA", "AUTH", "RCPT TO"])
def test_only_a_refused_recipient_loses_a_seat(
    app, client, smtp, clock, make_workshop, applicant, kind
):
    """2 confirmed, 4 waiting; the relay refuses: only a 5xx to RCPT TO cancels (that person)."""
    workshop = make_workshop(capacity=2)
    for n in range(1, 7):
        booking.register(workshop.id, applicant(n))
    refuse(app, smtp, kind, "lea.martin1@ac-amiens.fr")

    report = deliver_pending()

    people = registrations()
    cancelled = [r.email for r in people.values() if r.status is RegistrationStatus.cancelled]
    if kind == "RCPT TO":  # as before: the typo frees its seat for the first waiting
        assert cancelled == ["lea.martin1@ac-amiens.fr"]
        assert people["lea.martin3@ac-amiens.fr"].status is RegistrationStatus.confirmed
        assert client.get("/sante").get_json()["mail_relay"] == "ok"  # not the relay's fault
        return
    assert cancelled == []
    assert statuses(people) == ["confirmed"] * 2 + ["waiting"] * 4
    assert [people[f"lea.martin{n}@ac-amiens.fr"].waiting_position for n in range(3, 7)] == [
        1,
        2,
        3,
        4,
    ]
    # The breaker: 3 refusals in a row and the sweep stops; the other 3 mails were not tried.
    assert (report.sent, report.retried, report.failed, report.held) == (0, 3, 0, 3)
    assert smtp.mail_from_count == (0 if kind == "AUTH" else 3)
    mails = outbox()
    assert {m.status for m in mails} == {MailStatus.pending}
    tried, untouched = mails[:3], mails[3:]
    for row in tried:
        assert row.attempts == 1 and row.last_error.startswith(RELAY_REFUSED)
        assert row.next_attempt_at > clock.now
    assert all(m.attempts == 0 and m.last_error is None and m.claim is None for m in untouched)
    answer = {"MAIL FROM": SENDER_REFUSED, "DATA": CONTENT_REFUSED, "AUTH": (535, "")}[kind]
    assert f"{answer[0]} {answer[1]}".strip() in tried[-1].last_error


def test_a_cancelled_seat_under_a_refusing_relay_goes_to_one_person_who_keeps_it(
    smtp, clock, make_workshop, applicant
):
    """The incident: a seat freed while the relay refused the sender was promoted to the 4 people
    waiting one after another, each promotion 'undeliverable', and the seat stayed empty."""
    workshop = make_workshop(capacity=1)
    for n in range(1, 6):
        booking.register(workshop.id, applicant(n))
    assert deliver_pending().sent == 5  # relay fine: 1 confirmed, 4 waiting
    smtp.refuse_sender = SENDER_REFUSED

    booking.cancel(manage_secret(outbox("confirmed")[0]))
    for _ in range(6):  # sweeps over several hours of outage
        deliver_pending()
        clock.advance(minutes=61)

    people = registrations()
    assert statuses(people) == ["cancelled", "confirmed", "waiting", "waiting", "waiting"]
    assert [r.waiting_position for r in list(people.values())[2:]] == [1, 2, 3]
    assert len(outbox("promoted")) == 1 and outbox("promoted")[0].status is MailStatus.pending

    smtp.accept_everything()
    sweep_until_quiet(clock)
    assert [m["Subject"] for m in smtp.to("lea.martin2@ac-amiens.fr")] == [
        f"Liste d'attente : {workshop.title}",
        f"Une place s'est libérée : {workshop.title}",
    ]
    assert {m.status for m in outbox()} == {MailStatus.sent}
    assert statuses(registrations()) == ["cancelled", "confirmed", "waiting", "waiting", "waiting"]


@pytest.mark.parametrize("kind", ["MAIL FROM", "DATA"])
def test_exchange_attendees_keep_their_places_too(client, half_day, smtp, kind):
    """The exchange half-day's receiver: 2 seats (fixture), 2 confirmed and 2 waiting stay."""
    people = [register(client, n) for n in range(1, 5)]
    refuse(client.application, smtp, kind, "")
    for _ in range(3):
        deliver_pending()
    assert [a.status for a in everyone()] == [AttendeeStatus.confirmed] * 2 + [
        AttendeeStatus.waiting
    ] * 2
    assert [a.waiting_position for a in everyone()[2:]] == [1, 2]
    assert smtp.received == [] and len(people) == 4


# --- the breaker and the recovery ----------------------------------------------------------------


def test_the_breaker_stops_the_sweep_and_leaves_the_relay_alone_a_while(app, smtp, clock):
    queue(10)
    smtp.refuse_sender = SENDER_REFUSED

    report = deliver_pending()
    assert (report.retried, report.held) == (3, 7) and report.relay_refused
    assert "550 5.7.1 Sender address rejected" in str(report)
    assert smtp.mail_from_count == 3

    # The next sweeps, seconds later, send nothing: the relay is held until its retry time.
    assert not deliver_pending()
    clock.advance(seconds=30)
    assert not deliver_pending()
    assert smtp.mail_from_count == 3

    # Once the hold is over, one more probe of 3, then a longer hold: never the whole outbox.
    clock.advance(minutes=2)
    assert deliver_pending().retried == 3
    clock.advance(minutes=2)
    assert not deliver_pending()
    assert smtp.mail_from_count == 6
    assert [m.attempts for m in outbox()] == [2] * 3 + [0] * 7  # the same 3 probed again
    assert {m.status for m in outbox()} == {MailStatus.pending}


def test_the_scheduler_sweep_stops_at_the_breaker(app, smtp):
    from scheduler import jobs

    app.config["MAIL_BATCH_SIZE"] = 2  # a batch smaller than the breaker: the loop must stop
    queue(10)
    smtp.refuse_data = CONTENT_REFUSED
    report = jobs.deliver_outbox()
    assert report.retried == 3 and smtp.mail_from_count == 3


def test_once_the_relay_accepts_again_every_waiting_mail_goes_once(app, smtp, clock):
    queue(10)
    smtp.refuse_data = CONTENT_REFUSED
    for _ in range(4):  # an outage of a few hours
        deliver_pending()
        clock.advance(minutes=70)
    assert smtp.received == []

    smtp.accept_everything()
    sweep_until_quiet(clock)

    ids = [m["Message-ID"] for m in smtp.messages]
    assert len(ids) == 10 and len(set(ids)) == 10
    assert sorted(m["To"] for m in smtp.messages) == sorted(
        f"lea.martin{i}@ac-amiens.fr" for i in range(10)
    )
    assert {m.status for m in outbox()} == {MailStatus.sent}


def test_one_refused_content_among_accepted_mails_waits_and_the_rest_goes(app, smtp, clock):
    """A single 554 (one mail the filter dislikes) trips nothing: that mail waits, alone."""
    queue(3)
    smtp.refuse_data = None
    refused_once = {"done": False}
    handler = smtp.controller.handler
    original = type(handler).handle_DATA

    async def picky(self, server, session, envelope):
        if envelope.rcpt_tos == ["lea.martin1@ac-amiens.fr"] and not refused_once["done"]:
            refused_once["done"] = True
            return "554 5.7.1 Attachment refused"
        return await original(self, server, session, envelope)

    type(handler).handle_DATA = picky
    report = deliver_pending()
    assert (report.sent, report.retried, report.held, report.relay_refused) == (2, 1, 0, None)
    waiting = [m for m in outbox() if m.status is MailStatus.pending]
    assert [m.recipient for m in waiting] == ["lea.martin1@ac-amiens.fr"]
    clock.advance(minutes=2)
    assert deliver_pending().sent == 1


# --- what the coordinators and the monitoring see -----------------------------------------------


def test_health_and_outbox_page_say_the_relay_refuses(app, client, smtp, clock, make_staff):
    queue(4)
    smtp.refuse_sender = SENDER_REFUSED
    deliver_pending()

    health = client.get("/sante").get_json()
    assert health["status"] == "ok" and health["outbox_failed"] == 0
    assert "serveur d'envoi refuse" in health["mail_relay"]
    assert "550 5.7.1 Sender address rejected: not owned by user" in health["mail_relay"]

    login(client, make_staff("coordinator"))
    page = client.get("/admin/courriels").get_data(as_text=True).replace("&#39;", "'")
    assert "serveur d'envoi refuse" in page
    assert "550 5.7.1 Sender address rejected: not owned by user" in page

    smtp.accept_everything()
    sweep_until_quiet(clock)
    assert client.get("/sante").get_json()["mail_relay"] == "ok"
    page = client.get("/admin/courriels").get_data(as_text=True).replace("&#39;", "'")
    assert "serveur d'envoi refuse" not in page


def test_a_long_relay_outage_does_not_count_toward_giving_up(app, smtp, clock):
    """Ten hours refused by the relay, then one 4xx: the mail is retried, not abandoned."""
    queue(1)
    smtp.refuse_sender = SENDER_REFUSED
    for _ in range(10):
        deliver_pending()
        clock.advance(minutes=61)
    [row] = outbox()
    assert row.status is MailStatus.pending and row.attempts == 10

    smtp.refuse_sender = None
    smtp.reject["lea.martin0@ac-amiens.fr"] = (451, "4.3.0 Try again later")
    assert deliver_pending().retried == 1
    [row] = outbox()
    assert (row.status, row.attempts) == (MailStatus.pending, 1)

    smtp.accept_everything()
    clock.advance(minutes=2)
    assert deliver_pending().sent == 1
