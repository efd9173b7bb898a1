"""Changes reach people (issue 4, item 4): a moved workshop sends each confirmed teacher an
update with the new invitation (same UID, higher SEQUENCE) and each person waiting an
information mail; a cancelled one sends METHOD:CANCEL to seats and a mail to everyone, with
the reason, escaped. Checked as a real SMTP server receives them, with `ical`, `vobject` and
libical, through the services and through `flask ateliers deplacer|annuler`.
"""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import vobject

from app.booking import changes
from app.booking import services as booking
from app.booking.models import Registration, RegistrationStatus
from app.catalog.models import Room, Workshop, WorkshopStatus
from app.extensions import db
from app.mail.delivery import deliver_pending
from app.mail.models import OutboxMail
from tests.conftest import manage_secret, outbox
from tests.ical_checks import events
from tests.test_calendars import personal_feed_url
from tests.test_invitations import invitation_parts, itip_check, only_event

PARIS = ZoneInfo("Europe/Paris")
TEACHER, SECOND, WAITING = (
    "lea.martin1@ac-amiens.fr",
    "lea.martin2@ac-amiens.fr",
    "lea.martin3@ac-amiens.fr",
)


@pytest.fixture
def full_workshop(make_workshop, applicant):
    """Two seats taken, one person waiting."""
    workshop = make_workshop(capacity=2)
    for n in (1, 2, 3):
        booking.register(workshop.id, applicant(n))
    return workshop


def has_calendar(message) -> bool:
    return "text/calendar" in {part.get_content_type() for part in message.walk()}


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def snapshot(workshop_id: int):
    """Everything a refused change must leave untouched."""
    db.session.expire_all()
    workshop = db.session.get(Workshop, workshop_id)
    registrations = db.session.execute(
        sa.select(Registration.id, Registration.status, Registration.sequence)
        .where(Registration.workshop_id == workshop_id)
        .order_by(Registration.id)
    ).all()
    mails = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMail))
    return (
        workshop.starts_at,
        workshop.ends_at,
        workshop.room_id,
        workshop.status,
        workshop.sequence,
        registrations,
        mails,
    )


def add_room(site, name="Salle 2", capacity=16) -> Room:
    room = Room(site=site, name=name, capacity=capacity)
    db.session.add(room)
    db.session.commit()
    return room


# --- moving --------------------------------------------------------------------------------------


def test_moving_by_an_hour_sends_confirmed_teachers_the_new_invitation(smtp, clock, full_workshop):
    workshop = full_workshop
    old_start, old_end = workshop.starts_at, workshop.ends_at
    deliver_pending()
    clock.advance(minutes=5)

    outcome = changes.reschedule(workshop.id, starts_at=old_start + timedelta(hours=1))
    assert (outcome.confirmed, outcome.waiting, outcome.promoted) == (2, 1, 0)
    assert [c.label for c in outcome.changes] == ["Date et horaire"]
    deliver_pending()

    for address in (TEACHER, SECOND):
        confirmation, update = smtp.to(address)
        assert update["Subject"] == f"Atelier modifié : {workshop.title}"
        _, request = invitation_parts(confirmation)
        method, calendar = invitation_parts(update)
        assert method == "REQUEST"
        (uid, before), (same_uid, after) = only_event(request), only_event(calendar)
        assert uid == same_uid and re.fullmatch(r"registration-\d+@ateliers\.test", uid)
        assert after["sequence"] > before["sequence"]
        assert after["start"] == old_start + timedelta(hours=1)
        assert after["end"] == old_end + timedelta(hours=1)  # the length is kept
        assert after["status"] == "CONFIRMED"
        itip_check(calendar)
        text = text_of(update)
        assert "Date et horaire : lundi 9 mars 2026, 10 h – 13 h" in text
        assert "→ désormais : lundi 9 mars 2026, 11 h – 14 h" in text
        assert "/inscription/" in text  # a fresh management link
        assert "<s>lundi 9 mars 2026, 10 h – 13 h</s>" in html_of(update)

    waiting, info = smtp.to(WAITING)
    assert not has_calendar(info)
    assert "liste d'attente, en position 1" in text_of(info)
    assert "→ désormais : lundi 9 mars 2026, 11 h – 14 h" in text_of(info)
    db.session.expire_all()
    assert db.session.get(Workshop, workshop.id).sequence == 1


