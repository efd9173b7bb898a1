"""The exchange half-day's agenda from the database: the draft built by the solver (by a
coordinator or by the scheduler at the deadline), adjusted by hand under the solver's hard
constraints, and published as versions that tell exactly the presenters whose slot appeared,
moved or vanished — with invitations read back by independent parsers."""

import html
import threading
from datetime import UTC, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from app.calendars import lint
from app.exchange.models import (
    AgendaSlot,
    AgendaVersion,
    Contribution,
    ContributionFormat,
    ContributionStatus,
    Equipment,
    HalfDay,
    HalfDayState,
    SlotKind,
)
from app.exchange.planning.build import build_draft, build_due_agendas
from app.exchange.planning.draft import draft_of, draft_problems
from app.exchange.planning.edits import REMOVED_BY_HAND
from app.exchange.planning.presenters import presenter_key
from app.exchange.services import at_local, local_time
from app.exchange.solver_text import NO_SLOT
from app.extensions import db
from app.formatting import PARIS
from app.mail.delivery import deliver_pending
from app.staff.models import AuditEntry
from scheduler import jobs
from tests.conftest import login, outbox
from tests.ical_checks import events, lines
from tests.test_invitations import invitation_parts, itip_check

ACCEPTED = ContributionStatus.accepted
AGENDA = "/admin/rencontres/2025/agenda"
AFTER_DEADLINE = datetime(2026, 4, 1, 16, 5, tzinfo=UTC)  # 18 h 05 in Paris, 1 April 2026


@pytest.fixture
def coordinator(client, make_staff):
    user = make_staff("coordinator")
    login(client, user)
    return user


@pytest.fixture
def half_day(make_half_day):
    """The 2025 half-day, its call closed (under review): 13:30–17:00, contributions from 13:45
    to 16:45 around a 20-minute break."""
    return make_half_day(state=HalfDayState.review)


@pytest.fixture
def accepted(make_contribution, half_day):
    def make(**fields):
        return make_contribution(half_day, status=ACCEPTED, **fields)

    return make


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def draft_slots(half_day) -> list[AgendaSlot]:
    return list(
        db.session.scalars(
            sa.select(AgendaSlot)
            .where(AgendaSlot.half_day_id == half_day.id, AgendaSlot.version_id.is_(None))
            .order_by(AgendaSlot.id)
        )
    )


def slot_of(contribution, version_id=None) -> AgendaSlot | None:
    condition = (
        AgendaSlot.version_id.is_(None)
        if version_id is None
        else AgendaSlot.version_id == version_id
    )
    return db.session.scalar(
        sa.select(AgendaSlot).where(AgendaSlot.contribution_id == contribution.id, condition)
    )


def placed_ids(half_day) -> set[int]:
    return {s.contribution_id for s in draft_slots(half_day) if s.kind is SlotKind.contribution}


def audit_actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))


def snapshot(half_day):
    """Everything a refused change must leave as it was."""
    db.session.expire_all()
    return (
        [
            (s.id, s.kind, s.contribution_id, s.room_id, s.starts_at, s.ends_at)
            for s in draft_slots(half_day)
        ],
        db.session.get(HalfDay, half_day.id).state,
        audit_actions(),
        len(outbox()),
        db.session.scalar(sa.select(sa.func.count()).select_from(AgendaVersion)),
    )


def paris(hhmm: str, half_day) -> datetime:
    return at_local(half_day, time.fromisoformat(hhmm))


def rooms(half_day) -> dict:
    return {room.name: room for room in half_day.rooms}


def put(half_day, contribution, room_name: str, hhmm: str) -> None:
    """Set a contribution's draft slot directly (test set-up, not a coordinator's change)."""
    slot = slot_of(contribution)
    slot.room_id = rooms(half_day)[room_name].id
    slot.starts_at = paris(hhmm, half_day)
    slot.ends_at = slot.starts_at + timedelta(minutes=contribution.duration_minutes)
    db.session.commit()


def mails(template: str):
    return outbox(f"exchange/{template}")


def only_event(calendar: bytes) -> tuple[str, dict]:
    [(uid, event)] = events(calendar).items()
    return uid, event


# --- building the draft from the database ------------------------------------------------------


