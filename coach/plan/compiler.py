"""Routine + wording -> Timeline. Pure: no I/O, no audio, integer milliseconds throughout."""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from coach.plan.timeline import CueRequest, Priority, Segment, Timeline
from coach.routine.model import Block, Exercise, Routine
from coach.routine.wording import Phrasebook

COUNTDOWN_FROM = 3
HALFWAY_MIN_MS = 20_000
REMAINING_AT_MS = 10_000
REMAINING_MIN_MS = 30_000
NEXT_EARLY_MS = 8_000  # with little rest, "next" may start this long before the work


@dataclass(frozen=True)
class _Step:
    """One exercise occurrence: block, round and position within the session."""

    block: Block
    block_index: int
    round: int
    exercise: Exercise
    first_of_block: bool
    first_of_round: bool
    rest_after_ms: int
    rest_kind: str


def steps(routine: Routine) -> Iterator[_Step]:
    """Every exercise occurrence in order, with the rest that follows it.

    Rest rules: after each exercise comes its own `rest`; between rounds the block's `round_rest`
    replaces it when given; the session's last exercise goes straight to the outro.
    """
    flat = [
        (bi, block, rnd, ei, ex)
        for bi, block in enumerate(routine.blocks)
        for rnd in range(1, block.rounds + 1)
        for ei, ex in enumerate(block.exercises)
    ]
    for n, (bi, block, rnd, ei, ex) in enumerate(flat):
        last_of_round = ei == len(block.exercises) - 1
        if n == len(flat) - 1:
            rest, kind = 0, "rest"
        elif last_of_round and rnd < block.rounds and block.round_rest_ms > 0:
            rest, kind = block.round_rest_ms, "round_rest"
        else:
            rest, kind = ex.rest_ms, "rest"
        yield _Step(block, bi, rnd, ex, rnd == 1 and ei == 0, ei == 0, rest, kind)


def total_ms(routine: Routine) -> int:
    total = routine.lead_in_ms + routine.outro_ms
    for step in steps(routine):
        ex = step.exercise
        total += ex.work_ms * (2 if ex.sides else 1) + (ex.switch_ms if ex.sides else 0) + step.rest_after_ms
    return total


