"""Routine YAML -> Routine. Strict: unknown keys, wrong types and bad templates are located errors."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from types import MappingProxyType

import yaml

from coach.defaults import ROUTINE
from coach.errors import RoutineError
from coach.routine.model import Block, Exercise, Routine, Templates, Voice
from coach.routine.wording import CUE_KINDS, check_template
from coach.routine.yamlnodes import Doc, compose, read_text, short

HOUR_MS = 3_600_000
MAX_SESSION_MS = 12 * HOUR_MS
MAX_ROUNDS = 1000
MAX_REPS = 10_000
MAX_SEGMENTS = 20_000

TOP_KEYS = ("title", "description", "coach", "language", "voice", "defaults", "cues", "blocks", "lead_in", "outro")
DEFAULT_KEYS = ("work", "rest", "switch", "tempo")
BLOCK_KEYS = ("name", "rounds", "round_rest", "exercises")
EXERCISE_KEYS = ("name", "work", "reps", "tempo", "rest", "sides", "switch", "setup", "tips", "cues")
SIDES = ("left", "right")
# A rep in phases, as strength coaches write tempo: seconds down-hold-up (3-1-1), or down-up.
_PHASES = re.compile(r"\d+(\.\d+)?(-\d+(\.\d+)?){1,2}")
VOICE_KEYS = ("name", "rate", "volume")

BUILTIN_DEFAULTS = {"work": 30_000, "rest": 10_000, "switch": 5_000, "tempo": 3_000}


def builtin_names() -> list[str]:
    folder = resources.files("coach.routine") / "routines"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def resolve(source: str | Path | None) -> tuple[str, str]:
    """(display name, text) of a routine file path or a built-in routine name (default: lower-back)."""
    if source is None:
        source = ROUTINE
    path = Path(source)
    if not path.exists() and str(source) in builtin_names():
        text = (resources.files("coach.routine") / "routines" / f"{source}.yaml").read_text(encoding="utf-8")
        return f"{source} (built-in)", text
    if not path.exists() and path.suffix == "" and "/" not in str(source):
        raise RoutineError(
            "no such file or built-in routine", str(source), hint=f"built-in routines: {', '.join(builtin_names())}"
        )
    return str(source), read_text(path)


def voice_language(voice: str | None) -> str:
    """The built-in wording language a voice name speaks (`es` for es-419, `en` for en-us), or ''."""
    match = re.fullmatch(r"([A-Za-z]{2,3})([-_][A-Za-z0-9]{2,8})*", (voice or "").strip())
    if not match:
        return ""
    base = match.group(1).lower()
    folder = resources.files("coach.routine") / "phrases"
    return base if (folder / f"{base}.yaml").is_file() else ""


def load(source: str | Path | None = None) -> Routine:
    """Load and validate a routine file, or a built-in routine by name."""
    file, text = resolve(source)
    return parse(text, file)


def parse(text: str, file: str = "<routine>") -> Routine:
    doc = Doc(file)
    root = compose(text, file)
    routine = _routine(doc, root)
    doc.raise_errors()
    assert routine is not None
    _check_size(routine, file)
    return routine


def _routine(doc: Doc, root: yaml.Node) -> Routine | None:
    keys = doc.mapping(root, "the routine", TOP_KEYS, required=("title", "blocks"))
    if keys is None:
        return None
    title = doc.string(keys["title"], "`title`", max_len=200) if "title" in keys else None
    description = doc.string(keys["description"], "`description`", allow_empty=True, max_len=5000) if "description" in keys else ""
    coach = doc.string(keys["coach"], "`coach`", max_len=200) if "coach" in keys else ""
    voice = _voice(doc, keys["voice"]) if "voice" in keys else Voice()
    language = doc.string(keys["language"], "`language`", max_len=20) if "language" in keys else voice_language(voice.name) or "en"
    defaults = _defaults(doc, keys["defaults"]) if "defaults" in keys else dict(BUILTIN_DEFAULTS)
    cues, cue_lines = _cues(doc, keys["cues"], "`cues`") if "cues" in keys else (MappingProxyType({}), {})
    lead_in = doc.duration(keys["lead_in"], "`lead_in`", 0, HOUR_MS) if "lead_in" in keys else 15_000
    outro = doc.duration(keys["outro"], "`outro`", 0, HOUR_MS) if "outro" in keys else 10_000
    blocks: list[Block] = []
    if "blocks" in keys:
        items = doc.sequence(keys["blocks"], "`blocks`", max_items=1000)
        if items is not None and not items:
            doc.error(keys["blocks"], "`blocks` is empty; a routine needs at least one block")
        for i, node in enumerate(doc.each(items or []), 1):
            block = _block(doc, node, i, defaults)
            if block is not None:
                blocks.append(block)
    if doc.errors or title is None:
        return None
    return Routine(
        title=title,
        blocks=tuple(blocks),
        description=description or "",
        coach=coach or "",
        language=language or "en",
        voice=voice,
        cues=cues,
        lead_in_ms=lead_in if lead_in is not None else 15_000,
        outro_ms=outro if outro is not None else 10_000,
        source=doc.file,
        cue_lines=MappingProxyType(cue_lines),
    )


def _voice(doc: Doc, node: yaml.Node) -> Voice:
    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":str"):
        return Voice(name=doc.string(node, "`voice`"))
    keys = doc.mapping(node, "`voice`", VOICE_KEYS) or {}
    return Voice(
        name=doc.string(keys["name"], "`voice.name`") if "name" in keys else None,
        rate=doc.integer(keys["rate"], "`voice.rate` (words per minute)", 50, 500) if "rate" in keys else None,
        volume=doc.number(keys["volume"], "`voice.volume`", 0.0, 1.0) if "volume" in keys else None,
    )


def _defaults(doc: Doc, node: yaml.Node) -> dict[str, int]:
    keys = doc.mapping(node, "`defaults`", DEFAULT_KEYS) or {}
    out = dict(BUILTIN_DEFAULTS)
    minimum = {"work": 1000, "rest": 0, "switch": 0, "tempo": 500}
    for key, value_node in keys.items():
        ms = doc.duration(value_node, f"`defaults.{key}`", minimum[key], HOUR_MS)
        if ms is not None:
            out[key] = ms
    return out


def _cues(doc: Doc, node: yaml.Node, what: str) -> tuple[Templates, dict[str, int]]:
    keys = doc.mapping(node, what, CUE_KINDS)
    out: dict[str, tuple[str, ...]] = {}
    lines: dict[str, int] = {}
    for kind, value_node in (keys or {}).items():
        templates = doc.templates(value_node, f"{what}.{kind}")
        if templates is None:
            continue
        for template in templates:
            try:
                check_template(kind, template, doc.file, value_node.start_mark.line + 1)
            except RoutineError as exc:
                doc.errors.append(exc)
        out[kind] = templates
        lines[kind] = value_node.start_mark.line + 1
    return MappingProxyType(out), lines


def _block(doc: Doc, node: yaml.Node, index: int, defaults: dict[str, int]) -> Block | None:
    keys = doc.mapping(node, f"block {index}", BLOCK_KEYS, required=("name", "exercises"))
    if keys is None:
        return None
    name = doc.string(keys["name"], f"block {index} `name`", max_len=200) if "name" in keys else None
    rounds = doc.integer(keys["rounds"], f"block {index} `rounds`", 1, MAX_ROUNDS) if "rounds" in keys else 1
    round_rest = doc.duration(keys["round_rest"], f"block {index} `round_rest`", 0, HOUR_MS) if "round_rest" in keys else 0
    exercises: list[Exercise] = []
    if "exercises" in keys:
        items = doc.sequence(keys["exercises"], f"block {index} `exercises`", max_items=1000)
        if items is not None and not items:
            doc.error(keys["exercises"], f"block {index} `exercises` is empty; it needs at least one exercise")
        for j, item in enumerate(doc.each(items or []), 1):
            exercise = _exercise(doc, item, f"exercise {j} of block {index}", defaults)
            if exercise is not None:
                exercises.append(exercise)
    if name is None or rounds is None or round_rest is None or not exercises:
        return None
    return Block(name, tuple(exercises), rounds, round_rest, node.start_mark.line + 1)


def _name_in(node: yaml.Node) -> str | None:
    """The `name` a mapping gives itself, if it is plain text: to say which exercise an error is in."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if (isinstance(key, yaml.ScalarNode) and key.value == "name" and isinstance(value, yaml.ScalarNode)
                    and value.tag.endswith(":str")):
                text = " ".join(str(value.value).split())
                return text[:60] if text else None
    return None


