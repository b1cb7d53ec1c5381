"""Fuzzing: generated and mutated routines either work or fail with a CoachError, nothing else.

Valid routines are generated, then mutated the ways files really go wrong (keys deleted,
duplicated, renamed or given values of the wrong type, bytes damaged, the file cut short) and the
ways hostile files are built (deep nesting, huge numbers, alias and merge-key chains). Each goes
through load, compile and script (fake engine): it must work, or raise a CoachError with a short
message. A watchdog turns a hang into a failure; hypothesis' deadline flags one slow example.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from coach.errors import CoachError
from coach.routine import loader
from coach.routine.wording import PLACEHOLDERS
from coach.session import Session, SpeechOptions, prepare
from coach.speech.fake import FakeEngine

FAKE = FakeEngine()
OPTIONS = SpeechOptions(engine="fake", no_cache=True, jobs=1)
HANG_S = 60  # far beyond any example (the slowest valid routine takes about a second)
ABSURD_RSS_GROWTH_KB = 1_000_000  # ru_maxrss is in KiB on Linux

SCALE = float(os.environ.get("COACH_FUZZ_SCALE", "1"))  # e.g. 10 for a long local hunt


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=timedelta(seconds=10),  # generous: the machine running CI is shared and noisy
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


# ---- running one routine -----------------------------------------------------------

@contextmanager
def watchdog(seconds: int = HANG_S) -> Iterator[None]:
    """Raise TimeoutError in the test if the block runs for `seconds` (a hang, not slowness)."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"no result after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_message(exc: CoachError) -> None:
    """What the CLI prints: at most 20 lines (one per problem), none of them a wall of text."""
    lines = str(exc).splitlines()
    assert lines and len(lines) <= 20, lines
    assert all(0 < len(line) <= 1000 for line in lines), [len(line) for line in lines]


def check_session(session: Session) -> None:
    data = json.loads(json.dumps(session.to_json(), ensure_ascii=False))
    cues = data["cues"]
    assert all(0 <= c["start_ms"] < c["end_ms"] <= data["duration_ms"] for c in cues)
    assert all(a["end_ms"] <= b["start_ms"] for a, b in zip(cues, cues[1:]))
    segments = data["segments"]
    assert all(a["end_ms"] == b["start_ms"] for a, b in zip(segments, segments[1:]))
    for cue in session.cues:  # what `coach script` shows beside each cue
        assert session.timeline.segment_at(cue.start_ms).label()


def run(text: str | None = None, path: Path | None = None) -> str:
    """Load (from text, or a file for raw bytes), compile and script one routine: 'ok' or 'rejected'."""
    with watchdog():
        try:
            routine = loader.parse(text, "fuzz.yaml") if path is None else loader.load(path)
            session = prepare(routine, OPTIONS, engine=FAKE)
        except CoachError as exc:
            check_message(exc)
            return "rejected"
    check_session(session)
    return "ok"


# ---- valid routines ----------------------------------------------------------------

WORDS = ["Plank", "Squat", "bear", "hip hinge", "left", "Ready", "now", "and", "Señor", "über", "日本", "!", "x"]
names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=24
).filter(lambda s: s.strip() != "") | st.sampled_from(WORDS)
seconds = st.integers(1, 90)
durations = st.one_of(
    seconds,
    seconds.map(lambda s: f"{s}s"),
    seconds.map(lambda s: s + 0.5),
    st.integers(1, 179).map(lambda s: f"{s // 60}:{s % 60:02d}"),
    st.sampled_from(["1m30s", "2m", "1min", "0.5m", "45 s", "1m"]),
)
rests = st.one_of(st.just(0), durations)


def templates(kind: str) -> st.SearchStrategy[Any]:
    pieces = st.sampled_from(WORDS) | st.sampled_from(["{" + p + "}" for p in PLACEHOLDERS[kind]])
    template = st.lists(pieces, min_size=1, max_size=5).map(" ".join)
    return st.one_of(template, st.lists(template, min_size=1, max_size=3), st.none())


def cue_maps() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={kind: templates(kind) for kind in PLACEHOLDERS})


