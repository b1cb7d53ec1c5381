"""The joined MP3 measured from its parts: each part's decoded loudness and true peak, kept with
the part in the parts cache, add up to the file's, so no render decodes the whole file to meter it.

A part is encoded by a fresh encoder and starts where the session is digital silence, so it
decodes alone to exactly the samples it decodes to in the file (dr_mp3 gives its frames from
LAME's priming on: decoded sample j is session sample start - DELAY + j; tested). BS.1770's
100 ms steps lie at absolute positions, and a part starts at a multiple of 1152 samples: so its
K-weighted energy is kept in blocks of gcd(1152, one step) samples (18 at 44.1 kHz) on the
session's own grid, and the file's steps are sums of blocks. The K-weighting runs over the part
from a silent state (what precedes it in the file has rung out: parts meet 100 ms after a sound),
with 100 ms after it to ring out; the true peak is the meter's own, over the part surrounded by
the silence it has in the file. Within 0.001 LU of metering the decoded file (tests).
"""

from __future__ import annotations

import math
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from coach.audio import meter
from coach.audio.meter import Loudness
from coach.output.mp3splice import DECODER_DELAY, SAMPLES_PER_FRAME

ENCODER_DELAY = 576  # LAME's, which its Info frame gives (mp3splice reads it there)
DELAY = ENCODER_DELAY + DECODER_DELAY
FLOOR = 1e-15  # a block's energy that is nothing (the -70 LUFS gate is 1e-7 per sample)
_HEAD = struct.Struct("<qdI")


def block(rate: int) -> int:
    """Samples in a block: parts start on it, and 100 ms steps are whole blocks."""
    return math.gcd(SAMPLES_PER_FRAME, meter.hop_frames(rate))


@dataclass(frozen=True)
class PartLevel:
    """A part's decoded energy and true peak, wherever it is placed (at a multiple of 1152)."""

    first: int  # the first block in `energies`, counted in blocks from the part's start
    energies: np.ndarray  # K-weighted energy of each block (channels summed), float32
    peak: float  # true peak, linear (1.0 = full scale)

    def to_bytes(self) -> bytes:
        return _HEAD.pack(self.first, self.peak, len(self.energies)) + self.energies.astype("<f4").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> PartLevel | None:
        if len(data) < _HEAD.size:
            return None
        first, peak, count = _HEAD.unpack_from(data)
        if len(data) != _HEAD.size + 4 * count or not math.isfinite(peak):
            return None
        return cls(first, np.frombuffer(data, "<f4", count, _HEAD.size).astype(np.float32), peak)


def measure(frames: bytes, rate: int, channels: int) -> PartLevel | None:
    """A part's level from its bare frames (None if the decoder refuses them)."""
    import miniaudio

    try:
        pcm = miniaudio.decode(frames, miniaudio.SampleFormat.FLOAT32, channels, rate).samples
    except miniaudio.MiniaudioError:
        return None
    audio = np.frombuffer(pcm, np.float32).reshape(-1, channels)
    hop, size = meter.hop_frames(rate), block(rate)
    peak = meter.true_peak(audio)
    sounding = np.flatnonzero(np.any(audio != 0, axis=1))
    if not len(sounding):
        return PartLevel(0, np.zeros(0, np.float32), peak)
    lo, hi = int(sounding[0]), int(sounding[-1]) + 1  # digital silence around: the filters at rest
    weighted = meter._k_weighted(audio[lo:hi].astype(np.float64), rate, hop)
    energy = (weighted * weighted).sum(axis=1)
    first = -DELAY // size  # the block of the part's decoded sample 0, counted from the part's start
    offset = -DELAY - first * size + lo  # where in that block the filtered stretch starts
    padded = np.concatenate((np.zeros(offset), energy))
    padded = np.concatenate((padded, np.zeros(-len(padded) % size)))
    blocks = padded.reshape(-1, size).sum(axis=1)
    loud = np.flatnonzero(blocks > FLOOR)
    if not len(loud):
        return PartLevel(0, np.zeros(0, np.float32), 0.0)
    lo, hi = int(loud[0]), int(loud[-1]) + 1
    return PartLevel(first + lo, blocks[lo:hi].astype(np.float32), peak)


class Levels:
    """The file's loudness from its parts' levels, added as they come (in any order, from any
    thread): the 100 ms steps' energies and the largest true peak, nothing kept per part."""

    def __init__(self, frames: int, rate: int) -> None:
        self.rate, self.hop, self.size = rate, meter.hop_frames(rate), block(rate)
        self._steps = np.zeros(frames // self.hop)
        self._peak = 0.0
        self._missing = False
        self._lock = threading.Lock()

    def add(self, start: int, level: PartLevel | None) -> None:
        """The part from session frame `start` (None: its level is not known: no result)."""
        if level is None:
            self._missing = True
            return
        with self._lock:
            self._peak = max(self._peak, level.peak)
            if not len(level.energies):
                return
            steps = (start // self.size + level.first + np.arange(len(level.energies))) // (self.hop // self.size)
            keep = (steps >= 0) & (steps < len(self._steps))
            if keep.any():
                lo = int(steps[keep][0])
                sums = np.bincount(steps[keep] - lo, weights=level.energies[keep].astype(np.float64))
                self._steps[lo:lo + len(sums)] += sums

    def result(self) -> Loudness | None:
        """Integrated loudness, true peak and range, or None if a part's level was not known."""
        if self._missing:
            return None
        return Loudness(meter.integrated(self._steps, self.hop),
                        20 * math.log10(self._peak) if self._peak > 0 else -math.inf,
                        meter.loudness_range(self._steps, self.hop))


def loudness(parts: Iterable[tuple[int, PartLevel]], frames: int, rate: int) -> Loudness:
    """The file's loudness from its parts (first frame, level): integrated, true peak and range."""
    levels = Levels(frames, rate)
    for start, level in parts:
        levels.add(start, level)
    result = levels.result()
    assert result is not None
    return result
