"""Coaching rules (issue 12), checked on the placed cue sheet of several routines and of generated
ones, so a later change cannot quietly undo them: sides, end-of-set count, setup and reminders,
no long silences in rests, structure, pace, density, reps, short rests, beeps, language."""

from __future__ import annotations

import re
import statistics
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coach.audio import tones
from coach.plan import compiler
from coach.plan.scheduler import Cue, Schedule, schedule
from coach.plan.timeline import Segment, Timeline
from coach.routine import loader, phrasebooks
from coach.routine.model import Block, Exercise, Routine
from coach.routine.wording import PHRASE_KINDS, PLACEHOLDERS, Phrasebook

DATA = Path(__file__).resolve().parents[1] / "data"
ROUTINES = ["lower-back", *(str(p) for p in sorted(DATA.glob("coaching_*.yaml")))]
ANNOUNCING = ("intro", "next", "next_short", "again", "last_exercise", "ready")
COUNTS = ("countdown", "end_count")


def plan(routine: Routine) -> tuple[Timeline, Schedule, Phrasebook]:
    """Compiled and placed, each clip as long as the compiler's guess at ~160 words a minute."""
    book = phrasebooks.effective(routine)
    timeline = compiler.compile_routine(routine, book)
    lengths = {r.speech: compiler.estimate_ms(r.speech) for r in timeline.requests}
    return timeline, schedule(timeline.requests, lengths, timeline.duration_ms), book


_OPEN = pytest.mark.xfail(reason="open: a 5-s rest before the final round has no room for `Final round.` beside "
                                 "`Rest.` and `Side plank again.` (dropped, with a warning)", strict=True)


@pytest.fixture(params=[pytest.param(r, marks=_OPEN) if r.endswith("coaching_sides_short.yaml") else r for r in ROUTINES],
                ids=lambda p: Path(p).stem)
def planned(request: pytest.FixtureRequest) -> tuple[Routine, Timeline, Schedule, Phrasebook]:
    routine = loader.load(request.param)
    return (routine, *plan(routine))


def in_segment(cues: tuple[Cue, ...], seg: Segment) -> list[Cue]:
    return [c for c in cues if seg.start_ms <= c.start_ms < seg.end_ms]


def works(timeline: Timeline) -> list[tuple[Segment | None, Segment]]:
    """Each work segment with the segment before it."""
    segs = timeline.segments
    return [(segs[i - 1] if i else None, s) for i, s in enumerate(segs) if s.kind == "work"]


# ---- the rules, as checks over one planned session -------------------------------------


def check_sides(routine: Routine, timeline: Timeline, sched: Schedule, book: Phrasebook) -> None:
    """1. A sided exercise's first announcement says per side and which first; switch names the side."""
    sided = {e.name: e for b in routine.blocks for e in b.exercises if e.sides}
    for name, ex in sided.items():
        per_side = book.render("each_side", {"work": book.duration(ex.work_ms), "side": book.side(ex.first_side)}, 0)
        said = [c for c in sched.cues if c.kind in ("intro", "next", "next_short", "last_exercise") and name in c.text]
        # (A rest too short for the full words says just the name: "Next: Lunge.")
        assert said and per_side and (per_side in said[0].text or said[0].kind == "next_short"), (name, said)
    for before, seg in works(timeline):
        if before is not None and before.kind == "switch":
            switch = [c for c in in_segment(sched.cues, before) if c.kind == "switch"]
            assert switch and book.side(seg.side or "") in switch[0].text, (seg, switch)


def check_end_count(timeline: Timeline, sched: Schedule, routine: Routine) -> None:
    """2. Timed work of 15 s or more ends with end_count exactly at 3, 2, 1 s before its end."""
    reps = {e.name for b in routine.blocks for e in b.exercises if e.reps}
    for _, seg in works(timeline):
        if seg.duration_ms >= 15_000 and seg.exercise not in reps:
            starts = [c.start_ms for c in in_segment(sched.cues, seg) if c.kind == "end_count"]
            assert starts == [seg.end_ms - 3000, seg.end_ms - 2000, seg.end_ms - 1000], seg


