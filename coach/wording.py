"""Cue wording: cue kinds, their placeholders, phrasebooks, and turning a template into words."""

from __future__ import annotations

import difflib
import re
import string
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from coach.errors import RoutineError

# Each cue kind and the placeholders its template may use.
_COMMON = ("title", "total")
_EXERCISE = ("exercise", "work", "reps", "side", "block", "round", "rounds")
PLACEHOLDERS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "intro": _COMMON + ("next", "work", "blocks"),
        "block": _COMMON + ("block", "rounds", "next"),
        "round": _COMMON + ("block", "round", "rounds", "next"),
        "next": _COMMON + _EXERCISE,
        "countdown": _COMMON + _EXERCISE + ("count",),
        "go": _COMMON + _EXERCISE,
        "halfway": _COMMON + _EXERCISE + ("seconds",),
        "remaining": _COMMON + _EXERCISE + ("seconds",),
        "switch": _COMMON + _EXERCISE,
        "tip": _COMMON + _EXERCISE + ("tip",),
        "rest": _COMMON + ("rest", "exercise", "next", "block", "round", "rounds"),
        "rep": _COMMON + _EXERCISE + ("count",),
        "finish": _COMMON + ("exercise",),
    }
)
CUE_KINDS: tuple[str, ...] = tuple(PLACEHOLDERS)
ALL_PLACEHOLDERS: frozenset[str] = frozenset(p for ps in PLACEHOLDERS.values() for p in ps)

UNIT_WORDS = ("second", "seconds", "minute", "minutes", "hour", "hours", "rep", "reps", "left", "right")


def suggest(word: str, choices: object) -> str:
    """'did you mean X?' for a near miss, else ''."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)  # type: ignore[attr-defined]
    return f"did you mean `{close[0]}`?" if close else ""


def check_template(kind: str, template: str, file: str = "", line: int = 0) -> None:
    """Raise RoutineError if `template` cannot be rendered for cue `kind`."""
    if kind not in PLACEHOLDERS:
        raise RoutineError(f"unknown cue kind `{kind}`", file, line, suggest(kind, CUE_KINDS) or f"kinds are: {', '.join(CUE_KINDS)}")
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise RoutineError(
            f"cue `{kind}` template {template!r}: {exc}", file, line, "write {{ and }} for literal braces"
        ) from None
    allowed = PLACEHOLDERS[kind]
    for name in fields:
        if name not in ALL_PLACEHOLDERS:
            hint = suggest(name, ALL_PLACEHOLDERS) or f"placeholders for `{kind}`: {', '.join('{' + p + '}' for p in allowed)}"
            raise RoutineError(f"cue `{kind}`: unknown placeholder {{{name}}}", file, line, hint)
        if name not in allowed:
            raise RoutineError(
                f"cue `{kind}`: placeholder {{{name}}} is not available for this kind",
                file,
                line,
                f"available: {', '.join('{' + p + '}' for p in allowed)}",
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

    def with_templates(self, overrides: Mapping[str, tuple[str, ...]]) -> "Phrasebook":
        merged = dict(self.templates)
        merged.update(overrides)
        return Phrasebook(self.language, MappingProxyType(merged), self.units, self.voice, self.numbers, self.lexicon, self.source)

    def layered(self, top: "Phrasebook") -> "Phrasebook":
        """A book where `top` wins wherever it says something."""
        templates = dict(self.templates)
        templates.update(top.templates)
        units = dict(self.units)
        units.update(top.units)
        numbers = dict(self.numbers)
        numbers.update(top.numbers)
        lexicon = dict(self.lexicon)
        lexicon.update(top.lexicon)
        return Phrasebook(
            top.language or self.language,
            MappingProxyType(templates),
            MappingProxyType(units),
            top.voice or self.voice,
            MappingProxyType(numbers),
            MappingProxyType(lexicon),
            top.source or self.source,
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
        return " ".join(parts)

    def reps(self, n: int) -> str:
        return self.unit(n, "rep")

    def side(self, side: str) -> str:
        return self.units.get(side, side) if side else ""

    def render(self, kind: str, context: Mapping[str, object], occurrence: int) -> str | None:
        """The display text of one cue, or None when the kind is silenced."""
        alternatives = self.templates.get(kind, ())
        if not alternatives:
            return None
        template = alternatives[occurrence % len(alternatives)]
        text = template.format_map(_Context(context))
        return re.sub(r"\s+", " ", text).strip() or None

    def spoken(self, text: str) -> str:
        """Apply the pronunciation lexicon: whole words/phrases, case-insensitive."""
        for written, said in self.lexicon.items():
            text = re.sub(rf"(?<!\w){re.escape(written)}(?!\w)", said, text, flags=re.IGNORECASE)
        return text


class _Context(dict):  # type: ignore[type-arg]
    """format_map context: placeholders validated at load time; a missing one renders empty."""

    def __missing__(self, key: str) -> str:
        return ""
