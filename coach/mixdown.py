"""Placed cues + clips -> the session's audio, as PCM chunks from any position.

`render(start, n)` is a pure function of position, so the MP3 sink streams it front to back in
fixed-size chunks (constant memory whatever the session length) and the live player can seek.
"""

from __future__ import annotations

import bisect
from typing import Iterator, Mapping

import numpy as np

from coach.scheduler import Cue
from coach.speech.clip import Clip

PEAK_DBFS = -1.0


class Mixdown:
    def __init__(self, cues: tuple[Cue, ...], clips: Mapping[str, Clip], duration_ms: int, rate: int) -> None:
        self.rate = rate
        self.duration_ms = duration_ms
        self.frames = duration_ms * rate // 1000
        self.cues = cues
        peak = max((int(np.abs(c.samples.astype(np.int32)).max()) for c in clips.values() if len(c.samples)), default=0)
        gain = (32767 * 10 ** (PEAK_DBFS / 20)) / peak if peak else 1.0
        self._audio: dict[str, np.ndarray] = {}
        for speech, clip in clips.items():
            samples = clip.resampled(rate).samples.astype(np.float32) * gain
            self._audio[speech] = np.clip(np.round(samples), -32768, 32767).astype(np.int16)
        self._starts = [self.frame(c.start_ms) for c in cues]

    def frame(self, ms: int) -> int:
        return ms * self.rate // 1000

    def render(self, start: int, count: int) -> np.ndarray:
        """`count` mono int16 frames from frame `start` (silence past the end is not produced)."""
        count = max(0, min(count, self.frames - start))
        out = np.zeros(count, dtype=np.int16)
        end = start + count
        # Cues never overlap, so at most a few touch any chunk: start at the first that may.
        i = max(0, bisect.bisect_right(self._starts, start) - 1)
        while i < len(self.cues) and self._starts[i] < end:
            audio = self._audio[self.cues[i].speech]
            c0 = self._starts[i]
            lo, hi = max(start, c0), min(end, c0 + len(audio))
            if hi > lo:
                out[lo - start : hi - start] = audio[lo - c0 : hi - c0]
            i += 1
        return out

    def chunks(self, frames_per_chunk: int = 0, start: int = 0) -> Iterator[np.ndarray]:
        step = frames_per_chunk or self.rate
        for pos in range(start, self.frames, step):
            yield self.render(pos, step)
