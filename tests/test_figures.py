"""The steering committee's figures: checked against a data set whose numbers are known by
construction, overall and by site, level and topic; the period's bounds in Paris time; the page
(charts as well-formed SVG, bad periods), the CSV, the PDF report, who may see them, and a query
count that does not grow with the number of workshops."""

import csv
import io
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta

import pytest

from app.admin import (
    figures_definitions,
    figures_lines,
    figures_period,
    figures_queries,
    figures_report,
    figures_values,
)
from app.attendance.models import (
    Attendance,
    LevelFit,
    Presence,
    QuestionnaireAnswer,
    SessionClosure,
    WillUse,
)
from app.booking.models import Registration, RegistrationStatus, Source
from app.catalog.models import Level, WorkshopStatus
from app.extensions import db
from app.formatting import PARIS, Period, PeriodError, to_paris
from tests.conftest import login, require

SVG = "{http://www.w3.org/2000/svg}"
CONFIRMED, WAITING, CANCELLED, WALK_IN = (
    RegistrationStatus.confirmed,
    RegistrationStatus.waiting,
    RegistrationStatus.cancelled,
    RegistrationStatus.walk_in,
)
LISTE, AFFICHE, ENT = Source.mailing_list, Source.poster, Source.ent
PRESENT, ABSENT = Presence.present, Presence.absent

#: The teachers of the data set: their school's UAI (as typed) and name. t1 and t2 share a
#: school by UAI (typed in two cases), t3 and t5 by name (typed two ways), t8 and t15 by UAI.
TEACHERS = {
    1: ("0801234A", "École Jules Ferry"),
    2: ("0801234a", "Ecole Jules-Ferry"),
    3: (None, "École Victor Hugo"),
    4: (None, "École des Prés"),
    5: (None, "  ecole victor-hugo "),
    6: (None, "École du Bois"),
    7: (None, "École du Parc"),
    8: ("0805678B", "École du Centre"),
    9: (None, "Ecole de la Rue"),
    10: (None, "École du Moulin"),
    11: (None, "École des Tilleuls"),
    12: ("0809999C", "École Louise Michel"),
    13: (None, "École Pasteur"),
    14: (None, "École Curie"),
    15: ("0805678B", "École du Centre, Abbeville"),
    16: (None, "École des Lilas"),
    20: (None, "École Jean Moulin"),
    21: (None, "École Jean Moulin"),
    22: (None, "École Jean Moulin"),
}


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


