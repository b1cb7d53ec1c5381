"""The in-process loudness meter (ITU-R BS.1770 / EBU R128): integrated loudness, loudness range
and true peak of PCM fed in order.

A session is mostly digital silence between cues: `Meter` K-weights only where there is sound,
and interpolates its true peak only where a sample peak leaves room for it to beat the largest
found. The K-weighting helpers are shared with the voice's estimate (voice_level.py).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from coach.audio import limiter

SILENT_LUFS = -70.0  # the meter's absolute gate: below it there is nothing to measure


@dataclass(frozen=True)
class Loudness:
    integrated: float  # LUFS; -inf when everything is gated out
    true_peak: float  # dBTP; -inf for silence, nan when not measured
    lra: float  # LU



# Designed for any sample rate from the analogue prototypes, as libebur128 and ffmpeg do.
SHELF_HZ, SHELF_DB, SHELF_Q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
HIGHPASS_HZ, HIGHPASS_Q = 38.13547087602444, 0.5003270373238773
GATE_LU = -10.0  # relative gate
HOP_S = 0.1  # 400 ms blocks overlapping by 75%: a block every 100 ms
BLOCK_HOPS = 4
SHORT_TERM_HOPS = 30  # EBU Tech 3342's 3 s windows, for the loudness range
LRA_GATE_LU = -20.0
PIECE_HOPS = 28  # the longest stretch K-weighted in one FFT (with its lead-in, under 2^17 frames at 44.1 kHz)


def _k_weighting(rate: int) -> list[tuple[tuple[float, float, float], tuple[float, float, float]]]:
    """The two biquads' (b, a) coefficients at `rate`."""
    k = math.tan(math.pi * SHELF_HZ / rate)
    vh = 10 ** (SHELF_DB / 20)
    vb = vh ** 0.4996667741545416
    a0 = 1 + k / SHELF_Q + k * k
    shelf = ((vh + vb * k / SHELF_Q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / SHELF_Q + k * k) / a0), \
        (1.0, 2 * (k * k - 1) / a0, (1 - k / SHELF_Q + k * k) / a0)
    k = math.tan(math.pi * HIGHPASS_HZ / rate)
    a0 = 1 + k / HIGHPASS_Q + k * k
    highpass = (1.0, -2.0, 1.0), (1.0, 2 * (k * k - 1) / a0, (1 - k / HIGHPASS_Q + k * k) / a0)
    return [shelf, highpass]


