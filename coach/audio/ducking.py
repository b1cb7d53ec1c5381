"""The music's gain under speech: down before each cue, held while it is spoken, back up after.

Like a sidechain compressor keyed by the voice, except that the cue times are known in advance,
so the music is already down when the first word starts instead of reacting to it. The ramps
are smooth in dB; close cues keep the music down between them. A function of position.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np

DOWN_MS = 150
UP_MS = 500


class Ducking:
    def __init__(self, spans: Sequence[tuple[int, int]], depth_db: float, rate: int,
                 down_ms: int = DOWN_MS, up_ms: int = UP_MS) -> None:
        """`spans`: (start, end) frames of the speech, sorted and not overlapping."""
        self.spans = list(spans)
        self.depth_db = abs(depth_db)
        self.down = max(1, down_ms * rate // 1000)
        self.up = max(1, up_ms * rate // 1000)
        self._ends = [e for _, e in self.spans]

    def gains(self, start: int, count: int) -> np.ndarray:
        """Linear gain for frames [start, start + count)."""
        depth = np.zeros(count)
        if not self.depth_db or not self.spans:
            return np.ones(count, dtype=np.float32)
        t = np.arange(start, start + count, dtype=np.float64)
        i = bisect.bisect_left(self._ends, start - self.up)
        while i < len(self.spans) and self.spans[i][0] - self.down < start + count:
            s, e = self.spans[i]
            a, b = max(start, s - self.down) - start, min(start + count, e + self.up) - start
            if b > a:
                # 0 -> 1 over the `down` frames before the cue, 1 while spoken, 1 -> 0 over `up` after.
                u = t[a:b]
                w = np.minimum(np.clip((u - (s - self.down)) / self.down, 0, 1), np.clip(((e + self.up) - u) / self.up, 0, 1))
                np.maximum(depth[a:b], 0.5 - 0.5 * np.cos(np.pi * w), out=depth[a:b])
            i += 1
        gains = np.ones(count, dtype=np.float32)
        down = np.flatnonzero(depth)  # between cues the music is at full level: no powers to take
        if len(down):
            lo, hi = down[0], down[-1] + 1
            gains[lo:hi] = 10 ** (-self.depth_db * depth[lo:hi] / 20)
        return gains
