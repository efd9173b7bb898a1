"""Calendars (issue 3): every feed parses with two independent parsers (`ical`,
strict, and `vobject`) and passes the project's lint; UIDs, SEQUENCE, STATUS and the window; times
right across the daylight-saving changes; conditional GET; one cheap query per warm poll; the
personal and trainer feeds behind their read-only tokens.
"""

import html
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import vobject

from app import tokens
from app.booking import services as booking
from app.calendars import builder, lint
from app.calendars import services as calendars
from app.calendars.models import FeedState
from app.catalog.models import Level, Room, Site, Topic, Trainer, Workshop, WorkshopStatus
from app.catalog.services import move_workshop
from app.extensions import db
from app.tokens import Token, TokenPurpose
from tests.conftest import manage_secret, outbox
from tests.ical_checks import events, lines

PARIS = ZoneInfo("Europe/Paris")
CONTENT_TYPE = "text/calendar; charset=utf-8"


# --- helpers -------------------------------------------------------------------------------------


def paris(year, month, day, hour, minute=0, fold=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS, fold=fold)


def get_ics(client, url, status=200, **headers):
    response = client.get(url, headers=headers)
    assert response.status_code == status, (url, response.status_code)
    if status == 200:
        assert response.headers["Content-Type"] == CONTENT_TYPE
    return response


def uid(kind, id_):
    return f"{kind}-{id_}@ateliers.test"


def register(workshop, n=1, **fields):
    from app.booking.services import Applicant

    values = dict(
        last_name="Martin",
        first_name="Léa",
        email=f"lea.martin{n}@ac-amiens.fr",
        school="École Jules Ferry",
    )
    values.update(fields)
    return booking.register(workshop.id, Applicant(**values))


def personal_feed_url(client, secret: str, **form) -> str:
    """A new personal feed link, made from the management page (a POST; shown in its answer)."""
    response = client.post(f"/inscription/{secret}/calendrier/renouveler", data=form)
    assert response.status_code == 200, response.status_code
    page = response.get_data(as_text=True)
    return re.search(r'value="http://ateliers\.test(/calendriers/perso/[^"]+\.ics)"', page)[1]


# --- the builder and the lint --------------------------------------------------------------------


def test_an_event_says_everything(client, sites, topic, make_workshop):
    workshop = make_workshop(
        site=sites["amiens"],
        topic=topic("ent", "ENT"),
        level=Level.beginner,
        title="Premiers pas dans l'ENT",
        what_to_bring="Vos identifiants ENT",
        description="Se connecter, publier une actualité.",
    )
    data = get_ics(client, "/calendriers/tous.ics").data
    found = events(data)[uid("workshop", workshop.id)]
    assert found["summary"] == "Premiers pas dans l'ENT (débutant)"
    assert found["location"] == (
        "CRDP, site d'Amiens – Salle multimédia, 45 rue Saint-Leu, 80026 Amiens"
    )
    assert (found["start"], found["end"]) == (workshop.starts_at, workshop.ends_at)
    assert found["status"] == "CONFIRMED" and found["sequence"] == 0

    event = vobject.readOne(data.decode()).vevent
    text = event.description.value
    for part in (
        "Thème : ENT",
        "Niveau : débutant",
        "Animé par : Claire Dumont",
        "À apporter : Vos identifiants ENT",
        "Se connecter, publier une actualité.",
        f"http://ateliers.test/ateliers/{workshop.id}",
    ):
        assert part in text
    assert event.url.value == f"http://ateliers.test/ateliers/{workshop.id}"
    assert event.geo.value == "49.9;2.3"
    assert [c for c in event.categories.value] == ["ENT", "Débutant"]
    stamp = workshop.updated_at.strftime("%Y%m%dT%H%M%SZ")
    unfolded = lines(data)
    assert f"DTSTAMP:{stamp}" in unfolded and f"LAST-MODIFIED:{stamp}" in unfolded
    start = workshop.starts_at.astimezone(PARIS).strftime("%Y%m%dT%H%M%S")
    assert f"DTSTART;TZID=Europe/Paris:{start}" in unfolded


def test_calendar_properties(client, make_workshop):
    make_workshop()
    unfolded = lines(get_ics(client, "/calendriers/tous.ics").data)
    assert "VERSION:2.0" in unfolded
    assert any(line.startswith("PRODID:") for line in unfolded)
    assert "NAME:Ateliers TICE – tous les ateliers" in unfolded
    assert "X-WR-CALNAME:Ateliers TICE – tous les ateliers" in unfolded
    assert "X-WR-TIMEZONE:Europe/Paris" in unfolded
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT4H" in unfolded
    assert "X-PUBLISHED-TTL:PT4H" in unfolded
    assert not any(line.startswith("METHOD") for line in unfolded)
    # The only UIDs are the events': no random calendar UID.
    assert sum(line.startswith("UID:") for line in unfolded) == 1


