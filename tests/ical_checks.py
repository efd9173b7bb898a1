"""Reading the calendars the service emits with independent parsers: the strict `ical` package
and `vobject`, after the project's own lint; both parsers must agree."""

from datetime import UTC

import vobject
from ical.calendar_stream import IcsCalendarStream

from app.calendars import lint


def events(data: bytes) -> dict[str, dict]:
    """The events of a calendar by UID, read by both parsers after the lint; both must agree."""
    assert lint.problems(data) == []
    text = data.decode("utf-8")

    strict = IcsCalendarStream.calendar_from_ics(text)
    by_strict = {
        e.uid: {
            "start": e.dtstart.astimezone(UTC),
            "end": e.dtend.astimezone(UTC),
            "sequence": e.sequence,
            "status": getattr(e.status, "value", e.status),
            "summary": e.summary,
            "location": e.location,
        }
        for e in strict.events
    }
    assert len(by_strict) == len(strict.events)

    loose = vobject.readOne(text)
    vevents = loose.contents.get("vevent", [])
    by_loose = {
        e.uid.value: {
            "start": e.dtstart.value.astimezone(UTC),
            "end": e.dtend.value.astimezone(UTC),
            "sequence": int(e.sequence.value),
            "status": e.status.value,
            "summary": e.summary.value,
            "location": e.location.value,
        }
        for e in vevents
    }
    assert len(by_loose) == len(vevents)
    assert by_strict == by_loose
    return by_strict


def lines(data: bytes) -> list[str]:
    """Unfolded content lines."""
    return data.decode().replace("\r\n ", "").split("\r\n")
