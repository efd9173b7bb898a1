"""Workshops to iCalendar bytes (RFC 5545 / 7986), for the feeds and the mailed invitations.

The same data always gives the same bytes: DTSTAMP and LAST-MODIFIED come from the workshop's
`updated_at`, never from the current time, and the calendar has no random UID. Times are written
with `TZID=Europe/Paris` against one VTIMEZONE built with RRULEs (Outlook ignores RDATE lists);
the second occurrence of the doubled October hour, which a local time cannot name, is written in
UTC.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from urllib.parse import urlsplit

from flask import current_app
from icalendar import (
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
    vCategory,
    vDDDTypes,
    vDuration,
    vGeo,
    vInt,
    vText,
    vUri,
)

from app.catalog.models import Workshop, WorkshopStatus
from app.formatting import PARIS, site_place

PRODID = "-//CRDP de l'academie d'Amiens//Ateliers TICE//FR"
TZID = "Europe/Paris"
#: How often subscribers should fetch the feed again.
REFRESH_INTERVAL = timedelta(hours=4)

#: Control characters (category Cc: C0, DEL, C1) and the line and paragraph separators (Zl, Zp:
#: one character each), never inside a one-line property. Unicode's stability policy keeps these
#: sets fixed: one regex pass rather than a `unicodedata.category` call per character.
_LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROLS_BUT_LF = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")

CONFIRMED = "CONFIRMED"
TENTATIVE = "TENTATIVE"
CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class Person:
    """An organizer or attendee, as plain values (calendars knows nothing of registrations)."""

    name: str
    email: str


def host() -> str:
    """The host of PUBLIC_BASE_URL: the right-hand side of every UID."""
    return urlsplit(current_app.config["PUBLIC_BASE_URL"]).hostname or "localhost"


def organizer() -> Person:
    """The CRDP as invitations' ORGANIZER: the sender of every mail."""
    name, email = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])
    return Person(name or "Ateliers TICE", email)


def event_uid(kind: str, id_: int) -> str:
    """`workshop-12@host`, `registration-34@host`…"""
    return f"{kind}-{id_}@{host()}"


def public_url(path: str) -> str:
    return current_app.config["PUBLIC_BASE_URL"] + path


def paris_timezone() -> Timezone:
    """Europe/Paris as one STANDARD and one DAYLIGHT rule (EU rules, in force since 1996)."""
    standard = TimezoneStandard()
    standard.add("dtstart", datetime(1996, 10, 27, 3, 0))
    standard.add("tzoffsetfrom", timedelta(hours=2))
    standard.add("tzoffsetto", timedelta(hours=1))
    standard.add("tzname", "CET")
    standard.add("rrule", {"freq": "yearly", "bymonth": 10, "byday": "-1su"})
    daylight = TimezoneDaylight()
    daylight.add("dtstart", datetime(1981, 3, 29, 2, 0))
    daylight.add("tzoffsetfrom", timedelta(hours=1))
    daylight.add("tzoffsetto", timedelta(hours=2))
    daylight.add("tzname", "CEST")
    daylight.add("rrule", {"freq": "yearly", "bymonth": 3, "byday": "-1su"})
    timezone = Timezone()
    timezone.add("tzid", TZID)
    timezone.add_component(standard)
    timezone.add_component(daylight)
    return timezone


def calendar_time(moment: datetime) -> datetime:
    """The moment in Paris time, or in UTC when Paris time names it ambiguously.

    RFC 5545 reads an ambiguous local time (02:30 on the October change day happens twice) as
    the first occurrence: the second one can only be written in UTC.
    """
    local = moment.astimezone(PARIS)
    if local.fold and local.replace(fold=0).utcoffset() != local.utcoffset():
        return moment.astimezone(UTC)
    return local


def one_line(text: str) -> str:
    """Text for a one-line property (SUMMARY, LOCATION, NAME): control characters and line
    breaks become single spaces (names typed by people go into calendars)."""
    return " ".join(_LINE_BREAKING.sub(" ", text).split())


