"""Located YAML reading: safe_load semantics, every value with its line, errors collected.

YAML is composed into nodes (never expanded by PyYAML), then walked here with a budget, so an
alias bomb is rejected after a bounded amount of work instead of eating memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import yaml

from coach.errors import RoutineError, RoutineErrors, suggest
from coach.files import TooLarge, read_bounded
from coach.routine.durations import format_clock, parse_duration

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 100_000
MAX_DEPTH = 100  # nesting levels; a routine uses fewer than 10
MAX_ERRORS = 20  # reported at once; reading stops at the next one, so a bad file costs little
MERGE = "tag:yaml.org,2002:merge"


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
        if len(self.errors) > MAX_ERRORS:
            self.raise_errors()

    def raise_errors(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise RoutineErrors(self.errors[:MAX_ERRORS])

    def _visit(self, node: yaml.Node, count: int = 1) -> None:
        self._visits += count
        if self._visits > MAX_NODES:
            raise RoutineError(
                "document too large: more than 100,000 values after expanding aliases",
                self.file,
                node.start_mark.line + 1,
                "a YAML alias bomb? write the routine out plainly",
            )

    def _merge(self, node: yaml.MappingNode) -> bool:
        """Apply `<<` merge keys in place, as safe_load does; False (error reported) if they are bad.

        Merging copies entries, and a merge of merges doubles them at every level: the merged size
        is counted first, against the node budget, so a merge-key bomb costs nothing to reject.
        """
        if not any(k.tag == MERGE for k, _ in node.value):
            return True
        try:
            self._visit(node, _merged_size(node, MAX_NODES - self._visits + 1))
            self._constructor.flatten_mapping(node)
        except yaml.MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark else node.start_mark.line + 1
            problem = (exc.problem or "").split(", but found")[0]
            self.errors.append(RoutineError(f"bad `<<` merge: {problem}", self.file, line, "`<<` takes a mapping or a list of mappings"))
            return False
        except RecursionError:
            self.error(node, "a `<<` merge includes the mapping it is in", "merge other mappings only")
            return False
        return True

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
        if not self._merge(node):
            return None
        out: dict[str, yaml.Node] = {}
        seen: dict[str, yaml.Node] = {}
        unknown: set[str] = set()
        for key_node, value_node in node.value:
            self._visit(key_node)
            if not isinstance(key_node, yaml.ScalarNode):
                self.error(key_node, f"{what}: keys must be plain words")
                continue
            key = str(key_node.value)
            if id(key_node) in own:
                if key in seen:
                    first = seen[key].start_mark.line + 1
                    self.error(key_node, f"duplicate key `{short(key, quote=False)}` in {what}", f"first given on line {first}")
                    continue
                seen[key] = key_node
            if key not in allowed:
                if key not in unknown:  # once: merges can bring the same key in many times
                    unknown.add(key)
                    hint = suggest(key, allowed) or f"allowed: {', '.join(allowed)}"
                    self.error(key_node, f"unknown key `{short(key, quote=False)}` in {what}", hint)
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
            self.error(node, f"cannot read value {short(node.value)}: {exc.problem if hasattr(exc, 'problem') else exc}")
            return _NotScalar(node)
        except ValueError:  # an integer of thousands of digits: Python refuses to convert it
            self.error(node, f"cannot read value {short(node.value)}: the number is far too long")
            return _NotScalar(node)

    def string(self, node: yaml.Node, what: str, allow_empty: bool = False, max_len: int = 500) -> str | None:
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.error(node, f"{what} must be text, not {describe(node)}")
            return None
        # A name written 007 or 1:30 means those characters, not YAML 1.1's number 7 or 90.
        text = (node.value if isinstance(value, (int, float)) else value).strip()
        bad = _UNPRINTABLE.search(text)
        if bad:
            char = "a lone surrogate" if 0xD800 <= ord(bad.group()) <= 0xDFFF else f"control character {bad.group()!r}"
            self.error(node, f"{what} contains {char}", "write plain text: no escape sequences or binary data")
            return None
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
        if _yaml11_number(node):
            self.error(node, f"{what} `{node.value}` is read by YAML as {value}", f"write it as {value} if that is meant")
            return None
        if not low <= value <= high:
            self.error(node, f"{what} must be between {low:,} and {high:,}, not {short(value)}")
            return None
        return value

    def number(self, node: yaml.Node, what: str, low: float, high: float) -> float | None:
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(node, f"{what} must be a number, not {describe(node)}")
            return None
        if not low <= value <= high:
            self.error(node, f"{what} must be between {low} and {high}, not {short(value)}")
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
        kind = _yaml11_number(node)
        if kind == "clock":
            value = node.value  # 1:30 as written (YAML 1.1 reads a base-60 number, 90)
        elif kind:
            self.error(node, f"{what} `{node.value}` is read by YAML as the {kind} number {value}",
                       f"write {value}s if that is meant" + (f", or {int(node.value)}s" if kind == "octal" else ""))
            return None
        try:
            ms = parse_duration(value)
        except ValueError as exc:
            self.error(node, f"{what}: {exc}")
            return None
        if ms < minimum_ms:
            low = "more than zero" if minimum_ms <= 1 else f"at least {minimum_ms / 1000:g}s"
            self.error(node, f"{what} must be {low}, not {short(value)}")
            return None
        if ms > maximum_ms:
            clock = short(format_clock(ms), quote=False)
            self.error(node, f"{what} is too long ({short(value)}, {clock}); at most {maximum_ms // 3_600_000} hours")
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

    def templates(self, node: yaml.Node, what: str) -> tuple[str, ...] | None:
        """A cue's wording: a template, a list of alternatives, or null (silence), as a tuple of
        alternatives (a routine's `cues:` and a phrasebook's read alike)."""
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
            return ()
        if isinstance(node, yaml.SequenceNode):
            items = self.sequence(node, what, max_items=100) or []
            texts = [self.string(item, what, max_len=500) for item in self.each(items)]
            if not items:
                self.error(node, f"{what} is an empty list", "use null to silence a cue kind")
                return None
            return tuple(t for t in texts if t is not None) if all(t is not None for t in texts) else None
        text = self.string(node, what, max_len=500)
        return (text,) if text is not None else None

    def each(self, nodes: list[yaml.Node]) -> Iterator[yaml.Node]:
        for node in nodes:
            self._visit(node)
            yield node


# Characters that must not reach a terminal, a tag or a file name: controls other than tab and
# line breaks (an escape sequence starts with one), and lone surrogates (no encoding takes them).
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_OCTAL = re.compile(r"[-+]?0[0-7_]+")
_OTHER_BASE = {"hexadecimal": re.compile(r"[-+]?0x[0-9a-fA-F_]+"), "binary": re.compile(r"[-+]?0b[01_]+")}
_CLOCK = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")


def _yaml11_number(node: yaml.Node) -> str:
    """Which YAML 1.1 surprise a plain scalar read as a number is: "octal" (045 is 37),
    "hexadecimal", "binary", "clock" (1:30 is 90), or "" for none."""
    if not isinstance(node, yaml.ScalarNode) or node.style is not None or not node.tag.endswith((":int", ":float")):
        return ""
    if _OCTAL.fullmatch(node.value):
        return "octal"
    for kind, pattern in _OTHER_BASE.items():
        if pattern.fullmatch(node.value):
            return kind
    return "clock" if _CLOCK.fullmatch(node.value) else ""


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
    return f"{names.get(tag, tag)} {short(node.value)}"


def short(value: object, limit: int = 40, quote: bool = True) -> str:
    """A value for an error message, cut short so the message stays one line; text is quoted."""
    if isinstance(value, int) and value.bit_length() > 3 * limit:
        return f"a number of over {value.bit_length() * 3 // 10} digits"  # str() refuses 4,300+ digits
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return repr(text) if quote and isinstance(value, str) else text


def _merged_size(node: yaml.MappingNode, budget: int) -> int:
    """How many entries `node` has once its `<<` merges are applied (counting stops past `budget`)."""
    sizes: dict[int, int] = {}

    def size(mapping: yaml.Node) -> int:
        if not isinstance(mapping, yaml.MappingNode):
            return 0
        if id(mapping) not in sizes:
            sizes[id(mapping)] = 0  # a mapping merged into itself adds nothing more
            total = 0
            for key, value in mapping.value:
                if key.tag != MERGE:
                    total += 1
                elif isinstance(value, yaml.SequenceNode):
                    total += sum(size(sub) for sub in value.value)
                else:
                    total += size(value)
                if total > budget:
                    break
            sizes[id(mapping)] = total
        return sizes[id(mapping)]

    return size(node)


def read_text(path: Path) -> str:
    """A routine file's text, or a RoutineError saying why it cannot be read. At most
    MAX_FILE_BYTES are read whatever the file is (a pipe, a FIFO and /dev/zero have no size)."""
    file = str(path)
    if not path.exists():
        raise RoutineError("no such file", file)
    if path.is_dir():
        raise RoutineError("is a folder, not a routine file", file)
    try:
        data = read_bounded(path, MAX_FILE_BYTES)
    except TooLarge:
        raise RoutineError(f"file is too large for a routine (over {MAX_FILE_BYTES:,} bytes)", file) from None
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
    _check_depth(text, file)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise RoutineError("values nested too deeply", file, hint="a routine needs only a few levels of indentation") from None
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


_BRACKET = re.compile(r"[\[\]{}]")
_ITEM_MARKS = re.compile(r"(?:[-?](?: +|$))*")  # `- - x`: compact nested lists


def _check_depth(text: str, file: str) -> None:
    """Reject deep nesting before PyYAML sees it: its scanner slows quadratically with depth.

    An upper bound is enough: brackets inside quoted text count too, and indentation levels are
    counted line by line; no real routine comes near the limit either way.
    """
    depth = 0
    for match in _BRACKET.finditer(text):
        depth = depth + 1 if match.group() in "[{" else max(0, depth - 1)
        if depth > MAX_DEPTH:
            _too_deep(file, text.count("\n", 0, match.start()) + 1)
    indents: list[int] = []
    for number, line in enumerate(text.splitlines(), 1):
        body = line.lstrip(" ")
        if not body or body.startswith("#"):
            continue
        indent = len(line) - len(body)
        while indents and indents[-1] > indent:
            indents.pop()
        if not indents or indents[-1] < indent:
            indents.append(indent)
        marks = _ITEM_MARKS.match(body).group()  # type: ignore[union-attr]  # matches even nothing
        if len(indents) + marks.count("-") + marks.count("?") > MAX_DEPTH:
            _too_deep(file, number)


def _too_deep(file: str, line: int) -> NoReturn:
    raise RoutineError(f"values nested over {MAX_DEPTH} levels deep", file, line, "a routine needs only a few levels of indentation")


def _syntax_hint(problem: str) -> str:
    if "tab" in problem or "'\\t'" in problem:
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in problem:
        return "quote text that contains `: `"
    if "found character" in problem and "cannot start any token" in problem:
        return "quote values that start with special characters"
    return ""


