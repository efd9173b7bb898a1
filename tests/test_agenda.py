"""The agenda builder of the exchange half-day: a pure service, tested without a database.

Every hard constraint is verified by `check_agenda`, written here from the rules, not from the
solver's code.
"""

import random
import time as wall
from datetime import time

import pytest

from app.exchange.solver import DURATIONS, Agenda, Contribution, HalfDay, Room, Slot, build_agenda
from app.exchange.solver.reasons import AvailableOnlyBefore, MissingEquipment, NoSlot
from app.exchange.solver_text import reason_text

AMPHI = Room("amphi", "Amphithéâtre", 120, frozenset({"visio"}), True)
SALLE_1 = Room("salle-1", "Salle 1", 30, frozenset({"tablettes"}))


def minutes(moment):
    return moment.hour * 60 + moment.minute


def clock(minutes):
    return time(minutes // 60, minutes % 60)


def talk(
    id, duration, topic="ent", level="debutant", presenters=None, needs=(), since=None, until=None
):
    return Contribution(
        id,
        f"Proposition {id}",
        duration,
        topic,
        level,
        presenters or (f"p{id}@ac-amiens.fr",),
        frozenset(needs),
        since,
        until,
    )


def left_out_text(agenda):
    """The left-out reasons as the coordinators' page shows them."""
    return [(c_id, reason_text(reason)) for c_id, reason in agenda.left_out]


def check_agenda(half_day, contributions, agenda):
    """Independent check of every hard constraint; returns the placed contributions' ids."""
    by_id = {c.id: c for c in contributions}
    rooms = {room.id: room for room in half_day.rooms}
    start, end = minutes(half_day.starts), minutes(half_day.ends)
    kinds = [s.kind for s in agenda.slots]
    assert kinds.count("opening") == kinds.count("closing") == kinds.count("break") == 1
    opening = next(s for s in agenda.slots if s.kind == "opening")
    closing = next(s for s in agenda.slots if s.kind == "closing")
    pause = next(s for s in agenda.slots if s.kind == "break")
    assert rooms[opening.room_id].is_auditorium and rooms[closing.room_id].is_auditorium
    assert (minutes(opening.starts), minutes(opening.ends)) == (
        start,
        start + half_day.opening_minutes,
    )
    assert (minutes(closing.starts), minutes(closing.ends)) == (end - half_day.closing_minutes, end)
    assert pause.room_id is None
    assert minutes(pause.ends) - minutes(pause.starts) == half_day.break_minutes
    if half_day.break_window:
        assert half_day.break_window[0] <= pause.starts and pause.ends <= half_day.break_window[1]
    talks = [s for s in agenda.slots if s.kind == "contribution"]
    placed = [s.contribution_id for s in talks]
    assert len(placed) == len(set(placed))
    assert sorted(placed + [c_id for c_id, _ in agenda.left_out]) == sorted(by_id)
    for s in talks:
        c = by_id[s.contribution_id]
        a, b = minutes(s.starts), minutes(s.ends)
        assert b - a == c.duration_minutes
        assert (a - start) % 5 == 0
        assert c.needs <= rooms[s.room_id].equipment
        assert minutes(opening.ends) <= a and b <= minutes(closing.starts)
        assert b <= minutes(pause.starts) or a >= minutes(pause.ends)
        assert c.available_from is None or s.starts >= c.available_from
        assert c.available_until is None or s.ends <= c.available_until
    for i, one in enumerate(talks):
        for other in talks[i + 1 :]:
            apart = one.ends <= other.starts or other.ends <= one.starts
            if one.room_id == other.room_id:
                assert apart, (one, other)
            shared = set(by_id[one.contribution_id].presenters) & set(
                by_id[other.contribution_id].presenters
            )
            if shared:
                assert apart, (one, other)
    return set(placed)


def hand_case():
    half_day = HalfDay(
        time(14), time(16, 30), (AMPHI, SALLE_1), break_window=(time(15), time(15, 30))
    )
    contributions = [
        talk(1, 30, "ent", "debutant", ("a@ac-amiens.fr",), {"visio"}),
        talk(2, 30, "ent", "expert", ("b@ac-amiens.fr",), {"visio"}),
        talk(3, 45, "tablettes", "debutant", needs={"tablettes"}),
        talk(4, 15, "tbi", "debutant", ("a@ac-amiens.fr",), since=time(15, 30)),
    ]
    return half_day, contributions


def test_hand_checkable_case_gives_the_known_best_agenda():
    # 14:15–16:15 between the plenaries, the break starts in 15:00–15:10. The visio talks go in
    # the amphi, the tablets one in salle 1; the 30-minute expert talk cannot join the beginner
    # before the break (15:15 > 15:10), so it follows the break. Talk 4 (from 15:30) in salle 1
    # balances the rooms (60/60), and without a gap only if the break ends at 15:30.
    half_day, contributions = hand_case()
    agenda = build_agenda(half_day, contributions)
    assert agenda.status == "optimal"
    assert agenda.left_out == []
    assert agenda.slots == [
        Slot(None, "opening", "amphi", time(14), time(14, 15)),
        Slot(1, "contribution", "amphi", time(14, 15), time(14, 45)),
        Slot(3, "contribution", "salle-1", time(14, 15), time(15)),
        Slot(None, "break", None, time(15, 10), time(15, 30)),
        Slot(2, "contribution", "amphi", time(15, 30), time(16)),
        Slot(4, "contribution", "salle-1", time(15, 30), time(15, 45)),
        Slot(None, "closing", "amphi", time(16, 15), time(16, 30)),
    ]
    assert agenda.quality == {
        "idle_minutes": 0,
        "topic_switches": 1,
        "room_load": {"amphi": 60, "salle-1": 60},
    }
    check_agenda(half_day, contributions, agenda)


def test_presenter_available_only_before_the_half_day_is_left_out_with_the_reason():
    half_day, contributions = hand_case()
    early = talk(5, 15, until=time(13, 30))
    agenda = build_agenda(half_day, [*contributions, early])
    assert agenda.left_out == [(5, AvailableOnlyBefore(time(13, 30), time(14, 15)))]
    assert left_out_text(agenda) == [
        (
            5,
            "intervenant·e disponible seulement avant le début de la "
            "demi-journée (jusqu'à 13 h 30, interventions à partir de 14 h 15)",
        )
    ]
    check_agenda(half_day, [*contributions, early], agenda)


def test_a_need_no_room_has_and_a_too_short_window_are_explained():
    half_day, contributions = hand_case()
    extra = [
        talk(6, 30, needs={"visio", "imprimante 3D"}),
        talk(7, 45, since=time(15, 30), until=time(16)),
    ]
    agenda = build_agenda(half_day, [*contributions, *extra])
    assert agenda.left_out[0] == (6, MissingEquipment(("imprimante 3D",)))
    assert left_out_text(agenda) == [
        (6, "aucune salle n'a l'équipement demandé : « imprimante 3D »"),
        (
            7,
            "durée (45 min) plus longue que la disponibilité de l'intervenant·e pendant la "
            "demi-journée (15 h 30 – 16 h)",
        ),
    ]


def test_more_content_than_time_places_the_most_minutes_and_explains_the_rest():
    half_day = HalfDay(time(14), time(16, 30), (AMPHI,), break_window=(time(15, 15), time(15, 45)))
    # 14:15–16:15 between the plenaries, the break starts in 15:15–15:25: the first part holds
    # 60 to 70 minutes, the second 40 to 30, so no 45 fits after the break and the best is
    # 60 before it and 15 + 15 after: 90 minutes.
    contributions = [talk(1, 60), talk(2, 60), talk(3, 45), talk(4, 15), talk(5, 15)]
    agenda = build_agenda(half_day, contributions)
    placed = check_agenda(half_day, contributions, agenda)
    assert agenda.quality["room_load"] == {"amphi": 90}
    assert {4, 5} < placed and len(placed & {1, 2}) == 1
    assert agenda.left_out == [(c_id, NoSlot()) for c_id in sorted({1, 2, 3} - placed)]
    assert left_out_text(agenda) == [
        (c_id, "pas de créneau libre compatible (durée, salle équipée, disponibilités)")
        for c_id in sorted({1, 2, 3} - placed)
    ]


def test_one_presenter_cannot_be_in_two_rooms_at_once():
    half_day = HalfDay(time(14), time(15, 20), (AMPHI, SALLE_1), break_minutes=20)
    same = ("meme@ac-amiens.fr",)
    contributions = [talk(1, 15, presenters=same), talk(2, 15, presenters=same)]
    agenda = build_agenda(half_day, contributions)
    starts = {s.contribution_id: s.starts for s in agenda.slots if s.kind == "contribution"}
    assert len(starts) == 2 and starts[1] != starts[2]
    check_agenda(half_day, contributions, agenda)


def generated(count, seed):
    rng = random.Random(seed)
    made = []
    for n in range(1, count + 1):
        presenter = f"p{rng.randrange(count * 4 // 5)}@ac-amiens.fr"  # some in two talks
        limit = rng.random()
        made.append(
            talk(
                n,
                rng.choice((15, 15, 30, 30, 45, 60)),
                rng.choice(("ent", "tbi", "tablettes", "res")),
                rng.choice(("debutant", "expert")),
                (presenter,),
                rng.choice(((), (), (), ("visio",), ("tablettes",))),
                time(14, 30) if limit < 0.1 else None,
                time(16) if limit > 0.9 else None,
            )
        )
    return made


FOUR_ROOMS = HalfDay(
    time(13, 30),
    time(17),
    (AMPHI, SALLE_1, Room("salle-2", "Salle 2", 30), Room("salle-3", "Salle 3", 20)),
)


@pytest.mark.parametrize("count", [20, 120])
def test_same_input_in_any_order_gives_the_same_agenda(count):
    # 20: both phases run the solver; 120: the hand-made agenda is proved best without it
    contributions = generated(count, 1)
    first = build_agenda(FOUR_ROOMS, contributions)
    shuffled = contributions[:]
    random.Random(2).shuffle(shuffled)
    assert build_agenda(FOUR_ROOMS, shuffled) == first


def test_sixty_contributions_in_four_rooms_in_under_five_seconds():
    contributions = generated(60, 3)
    started = wall.perf_counter()
    agenda = build_agenda(FOUR_ROOMS, contributions)
    assert wall.perf_counter() - started < 5
    check_agenda(FOUR_ROOMS, contributions, agenda)
    # 4 rooms × 160 minutes, but each part of a room holds whole quarter-hours: 75 + 75 at most
    assert sum(agenda.quality["room_load"].values()) == 600
    assert all(reason for _, reason in agenda.left_out)


def test_more_content_than_time_gives_each_room_one_topic_and_proves_it_best():
    # 4035 minutes for 600: every room full (the bound of phase 1), one topic per room, beginners
    # first, no gap and balanced (the floor of phase 2), so "optimal" without a long search
    contributions = generated(120, 1)
    started = wall.perf_counter()
    agenda = build_agenda(FOUR_ROOMS, contributions)
    assert wall.perf_counter() - started < 5
    check_agenda(FOUR_ROOMS, contributions, agenda)
    assert agenda.status == "optimal"
    assert agenda.quality == {
        "idle_minutes": 0,
        "topic_switches": 0,
        "room_load": {"amphi": 150, "salle-1": 150, "salle-2": 150, "salle-3": 150},
    }


BENCH_ROOMS = HalfDay(
    time(13, 30),
    time(17),
    (AMPHI, SALLE_1, Room("salle-2", "Salle 2", 30), Room("salle-3", "Salle 3", 20)),
    break_window=(time(15), time(15, 45)),
)

# A bench-like case (bench/agenda.py: 20 contributions, six topics, needs, availability limits,
# shared presenters) with 585 minutes of content for 4 rooms × 160 minutes, and an agenda
# that places all of it, by hand: (id, minutes, topic, level, presenter, needs, since, until,
# room, start). The break is at 15:00–15:20.
FITS = [
    (1, 45, "ent", "debutant", "a", {"visio"}, None, None, "amphi", time(13, 45)),
    (2, 30, "ent", "expert", "b", {"visio"}, None, time(15), "amphi", time(14, 30)),
    (3, 45, "ent", "expert", "c", {"visio"}, None, None, "amphi", time(15, 20)),
    (4, 15, "ent", "expert", "d", (), None, None, "amphi", time(16, 5)),
    (5, 30, "tablettes", "debutant", "e", {"tablettes"}, None, None, "salle-1", time(13, 45)),
    (6, 45, "tablettes", "debutant", "f", (), None, None, "salle-1", time(14, 15)),
    (7, 30, "tablettes", "expert", "g", {"tablettes"}, time(14, 30), None, "salle-1", time(15, 20)),
    (8, 30, "tablettes", "expert", "h", (), None, None, "salle-1", time(15, 50)),
    (20, 15, "tbi", "expert", "s", (), None, None, "salle-1", time(16, 20)),
    (9, 60, "tbi", "debutant", "c", (), None, None, "salle-2", time(13, 45)),
    (10, 15, "tbi", "debutant", "i", (), None, time(16), "salle-2", time(14, 45)),
    (11, 30, "tbi", "expert", "j", (), None, None, "salle-2", time(15, 20)),
    (12, 15, "tbi", "expert", "a", (), None, None, "salle-2", time(15, 50)),
    (13, 30, "programmation", "debutant", "k", (), None, None, "salle-2", time(16, 5)),
    (14, 30, "ressources", "debutant", "l", (), None, None, "salle-3", time(13, 45)),
    (15, 30, "ressources", "debutant", "m", (), None, None, "salle-3", time(14, 15)),
    (16, 15, "ressources", "expert", "n", (), None, time(16), "salle-3", time(14, 45)),
    (17, 45, "pratiques", "debutant", "o", (), time(14, 30), None, "salle-3", time(15, 20)),
    (18, 15, "pratiques", "expert", "e", (), None, None, "salle-3", time(16, 5)),
    (19, 15, "programmation", "expert", "q", (), None, None, "salle-3", time(16, 20)),
]


def test_a_bench_like_case_that_fits_is_placed_whole():
    contributions = [
        talk(id, length, topic, level, (f"{who}@ac-amiens.fr",), needs, since, until)
        for id, length, topic, level, who, needs, since, until, _, _ in FITS
    ]
    # the agenda by hand passes the checker: placing everything is possible
    by_hand = Agenda(
        [
            Slot(None, "opening", "amphi", time(13, 30), time(13, 45)),
            Slot(None, "break", None, time(15), time(15, 20)),
            Slot(None, "closing", "amphi", time(16, 45), time(17)),
        ]
        + [
            Slot(id, "contribution", room, start, clock(minutes(start) + length))
            for id, length, *_, room, start in FITS
        ],
        [],
    )
    check_agenda(BENCH_ROOMS, contributions, by_hand)
    agenda = build_agenda(BENCH_ROOMS, contributions)
    assert agenda.left_out == []
    assert check_agenda(BENCH_ROOMS, contributions, agenda) == set(range(1, 21))
    assert sum(agenda.quality["room_load"].values()) == 585


def test_without_budget_the_hand_made_agenda_is_still_valid():
    # time_limit=0: no search at all; the hand-made agenda (first fit) keeps every hard rule
    contributions = generated(20, 1)
    agenda = build_agenda(FOUR_ROOMS, contributions, time_limit=0)
    check_agenda(FOUR_ROOMS, contributions, agenda)
    assert agenda.status == "feasible"
    assert sum(agenda.quality["room_load"].values()) > 0  # an agenda, not everything left out
    assert all(reason for _, reason in agenda.left_out)


def random_case(seed):
    """A small half-day of any shape: 1 to 4 rooms with or without equipment, plenaries and
    break of 0 to 20 minutes, a break window or none, shared presenters, availability limits."""
    rng = random.Random(seed)
    kit = ["visio", "tablettes"]
    rooms = [Room("amphi", "Amphi", 100, frozenset(rng.sample(kit, rng.randint(0, 2))), True)]
    rooms += [
        Room(f"salle-{n}", f"Salle {n}", 20, frozenset(rng.sample(kit, rng.randint(0, 1))))
        for n in range(rng.randint(0, 3))
    ]
    starts = rng.choice([8 * 60 + 30, 13 * 60 + 30, 14 * 60])
    length = rng.choice([90, 120, 150, 210])
    window = None
    if rng.random() < 0.5:
        middle = starts + length // 2
        window = (clock(middle - rng.choice([0, 15, 30])), clock(middle + rng.choice([30, 45])))
    half_day = HalfDay(
        clock(starts),
        clock(starts + length),
        tuple(rooms),
        rng.choice([0, 15]),
        rng.choice([0, 15]),
        rng.choice([0, 15, 20]),
        window,
    )
    count = rng.randint(1, 12)

    def moment():
        return clock(starts + rng.randrange(0, length, 5)) if rng.random() < 0.2 else None

    contributions = [
        talk(
            n,
            rng.choice(DURATIONS),
            rng.choice("abc"),
            rng.choice(["debutant", "expert"]),
            tuple(sorted({f"p{rng.randrange(count // 2 + 1)}" for _ in range(rng.randint(1, 2))})),
            rng.sample(kit, rng.choice([0, 0, 1])),
            moment(),
            moment(),
        )
        for n in range(1, count + 1)
    ]
    return half_day, contributions


@pytest.mark.parametrize("seed", range(12))
def test_every_hard_rule_holds_on_random_half_days(seed):
    half_day, contributions = random_case(seed)
    agenda = build_agenda(half_day, contributions, time_limit=0.2)
    check_agenda(half_day, contributions, agenda)
    assert all(reason for _, reason in agenda.left_out)