def test_the_timezone_is_two_rules_not_a_list_of_dates(client, make_workshop):
    make_workshop()
    unfolded = lines(get_ics(client, "/calendriers/tous.ics").data)
    zone = unfolded[unfolded.index("BEGIN:VTIMEZONE") : unfolded.index("END:VTIMEZONE") + 1]
    assert zone.count("BEGIN:STANDARD") == 1 and zone.count("BEGIN:DAYLIGHT") == 1
    assert zone.count("RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10") == 1
    assert zone.count("RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3") == 1
    assert not any(line.startswith("RDATE") for line in zone)
    assert unfolded.count("BEGIN:VTIMEZONE") == 1


def test_same_data_same_bytes(app, clock, make_workshop):
    make_workshop()
    make_workshop(status=WorkshopStatus.cancelled)
    first = calendars.render_public_feed("tous").body
    app.extensions.pop("calendars")  # a cold process, an hour later
    clock.advance(hours=1)
    assert calendars.render_public_feed("tous").body == first


@pytest.mark.parametrize(
    "title",
    [
        "L'ENT\r\nBEGIN:VEVENT\r\nUID:pirate",
        "Virgules, points-virgules; deux-points: et \\ barre",
        "Un titre très long " + "é" * 120,
        "Émoji 📅 et guillemets « »",
        "Famille 👨\u200d👩\u200d👧\u2028séparateur\x0bde ligne\ttabulation",
    ],
)
def test_any_text_stays_inside_its_property(client, make_workshop, title):
    workshop = make_workshop(title=title, what_to_bring=title, description=title)
    found = events(get_ics(client, f"/ateliers/{workshop.id}.ics").data)
    assert list(found) == [uid("workshop", workshop.id)]
    assert found[uid("workshop", workshop.id)]["summary"] == " ".join(title.split()) + " (débutant)"


def test_an_invitation_can_be_built_with_the_same_pieces(app, make_workshop):
    """The mailed invitations of a later issue reuse workshop_event and build_calendar."""
    workshop = make_workshop()
    event = builder.workshop_event(
        workshop,
        uid=builder.event_uid("registration", 7),
        sequence=3,
        organizer=builder.Person("Ateliers TICE", "ateliers-tice@ac-amiens.fr"),
        attendee=builder.Person("Léa Martin", "lea.martin@ac-amiens.fr"),
    )
    data = builder.build_calendar([event], name="Invitation", method="REQUEST")
    found = events(data)
    assert found[uid("registration", 7)]["sequence"] == 3
    unfolded = lines(data)
    assert "METHOD:REQUEST" in unfolded
    assert not any(line.startswith("REFRESH-INTERVAL") for line in unfolded)
    assert any(
        line.startswith("ATTENDEE;") and "mailto:lea.martin@ac-amiens.fr" in line
        for line in unfolded
    )
    assert any(line.startswith("ORGANIZER;") and "CN=" in line for line in unfolded), unfolded


def _calendar(*event_lines, extra=()):
    body = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//test//FR",
        *extra,
        "BEGIN:VTIMEZONE",
        "TZID:Europe/Paris",
        "END:VTIMEZONE",
        *event_lines,
        "END:VCALENDAR",
    ]
    return ("\r\n".join(body) + "\r\n").encode()


def _event(
    uid="a@test",
    start="DTSTART;TZID=Europe/Paris:20260301T100000",
    end="DTEND;TZID=Europe/Paris:20260301T120000",
):
    return ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z", start, end, "END:VEVENT"]


@pytest.mark.parametrize(
    "data, problem",
    [
        (_calendar(*_event()).replace(b"\r\n", b"\n"), "bare LF"),
        (_calendar(*_event(), extra=["X-LONG:" + "x" * 80]), "octets"),
        (_calendar(*_event(), *_event()), "appears twice"),
        (_calendar(*_event(start="DTSTART;TZID=Europe/London:20260301T100000")), "no VTIMEZONE"),
        (_calendar(*_event(end="DTEND;TZID=Europe/Paris:20260301T100000")), "DTEND"),
        (_calendar(*_event(start="DTSTART:20260301T100000")), "floating"),
        (_calendar(*_event(), extra=["REFRESH-INTERVAL:PT4H"]), "VALUE=DURATION"),
        (_calendar(*_event()[:3], *_event()[4:]), "no DTSTART"),
        (_calendar(*_event()).replace(b"END:VEVENT\r\n", b""), "END:VCALENDAR"),
        (_calendar("BEGIN:VEVENT", "DTSTART:20260301T100000Z", "END:VEVENT"), "0 UIDs"),
    ],
)
def test_the_lint_catches(data, problem):
    found = lint.problems(data)
    assert any(problem in p for p in found), found


def test_the_lint_passes_a_good_calendar():
    assert lint.problems(_calendar(*_event(), extra=["REFRESH-INTERVAL;VALUE=DURATION:PT4H"])) == []


