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
END_COUNT_MIN_MS = 15_000  # timed work this long ends with a spoken 3, 2, 1
HALFWAY_MIN_MS = 20_000
REMAINING_AT_MS = 10_000
REMAINING_MIN_MS = 30_000
PROGRESS_APART_MS = 8_000  # halfway is skipped where it would come closer than this to "10 seconds left"
NEXT_EARLY_MS = 8_000  # with too little rest even for the compact words, "next" may start this long before the work
READY_MIN_MS = 20_000  # a preparation this long names the exercise again near its end ("ready")
READY_AT_MS = 10_000
SETUP_AND_READY_MS = 30_000  # a preparation this long says the setup after the announcement and again in "ready"
NEXT_LATE_MS = 13_000  # in a shorter one the announcement is wished this long before the work
REST_LEFT_MIN_MS = 40_000  # rests this long say the time left about every REST_LEFT_EVERY_MS
REST_LEFT_EVERY_MS = 20_000
MARK_ROOM_MS = 2_500  # a short rest keeps this much before its countdown for "Rest." and "Next: ..."
SPACING_MS = 150  # as the scheduler keeps between cues
GO_ROOM_MS = 400  # kept free before a work start with no countdown, for the go tone
MS_PER_WORD = 390  # a speech-length guess at the measured 2.6 words a second, to spread tips before clips exist
SIDE_ORDER = {"left": ("left", "right"), "right": ("right", "left")}


def estimate_ms(text: str) -> int:
    """A guess of how long `text` takes to say, for spreading cues (the scheduler uses real lengths)."""
    return 200 + MS_PER_WORD * len(text.split())


def speech_end(work_start_ms: int, counts: int) -> int:
    """Where what is said before a countdown of `counts` (or before a work start with none) must
    have ended: nothing runs into the countdown, and the go tone has room (tones.py; a pip fits
    in the spacing the scheduler keeps before the count)."""
    return work_start_ms - (counts * 1000 if counts else GO_ROOM_MS)