def test_the_build_places_accepted_contributions_only_and_stores_the_reasons(
    half_day, accepted, make_contribution, coordinator, client
):
    placed = accepted(title="Le cahier de textes dans l'ENT")
    whiteboard = accepted(title="Le TBI en maternelle", needs={Equipment.whiteboard})
    others = [
        make_contribution(half_day, status=status, title=f"Pas au programme ({status.value})")
        for status in (
            ContributionStatus.submitted,
            ContributionStatus.declined,
            ContributionStatus.withdrawn,
        )
    ]

    report = build_draft(half_day, coordinator)

    assert (report.placed, report.left_out) == (1, 1)
    assert placed_ids(half_day) == {placed.id}
    db.session.expire_all()
    assert whiteboard.left_out_reason == "aucune salle n'a l'équipement demandé : « tbi »"
    assert placed.left_out_reason is None
    assert all(other.left_out_reason is None for other in others)
    assert half_day.state is HalfDayState.draft and half_day.agenda_built_at is not None
    plenaries = {s.kind: s for s in draft_slots(half_day) if s.kind is not SlotKind.contribution}
    auditorium = half_day.auditorium
    assert (plenaries[SlotKind.opening].starts_at, plenaries[SlotKind.opening].ends_at) == (
        half_day.starts_at,
        half_day.starts_at + timedelta(minutes=15),
    )
    assert (
        plenaries[SlotKind.opening].room_id == plenaries[SlotKind.closing].room_id == auditorium.id
    )
    assert local_time(plenaries[SlotKind.closing].starts_at) == time(16, 45)
    pause = plenaries[SlotKind.break_]
    assert pause.room_id is None and pause.ends_at - pause.starts_at == timedelta(minutes=20)
    assert audit_actions() == ["exchange.agenda.build"]

    text = page(client.get(AGENDA))
    assert "Le cahier de textes dans l'ENT" in text
    assert (
        "Le TBI en maternelle" in text and "aucune salle n'a l'équipement demandé : « tbi »" in text
    )
    assert "Pas au programme" not in text
    assert "Temps morts" in text and "Changements de thème" in text and "Charge des salles" in text
    assert "Première publication" in text


def test_the_button_builds_then_rebuilding_needs_a_confirmation(
    half_day, accepted, coordinator, client
):
    contribution = accepted()
    response = client.post(f"{AGENDA}/construire")
    assert response.status_code == 302
    assert "1 intervention(s) placée(s)" in page(client.get(AGENDA))
    put(half_day, contribution, "Salle 2", "16:15")
    before = snapshot(half_day)

    refused = client.post(f"{AGENDA}/construire")  # a double click, or an old page
    assert refused.status_code == 422
    assert "cochez la confirmation : les changements faits à la main seront perdus" in page(refused)
    assert snapshot(half_day) == before

    assert client.post(f"{AGENDA}/construire", data={"confirmer": "y"}).status_code == 302
    assert audit_actions() == ["exchange.agenda.build", "exchange.agenda.build"]
    slot = slot_of(contribution)
    assert (rooms(half_day)["Salle 2"].id, local_time(slot.starts_at)) != (
        slot.room_id,
        time(16, 15),
    )


def test_no_build_while_the_call_is_open(make_half_day, make_contribution, coordinator, client):
    half_day = make_half_day()  # call open until 1 April 2026, the clock says 2 March
    make_contribution(half_day, status=ACCEPTED)
    response = client.post(f"{AGENDA}/construire")
    assert response.status_code == 422
    assert "L'appel à propositions est ouvert jusqu'au mercredi 1er avril 2026, 18 h" in page(
        response
    )
    assert draft_slots(half_day) == [] and half_day.state is HalfDayState.call_open
    assert "construit automatiquement à cette date limite" in page(client.get(AGENDA))


def test_settings_that_cannot_hold_the_plenaries_give_a_message_and_write_nothing(
    make_half_day, make_contribution, coordinator, client
):
    half_day = make_half_day(state=HalfDayState.review, opening_minutes=100, closing_minutes=100)
    contribution = make_contribution(half_day, status=ACCEPTED)
    before = snapshot(half_day)
    response = client.post(f"{AGENDA}/construire")
    assert response.status_code == 422
    assert "Les réglages de la demi-journée ne permettent pas de construire l'agenda" in page(
        response
    )
    assert "trop courte pour les plénières et la pause" in page(response)
    assert snapshot(half_day) == before
    assert db.session.get(Contribution, contribution.id).left_out_reason is None
    assert db.session.get(HalfDay, half_day.id).agenda_built_at is None