# --- topic slugs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "slug", ["tous", "perso", "formateur", "debutant", "expert", "amiens", "abbeville", "peronne"]
)
def test_a_topic_may_not_take_a_reserved_feed_name(app, slug):
    with pytest.raises(ValueError, match="réservé aux calendriers"):
        Topic(slug=slug, name="Thème")


def test_a_topic_may_not_take_a_site_slug(app, make_site):
    make_site(slug="montdidier", name="Montdidier")
    with pytest.raises(ValueError, match="réservé"):
        Topic(slug="montdidier", name="Thème")
    topic = Topic(slug="robotique", name="Robotique")
    db.session.add(topic)
    db.session.commit()
    with pytest.raises(ValueError, match="déjà pris"):
        make_site(slug="robotique", name="Robotique")
    with pytest.raises(ValueError, match="réservé"):
        topic.slug = "tous"


@pytest.mark.parametrize(
    "slug", ["", "ENT", "théâtre", "a b", "a/b", "a.ics", "-a", "a--b", "x" * 41]
)
def test_a_slug_is_lowercase_ascii_words(app, slug):
    with pytest.raises(ValueError, match="lettres minuscules"):
        Topic(slug=slug, name="Thème")


def test_a_good_topic_slug_is_accepted(app):
    assert (
        Topic(slug="ressources-numeriques-2", name="Ressources").slug == "ressources-numeriques-2"
    )


# --- which workshops, in which feed ------------------------------------------------------------


def test_feeds_by_site_level_and_topic(client, sites, topic, make_workshop):
    ent, tbi = topic("ent", "ENT"), topic("tbi", "TBI")
    w = {
        "ent_amiens": make_workshop(site=sites["amiens"], topic=ent, level=Level.beginner),
        "tbi_abbeville": make_workshop(site=sites["abbeville"], topic=tbi, level=Level.expert),
        "tbi_peronne": make_workshop(site=sites["peronne"], topic=tbi, level=Level.beginner),
    }
    expected = {
        "tous": ["ent_amiens", "tbi_abbeville", "tbi_peronne"],
        "amiens": ["ent_amiens"],
        "abbeville": ["tbi_abbeville"],
        "peronne": ["tbi_peronne"],
        "debutant": ["ent_amiens", "tbi_peronne"],
        "expert": ["tbi_abbeville"],
        "ent": ["ent_amiens"],
        "tbi": ["tbi_abbeville", "tbi_peronne"],
    }
    for slug, names in expected.items():
        found = events(get_ics(client, f"/calendriers/{slug}.ics").data)
        assert set(found) == {uid("workshop", w[name].id) for name in names}, slug


@pytest.mark.parametrize("slug", ["inconnu", "perso", "formateur", "TOUS", "tous.ics", "%00"])
def test_an_unknown_feed_is_404(client, make_workshop, slug):
    make_workshop()
    assert client.get(f"/calendriers/{slug}.ics").status_code == 404


def test_the_window_a_year_back_and_cancelled_until_their_day(client, clock, at):
    clock.set(datetime(2026, 6, 10, 10, tzinfo=UTC))
    w = {
        "thirteen_months_ago": at(paris(2025, 5, 6, 14)),
        "eleven_months_ago": at(paris(2025, 7, 9, 14)),
        "yesterday": at(paris(2026, 6, 9, 14)),
        "next_week": at(paris(2026, 6, 17, 14)),
        "in_two_years": at(paris(2028, 6, 14, 14)),
        "cancelled_next_week": at(paris(2026, 6, 17, 9), status=WorkshopStatus.cancelled),
        "cancelled_this_morning": at(paris(2026, 6, 10, 8), status=WorkshopStatus.cancelled),
        "cancelled_yesterday": at(paris(2026, 6, 9, 14), status=WorkshopStatus.cancelled),
        "draft": at(paris(2026, 6, 18, 14), status=WorkshopStatus.draft),
    }
    kept = [
        "eleven_months_ago",
        "yesterday",
        "next_week",
        "in_two_years",
        "cancelled_next_week",
        "cancelled_this_morning",
    ]
    found = events(get_ics(client, "/calendriers/tous.ics").data)
    assert set(found) == {uid("workshop", w[name].id) for name in kept}
    cancelled = found[uid("workshop", w["cancelled_next_week"].id)]
    assert cancelled["status"] == "CANCELLED" and cancelled["summary"].startswith("ANNULÉ")

    # The next day, this morning's cancelled workshop has gone.
    clock.set(datetime(2026, 6, 11, 6, tzinfo=UTC))
    found = events(get_ics(client, "/calendriers/tous.ics").data)
    assert uid("workshop", w["cancelled_this_morning"].id) not in found
    assert uid("workshop", w["cancelled_next_week"].id) in found