def countdown_from(prep_start_ms: int, work_start_ms: int, kind: str) -> int:
    """From which number the countdown into work counts: 3, less when the time before it is short.

    A short rest keeps its first MARK_ROOM_MS for the compact "Rest." and "Next: ..." (a count that
    starts at the rest's first millisecond leaves no room for them).
    """
    length = work_start_ms - prep_start_ms
    if kind in ("rest", "round_rest") and length >= 1000:
        return min(COUNTDOWN_FROM, max(1, (length - MARK_ROOM_MS) // 1000))
    if kind == "switch" and length >= 2000:  # its first second names the side
        return min(COUNTDOWN_FROM, (length - 1000) // 1000)
    return max(0, min(COUNTDOWN_FROM, length // 1000))


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
    last: bool = False  # the session's last exercise


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
        yield _Step(block, bi, rnd, ex, rnd == 1 and ei == 0, ei == 0, rest, kind, n == len(flat) - 1)


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
    def _book(self, kind: str, exercise: Exercise | None) -> Phrasebook:
        if exercise is not None and kind in exercise.cues:
            return self.book.with_templates({kind: exercise.cues[kind]})
        return self.book

    def words(self, kind: str, context: Mapping[str, object], exercise: Exercise | None = None) -> str | None:
        """The text of `kind` (the next of its alternatives), or None when silenced."""
        book = self._book(kind, exercise)
        # Alternatives rotate per template list, so an override does not skip the shared rotation.
        rotation = (kind, book.templates.get(kind, ()))
        text = book.render(kind, {**self.common, **context}, self.occurrences[rotation])
        self.occurrences[rotation] += 1
        return text

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
        home: int = -1,
        compact: str = "",
    ) -> bool:
        """Ask for a cue; `compact` names the kind said instead when the full words do not fit
        after `home` (the rest's start): only then may the cue move before it, into the work."""
        text = self.words(kind, context, exercise)
        if text is None:
            return False
        start, end = max(0, window[0]), min(self.total, window[1])
        if end <= start:
            return False
        self.requests.append(CueRequest(kind, text, self._book(kind, exercise).spoken(text), at, start, end, priority,
                                        fixed, group, said_by, home))
        if compact:
            short = self.words(compact, context, exercise)
            if short is not None and short != text:
                self.requests.append(CueRequest(compact, short, self._book(compact, exercise).spoken(short), at, start,
                                                end, priority, fixed, group, said_by, home, fallback=True))
        return True

    def exercise_context(self, step: _Step, side: str | None) -> dict[str, object]:
        ex = step.exercise
        book = self.book
        work = book.reps(ex.reps) if ex.reps else book.duration(ex.work_ms)
        tempo = book.duration(ex.tempo_ms) if ex.reps and ex.tempo_ms else ""
        if ex.sides:
            work = self._phrase("each_side", {"work": work, "side": book.side(ex.first_side)}, ex) or work
        elif ex.reps and ex.tempo_ms:
            work = self._phrase("each_rep", {"reps": work, "tempo": tempo}, ex) or work
        return {
            "exercise": ex.name,
            "work": work,
            "reps": book.reps(ex.reps) if ex.reps else "",
            "tempo": tempo,
            "side": book.side(side or ""),
            "setup": ex.setup,
            "block": step.block.name,
            "round": book.number(step.round),
            "rounds": book.number(step.block.rounds),
        }

    def peek(self, kind: str, context: Mapping[str, object], exercise: Exercise) -> str:
        """The words `kind` will say next, without taking its turn."""
        book = self._book(kind, exercise)
        text = book.render(kind, {**self.common, **context}, self.occurrences[(kind, book.templates.get(kind, ()))])
        return text or ""

    def _phrase(self, kind: str, context: Mapping[str, object], exercise: Exercise) -> str | None:
        return self._book(kind, exercise).render(kind, context, 0)

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
        gap_start, gap_kind = 0, "lead_in"
        previous: _Step | None = None
        for i, step in enumerate(all_steps):
            following = all_steps[i + 1] if i + 1 < len(all_steps) else None
            # (Unless the exercise has its own words for it: those are the coach's, and said.)
            self.announce(step, previous, gap_start, gap_kind,
                          named=i == 0 and first_named and "next" not in step.exercise.cues)
            self.work(step)
            rest_start = self.now
            self.rest(step, following)
            gap_start, gap_kind, previous = rest_start, step.rest_kind, step
        finish_at = self.now
        self.segment(routine.outro_ms, "outro")
        different = len({step.exercise.name for step in all_steps})
        self.cue("finish", finish_at, (finish_at, self.total), Priority.MARK,
                 {"exercise": all_steps[-1].exercise.name if all_steps else "",
                  "exercises": self.book.unit(different, "exercise")}, compact="finish_short")
        return Timeline(routine.title, self.total, tuple(self.segments), tuple(self.requests))

    def announce(self, step: _Step, previous: _Step | None, gap_start: int, gap_kind: str, named: bool = False) -> None:
        """What is said in the time before an exercise: block and round, the exercise (once a
        round; `again` or nothing when an earlier round said it), its setup, a time-left reminder
        in long rests, the exercise named again near the end, and the countdown."""
        work_start = self.now
        length = work_start - gap_start
        counts = countdown_from(gap_start, work_start, gap_kind)
        prep_end = speech_end(work_start, counts)
        window = (gap_start, prep_end)
        ex = step.exercise
        block = step.block
        ctx = self.exercise_context(step, ex.first_side if ex.sides else None)
        own = "next" in ex.cues
        if step.round > 1 and not own and not step.last:
            # A one-exercise block: the round cue says it all.
            kind: str | None = "again" if len(block.exercises) > 1 else None
        else:
            kind = "last_exercise" if step.last and not own and not named else "next"
        # Block and round come first, where they leave the exercise's announcement its room.
        # (When the intro says it, what needs the room is the reminder that follows, if any.)
        ready = length >= READY_MIN_MS or (named and length >= NEXT_LATE_MS)
        # (An intro expected to fit names the exercise: then only a reminder needs the room.)
        intro = self.requests[0] if self.requests and self.requests[0].kind == "intro" else None
        intro_says = named and intro is not None and estimate_ms(intro.text) <= prep_end - gap_start
        said = self.peek("ready" if named and ready else kind, ctx, ex) if kind and not (intro_says and not ready) else ""
        structure = (gap_start, prep_end - (estimate_ms(said) + SPACING_MS if said else 0))
        if step.first_of_block:
            plan = self.book.unit(len(block.exercises), "exercise")
            if block.rounds > 1:
                plan = f"{self.book.unit(block.rounds, 'round')}, {plan}"
            self.cue("block", gap_start, structure, Priority.ANNOUNCE,
                     {"block": block.name, "rounds": self.book.number(block.rounds), "next": ex.name, "plan": plan,
                      "exercises": self.book.unit(len(block.exercises), "exercise")})
        # Round 1 too, where there is time: in a short rest the block's "2 rounds" says it.
        if step.first_of_round and block.rounds > 1 and (step.round > 1 or length >= READY_MIN_MS):
            self.cue("final_round" if step.round == block.rounds else "round", gap_start, structure, Priority.ANNOUNCE,
                     {"block": block.name, "round": self.book.number(step.round),
                      "rounds": self.book.number(block.rounds), "next": ex.name})
        # The announcement: early in a long preparation (a reminder follows), late in a short one.
        at = gap_start if length >= READY_MIN_MS else max(gap_start, work_start - NEXT_LATE_MS)
        early = min(gap_start, work_start - NEXT_EARLY_MS)
        if kind == "again":
            self.cue("again", at, (early, prep_end), Priority.ANNOUNCE, ctx, ex, home=gap_start)
        elif kind:
            self.cue(kind, at, (early, prep_end), Priority.ANNOUNCE, ctx, ex,
                     said_by="intro" if named else "", home=gap_start, compact="next_short")
        # The setup after the announcement, unless the reminder near the end, which says it too,
        # would follow it with little in between; once a block (later rounds hear it in the
        # reminder of a long rest). An intro that named the exercise at the start of a short
        # lead-in is too far back too: a reminder follows it.
        if ex.setup and step.round == 1 and not (ready and length < SETUP_AND_READY_MS):
            self.cue("setup", at + 1, window, Priority.ANNOUNCE, ctx, ex)
        if ex.reps and ex.tips:
            # Tips of a rep exercise never fall between its counts: one before it, in turn.
            tip = ex.tips[(step.round - 1) % len(ex.tips)]
            self.cue("tip", gap_start + 2, window, Priority.TIP, {**ctx, "tip": tip}, ex, group=f"{ex.name}: {tip}")
        if length >= REST_LEFT_MIN_MS:
            rest_ctx = {**self.rest_context(previous, step, length), "next": ex.name}
            for t in range(REST_LEFT_EVERY_MS, length, REST_LEFT_EVERY_MS):
                left = (length - t + 9999) // 10_000 * 10_000  # a round number of seconds, not later than t
                if not 20_000 <= left <= length - 15_000:
                    continue
                self.cue("rest_left", work_start - left, (work_start - left, prep_end), Priority.PROGRESS,
                         {**rest_ctx, "seconds": self.book.duration(left)}, ex)
        if ready:
            ready_at = work_start - READY_AT_MS
            self.cue("ready", ready_at, (ready_at - 2000, prep_end), Priority.ANNOUNCE, ctx, ex)
        self.countdown(step, work_start, counts, ex.first_side if ex.sides else None)

    def countdown(self, step: _Step, work_start: int, counts: int, side: str | None, kind: str = "countdown") -> None:
        for count in range(counts, 0, -1):
            at = work_start - count * 1000
            ctx = {**self.exercise_context(step, side), "count": self.book.number(count)}
            self.cue(kind, at, (at, work_start), Priority.COUNT, ctx, step.exercise, fixed=True)

    def work(self, step: _Step) -> None:
        ex = step.exercise
        where = {"block": step.block.name, "exercise": ex.name, "round": step.round}
        sides: tuple[str | None, ...] = SIDE_ORDER[ex.first_side] if ex.sides else (None,)
        for n, side in enumerate(sides):
            if n:
                switch_start = self.now
                seg = self.segment(ex.switch_ms, "switch", **where, side=side)
                ctx = self.exercise_context(step, side)
                counts = countdown_from(switch_start, self.now, "switch")
                if seg:
                    self.cue("switch", switch_start, (switch_start, speech_end(self.now, counts)), Priority.MARK, ctx, ex,
                             compact="switch_short")
                self.countdown(step, self.now, counts, side)
            start = self.now
            self.segment(ex.work_ms, "work", **where, side=side)
            self.work_cues(step, side, start, self.now, n)

    def work_cues(self, step: _Step, side: str | None, start: int, end: int, nth_side: int) -> None:
        ex = step.exercise
        ctx = self.exercise_context(step, side)
        length = end - start
        self.cue("go", start, (start, end), Priority.GO, ctx, ex, fixed=True)
        if ex.reps and ex.tempo_ms:
            self.rep_cues(step, ctx, start, end)
            return
        # Anchors: what is said at fixed points of the set, as (start, guessed end); tips go between.
        anchors = [(start, start + 600)]
        counted = length >= END_COUNT_MIN_MS
        free_end = end - COUNTDOWN_FROM * 1000 if counted else end
        remaining_at = end - REMAINING_AT_MS if length >= REMAINING_MIN_MS else None
        if length >= HALFWAY_MIN_MS:
            mid = start + length // 2
            if remaining_at is None or abs(remaining_at - mid) >= PROGRESS_APART_MS:
                if self.cue("halfway", mid, (mid, min(free_end, mid + 3000)), Priority.PROGRESS,
                            {**ctx, "seconds": self.book.duration(end - mid)}, ex):
                    anchors.append((mid, mid + estimate_ms(self.requests[-1].text)))
        if remaining_at is not None:
            if self.cue("remaining", remaining_at, (remaining_at, min(free_end, remaining_at + 3000)), Priority.PROGRESS,
                        {**ctx, "seconds": self.book.duration(REMAINING_AT_MS)}, ex):
                anchors.append((remaining_at, remaining_at + estimate_ms(self.requests[-1].text)))
        if counted:
            self.countdown(step, end, COUNTDOWN_FROM, side, kind="end_count")
        if ex.tips:
            # Tips fill free time; each occurrence starts from a different tip so rounds vary.
            offset = (step.round - 1) * (2 if ex.sides else 1) + nth_side
            order = [ex.tips[(offset + k) % len(ex.tips)] for k in range(len(ex.tips))]
            self.tips(step, ctx, order, anchors, start, free_end)

    def tips(self, step: _Step, ctx: Mapping[str, object], order: list[str], anchors: list[tuple[int, int]],
             start: int, free_end: int) -> None:
        """Tips spread over the free stretches between the set's fixed cues (go, halfway, time
        left, the end count): each to a stretch with no tip yet, else to the one that leaves the
        most room a tip, evenly inside it, so none is glued behind another cue; a tip that fits
        nowhere may go anywhere free."""
        ex = step.exercise
        marks = sorted(anchors) + [(free_end, free_end)]
        gaps = [(a[1] + SPACING_MS, b[0] - SPACING_MS) for a, b in zip(marks, marks[1:]) if b[0] - a[1] > 2 * SPACING_MS]
        shares: list[list[str]] = [[] for _ in gaps]
        homeless: list[str] = []
        for tip in order:
            fits = [n for n, (low, high) in enumerate(gaps)
                    if high - low >= sum(map(estimate_ms, shares[n] + [tip])) + SPACING_MS * len(shares[n])]
            if not fits:
                homeless.append(tip)
                continue
            # A stretch with no tip yet first (one tip each half), then the one leaving most room.
            best = max(fits, key=lambda n: (not shares[n], (gaps[n][1] - gaps[n][0]) // (len(shares[n]) + 1), -n))
            shares[best].append(tip)
        for (low, high), tips in zip(gaps, shares):
            for j, tip in enumerate(tips):
                need = estimate_ms(tip)
                centre = low + (j + 1) * (high - low) // (len(tips) + 1)
                at = min(max(low, centre - need // 2), high - need)
                self.cue("tip", at, (low, high), Priority.TIP, {**ctx, "tip": tip}, ex, group=f"{ex.name}: {tip}")
        for tip in homeless:
            self.cue("tip", start + 1000, (start, free_end), Priority.TIP, {**ctx, "tip": tip}, ex, group=f"{ex.name}: {tip}")

    def rep_cues(self, step: _Step, ctx: Mapping[str, object], start: int, end: int) -> None:
        """Rep 1 is the go; each later rep's start is counted, the last ones counted down ("3 more",
        "last one"); a phased tempo adds "down" and "up" where those phases start."""
        ex = step.exercise
        assert ex.reps and ex.tempo_ms
        for rep in range(1, ex.reps + 1):
            at = start + (rep - 1) * ex.tempo_ms
            window = (at, min(end, at + ex.tempo_ms))
            left = ex.reps - rep + 1
            if rep > 1:
                kind = "last_rep" if left == 1 else "reps_left" if left <= 3 else "rep"
                number = left if kind == "reps_left" else rep
                self.cue(kind, at, window, Priority.REP, {**ctx, "count": self.book.number(number)}, ex)
            if len(ex.tempo_phases) >= 2:
                self.cue("down", at + 1, window, Priority.REP, ctx, ex)
                up_at = at + sum(ex.tempo_phases[:-1])
                self.cue("up", up_at, (up_at, window[1]), Priority.REP, ctx, ex)

    def rest_context(self, step: _Step | None, following: _Step | None, rest_ms: int) -> dict[str, object]:
        return {
            "rest": self.book.duration(rest_ms),
            "exercise": step.exercise.name if step else "",
            "next": following.exercise.name if following else "",
            "block": step.block.name if step else "",
            "round": self.book.number(step.round) if step else "",
            "rounds": self.book.number(step.block.rounds) if step else "",
        }

    def rest(self, step: _Step, following: _Step | None) -> None:
        if step.rest_after_ms <= 0:
            return
        start = self.now
        self.segment(step.rest_after_ms, step.rest_kind, block=step.block.name, round=step.round)
        ctx = self.rest_context(step, following, step.rest_after_ms)
        # "Rest, 15 seconds." once; the same rest in later rounds of the block is just "Rest.", and
        # so is a rest too short for a full countdown (its first seconds are for the next exercise).
        short = countdown_from(start, self.now, step.rest_kind) < COUNTDOWN_FROM
        repeated = (step.round > 1 and step.rest_kind == "rest") or short
        if not (repeated and self.cue("rest_short", start, (start, self.now), Priority.MARK, ctx, step.exercise)):
            self.cue("rest", start, (start, self.now), Priority.MARK, ctx, step.exercise, compact="rest_short")


def compile_routine(routine: Routine, book: Phrasebook) -> Timeline:
    """The session's segments and cue requests. Cue times are wishes; the scheduler places them."""
    return _Builder(routine, book).build()