def check_reminders_and_silence(timeline: Timeline, sched: Schedule, routine: Routine) -> None:
    """3. The exercise is named in the last ~13 s before work; rests of 30 s or more: no silence over 25 s."""
    setups = {e.name: e.setup for b in routine.blocks for e in b.exercises}
    for before, seg in works(timeline):
        # (Lead-ins under 20 s are left out: an intro, the block and the countdown fill them.)
        if before is None or before.kind == "switch" or seg.exercise is None or (before.kind == "lead_in" and before.duration_ms < 20_000):
            continue
        near = [c for c in sched.cues if c.kind in ANNOUNCING and seg.start_ms - 13_000 <= c.start_ms < seg.start_ms]
        # (A one-exercise block names it only once: the round cue says which round it is.)
        single = any(len(b.exercises) == 1 and b.name == seg.block for b in routine.blocks) and (seg.round or 1) > 1
        assert single or any(seg.exercise in c.text for c in near), (seg, near)
        if before.duration_ms >= 20_000 and setups[seg.exercise] and (seg.round or 1) == 1:
            assert any(setups[seg.exercise] in c.text for c in sched.cues if before.start_ms <= c.start_ms < seg.start_ms)
    for seg in timeline.segments:
        if seg.kind in ("lead_in", "rest", "round_rest") and seg.duration_ms >= 30_000:
            edges = [seg.start_ms] + [t for c in in_segment(sched.cues, seg) for t in (c.start_ms, c.end_ms)] + [seg.end_ms]
            gaps = [edges[i + 1] - edges[i] for i in range(0, len(edges) - 1, 2)]
            assert max(gaps) <= 25_000, (seg, gaps)


def check_structure(routine: Routine, sched: Schedule, book: Phrasebook) -> None:
    """4. Blocks say their rounds and size; every round of a multi-round block is announced, the
    last as the final round; the last exercise is marked; the finish says what was done."""
    kinds = [c.kind for c in sched.cues]
    for block in routine.blocks:
        size = book.unit(len(block.exercises), "exercise")
        assert any(c.kind == "block" and c.text.startswith(block.name) and size in c.text for c in sched.cues)
    # Rounds 2 to n-1 as "Round k of n", the last as "Final round"; round 1 where there is time for it.
    rounds = sum(b.rounds - 2 for b in routine.blocks if b.rounds > 1)
    assert rounds <= kinds.count("round") <= rounds + len(routine.blocks)
    assert kinds.count("final_round") == sum(b.rounds > 1 for b in routine.blocks)
    last = routine.blocks[-1].exercises[-1].name
    # (In a rest too short for it, the compact "Next: ..." names it.)
    assert any(c.kind in ("last_exercise", "next_short") and last in c.text for c in sched.cues) or len(list(compiler.steps(routine))) == 1
    different = len({e.name for b in routine.blocks for e in b.exercises})
    assert any(c.kind == "finish" and book.unit(different, "exercise") in c.text for c in sched.cues)


def check_density(timeline: Timeline, sched: Schedule) -> None:
    """6. Halfway and time left 8 s apart or more; nothing spoken over a countdown; tips not glued."""
    for _, seg in works(timeline):
        progress = [c.start_ms for c in in_segment(sched.cues, seg) if c.kind in ("halfway", "remaining")]
        assert all(b - a >= 8000 for a, b in zip(progress, progress[1:])), seg
    counts = [c for c in sched.cues if c.kind in COUNTS]
    spans: list[tuple[int, int]] = []
    for c in counts:
        if spans and c.start_ms - spans[-1][1] < 1000:
            spans[-1] = (spans[-1][0], c.end_ms)
        else:
            spans.append((c.start_ms, c.end_ms))
    for cue in sched.cues:
        if cue.kind not in COUNTS:
            assert not any(cue.start_ms < hi and cue.end_ms > lo for lo, hi in spans), cue
    ordered = sorted(sched.cues, key=lambda c: c.start_ms)
    for a, b in zip(ordered, ordered[1:]):
        if b.kind == "tip" and timeline.segment_at(b.start_ms).kind == "work" and a.kind not in COUNTS + ("tip",):
            assert b.start_ms - a.end_ms > 300 or a.kind == "go", (a, b)


def check_reps(routine: Routine, timeline: Timeline, sched: Schedule, book: Phrasebook) -> None:
    """7. Tempo announced; the last reps counted down; phases cued down/up; no tip between counts."""
    by_name = {e.name: e for b in routine.blocks for e in b.exercises}
    for _, seg in works(timeline):
        ex = by_name[seg.exercise or ""]
        if not ex.reps or not ex.tempo_ms:
            continue
        cues = in_segment(sched.cues, seg)
        assert not [c for c in cues if c.kind == "tip"], seg
        last = [c.start_ms for c in cues if c.kind == "last_rep"]
        if ex.reps > 1:
            assert last == [seg.start_ms + (ex.reps - 1) * ex.tempo_ms]
        if ex.reps >= 4:
            expected = [book.render("reps_left", {"count": book.number(n)}, 0) for n in (3, 2)]
            assert [c.text for c in cues if c.kind == "reps_left"] == expected
        if len(ex.tempo_phases) >= 2:
            ups = [c.start_ms for c in cues if c.kind == "up"]
            assert ups == [seg.start_ms + k * ex.tempo_ms + sum(ex.tempo_phases[:-1]) for k in range(ex.reps)]
            assert sum(c.kind == "down" for c in cues) == ex.reps
        tempo = book.duration(ex.tempo_ms)
        assert any(c.kind in ("intro", "next", "last_exercise") and tempo in c.text and ex.name in c.text
                   or c.kind == "next_short" and ex.name in c.text for c in sched.cues)


