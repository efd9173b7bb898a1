"""The exchange half-day's agenda as iCalendar: the public feed `/rencontres/<year>.ics` and the
invitations mailed to presenters.

Exchange chooses the slots and hands plain values to `app.calendars`. A contribution's event has
the UID `contribution-<id>@host` everywhere (feed and invitations) and the contribution's own
`sequence`, raised each time a published version moves it; the plenaries and the break are
`exchange-opening-<half-day id>@host`… with the half-day's sequence. DTSTAMP and LAST-MODIFIED
come from the version's publication time: the same version gives the same bytes.
"""

from datetime import datetime

from icalendar import Event

from app.calendars.builder import (
    CANCELLED,
    CONFIRMED,
    EventValues,
    Person,
    build_calendar,
    event_uid,
    organizer,
    plain_event,
    public_url,
)
from app.exchange.models import AgendaSlot, Contribution, HalfDay, SlotKind
from app.formatting import site_place

#: Summaries of the slots that are not contributions.
PLENARY_TITLES = {
    SlotKind.opening: "Ouverture des Rencontres (plénière)",
    SlotKind.closing: "Clôture des Rencontres (plénière)",
    SlotKind.break_: "Pause",
}


def agenda_path(half_day: HalfDay) -> str:
    return f"/rencontres/{half_day.school_year}"


def feed_path(half_day: HalfDay) -> str:
    return f"/rencontres/{half_day.school_year}.ics"


def contribution_uid(contribution: Contribution) -> str:
    return event_uid("contribution", contribution.id)


def slot_uid(half_day: HalfDay, slot: AgendaSlot) -> str:
    if slot.contribution is not None:
        return contribution_uid(slot.contribution)
    return event_uid(f"exchange-{slot.kind.value}", half_day.id)


def _location(half_day: HalfDay, slot: AgendaSlot) -> str:
    site = half_day.site
    where = slot.room.name if slot.room is not None else "Tous"
    return f"{site_place(site)} – {where}, {site.address}"


def _contribution_text(contribution: Contribution) -> list[str]:
    lines = [
        f"Présenté par : {', '.join(contribution.presenter_names)} ({contribution.organisation})",
        f"Format : {contribution.format.title}",
        f"Thème : {contribution.topic.name}",
        f"Niveau : {contribution.level.title.lower()}",
        "",
        contribution.summary,
    ]
    return lines


def slot_values(
    half_day: HalfDay,
    slot: AgendaSlot,
    *,
    stamp: datetime,
    status: str = CONFIRMED,
    notice: str | None = None,
) -> EventValues:
    """One slot of the agenda as plain event values."""
    contribution = slot.contribution
    lines = [notice, ""] if notice else []
    if contribution is not None:
        summary = contribution.title
        lines += _contribution_text(contribution)
        categories = (contribution.topic.name, contribution.level.title)
        sequence = contribution.sequence
        anchor = f"#contribution-{contribution.id}"
    else:
        summary = PLENARY_TITLES[slot.kind]
        categories = ()
        sequence = half_day.sequence
        anchor = ""
    lines += ["", f"{half_day.title} – programme complet : {public_url(agenda_path(half_day))}"]
    site = half_day.site
    geo = (
        (site.latitude, site.longitude)
        if site.latitude is not None and site.longitude is not None
        else None
    )
    return EventValues(
        uid=slot_uid(half_day, slot),
        sequence=sequence,
        stamp=stamp,
        starts=slot.starts_at,
        ends=slot.ends_at,
        summary=summary,
        location=_location(half_day, slot),
        description="\n".join(lines).strip("\n"),
        url=public_url(agenda_path(half_day) + anchor),
        categories=categories,
        status=status,
        geo=geo,
    )


def agenda_feed(half_day: HalfDay, slots: list[AgendaSlot], stamp: datetime) -> bytes:
    """The published agenda as a subscribable calendar: every slot, one event each."""
    events = [plain_event(slot_values(half_day, slot, stamp=stamp)) for slot in slots]
    return build_calendar(events, name=half_day.title)


def invitation(
    half_day: HalfDay,
    slot: AgendaSlot,
    presenter: Person,
    *,
    stamp: datetime,
    cancelled: bool = False,
    notice: str | None = None,
) -> tuple[str, bytes]:
    """The iTIP message putting a contribution's slot in a presenter's calendar (REQUEST), or
    taking it out (CANCEL) when it left the agenda; same UID, the contribution's sequence."""
    method = "CANCEL" if cancelled else "REQUEST"
    event: Event = plain_event(
        slot_values(
            half_day, slot, stamp=stamp, status=CANCELLED if cancelled else CONFIRMED, notice=notice
        ),
        organizer=organizer(),
        attendee=presenter,
    )
    title = slot.contribution.title if slot.contribution is not None else half_day.title
    return method, build_calendar([event], name=title, method=method, feed=False)
