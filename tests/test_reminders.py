"""Reminders, with the injected clock: sent once, never stale, following a moved workshop, right
across the daylight-saving change, dropped when found too late. (The trainer's list, on the same
rules, is tested with the attendance sheet it carries: tests/test_sheets.py.)"""

from datetime import UTC, datetime

import sqlalchemy as sa

from app.booking import reminders
from app.booking import services as booking
from app.booking.models import Notice
from app.catalog.models import WorkshopStatus
from app.extensions import db
from app.formatting import PARIS
from tests.conftest import manage_secret, outbox


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def workshop_at(make_workshop, clock, start: datetime, **fields):
    return make_workshop(starts_in=start - clock.now, what_to_bring="Votre tablette", **fields)


def reminders_sent():
    return [m.recipient for m in outbox("reminder")]


def test_due_reminder_is_sent_once_at_five_pm_two_days_before(make_workshop, applicant, clock):
    workshop = workshop_at(make_workshop, clock, paris(2026, 3, 11, 9))  # a Wednesday
    booking.register(workshop.id, applicant(1))

    clock.set(paris(2026, 3, 9, 16, 59))
    assert reminders.send_due_reminders().sent == 0
    clock.set(paris(2026, 3, 9, 17, 0))
    assert reminders.send_due_reminders().sent == 1
    clock.advance(minutes=1)
    assert reminders.send_due_reminders().sent == 0
    assert reminders_sent() == ["lea.martin1@ac-amiens.fr"]

    [reminder] = outbox("reminder")
    assert reminder.subject == f"Rappel : {workshop.title}"
    assert "mercredi 11 mars 2026, 9 h" in reminder.body_text
    assert "45 rue Saint-Leu" in reminder.body_text and "Salle multimédia" in reminder.body_text
    assert "Votre tablette" in reminder.body_text
    assert "Libérez votre place" in reminder.body_text and "/inscription/" in reminder.body_text
    assert reminder.calendar_ics is None  # a reminder is not a new invitation


def test_no_stale_reminder_for_a_late_registration(make_workshop, applicant, clock):
    workshop = workshop_at(make_workshop, clock, paris(2026, 3, 11, 9))
    booking.register(workshop.id, applicant(1))
    clock.set(paris(2026, 3, 10, 10))  # after Monday 17 h: too late for "see you in two days"
    booking.register(workshop.id, applicant(2))

    reminders.send_due_reminders()

    assert reminders_sent() == ["lea.martin1@ac-amiens.fr"]


def test_no_reminder_for_cancelled_registrations_waiting_people_or_cancelled_workshops(
    make_workshop, applicant, clock
):
    workshop = workshop_at(make_workshop, clock, paris(2026, 3, 11, 9), capacity=1)
    booking.register(workshop.id, applicant(1))
    booking.register(workshop.id, applicant(2))  # waiting
    booking.register(workshop.id, applicant(3))  # waiting
    booking.cancel(manage_secret(outbox("waiting")[1]))
    other = workshop_at(make_workshop, clock, paris(2026, 3, 11, 14))
    booking.register(other.id, applicant(4))
    other.status = WorkshopStatus.cancelled
    db.session.commit()

    clock.set(paris(2026, 3, 9, 17))
    reminders.send_due_reminders()

    assert reminders_sent() == ["lea.martin1@ac-amiens.fr"]


def test_a_moved_workshop_gets_its_reminder_at_the_new_time(make_workshop, applicant, clock):
    from app.catalog.services import move_workshop

    workshop = workshop_at(make_workshop, clock, paris(2026, 3, 11, 9))
    booking.register(workshop.id, applicant(1))
    clock.set(paris(2026, 3, 6, 12))
    move_workshop(workshop, starts_at=paris(2026, 3, 13, 9), ends_at=paris(2026, 3, 13, 12))
    db.session.commit()

    clock.set(paris(2026, 3, 9, 17))
    assert reminders.send_due_reminders().sent == 0
    clock.set(paris(2026, 3, 11, 17))
    assert reminders.send_due_reminders().sent == 1


def test_reminder_time_is_right_across_the_march_change(make_workshop, applicant, clock):
    # Tuesday 31 March 2026: the reminder is due Sunday 29 March, the change day, at 17 h CEST.
    workshop = workshop_at(make_workshop, clock, paris(2026, 3, 31, 9))
    booking.register(workshop.id, applicant(1))

    clock.set(datetime(2026, 3, 29, 14, 59, tzinfo=UTC))  # 16 h 59 in Paris, summer time
    assert reminders.send_due_reminders().sent == 0
    clock.set(datetime(2026, 3, 29, 15, 0, tzinfo=UTC))  # 17 h
    assert reminders.send_due_reminders().sent == 1


def test_a_missed_reminder_is_sent_while_useful_then_dropped(
    make_workshop, applicant, clock, caplog
):
    useful = workshop_at(make_workshop, clock, paris(2026, 3, 11, 14))
    too_late = workshop_at(make_workshop, clock, paris(2026, 3, 11, 10))
    booking.register(useful.id, applicant(1))
    booking.register(too_late.id, applicant(2))

    clock.set(paris(2026, 3, 11, 9))  # the scheduler was down since Monday
    report = reminders.send_due_reminders()

    assert (report.sent, report.dropped) == (1, 1)
    assert reminders_sent() == ["lea.martin1@ac-amiens.fr"]
    dropped = db.session.scalar(sa.select(Notice).where(Notice.dropped))
    assert dropped.workshop_id == too_late.id
    assert "dropped" in caplog.text
    assert reminders.send_due_reminders().dropped == 0  # logged once
