"""Phrasebook files: the built-in books per language, user books (--phrases), and the effective wording.

Where wording comes from, most specific first: an exercise's `cues:`, the routine's `cues:`,
a `--phrases` file, the language's built-in book.

The language is `--language`, else the `--phrases` file's `language:`, else the routine's
`language:` (en when it says none): a phrasebook file is wording written in one language, so its
language picks the built-in book that fills in whatever the file leaves out.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType

import yaml

from coach.errors import CoachError, RoutineError, suggest
from coach.routine.model import Routine
from coach.routine.wording import (
    CUE_KINDS,
    MEANING,
    PLACEHOLDERS,
    UNIT_WORDS,
    WHEN,
    Phrasebook,
    check_template,
)
from coach.routine.yamlnodes import Doc, compose, read_text

BOOK_KEYS = ("language", "voice", "rate", "cues", "units", "numbers", "lexicon")
# Unit words a book for a language without a built-in book must give (`and` may stay empty).
REQUIRED_UNITS = tuple(u for u in UNIT_WORDS if u != "and")
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*")


def languages() -> list[str]:
    folder = resources.files("coach.routine") / "phrases"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def base_language(language: str) -> str:
    """es-419 -> es; EN_gb -> en."""
    return language.replace("_", "-").split("-")[0].lower()


def builtin(language: str) -> Phrasebook:
    known = languages()
    base = base_language(language)
    if base not in known:
        hint = suggest(base, known) or f"built-in languages: {', '.join(known)}; or give your own with --phrases FILE"
        raise CoachError(f"no built-in wording for language `{language}`", hint)
    return _builtin_book(base)


@functools.cache
def _builtin_book(base: str) -> Phrasebook:
    """A built-in book, parsed once per process (Phrasebook is immutable)."""
    text = (resources.files("coach.routine") / "phrases" / f"{base}.yaml").read_text(encoding="utf-8")
    return parse(text, f"{base} (built-in phrasebook)")


def load_file(path: str | Path) -> Phrasebook:
    return parse(read_text(Path(path)), str(path))


# ---- reading ---------------------------------------------------------------------


def parse(text: str, file: str) -> Phrasebook:
    doc = Doc(file)
    root = compose(text, file)
    keys = doc.mapping(root, "the phrasebook", BOOK_KEYS) or {}
    language = doc.string(keys["language"], "`language`", max_len=20) if "language" in keys else ""
    if language and not _LANGUAGE_TAG.fullmatch(language):
        doc.error(keys["language"], f"`language` {language!r} is not a language tag", "write e.g. en, es or es-419")
    voice = doc.string(keys["voice"], "`voice`", max_len=100) if "voice" in keys else ""
    rate = doc.integer(keys["rate"], "`rate` (words per minute)", 50, 500) if _given(keys, "rate") else None
    templates: dict[str, tuple[str, ...]] = {}
    for kind, node in (doc.mapping(keys["cues"], "`cues`", CUE_KINDS) or {} if _given(keys, "cues") else {}).items():
        alternatives = doc.templates(node, f"`cues.{kind}`")
        if alternatives is None:
            continue
        # Each alternative of a block list is reported at its own line.
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for template, item in zip(alternatives, items):
            try:
                check_template(kind, template, file, item.start_mark.line + 1)
            except RoutineError as exc:
                doc.errors.append(exc)
        templates[kind] = alternatives
    units = _words(doc, keys["units"], "`units`", UNIT_WORDS) if _given(keys, "units") else {}
    numbers: dict[int, str] = {}
    if "numbers" in keys:
        for key_node, value_node in _pairs(doc, keys["numbers"], "`numbers`"):
            n = doc.integer(key_node, "a `numbers` key", 0, 10_000)
            word = doc.string(value_node, f"`numbers.{key_node.value}`", max_len=100)
            if n is not None and word is not None:
                numbers[n] = word
    lexicon: dict[str, str] = {}
    if "lexicon" in keys:
        for key_node, value_node in _pairs(doc, keys["lexicon"], "`lexicon`"):
            written = doc.string(key_node, "a `lexicon` entry", max_len=200)
            said = doc.string(value_node, f"`lexicon.{key_node.value}`", max_len=500)
            if written is not None and said is not None:
                lexicon[written] = said
    doc.raise_errors()
    return Phrasebook(
        language=language or "",
        templates=MappingProxyType(templates),
        units=MappingProxyType(units),
        voice=voice or "",
        rate=rate,
        numbers=MappingProxyType(numbers),
        lexicon=MappingProxyType(lexicon),
        source=file,
    )


def _given(keys: Mapping[str, yaml.Node], key: str) -> bool:
    """The key is there with a value (a section left empty, or all commented out, gives nothing)."""
    node = keys.get(key)
    return node is not None and not (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"))


def _pairs(doc: Doc, node: yaml.Node, what: str) -> list[tuple[yaml.Node, yaml.Node]]:
    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
        return []
    if doc.mapping(node, what, allowed=_AnyKey()) is None:  # type: ignore[arg-type]
        return []
    return list(node.value)  # type: ignore[union-attr]


def _words(doc: Doc, node: yaml.Node, what: str, allowed: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value_node in (doc.mapping(node, what, allowed) or {}).items():
        word = doc.string(value_node, f"{what[:-1]}.{key}`", allow_empty=True, max_len=100)
        if word is not None:
            out[key] = word
    return out


class _AnyKey(tuple):  # type: ignore[type-arg]
    """An `allowed` set that admits every key (lexicon and numbers are free-form)."""

    def __contains__(self, item: object) -> bool:
        return True


# ---- the effective wording ----------------------------------------------------------


@dataclass(frozen=True)
class Wording:
    """The effective phrasebook, and where each cue kind's wording came from."""

    book: Phrasebook
    origin: Mapping[str, str]


