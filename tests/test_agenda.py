"""The agenda builder of the exchange half-day: a pure service, tested without a database.

Every hard constraint is verified by `check_agenda`, written here from the rules, not from the
solver's code.
"""

import random
import time as wall
from datetime import time

from app.exchange.agenda import Contribution, HalfDay, Room, Slot, build_agenda

AMPHI = Room("amphi", "Amphithéâtre", 120, frozenset({"visio"}), True)
SALLE_1 = Room("salle-1", "Salle 1", 30, frozenset({"tablettes"}))


def minutes(moment):
    return moment.hour * 60 + moment.minute


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
    assert agenda.left_out == [
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
    assert agenda.left_out == [
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
    assert agenda.left_out == [
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


def test_same_input_in_any_order_gives_the_same_agenda():
    contributions = generated(20, 1)
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
    # 4 rooms × 160 minutes minus what the 15-minute grid of talks cannot fill around the break
    assert sum(agenda.quality["room_load"].values()) >= 560
    assert all(reason for _, reason in agenda.left_out)