def test_the_same_presenter_written_differently_is_one_presenter(half_day, accepted):
    """Pairs of 30-minute talks whose presenters are free for 30 minutes only: the same person
    (however their name is typed, or whatever name comes with the same address) gives one talk
    of the pair. Each window has a free room for every distinct person in it (three rooms)."""
    early = {"available_from": time(13, 45), "available_until": time(14, 15)}
    late = {"available_from": time(16, 15), "available_until": time(16, 45)}
    same_name = [
        accepted(presenters="Hélène Martin", email="h.martin@ac-amiens.fr", **early),
        accepted(presenters="  HELENE   martin ", email="helene.martin@ac-amiens.fr", **early),
    ]
    strangers = [
        accepted(presenters="Anne Petit", email="anne.petit@ac-amiens.fr", **early),
        accepted(presenters="Anne Petitjean", email="anne.petitjean@ac-amiens.fr", **early),
    ]
    same_email = [
        accepted(presenters="Paul Durand", email="paul.durand@ac-amiens.fr", **late),
        accepted(presenters="P. Durand\nJeanne Roy", email="paul.durand@ac-amiens.fr", **late),
    ]
    build_draft(half_day)
    placed = placed_ids(half_day)
    db.session.expire_all()
    for pair in (same_name, same_email):
        assert len(placed & {c.id for c in pair}) == 1
        [left] = [c for c in pair if c.id not in placed]
        assert left.left_out_reason == NO_SLOT
    assert {c.id for c in strangers} <= placed

    assert presenter_key(" Hélène  MARTIN ") == presenter_key("helene martin")
    assert presenter_key("Ann’Sophie") == presenter_key("ann'sophie")


def test_no_accepted_contribution_gives_a_draft_with_the_plenaries_only(
    half_day, make_contribution, client, coordinator
):
    make_contribution(half_day)  # submitted
    build_draft(half_day)
    assert {s.kind for s in draft_slots(half_day)} == {
        SlotKind.opening,
        SlotKind.break_,
        SlotKind.closing,
    }
    response = client.post(f"{AGENDA}/publier")
    assert response.status_code == 422
    assert "ne contient aucune intervention : il n'y a rien à publier" in page(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AgendaVersion)) == 0


# --- the deadline sweep ---------------------------------------------------------------------------


def test_the_sweep_closes_the_call_and_builds_the_draft_once(
    make_half_day, make_contribution, clock
):
    assert (jobs.build_exchange_agendas, 5 * 60) in jobs.SWEEPS
    half_day = make_half_day()  # call open until 1 April 2026, 18 h in Paris
    contribution = make_contribution(half_day, status=ACCEPTED)
    make_contribution(half_day)  # still submitted: not placed

    clock.set(AFTER_DEADLINE - timedelta(minutes=10))
    report = jobs.build_exchange_agendas()
    assert not report and str(report) == "0 built, 0 failed"
    assert half_day.state is HalfDayState.call_open and draft_slots(half_day) == []

    clock.set(AFTER_DEADLINE)
    report = jobs.build_exchange_agendas()
    assert report and str(report) == "1 built, 0 failed"
    db.session.expire_all()
    assert half_day.state is HalfDayState.draft and half_day.agenda_built_at == AFTER_DEADLINE
    assert placed_ids(half_day) == {contribution.id}
    assert audit_actions() == ["exchange.call.close", "exchange.agenda.build"]
    built = snapshot(half_day)

    clock.advance(minutes=5)
    again = jobs.build_exchange_agendas()
    assert not again
    assert snapshot(half_day) == built


def test_the_sweep_closes_the_call_even_when_the_settings_cannot_hold_the_agenda(
    make_half_day, clock
):
    half_day = make_half_day(opening_minutes=120, closing_minutes=90)
    clock.set(AFTER_DEADLINE)
    report = build_due_agendas()
    assert (report.built, report.failed) == (0, 1)
    db.session.expire_all()
    assert half_day.state is HalfDayState.review and half_day.agenda_built_at is None
    assert draft_slots(half_day) == []
    assert audit_actions() == ["exchange.call.close", "exchange.agenda.build_failed"]
    assert not build_due_agendas()  # the coordinators take over; no retry loop


class TestTwoSchedulers:
    """Two scheduler processes sweeping at once: the half-day's lock and the check made under it
    build the draft once."""

    @pytest.fixture
    def app(self, live_app):
        return live_app

    def test_the_draft_is_built_once(self, app, make_half_day, make_contribution, clock):
        half_day = make_half_day()
        for _ in range(3):
            make_contribution(half_day, status=ACCEPTED)
        clock.set(AFTER_DEADLINE)
        barrier = threading.Barrier(2)
        reports, errors = [], []

        def run():
            with app.app_context():
                try:
                    barrier.wait(10)
                    reports.append(jobs.build_exchange_agendas())
                except Exception as error:  # surfaced below
                    errors.append(error)
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)

        assert errors == []
        assert sorted(r.built for r in reports) == [0, 1]
        db.session.expire_all()
        assert audit_actions() == ["exchange.call.close", "exchange.agenda.build"]
        assert len(draft_slots(half_day)) == 3 + 3  # plenaries, break, three contributions