def test_an_update_then_a_cancellation_raise_the_sequence_each_time(
    smtp, clock, make_workshop, applicant
):
    workshop = make_workshop(capacity=1)
    booking.register(workshop.id, applicant(1))
    clock.advance(minutes=1)
    changes.reschedule(workshop.id, starts_at=workshop.starts_at + timedelta(days=1))
    clock.advance(minutes=1)
    changes.cancel_workshop(workshop.id, "Formatrice malade")
    deliver_pending()

    found = [only_event(invitation_parts(m)[1]) for m in smtp.to(TEACHER)]
    assert [invitation_parts(m)[0] for m in smtp.to(TEACHER)] == ["REQUEST", "REQUEST", "CANCEL"]
    assert len({uid for uid, _ in found}) == 1
    assert [event["sequence"] for _, event in found] == [0, 1, 2]
    assert found[-1][1]["status"] == "CANCELLED"
    assert found[-1][1]["start"] == found[1][1]["start"]  # the moved date is the one withdrawn


def test_moving_to_another_site_tells_the_new_place(
    smtp, clock, make_workshop, make_site, applicant
):
    workshop = make_workshop(capacity=2)
    booking.register(workshop.id, applicant(1))
    peronne = make_site(slug="peronne", name="Péronne", street="9 rue Saint-Sauveur", capacity=20)
    clock.advance(minutes=1)

    outcome = changes.reschedule(workshop.id, room_id=peronne.rooms[0].id)
    assert [c.label for c in outcome.changes] == ["Lieu"]  # both rooms are "Salle multimédia"
    deliver_pending()
    _, update = smtp.to(TEACHER)
    _, event = only_event(invitation_parts(update)[1])
    assert (
        event["location"]
        == "CRDP, site de Péronne – Salle multimédia, 9 rue Saint-Sauveur, 80026 Péronne"
    )
    assert "→ désormais : CRDP, site de Péronne, 9 rue Saint-Sauveur, 80026 Péronne" in text_of(
        update
    )
    itip_check(invitation_parts(update)[1])


def test_the_personal_feed_follows_the_move_then_the_cancellation(
    client, clock, make_workshop, applicant
):
    workshop = make_workshop(capacity=1)
    booking.register(workshop.id, applicant(1))
    booking.register(workshop.id, applicant(2))
    url = personal_feed_url(client, manage_secret(outbox("confirmed")[0]))
    [(uid, before)] = events(client.get(url).data).items()

    clock.advance(minutes=1)
    changes.reschedule(workshop.id, starts_at=workshop.starts_at + timedelta(hours=2))
    [(same_uid, moved)] = events(client.get(url).data).items()
    assert same_uid == uid
    assert moved["start"] == before["start"] + timedelta(hours=2)
    assert moved["sequence"] > before["sequence"]

    clock.advance(minutes=1)
    changes.cancel_workshop(workshop.id, "Salle indisponible")
    [(same_uid, cancelled)] = events(client.get(url).data).items()
    assert same_uid == uid
    assert cancelled["status"] == "CANCELLED" and cancelled["sequence"] > moved["sequence"]
    assert cancelled["summary"].startswith("ANNULÉ – ")

    page = client.get(f"/inscription/{manage_secret(outbox('workshop_cancelled')[0])}").get_data(
        as_text=True
    )
    assert "Atelier annulé" in page and "Annuler mon inscription" not in page


def test_no_change_sends_nothing(app, full_workshop):
    workshop = full_workshop
    before = snapshot(workshop.id)
    for change in (
        dict(starts_at=workshop.starts_at),
        dict(starts_at=workshop.starts_at.astimezone(PARIS), ends_at=workshop.ends_at),
        dict(room_id=workshop.room_id),
    ):
        outcome = changes.reschedule(workshop.id, **change)
        assert not outcome.changed
        assert snapshot(workshop.id) == before


