"""The voice layer's loudness (speech and tones, mono) without rendering it: each distinct clip's
K-weighted energy computed once, on every core, and added up where the clips are placed."""

from __future__ import annotations

import collections
import math
from collections.abc import Hashable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from coach.audio.meter import Loudness, hop_frames, integrated, k_energy
from coach.audio.mixdown import FULL_SCALE, Mixdown
from coach.tools import workers

RECENT_CLIPS = 32  # distinct clips whose energies are kept for their next placement


def voice_loudness(mix: Mixdown) -> Loudness:
    """The integrated loudness (BS.1770: 400 ms blocks every 100 ms, gated at -70 LUFS and 10 LU
    under the ungated mean) of `mix`'s voice layer, speech and tones, in mono, over the whole
    session, without rendering it: each part of it is filtered on its own (a distinct clip
    once) and its energy added into the 100 ms steps it covers."""
    return voice_measure(mix)[0]


def voice_measure(mix: Mixdown, unlimited: Mixdown | None = None) -> tuple[Loudness, float]:
    """`voice_loudness`, and with `unlimited` (the same mix without the limiter) an estimate of
    how many dB of loudness one more dB of gain would bring: the share of the voice's energy the
    limiter leaves alone (what it holds at the ceiling does not grow). 1.0 without `unlimited`."""
    hop = hop_frames(mix.rate)
    tail = hop  # the filters' ringing is ~1e-10 of the signal after 100 ms
    steps = np.zeros(-(-mix.frames // hop) + 1)
    shares: dict[Hashable, tuple[float, float]] = {}
    free = total = 0.0
    threads = workers()
    mix.prepare_clips(threads)
    plain = unlimited.voice_parts(apart=tail) if unlimited is not None else None
    # The energies of the clips heard last, kept for their next placement; any other is filtered
    # again when it recurs (the same samples: the same result, to rounding), so memory does not grow with the
    # number of distinct clips.
    recent: collections.OrderedDict[Hashable, Future[np.ndarray]] = collections.OrderedDict()
    ahead: collections.deque[tuple[int, Hashable, np.ndarray, Future[np.ndarray]]] = collections.deque()

    def add(start: int, name: Hashable, samples: np.ndarray, energy_of: Future[np.ndarray]) -> None:
        nonlocal free, total
        energy = energy_of.result()
        first, last = start // hop, (start + len(energy) - 2) // hop
        bounds = np.clip(np.arange(first, last + 2) * hop - start, 0, len(energy) - 1)
        steps[first : last + 1] += np.diff(energy[bounds])
        if plain is not None:
            unlimited_samples = next(plain)[2]
            share = shares.get(name) if name is not None else None
            if share is None:
                untouched = np.abs(samples - unlimited_samples) <= 1e-6 * np.abs(unlimited_samples)
                power = samples * samples
                share = float(power[untouched].sum()), float(power.sum())
                if name is not None:
                    shares[name] = share
            free += share[0]
            total += share[1]

    # Parts are filtered on every core a few ahead of where they are added up (numpy's FFTs let go
    # of the GIL): memory is bounded by those ahead and the recent ones, whatever the length.
    with ThreadPoolExecutor(threads) as pool:
        for start, name, samples in mix.voice_parts(apart=tail):
            energy_of = recent.get(name) if name is not None else None
            if energy_of is None:
                energy_of = pool.submit(k_energy, samples / FULL_SCALE, mix.rate, tail)
            if name is not None:
                recent[name] = energy_of
                recent.move_to_end(name)
                if len(recent) > RECENT_CLIPS:
                    recent.popitem(last=False)
            ahead.append((start, name, samples, energy_of))
            if len(ahead) > 4 * threads:
                add(*ahead.popleft())
        while ahead:
            add(*ahead.popleft())
    slope = free / total if total > 0 else 1.0
    return Loudness(integrated(steps[: mix.frames // hop], hop), math.nan, math.nan), slope

