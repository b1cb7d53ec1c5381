"""The compiler's output: segments that tile the session, and the cues it asks to be spoken."""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass
from enum import IntEnum

SEGMENT_KINDS = ("lead_in", "work", "rest", "switch", "round_rest", "outro")


class Priority(IntEnum):
    """When cues compete for the same time, the higher one wins."""

    TIP = 0
    REP = 1
    PROGRESS = 2  # halfway, remaining, rest_left
    ANNOUNCE = 3  # intro, block, round, next (and its compact and repeated forms), setup, ready
    MARK = 4  # rest, switch, finish
    COUNT = 5  # countdown, end_count
    GO = 6  # a work segment starts: always on its first millisecond


@dataclass(frozen=True)
class Segment:
    start_ms: int
    end_ms: int
    kind: str
    block: str | None = None
    exercise: str | None = None
    round: int | None = None
    side: str | None = None

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    def label(self) -> str:
        """'work: Quad pulls (left)', 'rest', 'lead_in' — for cue sheets and displays."""
        if not self.exercise:
            return self.kind
        side = f" ({self.side})" if self.side else ""
        return f"{self.kind}: {self.exercise}{side}"


@dataclass(frozen=True)
class CueRequest:
    """A cue the compiler wants spoken: ideally at `at_ms`, anywhere inside the window if it must move.

    A `fixed` cue starts exactly at `at_ms` or not at all (countdown, go, end_count).
    """

    kind: str
    text: str
    speech: str
    at_ms: int
    window_start_ms: int
    window_end_ms: int
    priority: Priority
    fixed: bool = False
    group: str = ""  # tips: the exercise they belong to, for the "never spoken" report
    said_by: str = ""  # a kind whose cue, when placed, already says this one (the intro naming the first exercise)
    # Where the cue belongs (its rest's start): placed before it, it has moved into the work, and
    # that is reported. -1: its window is its place.
    home_start_ms: int = -1
    # The compact words of the request just before this one: said only when those do not fit at home.
    fallback: bool = False


@dataclass(frozen=True)
class Timeline:
    title: str
    duration_ms: int
    segments: tuple[Segment, ...]
    requests: tuple[CueRequest, ...]

    def segment_at(self, ms: int) -> Segment:
        """The segment playing at `ms` (the last one at or past the end)."""
        starts = [s.start_ms for s in self.segments]
        return self.segments[max(0, min(bisect.bisect_right(starts, ms) - 1, len(self.segments) - 1))]

    def segments_json(self) -> list[dict[str, object]]:
        return [asdict(s) for s in self.segments]