def test_a_move_away_from_the_start_promotes_people_the_cutoff_held_back(
    smtp, clock, make_workshop, applicant
):
    workshop = make_workshop(capacity=1, starts_in=timedelta(hours=1))
    booking.register(workshop.id, applicant(1))
    booking.register(workshop.id, applicant(2))
    booking.cancel(manage_secret(outbox("confirmed")[0]))  # within 2 hours: nobody promoted
    assert (
        booking.registration_by_id(outbox("waiting")[0].subject_id).status
        is RegistrationStatus.waiting
    )

    new_start = workshop.starts_at + timedelta(days=7)
    outcome = changes.reschedule(workshop.id, starts_at=new_start)
    assert (outcome.confirmed, outcome.waiting, outcome.promoted) == (0, 1, 1)
    deliver_pending()
    *_, info, promoted = smtp.to(SECOND)
    assert not has_calendar(info)
    method, calendar = invitation_parts(promoted)
    _, event = only_event(calendar)
    assert method == "REQUEST" and event["start"] == new_start


@pytest.mark.parametrize(
    "case, message",
    [
        ("small room", "La salle « Salle 2 » n'a qu'une place pour 2 inscriptions confirmées"),
        ("room below capacity", "L'atelier offre 3 places et la salle « Salle 2 » n'en a que 2"),
        ("end before start", "La fin de l'atelier doit être après son début."),
        ("past", "La nouvelle date est déjà passée"),
        ("unknown room", "Aucune salle n'a l'identifiant 999999."),
        ("cancelled", "Cet atelier est annulé : il ne peut plus être déplacé."),
    ],
)
def test_refused_changes_write_nothing(app, clock, full_workshop, case, message):
    workshop = full_workshop
    if case == "room below capacity":
        workshop.capacity = 3
        db.session.commit()
    if case == "cancelled":
        changes.cancel_workshop(workshop.id, "Annulé")
    arguments = {
        "small room": lambda: dict(room_id=add_room(workshop.room.site, capacity=1).id),
        "room below capacity": lambda: dict(room_id=add_room(workshop.room.site, capacity=2).id),
        "end before start": lambda: dict(ends_at=workshop.starts_at - timedelta(minutes=1)),
        "past": lambda: dict(starts_at=clock.now - timedelta(hours=1)),
        "unknown room": lambda: dict(room_id=999999),
        "cancelled": lambda: dict(starts_at=workshop.starts_at + timedelta(hours=1)),
    }[case]()
    before = snapshot(workshop.id)
    with pytest.raises(changes.ChangeRefused, match=re.escape(message)):
        changes.reschedule(workshop.id, **arguments)
    assert snapshot(workshop.id) == before


def test_a_draft_or_unknown_workshop_is_not_found(app, make_workshop):
    draft = make_workshop(status=WorkshopStatus.draft)
    for workshop_id in (draft.id, 999999, 2**40):
        with pytest.raises(booking.WorkshopNotFound):
            changes.reschedule(workshop_id, starts_at=draft.starts_at + timedelta(hours=1))
        with pytest.raises(booking.WorkshopNotFound):
            changes.cancel_workshop(workshop_id, "Motif")


# --- cancelling ----------------------------------------------------------------------------------


