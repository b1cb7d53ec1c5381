"""The mixdown: cues land on their exact frame, chunks join seamlessly, length is exact."""

from __future__ import annotations

import numpy as np

from coach.audio.mixdown import Mixdown
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
