"""Phrasebook files: the built-in books per language, user books (--phrases), and the effective wording.

Where wording comes from, most specific first: an exercise's `cues:`, the routine's `cues:`,
a `--phrases` file, the language's built-in book.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from types import MappingProxyType

import yaml

from coach.errors import RoutineError
from coach.loader import read_templates
from coach.model import Routine
from coach.wording import CUE_KINDS, UNIT_WORDS, Phrasebook, check_template, suggest
from coach.yamlnodes import Doc, compose, read_text

BOOK_KEYS = ("language", "voice", "cues", "units", "numbers", "lexicon")


def languages() -> list[str]:
    folder = resources.files("coach") / "phrases"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def builtin(language: str) -> Phrasebook:
    known = languages()
    base = language.split("-")[0].split("_")[0].lower()
    if base not in known:
        hint = suggest(base, known) or f"built-in languages: {', '.join(known)}; or give your own with --phrases FILE"
        raise RoutineError(f"no built-in wording for language `{language}`", hint=hint)
    text = (resources.files("coach") / "phrases" / f"{base}.yaml").read_text(encoding="utf-8")
    return parse(text, f"{base} (built-in phrasebook)")


def load_file(path: str | Path) -> Phrasebook:
    return parse(read_text(Path(path)), str(path))


def parse(text: str, file: str) -> Phrasebook:
    doc = Doc(file)
    root = compose(text, file)
    keys = doc.mapping(root, "the phrasebook", BOOK_KEYS) or {}
    language = doc.string(keys["language"], "`language`", max_len=20) if "language" in keys else ""
    voice = doc.string(keys["voice"], "`voice`", max_len=100) if "voice" in keys else ""
    templates: dict[str, tuple[str, ...]] = {}
    for kind, node in (doc.mapping(keys["cues"], "`cues`", CUE_KINDS) or {} if "cues" in keys else {}).items():
        alternatives = read_templates(doc, node, f"`cues.{kind}`")
        if alternatives is None:
            continue
        for template in alternatives:
            try:
                check_template(kind, template, file, node.start_mark.line + 1)
            except RoutineError as exc:
                doc.errors.append(exc)
        templates[kind] = alternatives
    units = _words(doc, keys.get("units"), "`units`", UNIT_WORDS)
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
        numbers=MappingProxyType(numbers),
        lexicon=MappingProxyType(lexicon),
        source=file,
    )


def _pairs(doc: Doc, node: yaml.Node, what: str) -> list[tuple[yaml.Node, yaml.Node]]:
    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
        return []
    if doc.mapping(node, what, allowed=_AnyKey()) is None:  # type: ignore[arg-type]
        return []
    return list(node.value)  # type: ignore[union-attr]


def _words(doc: Doc, node: yaml.Node | None, what: str, allowed: tuple[str, ...]) -> dict[str, str]:
    if node is None:
        return {}
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


def effective(routine: Routine, phrases: str | Path | None = None, language: str | None = None) -> Phrasebook:
    """The wording a routine is spoken with (per-exercise overrides are applied by the compiler)."""
    lang = language or routine.language
    book = builtin(lang)
    if phrases is not None:
        book = book.layered(load_file(phrases))
    return book.with_templates(routine.cues)
