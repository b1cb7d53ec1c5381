"""Located YAML reading: safe_load semantics, every value with its line, errors collected.

YAML is composed into nodes (never expanded by PyYAML), then walked here with a budget, so an
alias bomb is rejected after a bounded amount of work instead of eating memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import yaml

from coach.durations import parse_duration
from coach.errors import RoutineError, RoutineErrors
from coach.wording import suggest

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 100_000


class Doc:
    """A YAML document being read: the file name, collected errors, a node budget."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[RoutineError] = []
        self._visits = 0
        self._constructor = yaml.SafeLoader("")

    # ---- reporting ---------------------------------------------------------
    def error(self, node: yaml.Node | None, message: str, hint: str = "") -> None:
        line = node.start_mark.line + 1 if node is not None else 0
        self.errors.append(RoutineError(message, self.file, line, hint))

    def raise_errors(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise RoutineErrors(self.errors[:20])

    def _visit(self, node: yaml.Node) -> None:
        self._visits += 1
        if self._visits > MAX_NODES:
            raise RoutineError(
                "document too large: more than 100,000 values after expanding aliases",
                self.file,
                node.start_mark.line + 1,
                "a YAML alias bomb? write the routine out plainly",
            )

    # ---- typed reads -------------------------------------------------------
    def mapping(
        self, node: yaml.Node, what: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> dict[str, yaml.Node] | None:
        """The keys of a mapping node; reports non-mappings, duplicates, unknown and missing keys."""
        self._visit(node)
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{what} must be a mapping (key: value lines), not {describe(node)}")
            return None
        own = {id(k) for k, _ in node.value}
        self._constructor.flatten_mapping(node)  # `<<` merge keys, as safe_load does
        out: dict[str, yaml.Node] = {}
        seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            self._visit(key_node)
            if not isinstance(key_node, yaml.ScalarNode):
                self.error(key_node, f"{what}: keys must be plain words")
                continue
            key = str(key_node.value)
            if id(key_node) in own:
                if key in seen:
                    first = seen[key].start_mark.line + 1
                    self.error(key_node, f"duplicate key `{key}` in {what}", f"first given on line {first}")
                    continue
                seen[key] = key_node
            if key not in allowed:
                hint = suggest(key, allowed) or f"allowed: {', '.join(allowed)}"
                self.error(key_node, f"unknown key `{key}` in {what}", hint)
                continue
            out[key] = value_node
        for key in required:
            if key not in out:
                self.error(node, f"{what} is missing `{key}`")
        return out

    def value(self, node: yaml.Node) -> Any:
        """A scalar's Python value, by safe_load's rules."""
        self._visit(node)
        if not isinstance(node, yaml.ScalarNode):
            return _NotScalar(node)
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.error(node, f"cannot read value {node.value!r}: {exc.problem if hasattr(exc, 'problem') else exc}")
            return _NotScalar(node)

    def string(self, node: yaml.Node, what: str, allow_empty: bool = False, max_len: int = 500) -> str | None:
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.error(node, f"{what} must be text, not {describe(node)}")
            return None
        text = str(value).strip()
        if not text and not allow_empty:
            self.error(node, f"{what} must not be empty")
            return None
        if len(text) > max_len:
            self.error(node, f"{what} is too long ({len(text)} characters, at most {max_len})")
            return None
        return text

    def integer(self, node: yaml.Node, what: str, low: int, high: int) -> int | None:
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(node, f"{what} must be a whole number, not {describe(node)}")
            return None
        if not low <= value <= high:
            self.error(node, f"{what} must be between {low:,} and {high:,}, not {value:,}")
            return None
        return value

    def number(self, node: yaml.Node, what: str, low: float, high: float) -> float | None:
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(node, f"{what} must be a number, not {describe(node)}")
            return None
        if not low <= value <= high:
            self.error(node, f"{what} must be between {low} and {high}, not {value}")
            return None
        return float(value)

    def boolean(self, node: yaml.Node, what: str) -> bool | None:
        value = self.value(node)
        if not isinstance(value, bool):
            self.error(node, f"{what} must be true or false, not {describe(node)}")
            return None
        return value

    def duration(self, node: yaml.Node, what: str, minimum_ms: int, maximum_ms: int) -> int | None:
        value = self.value(node)
        if isinstance(value, _NotScalar):
            self.error(node, f"{what} must be a duration such as 45s, 2m, 1m30s or 1:30, not {describe(node)}")
            return None
        try:
            ms = parse_duration(value)
        except ValueError as exc:
            self.error(node, f"{what}: {exc}")
            return None
        if ms < minimum_ms:
            low = "more than zero" if minimum_ms <= 1 else f"at least {minimum_ms / 1000:g}s"
            self.error(node, f"{what} must be {low}, not {value}")
            return None
        if ms > maximum_ms:
            self.error(node, f"{what} is too long ({value}); at most {maximum_ms // 3_600_000} hours")
            return None
        return ms

    def sequence(self, node: yaml.Node, what: str, max_items: int) -> list[yaml.Node] | None:
        self._visit(node)
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, f"{what} must be a list (lines starting with `- `), not {describe(node)}")
            return None
        if len(node.value) > max_items:
            self.error(node, f"{what} has {len(node.value):,} items; at most {max_items:,}")
            return None
        return list(node.value)

    def each(self, nodes: list[yaml.Node]) -> Iterator[yaml.Node]:
        for node in nodes:
            self._visit(node)
            yield node


class _NotScalar:
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


def describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    tag = node.tag.rsplit(":", 1)[-1]
    if tag == "null":
        return "empty"
    names = {"str": "text", "int": "a whole number", "float": "a number", "bool": "true/false"}
    return f"{names.get(tag, tag)} {node.value!r}"


def read_text(path: Path) -> str:
    """A routine file's text, or a RoutineError saying why it cannot be read."""
    file = str(path)
    if not path.exists():
        raise RoutineError("no such file", file)
    if path.is_dir():
        raise RoutineError("is a folder, not a routine file", file)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise RoutineError(f"file is too large for a routine ({size:,} bytes; at most {MAX_FILE_BYTES:,})", file)
        data = path.read_bytes()
    except OSError as exc:
        raise RoutineError(f"cannot read file: {exc.strerror}", file) from None
    if b"\x00" in data:
        raise RoutineError("not a text file (it contains binary data)", file, hint="a routine is a YAML text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RoutineError("not UTF-8 text", file, line, "save the file as UTF-8") from None


def compose(text: str, file: str) -> yaml.Node:
    """The document's root node; syntax errors become located RoutineErrors."""
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise RoutineError("file is empty", file, hint="a routine needs at least `title:` and `blocks:`")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        problem = exc.problem or str(exc)
        if "expected a single document" in str(exc.context or ""):
            problem = "more than one YAML document (`---`) in the file"
        raise RoutineError(f"YAML syntax error: {problem}", file, line, _syntax_hint(problem)) from None
    except yaml.YAMLError as exc:
        raise RoutineError(f"YAML error: {exc}", file) from None
    if node is None:
        raise RoutineError("file is empty", file)
    return node


def _syntax_hint(problem: str) -> str:
    if "tab" in problem or "'\\t'" in problem:
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in problem:
        return "quote text that contains `: `"
    if "found character" in problem and "cannot start any token" in problem:
        return "quote values that start with special characters"
    return ""


