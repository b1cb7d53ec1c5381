"""The loader: valid routines load; every kind of bad input is one located, helpful error."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from coach.errors import RoutineError, RoutineErrors
from coach.routine import loader

MINIMAL = """\
title: Test
blocks:
  - name: Main
    exercises:
      - name: Squat
        work: 20s
"""

Write = Callable[..., Path]


def error_of(write: Write, text: str) -> RoutineError:
    path = write(text)
    with pytest.raises((RoutineError, RoutineErrors)) as info:
        loader.load(path)
    err = info.value
    first = err.errors[0] if isinstance(err, RoutineErrors) else err
    assert isinstance(first, RoutineError)
    assert str(err).startswith(str(path)), str(err)
    return first


def test_minimal_routine_loads_with_defaults(write_routine: Write) -> None:
    routine = loader.load(write_routine(MINIMAL))
    ex = routine.blocks[0].exercises[0]
    assert (routine.title, ex.name, ex.work_ms, ex.rest_ms) == ("Test", "Squat", 20_000, 10_000)
    assert routine.blocks[0].rounds == 1


def test_builtin_routine_by_name_and_default() -> None:
    assert loader.load().title == loader.load("lower-back").title == "Lower-Back Strength"
    assert "lower-back" in loader.builtin_names()


def test_full_format(write_routine: Write) -> None:
    routine = loader.load(write_routine("""\
title: Seven-Minute Circuit
description: A circuit.
language: en
voice: {name: en-us, rate: 170, volume: 0.9}
defaults: {work: 30s, rest: 10s, switch: 5s, tempo: 2s}
cues:
  next: "Coming up: {exercise}, {work}."
  tip: null
blocks:
  - name: Warm-up
    rounds: 3
    round_rest: 1m
    exercises:
      - name: Side plank
        work: 1:30
        rest: 15s
        sides: true
        tips: ["Stack your hips."]
        cues: {go: "Hold it!"}
      - name: Squats
        reps: 10
        tempo: 3s
      - Jumping jacks