# --- adjusting by hand ---------------------------------------------------------------------------


@pytest.fixture
def arranged(half_day, accepted):
    """A built draft, arranged at known places (the break set at 15 h 15 – 15 h 35, whatever the
    solver chose):

    Auditorium  13:45–14:15  A  Hélène Martin
    Salle 1     13:45–14:15  B  Bruno Petit (needs tablets: only Salle 1 has them)
    Salle 2     13:45–14:00  E  Emma Blanc (until 14:30)
    Salle 2     14:15–14:30  C  Chloé Roux and "HELENE  martin"
    Salle 2     16:15–16:45  D  Denis Roche (from 15:00)
    """
    demo, testimony = ContributionFormat.demonstration, ContributionFormat.testimony
    c = {
        "A": accepted(title="A", presenters="Hélène Martin", format=demo),
        "B": accepted(title="B", presenters="Bruno Petit", format=demo, needs={Equipment.tablets}),
        "C": accepted(title="C", presenters="Chloé Roux\nHELENE  martin", format=testimony),
        "D": accepted(title="D", presenters="Denis Roche", format=demo, available_from=time(15)),
        "E": accepted(
            title="E", presenters="Emma Blanc", format=testimony, available_until=time(14, 30)
        ),
    }
    build_draft(half_day)
    assert placed_ids(half_day) == {x.id for x in c.values()}
    common_break = next(s for s in draft_slots(half_day) if s.kind is SlotKind.break_)
    common_break.starts_at = paris("15:15", half_day)
    common_break.ends_at = paris("15:35", half_day)
    db.session.commit()
    for name, room, hhmm in (
        ("A", "Auditorium", "13:45"),
        ("B", "Salle 1", "13:45"),
        ("E", "Salle 2", "13:45"),
        ("C", "Salle 2", "14:15"),
        ("D", "Salle 2", "16:15"),
    ):
        put(half_day, c[name], room, hhmm)
    assert draft_problems(draft_of(half_day)) == []
    return c


def move(client, contribution, room, hhmm):
    slot = slot_of(contribution)
    return client.post(
        f"{AGENDA}/creneaux/{slot.id}", data={"action": "deplacer", "salle": room.id, "debut": hhmm}
    )


def break_start(half_day) -> datetime:
    return next(s.starts_at for s in draft_slots(half_day) if s.kind is SlotKind.break_)