def paragraphs(text: str) -> str:
    """Text for DESCRIPTION: line breaks kept as LF (escaped by icalendar), other controls dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS_BUT_LF.sub("", text)


def location(workshop: Workshop) -> str:
    """Where, in full: "CRDP, site d'Amiens – Salle multimédia 1, 45 rue Saint-Leu, 80026 Amiens"."""
    site = workshop.site
    return f"{site_place(site)} – {workshop.room.name}, {site.address}"


def summary(workshop: Workshop) -> str:
    return f"{workshop.title} ({workshop.level.title.lower()})"


def description(workshop: Workshop, notice: str | None = None) -> str:
    """The event's text; a `notice` (why the workshop is cancelled…) comes first."""
    lines = [notice, ""] if notice else []
    lines += [
        f"Thème : {workshop.topic.name}",
        f"Niveau : {workshop.level.title.lower()}",
        f"Animé par : {workshop.trainer.full_name}",
    ]
    if workshop.what_to_bring:
        lines.append(f"À apporter : {workshop.what_to_bring}")
    if workshop.description:
        lines += ["", workshop.description]
    lines += ["", f"Inscription et détails : {workshop_url(workshop)}"]
    return paragraphs("\n".join(lines))


def workshop_url(workshop: Workshop) -> str:
    return public_url(f"/ateliers/{workshop.id}")


def workshop_event(
    workshop: Workshop,
    *,
    uid: str | None = None,
    sequence: int | None = None,
    status: str | None = None,
    note: str | None = None,
    notice: str | None = None,
    stamp: datetime | None = None,
    organizer: Person | None = None,
    attendee: Person | None = None,
) -> Event:
    """One workshop as a VEVENT.

    Defaults give the public feeds' event (`workshop-<id>@host`, the workshop's own sequence and
    status); a personal feed or an invitation passes its own UID, sequence, status, a `note` shown
    after the summary ("liste d'attente"), a `notice` put first in the description ("Atelier annulé :
    …") and, for invitations, the organizer and the attendee.
    `stamp` (DTSTAMP and LAST-MODIFIED) defaults to the workshop's `updated_at`.
    """
    cancelled = workshop.status is WorkshopStatus.cancelled
    status = status or (CANCELLED if cancelled else CONFIRMED)
    stamp = stamp or workshop.updated_at
    title = summary(workshop)
    if note:
        title = f"{title} – {note}"
    if status == CANCELLED:
        title = f"ANNULÉ – {title}"

    # Values set as icalendar's own types rather than through `add()`: the same bytes, but a
    # thousand-event feed builds in a third less time (`add()` re-derives each type).
    stamp = vDDDTypes(stamp.astimezone(UTC))
    site = workshop.site
    event = Event()
    event["UID"] = vText(uid or event_uid("workshop", workshop.id))
    event["SEQUENCE"] = vInt(workshop.sequence if sequence is None else sequence)
    event["DTSTAMP"] = stamp
    event["LAST-MODIFIED"] = stamp
    event["DTSTART"] = vDDDTypes(calendar_time(workshop.starts_at))
    event["DTEND"] = vDDDTypes(calendar_time(workshop.ends_at))
    event["SUMMARY"] = vText(one_line(title))
    event["LOCATION"] = vText(one_line(location(workshop)))
    if site.latitude is not None and site.longitude is not None:
        event["GEO"] = vGeo((site.latitude, site.longitude))
    event["DESCRIPTION"] = vText(description(workshop, notice))
    event["URL"] = vUri(workshop_url(workshop))
    event["CATEGORIES"] = vCategory([one_line(workshop.topic.name), workshop.level.title])
    event["STATUS"] = vText(status)
    _add_people(event, organizer, attendee)
    return event


@dataclass(frozen=True)
class EventValues:
    """An event that is not a workshop (the exchange half-day's sessions), as plain values."""

    uid: str
    sequence: int
    #: DTSTAMP and LAST-MODIFIED: from the data, never the current time.
    stamp: datetime
    starts: datetime
    ends: datetime
    summary: str
    location: str
    description: str
    url: str
    categories: tuple[str, ...] = ()
    status: str = CONFIRMED
    geo: tuple[float, float] | None = None


