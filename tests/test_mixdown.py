"""The mixdown: cues land on their exact frame, chunks join seamlessly, length is exact."""

from __future__ import annotations

import numpy as np

from coach.mixdown import Mixdown
from coach.scheduler import Cue
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