def test_a_move_that_fits_is_saved_with_an_audit_entry(half_day, arranged, coordinator, client):
    a = arranged["A"]
    response = move(client, a, rooms(half_day)["Auditorium"], "14:30")
    assert response.status_code == 302, page(response)
    assert "« A » est déplacée." in page(client.get(AGENDA))
    slot = slot_of(a)
    assert (slot.room_id, local_time(slot.starts_at), local_time(slot.ends_at)) == (
        half_day.auditorium.id,
        time(14, 30),
        time(15),
    )
    assert audit_actions()[-1] == "exchange.agenda.move"
    entry = db.session.scalar(sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    assert entry.target_id == a.id and "Auditorium, 13 h 45 → Auditorium, 14 h 30" in entry.summary


@pytest.mark.parametrize(
    ("who", "room", "hhmm", "message"),
    [
        (
            "A",
            "Auditorium",
            "14:32",
            "« A » (14 h 32 – 15 h 02) : le début doit tomber sur la grille de 5 minutes",
        ),
        (
            "A",
            "Auditorium",
            "13:30",
            "« A » (13 h 30 – 14 h) commencerait avant la fin de la plénière d'ouverture (13 h 45).",
        ),
        (
            "A",
            "Auditorium",
            "16:30",
            "« A » (16 h 30 – 17 h) finirait après le début de la plénière de clôture (16 h 45).",
        ),
        ("A", "Auditorium", "break-10", "empiéterait sur la pause commune"),
        (
            "B",
            "Salle 2",
            "14:30",
            "« Salle 2 » n'a pas l'équipement dont « B » a besoin : Tablettes.",
        ),
        (
            "D",
            "Auditorium",
            "14:30",
            "« D » (14 h 30 – 15 h) : les intervenant·es ne sont disponibles qu'à partir de 15 h.",
        ),
        (
            "E",
            "Auditorium",
            "16:00",
            "« E » (16 h – 16 h 15) : les intervenant·es ne sont disponibles que jusqu'à 14 h 30.",
        ),
        (
            "C",
            "Salle 2",
            "14:00",
            "HELENE martin serait à deux endroits à la fois : « C » (14 h – 14 h 15) dans « Salle 2 » et « A » (13 h 45 – 14 h 15) dans « Auditorium ».",
        ),
        (
            "A",
            "Salle 1",
            "14:00",
            "Conflit de salle : « A » (14 h – 14 h 30) chevaucherait « B » (13 h 45 – 14 h 15) dans « Salle 1 ».",
        ),
    ],
    ids=["grid", "opening", "closing", "break", "equipment", "from", "until", "presenter", "room"],
)
def test_a_move_breaking_a_hard_constraint_is_refused_and_writes_nothing(
    half_day, arranged, coordinator, client, who, room, hhmm, message
):
    if hhmm == "break-10":
        hhmm = (break_start(half_day) - timedelta(minutes=10)).astimezone(PARIS).strftime("%H:%M")
    before = snapshot(half_day)
    response = move(client, arranged[who], rooms(half_day)[room], hhmm)
    assert response.status_code == 422
    text = page(response)
    assert message in text
    assert 'role="alert"' in response.get_data(as_text=True)
    assert snapshot(half_day) == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"salle": "", "debut": "14:30"}, "Salle"),
        ({"salle": "abc", "debut": "14:30"}, "Salle"),
        ({"salle": "999999", "debut": "14:30"}, "Salle"),
        ({"salle": "ROOM", "debut": ""}, "Indiquez l'heure de début (hh:mm)."),
        ({"salle": "ROOM", "debut": "25:99"}, "Début"),
        ({"salle": "ROOM", "debut": "x" * 10_000}, "Début"),
    ],
    ids=["no-room", "bad-room", "unknown-room", "no-time", "bad-time", "long-time"],
)
def test_bad_input_is_refused_in_french(half_day, arranged, coordinator, client, data, message):
    before = snapshot(half_day)
    data = {
        key: str(half_day.auditorium.id) if value == "ROOM" else value
        for key, value in data.items()
    }
    response = client.post(f"{AGENDA}/creneaux/{slot_of(arranged['A']).id}", data=data)
    assert response.status_code == 422
    assert message in page(response)
    assert snapshot(half_day) == before


def test_a_room_of_another_half_day_or_a_stale_slot_is_refused(
    half_day, arranged, coordinator, client, make_half_day
):
    other = make_half_day(2026)
    before = snapshot(half_day)
    response = move(client, arranged["A"], other.rooms[1], "14:30")
    assert response.status_code == 422 and "Salle" in page(response)
    beyond_any_id = 2**63 + 5
    for slot_id in (123456789, beyond_any_id):
        response = client.post(f"{AGENDA}/creneaux/{slot_id}", data={"action": "retirer"})
        assert response.status_code == 422
        assert "Ce créneau n'est plus dans l'agenda en préparation" in page(response)
    assert client.post(f"{AGENDA}/creneaux/1", data={"action": "tout-casser"}).status_code == 422
    assert snapshot(half_day) == before


def test_removing_and_placing_a_contribution_by_hand(half_day, arranged, coordinator, client):
    d = arranged["D"]
    response = client.post(f"{AGENDA}/creneaux/{slot_of(d).id}", data={"action": "retirer"})
    assert response.status_code == 302
    assert slot_of(d) is None
    db.session.expire_all()
    assert d.left_out_reason == REMOVED_BY_HAND
    text = page(client.get(AGENDA))
    assert "retirée à la main" in text and f'id="proposition-{d.id}"' in text

    salle_2 = rooms(half_day)["Salle 2"]
    before = snapshot(half_day)
    refused = client.post(
        f"{AGENDA}/propositions/{d.id}/placer", data={"salle": salle_2.id, "debut": "14:00"}
    )
    assert refused.status_code == 422
    assert "qu'à partir de 15 h" in page(refused)
    assert snapshot(half_day) == before

    response = client.post(
        f"{AGENDA}/propositions/{d.id}/placer", data={"salle": salle_2.id, "debut": "16:00"}
    )
    assert response.status_code == 302
    slot = slot_of(d)
    assert (slot.room_id, local_time(slot.starts_at)) == (salle_2.id, time(16))
    db.session.expire_all()
    assert d.left_out_reason is None
    assert audit_actions()[-2:] == ["exchange.agenda.remove", "exchange.agenda.place"]

    again = client.post(
        f"{AGENDA}/propositions/{d.id}/placer", data={"salle": salle_2.id, "debut": "16:00"}
    )
    assert again.status_code == 422 and "est déjà dans l'agenda : déplacez-la plutôt" in page(again)