@functools.lru_cache(maxsize=64)
def _k_response(size: int, rate: int) -> np.ndarray:
    """The K-weighting's frequency response at the bins of a real FFT of `size` points (kept in
    single precision, half the memory: a part in 1e7 of the energy is far below what matters)."""
    z = np.exp(-2j * np.pi * np.arange(size // 2 + 1) / size)  # e^-jw at each bin
    response = np.ones(len(z), dtype=np.complex128)
    for b, a in _k_weighting(rate):
        response *= (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)
    return response.astype(np.complex64)


def _fft_size(n: int) -> int:
    """The smallest 2^k, 3 * 2^k or 5 * 2^k of at least `n`: numpy's FFT is fastest there, and a
    power of two alone would pad a signal up to twice its length."""
    return min(f << max(0, (-(-n // f) - 1).bit_length()) for f in (1, 3, 5))


def _k_weighted(samples: np.ndarray, rate: int, tail: int) -> np.ndarray:
    """The K-weighted signal of `samples` (along the first axis, 1.0 = full scale) followed by
    `tail` frames of silence, where the filters ring out. Filtered in the frequency domain (numpy
    has no IIR filter); the tail keeps the wrap-around of the circular convolution far below
    anything the meter resolves (the filters' ringing is ~1e-10 of the signal after 100 ms)."""
    n = len(samples) + tail
    size = _fft_size(n)
    response = _k_response(size, rate)
    if samples.ndim > 1:
        response = response[:, None]
    spectrum = np.fft.rfft(samples, size, axis=0)
    spectrum *= response  # in place: a long part's spectrum is megabytes
    return np.fft.irfft(spectrum, size, axis=0)[:n]


def k_energy(samples: np.ndarray, rate: int, tail: int) -> np.ndarray:
    """Running sum of the squared K-weighted signal of mono `samples` followed by `tail` frames of
    silence: length len(samples) + tail + 1 (worked in place: two arrays of its length at a time)."""
    weighted = _k_weighted(samples, rate, tail)
    energy = np.empty(len(weighted) + 1)
    energy[0] = 0.0
    np.cumsum(np.square(weighted, out=weighted), out=energy[1:])
    return energy


def hop_frames(rate: int) -> int:
    return max(1, round(rate * HOP_S))


def integrated(steps: np.ndarray, hop: int) -> float:
    """Integrated loudness from the K-weighted energy of each whole 100 ms step (channels summed):
    a 400 ms block ends at each step from the fourth on, as ffmpeg's ebur128 counts them."""
    if len(steps) < BLOCK_HOPS:
        return -math.inf
    return _gated(_windows(steps, BLOCK_HOPS) / (BLOCK_HOPS * hop))


def _windows(steps: np.ndarray, hops: int) -> np.ndarray:
    """The sums of every `hops` consecutive steps (rounding kept from making silence negative)."""
    sums = np.concatenate(([0.0], np.cumsum(steps)))
    return np.maximum(sums[hops:] - sums[:-hops], 0.0)


def _gated(power: np.ndarray) -> float:
    """Integrated loudness from the blocks' mean squares."""
    with np.errstate(divide="ignore"):
        level = -0.691 + 10 * np.log10(power)
    kept = power[level > SILENT_LUFS]
    if not len(kept):
        return -math.inf
    relative = -0.691 + 10 * math.log10(float(kept.mean())) + GATE_LU
    kept = power[(level > SILENT_LUFS) & (level > relative)]
    return -0.691 + 10 * math.log10(float(kept.mean()))


def _range(steps: np.ndarray, hop: int) -> float:
    """Loudness range (EBU Tech 3342): the spread between the 10th and 95th percentiles of the
    3 s short-term loudness every 100 ms, gated at -70 LUFS and 20 LU under their mean."""
    if len(steps) < SHORT_TERM_HOPS:
        return 0.0
    power = _windows(steps, SHORT_TERM_HOPS) / (SHORT_TERM_HOPS * hop)
    with np.errstate(divide="ignore"):
        level = -0.691 + 10 * np.log10(power)
    kept = power[level > SILENT_LUFS]
    if not len(kept):
        return 0.0
    relative = -0.691 + 10 * math.log10(float(kept.mean())) + LRA_GATE_LU
    level = level[(level > SILENT_LUFS) & (level > relative)]
    low, high = np.percentile(level, [10, 95])
    return float(high - low)


class Meter:
    """BS.1770 integrated loudness, loudness range and true peak, in-process, of interleaved PCM
    fed in order (`feed`, then `result()`; `full_scale` is what 1.0 is in the samples' units).

    Digital silence needs no filtering: each 100 ms step that is all zeros, and not just after
    sound (where the filters ring), has no energy. The rest is K-weighted in stretches, each with
    the 100 ms before it as lead-in for the filters' state, so how the PCM is cut into chunks does
    not matter. True peak: 4x interpolation as the limiter estimates it, exactly, but only in the
    blocks whose sample peak times the interpolator's bound can beat the largest peak found, the
    loudest first."""

    def __init__(self, rate: int, channels: int, true_peak: bool = True, full_scale: float = 1.0) -> None:
        self.rate, self.channels, self.full_scale = rate, channels, full_scale
        self.hop = hop_frames(rate)
        self._pending = np.zeros((0, channels))
        self._lead = np.zeros((self.hop, channels))  # the step before the pending frames
        self._sounding = False  # whether that step had sound
        self._steps: list[np.ndarray] = []
        self._true_peak = true_peak
        self._peak = 0.0
        self._carry = np.zeros((limiter.BLOCK, channels), np.float32)  # frames whose peaks are not yet known

    def feed(self, chunk: np.ndarray) -> None:
        frames = chunk.reshape(-1, self.channels)
        if self.full_scale != 1.0:
            frames = frames / self.full_scale
        pending = np.concatenate((self._pending, frames)) if len(self._pending) else frames
        whole = len(pending) // self.hop * self.hop
        if whole:
            self._steps.append(self._energies(pending[:whole]))
            if self._true_peak:
                self._peaks(pending[:whole])
        self._pending = pending[whole:]

    def result(self) -> Loudness:
        if self._true_peak:
            self._peaks(np.concatenate((self._pending, np.zeros((2 * limiter.BLOCK, self.channels)))))
        steps = np.concatenate(self._steps) if self._steps else np.zeros(0)
        peak = (20 * math.log10(self._peak) if self._peak > 0 else -math.inf) if self._true_peak else math.nan
        return Loudness(integrated(steps, self.hop), peak, _range(steps, self.hop))

    def close(self) -> None:
        """Nothing to release (the same shape as ebur128.StreamMeter)."""

    def _energies(self, audio: np.ndarray) -> np.ndarray:
        """The K-weighted energy of each step of `audio` (whole steps), channels summed."""
        hop, count = self.hop, len(audio) // self.hop
        sounding = np.any(audio.reshape(count, -1) != 0, axis=1)
        # A step after sound has the filters' ringing in it.
        busy = sounding | np.concatenate(([self._sounding], sounding[:-1]))
        energies = np.zeros(count)
        edges = np.flatnonzero(np.diff(np.concatenate(([0], busy.view(np.int8), [0]))))
        for first, end in zip(edges[::2], edges[1::2]):
            for lo in range(first, end, PIECE_HOPS):
                hi = min(end, lo + PIECE_HOPS)
                # The step before a stretch is silent unless the stretch starts this chunk of audio.
                lead = self._lead if lo == 0 else audio[(lo - 1) * hop : lo * hop]
                piece = np.concatenate((lead, audio[lo * hop : hi * hop])).astype(np.float64)
                weighted = _k_weighted(piece, self.rate, 0)[hop:]
                energies[lo:hi] = (weighted * weighted).reshape(hi - lo, -1).sum(axis=1)
        self._lead = audio[-hop:]
        self._sounding = bool(sounding[-1])
        return energies

    def _peaks(self, audio: np.ndarray) -> None:
        """Raise the true peak with `audio`: the blocks of it and the carried frames before it
        whose neighbours are all known; the rest is carried to the next call."""
        block = limiter.BLOCK
        audio = np.concatenate((self._carry, audio))
        count = len(audio) // block
        if count < 3:
            self._carry = audio
            return
        peaks = _block_peaks(audio[: count * block])
        # Block 0 was done last time (or is the silence before the start); the last waits for its neighbour.
        self._peak = max(self._peak, float(peaks[1:-1].max()))
        near = np.maximum(np.maximum(peaks[:-2], peaks[1:-1]), peaks[2:])
        candidates = np.flatnonzero(near * limiter.BOUND > self._peak) + 1
        candidates = candidates[np.argsort(-near[candidates - 1], kind="stable")]
        batch = 64  # small while the largest peak is still unknown, then large
        while len(candidates):
            self._peak = max(self._peak, float(limiter.between_peaks(audio, candidates[:batch]).max()))
            candidates = candidates[batch:]
            candidates = candidates[near[candidates - 1] * limiter.BOUND > self._peak]
            batch = min(1024, batch * 4)
        self._carry = audio[(count - 2) * block :]


def true_peak(frames: np.ndarray) -> float:
    """The true peak (linear, 1.0 = full scale) of (count, channels) frames with silence around
    them, as `Meter` finds it."""
    channels = frames.shape[1]
    found = Meter(1, channels)
    found._peaks(np.concatenate((frames, np.zeros((2 * limiter.BLOCK, channels), frames.dtype))))
    return found._peak


def loudness_range(steps: np.ndarray, hop: int) -> float:
    """EBU Tech 3342's loudness range of the K-weighted energies of 100 ms steps (`hop` frames)."""
    return _range(steps, hop)


def _block_peaks(audio: np.ndarray) -> np.ndarray:
    """`limiter.block_peaks`, faster on long silences: a max and a min over 128 blocks at a time
    first (reductions along a long axis are cheap), the blocks themselves only where those are
    not both zero."""
    group = 128 * limiter.BLOCK
    whole = len(audio) // group * group
    flat = audio[:whole].reshape(-1, group * audio.shape[1])
    sounding = np.flatnonzero((flat.max(axis=1) != 0) | (flat.min(axis=1) != 0))
    peaks = np.zeros((whole // group, 128))
    if len(sounding):
        peaks[sounding] = limiter.block_peaks(audio[:whole].reshape(-1, group, audio.shape[1])[sounding]
                                              .reshape(-1, audio.shape[1])).reshape(-1, 128)
    return np.concatenate((peaks.reshape(-1), limiter.block_peaks(audio[whole:])))

