"""The live player: a position in the session's audio, moved by the device's pulls and by keys.

The player keeps no time of its own: the position advances only by the frames the audio device
takes, and every place it jumps to comes from the compiler's segments and the scheduler's cues.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass
from enum import Enum

import numpy as np

from coach.audio.mixdown import Mixdown
from coach.errors import StartError
from coach.routine.durations import format_clock, parse_duration
from coach.routine.model import Routine
from coach.routine.wording import suggest
from coach.session import Session

BACK_AGAIN_MS = 3000  # `back` this soon after an exercise's start goes to the one before
# Cues that introduce the exercise after them.
ANNOUNCEMENTS = ("block", "round", "final_round", "next", "next_short", "again", "last_exercise")
EXERCISE_PARTS = ("work", "switch")


class Action(Enum):
    PAUSE = "pause"  # pause, or resume when paused
    NEXT = "next"
    BACK = "back"
    QUIT = "quit"


KEYS: dict[str, Action] = {
    " ": Action.PAUSE,
    "n": Action.NEXT, "N": Action.NEXT, "\x1b[C": Action.NEXT, "\x1bOC": Action.NEXT,
    "p": Action.BACK, "P": Action.BACK, "\x1b[D": Action.BACK, "\x1bOD": Action.BACK,
    "q": Action.QUIT, "Q": Action.QUIT,
}


def action_for(key: str) -> Action | None:
    """The action of one keypress (a character, or an arrow key's escape sequence)."""
    return KEYS.get(key)


@dataclass(frozen=True)
class Slot:
    """One exercise occurrence as the player steps through them: the gap before its work, then the work.

    `start_ms` is where next and back land: where its announcements begin, so they are heard.
    """

    start_ms: int
    work_ms: int
    end_ms: int
    exercise: str
    block: str | None
    round: int | None


@dataclass(frozen=True)
class Status:
    """What the display shows at one position."""

    position_ms: int
    duration_ms: int
    paused: bool
    finished: bool
    kind: str  # the segment kind at the position: lead_in, work, rest, switch, round_rest, outro
    exercise: str | None  # the exercise being done, or the one coming up during a gap
    side: str | None
    block: str | None
    round: int | None
    rounds: int | None
    left_ms: int  # until the end of the current segment
    next_exercise: str | None
    last_cue: str


def slots(session: Session) -> tuple[Slot, ...]:
    """The session's exercise occurrences, in order, from its timeline and placed cues."""
    runs: list[list] = []  # type: ignore[type-arg]
    for seg in session.timeline.segments:
        if seg.kind not in EXERCISE_PARTS:
            continue
        where = (seg.block, seg.exercise, seg.round)
        if runs and runs[-1][0] == where and runs[-1][2] == seg.start_ms:
            runs[-1][2] = seg.end_ms
        else:
            runs.append([where, seg.start_ms, seg.end_ms])
    announced = [c.start_ms for c in session.cues if c.kind in ANNOUNCEMENTS]  # cues are in time order
    out: list[Slot] = []
    previous_end = previous_work = 0
    for (block, exercise, rnd), work, end in runs:
        # With little or no rest the scheduler may move announcements into the previous exercise.
        first = bisect.bisect_right(announced, previous_work)
        said = announced[first] if first < len(announced) and announced[first] < work else end
        start = min(previous_end, said) if out else 0
        out.append(Slot(start, work, end, exercise or "", block, rnd))
        previous_end, previous_work = end, work
    return tuple(out)


def resolve_start(session: Session, wanted: str | None) -> int:
    """`--from`: an exercise's name (its first occurrence, announcements included) or a time such as 5:30."""
    if wanted is None:
        return 0
    found = slots(session)
    return _start(wanted, [s.exercise for s in found], session.timeline.duration_ms, [s.start_ms for s in found])


def check_start(routine: Routine, total_ms: int, wanted: str | None) -> None:
    """Fails on a bad `--from` before any speech is prepared."""
    if wanted is not None:
        names = [e.name for b in routine.blocks for e in b.exercises]
        _start(wanted, names, total_ms, [0] * len(names))


def _start(wanted: str, names: list[str], total_ms: int, starts: list[int]) -> int:
    text = wanted.strip()
    folded = [n.casefold() for n in names]
    if text.casefold() in folded:
        return starts[folded.index(text.casefold())]
    try:
        at = parse_duration(text)
    except ValueError:
        pass
    else:
        if at >= total_ms:
            raise StartError(f"--from {text} is past the end of the session ({format_clock(total_ms)})")
        return at
    partial = [i for i, n in enumerate(folded) if text.casefold() in n]
    if len({names[i] for i in partial}) == 1:
        return starts[partial[0]]
    if partial:
        several = ", ".join(dict.fromkeys(f"`{names[i]}`" for i in partial))
        raise StartError(f"--from `{text}` matches several exercises: {several}")
    hint = suggest(text, dict.fromkeys(names)) or "give an exercise as `coach check` lists it, or a time (5:30)"
    raise StartError(f"no exercise named `{text}` in this routine", hint)


class Player:
    """Position, pause and jumps over one session's mixdown. Thread-safe: the device pulls, the keys move."""

    def __init__(self, session: Session, mixdown: Mixdown, start_ms: int = 0) -> None:
        self.session = session
        self.mixdown = mixdown
        self.channels = mixdown.channels  # frames are interleaved when the mix has music
        self.slots = slots(session)
        self._rounds = {b.name: b.rounds for b in session.routine.blocks}
        self._lock = threading.Lock()
        # Jumps compare frames, not milliseconds: a round trip through ms may land a frame short.
        self._starts = [mixdown.frame(s.start_ms) for s in self.slots]
        self._finish = mixdown.frame(self.slots[-1].end_ms) if self.slots else 0
        self._position = mixdown.frame(start_ms)
        self._segment_starts = [s.start_ms for s in session.timeline.segments]
        self._slot_ends = [s.end_ms for s in self.slots]
        self._cue_starts = [c.start_ms for c in session.cues]
        self.paused = False
        self.quit = False

    # ---- the audio side ------------------------------------------------------
    def pull(self, count: int) -> np.ndarray:
        """The next `count` frames for the device (silence while paused); fewer once the session ends."""
        with self._lock:
            if self.paused:
                return np.zeros(count * self.channels, dtype=np.int16)
            samples = self.mixdown.render(self._position, count)
            self._position += len(samples) // self.channels
            return samples

    # ---- the keys ------------------------------------------------------------
    def press(self, key: str) -> Action | None:
        action = action_for(key)
        if action is not None:
            self.apply(action)
        return action

    def apply(self, action: Action) -> None:
        with self._lock:
            if action is Action.PAUSE:
                self.paused = not self.paused
            elif action is Action.QUIT:
                self.quit = True
            elif action is Action.NEXT:
                self._jump_next()
            elif action is Action.BACK:
                self._jump_back()

    def _current(self) -> int:
        """Index of the slot the position is in (-1 before the first)."""
        return bisect.bisect_right(self._starts, self._position) - 1

    def _jump_next(self) -> None:
        i = self._current()
        if i + 1 < len(self.slots):
            self._position = self._starts[i + 1]
        elif self.slots and self._position < self._finish:
            # From the last exercise: to its finish, where the closing words are.
            self._position = self._finish

    def _jump_back(self) -> None:
        i = self._current()
        if i < 0:
            self._position = 0
        elif self._position >= self._finish:
            self._position = self._starts[-1]  # from the finish: the last exercise
        elif self._position - self._starts[i] < self.mixdown.frame(BACK_AGAIN_MS) and i > 0:
            self._position = self._starts[i - 1]
        else:
            self._position = self._starts[i]

    # ---- what is happening ---------------------------------------------------
    def _ms(self) -> int:
        return (self._position * 1000 + self.mixdown.rate // 2) // self.mixdown.rate

    @property
    def position_ms(self) -> int:
        with self._lock:
            return self._ms()

    @property
    def finished(self) -> bool:
        with self._lock:
            return self._position >= self.mixdown.frames

    def status(self) -> Status:
        with self._lock:
            ms, paused, finished = self._ms(), self.paused, self._position >= self.mixdown.frames
        timeline = self.session.timeline
        at = bisect.bisect_right(self._segment_starts, ms) - 1
        segment = timeline.segments[at] if at >= 0 and ms < timeline.segments[at].end_ms else None
        # The exercise being done, else the first one still to come.
        now = bisect.bisect_right(self._slot_ends, ms)
        slot = self.slots[now] if now < len(self.slots) else None
        following = self.slots[now + 1] if now + 1 < len(self.slots) else None
        said = bisect.bisect_right(self._cue_starts, ms) - 1
        cue = self.session.cues[said].text if said >= 0 else ""
        block = slot.block if slot else None
        return Status(
            position_ms=ms,
            duration_ms=timeline.duration_ms,
            paused=paused,
            finished=finished,
            kind=segment.kind if segment else "outro",
            exercise=slot.exercise if slot else None,
            side=segment.side if segment and segment.kind in EXERCISE_PARTS else None,
            block=block,
            round=slot.round if slot else None,
            rounds=self._rounds.get(block) if block else None,
            left_ms=(segment.end_ms if segment else timeline.duration_ms) - ms,
            next_exercise=following.exercise if following else None,
            last_cue=cue,
        )
