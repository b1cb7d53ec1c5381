"""The player's state machine, driven by hand: no device, no clock, so every position is exact."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from coach.errors import StartError
from coach.live.player import (
    BACK_AGAIN_MS,
    Action,
    Player,
    action_for,
    check_start,
    resolve_start,
    slots,
)
from coach.routine import loader
from coach.session import Session, SpeechOptions, prepare

RATE = 8000  # exact frames per ms keep positions whole

ROUTINE = """\
title: Player test
lead_in: 3s
outro: 3s
defaults: {work: 10s, rest: 8s, switch: 2s}
blocks:
  - name: Warm-up
    exercises:
      - name: Squat
      - name: Lunge
        sides: true
  - name: Core
    rounds: 2
    round_rest: 10s
    exercises:
      - name: Plank
      - name: Dead bug
"""


@pytest.fixture
def session(write_routine: Callable[..., Path], fake_options: SpeechOptions) -> Session:
    return prepare(loader.load(write_routine(ROUTINE)), dataclasses.replace(fake_options, jobs=1))


def player_at(session: Session, ms: int) -> Player:
    return Player(session, session.mixdown(RATE), ms)


def test_keys_map_to_actions() -> None:
    assert action_for(" ") is Action.PAUSE
    assert action_for("n") is action_for("\x1b[C") is action_for("\x1bOC") is Action.NEXT
    assert action_for("p") is action_for("\x1b[D") is action_for("\x1bOD") is Action.BACK
    assert action_for("q") is Action.QUIT
    assert action_for("x") is None and action_for("\x1b[A") is None


def test_slots_start_where_the_gap_before_each_work_starts(session: Session) -> None:
    found = slots(session)
    assert [(s.exercise, s.round) for s in found] == [
        ("Squat", 1), ("Lunge", 1), ("Plank", 1), ("Dead bug", 1), ("Plank", 2), ("Dead bug", 2),
    ]
    # lead-in 3 s | Squat 10 | rest 8 | Lunge 10+2+10 | rest 8 | Plank 10 | rest 8 | Dead bug 10 | round rest 10 | ...
    assert [s.start_ms for s in found] == [0, 13_000, 43_000, 61_000, 79_000, 99_000]
    assert [s.work_ms for s in found] == [3_000, 21_000, 51_000, 69_000, 89_000, 107_000]
    assert found[1].end_ms == 43_000  # both sides of Lunge belong to it


def test_pull_hands_out_the_mixdown_and_advances(session: Session) -> None:
    player = player_at(session, 0)
    mixdown = player.mixdown
    chunks = []
    while len(chunk := player.pull(1000)) == 1000:
        chunks.append(chunk)
    chunks.append(chunk)
    assert np.array_equal(np.concatenate(chunks), mixdown.render(0, mixdown.frames))
    assert player.finished and player.position_ms == session.timeline.duration_ms
    assert len(player.pull(1000)) == 0


def test_pause_gives_silence_and_holds_the_position(session: Session) -> None:
    player = player_at(session, 20_000)
    player.pull(800)
    player.press(" ")
    assert player.paused
    for _ in range(5):
        assert not player.pull(800).any()
    assert player.position_ms == 20_100
    player.press(" ")
    assert np.array_equal(player.pull(800), player.mixdown.render(20_100 * RATE // 1000, 800))
    assert player.position_ms == 20_200


def test_next_goes_to_the_gap_before_the_next_exercise(session: Session) -> None:
    player = player_at(session, 5_000)  # Squat at work
    player.press("n")
    assert player.position_ms == 13_000  # the rest after Squat, where "next up: Lunge" is said
    player.press("\x1b[C")
    assert player.position_ms == 43_000
    player.press("n")
    player.press("n")
    player.press("n")
    assert player.position_ms == 99_000  # Dead bug, round 2: the last
    player.press("n")
    assert player.position_ms == 117_000  # its end: the finish
    player.press("n")
    assert player.position_ms == 117_000  # nothing after the finish


def test_next_stays_paused(session: Session) -> None:
    player = player_at(session, 5_000)
    player.press(" ")
    player.press("n")
    assert player.paused and player.position_ms == 13_000


def test_back_goes_to_this_exercise_then_the_one_before(session: Session) -> None:
    player = player_at(session, 55_000)  # Plank round 1, at work
    player.press("p")
    assert player.position_ms == 43_000
    player.press("p")  # within 3 s of that start: the one before
    assert player.position_ms == 13_000
    player = player_at(session, 13_000 + BACK_AGAIN_MS)  # 3 s into Lunge's gap: start it again
    player.press("\x1b[D")
    assert player.position_ms == 13_000
    player = player_at(session, 1_000)
    player.press("p")
    assert player.position_ms == 0
    player = player_at(session, 118_000)  # the finish: back to the last exercise
    player.press("p")
    assert player.position_ms == 99_000


def test_quit(session: Session) -> None:
    player = player_at(session, 0)
    assert not player.quit
    player.press("q")
    assert player.quit


def test_status_during_work_and_rest(session: Session) -> None:
    work = player_at(session, 36_000).status()  # Lunge, right side
    assert (work.kind, work.exercise, work.side, work.block) == ("work", "Lunge", "right", "Warm-up")
    assert work.left_ms == 7_000
    assert work.next_exercise == "Plank"
    rest = player_at(session, 82_000).status()  # round rest before Plank, round 2
    assert (rest.kind, rest.exercise, rest.round, rest.rounds, rest.left_ms) == ("round_rest", "Plank", 2, 2, 7_000)
    cues = [c for c in session.cues if c.start_ms <= 82_000]
    assert rest.last_cue == cues[-1].text
    end = player_at(session, session.timeline.duration_ms).status()
    assert end.finished and end.kind == "outro" and end.exercise is None


def test_from_an_exercise_or_a_time(session: Session) -> None:
    assert resolve_start(session, None) == 0
    assert resolve_start(session, "lunge") == 13_000
    assert resolve_start(session, "Dead") == 61_000  # a unique part of a name
    assert resolve_start(session, "1:05") == 65_000
    assert resolve_start(session, "90s") == 90_000


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        ("Planck", "did you mean `Plank`?"),
        ("u", "matches several exercises"),
        ("5:00", "past the end of the session"),
    ],
)
def test_bad_from_is_a_clear_error(session: Session, wanted: str, message: str) -> None:
    with pytest.raises(StartError, match=message):
        resolve_start(session, wanted)
    with pytest.raises(StartError, match=message):
        check_start(session.routine, session.timeline.duration_ms, wanted)


def test_with_no_rest_next_lands_on_the_announcement(
    write_routine: Callable[..., Path], fake_options: SpeechOptions
) -> None:
    text = "title: Circuit\nlead_in: 5s\ndefaults: {work: 20s, rest: 0s}\nblocks:\n  - name: A\n    exercises:\n"
    text += "".join(f"      - name: Move {n}\n" for n in "ABC")
    session = prepare(loader.load(write_routine(text)), dataclasses.replace(fake_options, jobs=1))
    found = slots(session)
    nexts = [c for c in session.cues if c.kind in ("next", "next_short", "again", "last_exercise")]
    # No gap at all: "next up" is said in the last seconds of the exercise before, and next goes there.
    assert [s.start_ms for s in found[1:]] == [c.start_ms for c in nexts[1:]]
    assert all(s.start_ms < s.work_ms for s in found[1:])
    player = player_at(session, 6_000)
    player.press("n")
    assert player.position_ms == found[1].start_ms