def check_short_rests(timeline: Timeline, sched: Schedule) -> None:
    """8. No announcement or rest mark dropped; any cue moved into work is reported; no `next`
    wording repeated identically."""
    assert not [w for w in sched.warnings if "dropped" in w and any(f"`{k}`" in w for k in ("next", "rest", "again"))], sched.warnings
    moved = [c for c in sched.cues if c.kind in ANNOUNCING and timeline.segment_at(c.start_ms).kind == "work"
             and c.kind != "intro"]
    reported = [w for w in sched.warnings if "moved into the work" in w]
    assert len(moved) == len(reported), (moved, reported)
    nexts = [c.text for c in sched.cues if c.kind in ("next", "next_short", "last_exercise")]
    assert len(nexts) == len(set(nexts)), nexts


def check_beeps(timeline: Timeline, sched: Schedule) -> None:
    """9. No tone covers speech."""
    for tone in tones.placements(timeline, beeps=True):
        end = tone.start_ms + sum(ms for _, ms in tones.SOUNDS[tone.sound].notes)
        covered = [c for c in sched.cues if c.start_ms < end and c.end_ms > tone.start_ms]
        assert not covered, (tone, covered)


def check_all(routine: Routine, timeline: Timeline, sched: Schedule, book: Phrasebook) -> None:
    check_sides(routine, timeline, sched, book)
    check_end_count(timeline, sched, routine)
    check_reminders_and_silence(timeline, sched, routine)
    check_structure(routine, sched, book)
    check_density(timeline, sched)
    check_reps(routine, timeline, sched, book)
    check_short_rests(timeline, sched)
    check_beeps(timeline, sched)


def test_the_rules_hold(planned: tuple[Routine, Timeline, Schedule, Phrasebook]) -> None:
    check_all(*planned)


# ---- generated routines -------------------------------------------------------------------

_NAMES = ["Squat", "Plank", "Lunge", "Bridge", "Row", "Press"]


@st.composite
def routines(draw: st.DrawFn, roomy: bool = False) -> Routine:
    """Any routine; `roomy` ones give every cue a chance (rests of 15 s or more, sets of 15 s or
    more, a 20-s lead-in), where the rules must hold to the letter."""
    rests = [15_000, 30_000, 45_000, 60_000] if roomy else [0, 2000, 3000, 5000, 10_000, 15_000, 30_000, 60_000]
    blocks = []
    for b in range(draw(st.integers(1, 3))):
        exercises = []
        for e in range(draw(st.integers(1, 3))):
            reps = draw(st.none() | st.integers(1, 12))
            phases = draw(st.sampled_from([(), (2000, 1000), (3000, 1000, 1000)])) if reps else ()
            tempo = sum(phases) if phases else draw(st.integers(2, 4)) * 1000
            work = reps * tempo if reps else draw(st.integers(15 if roomy else 10, 60)) * 1000
            exercises.append(Exercise(
                f"{_NAMES[(b * 3 + e) % len(_NAMES)]} {b}{e}", work, draw(st.sampled_from(rests)),
                reps=reps, tempo_ms=tempo if reps else None, sides=not reps and draw(st.booleans()),
                first_side=draw(st.sampled_from(["left", "right"])), tempo_phases=phases,
                tips=tuple(draw(st.lists(st.sampled_from(["Brace.", "Breathe out as you push.", "Keep your back long."]),
                                         max_size=3, unique=True))),
                setup=draw(st.sampled_from(["", "Feet flat."])),
            ))
        round_rest = draw(st.sampled_from([30_000, 60_000] if roomy else [0, 30_000, 60_000]))
        blocks.append(Block(f"Block {b}", tuple(exercises), draw(st.integers(1, 3)), round_rest))
    return Routine("Generated", tuple(blocks), lead_in_ms=20_000 if roomy else draw(st.sampled_from([10_000, 20_000])))


