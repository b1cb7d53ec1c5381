"""Generated sounds: countdown pips, a go tone, and soft marks where work and rest start.

No sample files: each sound is a few sine notes with short raised-cosine edges (no clicks).
`placements` reads the timeline and counts as the compiler does: each pip ends just before its
spoken number would start, and the go tone ends before "Go!" does, so no tone covers speech
(with the spoken countdown off the pips keep the same rhythm). Levels are loudness relative to
the voice, in LU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coach.plan.compiler import countdown_from
from coach.plan.timeline import Timeline

EDGE_MS = 6


@dataclass(frozen=True)
class Sound:
    notes: tuple[tuple[float, int], ...]  # (Hz, ms) played one after the other
    level_lu: float  # loudness relative to the voice


SOUNDS: dict[str, Sound] = {
    "count": Sound(((880.0, 110),), -6.0),
    "go": Sound(((1320.0, 300),), -4.0),  # ends before "Go!", after a spoken "1" of up to 660 ms
    "work": Sound(((523.25, 140), (784.0, 220)), -14.0),  # soft rising fifth
    "rest": Sound(((784.0, 140), (523.25, 260)), -14.0),  # soft falling fifth
}
PREPARATION = ("lead_in", "rest", "round_rest", "switch")
LEAD_MS = 40  # silence between a tone's end and the word it announces (a pip then fits in the
# 150 ms the scheduler keeps free before a count)


@dataclass(frozen=True)
class Tone:
    start_ms: int
    sound: str


def placements(timeline: Timeline, beeps: bool = True, marks: bool = False) -> tuple[Tone, ...]:
    """Pips before the countdown's numbers and a go tone ending as work starts (`beeps`); a soft tone at
    each work and rest start (`marks`; the go tone stands in for the work mark when both are on)."""
    out: list[Tone] = []
    segments = timeline.segments
    for i, seg in enumerate(segments):
        if seg.kind == "work":
            before = segments[i - 1] if i else None
            if beeps:
                # As the compiler counts down: only inside the preparation time before the work.
                if before is not None and before.kind in PREPARATION:
                    counts = countdown_from(before.start_ms, seg.start_ms, before.kind)
                else:
                    counts = 0
                out += [Tone(seg.start_ms - n * 1000 - _length("count") - LEAD_MS, "count")
                        for n in range(counts, 0, -1)]
                out.append(Tone(max(0, seg.start_ms - _length("go") - LEAD_MS), "go"))
            elif marks:
                out.append(Tone(seg.start_ms, "work"))
        elif seg.kind in ("rest", "round_rest") and marks:
            out.append(Tone(seg.start_ms, "rest"))
    return tuple(sorted(out, key=lambda t: t.start_ms))


def _length(name: str) -> int:
    return sum(ms for _, ms in SOUNDS[name].notes)


def synthesize(name: str, rate: int) -> np.ndarray:
    """The sound as float32 samples: a sine at full scale shifted by the sound's `level_lu`, so a
    gain that puts a full-scale sine at the voice's loudness puts each sound at its level."""
    parts = []
    edge = max(1, EDGE_MS * rate // 1000)
    for freq, ms in SOUNDS[name].notes:
        n = ms * rate // 1000
        note = np.sin(2 * np.pi * freq * np.arange(n) / rate)
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(min(edge, n // 2)) / max(1, min(edge, n // 2)))
        note[: len(ramp)] *= ramp
        note[n - len(ramp) :] *= ramp[::-1]
        parts.append(note)
    return (np.concatenate(parts) * 10 ** (SOUNDS[name].level_lu / 20)).astype(np.float32)