"""))
    block = routine.blocks[0]
    plank, squats, jacks = block.exercises
    assert (block.rounds, block.round_rest_ms) == (3, 60_000)
    assert (plank.work_ms, plank.sides, plank.tips, dict(plank.cues)) == (90_000, True, ("Stack your hips.",), {"go": ("Hold it!",)})
    assert (squats.reps, squats.tempo_ms, squats.work_ms) == (10, 3000, 30_000)
    assert (jacks.name, jacks.work_ms) == ("Jumping jacks", 30_000)
    assert routine.cues["tip"] == () and routine.voice.rate == 170


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("title: [unclosed\nblocks: []\n", 2, "YAML syntax error"),
        ("- just\n- a list\n", 1, "must be a mapping"),
        ("title: T\nblocks:\n  - name: B\n    exercises:\n      - name: X\n        wrok: 30s\n", 6, "did you mean `work`"),
        ("title: T\ntitle: U\nblocks: []\n", 2, "duplicate key `title`"),
        ("title: T\n", 1, "missing `blocks`"),
        ("blocks:\n  - name: B\n    exercises: [X]\n", 1, "missing `title`"),
        ("title: T\nblocks:\n  - name: B\n    exercises: [{name: X, work: -5s}]\n", 4, "negative"),
        ("title: T\nblocks:\n  - name: B\n    exercises: [{name: X, work: 0}]\n", 4, "at least 1s, not 0"),
        ("title: T\nblocks:\n  - name: B\n    exercises: [{name: X, work: soon}]\n", 4, "cannot read 'soon'"),
        ("title: T\nblocks:\n  - name: B\n    rounds: 5000000\n    exercises: [X]\n", 4, "between 1 and 1,000"),
        ("title: T\nblocks:\n  - name: B\n    rounds: three\n    exercises: [X]\n", 4, "whole number"),
        ("title: T\nblocks:\n  - name: B\n    exercises: [{name: X, work: 30s, reps: 5}]\n", 4, "both `work` and `reps`"),
        ("title: T\ncues:\n  nxt: hi\nblocks:\n  - name: B\n    exercises: [X]\n", 3, "did you mean `next`"),
        ("title: T\ncues:\n  next: 'Up: {exersise}'\nblocks:\n  - name: B\n    exercises: [X]\n", 3, "did you mean `exercise`"),
        ("title: T\ncues:\n  intro: 'Hi {count}'\nblocks:\n  - name: B\n    exercises: [X]\n", 3, "not available"),
        ("title: T\ncues:\n  go: 'Go {'\nblocks:\n  - name: B\n    exercises: [X]\n", 3, "braces"),
        ("title: T\nblocks: []\n", 2, "at least one block"),
        ("title: T\nblocks:\n  - name: B\n    exercises: []\n", 4, "at least one exercise"),
        ("title: T\nblocks:\n  - name: B\n    exercises: [{name: X, sides: maybe}]\n", 4, "true or false"),
        ("title: T\nvoice: {name: en, rate: 5}\nblocks:\n  - name: B\n    exercises: [X]\n", 2, "between 50 and 500"),
        ("title: T\nblocks:\n  - name: B\n    exercises:\n\t- X\n", 5, "tabs"),
        ("title: {a: 1}\nblocks:\n  - name: B\n    exercises: [X]\n", 1, "must be text"),
        ("title: T\nblocks: hello\n", 2, "must be a list"),
    ],
)
def test_bad_routines_are_located(write_routine: Write, text: str, line: int, words: str) -> None:
    err = error_of(write_routine, text)
    assert words in str(err), str(err)
    assert err.line == line, str(err)


def test_session_over_twelve_hours(write_routine: Write) -> None:
    err = error_of(write_routine, "title: T\nblocks:\n  - name: B\n    rounds: 900\n    exercises: [{name: X, work: 1m}]\n")
    assert "over 12 hours" in str(err) and err.line == 3


def test_too_many_reps(write_routine: Write) -> None:
    err = error_of(write_routine, "title: T\nblocks:\n  - name: B\n    exercises: [{name: X, reps: 9000, tempo: 10s}]\n")
    assert "over 12 hours" in str(err)


def test_empty_file(write_routine: Write) -> None:
    assert "empty" in str(error_of(write_routine, ""))
    assert "empty" in str(error_of(write_routine, "# only a comment\n\n"))


def test_binary_file(write_routine: Write, tmp_path: Path) -> None:
    path = tmp_path / "song.yaml"
    path.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00" * 20)
    with pytest.raises(RoutineError, match="not a text file"):
        loader.load(path)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("title: Caf\xe9\n".encode("latin-1"))
    with pytest.raises(RoutineError, match="not UTF-8"):
        loader.load(latin)


def test_missing_file_and_unknown_builtin(tmp_path: Path) -> None:
    with pytest.raises(RoutineError, match="no such file"):
        loader.load(tmp_path / "nope.yaml")
    with pytest.raises(RoutineError, match="built-in routines: lower-back"):
        loader.load("lower-bak")


def test_alias_bomb_is_rejected_quickly(write_routine: Write) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    bomb = "title: T\nblocks:\n  - name: B\n    exercises:\n      - name: X\n        tips: *a11\n"
    path = write_routine("\n".join(["x_anchors:"] + ["  " + ln for ln in lines]) + "\n" + bomb)
    started = time.perf_counter()
    with pytest.raises((RoutineError, RoutineErrors)):
        loader.load(path)
    assert time.perf_counter() - started < 5  # a bound on runaway work, not a speed target
    tips_only = write_routine("\n".join(lines) + "\n", "bomb2.yaml")
    with pytest.raises((RoutineError, RoutineErrors)):
        loader.load(tips_only)


def test_alias_bomb_inside_tips_hits_the_budget(write_routine: Write) -> None:
    anchors = ["  - &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        anchors.append(f"  - &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    head = "title: T\nblocks:\n  - name: B\n    exercises:\n      - name: X\n        tips:\n"
    text = head + "\n".join("      " + a for a in anchors) + "\n"
    err = error_of(write_routine, text)
    assert "alias" in str(err) or "must be text" in str(err)


def test_several_errors_reported_together(write_routine: Write) -> None:
    path = write_routine("title: T\nblocks:\n  - name: B\n    exercises:\n      - {name: X, wrok: 3s}\n      - {name: Y, rset: 3s}\n")
    with pytest.raises(RoutineErrors) as info:
        loader.load(path)
    assert [e.line for e in info.value.errors] == [5, 6]


def test_merge_keys_follow_safe_load(write_routine: Write) -> None:
    routine = loader.load(write_routine("""\
title: T
blocks:
  - name: B
    exercises:
      - &base {name: X, work: 40s, rest: 20s}
      - <<: *base
        name: Y
"""))
    assert [(e.name, e.work_ms, e.rest_ms) for e in routine.blocks[0].exercises] == [("X", 40_000, 20_000), ("Y", 40_000, 20_000)]
