"""Cue wording: cue kinds, their placeholders, phrasebooks, and turning a template into words."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from types import MappingProxyType
from typing import Any

from coach.errors import RoutineError, suggest

# Each cue kind and the placeholders its template may use.
_COMMON = ("title", "total")
_EXERCISE = ("exercise", "work", "reps", "tempo", "side", "setup", "block", "round", "rounds")
_REST = ("rest", "exercise", "next", "block", "round", "rounds")
_ROUND = ("block", "round", "rounds", "next")
PLACEHOLDERS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "intro": _COMMON + ("next", "work", "blocks"),
        "block": _COMMON + ("block", "rounds", "plan", "exercises", "next"),
        "round": _COMMON + _ROUND,
        "final_round": _COMMON + _ROUND,
        "next": _COMMON + _EXERCISE,
        "next_short": _COMMON + _EXERCISE,
        "again": _COMMON + _EXERCISE,
        "last_exercise": _COMMON + _EXERCISE,
        "setup": _COMMON + _EXERCISE,
        "ready": _COMMON + _EXERCISE,
        "countdown": _COMMON + _EXERCISE + ("count",),
        "go": _COMMON + _EXERCISE,
        "halfway": _COMMON + _EXERCISE + ("seconds",),
        "remaining": _COMMON + _EXERCISE + ("seconds",),
        "end_count": _COMMON + _EXERCISE + ("count",),
        "switch": _COMMON + _EXERCISE,
        "switch_short": _COMMON + _EXERCISE,
        "tip": _COMMON + _EXERCISE + ("tip",),
        "rest": _COMMON + _REST,
        "rest_short": _COMMON + _REST,
        "rest_left": _COMMON + _REST + ("seconds",),
        "rep": _COMMON + _EXERCISE + ("count",),
        "reps_left": _COMMON + _EXERCISE + ("count",),
        "last_rep": _COMMON + _EXERCISE,
        "down": _COMMON + _EXERCISE,
        "up": _COMMON + _EXERCISE,
        "finish": _COMMON + ("exercise", "exercises"),
        "finish_short": _COMMON + ("exercise", "exercises"),
        # Phrases: never spoken alone, they word {work} inside other cues.
        "each_side": ("work", "side"),
        "each_rep": ("reps", "tempo"),
    }
)
# Kinds that word a placeholder of other cues rather than being cues of their own.
PHRASE_KINDS = ("each_side", "each_rep")
CUE_KINDS: tuple[str, ...] = tuple(PLACEHOLDERS)
ALL_PLACEHOLDERS: frozenset[str] = frozenset(p for ps in PLACEHOLDERS.values() for p in ps)

# When each cue kind is spoken: for `coach phrases` comments and the docs.
WHEN: Mapping[str, str] = MappingProxyType(
    {
        "intro": "at the very start, during the lead-in",
        "block": "before the first exercise of each block",
        "round": "before the first exercise of each round of a block of 2 rounds or more, but the last",
        "final_round": "before the first exercise of a block's last round (2 rounds or more)",
        "next": "before each exercise (and before each round of it)",
        "next_short": "instead of `next` when the time before the exercise is too short for it",
        "again": "instead of `next` for an exercise announced in an earlier round of its block",
        "last_exercise": "instead of `next` before the session's last exercise",
        "setup": "after the announcement, for an exercise with `setup:`",
        "ready": "within the last 10 s before work, after a preparation of 20 s or more: the exercise named again",
        "countdown": "the last seconds before work starts ({count} is 3, 2, 1)",
        "go": "the moment work starts (on each side)",
        "halfway": "half-way through a timed exercise of 20 s or more, unless within 8 s of `remaining`",
        "remaining": "10 s before the end of a timed exercise of 30 s or more",
        "end_count": "the last 3 seconds of a timed exercise of 15 s or more ({count} is 3, 2, 1)",
        "switch": "between the two sides of a `sides:` exercise ({side} is the side coming)",
        "switch_short": "instead of `switch` when the switch is too short for it",
        "tip": "the exercise's tips, spread over the free time of its work (before a `reps:` exercise)",
        "rest": "when a rest starts",
        "rest_short": "instead of `rest` when the rest is too short for it, or repeats an earlier round's",
        "rest_left": "in rests of 40 s or more, every 20 s or so, so the trainee is never left in silence",
        "rep": "each rep of a `reps:` exercise, from the second ({count} is 2, 3, ...)",
        "reps_left": "instead of `rep` for the last reps but one ({count} is 3, 2: reps left, this one included)",
        "last_rep": "instead of `rep` at the start of the last rep",
        "down": "at the start of each rep with a phased `tempo:` (3-1-1)",
        "up": "where the up phase of each rep with a phased `tempo:` starts",
        "finish": "at the end of the session",
        "finish_short": "instead of `finish` when the outro is too short for it",
        "each_side": "a phrase: {work} of a `sides:` exercise in announcements",
        "each_rep": "a phrase: {work} of a `reps:` exercise in announcements",
    }
)

# What each placeholder stands for.
MEANING: Mapping[str, str] = MappingProxyType(
    {
        "title": "the routine's title",
        "total": "the session's length, in words (\"16 minutes\")",
        "blocks": "how many blocks the session has",
        "block": "the block's name",
        "round": "the round number",
        "rounds": "how many rounds the block has",
        "next": "the name of the exercise coming next",
        "exercise": "the exercise's name",
        "work": "the exercise's work, in words (\"45 seconds each side, left side first\", \"10 reps, 3 seconds each\")",
        "tempo": "the time of one rep, in words (\"3 seconds\"), empty for timed exercises",
        "setup": "the exercise's `setup:` (how to get into position), empty when it has none",
        "plan": "the block's rounds and size in words (\"2 rounds, 5 exercises\"; \"4 exercises\")",
        "exercises": "a number of exercises in words (\"5 exercises\"): the block's, or the session's different ones",
        "reps": "the rep count in words (\"10 reps\"), empty for timed exercises",
        "side": "the side being worked (\"left side\"), empty for one-sided exercises",
        "count": "the number being counted",
        "seconds": "the time left, in words (\"10 seconds\")",
        "tip": "the tip's text",
        "rest": "the rest's length, in words (\"15 seconds\")",
    }
)

# Words a phrasebook gives for durations, rep, round and exercise counts and sides; `and` joins "1 minute [and] 30 seconds".
UNIT_WORDS = ("second", "seconds", "minute", "minutes", "hour", "hours", "rep", "reps", "round", "rounds",
              "exercise", "exercises", "left", "right", "and")


_BRACE_PROBLEMS = {
    "Single '}' encountered in format string": "a `}` without a `{` before it",
    "Single '{' encountered in format string": "a `{` without a `}` after it",
    "expected '}' before end of string": "a `{` that is never closed",
    "end of string while looking for conversion specifier": "a `{` that is never closed",
    "unexpected '{' in field name": "a `{` inside a placeholder, before its `}`",
    "unmatched '{' in format spec": "a `{` inside a placeholder",
}


def check_template(kind: str, template: str, file: str = "", line: int = 0) -> None:
    """Raise RoutineError if `template` cannot be rendered for cue `kind`."""
    if kind not in PLACEHOLDERS:
        raise RoutineError(f"unknown cue kind `{kind}`", file, line, suggest(kind, CUE_KINDS) or f"kinds are: {', '.join(CUE_KINDS)}")
    allowed = PLACEHOLDERS[kind]
    available = f"placeholders for `{kind}`: {', '.join('{' + p + '}' for p in allowed)}"
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        problem = _BRACE_PROBLEMS.get(str(exc), str(exc))
        raise RoutineError(
            f"cue `{kind}` template {template!r}: unbalanced braces, {problem}", file, line,
            "placeholders look like {exercise}; write {{ and }} for literal braces",
        ) from None
    for name, spec, conversion in fields:
        if not name:
            raise RoutineError(f"cue `{kind}` template {template!r}: empty {{}}", file, line, available)
        if name not in ALL_PLACEHOLDERS:
            hint = suggest(name, allowed) or suggest(name, ALL_PLACEHOLDERS) or available
            raise RoutineError(f"cue `{kind}`: unknown placeholder {{{name}}}", file, line, hint)
        if name not in allowed:
            raise RoutineError(
                f"cue `{kind}`: placeholder {{{name}}} is not available for this kind", file, line,
                f"available: {', '.join('{' + p + '}' for p in allowed)}",
            )
        if spec or conversion:
            raise RoutineError(
                f"cue `{kind}`: placeholder {{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} has a format",
                file, line, f"placeholders are words already: write {{{name}}}",
            )


@dataclass(frozen=True)
class Phrasebook:
    """Templates by cue kind, unit words, number words and a pronunciation lexicon."""

    language: str
    templates: Mapping[str, tuple[str, ...]]
    units: Mapping[str, str]
    voice: str = ""
    numbers: Mapping[int, str] = field(default_factory=dict)
    lexicon: Mapping[str, str] = field(default_factory=dict)
    source: str = ""
    rate: int | None = None  # the voice's words a minute when neither --rate nor the routine says

    def with_templates(self, overrides: Mapping[str, tuple[str, ...]]) -> Phrasebook:
        merged = dict(self.templates)
        merged.update(overrides)
        return replace(self, templates=MappingProxyType(merged))

    def layered(self, top: Phrasebook) -> Phrasebook:
        """A book where `top` wins wherever it says something."""
        templates = dict(self.templates)
        templates.update(top.templates)
        units = dict(self.units)
        units.update(top.units)
        numbers = dict(self.numbers)
        numbers.update(top.numbers)
        # The lexicon ignores case: `rdl` on top replaces `RDL` below.
        replaced = {w.casefold() for w in top.lexicon}
        lexicon = {w: said for w, said in self.lexicon.items() if w.casefold() not in replaced}
        lexicon.update(top.lexicon)
        return Phrasebook(
            top.language or self.language,
            MappingProxyType(templates),
            MappingProxyType(units),
            top.voice or self.voice,
            MappingProxyType(numbers),
            MappingProxyType(lexicon),
            top.source or self.source,
            top.rate or self.rate,
        )

    # ---- words -------------------------------------------------------------
    def number(self, n: int) -> str:
        return self.numbers.get(n, str(n))

    def unit(self, n: int, singular: str) -> str:
        word = self.units.get(singular if n == 1 else singular + "s", singular if n == 1 else singular + "s")
        return f"{self.number(n)} {word}".strip()

    def duration(self, ms: int) -> str:
        """45000 -> '45 seconds'; 90000 -> '1 minute 30 seconds'; 3600000 -> '1 hour'."""
        seconds = max(0, round(ms / 1000))
        hours, rest = divmod(seconds, 3600)
        minutes, secs = divmod(rest, 60)
        parts = []
        if hours:
            parts.append(self.unit(hours, "hour"))
        if minutes:
            parts.append(self.unit(minutes, "minute"))
        if secs or not parts:
            parts.append(self.unit(secs, "second"))
        joiner = self.units.get("and", "")
        if joiner and len(parts) > 1:
            parts[-1] = f"{joiner} {parts[-1]}"
        return " ".join(parts)

    def reps(self, n: int) -> str:
        return self.unit(n, "rep")

    def side(self, side: str) -> str:
        return self.units.get(side, side) if side else ""

    def render(self, kind: str, context: Mapping[str, object], occurrence: int) -> str | None:
        """The display text of one cue, or None when the kind is silenced.

        Alternatives are taken in turn by `occurrence` (the how-many-th cue of this kind), so the
        same routine always gets the same words. An empty placeholder takes the space before it
        along ("Next: {exercise} {side}." without a side reads "Next: Plank.").
        """
        alternatives = self.templates.get(kind, ())
        if not alternatives:
            return None
        template = alternatives[occurrence % len(alternatives)]
        text = template.format_map(_Context(context))
        text = re.sub(r"\s+", " ", re.sub(r"\s*" + _EMPTY, "", text)).strip()
        if template.startswith("{") and not template.startswith("{{"):
            text = text[:1].upper() + text[1:]  # "{side}." reads "Right side." (on screen and in the lyrics)
        return text or None

    def spoken(self, text: str) -> str:
        """Apply the pronunciation lexicon: whole words/phrases, any case, longest first, in one
        pass. A walk down a tree of the entries' letters from each word start: time grows with
        the text, not with the number of entries times the text (as a regex alternation does)."""
        if not self.lexicon:
            return text
        tree = self._lexicon_tree
        parts: list[str] = []
        done = i = 0
        while i < len(text):
            if i and _is_word(text[i - 1]):  # not a word start
                i += 1
                continue
            node, j, match = tree, i, None
            while j < len(text) and (node := node.get(_fold(text[j]))) is not None:  # type: ignore[assignment]
                j += 1
                if _SAID in node and (j == len(text) or not _is_word(text[j])):
                    match = j, node[_SAID]
            if match is None:
                i += 1
                continue
            parts += [text[done:i], match[1]]
            done = i = match[0]
        return "".join(parts) + text[done:] if parts else text

    @cached_property
    def _lexicon_tree(self) -> dict[str, Any]:
        tree: dict[str, Any] = {}
        for written, said in self.lexicon.items():
            node = tree
            for char in written:
                node = node.setdefault(_fold(char), {})
            node.setdefault(_SAID, said)  # two entries the same but for case: the first wins
        return tree


_SAID = ""  # the key under which a tree node keeps what its entry is said as (no letter is empty)


def _fold(char: str) -> str:
    lower = char.lower()
    return lower if len(lower) == 1 else char


def _is_word(char: str) -> bool:
    """What regular expressions call a word character (\\w)."""
    return char.isalnum() or char == "_"


_EMPTY = "\x00"  # stands in for an empty placeholder while rendering


class _Context(dict):  # type: ignore[type-arg]
    """format_map context: placeholders validated at load time; a missing or empty one renders empty."""

    def __init__(self, values: Mapping[str, object]) -> None:
        super().__init__({k: (v if v != "" and v is not None else _EMPTY) for k, v in values.items()})

    def __missing__(self, key: str) -> str:
        return _EMPTY