@pytest.fixture
def data(app, sites, topic, at):
    """Workshops of school year 2025–2026 (the clock says 2 March 2026), one of the year before,
    and the people, marks, closures and answers whose figures the tests below state.

    W1 Amiens, débutant, ENT, 3 h, 4 seats, closed: t1–t4 confirmed (t4 absent), t5 and t6
       still waiting at the start (t5 admitted at the door, present), t7 cancelled, t8 walk-in.
    W2 Amiens, expert, TBI, 2 h, 3 seats, closed: t1, t9 present, t10 (promoted from the waiting
       list) absent, t11 cancelled after having had a seat.
    W3 Abbeville, débutant, Tablettes, 2 h, 2 seats, not closed: t12 (marked present), t13;
       t14 left the waiting list without ever having had a seat.
    W4 Abbeville, expert, ENT, 3 h, 4 seats, closed: t15 present, t16 absent.
    W5 Péronne, débutant, TBI: cancelled, with two cancelled registrations.
    W6 Amiens, débutant, ENT: published, still to come (11 March 2026).
    W7 Amiens, expert, ENT: a draft in the past.
    W8 Péronne, expert, Tablettes, 2 h: June 2025 (school year 2024–2025), closed, 3 present.
    """
    ent, tbi, tablets = topic("ent", "ENT"), topic("tbi", "TBI"), topic("tablettes", "Tablettes")
    amiens, abbeville, peronne = sites["amiens"], sites["abbeville"], sites["peronne"]
    beginner, expert = Level.beginner, Level.expert

    def workshop(start, hours, site, level, topic_, capacity, status=WorkshopStatus.published):
        return at(
            start,
            ends_at=start + timedelta(hours=hours),
            site=site,
            level=level,
            topic=topic_,
            capacity=capacity,
            status=status,
        )

    w = {
        1: workshop(paris(2025, 10, 8, 14), 3, amiens, beginner, ent, 4),
        2: workshop(paris(2025, 11, 12, 14), 2, amiens, expert, tbi, 3),
        3: workshop(paris(2026, 1, 14, 17), 2, abbeville, beginner, tablets, 2),
        4: workshop(paris(2026, 2, 11, 14), 3, abbeville, expert, ent, 4),
        5: workshop(paris(2025, 12, 3, 14), 3, peronne, beginner, tbi, 6, WorkshopStatus.cancelled),
        6: workshop(paris(2026, 3, 11, 14), 3, amiens, beginner, ent, 6),
        7: workshop(paris(2026, 2, 4, 14), 3, amiens, expert, ent, 6, WorkshopStatus.draft),
        8: workshop(paris(2025, 6, 18, 14), 2, peronne, expert, tablets, 6),
    }
    people = {}

    def reg(n, wid, status, source=None, *, position=None, promoted=False, ever_confirmed=True):
        made = w[wid].starts_at - timedelta(days=20)
        confirmed_at = None
        if status is CONFIRMED or (status is CANCELLED and ever_confirmed):
            confirmed_at = made + timedelta(days=5) if promoted else made
        uai, school = TEACHERS[n]
        registration = Registration(
            workshop=w[wid],
            last_name=f"Nom{n}",
            first_name="Prénom",
            email=f"t{n}@ac-amiens.fr",
            school=school,
            uai=uai,
            status=status,
            waiting_position=position,
            source=source,
            created_at=made,
            confirmed_at=confirmed_at,
            cancelled_at=made + timedelta(days=1) if status is CANCELLED else None,
        )
        db.session.add(registration)
        people[(n, wid)] = registration
        return registration

    reg(1, 1, CONFIRMED, LISTE), reg(2, 1, CONFIRMED, LISTE), reg(3, 1, CONFIRMED, AFFICHE)
    reg(4, 1, CONFIRMED), reg(5, 1, WAITING, ENT, position=1), reg(6, 1, WAITING, LISTE, position=2)
    reg(7, 1, CANCELLED), reg(8, 1, WALK_IN)
    reg(1, 2, CONFIRMED, AFFICHE), reg(9, 2, CONFIRMED), reg(10, 2, CONFIRMED, LISTE, promoted=True)
    reg(11, 2, CANCELLED, ENT)
    reg(12, 3, CONFIRMED, LISTE), reg(13, 3, CONFIRMED, AFFICHE)
    reg(14, 3, CANCELLED, ever_confirmed=False)
    reg(15, 4, CONFIRMED, ENT), reg(16, 4, CONFIRMED, LISTE)
    reg(1, 5, CANCELLED, LISTE), reg(2, 5, CANCELLED)
    reg(3, 6, CONFIRMED, LISTE)
    for n in (20, 21, 22):
        reg(n, 8, CONFIRMED, LISTE)
    db.session.flush()

    marks = {
        1: {1: PRESENT, 2: PRESENT, 3: PRESENT, 4: ABSENT, 5: PRESENT, 8: PRESENT},
        2: {1: PRESENT, 9: PRESENT, 10: ABSENT},
        3: {12: PRESENT},
        4: {15: PRESENT, 16: ABSENT},
        8: {20: PRESENT, 21: PRESENT, 22: PRESENT},
    }
    for wid, presences in marks.items():
        for n, presence in presences.items():
            db.session.add(
                Attendance(
                    registration_id=people[(n, wid)].id,
                    workshop_id=w[wid].id,
                    presence=presence,
                    tapped_at_ms=1_700_000_000_000,
                )
            )
    for wid in (1, 2, 4, 8):
        db.session.add(SessionClosure(workshop_id=w[wid].id, closed_at=w[wid].ends_at))
    answers = [
        (1, 1, 5, LevelFit.right, WillUse.yes),
        (2, 1, 4, LevelFit.right, WillUse.maybe),
        (3, 1, 3, LevelFit.too_easy, WillUse.yes),
        (9, 2, 2, LevelFit.too_hard, WillUse.no),
        (15, 4, 4, LevelFit.right, WillUse.yes),
        (20, 8, 1, LevelFit.too_hard, WillUse.no),
    ]
    for n, wid, usefulness, fit, use in answers:
        db.session.add(
            QuestionnaireAnswer(
                registration_id=people[(n, wid)].id,
                workshop_id=w[wid].id,
                usefulness=usefulness,
                level_fit=fit,
                will_use=use,
            )
        )
    db.session.commit()
    return w


