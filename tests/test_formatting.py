"""The shared vocabulary of `app.formatting`, where copies used to disagree: the "14 h 30" clock,
the school year's dash (en dash to read, hyphen in file names), the elision before a mute h, the
folding of accents, and the periods typed as 2026-03-02 or 02/03/2026."""

from datetime import UTC, date, datetime, time

import pytest

from app.formatting import (
    PARIS,
    Period,
    PeriodError,
    clock_fr,
    day_fr,
    folded,
    of_place,
    read_period,
    school_year_label,
    school_year_of,
    school_year_slug,
)


@pytest.mark.parametrize(
    ("wall_clock", "text"),
    [
        (time(14, 0), "14 h"),
        (time(14, 30), "14 h 30"),
        (time(9, 5), "9 h 05"),
        (datetime(2026, 3, 11, 0, 0), "0 h"),
    ],
)
def test_a_wall_clock_time_reads_the_french_way(wall_clock, text):
    assert clock_fr(wall_clock) == text


def test_a_date_without_its_weekday():
    assert day_fr(date(2026, 3, 2)) == "2 mars 2026"
    assert day_fr(date(2026, 4, 1)) == "1er avril 2026"
    assert day_fr(date(2026, 3, 2), with_year=False) == "2 mars"
    # a moment counts by its day in Paris: 23:30 UTC on 31 March is 1 April there
    assert day_fr(datetime(2026, 3, 31, 23, 30, tzinfo=UTC)) == "1er avril 2026"


def test_a_school_year_reads_with_an_en_dash_and_names_files_with_a_hyphen():
    assert school_year_label(2025) == "2025–2026"
    assert school_year_slug(2025) == "2025-2026"


@pytest.mark.parametrize(
    ("day", "year"),
    [
        (date(2025, 9, 1), 2025),
        (date(2026, 8, 31), 2025),
        (datetime(2026, 8, 31, 21, 59, tzinfo=UTC), 2025),  # 23 h 59 in Paris
        (datetime(2026, 8, 31, 22, 0, tzinfo=UTC), 2026),  # midnight in Paris: 1 September
    ],
)
def test_the_school_year_of_a_day_or_a_moment(day, year):
    assert school_year_of(day) == year


@pytest.mark.parametrize(
    ("name", "place"),
    [
        ("Amiens", "d'Amiens"),
        ("Abbeville", "d'Abbeville"),
        ("Péronne", "de Péronne"),
        ("Écouen", "d'Écouen"),
        ("Yzeux", "d'Yzeux"),
        ("Œuf-en-Ternois", "d'Œuf-en-Ternois"),
        # the h is taken as mute, the usual rule (the two copies disagreed: one said "de Hornoy")
        ("Hornoy-le-Bourg", "d'Hornoy-le-Bourg"),
        ("", "de "),
    ],
)
def test_de_elides_before_a_vowel_and_a_mute_h(name, place):
    assert of_place(name) == place


def test_folding_sets_case_and_accents_aside():
    assert folded("Écart") == "ecart"
    assert folded("ÉCOLE Jules-Ferry") == folded("école jules-ferry") == "ecole jules-ferry"


@pytest.mark.parametrize(
    ("first", "last"),
    [("2026-03-02", "2026-04-30"), ("02/03/2026", "30/04/2026"), ("2/3/2026", "2026-04-30")],
)
def test_a_period_is_typed_as_a_date_field_sends_it_or_as_a_french_reader_writes_it(first, last):
    assert read_period(first, last) == Period(date(2026, 3, 2), date(2026, 4, 30))


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("", "2026-04-30", "Indiquez la période"),
        ("20260302", "2026-04-30", "n'est pas une date"),  # compact ISO: a typing mistake here
        ("2026-W10-1", "2026-04-30", "n'est pas une date"),
        ("31/02/2026", "2026-04-30", "n'est pas une date"),
        ("02/03/1999", "2026-04-30", "entre 2000 et 2099"),
        ("2026-04-30", "2026-03-02", "la date de début doit précéder la date de fin"),
    ],
)
def test_a_period_that_cannot_be_read_says_why_in_french(first, last, message):
    with pytest.raises(PeriodError, match=message):
        read_period(first, last)


def test_a_period_reads_long_in_a_report_and_short_in_a_subject():
    spring = Period(date(2026, 3, 2), date(2026, 4, 30))
    assert spring.label == "du lundi 2 mars 2026 au jeudi 30 avril 2026"
    assert spring.short_label == "du 2 mars au 30 avril 2026"
    assert Period(date(2025, 12, 15), date(2026, 1, 31)).short_label == (
        "du 15 décembre 2025 au 31 janvier 2026"
    )
    assert Period(date(2026, 3, 2), date(2026, 3, 2)).short_label == "le 2 mars 2026"
    assert spring.slug == "2026-03-02-au-2026-04-30"


def test_a_school_year_period_runs_from_paris_midnight_to_paris_midnight():
    year = Period.of_school_year(2025)
    assert (year.first_day, year.last_day) == (date(2025, 9, 1), date(2026, 8, 31))
    assert year.starts_at == datetime(2025, 9, 1, tzinfo=PARIS)
    assert year.ends_at == datetime(2026, 9, 1, tzinfo=PARIS)
    assert (year.label, year.slug) == ("année scolaire 2025–2026", "2025-2026")
    assert year.query == {"annee": "2025"}