def test_only_accepted_contributions_of_this_half_day_can_be_placed(
    half_day, arranged, make_contribution, coordinator, client
):
    submitted = make_contribution(half_day)
    room = rooms(half_day)["Salle 2"]
    response = client.post(
        f"{AGENDA}/propositions/{submitted.id}/placer", data={"salle": room.id, "debut": "16:00"}
    )
    assert response.status_code == 422
    assert "« " + submitted.title + " » n'est pas acceptée (en attente d'examen)" in page(response)
    response = client.post(
        f"{AGENDA}/propositions/99999999999/placer", data={"salle": room.id, "debut": "16:00"}
    )
    assert response.status_code == 422 and "n'existe pas pour cette demi-journée" in page(response)
    assert slot_of(submitted) is None


# --- publishing ----------------------------------------------------------------------------------


def test_the_first_publication_mails_every_placed_presenter_once(
    half_day, accepted, coordinator, client
):
    placed = [
        accepted(presenters=f"Intervenante {n}", email=f"i{n}@ac-amiens.fr") for n in range(3)
    ]
    left_out = accepted(email="tbi@ac-amiens.fr", needs={Equipment.whiteboard})
    build_draft(half_day)

    response = client.post(f"{AGENDA}/publier", data={"note": "Programme envoyé aux écoles"})
    assert response.status_code == 302
    version = db.session.scalar(sa.select(AgendaVersion))
    assert (version.number, version.published_by, version.note) == (
        1,
        coordinator.email,
        "Programme envoyé aux écoles",
    )
    db.session.expire_all()
    assert half_day.state is HalfDayState.published
    sent = mails("agenda_placed")
    assert sorted(m.recipient for m in sent) == sorted(c.email for c in placed)
    assert outbox() == sent  # nothing else: not the left-out one, no other template
    assert left_out.email not in {m.recipient for m in outbox()}
    for contribution in placed:
        [message] = [m for m in sent if m.recipient == contribution.email]
        assert message.calendar_method == "REQUEST"
        uid, event = only_event(message.calendar_ics.encode())
        assert uid == f"contribution-{contribution.id}@ateliers.test"
        assert event["sequence"] == db.session.get(Contribution, contribution.id).sequence == 1
        assert event["start"] == slot_of(contribution, version.id).starts_at
        assert "est au programme des Rencontres TICE 2025-2026" in message.body_text
        assert f"Intervention : {contribution.title} (démonstration, 30 min)\n" in message.body_text
        assert (
            "Salle : " in message.body_text
            and "\n\nL'invitation jointe l'ajoute" in message.body_text
        )
        assert "/rencontres/2025/propositions/" in message.body_text
    # the version's slots are a copy: the draft stays for the next changes
    assert (
        len(
            slots := db.session.scalars(
                sa.select(AgendaSlot).where(AgendaSlot.version_id == version.id)
            ).all()
        )
        == 6
    )
    assert {s.contribution_id for s in slots} - {None} == {c.id for c in placed}
    assert len(draft_slots(half_day)) == 6

    text = page(client.get(AGENDA))
    assert (
        "Version 1" in text and coordinator.email in text and "Programme envoyé aux écoles" in text
    )
    assert "Rien n'a changé depuis la version 1." in text
    shown = client.get(f"{AGENDA}/versions/1")
    assert shown.status_code == 200 and placed[0].title in page(shown)
    assert client.get(f"{AGENDA}/versions/2").status_code == 404
    assert client.get(f"{AGENDA}/versions/99999999999").status_code == 404


def test_publishing_again_without_a_change_is_refused_and_sends_nothing(
    half_day, accepted, coordinator, client
):
    accepted()
    build_draft(half_day)
    assert client.post(f"{AGENDA}/publier").status_code == 302
    before = snapshot(half_day)
    response = client.post(f"{AGENDA}/publier")
    assert response.status_code == 422
    assert "Rien n'a changé depuis la version 1 : aucune nouvelle version." in page(response)
    assert snapshot(half_day) == before