def test_one_workshop_as_a_file(client, make_workshop):
    published = make_workshop()
    cancelled = make_workshop(status=WorkshopStatus.cancelled)
    draft = make_workshop(status=WorkshopStatus.draft)

    response = get_ics(client, f"/ateliers/{published.id}.ics")
    assert f'filename="atelier-{published.id}.ics"' in response.headers["Content-Disposition"]
    assert list(events(response.data)) == [uid("workshop", published.id)]
    found = events(get_ics(client, f"/ateliers/{cancelled.id}.ics").data)
    assert found[uid("workshop", cancelled.id)]["status"] == "CANCELLED"
    for url in (
        f"/ateliers/{draft.id}.ics",
        "/ateliers/999999.ics",
        "/ateliers/99999999999999999999.ics",
    ):
        assert client.get(url).status_code == 404, url


def test_a_moved_workshop_keeps_its_uid_with_a_higher_sequence(client, clock, make_workshop):
    workshop = make_workshop()
    before = events(get_ics(client, "/calendriers/tous.ics").data)[uid("workshop", workshop.id)]

    clock.advance(minutes=5)
    move_workshop(
        workshop,
        starts_at=workshop.starts_at + timedelta(hours=1),
        ends_at=workshop.ends_at + timedelta(hours=1),
    )
    after = events(get_ics(client, "/calendriers/tous.ics").data)
    assert list(after) == [uid("workshop", workshop.id)]
    moved = after[uid("workshop", workshop.id)]
    assert moved["start"] == before["start"] + timedelta(hours=1)
    assert moved["sequence"] > before["sequence"]

    sequence = workshop.sequence
    move_workshop(workshop, starts_at=workshop.starts_at)  # no change, no new sequence
    assert workshop.sequence == sequence


# --- daylight saving -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start, end, utc_start, utc_end",
    [
        # 29 March 2026: 02:00 CET becomes 03:00 CEST.
        (paris(2026, 3, 28, 14), paris(2026, 3, 28, 17), "2026-03-28T13:00", "2026-03-28T16:00"),
        (
            paris(2026, 3, 29, 1, 30),
            paris(2026, 3, 29, 3, 30),
            "2026-03-29T00:30",
            "2026-03-29T01:30",
        ),
        (paris(2026, 3, 29, 3, 30), paris(2026, 3, 29, 5), "2026-03-29T01:30", "2026-03-29T03:00"),
        (paris(2026, 3, 29, 14), paris(2026, 3, 29, 17), "2026-03-29T12:00", "2026-03-29T15:00"),
        (paris(2026, 3, 30, 17), paris(2026, 3, 30, 19), "2026-03-30T15:00", "2026-03-30T17:00"),
        # 25 October 2026: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
        (paris(2026, 10, 24, 14), paris(2026, 10, 24, 17), "2026-10-24T12:00", "2026-10-24T15:00"),
        (
            paris(2026, 10, 25, 2, 30),
            paris(2026, 10, 25, 4),
            "2026-10-25T00:30",
            "2026-10-25T03:00",
        ),
        (
            paris(2026, 10, 25, 2, 30, fold=1),
            paris(2026, 10, 25, 4),
            "2026-10-25T01:30",
            "2026-10-25T03:00",
        ),
        (
            paris(2026, 10, 25, 1, 30),
            paris(2026, 10, 25, 2, 30, fold=1),
            "2026-10-24T23:30",
            "2026-10-25T01:30",
        ),
        (paris(2026, 10, 25, 14), paris(2026, 10, 25, 17), "2026-10-25T13:00", "2026-10-25T16:00"),
        (paris(2026, 10, 26, 17), paris(2026, 10, 26, 19), "2026-10-26T16:00", "2026-10-26T18:00"),
        # Late evening: the next UTC day in winter, the same one in summer.
        (
            paris(2026, 12, 9, 22, 30),
            paris(2026, 12, 9, 23, 59),
            "2026-12-09T21:30",
            "2026-12-09T22:59",
        ),
        (
            paris(2026, 3, 31, 23, 30),
            paris(2026, 4, 1, 0, 30),
            "2026-03-31T21:30",
            "2026-03-31T22:30",
        ),
    ],
)
def test_times_across_daylight_saving_changes(client, at, start, end, utc_start, utc_end):
    workshop = at(start, ends_at=end)
    intended = (
        datetime.fromisoformat(utc_start + "+00:00"),
        datetime.fromisoformat(utc_end + "+00:00"),
    )
    assert (workshop.starts_at, workshop.ends_at) == intended
    for url in ("/calendriers/tous.ics", f"/ateliers/{workshop.id}.ics"):
        found = events(get_ics(client, url).data)[uid("workshop", workshop.id)]
        assert (found["start"], found["end"]) == intended, url


# --- conditional GET -----------------------------------------------------------------------------