def expected(**values) -> dict:
    """Every figure of a line: zeros and "cannot be computed" unless stated."""
    base = dict(
        held=0,
        cancelled=0,
        planned=0,
        seats=0,
        hours_held=0,
        registrations=0,
        walk_ins=0,
        confirmed=0,
        fill_rate=None,
        waiting_at_start=0,
        waiting_pressure=None,
        waitlisted_workshops=0,
        closed_sessions=0,
        closed_confirmed=0,
        attendance_rate=None,
        no_show_rate=None,
        attendees=0,
        teachers=0,
        schools=0,
        hours_delivered=0,
        answers=0,
        usefulness_mean=None,
    )
    base.update(values)
    for key, categories in (
        ("sources", ("liste", "affiche", "ent", "direct")),
        ("level_fit", ("too_easy", "right", "too_hard")),
        ("will_use", ("yes", "maybe", "no")),
    ):
        base[key] = {category: 0 for category in categories} | values.get(key, {})
    return base


def assert_line(line: figures_lines.Line, wanted: dict) -> None:
    assert set(wanted) == {
        figure.key for figure in figures_definitions.FIGURES
    }  # every figure is checked
    got = {key: line.value(key) for key in wanted}
    approx = {
        key: pytest.approx(value) if isinstance(value, float) else value
        for key, value in wanted.items()
    }
    assert got == approx, line.label


