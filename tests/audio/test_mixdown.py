"""The mixdown: cues land on their exact frame, chunks join seamlessly, length is exact."""

from __future__ import annotations

import numpy as np
import pytest

from coach.audio.mixdown import Mixdown, MixSettings
from coach.plan.scheduler import Cue
from coach.speech.clip import Clip


def test_cues_land_on_their_frames_and_chunks_join() -> None:
    clip = Clip(np.full(2205, 1000, dtype=np.int16), 22050)  # 100 ms
    cues = (Cue(250, 350, "go", "Go", "Go"), Cue(1_000, 1_100, "tip", "Tip", "Tip"))
    mix = Mixdown(cues, {"Go": clip, "Tip": clip}, 1_333, 44100)
    whole = mix.render(0, mix.frames)
    assert len(whole) == mix.frames == 1_333 * 44100 // 1000
    loud = np.flatnonzero(whole)
    assert loud[0] == 250 * 441 // 10 and loud[-1] == 1_100 * 441 // 10 - 1
    chunked = np.concatenate(list(mix.chunks(1000)))
    assert np.array_equal(chunked, whole)
    assert np.array_equal(mix.render(11_000, 4_000), whole[11_000:15_000])


def test_silent_says_exactly_where_nothing_sounds() -> None:
    from coach.audio.mixdown import MixSettings
    from coach.audio.tones import Tone

    clip = Clip(np.full(2205, 1000, dtype=np.int16), 22050)  # 100 ms
    cues = (Cue(250, 350, "go", "Go", "Go"), Cue(1_000, 1_100, "tip", "Tip", "Tip"))
    tones = (Tone(600, "count"),)
    for settings in (MixSettings(), MixSettings(voice_db=-3.0, ceiling_db=-2.0)):
        mix = Mixdown(cues, {"Go": clip, "Tip": clip}, 2_000, 44100, settings=settings, tones=tones)
        whole = mix.render(0, mix.frames)
        for start in range(0, mix.frames - 441, 441):
            for count in (1, 441, 4410):
                if mix.silent(start, count):  # never silent where something sounds
                    assert not whole[start : start + count].any(), (start, count)
        def at(ms: int) -> int:
            return ms * 441 // 10

        sounding = [(250, 350), (600, 710), (1_000, 1_100)]  # the two clips and the pip
        for lo, hi in zip([0] + [e for _, e in sounding], [s for s, _ in sounding] + [2_000]):
            assert mix.silent(at(lo), at(hi) - at(lo))  # and silent everywhere else, edge to edge
        assert not any(mix.silent(at(s) - 1, 2) or mix.silent(at(e) - 1, 2) for s, e in sounding)
    # Without the tones layer, a tone's place is silence.
    quiet = Mixdown(cues, {"Go": clip, "Tip": clip}, 2_000, 44100, settings=MixSettings(tones=False), tones=tones)
    assert quiet.silent(600 * 441 // 10, 441)


def _many_clips(distinct: int, monkeypatch: pytest.MonkeyPatch) -> Mixdown:
    """320 cues of half a second, a second apart, spoken by `distinct` different clips."""
    from audio.test_loudness import speechlike
    from coach.speech.store import ClipStore

    rate = 8000
    store = ClipStore()
    for i in range(distinct):
        store.add(f"clip {i}", Clip(speechlike(0.5, rate, i), rate))
    cues = tuple(Cue(1000 * k, 1000 * k + 500, "tip", f"clip {k % distinct}", f"clip {k % distinct}") for k in range(320))
    return Mixdown(cues, store, 321_000, rate, settings=MixSettings(voice_db=12, ceiling_db=-3))


def test_memory_does_not_grow_with_the_number_of_distinct_clips(monkeypatch: pytest.MonkeyPatch) -> None:
    """Measuring and rendering a session of 320 distinct clips holds no more than one of 40:
    clips are resampled, limited and measured when they are needed, the last few kept."""
    import tracemalloc

    from coach import recent
    from coach.audio import mixdown, voice_level
    from coach.speech import store

    budget = 64 << 10  # each cache a few clips' worth: what is held is what the budgets allow
    for module, name in ((mixdown, "CLIP_BYTES"), (mixdown, "LIMITED_BYTES"), (store, "RECENT_BYTES")):
        monkeypatch.setattr(module, name, budget)
    peaks = {}
    for distinct in (40, 320):
        mix = _many_clips(distinct, monkeypatch)
        tracemalloc.start()
        voice_level.voice_measure(mix, mix.adjusted(ceiling_db=None))
        for _ in mix.chunks(8000):
            pass
        peaks[distinct] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        limited: recent.Recent[np.ndarray] = mix._limited
        assert limited.held_bytes <= budget + 8000 * 4  # the budget, and at most the one clip over it
    # Holding every clip after the limiter alone would take 320 * 16 KB (5 MB, eight times 40's).
    assert peaks[320] < 1.5 * peaks[40], peaks


def test_a_clip_store_keeps_its_clips_out_of_memory() -> None:
    import tracemalloc

    from coach.speech.store import ClipStore

    clips = [Clip(np.full(22050, i, dtype=np.int16), 22050) for i in range(40)]  # 40 x 44 KB
    tracemalloc.start()
    store = ClipStore()
    for i, clip in enumerate(clips):
        store.add(f"clip {i}", clip)
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert held < 0.25 * sum(c.samples.nbytes for c in clips)
    assert all(np.array_equal(store[f"clip {i}"].samples, clip.samples) for i, clip in enumerate(clips))
    assert store.duration_ms("clip 3") == 1000 and len(store.only(["clip 3", "clip 5"])) == 2