exercises = st.one_of(
    names,  # `- Plank` shorthand
    st.fixed_dictionaries(
        {"name": names},
        optional={
            "rest": rests, "sides": st.booleans(), "switch": rests,
            "tips": st.lists(names.filter(lambda s: any(c.isalnum() for c in s)), max_size=3),  # words to say
            "cues": cue_maps(),
        },
    ).flatmap(
        lambda ex: st.one_of(
            st.just(ex),
            durations.map(lambda w: {**ex, "work": w}),
            st.tuples(st.integers(1, 12), st.sampled_from([None, "1s", "2s", 0.5, "1.5s"])).map(
                lambda rt: {**ex, "reps": rt[0], **({"tempo": rt[1]} if rt[1] else {})}
            ),
        )
    ),
)
blocks = st.fixed_dictionaries(
    {"name": names, "exercises": st.lists(exercises, min_size=1, max_size=4)},
    optional={"rounds": st.integers(1, 3), "round_rest": rests},
)
routines = st.fixed_dictionaries(
    {"title": names, "blocks": st.lists(blocks, min_size=1, max_size=3)},
    optional={
        "description": names, "coach": names, "language": st.just("en"),
        "voice": st.one_of(
            st.sampled_from(["en-us", "Fake English"]),
            st.fixed_dictionaries({}, optional={"rate": st.integers(50, 500), "volume": st.floats(0, 1), "name": st.just("en")}),
        ),
        "defaults": st.fixed_dictionaries({}, optional={"work": durations, "rest": rests, "switch": rests, "tempo": st.just("2s")}),
        "cues": cue_maps(), "lead_in": rests, "outro": rests,
    },
)


def dump(routine: dict[str, Any]) -> str:
    return yaml.safe_dump(routine, sort_keys=False, allow_unicode=True, width=1000)


# ---- mutations -----------------------------------------------------------------------