YEAR_2025 = {
    "Ensemble": expected(
        held=4,
        cancelled=1,
        planned=1,
        seats=13,
        hours_held=10,
        registrations=16,
        walk_ins=1,
        confirmed=11,
        fill_rate=11 / 13,
        waiting_at_start=2,
        waiting_pressure=2 / 13,
        waitlisted_workshops=3,
        sources={"liste": 6, "affiche": 3, "ent": 3, "direct": 4},
        closed_sessions=3,
        closed_confirmed=9,
        attendance_rate=6 / 9,
        no_show_rate=3 / 9,
        attendees=9,
        teachers=8,
        schools=5,
        hours_delivered=24,
        answers=5,
        usefulness_mean=3.6,
        level_fit={"too_easy": 1, "right": 3, "too_hard": 1},
        will_use={"yes": 3, "maybe": 1, "no": 1},
    ),
    ("site", "Abbeville"): expected(
        held=2,
        seats=6,
        hours_held=5,
        registrations=5,
        confirmed=4,
        fill_rate=4 / 6,
        waiting_pressure=0.0,
        waitlisted_workshops=1,
        sources={"liste": 2, "affiche": 1, "ent": 1, "direct": 1},
        closed_sessions=1,
        closed_confirmed=2,
        attendance_rate=0.5,
        no_show_rate=0.5,
        attendees=2,
        teachers=2,
        schools=2,
        hours_delivered=5,
        answers=1,
        usefulness_mean=4.0,
        level_fit={"right": 1},
        will_use={"yes": 1},
    ),
    ("site", "Amiens"): expected(
        held=2,
        planned=1,
        seats=7,
        hours_held=5,
        registrations=11,
        walk_ins=1,
        confirmed=7,
        fill_rate=1.0,
        waiting_at_start=2,
        waiting_pressure=2 / 7,
        waitlisted_workshops=2,
        sources={"liste": 4, "affiche": 2, "ent": 2, "direct": 3},
        closed_sessions=2,
        closed_confirmed=7,
        attendance_rate=5 / 7,
        no_show_rate=2 / 7,
        attendees=7,
        teachers=6,
        schools=4,
        hours_delivered=19,
        answers=4,
        usefulness_mean=3.5,
        level_fit={"too_easy": 1, "right": 2, "too_hard": 1},
        will_use={"yes": 2, "maybe": 1, "no": 1},
    ),
    ("site", "Péronne"): expected(cancelled=1),
    ("level", "Débutant"): expected(
        held=2,
        cancelled=1,
        planned=1,
        seats=6,
        hours_held=5,
        registrations=10,
        walk_ins=1,
        confirmed=6,
        fill_rate=1.0,
        waiting_at_start=2,
        waiting_pressure=2 / 6,
        waitlisted_workshops=2,
        sources={"liste": 4, "affiche": 2, "ent": 1, "direct": 3},
        closed_sessions=1,
        closed_confirmed=4,
        attendance_rate=0.75,
        no_show_rate=0.25,
        attendees=6,
        teachers=6,
        schools=4,
        hours_delivered=17,
        answers=3,
        usefulness_mean=4.0,
        level_fit={"too_easy": 1, "right": 2},
        will_use={"yes": 2, "maybe": 1},
    ),
    ("level", "Expert"): expected(
        held=2,
        seats=7,
        hours_held=5,
        registrations=6,
        confirmed=5,
        fill_rate=5 / 7,
        waiting_pressure=0.0,
        waitlisted_workshops=1,
        sources={"liste": 2, "affiche": 1, "ent": 2, "direct": 1},
        closed_sessions=2,
        closed_confirmed=5,
        attendance_rate=0.6,
        no_show_rate=0.4,
        attendees=3,
        teachers=3,
        schools=3,
        hours_delivered=7,
        answers=2,
        usefulness_mean=3.0,
        level_fit={"right": 1, "too_hard": 1},
        will_use={"yes": 1, "no": 1},
    ),
    ("topic", "ENT"): expected(
        held=2,
        planned=1,
        seats=8,
        hours_held=6,
        registrations=9,
        walk_ins=1,
        confirmed=6,
        fill_rate=0.75,
        waiting_at_start=2,
        waiting_pressure=0.25,
        waitlisted_workshops=1,
        sources={"liste": 4, "affiche": 1, "ent": 2, "direct": 2},
        closed_sessions=2,
        closed_confirmed=6,
        attendance_rate=4 / 6,
        no_show_rate=2 / 6,
        attendees=6,
        teachers=6,
        schools=3,
        hours_delivered=18,
        answers=4,
        usefulness_mean=4.0,
        level_fit={"too_easy": 1, "right": 3},
        will_use={"yes": 3, "maybe": 1},
    ),
    ("topic", "Tablettes"): expected(
        held=1,
        seats=2,
        hours_held=2,
        registrations=3,
        confirmed=2,
        fill_rate=1.0,
        waiting_pressure=0.0,
        waitlisted_workshops=1,
        sources={"liste": 1, "affiche": 1, "direct": 1},
        attendees=1,
        teachers=1,
        schools=1,
        hours_delivered=2,
    ),
    ("topic", "TBI"): expected(
        held=1,
        cancelled=1,
        seats=3,
        hours_held=2,
        registrations=4,
        confirmed=3,
        fill_rate=1.0,
        waiting_pressure=0.0,
        waitlisted_workshops=1,
        sources={"liste": 1, "affiche": 1, "ent": 1, "direct": 1},
        closed_sessions=1,
        closed_confirmed=3,
        attendance_rate=2 / 3,
        no_show_rate=1 / 3,
        attendees=2,
        teachers=2,
        schools=2,
        hours_delivered=4,
        answers=1,
        usefulness_mean=2.0,
        level_fit={"too_hard": 1},
        will_use={"no": 1},
    ),
}


def lines_of(report: figures_report.Report) -> dict:
    lines = {"Ensemble": report.overall}
    for breakdown in report.breakdowns:
        for line in breakdown.lines:
            lines[(breakdown.key, line.label)] = line
    return lines


# --- the figures ----------------------------------------------------------------------------


def test_every_figure_of_the_school_year_overall_and_by_site_level_and_topic(data):
    report = figures_report.report(Period.of_school_year(2025))

    lines = lines_of(report)
    assert list(lines) == list(YEAR_2025)  # every site and level; topics with workshops; in order
    for key, wanted in YEAR_2025.items():
        assert_line(lines[key], wanted)


def test_the_previous_school_year_holds_only_its_own_workshop(data):
    lines = lines_of(figures_report.report(Period.of_school_year(2024)))

    june = expected(
        held=1,
        seats=6,
        hours_held=2,
        registrations=3,
        confirmed=3,
        fill_rate=0.5,
        waiting_pressure=0.0,
        sources={"liste": 3},
        closed_sessions=1,
        closed_confirmed=3,
        attendance_rate=1.0,
        no_show_rate=0.0,
        attendees=3,
        teachers=3,
        schools=1,
        hours_delivered=6,
        answers=1,
        usefulness_mean=1.0,
        level_fit={"too_hard": 1},
        will_use={"no": 1},
    )
    assert_line(lines["Ensemble"], june)
    assert_line(lines[("site", "Péronne")], june)
    assert_line(lines[("site", "Amiens")], expected())
    assert [key for key in lines if key[0] == "topic"] == [("topic", "Tablettes")]


