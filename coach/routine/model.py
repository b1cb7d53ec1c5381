"""The routine as a frozen value: what the loader produces and the compiler consumes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# A cue's wording: alternatives to rotate through; an empty tuple silences the cue kind.
Templates = Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Voice:
    name: str | None = None
    rate: int | None = None
    volume: float | None = None

    def merged(self, other: Voice) -> Voice:
        """Settings of `other` win where given."""
        return Voice(
            name=other.name if other.name is not None else self.name,
            rate=other.rate if other.rate is not None else self.rate,
            volume=other.volume if other.volume is not None else self.volume,
        )


@dataclass(frozen=True)
class Exercise:
    name: str
    work_ms: int
    rest_ms: int
    switch_ms: int = 5000
    reps: int | None = None
    tempo_ms: int | None = None
    sides: bool = False
    tips: tuple[str, ...] = ()
    cues: Templates = field(default_factory=dict)
    line: int = 0
    setup: str = ""  # how to get into position, said before the work
    first_side: str = "left"  # of a `sides:` exercise
    tempo_phases: tuple[int, ...] = ()  # a rep in phases, ms: down, hold, up (tempo: 3-1-1)


@dataclass(frozen=True)
class Block:
    name: str
    exercises: tuple[Exercise, ...]
    rounds: int = 1
    round_rest_ms: int = 0
    line: int = 0


@dataclass(frozen=True)
class Routine:
    title: str
    blocks: tuple[Block, ...]
    description: str = ""
    coach: str = ""
    language: str = "en"
    voice: Voice = field(default_factory=Voice)
    cues: Templates = field(default_factory=dict)
    lead_in_ms: int = 15000
    outro_ms: int = 10000
    source: str = "<routine>"
    # Line of each top-level cue template, for errors found after loading.
    cue_lines: Mapping[str, int] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        import re

        text = re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")
        return text or "session"