def slots(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every value in a nested dict/list, the root excluded."""
    out: list[tuple[Any, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        out.append(path + (key,))
        out.extend(slots(value, path + (key,)))
    return out


def parent_of(root: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        root = root[key]
    return root


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


junk = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(10**15, 10**40), st.integers(-10**6, 0),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30), st.binary(max_size=8),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.integers(1, 60).map(nested), st.sampled_from(["", " ", "{", "{exercise", "{nope}", "-5s", "1:3", "soon", "99999h"]),
)
key_names = st.sampled_from(["wrok", "Name", "exercise", "", "<<", "1", "title", "blocks", "reps", "work", "cues"]) | st.text(max_size=12)
tree_edits = st.one_of(
    st.tuples(st.just("delete"), st.integers(0, 10**6)),
    st.tuples(st.just("retype"), st.integers(0, 10**6), junk),
    st.tuples(st.just("rename"), st.integers(0, 10**6), key_names),
    st.tuples(st.just("copy"), st.integers(0, 10**6), st.integers(0, 10**6)),
)


def edit_tree(routine: dict[str, Any], edit: tuple[Any, ...]) -> None:
    paths = slots(routine)
    if not paths:
        return
    path = paths[edit[1] % len(paths)]
    parent, key = parent_of(routine, path), path[-1]
    if edit[0] == "delete":
        del parent[key]
    elif edit[0] == "retype":
        parent[key] = edit[2]
    elif edit[0] == "rename" and isinstance(parent, dict) and edit[2] not in parent:
        parent[edit[2]] = parent.pop(key)
    elif edit[0] == "copy":
        source = paths[edit[2] % len(paths)]
        if source[: len(path)] != path:  # not a value into itself
            parent[key] = json.loads(json.dumps(parent_of(routine, source)[source[-1]], default=str))


def alias_chain(levels: int, width: int, merge: bool) -> str:
    """Anchors each repeating the one before `width` times: list aliases, or `<<` merge keys."""
    lines = ["x_anchors:", "  a0: &a0 {k: v}" if merge else "  a0: &a0 [Plank]"]
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * width)
        lines.append(f"  a{i}: &a{i} {{<<: [{refs}], k{i}: v}}" if merge else f"  a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


text_edits = st.one_of(
    st.tuples(st.just("bytes"), st.integers(0, 10**6), st.binary(min_size=1, max_size=12)),
    st.tuples(st.just("cut"), st.integers(0, 10**6)),
    st.tuples(st.just("dup_line"), st.integers(0, 10**6)),
    st.tuples(st.just("value"), st.integers(0, 10**6), st.one_of(
        st.integers(1, 6000).map(lambda n: "9" * n),
        st.sampled_from(["1e308", "-1e308", ".inf", ".nan", "1e400s", "0x7fffffffffffffff", "0o777", "!!binary AAAA",
                         "!!python/object:os.system x", "!foo x", "2001-12-14", "&a [*a]", "*missing", "'", "\"\\x00\"",
                         "|\n  multi\n  line", "{a: 1, a: 2}", "[", "}", "\t", "null", "~", "yes", "0:60", "12:00:00"]),
        st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
        st.integers(1, 2000).map(lambda n: "{a: " * n + "1" + "}" * n),
    )),
    st.tuples(st.just("aliases"), st.integers(1, 40), st.integers(1, 12), st.booleans(), st.integers(0, 10**6)),
)


def edit_text(data: bytes, edit: tuple[Any, ...]) -> bytes:
    at = edit[1] % (len(data) + 1)
    if edit[0] == "bytes":
        return data[:at] + edit[2] + data[at + len(edit[2]) // 2 :]
    if edit[0] == "cut":
        return data[:at]
    lines = data.split(b"\n")
    n = edit[1] % len(lines)
    if edit[0] == "dup_line":
        return b"\n".join(lines[: n + 1] + lines[n:])
    if edit[0] == "value":
        head, sep, _ = lines[n].partition(b": ")
        lines[n] = head + b": " + edit[2].encode() if sep else lines[n] + b" " + edit[2].encode()
        return b"\n".join(lines)
    _, levels, width, merge, where = edit
    chain = alias_chain(levels, width, merge).encode()
    n = where % len(lines)
    head, sep, _ = lines[n].partition(b": ")
    ref = f"*a{levels - 1}".encode()
    lines[n] = head + b": " + ref if sep else (b"<<: " + ref if merge else lines[n])
    return chain + b"\n".join(lines)


# ---- the properties -------------------------------------------------------------------

@fuzz(300)
@given(routines)
def test_generated_valid_routines_load_compile_and_script(routine: dict[str, Any]) -> None:
    assert run(dump(routine)) == "ok"


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def baseline_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@fuzz(1000)
@given(routines, st.lists(tree_edits, min_size=1, max_size=3), st.lists(text_edits, max_size=2))
def test_mutated_routines_work_or_fail_cleanly(
    fuzz_dir: Path, baseline_rss: int, routine: dict[str, Any], edits: list[tuple[Any, ...]], damage: list[tuple[Any, ...]]
) -> None:
    for edit in edits:
        edit_tree(routine, edit)
    try:
        data = dump(routine).encode("utf-8")
    except ValueError:  # an integer too long for str(): the text edits below write those
        return
    for edit in damage:
        data = edit_text(data, edit)
    path = fuzz_dir / "routine.yaml"
    path.write_bytes(data)
    outcome = run(path=path)
    event(outcome)  # --hypothesis-show-statistics: how many got through to compile and script
    assert outcome in ("ok", "rejected")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline_rss < ABSURD_RSS_GROWTH_KB


@fuzz(1000)
@given(st.binary(max_size=400) | st.text(max_size=400).map(lambda t: t.encode("utf-8")))
def test_random_bytes_fail_cleanly(fuzz_dir: Path, data: bytes) -> None:
    path = fuzz_dir / "noise.yaml"
    path.write_bytes(data)
    outcome = run(path=path)
    event(outcome)
    assert outcome in ("ok", "rejected")


# ---- hostile files, one by one, with their memory measured -------------------------------

GOOD = "title: T\nblocks:\n  - name: B\n    exercises:\n      - name: X\n        work: {}\n"
HOSTILE = {
    "list alias bomb": alias_chain(12, 10, merge=False) + GOOD.format("30s").replace("work: 30s", "tips: *a11"),
    "merge-key bomb": alias_chain(40, 2, merge=True) + GOOD.format("30s").replace("work: 30s", "<<: *a39"),
    "merge of itself": "title: T\nblocks: [{name: B, exercises: [&e {name: X, <<: *e}]}]\n",
    "recursive list": "title: &t [*t]\nblocks: [X]\n",
    "merge of a number": "title: T\n<<: 5\nblocks: [{name: B, exercises: [X]}]\n",
    "nested lists": GOOD.format("[" * 5000 + "]" * 5000),
    "nested mappings": GOOD.format("{a: " * 3000 + "1" + "}" * 3000),
    "nested block mappings": "title: T\nblocks:\n" + "".join("  " * i + "  k:\n" for i in range(2000)),
    "5000-digit number": GOOD.format("9" * 5000),
    "5000-digit rounds": GOOD.format("30s").replace("  - name: B\n", "  - name: B\n    rounds: " + "9" * 5000 + "\n"),
    "float overflow": GOOD.format("1e308"),
    "text overflow": GOOD.format("'" + "9" * 400 + "h'"),
    "infinity": GOOD.format(".inf"),
    "not a number": GOOD.format(".nan"),
    "thousands of unknown keys": "title: T\nblocks: [X]\n" + "".join(f"k{i}: {i}\n" for i in range(5000)),
    "long key": "title: T\n" + "k" * 500_000 + ": 1\nblocks: [X]\n",
    "long value": GOOD.format("'" + "1" * 500_000 + "'"),
    "12 hours of reps": GOOD.format("1s").replace("work: 1s", "reps: 10000\n        tempo: 4.32s"),
    "1000 rounds": GOOD.format("30s").replace("  - name: B\n", "  - name: B\n    rounds: 1000\n"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_routine_is_cheap(name: str) -> None:
    tracemalloc.start()
    try:
        outcome = run(HOSTILE[name])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert outcome == "rejected" or name in ("12 hours of reps", "1000 rounds")
    assert peak < 150_000_000, f"{name}: {peak / 1e6:.0f} MB"