class _Builder:
    def __init__(self, routine: Routine, book: Phrasebook) -> None:
        self.routine = routine
        self.book = book
        self.segments: list[Segment] = []
        self.requests: list[CueRequest] = []
        self.occurrences: Counter[tuple[str, tuple[str, ...]]] = Counter()
        self.now = 0
        self.total = total_ms(routine)
        self.common = {"title": routine.title, "total": book.duration(self.total)}

    # ---- segments ------------------------------------------------------------
    def segment(self, length: int, kind: str, **where: object) -> Segment | None:
        if length <= 0:
            return None
        seg = Segment(self.now, self.now + length, kind, **where)  # type: ignore[arg-type]
        self.segments.append(seg)
        self.now += length
        return seg

    # ---- cues ----------------------------------------------------------------
    def cue(
        self,
        kind: str,
        at: int,
        window: tuple[int, int],
        priority: Priority,
        context: Mapping[str, object],
        exercise: Exercise | None = None,
        fixed: bool = False,
        group: str = "",
        said_by: str = "",
    ) -> None:
        book = self.book
        if exercise is not None and kind in exercise.cues:
            book = book.with_templates({kind: exercise.cues[kind]})
        # Alternatives rotate per template list, so an override does not skip the shared rotation.
        rotation = (kind, book.templates.get(kind, ()))
        text = book.render(kind, {**self.common, **context}, self.occurrences[rotation])
        self.occurrences[rotation] += 1
        if text is None:
            return
        start, end = max(0, window[0]), min(self.total, window[1])
        if end <= start:
            return
        speech = book.spoken(text)
        self.requests.append(CueRequest(kind, text, speech, at, start, end, priority, fixed, group, said_by))

    def exercise_context(self, step: _Step, side: str | None) -> dict[str, object]:
        ex = step.exercise
        return {
            "exercise": ex.name,
            "work": self.book.reps(ex.reps) if ex.reps else self.book.duration(ex.work_ms),
            "reps": self.book.reps(ex.reps) if ex.reps else "",
            "side": self.book.side(side or ""),
            "block": step.block.name,
            "round": self.book.number(step.round),
            "rounds": self.book.number(step.block.rounds),
        }

    # ---- the session ---------------------------------------------------------
    def build(self) -> Timeline:
        routine = self.routine
        all_steps = list(steps(routine))
        self.segment(routine.lead_in_ms, "lead_in")
        intro: dict[str, object] = {"blocks": self.book.number(len(routine.blocks))}
        if all_steps:
            first_context = self.exercise_context(all_steps[0], None)
            intro.update(next=first_context["exercise"], work=first_context["work"])
        self.cue("intro", 0, (0, routine.lead_in_ms), Priority.ANNOUNCE, intro)
        # An intro that names the first exercise ("First up: ...") announces it: once the intro is
        # placed, the first "Next up" is not said too.
        intro_words = (self.book.templates.get("intro") or ("",))[0]
        first_named = "next" in {field for _, field, _, _ in string.Formatter().parse(intro_words)}
        gap_start = 0
        for i, step in enumerate(all_steps):
            following = all_steps[i + 1] if i + 1 < len(all_steps) else None
            # (Unless the exercise has its own words for it: those are the coach's, and said.)
            self.announce(step, gap_start, named=i == 0 and first_named and "next" not in step.exercise.cues)
            self.work(step)
            rest_start = self.now
            self.rest(step, following)
            gap_start = rest_start
        finish_at = self.now
        self.segment(routine.outro_ms, "outro")
        self.cue("finish", finish_at, (finish_at, self.total), Priority.MARK,
                 {"exercise": all_steps[-1].exercise.name if all_steps else ""})
        return Timeline(routine.title, self.total, tuple(self.segments), tuple(self.requests))

    def announce(self, step: _Step, gap_start: int, named: bool = False) -> None:
        """Block, round and next-exercise announcements in the time before the work starts (the
        next exercise's only if the intro does not say it, when `named`)."""
        work_start = self.now
        window = (gap_start, work_start)
        ex = step.exercise
        first_side = "left" if ex.sides else None
        if step.first_of_block:
            self.cue("block", gap_start, window, Priority.ANNOUNCE,
                     {"block": step.block.name, "rounds": self.book.number(step.block.rounds), "next": ex.name})
        elif step.first_of_round:
            self.cue("round", gap_start, window, Priority.ANNOUNCE,
                     {"block": step.block.name, "round": self.book.number(step.round),
                      "rounds": self.book.number(step.block.rounds), "next": ex.name})
        early = min(gap_start, work_start - NEXT_EARLY_MS)
        self.cue("next", gap_start, (early, work_start), Priority.ANNOUNCE,
                 self.exercise_context(step, first_side), ex, said_by="intro" if named else "")
        self.countdown(step, gap_start, work_start, first_side)

    def countdown(self, step: _Step, gap_start: int, work_start: int, side: str | None) -> None:
        for count in range(COUNTDOWN_FROM, 0, -1):
            at = work_start - count * 1000
            if at >= gap_start and at < work_start:
                ctx = {**self.exercise_context(step, side), "count": self.book.number(count)}
                self.cue("countdown", at, (at, work_start), Priority.COUNT, ctx, step.exercise, fixed=True)

    def work(self, step: _Step) -> None:
        ex = step.exercise
        where = {"block": step.block.name, "exercise": ex.name, "round": step.round}
        sides = ("left", "right") if ex.sides else (None,)
        for n, side in enumerate(sides):
            if n:
                switch_start = self.now
                seg = self.segment(ex.switch_ms, "switch", **where, side=side)
                ctx = self.exercise_context(step, side)
                if seg:
                    self.cue("switch", switch_start, (switch_start, self.now), Priority.MARK, ctx, ex)
                self.countdown(step, switch_start, self.now, side)
            start = self.now
            self.segment(ex.work_ms, "work", **where, side=side)
            self.work_cues(step, side, start, self.now, n)

    def work_cues(self, step: _Step, side: str | None, start: int, end: int, nth_side: int) -> None:
        ex = step.exercise
        ctx = self.exercise_context(step, side)
        length = end - start
        self.cue("go", start, (start, end), Priority.GO, ctx, ex, fixed=True)
        if ex.reps and ex.tempo_ms:
            for count in range(2, ex.reps + 1):
                at = start + (count - 1) * ex.tempo_ms
                self.cue("rep", at, (at, min(end, at + ex.tempo_ms)), Priority.REP,
                         {**ctx, "count": self.book.number(count)}, ex)
        else:
            if length >= HALFWAY_MIN_MS:
                mid = start + length // 2
                self.cue("halfway", mid, (mid, min(end, mid + 3000)), Priority.PROGRESS,
                         {**ctx, "seconds": self.book.duration(end - mid)}, ex)
            if length >= REMAINING_MIN_MS:
                at = end - REMAINING_AT_MS
                self.cue("remaining", at, (at, min(end, at + 3000)), Priority.PROGRESS,
                         {**ctx, "seconds": self.book.duration(REMAINING_AT_MS)}, ex)
        if ex.tips:
            # Tips fill free time; each occurrence starts from a different tip so rounds vary.
            offset = (step.round - 1) * (2 if ex.sides else 1) + nth_side
            order = [ex.tips[(offset + k) % len(ex.tips)] for k in range(len(ex.tips))]
            for k, tip in enumerate(order):
                at = start + (k + 1) * length // (len(order) + 2)
                self.cue("tip", at, (start, end), Priority.TIP, {**ctx, "tip": tip}, ex, group=f"{ex.name}: {tip}")

    def rest(self, step: _Step, following: _Step | None) -> None:
        if step.rest_after_ms <= 0:
            return
        start = self.now
        self.segment(step.rest_after_ms, step.rest_kind, block=step.block.name, round=step.round)
        ctx = {
            "rest": self.book.duration(step.rest_after_ms),
            "exercise": step.exercise.name,
            "next": following.exercise.name if following else "",
            "block": step.block.name,
            "round": self.book.number(step.round),
            "rounds": self.book.number(step.block.rounds),
        }
        self.cue("rest", start, (start, self.now), Priority.MARK, ctx, step.exercise)


def compile_routine(routine: Routine, book: Phrasebook) -> Timeline:
    """The session's segments and cue requests. Cue times are wishes; the scheduler places them."""
    return _Builder(routine, book).build()