def _exercise(doc: Doc, node: yaml.Node, what: str, defaults: dict[str, int]) -> Exercise | None:
    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":str"):
        keys: dict[str, yaml.Node] | None = {"name": node}  # `- Plank` is shorthand for `- name: Plank`
    else:
        named = _name_in(node)
        where = what.partition(" of ")[2]  # "block N"
        heading = (f"exercise `{named}` of {where}" if where else f"exercise `{named}`") if named else what
        keys = doc.mapping(node, heading, EXERCISE_KEYS, required=("name",))
    if keys is None:
        return None
    name = doc.string(keys["name"], f"{what} `name`", max_len=200) if "name" in keys else None
    label = f"exercise `{name}`" if name else what
    if "work" in keys and "reps" in keys:
        doc.error(keys["reps"], f"{label} has both `work` and `reps`", "give a time (`work`) or a rep count (`reps`), not both")
        return None
    phases = _tempo_phases(doc, keys["tempo"], label) if "tempo" in keys else ()
    if phases:
        tempo: int | None = sum(phases)
    else:
        tempo = doc.duration(keys["tempo"], f"{label}: `tempo`", 500, 600_000) if "tempo" in keys else defaults["tempo"]
    reps = doc.integer(keys["reps"], f"{label}: `reps`", 1, MAX_REPS) if "reps" in keys else None
    if "reps" in keys:
        work = reps * tempo if reps is not None and tempo is not None else None
        if work is not None and work > 12 * HOUR_MS:
            doc.error(keys["reps"], f"{label}: {reps} reps at {(tempo or 0) / 1000:g}s each is over 12 hours")
            work = None
    elif "work" in keys:
        work = doc.duration(keys["work"], f"{label}: `work`", 1000, 12 * HOUR_MS)
    else:
        work = defaults["work"]
    rest = doc.duration(keys["rest"], f"{label}: `rest`", 0, HOUR_MS) if "rest" in keys else defaults["rest"]
    switch = doc.duration(keys["switch"], f"{label}: `switch`", 0, HOUR_MS) if "switch" in keys else defaults["switch"]
    sides, first_side = _sides(doc, keys["sides"], label) if "sides" in keys else (False, "left")
    setup = doc.string(keys["setup"], f"{label}: `setup`", max_len=500) if "setup" in keys else ""
    tips: list[str] = []
    if "tips" in keys:
        tip_node = keys["tips"]
        if isinstance(tip_node, yaml.ScalarNode) and tip_node.tag.endswith(":str"):
            items = [tip_node]
        else:
            items = doc.sequence(tip_node, f"{label}: `tips`", max_items=100) or []
        for item in doc.each(items):
            tip = doc.string(item, f"{label}: tip", max_len=500)
            if tip is not None and not any(c.isalnum() for c in tip):
                doc.error(item, f"{label}: tip {tip!r} has no words to say", "write the tip in words, or leave it out")
            elif tip is not None:
                tips.append(tip)
    cues, _ = _cues(doc, keys["cues"], f"{label}: `cues`") if "cues" in keys else (MappingProxyType({}), {})
    if None in (name, work, rest, switch, sides, tempo) or ("reps" in keys and reps is None):
        return None
    assert name is not None and work is not None and rest is not None and switch is not None and tempo is not None
    return Exercise(
        name=name,
        work_ms=work,
        rest_ms=rest,
        switch_ms=switch,
        reps=reps,
        tempo_ms=tempo if reps is not None else None,
        sides=bool(sides),
        tips=tuple(tips),
        cues=cues,
        line=node.start_mark.line + 1,
        setup=setup or "",
        first_side=first_side,
        tempo_phases=phases if reps is not None else (),
    )