def test_cancelling_tells_everyone_and_keeps_the_registrations(smtp, clock, full_workshop):
    workshop = full_workshop
    deliver_pending()
    clock.advance(minutes=1)

    outcome = changes.cancel_workshop(workshop.id, "  Formatrice malade.\nToutes nos excuses.  ")
    assert (outcome.confirmed, outcome.waiting) == (2, 1)
    deliver_pending()
    for address in (TEACHER, SECOND):
        confirmation, cancellation = smtp.to(address)
        assert cancellation["Subject"] == f"Atelier annulé : {workshop.title}"
        (uid, first), (method, calendar) = (
            only_event(invitation_parts(confirmation)[1]),
            invitation_parts(cancellation),
        )
        assert method == "CANCEL"
        same_uid, event = only_event(calendar)
        assert same_uid == uid and event["sequence"] > first["sequence"]
        assert event["status"] == "CANCELLED"
        itip_check(calendar)
        assert "Motif :\nFormatrice malade.\nToutes nos excuses.\n" in text_of(cancellation)
        assert "/inscription/" in text_of(cancellation)
    waiting, info = smtp.to(WAITING)
    assert not has_calendar(info)
    assert "Vous étiez en liste d'attente" in text_of(info) and "Formatrice malade." in text_of(
        info
    )

    db.session.expire_all()
    assert db.session.get(Workshop, workshop.id).status is WorkshopStatus.cancelled
    statuses = db.session.scalars(
        sa.select(Registration.status)
        .where(Registration.workshop_id == workshop.id)
        .order_by(Registration.id)
    ).all()
    assert statuses == [RegistrationStatus.confirmed] * 2 + [RegistrationStatus.waiting]


def test_cancelling_twice_sends_nothing_the_second_time(app, full_workshop):
    changes.cancel_workshop(full_workshop.id, "Motif")
    before = snapshot(full_workshop.id)
    outcome = changes.cancel_workshop(full_workshop.id, "Autre motif")
    assert not outcome.changed and outcome.confirmed == outcome.waiting == 0
    assert snapshot(full_workshop.id) == before


def test_the_reason_is_escaped_in_html_text_and_calendar(smtp, make_workshop, applicant):
    workshop = make_workshop()
    booking.register(workshop.id, applicant(1))
    reason = (
        'Travaux <script>alert("x")</script> & co\r\nEND:VEVENT\r\nBEGIN:VEVENT;x,y\\z\x00\u2028'
    )
    changes.cancel_workshop(workshop.id, reason)
    deliver_pending()

    cancellation = smtp.to(TEACHER)[-1]
    html = html_of(cancellation)
    assert "<script>" not in html
    assert (
        "Travaux &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co<br>END:VEVENT<br>BEGIN:VEVENT;x,y\\z"
        in html
    )
    assert 'Travaux <script>alert("x")</script> & co\nEND:VEVENT\nBEGIN:VEVENT;x,y\\z\n' in text_of(
        cancellation
    )
    _, calendar = invitation_parts(cancellation)
    only_event(calendar)  # still one event: the line breaks did not end it
    itip_check(calendar)
    description = vobject.readOne(calendar.decode()).vevent.description.value
    assert description.startswith(
        'Atelier annulé : Travaux <script>alert("x")</script> & co\nEND:VEVENT\nBEGIN:VEVENT;x,y\\z\n\n'
    )


@pytest.mark.parametrize("reason", ["", "   \n ", "x" * 501])
def test_a_missing_or_too_long_reason_is_refused(app, full_workshop, reason):
    before = snapshot(full_workshop.id)
    with pytest.raises(changes.ChangeRefused):
        changes.cancel_workshop(full_workshop.id, reason)
    assert snapshot(full_workshop.id) == before


def test_a_workshop_that_has_started_cannot_be_cancelled_or_moved(app, clock, full_workshop):
    clock.set(full_workshop.starts_at + timedelta(minutes=1))
    before = snapshot(full_workshop.id)
    with pytest.raises(changes.ChangeRefused, match="déjà commencé"):
        changes.cancel_workshop(full_workshop.id, "Motif")
    with pytest.raises(changes.ChangeRefused, match="déjà commencé"):
        changes.reschedule(full_workshop.id, starts_at=full_workshop.starts_at + timedelta(days=1))
    assert snapshot(full_workshop.id) == before


# --- the commands --------------------------------------------------------------------------------


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=["ateliers", *args])


