"""Chapters from the timeline: one per exercise (each side, each round) or one per block.

Chapters tile the session. An exercise's chapter starts where the session starts getting the
listener ready for it (the rest or side switch before it, where "next up" and the countdown are
spoken), so skipping to a chapter never lands in the middle of its countdown. The lead-in and
the finish are chapters of their own. Pure: no I/O, integer milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from coach.plan.timeline import Segment, Timeline
from coach.routine.wording import Phrasebook

MODES = ("exercise", "block")
LEAD_IN = "Lead-in"
FINISH = "Finish"
PREPARATION = ("rest", "round_rest", "switch")


@dataclass(frozen=True)
class Chapter:
    start_ms: int
    end_ms: int
    title: str


def chapters(timeline: Timeline, book: Phrasebook, mode: str = "exercise") -> tuple[Chapter, ...]:
    if mode not in MODES:
        raise ValueError(f"unknown chapter mode {mode!r}")
    segments = timeline.segments
    rounds: dict[str, int] = {}
    for seg in segments:
        if seg.block is not None and seg.round is not None:
            rounds[seg.block] = max(rounds.get(seg.block, 1), seg.round)
    starts: list[tuple[int, str, Segment]] = []  # (start, title, first work segment)
    for i, seg in enumerate(segments):
        if seg.kind != "work":
            continue
        before = segments[i - 1] if i else None
        start = before.start_ms if before is not None and before.kind in PREPARATION else seg.start_ms
        starts.append((start, _exercise_title(seg, book, rounds), seg))
    if mode == "block":
        starts = _first_of_each_block(starts, rounds)
    outro = next((s for s in segments if s.kind == "outro"), None)
    body_end = outro.start_ms if outro else timeline.duration_ms
    out: list[Chapter] = []
    first = starts[0][0] if starts else body_end
    if first > 0:
        out.append(Chapter(0, first, LEAD_IN))
    for n, (start, title, _) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else body_end
        if end > start:
            out.append(Chapter(start, end, title))
    if outro is not None and outro.duration_ms > 0:
        out.append(Chapter(outro.start_ms, timeline.duration_ms, FINISH))
    return tuple(out)


def _exercise_title(seg: Segment, book: Phrasebook, rounds: dict[str, int]) -> str:
    parts = [seg.exercise or ""]
    if seg.side:
        parts.append(book.side(seg.side))
    total = rounds.get(seg.block or "", 1)
    if total > 1 and seg.round is not None:
        parts.append(f"round {seg.round} of {total}")
    return ", ".join(p for p in parts if p)


def _first_of_each_block(
    starts: list[tuple[int, str, Segment]], rounds: dict[str, int]
) -> list[tuple[int, str, Segment]]:
    out: list[tuple[int, str, Segment]] = []
    for start, _, seg in starts:
        if out and out[-1][2].block == seg.block:
            continue
        total = rounds.get(seg.block or "", 1)
        title = (seg.block or "") + (f" ({total} rounds)" if total > 1 else "")
        out.append((start, title, seg))
    return out