def test_publishing_a_second_version_after_moving_one_contribution_sends_exactly_one_update_mail(
    half_day, arranged, coordinator, client, smtp
):
    """The issue's test: one update mail, to that contribution's presenters, with the same UID
    and a higher SEQUENCE — as a real SMTP server receives it, read by independent parsers."""
    assert client.post(f"{AGENDA}/publier").status_code == 302
    deliver_pending()
    assert len(smtp.messages) == 5
    a = arranged["A"]
    [first] = smtp.to(a.email)
    method, request = invitation_parts(first)
    assert method == "REQUEST"
    uid, placed = only_event(request)

    assert move(client, a, rooms(half_day)["Auditorium"], "14:30").status_code == 302
    text = page(client.get(AGENDA))
    assert "Déplacée : « A » — Auditorium, 13 h 45 – 14 h 15 → Auditorium, 14 h 30 – 15 h" in text
    assert client.post(f"{AGENDA}/publier", data={"note": "A plus tard"}).status_code == 302
    deliver_pending()

    assert len(smtp.messages) == 6
    update = smtp.messages[-1]
    assert update["To"] == a.email
    assert [m.recipient for m in outbox()][-1:] == [a.email] and len(mails("agenda_changed")) == 1
    method, calendar = invitation_parts(update)
    assert method == "REQUEST"
    assert lint.problems(calendar) == []
    same_uid, moved = only_event(calendar)
    assert same_uid == uid == f"contribution-{a.id}@ateliers.test"
    assert moved["sequence"] > placed["sequence"]
    assert moved["start"] == paris("14:30", half_day) and moved["end"] == paris("15:00", half_day)
    parsed = Calendar.from_ical(calendar)
    assert parsed["METHOD"] == "REQUEST"
    [event] = parsed.walk("VEVENT")
    assert (str(event["UID"]), int(event["SEQUENCE"])) == (uid, moved["sequence"])
    assert (
        "Modifié : désormais 14 h 30 – 15 h, Auditorium (auparavant 13 h 45 – 14 h 15, Auditorium)"
        in str(event["DESCRIPTION"])
    )
    assert any(
        line.startswith("ATTENDEE;") and line.endswith(f":mailto:{a.email}")
        for line in lines(calendar)
    )
    body = update.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "change d'horaire" in body
    assert (
        "Horaire : mercredi 20 mai 2026, 13 h 45 – 14 h 15\n  → désormais : mercredi 20 mai 2026, 14 h 30 – 15 h"
        in body
    )
    assert "Salle :" not in body.split("Intervention :")[0]  # the room did not change
    itip_check(calendar)


def test_a_room_change_says_so(half_day, arranged, coordinator, client):
    client.post(f"{AGENDA}/publier")
    d = arranged["D"]
    assert move(client, d, rooms(half_day)["Auditorium"], "16:15").status_code == 302
    client.post(f"{AGENDA}/publier")
    [changed] = mails("agenda_changed")
    assert changed.recipient == d.email
    assert "change de salle" in changed.body_text
    assert "Salle : Salle 2\n  → désormais : Auditorium" in changed.body_text
    assert "Horaire :" not in changed.body_text


def test_removing_a_contribution_then_publishing_sends_one_cancel(
    half_day, arranged, coordinator, client, smtp
):
    client.post(f"{AGENDA}/publier")
    deliver_pending()
    e = arranged["E"]
    _, placed = only_event(invitation_parts(smtp.to(e.email)[0])[1])
    assert (
        client.post(f"{AGENDA}/creneaux/{slot_of(e).id}", data={"action": "retirer"}).status_code
        == 302
    )
    assert "Retirée : « E »" in page(client.get(AGENDA))

    assert client.post(f"{AGENDA}/publier").status_code == 302
    deliver_pending()
    assert len(smtp.messages) == 6
    cancel = smtp.messages[-1]
    assert cancel["To"] == e.email
    method, calendar = invitation_parts(cancel)
    assert method == "CANCEL"
    uid, event = only_event(calendar)
    assert uid == f"contribution-{e.id}@ateliers.test"
    assert event["sequence"] > placed["sequence"] and event["status"] == "CANCELLED"
    assert event["start"] == paris("13:45", half_day)
    assert (
        "La coordination des Rencontres a dû retirer votre intervention « E »"
        in cancel.get_body(("plain",)).get_content()
    )
    version = db.session.scalar(sa.select(AgendaVersion).where(AgendaVersion.number == 2))
    assert slot_of(e, version.id) is None
    itip_check(calendar)