def test_the_move_command_reads_paris_time(app, full_workshop):
    result = invoke(
        app,
        "deplacer",
        str(full_workshop.id),
        "--debut",
        "2026-03-11 14:00",
        "--fin",
        "2026-03-11 17:00",
    )
    assert result.exit_code == 0, result.output
    assert (
        "Date et horaire : lundi 9 mars 2026, 10 h – 13 h → mercredi 11 mars 2026, 14 h – 17 h"
        in result.output
    )
    assert "2 inscrit·es" in result.output and "1 en liste d'attente" in result.output
    db.session.expire_all()
    workshop = db.session.get(Workshop, full_workshop.id)
    assert workshop.starts_at == datetime(2026, 3, 11, 13, 0, tzinfo=UTC)
    assert workshop.ends_at == datetime(2026, 3, 11, 16, 0, tzinfo=UTC)
    assert len(outbox("changed")) == 3

    result = invoke(app, "deplacer", str(full_workshop.id), "--debut", "2026-03-11 14:00")
    assert result.exit_code == 0 and "Rien n'a changé" in result.output
    assert len(outbox("changed")) == 3


def test_a_time_the_spring_change_skips_is_refused(app, full_workshop):
    before = snapshot(full_workshop.id)
    result = invoke(app, "deplacer", str(full_workshop.id), "--debut", "2026-03-29 02:30")
    assert result.exit_code != 0
    assert "L'heure 2 h 30 n'existe pas le dimanche 29 mars 2026 à Paris" in result.output
    assert snapshot(full_workshop.id) == before


def test_a_time_the_autumn_change_doubles_takes_the_first_and_warns(app, clock, full_workshop):
    clock.set(datetime(2026, 10, 1, 9, 0, tzinfo=UTC))
    workshop = full_workshop
    workshop.starts_at = datetime(2026, 10, 20, 8, 0, tzinfo=UTC)
    workshop.ends_at = datetime(2026, 10, 20, 10, 0, tzinfo=UTC)
    db.session.commit()
    result = invoke(
        app,
        "deplacer",
        str(workshop.id),
        "--debut",
        "2026-10-25 02:30",
        "--fin",
        "2026-10-25 04:00",
    )
    assert result.exit_code == 0, result.output
    assert (
        "existe deux fois" in result.output
        and "la première, à l'heure d'été, est retenue" in result.output
    )
    db.session.expire_all()
    moved = db.session.get(Workshop, workshop.id)
    assert moved.starts_at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert moved.ends_at == datetime(2026, 10, 25, 3, 0, tzinfo=UTC)  # 04:00 CET


def test_the_move_command_explains_refusals(app, full_workshop):
    before = snapshot(full_workshop.id)
    cases = [
        (
            ["--debut", "2026-03-11 14:00", "--fin", "2026-03-11 13:00"],
            "La fin de l'atelier doit être après son début.",
        ),
        (["--salle", "999999"], "Aucune salle n'a l'identifiant 999999."),
        ([], "Indiquez au moins --debut, --fin ou --salle."),
        (["--debut", "11/03/2026"], "Invalid value"),
    ]
    for options, message in cases:
        result = invoke(app, "deplacer", str(full_workshop.id), *options)
        assert result.exit_code != 0 and message in result.output, (options, result.output)
    result = invoke(app, "deplacer", "999999", "--debut", "2026-03-11 14:00")
    assert "Aucun atelier publié n'a l'identifiant 999999." in result.output
    assert snapshot(full_workshop.id) == before


def test_the_cancel_command(app, full_workshop):
    result = invoke(app, "annuler", str(full_workshop.id))
    assert result.exit_code != 0 and "--motif" in result.output
    result = invoke(app, "annuler", str(full_workshop.id), "--motif", "")
    assert result.exit_code != 0 and "Indiquez le motif de l'annulation" in result.output

    result = invoke(app, "annuler", str(full_workshop.id), "--motif", "Formatrice malade")
    assert result.exit_code == 0, result.output
    assert "Atelier annulé. Courriels mis en file : 2 inscrit·es" in result.output
    assert len(outbox("workshop_cancelled")) == 3

    result = invoke(app, "annuler", str(full_workshop.id), "--motif", "Formatrice malade")
    assert result.exit_code == 0 and "déjà annulé" in result.output
    assert len(outbox("workshop_cancelled")) == 3