def test_conditional_get_and_last_modified_moving_forward(client, clock, make_workshop):
    keep = make_workshop()
    doomed = make_workshop()
    url = "/calendriers/tous.ics"
    history = []

    def fetch_changed():
        response = get_ics(client, url)
        etag, modified = response.headers["ETag"], response.last_modified
        assert not etag.startswith("W/")
        if history:
            assert etag != history[-1][0] and modified > history[-1][1]
        history.append((etag, modified))
        # Unchanged: 304 on either validator, with no body.
        for headers in (
            {"If-None-Match": etag},
            {"If-Modified-Since": response.headers["Last-Modified"]},
        ):
            again = client.get(url, headers=headers)
            assert again.status_code == 304 and again.data == b""
            assert again.headers["ETag"] == etag
        # A stale ETag gets the feed, whatever If-Modified-Since says (If-None-Match wins).
        stale = client.get(
            url,
            headers={
                "If-None-Match": '"stale"',
                "If-Modified-Since": response.headers["Last-Modified"],
            },
        )
        assert stale.status_code == 200 and stale.data == response.data
        return response.data

    first = fetch_changed()
    assert first == get_ics(client, url).data  # the same bytes while nothing changes

    clock.advance(seconds=1)
    keep.title = "Nouveau titre"
    db.session.commit()
    assert b"Nouveau titre" in fetch_changed()

    db.session.delete(doomed)  # a deletion changes no remaining row
    db.session.commit()
    assert uid("workshop", doomed.id).encode() not in fetch_changed()

    keep.status = WorkshopStatus.cancelled  # no clock move: the same second
    keep.sequence += 1
    db.session.commit()
    assert b"STATUS:CANCELLED" in fetch_changed()

    # The day after, the past cancelled workshop drops out: no row changed at all.
    clock.set(keep.starts_at + timedelta(days=1))
    data = fetch_changed()
    assert b"BEGIN:VEVENT" not in data


def test_last_modified_never_goes_back_when_old_bytes_return(app, clock, make_workshop):
    workshop = make_workshop()
    first = calendars.render_public_feed("tous")
    clock.advance(seconds=30)
    workshop.title, title = "Autre titre", workshop.title
    db.session.commit()
    second = calendars.render_public_feed("tous")
    clock.advance(seconds=30)
    workshop.title = title
    db.session.commit()
    third = calendars.render_public_feed("tous")
    assert third.body != second.body
    assert first.last_modified < second.last_modified < third.last_modified
    state = db.session.get(FeedState, "tous")
    assert state.etag == third.etag and state.first_seen_at == third.last_modified


@pytest.mark.parametrize("slug", ["tous", "amiens", "debutant", "ent"])
def test_a_warm_poll_is_one_query(client, count_queries, sites, topic, make_workshop, slug):
    for n in range(6):
        make_workshop(site=sites["amiens"], topic=topic("ent", "ENT"), title=f"Atelier {n}")
    url = f"/calendriers/{slug}.ics"
    etag = get_ics(client, url).headers["ETag"]
    with count_queries() as warm:
        assert get_ics(client, url).headers["ETag"] == etag
    with count_queries() as not_modified:
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert warm.count == 1 and not_modified.count == 1, warm.statements


# --- a thousand workshops, and the demo ----------------------------------------------------------


def _generate(count: int, clock) -> dict[str, set[int]]:
    """`count` workshops from 14 months back to 20 months ahead, of every kind; the UIDs each
    kind of feed must hold."""
    sites = []
    for slug, name, lat, lon in (
        ("amiens", "Amiens", 49.8967, 2.3005),
        ("abbeville", "Abbeville", 50.1054, 1.8339),
        ("peronne", "Péronne", 49.9316, 2.9333),
    ):
        site = Site(
            slug=slug,
            name=name,
            street="1 rue",
            postcode="80000",
            city=name,
            latitude=lat,
            longitude=lon,
        )
        site.rooms = [Room(name=f"Salle {n}", capacity=20) for n in range(4)]
        sites.append(site)
    topics = [Topic(slug=s, name=s.upper()) for s in ("ent", "tbi", "tablettes", "ressources")]
    trainers = [
        Trainer(first_name="Formateur", last_name=f"N{n}", email=f"f{n}@ac-amiens.fr")
        for n in range(25)
    ]
    db.session.add_all([*sites, *topics, *trainers])
    today = clock.now.astimezone(PARIS).date()
    first_day = today - timedelta(days=425)
    expected: dict[str, set[int]] = {}
    created = []
    for i in range(count):
        day = first_day + timedelta(days=i * 1040 // count)
        hour, minute, length = [(9, 0, 180), (14, 0, 180), (17, 0, 120), (22, 30, 89)][i % 4]
        starts_at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)
        status = WorkshopStatus.published
        if i % 9 == 0:
            status = WorkshopStatus.cancelled
        elif i % 31 == 0:
            status = WorkshopStatus.draft
        site = sites[i % 3]
        workshop = Workshop(
            title=f"Atelier {i} : l'ENT, le TBI; et « le reste »",
            description="Découvrir.\nPratiquer.",
            topic=topics[i % 4],
            level=Level.beginner if i % 2 else Level.expert,
            room=site.rooms[i % 4],
            trainer=trainers[i % 25],
            capacity=12,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=length),
            status=status,
            what_to_bring="Une tablette" if i % 5 == 0 else "",
            sequence=2 if i % 13 == 0 else 0,  # moved twice
        )
        db.session.add(workshop)
        created.append(workshop)
    db.session.commit()
    midnight = datetime.combine(today, datetime.min.time(), PARIS)
    for w in created:
        in_window = (
            w.status is WorkshopStatus.published and w.starts_at >= midnight - timedelta(days=365)
        ) or (w.status is WorkshopStatus.cancelled and w.starts_at >= midnight)
        if not in_window:
            continue
        for key in (
            "tous",
            w.room.site.slug,
            w.level.value,
            w.topic.slug,
            f"trainer:{w.trainer_id}",
        ):
            expected.setdefault(key, set()).add(uid("workshop", w.id))
    return expected