def resolve(routine: Routine, phrases: str | Path | None = None, language: str | None = None) -> Wording:
    """Layer the sources (see the module's docstring) into one book."""
    user = load_file(phrases) if phrases is not None else None
    lang = language or (user.language if user is not None else "") or routine.language or "en"
    base = _base(lang, user, routine, language)
    origin = {kind: f"built-in `{base_language(lang)}` book" for kind in base.templates}
    book = base
    if user is not None:
        book = book.layered(user)
        origin.update({kind: str(phrases) for kind in user.templates})
    book = replace(book.with_templates(routine.cues), language=lang)
    origin.update({kind: f"{routine.source} `cues:`" for kind in routine.cues})
    return Wording(book, MappingProxyType(origin))


def effective(routine: Routine, phrases: str | Path | None = None, language: str | None = None) -> Phrasebook:
    """The wording a routine is spoken with (per-exercise overrides are applied by the compiler)."""
    return resolve(routine, phrases, language).book


def missing(book: Phrasebook) -> list[str]:
    """What a book leaves out that only a built-in book could fill in."""
    kinds = [f"cues.{k}" for k in CUE_KINDS if k not in book.templates]
    units = [f"units.{u}" for u in REQUIRED_UNITS if u not in book.units]
    return kinds + units


def _base(lang: str, user: Phrasebook | None, routine: Routine, flag: str | None) -> Phrasebook:
    """The built-in book for `lang`; a complete user book needs none."""
    if base_language(lang) in languages():
        return builtin(lang)
    gaps = missing(user) if user is not None else None
    if gaps == []:
        return Phrasebook(lang, MappingProxyType({}), MappingProxyType({}))
    known = ", ".join(languages())
    message = f"no built-in wording for language `{lang}`"
    if gaps:
        message += f"; the phrasebook leaves out {', '.join(gaps[:4])}{' ...' if len(gaps) > 4 else ''}"
        hint = f"give them all (start from `coach phrases > FILE`), or use a built-in language: {known}"
    else:
        hint = suggest(base_language(lang), languages()) or (
            f"built-in languages: {known}; or give a complete phrasebook with --phrases FILE")
    if flag:
        raise CoachError(f"--language: {message}", hint)
    if user is not None and user.language:
        raise RoutineError(message, user.source, hint=hint)
    raise RoutineError(message, routine.source, hint=hint)


# ---- writing ----------------------------------------------------------------------


def show(routine: Routine | None, phrases: str | Path | None = None, language: str | None = None) -> str:
    """`coach phrases`: the effective wording as a phrasebook file, for a routine or none."""
    target = routine or Routine(title="", blocks=(), language="", source="")
    wording = resolve(target, phrases, language)
    about = f"the wording of {routine.source}" if routine else "the effective wording"
    return dump(wording.book, about, wording.origin, _exercise_notes(routine) if routine else ())