def _sides(doc: Doc, node: yaml.Node, label: str) -> tuple[bool | None, str]:
    """`sides: true` (left side first), `sides: left` or `sides: right` (that side first)."""
    value = doc.value(node)
    if isinstance(value, str) and value.strip().lower() in SIDES:
        return True, value.strip().lower()
    if isinstance(value, bool):
        return value, "left"
    doc.error(node, f"{label}: `sides` must be true or false, or the side that starts (left or right), not {short(value)}")
    return None, "left"


def _tempo_phases(doc: Doc, node: yaml.Node, label: str) -> tuple[int, ...]:
    """`tempo: 3-1-1` as (3000, 1000, 1000); () when the tempo is a plain duration."""
    value = doc.value(node)
    if not isinstance(value, str) or not _PHASES.fullmatch(value.strip()):
        return ()
    phases = tuple(round(float(p) * 1000) for p in value.strip().split("-"))
    if sum(phases) < 500 or sum(phases) > 600_000:
        doc.error(node, f"{label}: `tempo` {value} must add up to between 0.5s and 10m")
        return ()
    return phases


def _check_size(routine: Routine, file: str) -> None:
    """Reject sessions over 12 hours or with absurd numbers of segments, without expanding them."""
    total = routine.lead_in_ms + routine.outro_ms
    segments = 2
    for block in routine.blocks:
        per_round = sum(e.work_ms * (2 if e.sides else 1) + e.rest_ms + (e.switch_ms if e.sides else 0) for e in block.exercises)
        total += per_round * block.rounds + block.round_rest_ms * (block.rounds - 1)
        segments += block.rounds * sum(4 if e.sides else 2 for e in block.exercises) + block.rounds
        if total > MAX_SESSION_MS:
            raise RoutineError(
                f"the session would last over 12 hours (block `{block.name}` reaches {total / HOUR_MS:.1f} h)",
                file,
                block.line,
                "check `rounds` and durations",
            )
        if segments > MAX_SEGMENTS:
            raise RoutineError(
                f"the session would have over {MAX_SEGMENTS:,} segments (at block `{block.name}`)",
                file,
                block.line,
                "check `rounds`",
            )