def test_a_thousand_workshops_every_feed_parses(client, clock, app):
    clock.set(datetime(2026, 11, 28, 9, tzinfo=UTC))
    expected = _generate(1000, clock)
    assert len(expected["tous"]) > 500
    times = {
        w.id: (w.starts_at, w.ends_at, w.sequence, w.status)
        for w in db.session.scalars(sa.select(Workshop))
    }
    for feed in calendars.public_feeds():
        found = events(get_ics(client, feed.path).data)
        assert set(found) == expected[feed.slug], feed.slug
        for key, event in found.items():
            start, end, sequence, status = times[int(key.split("-")[1].split("@")[0])]
            assert (event["start"], event["end"], event["sequence"]) == (start, end, sequence)
            assert event["status"] == (
                "CANCELLED" if status is WorkshopStatus.cancelled else "CONFIRMED"
            )
    late = [
        e
        for e in events(get_ics(client, "/calendriers/tous.ics").data).values()
        if e["start"].astimezone(PARIS).hour == 22
    ]
    assert late and all(e["end"].astimezone(PARIS).strftime("%H:%M") == "23:59" for e in late)

    trainer = db.session.scalar(sa.select(Trainer).where(Trainer.last_name == "N3"))
    link = calendars.trainer_feed_link(trainer.email)
    found = events(get_ics(client, link.removeprefix("http://ateliers.test")).data)
    assert set(found) == expected[f"trainer:{trainer.id}"]


def test_every_feed_of_the_demo_parses(client, app, clock):
    assert "créées" in app.test_cli_runner().invoke(args=["seed-demo"]).output
    # The first workshop still open (the demo's session of today has started).
    workshop = db.session.scalar(
        sa.select(Workshop).where(Workshop.starts_at > clock.now).order_by(Workshop.starts_at)
    )
    register(workshop)
    workshop.status = WorkshopStatus.cancelled
    db.session.commit()
    feeds = calendars.public_feeds()
    assert len(feeds) == 1 + 3 + 2 + 4
    total = 0
    for feed in feeds:
        found = events(get_ics(client, feed.path).data)
        assert found, feed.slug
        total += len(found)
    assert total > 4 * 30
    urls = [
        f"/ateliers/{workshop.id}.ics",
        personal_feed_url(client, manage_secret(outbox()[-1])),
        app.test_cli_runner()
        .invoke(args=["calendars", "lien-formateur", "claire.dumont@ac-amiens.fr"])
        .output.strip()
        .removeprefix("http://ateliers.test"),
    ]
    for url in urls:
        assert events(get_ics(client, url).data), url


# --- the calendars page --------------------------------------------------------------------------


def test_the_calendars_page_lists_every_feed(client, sites, topic):
    topic("ent", "ENT")
    topic("ressources-numeriques", "Ressources numériques")
    response = client.get("/calendriers")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    page = html.unescape(body)
    assert '<html lang="fr">' in body
    assert '<a href="/calendriers" aria-current="page">Calendriers</a>' in body
    for slug in (
        "tous",
        "amiens",
        "abbeville",
        "peronne",
        "debutant",
        "expert",
        "ent",
        "ressources-numeriques",
    ):
        https = f"http://ateliers.test/calendriers/{slug}.ics"
        webcal = f"webcal://ateliers.test/calendriers/{slug}.ics"
        assert f'<label for="adresse-{slug}">' in body
        assert f'id="adresse-{slug}" type="url" value="{https}"' in body
        assert f'href="{webcal}"' in body
        assert (
            "https://calendar.google.com/calendar/r?cid=webcal%3A%2F%2Fateliers.test%2Fcalendriers%2F"
            + slug
            in body
        )
        assert (
            "https://outlook.live.com/calendar/0/addfromweb?url=http%3A%2F%2Fateliers.test%2Fcalendriers%2F"
            + slug
            in body
        )
    for heading in (
        "Par site",
        "Par niveau",
        "Par thème",
        "Google Agenda",
        "Outlook",
        "Calendrier d'Apple",
        "Thunderbird",
        "Ateliers TICE – Péronne",
    ):
        assert heading in page
    assert "<h1>" in body


def test_the_nav_links_to_the_calendars(client):
    assert '<a href="/calendriers">Calendriers</a>' in client.get("/ateliers").get_data(
        as_text=True
    )