def dump(book: Phrasebook, about: str = "", origin: Mapping[str, str] | None = None, notes: tuple[str, ...] = ()) -> str:
    """A phrasebook YAML that `parse` reads back to the same wording, with comments for editing it."""
    out = [
        f"# coach phrasebook: {about or 'wording'} ({book.language}).",
        "# Use it with `--phrases FILE`; leave out what you keep: the built-in book for `language` fills it in.",
        "# A template is text with {placeholders}; a list gives alternatives, used in turn; null silences",
        "# the cue kind. Write {{ and }} for literal braces. The placeholders:",
        *(f"#   {{{name}}}: {meaning}" for name, meaning in MEANING.items()),
        f"language: {_plain(book.language)}",
    ]
    out.append(f"voice: {_plain(book.voice)}" if book.voice else "# voice: (none named: the language picks it)")
    out.append(f"rate: {book.rate}  # words a minute; --rate and the routine's voice.rate win" if book.rate
               else "# rate: (the voice's own; --rate and the routine's voice.rate win)")
    out.append("cues:")
    for kind in CUE_KINDS:
        came_from = f" [from {origin[kind]}]" if origin and kind in origin and not origin[kind].startswith("built-in") else ""
        out.append(f"  # {kind}: {WHEN[kind]}.{came_from}")
        out.append(f"  #   placeholders: {' '.join('{' + p + '}' for p in PLACEHOLDERS[kind])}")
        alternatives = book.templates.get(kind)
        if alternatives is None:
            out.append(f"  # {kind}: (not set here)")
        elif not alternatives:
            out.append(f"  {kind}: null")
        elif len(alternatives) == 1:
            out.append(f"  {kind}: {_quoted(alternatives[0])}")
        else:
            out.append(f"  {kind}:")
            out.extend(f"    - {_quoted(t)}" for t in alternatives)
    out += [
        "# Words in durations, rep counts and sides: {total} {work} {rest} {seconds} {reps} {side}.",
        "# `and` joins a duration's last part (\"1 minute and 30 seconds\"); empty for none.",
        "units:",
    ]
    defaults = {u: u for u in UNIT_WORDS} | {"and": ""}
    out.extend(f"  {u}: {_plain(book.units.get(u, defaults[u]))}" for u in UNIT_WORDS)
    out.append("# Number words, for numbers the voice reads badly as digits (e.g. `1: one`); digits otherwise.")
    if book.numbers:
        out.append("numbers:")
        out.extend(f"  {n}: {_quoted(word)}" for n, word in sorted(book.numbers.items()))
    else:
        out.append("numbers: {}")
    out += [
        "# Pronunciations, written: said. Whole words or phrases, any case, applied to everything spoken",
        "# (exercise names and tips too); the cue sheet still shows the text as written.",
    ]
    if book.lexicon:
        out.append("lexicon:")
        out.extend(f"  {_quoted(w)}: {_quoted(s)}" for w, s in book.lexicon.items())
    else:
        out.append("lexicon: {}")
    out.extend(notes)
    return "\n".join(out) + "\n"


def _exercise_notes(routine: Routine) -> tuple[str, ...]:
    """Per-exercise `cues:` stay in the routine (a phrasebook has no exercises): shown as comments."""
    lines: list[str] = []
    seen: set[str] = set()
    for block in routine.blocks:
        for ex in block.exercises:
            if not ex.cues or ex.name in seen:
                continue
            seen.add(ex.name)
            for kind, alternatives in ex.cues.items():
                words = " | ".join(_quoted(t) for t in alternatives) if alternatives else "null"
                lines.append(f"#   {ex.name} ({routine.source}:{ex.line}): {kind}: {words}")
    if not lines:
        return ()
    return ("# For single exercises the routine's own `cues:` win over the above:", *lines)


def _quoted(text: str) -> str:
    """A double-quoted YAML scalar (escapes what YAML would otherwise fold or reject)."""
    return str(yaml.safe_dump(text, allow_unicode=True, default_style='"', width=float("inf"))).strip()


# Words other YAML readers take for true/false/null: quoted, so the file means the same everywhere.
_YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def _plain(text: str) -> str:
    """A word as it is when YAML reads it back unchanged, else quoted."""
    if re.fullmatch(r"\w[\w .'-]*\w|\w", text) and yaml.safe_load(text) == text and text.lower() not in _YAML11_WORDS:
        return text
    return _quoted(text)
