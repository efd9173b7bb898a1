"""Checks when a workshop is saved: room and trainer clashes, capacity, holidays."""

from datetime import UTC, date, datetime, timedelta

import pytest

from app.catalog.checks import check_workshop, day_bookings
from app.catalog.holidays import day_off, is_school_day_off, school_data_ends
from app.catalog.models import Trainer, WorkshopStatus
from app.extensions import db
from app.formatting import PARIS


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)


@pytest.fixture
def wednesday(make_workshop, clock):
    """A workshop on Wednesday 11 March 2026, 14 h–17 h (Paris), an ordinary school day."""
    start = paris(2026, 3, 11, 14, 0)
    workshop = make_workshop(title="Premiers pas dans l'ENT", starts_in=start - clock.now)
    return workshop


def check(workshop, *, starts_at, ends_at=None, room=None, trainer=None, capacity=None, same=False):
    return check_workshop(
        starts_at=starts_at,
        ends_at=ends_at or starts_at + timedelta(hours=3),
        room=room or workshop.room,
        trainer=trainer or workshop.trainer,
        capacity=capacity or workshop.capacity,
        workshop_id=workshop.id if same else None,
    )


def other_trainer():
    trainer = Trainer(first_name="Karim", last_name="Benali", email="karim.benali@ac-amiens.fr")
    db.session.add(trainer)
    return trainer


def test_an_ordinary_school_day_with_a_free_room_and_trainer_has_no_problem(wednesday):
    assert check(wednesday, starts_at=wednesday.starts_at, same=True) == []
    assert check(wednesday, starts_at=paris(2026, 3, 11, 17, 0), trainer=other_trainer()) == []


def test_a_double_booked_room_is_blocked_and_says_with_what(wednesday):
    (problem,) = check(wednesday, starts_at=paris(2026, 3, 11, 16, 0), trainer=other_trainer())
    assert problem.blocking and problem.kind == "room"
    assert problem.message == (
        f"La salle « Salle multimédia » ({wednesday.room.site.name}) est déjà prise le mercredi "
        "11 mars 2026 de 14 h à 17 h par l'atelier « Premiers pas dans l'ENT »."
    )


def test_a_double_booked_trainer_is_blocked_even_at_another_site(wednesday, make_site):
    elsewhere = make_site(slug="peronne", name="Péronne").rooms[0]
    (problem,) = check(wednesday, starts_at=paris(2026, 3, 11, 13, 0), room=elsewhere)
    assert problem.blocking and problem.kind == "trainer"
    assert (
        "Claire Dumont anime déjà « Premiers pas dans l'ENT » le mercredi 11 mars 2026"
        in problem.message
    )


def test_back_to_back_sessions_and_cancelled_ones_do_not_clash(wednesday):
    assert check(wednesday, starts_at=wednesday.ends_at) == []
    assert check(wednesday, starts_at=wednesday.starts_at - timedelta(hours=3)) == []
    wednesday.status = WorkshopStatus.cancelled
    db.session.commit()
    assert check(wednesday, starts_at=wednesday.starts_at) == []


def test_capacity_above_the_room_is_blocked(wednesday):
    room = wednesday.room
    (problem,) = check(
        wednesday, starts_at=wednesday.starts_at, capacity=room.capacity + 1, same=True
    )
    assert problem.blocking and problem.kind == "capacity"
    assert problem.message == (
        f"{room.capacity + 1} places demandées, mais la salle « {room.name} » n'en compte que {room.capacity}."
    )


def test_14_july_is_a_warning_to_confirm(wednesday):
    (problem,) = check(wednesday, starts_at=paris(2026, 7, 14, 9, 0), same=True)
    assert not problem.blocking and problem.kind == "day-off"
    assert problem.message == "Le mardi 14 juillet 2026 : jour férié (Fête nationale)."


def test_zone_b_winter_holidays_are_a_warning_to_confirm(wednesday):
    (problem,) = check(wednesday, starts_at=paris(2026, 2, 18, 14, 0), same=True)
    assert not problem.blocking
    assert problem.message == "Le mercredi 18 février 2026 : Vacances d'hiver (zone B)."


def test_a_date_past_the_holiday_data_says_it_cannot_tell(wednesday):
    beyond = school_data_ends() + timedelta(days=40)
    beyond = beyond + timedelta(days=(2 - beyond.weekday()) % 7)  # a Wednesday
    (problem,) = check(
        wednesday, starts_at=paris(beyond.year, beyond.month, beyond.day, 14, 0), same=True
    )
    assert not problem.blocking
    assert "au-delà des vacances scolaires connues" in problem.message
    assert "vérifiez le calendrier officiel de la zone B" in problem.message


def test_the_ascension_bridge_missing_from_the_data_is_flagged_as_uncertain():
    off = day_off(date(2026, 5, 15))  # the Friday after Ascension Thursday, 14 May 2026
    assert off.uncertain and "pont de l'Ascension" in off.reason
    assert not is_school_day_off(date(2026, 5, 15))  # the demo does not take it as a holiday


def test_blocking_problems_come_first(wednesday):
    problems = check(
        wednesday,
        starts_at=paris(2026, 7, 14, 9, 0),
        capacity=wednesday.room.capacity + 5,
        same=True,
    )
    assert [p.kind for p in problems] == ["capacity", "day-off"]


def test_a_late_evening_in_paris_is_checked_on_the_paris_day(wednesday):
    # 13 July 2026, 23:30 UTC is 14 July 01:30 in Paris.
    problems = check(wednesday, starts_at=datetime(2026, 7, 13, 23, 30, tzinfo=UTC), same=True)
    assert [p.kind for p in problems] == ["day-off"]


def test_the_day_s_bookings_of_a_room_and_a_trainer_keep_to_the_paris_day(wednesday, make_site):
    elsewhere = make_site(slug="peronne", name="Péronne").rooms[0]
    late = wednesday.__class__(
        title="Le soir à Péronne",
        description="",
        topic=wednesday.topic,
        level=wednesday.level,
        room=elsewhere,
        trainer=wednesday.trainer,
        capacity=8,
        starts_at=paris(2026, 3, 11, 22, 30),  # 21:30 UTC: still 11 March in Paris
        ends_at=paris(2026, 3, 11, 23, 30),
        status=WorkshopStatus.published,
    )
    next_day = wednesday.__class__(
        title="Le lendemain",
        description="",
        topic=wednesday.topic,
        level=wednesday.level,
        room=wednesday.room,
        trainer=wednesday.trainer,
        capacity=8,
        starts_at=paris(2026, 3, 12, 0, 30),  # 23:30 UTC on the 11th: the 12th in Paris
        ends_at=paris(2026, 3, 12, 1, 30),
        status=WorkshopStatus.published,
    )
    db.session.add_all([late, next_day])
    db.session.commit()

    found = day_bookings(date(2026, 3, 11), wednesday.room, wednesday.trainer)
    assert [w.title for w in found.in_room] == ["Premiers pas dans l'ENT"]
    assert [w.title for w in found.with_trainer] == ["Premiers pas dans l'ENT", "Le soir à Péronne"]

    edited = day_bookings(date(2026, 3, 11), wednesday.room, other_trainer(), wednesday.id)
    assert edited.in_room == [] and edited.with_trainer == []
    wednesday.status = WorkshopStatus.cancelled
    db.session.commit()
    assert day_bookings(date(2026, 3, 11), wednesday.room, wednesday.trainer).in_room == []