def test_a_period_of_days_counts_the_workshops_that_start_in_it(data):
    report = figures_report.report(figures_period.parse_period(None, "2025-10-01", "2025-12-31"))

    lines = lines_of(report)
    # W1 and W2 held (both at Amiens), W5 cancelled; W3 and W4 start in 2026, outside.
    assert_line(lines["Ensemble"], YEAR_2025[("site", "Amiens")] | {"planned": 0, "cancelled": 1})
    assert_line(lines[("site", "Abbeville")], expected())
    assert report.period.label == "du mercredi 1er octobre 2025 au mercredi 31 décembre 2025"


def test_the_school_year_begins_at_midnight_in_paris(app, at):
    """00:30 in Paris on 1 September is 22:30 UTC on 31 August: the new school year."""
    new_year = at(paris(2025, 9, 1, 0, 30))
    old_year = at(paris(2025, 8, 31, 23, 30))
    assert new_year.starts_at.day == 31  # still August in UTC

    assert figures_report.report(Period.of_school_year(2025)).overall.held == 1
    assert figures_report.report(Period.of_school_year(2024)).overall.held == 1
    assert (
        figures_report.report(
            figures_period.parse_period(None, "2025-08-31", "2025-08-31")
        ).overall.held
        == 1
    )
    assert (
        figures_report.report(
            figures_period.parse_period(None, "2025-09-01", "2025-09-01")
        ).overall.held
        == 1
    )
    assert to_paris(old_year.starts_at).date() == date(2025, 8, 31)


def test_the_last_day_of_a_period_is_included_up_to_midnight_in_paris(app, at):
    at(paris(2026, 1, 31, 23, 30))  # 22:30 UTC: in January
    at(paris(2026, 2, 1, 0, 30))  # 23:30 UTC on 31 January, but February in Paris

    assert (
        figures_report.report(
            figures_period.parse_period(None, "2026-01-01", "2026-01-31")
        ).overall.held
        == 1
    )
    assert (
        figures_report.report(
            figures_period.parse_period(None, "2026-02-01", "2026-02-28")
        ).overall.held
        == 1
    )


def test_a_workshop_not_yet_ended_is_not_held(app, clock, at):
    at(clock.now - timedelta(hours=1))  # started an hour ago, ends in two hours

    line = figures_report.report(Period.of_school_year(2025)).overall
    assert (line.held, line.planned, line.seats) == (0, 1, 0)


def test_schools_are_told_apart_by_uai_else_by_normalised_name():
    key = figures_queries.school_key
    assert key("0801234a ", "École A") == key("0801234A", "Autre nom")
    assert (
        key(None, "  École Jules-Ferry ") == key("", "ecole jules ferry") == "nom:ecole jules ferry"
    )
    assert key(None, "École Jules Ferry") != key("0801234A", "École Jules Ferry")


@pytest.mark.parametrize(
    ("year", "first", "last", "period"),
    [
        ("2025", None, None, Period(date(2025, 9, 1), date(2026, 8, 31), 2025)),
        (None, None, None, Period(date(2025, 9, 1), date(2026, 8, 31), 2025)),
        ("", "", "", Period(date(2025, 9, 1), date(2026, 8, 31), 2025)),
        ("2024", "2026-01-01", "2026-03-31", Period(date(2026, 1, 1), date(2026, 3, 31))),
    ],
)
def test_periods_are_read_from_a_school_year_or_two_dates(app, year, first, last, period):
    assert figures_period.parse_period(year, first, last) == period