def plain_event(
    values: EventValues, *, organizer: Person | None = None, attendee: Person | None = None
) -> Event:
    """One VEVENT from plain values, written as `workshop_event` writes a workshop's."""
    stamp = vDDDTypes(values.stamp.astimezone(UTC))
    title = values.summary if values.status != CANCELLED else f"ANNULÉ – {values.summary}"
    event = Event()
    event["UID"] = vText(values.uid)
    event["SEQUENCE"] = vInt(values.sequence)
    event["DTSTAMP"] = stamp
    event["LAST-MODIFIED"] = stamp
    event["DTSTART"] = vDDDTypes(calendar_time(values.starts))
    event["DTEND"] = vDDDTypes(calendar_time(values.ends))
    event["SUMMARY"] = vText(one_line(title))
    event["LOCATION"] = vText(one_line(values.location))
    if values.geo is not None:
        event["GEO"] = vGeo(values.geo)
    event["DESCRIPTION"] = vText(paragraphs(values.description))
    event["URL"] = vUri(values.url)
    if values.categories:
        event["CATEGORIES"] = vCategory([one_line(c) for c in values.categories])
    event["STATUS"] = vText(values.status)
    _add_people(event, organizer, attendee)
    return event


def _add_people(event: Event, organizer: Person | None, attendee: Person | None) -> None:
    """An invitation's ORGANIZER and its one ATTENDEE, whose seat is already given."""
    if organizer is not None:
        event.add("organizer", _address(organizer))
    if attendee is not None:
        event.add(
            "attendee",
            _address(attendee),
            parameters={"ROLE": "REQ-PARTICIPANT", "PARTSTAT": "ACCEPTED", "RSVP": "FALSE"},
        )


def _address(person: Person) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    address.params["CN"] = person.name
    return address


def build_calendar(
    events: list[Event], *, name: str, method: str | None = None, feed: bool = True
) -> bytes:
    """The calendar around `events`, as bytes with CRLF line ends and 75-octet folding.

    Feeds have no METHOD; a mailed invitation passes `method="REQUEST"` or `"CANCEL"`.
    `feed` adds the refresh hints subscribed clients read.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    calendar.add("name", one_line(name))
    calendar.add("x-wr-calname", one_line(name))
    calendar.add("x-wr-timezone", TZID)
    if feed and not method:
        # icalendar writes REFRESH-INTERVAL without its mandatory VALUE parameter: give it.
        calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
        calendar.add("x-published-ttl", vDuration(REFRESH_INTERVAL))
    calendar.add_component(paris_timezone())
    for event in events:
        calendar.add_component(event)
    # Properties in the order given (UID first): sorting them costs a third of the time.
    lines = calendar.content_lines(sorted=False)
    return b"".join(_fold(line) + b"\r\n" for line in lines if line)


def _fold(line: str) -> bytes:
    """One content line as UTF-8, folded as icalendar's own `to_ical` folds it, byte for byte.

    icalendar folds character by character in Python, which was a third of a large feed's
    build; this cuts the encoded line directly. Segments of at most 74 octets, never inside a
    character; a segment that would end with a backslash or a caret leaves it to the next one
    (icalendar does not split an escape sequence; see its issue #1501). Each fold is CRLF and a
    space (RFC 5545, 3.1).
    """
    data = line.encode()
    if len(data) < _FOLD_AT:
        return data
    parts = []
    start = 0
    while len(data) - start >= _FOLD_AT:
        end = start + _FOLD_AT - 1
        while data[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte: inside a character
            end -= 1
        if data[end - 1] in b"\\^":
            end -= 1
        parts.append(data[start:end])
        start = end
    parts.append(data[start:])
    return b"\r\n ".join(parts)


#: Lines of this many octets or more are folded (icalendar's limit).
_FOLD_AT = 75
