"""The voice layer's loudness (speech and tones, mono) without rendering it: each distinct clip's
K-weighted energy computed once, on every core, and added up where the clips are placed; no
silence is filtered, and no more than a few clips' samples are held at once."""

from __future__ import annotations

import collections
import math
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from coach.audio.meter import Loudness, hop_frames, integrated, k_energy
from coach.audio.mixdown import FULL_SCALE, Mixdown
from coach.tools import workers

# A part's energy in the 100 ms steps from each start it is placed at; the limiter's share: untouched, all.
Measured = tuple[dict[int, np.ndarray], float, float]


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
    free = total = 0.0
    threads = workers()
    plain = unlimited.voice_parts(apart=tail) if unlimited is not None else None

    def measured(make: Callable[[], np.ndarray], make_plain: Callable[[], np.ndarray] | None,
                 starts: tuple[int, ...]) -> Measured:
        """A part's energy in each 100 ms step, for each start it is placed at, and its limiter
        share, made in a worker thread: the part's samples and filtered signal live only while
        it is measured."""
        samples = make()
        untouched_power = all_power = 0.0
        if make_plain is not None:  # first: its arrays are gone before the filters' are made
            unlimited_samples = make_plain()
            off = samples - unlimited_samples
            np.abs(off, out=off)
            bound = np.abs(unlimited_samples)
            bound *= 1e-6
            untouched = off <= bound
            del off, bound, unlimited_samples
            power = samples * samples
            untouched_power, all_power = float(power[untouched].sum()), float(power.sum())
            del power, untouched
        samples /= FULL_SCALE  # in place: each maker's samples are a new array
        energy = k_energy(samples, mix.rate, tail)
        placed = {}
        for start in starts:
            first, last = start // hop, (start + len(energy) - 2) // hop
            bounds = np.clip(np.arange(first, last + 2) * hop - start, 0, len(energy) - 1)
            placed[start] = np.diff(energy[bounds])
        return placed, untouched_power, all_power

    def add(start: int, result: Future[Measured]) -> None:
        nonlocal free, total
        placed, untouched, power = result.result()
        steps[start // hop : start // hop + len(placed[start])] += placed[start]
        free += untouched
        total += power

    # Each distinct part (a clip, or a tone) is made (mixed, limited) and filtered once, on every
    # core, a few ahead of where it is added up (numpy lets go of the GIL); what is kept of it is
    # its energy in each 100 ms step where it is placed, a few numbers a placement: memory does
    # not grow with the number of distinct clips, nor with their length.
    parts = list(mix.voice_parts(apart=tail))
    placements: dict[Hashable, list[int]] = collections.defaultdict(list)
    left: collections.Counter[Hashable] = collections.Counter()
    for start, name, _, _ in parts:
        if name is not None:
            placements[name].append(start)
            left[name] += 1
    made: dict[Hashable, Future[Measured]] = {}
    ahead: collections.deque[tuple[int, Future[Measured]]] = collections.deque()
    with ThreadPoolExecutor(threads) as pool:
        for start, name, _, make in parts:
            make_plain = next(plain)[3] if plain is not None else None
            if name is None:
                result = pool.submit(measured, make, make_plain, (start,))
            elif name in made:
                result = made[name]  # (its share counts again at each placement)
            else:
                result = made[name] = pool.submit(measured, make, make_plain, tuple(dict.fromkeys(placements[name])))
            if name is not None:
                left[name] -= 1
                if not left[name]:
                    del made[name]  # heard for the last time
            ahead.append((start, result))
            if len(ahead) > 2 * threads:
                add(*ahead.popleft())
        while ahead:
            add(*ahead.popleft())
    slope = free / total if total > 0 else 1.0
    return Loudness(integrated(steps[: mix.frames // hop], hop), math.nan, math.nan), slope
