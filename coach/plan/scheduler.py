"""Place cue requests on the timeline using their real spoken lengths: no overlaps, priorities win.

Cues are placed most important first. A fixed cue (countdown, go) starts exactly where asked or
is dropped; any other cue takes the earliest free slot at or after its wished time inside its
window, else the latest free slot before it. A cue with compact words to fall back on ("Rest."
for "Rest, 15 seconds.") says them when the full ones do not fit in its own rest; only when
neither fits may it move into the work before, and that is reported. What cannot be placed is
reported, never mangled.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from coach.plan.timeline import CueRequest
from coach.routine.durations import format_stamp

GAP_MS = 150  # silence kept between two cues so they do not run together
TIP_LEAD_MS = 500  # more before a tip: a tip glued behind another cue runs the two together


@dataclass(frozen=True)
class Cue:
    """A placed cue: `start_ms` is when it becomes audible."""

    start_ms: int
    end_ms: int
    kind: str
    text: str
    speech: str


@dataclass(frozen=True)
class Schedule:
    cues: tuple[Cue, ...]
    warnings: tuple[str, ...]


class _Free:
    """Occupied intervals, sorted, for finding free slots."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def fits(self, start: int, end: int) -> bool:
        i = bisect.bisect_left(self.starts, end + GAP_MS)
        return i == 0 or self.ends[i - 1] + GAP_MS <= start

    def add(self, start: int, end: int) -> None:
        i = bisect.bisect_left(self.starts, start)
        self.starts.insert(i, start)
        self.ends.insert(i, end)

    def candidates(self, low: int, high: int) -> list[int]:
        """Start times worth trying in [low, high]: low itself and just after each cue ending there."""
        i = bisect.bisect_left(self.ends, low - GAP_MS)
        out = [low]
        for end in self.ends[i:]:
            if end + GAP_MS > high:
                break
            out.append(end + GAP_MS)
        return out


def schedule(requests: tuple[CueRequest, ...], lengths: Mapping[str, int], end_ms: int | None = None) -> Schedule:
    """`lengths` maps a request's `speech` to its clip length in ms; no cue runs past `end_ms`."""
    order = sorted(range(len(requests)), key=lambda i: (-requests[i].priority, requests[i].at_ms, i))
    free = _Free()
    placed: list[Cue] = []
    warnings: list[str] = []
    tips_spoken: Counter[str] = Counter()
    tip_groups: dict[str, CueRequest] = {}
    settled: set[int] = set()  # requests placed, or said by another cue
    homeless: list[int] = []  # compact words that did not fit at home either: moved last, if at all

    def put(i: int, req: CueRequest, start: int, length: int) -> None:
        settled.add(i)
        if 0 <= start < req.home_start_ms:
            warnings.append(
                f"{format_stamp(start)} `{req.kind}` cue {req.text!r} moved into the work before its rest "
                f"({(req.home_start_ms - start) / 1000:.1f} s early): the rest is too short for it"
            )
        free.add(start, start + length)
        placed.append(Cue(start, start + length, req.kind, req.text, req.speech))
        if req.kind == "tip":
            tips_spoken[req.group] += 1

    def drop(req: CueRequest, length: int) -> None:
        if req.kind != "tip" and length > 0:
            warnings.append(
                f"{format_stamp(req.at_ms)} dropped `{req.kind}` cue {req.text!r}: no room "
                f"({length / 1000:.1f} s of speech, higher-priority cues or the segment end in the way)"
            )

    for i in order:
        req = requests[i]
        if req.said_by and any(c.kind == req.said_by for c in placed):
            settled.add(i)
            continue  # placed earlier (same priority, earlier request) and says this already
        if req.fallback and i - 1 in settled:
            continue  # the full words fitted
        has_fallback = i + 1 < len(requests) and requests[i + 1].fallback
        length = lengths[req.speech]
        if req.kind == "tip":
            tip_groups.setdefault(req.group, req)
        # A cue with a home (its rest) is tried there first; compact words next; a move into the
        # work before comes last, once everything else has its place.
        start = _place(req, length, free, end_ms, at_home=req.home_start_ms >= 0)
        if start is None:
            if has_fallback:
                continue  # the compact words are tried next, and report what cannot be said
            if req.home_start_ms >= 0:
                homeless.append(i)
            else:
                drop(req, length)
            continue
        if length == 0:
            # Nothing to hear (an empty clip): the compact words, if any, are said instead.
            if not has_fallback and req.text.strip():
                warnings.append(f"{format_stamp(req.at_ms)} `{req.kind}` cue {req.text!r} is silent: its speech clip is empty")
            continue
        put(i, req, start, length)
    for i in homeless:
        # Nothing fits at home: the full words, else the compact ones, wherever the window allows.
        for candidate in (requests[i - 1], requests[i]) if requests[i].fallback else (requests[i],):
            length = lengths[candidate.speech]
            start = _place(candidate, length, free, end_ms)
            if start is not None and length > 0:
                put(i, candidate, start, length)
                break
        else:
            drop(requests[i], lengths[requests[i].speech])
    for group, req in tip_groups.items():
        if not tips_spoken[group]:
            warnings.append(f"tip never spoken, no free time in its exercise: {req.text!r}")
    placed.sort(key=lambda c: c.start_ms)
    return Schedule(tuple(placed), tuple(warnings))


def _place(req: CueRequest, length: int, free: _Free, end_ms: int | None, at_home: bool = False) -> int | None:
    if req.fixed:
        # Countdown and go are short and must be on time: they may run past their window's end,
        # but not past the session's (a `go` as the last work ends with no outro after it).
        at = req.at_ms
        if end_ms is not None and at + length > end_ms:
            return None
        return at if at >= req.window_start_ms and free.fits(at, at + length) else None
    low = max(req.window_start_ms, req.home_start_ms) if at_home else req.window_start_ms
    lead = TIP_LEAD_MS if req.kind == "tip" else 0
    latest = req.window_end_ms - length
    if latest < low:
        return None
    wished = min(max(req.at_ms, low), latest)
    for start in free.candidates(wished, latest):
        start += lead if start > wished else 0
        if start <= latest and free.fits(start - lead, start + length):
            return start
    # Nothing at or after the wished time: the latest free slot before it.
    for start in reversed(free.candidates(low, wished)):
        start = min(start + lead, wished)
        if free.fits(start - lead, start + length):
            return start
    return None
