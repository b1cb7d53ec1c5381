"""The voice layer's loudness (speech and tones, mono) without rendering it: each clip's K-weighted
energy computed on every core (once for the clips heard last) and added up where the clips are
placed; no silence is filtered, and no more than a few clips are held at once."""

from __future__ import annotations

import collections
import math
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from coach.audio.meter import Loudness, hop_frames, integrated, k_energy
from coach.audio.mixdown import FULL_SCALE, Mixdown
from coach.tools import workers

ENERGY_BYTES = 3 << 20  # the measurements of clips heard again later, kept for their next placement
Measured = tuple[np.ndarray, float, float]  # a part's running K-weighted energy; limiter's share: untouched, all


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

    def measured(make: Callable[[], np.ndarray], make_plain: Callable[[], np.ndarray] | None) -> Measured:
        """A part's energy and its limiter share, made in a worker thread: the part's samples
        live only while it is measured."""
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
        return k_energy(samples, mix.rate, tail), untouched_power, all_power

    shares: dict[Hashable, tuple[float, float]] = {}  # a clip's share, as first found (two numbers a clip)

    def add(start: int, name: Hashable, result: Future[Measured]) -> None:
        nonlocal free, total
        energy, untouched, power = result.result()
        first, last = start // hop, (start + len(energy) - 2) // hop
        bounds = np.clip(np.arange(first, last + 2) * hop - start, 0, len(energy) - 1)
        steps[first : last + 1] += np.diff(energy[bounds])
        if name is not None:
            untouched, power = shares.setdefault(name, (untouched, power))
        free += untouched
        total += power

    # Parts are made (mixed, limited) and filtered on every core a few ahead of where they are
    # added up (numpy lets go of the GIL): memory is bounded by those ahead and the ones kept.
    # A clip's measurement is kept only while it is heard again later, the ones heard again
    # soonest first, up to ENERGY_BYTES; any other is made again when it recurs (the same
    # samples: the same result, to rounding), so memory does not grow with the number of clips.
    parts = list(mix.voice_parts(apart=tail))
    upcoming: dict[Hashable, collections.deque[int]] = collections.defaultdict(collections.deque)
    for i, (_, name, _, _) in enumerate(parts):
        if name is not None:
            upcoming[name].append(i)
    kept: dict[Hashable, tuple[Future[Measured], int]] = {}
    held = 0
    ahead: collections.deque[tuple[int, Hashable, Future[Measured]]] = collections.deque()
    with ThreadPoolExecutor(threads) as pool:
        for start, name, count, make in parts:
            make_plain = next(plain)[3] if plain is not None else None
            if name is not None:
                upcoming[name].popleft()
            if name in kept:
                result = kept[name][0]
                if not upcoming[name]:
                    held -= kept.pop(name)[1]
            else:
                result = pool.submit(measured, make, make_plain if name not in shares else None)
                if name is not None and upcoming[name]:
                    size = 8 * (count + tail + 1)  # the energy's running sum
                    kept[name] = result, size
                    held += size
                    while held > ENERGY_BYTES:  # the one heard again last goes
                        latest = max(kept, key=lambda n: upcoming[n][0])
                        held -= kept.pop(latest)[1]
            ahead.append((start, name, result))
            if len(ahead) > 2 * threads:
                add(*ahead.popleft())
        while ahead:
            add(*ahead.popleft())
    slope = free / total if total > 0 else 1.0
    return Loudness(integrated(steps[: mix.frames // hop], hop), math.nan, math.nan), slope