@pytest.mark.parametrize(
    ("year", "first", "last", "message"),
    [
        ("deux-mille", None, None, "n'est pas reconnue"),
        ("1999", None, None, "de 2013 à 2026"),
        ("2027", None, None, "de 2013 à 2026"),
        (None, "2026-01-01", None, "une date de début et une date de fin"),
        (None, "2026-02-30", "2026-03-01", "n'est pas une date"),
        (None, "20260101", "2026-03-01", "n'est pas une date"),
        (None, "2026-03-01", "2026-01-01", "la date de début doit précéder la date de fin"),
        (None, "1850-01-01", "2026-01-01", "comprise entre"),
    ],
)
def test_a_period_that_cannot_be_read_is_refused_in_french(app, year, first, last, message):
    with pytest.raises(PeriodError, match=message):
        figures_period.parse_period(year, first, last)


def test_values_read_as_french_readers_expect():
    rate, hours, mean, count = (
        figures_definitions.FIGURES_BY_KEY[k]
        for k in ("fill_rate", "hours_held", "usefulness_mean", "seats")
    )
    assert figures_values.display(rate, 11 / 13) == "84,6\u00a0%"
    assert figures_values.display(rate, 0.1875) == "18,8\u00a0%"  # half up
    assert figures_values.display(rate, 1.0) == "100\u00a0%"
    assert figures_values.display(rate, None) == "—"
    assert figures_values.display(hours, 24.0) == "24\u00a0h"
    assert figures_values.display(hours, 1.5) == "1,5\u00a0h"
    assert figures_values.display(mean, 3.6) == "3,6\u00a0/\u00a05"
    assert figures_values.display(count, 1234) == "1\u202f234"
    assert figures_values.spreadsheet_number("rate", 11 / 13) == "84,6"
    assert figures_values.spreadsheet_number("hours", 4 / 3) == "1,33"
    assert figures_values.spreadsheet_number("count", 1234) == "1234"
    assert figures_values.spreadsheet_number("rate", None) == ""


# --- the page ---------------------------------------------------------------------------------


@pytest.fixture
def coordinator(client, make_staff):
    login(client, make_staff("coordinator"))
    return client


def svgs(page: str) -> list[ET.Element]:
    """Every chart of a page, parsed as XML (a chart that is not well-formed fails here)."""
    found = re.findall(r"<svg\b.*?</svg>", page, flags=re.S)
    return [ET.fromstring(svg) for svg in found]


def test_the_page_charts_the_figures_as_accessible_svg_with_tables(coordinator, data):
    response = coordinator.get("/admin/chiffres?annee=2025")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "année scolaire 2025–2026" in page
    # The charts are drawn without JavaScript: the only scripts are every page's forms.js and
    # tables.js.
    scripts = re.findall(r"<script[^>]*>", page)
    assert [re.sub(r"\?v=\w+", "", s) for s in scripts] == [
        '<script src="/static/forms.js" defer>',
        '<script src="/static/tables.js" defer>',
    ]
    charts = svgs(page)
    assert len(charts) == 3 + 3 * 4  # the distributions, and four charts per breakdown
    titles = []
    for chart in charts:
        assert chart.tag == f"{SVG}svg" and chart.get("role") == "img"
        title = chart.find(f"{SVG}title")
        assert chart.get("aria-labelledby") == title.get("id")
        titles.append(title.text)
    assert "Taux de remplissage par site" in titles
    fill_by_site = charts[titles.index("Taux de remplissage par site")]
    written = [text.text for text in fill_by_site.iter(f"{SVG}text")]
    assert written == ["Abbeville", "66,7\u00a0%", "Amiens", "100\u00a0%", "Péronne", "—"]
    sources = charts[titles.index("Origine des inscriptions")]
    assert "6 (37,5\u00a0%)" in [text.text for text in sources.iter(f"{SVG}text")]
    # each chart has its table, for screen readers
    assert page.count('class="table fig-chart-table"') == len(charts)
    assert re.search(
        r'<h3 class="fig-chart-title" id="([^"]+)">Taux de remplissage par site</h3>'
        r'\s*<svg[^>]*>.*?</svg>\s*<table class="table fig-chart-table" '
        r'aria-labelledby="\1">',
        page,
        flags=re.S,
    )
    # the key figures, what "reached" means, and the definitions
    assert "84,6\u00a0%" in page and "24\u00a0h" in page
    assert "« Touché » veut dire venu au moins une fois" in page
    for figure in figures_definitions.FIGURES:
        assert figure.definition.replace("'", "&#39;") in page