# --- a teacher's personal feed -------------------------------------------------------------------


def test_the_personal_feed_follows_the_registrations(client, clock, make_workshop):
    confirmed_one = make_workshop(capacity=5)
    full = make_workshop(capacity=1)
    other = make_workshop()
    register(full, n=2)  # someone else takes the only seat
    first = register(confirmed_one).row
    waiting = register(full).row
    register(other, n=3)  # another person's registration
    secret = manage_secret(next(m for m in outbox("confirmed") if m.recipient == first.email))
    assert booking.registration_for_token(secret).id == first.id

    url = personal_feed_url(client, secret)
    found = events(get_ics(client, url).data)
    assert set(found) == {uid("registration", first.id), uid("registration", waiting.id)}
    assert found[uid("registration", waiting.id)]["summary"].endswith(
        "(débutant) – liste d'attente"
    )
    assert found[uid("registration", waiting.id)]["status"] == "TENTATIVE"
    assert found[uid("registration", first.id)]["status"] == "CONFIRMED"
    response = client.get(url)
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert response.headers["X-Robots-Tag"] == "noindex"

    # Cancelling the registration takes it out of the feed at once.
    clock.advance(seconds=1)
    booking.cancel(secret)
    found = events(get_ics(client, url).data)
    assert set(found) == {uid("registration", waiting.id)}

    # Registering again gives a fresh event (a new registration, a new UID).
    again = register(confirmed_one).row
    found = events(get_ics(client, url).data)
    assert set(found) == {uid("registration", waiting.id), uid("registration", again.id)}


def test_a_cancelled_workshop_shows_cancelled_in_the_personal_feed(client, clock, make_workshop):
    workshop = make_workshop()
    register(workshop)
    url = personal_feed_url(client, manage_secret(outbox()[-1]))
    clock.advance(seconds=1)
    workshop.status = WorkshopStatus.cancelled
    workshop.sequence += 1
    db.session.commit()
    found = events(get_ics(client, url).data)
    assert [e["status"] for e in found.values()] == ["CANCELLED"]


def test_opening_the_management_page_writes_nothing_the_feed_link_comes_from_a_post(
    client, make_workshop
):
    """Mail scanners open management links: 50 openings mint no feed token. The link
    is made by a POST, shown in its answer only, and kept nowhere readable (not in the cookie)."""
    workshop = make_workshop()
    register(workshop)
    secret = manage_secret(outbox()[-1])
    feed_tokens = (
        sa.select(sa.func.count())
        .select_from(Token)
        .where(Token.purpose == TokenPurpose.personal_feed)
    )
    for _ in range(50):
        page = html.unescape(
            client.application.test_client().get(f"/inscription/{secret}").get_data(as_text=True)
        )
    assert db.session.scalar(feed_tokens) == 0
    assert "Mon calendrier personnel" in page and "/calendriers/perso/" not in page
    assert "Obtenir le lien de mon calendrier" in page

    response = client.post(f"/inscription/{secret}/calendrier/renouveler")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    page = html.unescape(response.get_data(as_text=True))
    url = re.search(r'value="http://ateliers\.test(/calendriers/perso/[^"]+\.ics)"', page)[1]
    assert "il ne sera plus affiché" in page
    assert f"webcal://ateliers.test{url}" in page
    assert "calendar.google.com" in page and "outlook.live.com" in page
    assert db.session.scalar(feed_tokens) == 1
    get_ics(client, url)
    feed_secret = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert not any(feed_secret in cookie.value for cookie in client._cookies.values())

    # Visited again: the link is not shown (it cannot be), the page says one exists.
    page = html.unescape(client.get(f"/inscription/{secret}").get_data(as_text=True))
    assert "/calendriers/perso/" not in page
    assert "Vous avez créé un lien d'abonnement le" in page and "Créer un nouveau lien" in page
    assert db.session.scalar(feed_tokens) == 1

    # A new one: the old link stops working.
    renewed = personal_feed_url(client, secret)
    assert renewed != url
    assert client.get(url).status_code == 404
    get_ics(client, renewed)


