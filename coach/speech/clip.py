"""A synthesised cue: mono 16-bit PCM, trimmed so it starts and ends where it is audible."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where samples are worked on: the up-to-date check reads no audio
    import numpy as np

SILENCE_THRESHOLD = 200  # of 32767: about -44 dBFS


@dataclass(frozen=True)
class Clip:
    samples: np.ndarray  # int16, mono
    rate: int

    @property
    def duration_ms(self) -> int:
        return len(self.samples) * 1000 // self.rate

    def trimmed(self) -> Clip:
        import numpy as np

        loud = np.flatnonzero(np.abs(self.samples.astype(np.int32)) > SILENCE_THRESHOLD)
        if loud.size == 0:
            return Clip(self.samples[:0], self.rate)
        return Clip(self.samples[loud[0] : loud[-1] + 1].copy(), self.rate)

    def resampled(self, rate: int) -> Clip:
        """Linear resampling: plenty for speech, and exact in length."""
        import numpy as np

        if rate == self.rate or len(self.samples) == 0:
            return Clip(self.samples, rate) if rate == self.rate else Clip(self.samples[:0], rate)
        n_out = len(self.samples) * rate // self.rate
        positions = np.arange(n_out) * (self.rate / rate)
        out = np.interp(positions, np.arange(len(self.samples)), self.samples.astype(np.float64))
        return Clip(np.round(out).astype(np.int16), rate)