def test_names_are_escaped_in_the_page_and_charts_stay_well_formed(coordinator, app, at, topic):
    at(paris(2025, 10, 8, 14), topic=topic("piege", '<b>Tablettes & "TBI"</b>'))

    page = coordinator.get("/admin/chiffres").get_data(as_text=True)

    assert "<b>Tablettes" not in page
    labels = [t.text for chart in svgs(page) for t in chart.iter(f"{SVG}text")]
    assert '<b>Tablettes & "TBI"</b>' in labels


@pytest.mark.parametrize(
    "query",
    [
        "annee=abc",
        "annee=1789",
        "annee=99999999999999999999",
        "du=2026-13-01&au=2026-12-31",
        "du=2026-03-01&au=2026-01-01",
        "du=2026-01-01",
        "annee=%00",
        "du=<script>&au=x",
    ],
)
def test_a_bad_period_shows_a_french_message_and_the_current_school_year(coordinator, query):
    response = coordinator.get(f"/admin/chiffres?{query}")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'role="alert"' in page and "Voici les chiffres de l&#39;année scolaire en cours" in page
    assert "année scolaire 2025–2026" in page
    assert "<script>" not in page


def test_the_downloads_refuse_a_bad_period_with_a_french_message(coordinator):
    for path in ("/admin/chiffres.csv", "/admin/chiffres.pdf"):
        response = coordinator.get(f"{path}?du=2026-02-30&au=2026-03-01")
        assert response.status_code == 400
        assert "n&#39;est pas une date" in response.get_data(as_text=True)


def test_the_page_links_the_downloads_for_the_same_period(coordinator):
    page = coordinator.get("/admin/chiffres?du=2026-01-01&au=2026-03-31").get_data(as_text=True)

    assert "du jeudi 1er janvier 2026 au mardi 31 mars 2026" in page
    assert 'href="/admin/chiffres.csv?du=2026-01-01&amp;au=2026-03-31"' in page
    assert 'href="/admin/chiffres.pdf?du=2026-01-01&amp;au=2026-03-31"' in page


def test_the_back_office_home_links_the_figures(coordinator):
    assert 'href="/admin/chiffres"' in coordinator.get("/admin/").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/admin/chiffres", "/admin/chiffres.csv", "/admin/chiffres.pdf"])
def test_only_coordinators_see_the_figures(client, make_staff, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion")

    login(client, make_staff("trainer"))
    assert client.get(path).status_code == 403
    client.post("/deconnexion")

    login(client, make_staff("coordinator"))
    assert client.get(path).status_code == 200


def test_the_page_runs_the_same_queries_for_few_or_many_workshops(
    coordinator, count_queries, data, sites, topic, at, clock
):
    def count() -> int:
        with count_queries() as counter:
            assert coordinator.get("/admin/chiffres?annee=2025").status_code == 200
        return counter.count

    few = count()
    for day in range(12):  # a dozen more held, closed workshops, with people and marks
        workshop = at(
            paris(2025, 11, 3 + day, 14), site=sites["peronne"], topic=topic(f"theme-{day % 3}")
        )
        registration = Registration(
            workshop=workshop,
            last_name="Nom",
            first_name="Prénom",
            email=f"x{day}@ac-amiens.fr",
            school="École",
            status=CONFIRMED,
            confirmed_at=clock.now,
        )
        db.session.add(registration)
        db.session.flush()
        db.session.add(
            Attendance(
                registration_id=registration.id,
                workshop_id=workshop.id,
                presence=PRESENT,
                tapped_at_ms=1,
            )
        )
        db.session.add(SessionClosure(workshop_id=workshop.id))
    db.session.commit()

    assert count() == few
    assert few <= 8  # the account, then the figures' six queries


# --- CSV --------------------------------------------------------------------------------------


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())
    text = data.decode("utf-8").removeprefix("\ufeff")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def test_the_csv_has_one_row_per_line_and_figure(coordinator, data):
    response = coordinator.get("/admin/chiffres.csv?annee=2025")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="chiffres-2025-2026.csv"' in response.headers["Content-Disposition"]
    header, *rows = read_csv(response.data)
    assert header == ["Période", "Ventilation", "Ligne", "Indicateur", "Valeur", "Unité"]
    cells = {
        (ventilation, line, figure): (value, unit)
        for period, ventilation, line, figure, value, unit in rows
    }
    assert len(cells) == len(rows)  # one row per line and figure
    per_line = sum(
        2 * len(f.categories) if f.kind == "distribution" else 1
        for f in figures_definitions.FIGURES
    )
    assert len(rows) == len(YEAR_2025) * per_line
    assert {row[0] for row in rows} == {"année scolaire 2025–2026"}
    assert cells[("Ensemble", "Ensemble", "Ateliers tenus")] == ("4", "nombre")
    assert cells[("Ensemble", "Ensemble", "Taux de remplissage")] == ("84,6", "%")
    assert cells[("Ensemble", "Ensemble", "Heures de formation délivrées")] == ("24", "heures")
    assert cells[("Ensemble", "Ensemble", "Utilité moyenne")] == ("3,6", "sur 5")
    assert cells[("Ensemble", "Ensemble", "Origine des inscriptions : Liste de diffusion")] == (
        "6",
        "nombre",
    )
    assert cells[
        ("Ensemble", "Ensemble", "Origine des inscriptions : Liste de diffusion (part)")
    ] == ("37,5", "%")
    assert cells[("Ensemble", "Ensemble", "Origine des inscriptions : Accès direct (part)")] == (
        "25",
        "%",
    )
    assert cells[("Site", "Amiens", "Enseignants touchés")] == ("6", "nombre")
    assert cells[("Site", "Péronne", "Taux de remplissage")] == ("", "%")
    assert cells[("Niveau", "Expert", "Taux de présence")] == ("60", "%")
    assert cells[("Thème", "ENT", "Écoles touchées")] == ("3", "nombre")
    assert cells[("Thème", "TBI", "Niveau ressenti : Trop difficile")] == ("1", "nombre")


