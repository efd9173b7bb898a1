"""Personal data is kept for a set period after the workshop, then anonymised by the
scheduler's daily sweep; hours, figures and certificates survive, names and addresses do not."""

from datetime import timedelta

import sqlalchemy as sa

from app.booking import services
from app.booking.feeds import feed_key
from app.booking.models import Registration
from app.calendars.models import FeedState
from app.extensions import db
from app.mail.delivery import deliver_pending
from app.mail.models import OutboxAttachment, OutboxMail
from app.staff import audit
from app.staff.models import AuditEntry
from app.tokens import Token
from scheduler import jobs
from tests.conftest import manage_secret, outbox

RETENTION = timedelta(days=730)


def registered(make_workshop, applicant, n=1, **fields):
    workshop = make_workshop(title=fields.pop("title", "Atelier ENT"))
    result = services.register(workshop.id, applicant(n, **fields))
    return result.row


def test_registrations_past_the_retention_period_lose_names_addresses_links_and_mail_bodies(
    client, make_workshop, applicant, clock
):
    old = registered(make_workshop, applicant, last_name="L'Hôte-Dupré", first_name="Zoé")
    same_person_old = registered(make_workshop, applicant)
    old_mail = outbox()[0]
    old_mail.attachments = [
        OutboxAttachment(filename="a.pdf", content_type="application/pdf", data=b"%PDF")
    ]
    secret = manage_secret(old_mail)
    audit.record(
        None,
        "registration.add",
        "registration",
        old.id,
        "Inscription ajoutée : Zoé L'Hôte-Dupré",
        last_name="L'Hôte-Dupré",
    )
    db.session.add(
        FeedState(key=feed_key("lea.martin1@ac-amiens.fr"), etag="x", first_seen_at=clock.now)
    )
    db.session.commit()
    assert deliver_pending().sent == 2
    email = old.email

    clock.advance(days=7)  # the workshops are over…
    clock.advance(days=RETENTION.days - 1)  # …but not for long enough
    assert not jobs.purge_personal_data()

    clock.advance(days=2)
    recent = registered(make_workshop, applicant, 2)  # someone else, registered today
    report = jobs.purge_personal_data()

    assert report.people == 2
    for registration in (old, same_person_old):
        db.session.refresh(registration)
        assert registration.full_name == "Personne anonymisée"
        assert registration.email.endswith("@anonyme.invalid")
        assert registration.school == "École Jules Ferry"  # institutional: the figures count it
    # One pseudonym per person: "distinct teachers" of past years stays right.
    assert old.email == same_person_old.email != email
    assert email not in db.session.scalars(sa.select(OutboxMail.recipient)).all()
    db.session.refresh(old_mail)
    assert (old_mail.body_text, old_mail.body_html, old_mail.calendar_ics) == (None, None, None)
    assert old_mail.attachments[0].data is None
    assert client.get(f"/inscription/{secret}").status_code == 404
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Token)
            .where(Token.owner_id == old.id, Token.revoked_at.is_(None))
        )
        == 0
    )
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.target_id == old.id))
    assert "Hôte" not in entry.summary + entry.details and entry.action == "registration.add"
    assert db.session.get(FeedState, feed_key(email)) is None
    # The recent registration and its mail are untouched; a second run finds nothing.
    db.session.refresh(recent)
    assert recent.email == "lea.martin2@ac-amiens.fr" and recent.full_name == "Léa MartinC"
    assert not jobs.purge_personal_data()


def test_an_address_still_in_use_keeps_its_personal_feed_state(make_workshop, applicant, clock):
    old = registered(make_workshop, applicant)
    key = feed_key(old.email)
    db.session.add(FeedState(key=key, etag="x", first_seen_at=clock.now))
    db.session.commit()
    clock.advance(days=RETENTION.days + 8)
    recent = registered(make_workshop, applicant)  # the same teacher, registered again

    assert jobs.purge_personal_data().people == 1

    assert db.session.get(FeedState, key) is not None
    assert db.session.get(Registration, recent.id).email == "lea.martin1@ac-amiens.fr"


def test_a_mail_never_delivered_is_abandoned_not_sent_years_later(make_workshop, applicant, clock):
    old = registered(make_workshop, applicant)
    clock.advance(days=RETENTION.days + 8)

    jobs.purge_personal_data()

    (mail,) = outbox()
    assert mail.status.value == "failed" and "durée de conservation" in mail.last_error
    assert mail.recipient.endswith("@anonyme.invalid") and mail.body_text is None
    assert deliver_pending().sent == 0
    assert db.session.get(Registration, old.id).full_name == "Personne anonymisée"


def test_the_privacy_notice_states_the_retention_period(client):
    page = client.get("/confidentialite").get_data(as_text=True)
    assert "2 ans après l'atelier" in page


def test_half_day_attendees_and_presenters_are_anonymised_after_the_period(
    client, make_half_day, make_contribution, clock
):
    from app.exchange.models import AttendanceMode, Attendee, AttendeeStatus, ContributionStatus
    from app.tokens import TokenPurpose, mint

    half_day = make_half_day()
    proposal = make_contribution(
        half_day,
        status=ContributionStatus.accepted,
        presenters="Zoé L'Hôte",
        title="La classe inversée avec l'ENT",
    )
    person = Attendee(
        half_day=half_day,
        last_name="Martin",
        first_name="Léa",
        email="lea@ac-amiens.fr",
        organisation="École Jules Ferry",
        mode=AttendanceMode.remote,
        status=AttendeeStatus.confirmed,
    )
    db.session.add(person)
    db.session.flush()
    attendee_secret = mint(TokenPurpose.exchange_attendee, person.id)
    proposal_secret = mint(TokenPurpose.exchange_proposal, proposal.id)
    audit.record(None, "contribution.decide", "contribution", proposal.id, "Acceptée : Zoé L'Hôte")
    db.session.commit()

    clock.set(half_day.ends_at + RETENTION - timedelta(days=1))
    assert not jobs.purge_personal_data()
    clock.advance(days=2)
    assert jobs.purge_personal_data().people == 2

    db.session.refresh(person)
    db.session.refresh(proposal)
    assert person.full_name == "Personne anonymisée" and person.email.endswith("@anonyme.invalid")
    assert person.organisation == "École Jules Ferry"
    assert proposal.presenters == "Intervenant·e anonymisé·e" and proposal.email.endswith(
        "@anonyme.invalid"
    )
    assert proposal.title == "La classe inversée avec l'ENT"  # the programme as it was
    assert client.get(f"/rencontres/2025/inscription/{attendee_secret}").status_code == 404
    assert client.get(f"/rencontres/2025/propositions/{proposal_secret}").status_code == 404
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.target_kind == "contribution"))
    assert "Hôte" not in entry.summary
    assert not jobs.purge_personal_data()
