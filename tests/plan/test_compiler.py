"""The compiler: golden timelines compared whole, and invariants over generated routines."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coach.plan import compiler
from coach.plan.timeline import Priority
from coach.routine import loader, phrasebooks
from coach.routine.model import Block, Exercise, Routine

DATA = Path(__file__).resolve().parents[1] / "data"
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from update_golden import golden  # noqa: E402


@pytest.mark.parametrize("name", sorted(p.stem for p in DATA.glob("compiler_*.yaml")))
def test_golden_timelines(name: str) -> None:
    expected = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    assert golden(DATA / f"{name}.yaml") == expected, "timeline changed: run scripts/update_golden.py and review the diff"


def test_builtin_session_is_sixteen_minutes() -> None:
    routine = loader.load()
    timeline = compiler.compile_routine(routine, phrasebooks.effective(routine))
    assert timeline.duration_ms == compiler.total_ms(routine) == 16 * 60_000
    names = [s.exercise for s in timeline.segments if s.kind == "work"]
    for move in ("Hamstring scoops", "Quad pulls", "Plank to pike", "Kneeling hinge", "Plank to bear", "Good morning hip hinges"):
        assert move in names


def test_rest_rules() -> None:
    """Own rest after each exercise; round_rest between rounds; none after the last exercise."""
    a = Exercise("A", 10_000, 3_000)
    b = Exercise("B", 10_000, 4_000)
    routine = Routine("R", (Block("X", (a, b), rounds=2, round_rest_ms=20_000),), lead_in_ms=5_000, outro_ms=2_000)
    timeline = compiler.compile_routine(routine, phrasebooks.builtin("en"))
    kinds = [(s.kind, s.duration_ms) for s in timeline.segments]
    assert kinds == [
        ("lead_in", 5_000), ("work", 10_000), ("rest", 3_000), ("work", 10_000), ("round_rest", 20_000),
        ("work", 10_000), ("rest", 3_000), ("work", 10_000), ("outro", 2_000),
    ]



def _lead_in(routine: Routine, book: phrasebooks.Phrasebook, lead_in_ms: int) -> list[tuple[str, str]]:
    """(kind, text) of the cues placed in the lead-in, every clip taking 300 ms."""
    from coach.plan.scheduler import schedule

    timeline = compiler.compile_routine(routine, book)
    cues = schedule(timeline.requests, {r.speech: 300 for r in timeline.requests}).cues
    return [(c.kind, c.text) for c in cues if c.start_ms < lead_in_ms]


@pytest.mark.parametrize(("intro", "first_next"), [
    ("{title}. First up: {next}, {work}.", False),  # the intro names it: one announcement, not two
    ("{title}. {total}.", True),  # it does not: "Next up" announces the first exercise
    ("{title}. Say {{next}}.", True),  # a literal "{next}" is not a placeholder
])
def test_the_first_exercise_is_announced_once(intro: str, first_next: bool) -> None:
    a, b = Exercise("Squat", 10_000, 3_000), Exercise("Plank", 10_000, 3_000)
    routine = Routine("R", (Block("X", (a, b)),), lead_in_ms=10_000)
    placed = _lead_in(routine, phrasebooks.builtin("en").with_templates({"intro": (intro,)}), 10_000)
    assert [kind for kind, _ in placed] == ["intro", "block", *(["next"] if first_next else []), "countdown", "countdown", "countdown"]
    assert sum("Squat" in text for _, text in placed) == 1


def test_an_intro_with_no_room_leaves_the_first_exercise_to_next_up() -> None:
    routine = Routine("R", (Block("X", (Exercise("Squat", 10_000, 3_000),)),), lead_in_ms=8_000)
    book = phrasebooks.builtin("en").with_templates({"intro": ("{title}. First up: {next}, {work}.",)})
    timeline = compiler.compile_routine(routine, book)
    from coach.plan.scheduler import schedule

    lengths = {r.speech: 9_000 if r.kind == "intro" else 500 for r in timeline.requests}  # the intro cannot fit
    kinds = [c.kind for c in schedule(timeline.requests, lengths).cues if c.start_ms < 8_000]
    assert "intro" not in kinds and "next" in kinds


def test_the_first_exercise_s_own_next_words_are_said_after_an_intro_that_names_it() -> None:
    a = Exercise("Squat", 10_000, 3_000, cues={"next": ("Squats now, slow and deep.",)})
    routine = Routine("R", (Block("X", (a,)),), lead_in_ms=10_000)
    placed = _lead_in(routine, phrasebooks.builtin("en"), 10_000)
    assert ("next", "Squats now, slow and deep.") in placed and placed[0][0] == "intro"

durations = st.integers(min_value=1, max_value=90).map(lambda s: s * 1000)
exercises = st.builds(
    Exercise,
    name=st.sampled_from(["Squat", "Plank", "Lunge", "Bridge"]),
    work_ms=durations,
    rest_ms=st.integers(min_value=0, max_value=30).map(lambda s: s * 1000),
    switch_ms=st.integers(min_value=0, max_value=8).map(lambda s: s * 1000),
    sides=st.booleans(),
    tips=st.lists(st.sampled_from(["Breathe.", "Chest up, shoulders down."]), max_size=3).map(tuple),
)
blocks = st.builds(
    Block,
    name=st.sampled_from(["Warm-up", "Main"]),
    exercises=st.lists(exercises, min_size=1, max_size=4).map(tuple),
    rounds=st.integers(min_value=1, max_value=3),
    round_rest_ms=st.integers(min_value=0, max_value=40).map(lambda s: s * 1000),
)
routines = st.builds(
    Routine,
    title=st.just("Generated"),
    blocks=st.lists(blocks, min_size=1, max_size=3).map(tuple),
    lead_in_ms=st.integers(min_value=0, max_value=20).map(lambda s: s * 1000),
    outro_ms=st.integers(min_value=0, max_value=10).map(lambda s: s * 1000),
)


@settings(max_examples=150, deadline=None)
@given(routines)
def test_segments_tile_the_session(routine: Routine) -> None:
    timeline = compiler.compile_routine(routine, phrasebooks.builtin("en"))
    assert timeline.segments[0].start_ms == 0
    assert timeline.segments[-1].end_ms == timeline.duration_ms == compiler.total_ms(routine)
    for before, after in zip(timeline.segments, timeline.segments[1:]):
        assert before.end_ms == after.start_ms
    assert all(s.end_ms > s.start_ms for s in timeline.segments)
    works = [s for s in timeline.segments if s.kind == "work"]
    expected = [e.work_ms for b in routine.blocks for _ in range(b.rounds) for e in b.exercises for _ in range(2 if e.sides else 1)]
    assert [w.duration_ms for w in works] == expected
    go = [r.at_ms for r in timeline.requests if r.kind == "go"]
    assert go == [w.start_ms for w in works]
    for request in timeline.requests:
        assert 0 <= request.window_start_ms <= request.window_end_ms <= timeline.duration_ms
        if request.kind in ("countdown", "go"):
            assert request.fixed and request.priority >= Priority.COUNT
