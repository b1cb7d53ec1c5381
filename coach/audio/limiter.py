"""A look-ahead true-peak limiter whose output is a function of position.

The mixdown renders any range on request, so the limiter cannot carry state from one chunk to
the next. Instead the gain at a frame depends only on the audio within a fixed reach around it
(`before`/`after`): render that much extra either side and the result is the same however the
session is cut into chunks. Peaks are estimated between samples (4x polyphase interpolation, as
BS.1770 true-peak meters do; the loudness meter measures true peak with the same functions); the
gain comes down over ATTACK_MS before a peak, holds, and recovers as smoothly. It only acts when
the estimated true peak would pass the ceiling.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

OVERSAMPLE = 4
TAPS = 16  # per phase
BLOCK = 32  # frames; gains are computed per block, then interpolated
ATTACK_MS = 3
HOLD_MS = 10


def _phases() -> list[np.ndarray]:
    """FIR taps giving the signal at n + k/4 (k = 1..3) from x[n-7 .. n+8], in that order."""
    kernels = []
    half = TAPS // 2
    for k in range(1, OVERSAMPLE):
        phase = k / OVERSAMPLE
        offsets = np.arange(-(half - 1), half + 1)  # x[n + offset]
        u = phase - offsets
        taps = np.sinc(u) * (0.5 + 0.5 * np.cos(np.pi * u / (half + 0.5)))
        kernels.append(taps)
    return kernels


PHASES = _phases()
# Between-sample peaks exceed the largest sample within the taps' reach by at most this factor.
BOUND = max(1.0, max(float(np.abs(k).sum()) for k in PHASES))


def block_peaks(audio: np.ndarray) -> np.ndarray:
    """The largest |sample| of each BLOCK frames of `audio` ((frames, channels), frames a
    multiple of BLOCK), over all channels."""
    peak = np.abs(audio[:, 0])
    for channel in audio.T[1:]:
        np.maximum(peak, np.abs(channel), out=peak)
    return peak.reshape(-1, BLOCK).max(axis=1)


def between_peaks(audio: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """The largest interpolated |value| (at n + k/4) in each of `blocks` of `audio` ((frames,
    channels), zero outside), all blocks at once: each block's frames and the taps' reach
    either side are gathered into one matrix. A block's values depend on its neighbours only."""
    half = TAPS // 2
    frames = len(audio)
    reach = blocks[:, None] * BLOCK + np.arange(-(half - 1), BLOCK + half)[None, :]
    outside = (reach < 0) | (reach >= frames)
    np.clip(reach, 0, frames - 1, out=reach)
    peak = np.zeros(len(blocks))
    for channel in audio.T:
        near = channel[reach]
        near[outside] = 0.0
        windows = sliding_window_view(near, TAPS, axis=1)  # [block, frame in block, tap]
        for taps in PHASES:
            np.maximum(peak, np.abs(windows @ taps).max(axis=1), out=peak)
    return peak


class Limiter:
    def __init__(self, ceiling_db: float, rate: int, full_scale: float = 1.0) -> None:
        self.ceiling = 10 ** (ceiling_db / 20) * full_scale
        blocks_per_ms = rate / 1000 / BLOCK
        self.attack = max(2, math.ceil(ATTACK_MS * blocks_per_ms))
        self.smooth = self.attack - 1  # half-width of the moving average; < attack keeps gain <= need
        self.hold = max(self.attack, math.ceil(HOLD_MS * blocks_per_ms))
        self.before = (self.hold + self.smooth + 2) * BLOCK + TAPS
        self.after = (self.attack + self.smooth + 2) * BLOCK + TAPS

    def window(self, start: int, count: int) -> tuple[int, int]:
        """The block-aligned frame range [lo, hi) to render so [start, start + count) gets exact gains."""
        lo = (start - self.before) // BLOCK * BLOCK
        hi = -((-(start + count + self.after)) // BLOCK) * BLOCK
        return lo, hi

    def gains(self, audio: np.ndarray) -> np.ndarray:
        """Per-frame gain for `audio` ((frames, channels), frames a multiple of BLOCK, from a
        `window`); only the part away from the edges by `before`/`after` is exact."""
        frames = len(audio)
        if not frames:
            return np.ones(0)
        block_peak = block_peaks(audio)
        # Between-sample peaks exceed the sample peaks by at most BOUND: only those blocks need them.
        suspects = np.flatnonzero(block_peak * BOUND > self.ceiling)
        if not len(suspects):
            return np.ones(frames)
        block_peak[suspects] = np.maximum(block_peak[suspects], between_peaks(audio, suspects))
        need = np.minimum(1.0, self.ceiling / np.maximum(block_peak, 1e-12))
        if need.min() >= 1.0:
            return np.ones(frames)
        padded = np.pad(need, (self.hold, self.attack), constant_values=1.0)
        held = sliding_window_view(padded, self.hold + self.attack + 1).min(axis=1)
        padded = np.pad(held, self.smooth, constant_values=1.0)
        smooth = sliding_window_view(padded, 2 * self.smooth + 1).mean(axis=1)
        if smooth.min() >= 1.0:
            return np.ones(frames)
        centres = np.arange(len(smooth)) * BLOCK + (BLOCK - 1) / 2
        return np.interp(np.arange(frames), centres, smooth)