def test_the_csv_neutralises_what_a_spreadsheet_would_run(coordinator, app, at, topic):
    at(paris(2025, 10, 8, 14), topic=topic("piege", '=HYPERLINK("http://evil.example")'))

    rows = read_csv(coordinator.get("/admin/chiffres.csv").data)

    lines = {row[2] for row in rows}
    assert '\'=HYPERLINK("http://evil.example")' in lines
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


# --- PDF --------------------------------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    require(
        shutil.which("pdftotext") is not None, "pdftotext missing: apt-get install poppler-utils"
    )
    assert data.startswith(b"%PDF-")
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"],
        input=data,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return result.stdout.decode("utf-8")


def test_the_pdf_report_holds_the_period_key_figures_charts_and_definitions(coordinator, data):
    response = coordinator.get("/admin/chiffres.pdf?annee=2025")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert 'filename="chiffres-2025-2026.pdf"' in response.headers["Content-Disposition"]
    text = " ".join(pdf_text(response.data).split())
    assert "Bilan des ateliers TICE" in text
    assert "Rapport à Somme Numérique – année scolaire 2025–2026" in text
    for number in ("84,6", "66,7", "37,5", "24 h", "3,6 / 5"):
        assert number in text.replace("\u00a0", " ").replace("\u202f", " ")
    for label in (
        "Ateliers tenus",
        "Taux de présence",
        "Enseignants touchés",
        "Écoles touchées",
        "Définitions",
        "« Touché » veut dire venu au moins une fois",
    ):
        assert label in text
    # the charts are drawn: a bar's label is written in the chart only (the breakdown tables
    # write it in lower case; the chart's table of values is for the page's screen readers)
    assert text.count("Liste de diffusion") == 1


def test_each_web_worker_warms_weasyprint_up_in_the_background(monkeypatch):
    """The first figures PDF or poster of a worker no longer pays WeasyPrint's import and first
    layout (about a second; bench/figures_pdf.py): gunicorn's post_worker_init does it, in a
    thread, so the worker answers meanwhile."""
    import runpy
    import threading
    from pathlib import Path

    from app import pdf

    ran = threading.Event()
    monkeypatch.setattr(pdf, "warm_up", ran.set)
    settings = runpy.run_path(str(Path(__file__).parent.parent / "deploy" / "gunicorn.conf.py"))
    settings["post_worker_init"](None)
    assert ran.wait(timeout=10)


def test_warming_up_lays_out_a_page(monkeypatch):
    from app import pdf

    laid_out = []
    monkeypatch.setattr(pdf, "render_pdf", lambda html: laid_out.append(html) or b"%PDF-")
    pdf.warm_up()
    assert "<p>Ateliers TICE</p>" in laid_out[0]