def check_reported(timeline: Timeline, sched: Schedule) -> None:
    """Nothing lost quietly: each exercise is announced before it, or a warning says what was
    dropped there; each cue moved into work is reported."""
    homes = {(r.kind, r.text, r.home_start_ms) for r in timeline.requests if r.home_start_ms >= 0}
    moved = [c for c in sched.cues
             if any(kind == c.kind and text == c.text and c.start_ms < home <= c.start_ms + 8000 for kind, text, home in homes)]
    assert len(moved) == len([w for w in sched.warnings if "moved into the work" in w]), (moved, sched.warnings)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(routines())
def test_the_timing_rules_hold_on_any_generated_routine(routine: Routine) -> None:
    timeline, sched, book = plan(routine)
    check_end_count(timeline, sched, routine)
    check_density(timeline, sched)
    check_beeps(timeline, sched)
    check_reported(timeline, sched)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(routines(roomy=True))
def test_all_the_rules_hold_on_generated_routines_with_room(routine: Routine) -> None:
    check_all(routine, *plan(routine))


# ---- pace and language --------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_default_pace_is_about_160_words_a_minute(language: str) -> None:
    assert phrasebooks.builtin(language).rate == 160


@pytest.mark.tts
def test_real_speech_at_the_default_pace_is_2_3_to_2_8_words_a_second(tmp_path: Path) -> None:
    from coach.session import SpeechOptions, prepare

    session = prepare(loader.load(), SpeechOptions(cache_dir=tmp_path))
    rates = [len(c.speech.split()) / ((c.end_ms - c.start_ms) / 1000) for c in session.cues if len(c.speech.split()) >= 3]
    assert 2.3 <= statistics.median(rates) <= 2.8


def test_the_rest_of_the_voice_settings_win_over_the_book_rate() -> None:
    from coach.routine.model import Voice
    from coach.session import SpeechOptions, voice_for

    routine = loader.parse("title: T\nvoice: {rate: 180}\nblocks: [{name: B, exercises: [X]}]\n")
    book = phrasebooks.effective(routine)
    assert voice_for(routine, book, SpeechOptions()).rate == 180
    assert voice_for(routine, book, SpeechOptions(voice=Voice(rate=140))).rate == 140
    plain = loader.parse("title: T\nblocks: [{name: B, exercises: [X]}]\n")
    assert voice_for(plain, phrasebooks.effective(plain), SpeechOptions()).rate == 160


def _every_text(book: Phrasebook) -> list[str]:
    """Every template of every kind with every placeholder filled as the compiler fills it."""
    values = {"title": "T", "exercise": "X", "next": "Y", "block": "B", "tip": "", "setup": "",
              "total": book.duration(16 * 60_000), "work": book.duration(45_000), "reps": book.reps(8),
              "tempo": book.duration(3000), "side": book.side("left"), "round": book.number(1), "rounds": book.number(2),
              "count": book.number(3), "seconds": book.duration(10_000), "rest": book.duration(90_000),
              "blocks": book.number(2), "plan": f"{book.unit(2, 'round')}, {book.unit(5, 'exercise')}",
              "exercises": book.unit(1, "exercise")}
    out = []
    for kind in PLACEHOLDERS:
        for n in range(len(book.templates[kind])):
            out.append(book.render(kind, values, n) or "")
    return out


def _words(texts: list[str]) -> set[str]:
    return {w.lower() for t in texts for w in re.findall(r"[^\W\d_]+", t)} - {"x", "y", "t", "b"}


def test_no_word_of_another_language_in_either_book() -> None:
    en, es = (_words(_every_text(phrasebooks.builtin(lang))) for lang in ("en", "es"))
    assert en and es
    assert not en & es, en & es
    for kind in set(PLACEHOLDERS) - set(PHRASE_KINDS):  # every kind is worded in both
        for lang in ("en", "es"):
            assert phrasebooks.builtin(lang).templates[kind], (lang, kind)
    fields = {f for t in phrasebooks.builtin("es").templates.values() for x in t for _, f, _, _ in string.Formatter().parse(x) if f}
    assert fields <= set().union(*PLACEHOLDERS.values())


def test_the_wording_follows_the_voice_when_no_language_is_given() -> None:
    routine = loader.load(str(DATA / "coaching_es.yaml"))
    assert routine.language == "es"
    timeline, sched, book = plan(routine)
    assert book.language == "es"
    english = _words(_every_text(phrasebooks.builtin("en")))
    for cue in sched.cues:
        assert not _words([cue.text]) & english, cue
    assert loader.parse("title: T\nvoice: en-us\nblocks: [{name: B, exercises: [X]}]\n").language == "en"
    assert loader.parse("title: T\nvoice: English (America)\nblocks: [{name: B, exercises: [X]}]\n").language == "en"
