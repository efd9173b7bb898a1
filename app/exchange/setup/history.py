"""How a change of the half-day's settings reads in the audit log: its actions, the settings as
plain comparable text, and the French names of the settings."""

from app.exchange.models import HalfDay
from app.exchange.setup.rooms import ordered_rooms
from app.formatting import datetime_fr, of_place, time_fr

#: Audit actions; an edit that changes when or where things happen is a "reschedule": the
#: agenda built or published before it must be built again.
CREATE, EDIT, RESCHEDULE = "half_day.create", "half_day.edit", "half_day.reschedule"
CLOSE_CALL, REOPEN_CALL = "half_day.close_call", "half_day.reopen_call"
TARGET = "half_day"

#: Settings the agenda depends on: changing one makes the built or published agenda stale.
SCHEDULE = {
    "starts_at",
    "ends_at",
    "site",
    "rooms",
    "opening_minutes",
    "closing_minutes",
    "break_minutes",
}
LABELS = {
    "title": "titre",
    "starts_at": "début",
    "ends_at": "fin",
    "deadline": "date limite",
    "site": "site",
    "rooms": "salles",
    "capacity": "places sur place",
    "videoconference_url": "lien de visioconférence",
    "description": "description",
    "opening_minutes": "durée de l'ouverture",
    "closing_minutes": "durée de la clôture",
    "break_minutes": "durée de la pause",
}


def snapshot(half_day: HalfDay) -> dict:
    """The settings as the audit log shows them (plain text, comparable)."""
    return {
        "title": half_day.title,
        "starts_at": datetime_fr(half_day.starts_at),
        "ends_at": datetime_fr(half_day.ends_at),
        "deadline": datetime_fr(half_day.deadline),
        "site": half_day.site.name,
        "rooms": "; ".join(
            f"{room.room.name}{' (auditorium)' if room.is_auditorium else ''}"
            f"{' : ' + ', '.join(e.title for e in sorted(room.equipment, key=lambda e: e.value)) if room.equipment else ''}"
            for room in ordered_rooms(half_day)
        ),
        "capacity": half_day.capacity,
        "videoconference_url": half_day.videoconference_url,
        "description": half_day.description,
        "opening_minutes": half_day.opening_minutes,
        "closing_minutes": half_day.closing_minutes,
        "break_minutes": half_day.break_minutes,
    }


def when(half_day: HalfDay) -> str:
    return f"{datetime_fr(half_day.starts_at)} – {time_fr(half_day.ends_at)}, site {of_place(half_day.site.name)}"