def test_renewing_needs_csrf(app, make_workshop):
    app.config["WTF_CSRF_ENABLED"] = True
    workshop = make_workshop()
    register(workshop)
    secret = manage_secret(outbox()[-1])
    client = app.test_client()
    page = client.get(f"/inscription/{secret}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    url = personal_feed_url(client, secret, csrf_token=csrf)
    assert client.post(f"/inscription/{secret}/calendrier/renouveler").status_code == 400
    get_ics(client, url)  # still valid
    assert personal_feed_url(client, secret, csrf_token=csrf) != url
    assert client.get(url).status_code == 404


def test_tokens_open_only_their_own_purpose(client, make_workshop):
    workshop = make_workshop()
    register(workshop)
    manage = manage_secret(outbox()[-1])
    feed = personal_feed_url(client, manage).split("/")[-1].removesuffix(".ics")
    assert client.get(f"/calendriers/perso/{manage}.ics").status_code == 404
    assert client.get(f"/inscription/{feed}").status_code == 404
    assert client.get(f"/calendriers/formateur/{feed}.ics").status_code == 404
    assert client.post(f"/inscription/{feed}/calendrier/renouveler").status_code == 404
    for bad in ("x", "a" * 43, "%00" * 43):
        assert client.get(f"/calendriers/perso/{bad}.ics").status_code == 404


def test_a_warm_personal_or_trainer_poll_is_two_queries(client, app, count_queries, make_workshop):
    for _ in range(3):
        register(make_workshop())
    url = personal_feed_url(client, manage_secret(outbox()[-1]))
    trainer_url = (
        app.test_cli_runner()
        .invoke(args=["calendars", "lien-formateur", "claire.dumont@ac-amiens.fr"])
        .output.strip()
        .removeprefix("http://ateliers.test")
    )
    for feed_url in (url, trainer_url):
        etag = get_ics(client, feed_url).headers["ETag"]
        with count_queries() as warm:
            assert get_ics(client, feed_url).headers["ETag"] == etag
        with count_queries() as not_modified:
            assert client.get(feed_url, headers={"If-None-Match": etag}).status_code == 304
        assert warm.count <= 2 and not_modified.count <= 2, warm.statements


# --- a trainer's feed ----------------------------------------------------------------------------


def test_the_trainer_feed(client, app, make_workshop):
    mine = make_workshop()
    cancelled = make_workshop(status=WorkshopStatus.cancelled)
    someone_else = Trainer(
        first_name="Karim", last_name="Benali", email="karim.benali@ac-amiens.fr"
    )
    db.session.add(someone_else)
    db.session.commit()
    not_mine = make_workshop()
    not_mine.trainer = someone_else
    db.session.commit()

    result = app.test_cli_runner().invoke(
        args=["calendars", "lien-formateur", "Claire.Dumont@ac-amiens.fr "]
    )
    assert result.exit_code == 0
    url = result.output.strip()
    assert re.fullmatch(r"http://ateliers\.test/calendriers/formateur/[A-Za-z0-9_-]{43}\.ics", url)
    response = get_ics(client, url.removeprefix("http://ateliers.test"))
    found = events(response.data)
    assert set(found) == {uid("workshop", mine.id), uid("workshop", cancelled.id)}
    assert uid("workshop", not_mine.id) not in found
    assert "sessions de Claire Dumont" in response.get_data(as_text=True)

    token = db.session.scalar(sa.select(Token).where(Token.purpose == TokenPurpose.trainer_feed))
    token.revoked_at = token.created_at
    db.session.commit()
    assert client.get(url.removeprefix("http://ateliers.test")).status_code == 404


def test_the_trainer_link_command_refuses_an_unknown_address(app):
    result = app.test_cli_runner().invoke(
        args=["calendars", "lien-formateur", "personne@ac-amiens.fr"]
    )
    assert result.exit_code != 0
    assert "Aucun formateur" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Token)) == 0


def test_token_purposes_are_stored(app):
    """The new purpose passes the CHECK constraint of the migrated database (both backends)."""
    tokens.mint(TokenPurpose.trainer_feed, 1)
    db.session.commit()
    stored = db.session.scalar(sa.text("SELECT purpose FROM tokens"))
    assert stored == "trainer-feed"


def test_the_workshop_page_links_to_its_calendar_file(client, make_workshop):
    workshop = make_workshop()
    body = client.get(f"/ateliers/{workshop.id}").get_data(as_text=True)
    assert f'href="/ateliers/{workshop.id}.ics"' in body
    assert 'href="/calendriers"' in body


# --- the migration -------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database(request, tmp_path):
    """An empty database of each backend, for migrations run by the test itself."""
    import os

    from tests.conftest import postgresql_schema

    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    url, drop = postgresql_schema(f"pytest_migrations_{os.getpid()}")
    yield url
    drop()


def test_the_calendar_migration_goes_down_and_up(fresh_database):
    """The trainer-feed purpose is in the tokens' CHECK constraint only after the upgrade."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy.exc import IntegrityError

    from app import create_app
    from tests.conftest import make_config

    insert = sa.text(
        "INSERT INTO tokens (digest, purpose, owner_id, created_at) "
        "VALUES (:digest, 'trainer-feed', 1, CURRENT_TIMESTAMP)"
    )
    app = create_app(make_config(fresh_database))
    with app.app_context():
        upgrade(revision="280824010436")
        downgrade(revision="-1")
        with db.engine.connect() as connection:
            assert "feed_states" not in sa.inspect(connection).get_table_names()
            with pytest.raises(IntegrityError):
                connection.execute(insert, {"digest": "a" * 64})
            connection.rollback()
        upgrade()
        with db.engine.begin() as connection:
            assert "feed_states" in sa.inspect(connection).get_table_names()
            connection.execute(insert, {"digest": "b" * 64})
        db.engine.dispose()
