"""The scheduler: real lengths, no overlaps, priorities win, drops are reported."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from coach.plan.scheduler import GAP_MS, TIP_LEAD_MS, schedule
from coach.plan.timeline import CueRequest, Priority


def req(kind: str, at: int, window: tuple[int, int], priority: Priority, fixed: bool = False, text: str = "") -> CueRequest:
    text = text or f"{kind}@{at}"
    return CueRequest(kind, text, text, at, window[0], window[1], priority, fixed, group=text)


def test_higher_priority_wins_and_lower_slides_later() -> None:
    tip = req("tip", 1000, (0, 10_000), Priority.TIP)
    halfway = req("halfway", 1000, (1000, 4000), Priority.PROGRESS)
    result = schedule((tip, halfway), {tip.speech: 1500, halfway.speech: 800})
    placed = {c.kind: (c.start_ms, c.end_ms) for c in result.cues}
    assert placed["halfway"] == (1000, 1800)
    # (A tip keeps more room before it than other cues: never glued behind one.)
    assert placed["tip"] == (1800 + GAP_MS + TIP_LEAD_MS, 1800 + GAP_MS + TIP_LEAD_MS + 1500)
    assert result.warnings == ()


def test_fixed_cue_is_on_time_or_dropped_with_a_warning() -> None:
    go = req("go", 5000, (5000, 9000), Priority.GO, fixed=True)
    count = req("countdown", 4500, (4500, 5000), Priority.COUNT, fixed=True)
    result = schedule((go, count), {go.speech: 400, count.speech: 900})
    assert [(c.kind, c.start_ms) for c in result.cues] == [("go", 5000)]
    assert len(result.warnings) == 1 and "dropped `countdown`" in result.warnings[0]


def test_fixed_cue_may_outrun_its_window_but_not_the_session() -> None:
    """Found by fuzzing: a long `go` on a 1 s last exercise with no outro ran past the end."""
    go = req("go", 0, (0, 1000), Priority.GO, fixed=True)
    assert schedule((go,), {go.speech: 1200}).cues[0].end_ms == 1200
    result = schedule((go,), {go.speech: 1200}, end_ms=1000)
    assert result.cues == () and "dropped `go`" in result.warnings[0]


def test_announcement_moves_back_into_its_window_when_later_is_full() -> None:
    go = req("go", 10_000, (10_000, 20_000), Priority.GO, fixed=True)
    nxt = req("next", 9000, (2000, 10_000), Priority.ANNOUNCE)
    result = schedule((go, nxt), {go.speech: 500, nxt.speech: 3000})
    placed = {c.kind: c.start_ms for c in result.cues}
    assert placed["go"] == 10_000
    assert 2000 <= placed["next"] and placed["next"] + 3000 + GAP_MS <= 10_000


def test_tip_that_never_fits_is_reported_once() -> None:
    go = req("go", 0, (0, 3000), Priority.GO, fixed=True)
    tip = req("tip", 500, (0, 3000), Priority.TIP, text="A very long tip")
    result = schedule((go, tip), {go.speech: 500, tip.speech: 5000})
    assert result.warnings == ("tip never spoken, no free time in its exercise: 'A very long tip'",)


requests = st.lists(
    st.tuples(
        st.sampled_from(list(Priority)),
        st.integers(0, 60_000),
        st.integers(0, 20_000),
        st.integers(0, 4_000),
        st.booleans(),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(requests)
def test_placed_cues_never_overlap_and_stay_in_their_windows(items: list[tuple[Priority, int, int, int, bool]]) -> None:
    reqs = []
    lengths = {}
    for n, (priority, at, span, length, fixed) in enumerate(items):
        r = req(priority.name.lower(), at, (at, at + span), priority, fixed=fixed, text=f"cue {n}")
        reqs.append(r)
        lengths[r.speech] = length
    result = schedule(tuple(reqs), lengths)
    by_text = {r.text: r for r in reqs}
    for a, b in zip(result.cues, result.cues[1:]):
        assert a.end_ms + GAP_MS <= b.start_ms
    for cue in result.cues:
        r = by_text[cue.text]
        assert cue.end_ms - cue.start_ms == lengths[cue.text]
        assert cue.start_ms >= r.window_start_ms
        if r.fixed:
            assert cue.start_ms == r.at_ms
        else:
            assert cue.end_ms <= r.window_end_ms
    placed = {c.text for c in result.cues}
    dropped = [r for r in reqs if r.text not in placed and lengths[r.speech] > 0 and r.kind != "tip"]
    assert len([w for w in result.warnings if "dropped" in w]) == len(dropped)


def test_an_empty_clip_falls_back_to_the_compact_words_or_is_reported() -> None:
    full = CueRequest("rest", "Rest, 15 seconds.", "Rest, 15 seconds.", 0, 0, 15_000, Priority.MARK)
    short = CueRequest("rest_short", "Rest.", "Rest.", 0, 0, 15_000, Priority.MARK, fallback=True)
    result = schedule((full, short), {full.speech: 0, short.speech: 400})
    assert [c.text for c in result.cues] == ["Rest."]
    alone = schedule((full,), {full.speech: 0})
    assert not alone.cues and "is silent" in alone.warnings[0]


def test_compact_words_when_the_full_ones_do_not_fit_at_home_and_a_move_into_work_is_reported() -> None:
    count = CueRequest("countdown", "1", "1", 9000, 9000, 10_000, Priority.COUNT, fixed=True)
    full = CueRequest("next", "Coming up: Plank.", "Coming up: Plank.", 7000, 2000, 9000, Priority.ANNOUNCE, home_start_ms=7000)
    short = CueRequest("next_short", "Next: Plank.", "Next: Plank.", 7000, 2000, 9000, Priority.ANNOUNCE,
                       home_start_ms=7000, fallback=True)
    fits = schedule((count, full, short), {"1": 400, full.speech: 3000, short.speech: 1200})
    assert [c.kind for c in fits.cues] == ["next_short", "countdown"] and not fits.warnings
    moved = schedule((count, full, short), {"1": 400, full.speech: 3000, short.speech: 2500})
    assert moved.cues[0].kind == "next" and moved.cues[0].start_ms < 7000
    assert "moved into the work" in moved.warnings[0]