def test_a_withdrawn_contribution_vanishes_from_the_next_version_with_a_cancel(
    half_day, arranged, coordinator, client
):
    client.post(f"{AGENDA}/publier")
    b = db.session.get(Contribution, arranged["B"].id)
    b.status, b.withdrawn_at = ContributionStatus.withdrawn, datetime(2026, 5, 1, tzinfo=UTC)
    db.session.commit()
    text = page(client.get(AGENDA))
    assert (
        "« B » est dans l'agenda mais n'est plus acceptée (retirée) : elle ne sera pas publiée."
        in text
    )
    assert "Retirée : « B »" in text

    assert client.post(f"{AGENDA}/publier").status_code == 302
    [removed] = mails("agenda_removed")
    assert removed.recipient == b.email and removed.calendar_method == "CANCEL"
    assert "Comme vous l'avez demandé" in removed.body_text
    assert len(outbox()) == 5 + 1
    _, event = only_event(removed.calendar_ics.encode())
    assert event["sequence"] == 2 and event["status"] == "CANCELLED"


def test_a_draft_with_a_violation_cannot_be_published(half_day, arranged, coordinator, client):
    put(half_day, arranged["A"], "Salle 1", "14:00")  # over B: as if the data had changed
    text = page(client.get(AGENDA))
    assert "À corriger avant de publier" in text and "Conflit de salle" in text
    before = snapshot(half_day)
    response = client.post(f"{AGENDA}/publier")
    assert response.status_code == 422
    assert "L'agenda ne peut pas être publié tant que ceci n'est pas corrigé" in page(response)
    assert snapshot(half_day) == before


def test_moved_plenaries_raise_the_half_day_sequence(half_day, arranged, coordinator, client):
    client.post(f"{AGENDA}/publier")
    assert half_day.sequence == 0
    half_day.closing_minutes = 30
    db.session.commit()
    refused = client.post(f"{AGENDA}/publier")
    assert refused.status_code == 422 and "ont changé depuis la construction de l'agenda" in page(
        refused
    )
    assert client.post(f"{AGENDA}/construire", data={"confirmer": "y"}).status_code == 302
    assert client.post(f"{AGENDA}/publier").status_code == 302
    db.session.expire_all()
    assert half_day.sequence == 1
    closing = next(s for s in draft_slots(half_day) if s.kind is SlotKind.closing)
    assert local_time(closing.starts_at) == time(16, 30)


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("x" * 10_000, "La note tient en 300 caractères au plus."),
        ("<script>alert(1)</script>", "La note ne peut pas contenir les caractères < et >."),
    ],
    ids=["long", "markup"],
)
def test_a_bad_note_is_refused_and_nothing_is_published(
    half_day, arranged, coordinator, client, note, message
):
    before = snapshot(half_day)
    response = client.post(f"{AGENDA}/publier", data={"note": note})
    assert response.status_code == 422
    assert message in page(response)
    assert snapshot(half_day) == before


# --- access ---------------------------------------------------------------------------------------


def test_coordinators_only(half_day, accepted, client, make_staff):
    contribution = accepted()
    build_draft(half_day)
    slot = slot_of(contribution)
    room = half_day.auditorium.id
    posts = [
        (f"{AGENDA}/construire", {"confirmer": "y"}),
        (f"{AGENDA}/publier", {}),
        (f"{AGENDA}/creneaux/{slot.id}", {"action": "retirer"}),
        (f"{AGENDA}/creneaux/{slot.id}", {"salle": room, "debut": "16:00"}),
        (f"{AGENDA}/propositions/{contribution.id}/placer", {"salle": room, "debut": "16:00"}),
    ]
    before = snapshot(half_day)
    for path in (AGENDA, f"{AGENDA}/versions/1"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")
    login(client, make_staff("trainer"))
    for path in (AGENDA, f"{AGENDA}/versions/1"):
        assert client.get(path).status_code == 403
    for path, data in posts:
        assert client.post(path, data=data).status_code == 403, path
    assert snapshot(half_day) == before


def test_an_unknown_year_is_a_404(coordinator, client, half_day):
    assert client.get("/admin/rencontres/2024/agenda").status_code == 404
    assert client.get("/admin/rencontres/1999/agenda").status_code == 404
    assert client.post("/admin/rencontres/2024/agenda/publier").status_code == 404


def test_the_page_shows_the_grid_and_a_list_for_phones(half_day, arranged, coordinator, client):
    text = page(client.get(AGENDA))
    assert 'class="agenda-grid"' in text and 'class="agenda-list"' in text
    assert "<caption>Agenda en préparation, par heure et par salle</caption>" in text
    assert "Ouverture (plénière) · 13 h 30 – 13 h 45 · Auditorium" in text
    assert "Pause · " in text and "Clôture (plénière) · 16 h 45 – 17 h" in text
    assert "Salle 2 : 60 min" in text  # E, C, D
    assert 'value="13:45"' in text and 'step="300"' in text
