"""Phrasebooks: built-in books, user files, precedence, languages and voices, `coach phrases`, errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coach.errors import CoachError, RoutineError
from coach.plan import compiler
from coach.routine import loader, phrasebooks
from coach.routine.model import Routine, Voice
from coach.routine.wording import CUE_KINDS, PLACEHOLDERS, UNIT_WORDS, Phrasebook
from coach.session import SpeechOptions, prepare, voice_for

DATA = Path(__file__).resolve().parents[1] / "data"
ROOT = Path(__file__).resolve().parents[2]


def coach(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="120")
    return subprocess.run([sys.executable, "-m", "coach", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def wording(b: Phrasebook) -> Phrasebook:
    """A book without where it was read from, for comparing wording."""
    return replace(b, source="")


ROUTINE = """\
title: Mini
language: {language}
voice: {voice}
cues:
  go: "Routine go!"
  rest: null
blocks:
  - name: Main
    exercises:
      - name: Plank
        work: 40s
        cues: {{go: "Plank go!"}}
      - name: Squat
        work: 30s
"""


def mini(write_routine, language: str = "en", voice: str = "{rate: 150}") -> Routine:  # type: ignore[no-untyped-def]
    return loader.load(write_routine(ROUTINE.format(language=language, voice=voice)))


# ---- built-in books -------------------------------------------------------------------


@pytest.mark.parametrize("language", phrasebooks.languages())
def test_builtin_books_are_complete(language: str) -> None:
    book = phrasebooks.builtin(language)
    assert book.language == language and book.voice
    assert phrasebooks.missing(book) == []
    assert all(book.templates[k] for k in CUE_KINDS)  # nothing silenced by default


def test_there_are_english_and_spanish_books() -> None:
    assert {"en", "es"} <= set(phrasebooks.languages())
    assert phrasebooks.builtin("ES-419").language == "es"


def test_spanish_session_is_in_spanish(fake_options: SpeechOptions) -> None:
    session = prepare(loader.load(None), replace(fake_options, language="es"))
    es = phrasebooks.builtin("es")
    assert session.book.language == "es" and session.voice.name == "fake/es"
    cues = session.to_json()["cues"]
    texts = [c["text"] for c in cues]  # type: ignore[index]
    # Every cue but the routine's own words (tips, block names) is one of the Spanish templates.
    for cue in cues:  # type: ignore[union-attr]
        if cue["kind"] in ("tip", "block"):
            continue
        patterns = [re.escape(t).replace(r"\{", "{").replace(r"\}", "}") for t in es.templates[cue["kind"]]]
        patterns = [re.sub(r"{\w+}", ".+", p) for p in patterns]
        assert any(re.fullmatch(p, cue["text"]) for p in patterns), cue
    assert texts[0] == "Lower-Back Strength. 16 minutos. Empezamos con Hamstring scoops, 40 segundos."
    assert "Ronda 1 de 2." in texts and "Última ronda." in texts
    assert "Fin de la sesión: 16 minutos, 9 ejercicios. ¡Buen trabajo!" in texts
    assert {"¡Ya!", "¡Vamos!", "¡Adelante!", "Quedan 10 segundos.", "Cambia al lado derecho."} <= set(texts)
    assert not any(re.search(r"\b(seconds?|minutes?|Next|Rest|Go|Halfway)\b", t) for t in texts if t not in _routine_words())
    # Numbers: digits on the cue sheet, the voice reads them; "1 minuto" is said "un minuto".
    rest = next(r for r in session.timeline.requests if r.text.endswith("1 minuto."))
    assert rest.speech.endswith("un minuto.")


def _routine_words() -> set[str]:
    routine = loader.load(None)
    return {t for b in routine.blocks for e in b.exercises for t in e.tips}


def test_spanish_cue_sheet_through_the_cli() -> None:
    result = coach("script", "--json", "--language", "es", "--engine", "fake")
    assert result.returncode == 0, result.stderr
    texts = [c["text"] for c in json.loads(result.stdout)["cues"]]
    assert texts[:2] == [
        "Lower-Back Strength. 16 minutos. Empezamos con Hamstring scoops, 40 segundos.",
        "Warm-up: 4 ejercicios.",
    ]
    # The intro named the first exercise: no "A continuación" for it; the reminder names it again.
    assert texts[2].startswith("Colócate para Hamstring scoops.") and texts[3:6] == ["3", "2", "1"]


def test_a_spanish_lexicon_says_english_names_in_spanish(fake_options: SpeechOptions) -> None:
    session = prepare(loader.load(None), replace(fake_options, phrases=DATA / "wording_es_lexicon.yaml"))
    assert session.book.language == "es" and session.voice.name == "fake/es"  # the file's language picks the book
    request = next(r for r in session.timeline.requests if r.kind == "next" and "Glute bridge" in r.text)
    assert "puente de glúteos" in request.speech and "Glute bridge" not in request.speech
    assert session.timeline.requests[0].speech.startswith("Fuerza para la zona lumbar. 16 minutos.")


# ---- precedence ------------------------------------------------------------------------


def test_precedence_exercise_then_routine_then_file_then_builtin(write_routine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mine = tmp_path / "mine.yaml"
    mine.write_text('cues:\n  go: "File go!"\n  next: "File next: {exercise}."\n', encoding="utf-8")
    routine = mini(write_routine)
    timeline = compiler.compile_routine(routine, phrasebooks.effective(routine, mine))
    by_kind: dict[str, list[str]] = {}
    for r in timeline.requests:
        by_kind.setdefault(r.kind, []).append(r.text)
    assert by_kind["go"] == ["Plank go!", "Routine go!"]  # exercise `cues:`, then routine `cues:`
    assert by_kind["next"] == ["File next: Plank."]  # the file over the built-in book
    assert by_kind["last_exercise"] == ["Last exercise: Squat, 30 seconds."]  # the file leaves it to the book
    assert "rest" not in by_kind  # null in the routine silences
    assert by_kind["halfway"][0] in phrasebooks.builtin("en").templates["halfway"]  # the built-in book fills in


# ---- languages and voices -----------------------------------------------------------


def test_language_flag_picks_book_and_voice_over_the_routine_voice(write_routine) -> None:  # type: ignore[no-untyped-def]
    routine = mini(write_routine, voice="{name: en-us, rate: 150}")
    book = phrasebooks.effective(routine, language="es")
    assert book.language == "es" and book.templates["next"] == phrasebooks.builtin("es").templates["next"]
    assert book.templates["go"] == ("Routine go!",)  # the routine's own cues still win
    # A voice chosen for English does not read Spanish; the routine's rate still applies.
    assert voice_for(routine, book, SpeechOptions(language="es")) == Voice("es", 150, None)
    assert voice_for(routine, book, SpeechOptions(language="es", voice=Voice("es-419"))).name == "es-419"
    same = phrasebooks.effective(routine, language="en")
    assert voice_for(routine, same, SpeechOptions(language="en")).name == "en-us"


def test_routine_language_and_voice(write_routine) -> None:  # type: ignore[no-untyped-def]
    routine = mini(write_routine, language="es")
    book = phrasebooks.effective(routine)
    assert book.language == "es" and voice_for(routine, book, SpeechOptions()) == Voice("es", 150, None)
    named = mini(write_routine, language="es", voice="es-419")
    assert voice_for(named, phrasebooks.effective(named), SpeechOptions()).name == "es-419"
    assert voice_for(named, phrasebooks.effective(named), SpeechOptions(voice=Voice("en-us"))).name == "en-us"
    regional = phrasebooks.effective(named, language="es-419")  # still Spanish: the routine's voice stays
    assert regional.language == "es-419" and voice_for(named, regional, SpeechOptions(language="es-419")).name == "es-419"


def test_the_phrases_files_language_picks_the_base_book(write_routine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mine = tmp_path / "mine.yaml"
    mine.write_text('language: es\ncues:\n  finish: "¡Hecho!"\n', encoding="utf-8")
    routine = mini(write_routine, voice="en-us")
    book = phrasebooks.effective(routine, mine)
    es = phrasebooks.builtin("es")
    assert book.language == "es" and book.templates["next"] == es.templates["next"] and book.units == es.units
    assert book.templates["finish"] == ("¡Hecho!",)
    assert voice_for(routine, book, SpeechOptions(phrases=mine)).name == "es"
    # --language is the most explicit and wins over the file's language.
    assert phrasebooks.effective(routine, mine, language="en").templates["next"] == phrasebooks.builtin("en").templates["next"]


def test_a_complete_book_for_another_language_needs_no_builtin(tmp_path: Path, fake_options: SpeechOptions) -> None:
    text = phrasebooks.show(None).replace("language: en", "language: fr").replace("voice: en-us", "voice: es")
    (tmp_path / "fr.yaml").write_text(text.replace('"Go!"', '"Allez !"'), encoding="utf-8")
    session = prepare(loader.load(None), replace(fake_options, phrases=tmp_path / "fr.yaml"))
    assert session.book.language == "fr" and "Allez !" in [c.text for c in session.cues]
    (tmp_path / "part.yaml").write_text('language: fr\ncues:\n  go: "Allez !"\n', encoding="utf-8")
    with pytest.raises(RoutineError, match=r"part.yaml: no built-in wording for language `fr`; the phrasebook leaves out cues.intro"):
        phrasebooks.effective(loader.load(None), tmp_path / "part.yaml")
    with pytest.raises(CoachError, match="--language: no built-in wording for language `xx`"):
        phrasebooks.effective(loader.load(None), language="xx")


# ---- `coach phrases`: the effective wording as a phrasebook -----------------------------


@pytest.mark.parametrize("language", phrasebooks.languages())
def test_dump_reads_back_to_the_same_wording(language: str) -> None:
    book = phrasebooks.builtin(language)
    text = phrasebooks.dump(book)
    assert wording(phrasebooks.parse(text, "dump.yaml")) == wording(book)
    for kind in CUE_KINDS:  # every kind and the placeholders it may use, as comments
        assert f"  {kind}:" in text and " ".join("{" + p + "}" for p in PLACEHOLDERS[kind]) in text


def test_phrases_round_trip_through_the_cli(tmp_path: Path) -> None:
    result = coach("phrases", "--language", "es")
    assert result.returncode == 0 and result.stdout.startswith("# coach phrasebook")
    mine = tmp_path / "mine.yaml"
    mine.write_text(result.stdout, encoding="utf-8")
    assert wording(phrasebooks.load_file(mine)) == wording(phrasebooks.builtin("es"))
    edited = coach("script", "--json", "--engine", "fake", "--phrases", str(mine))
    builtin = coach("script", "--json", "--engine", "fake", "--language", "es")
    assert edited.returncode == 0 and edited.stdout == builtin.stdout


def test_phrases_for_a_routine_shows_its_cues(write_routine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    routine = mini(write_routine)
    text = phrasebooks.show(routine)
    assert '  go: "Routine go!"' in text and "  rest: null" in text
    assert f"[from {routine.source} `cues:`]" in text
    assert f'#   Plank ({routine.source}:10): go: "Plank go!"' in text
    mine = tmp_path / "mine.yaml"
    mine.write_text(text, encoding="utf-8")
    assert wording(phrasebooks.effective(routine, mine)) == wording(phrasebooks.effective(routine))
    cli = coach("phrases", str(routine.source))
    assert cli.returncode == 0 and cli.stdout == text


_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(
    lambda s: s.strip() == s and s and "{" not in s and "}" not in s
)


@st.composite
def books(draw: st.DrawFn) -> Phrasebook:
    templates: dict[str, tuple[str, ...]] = {}
    for kind in draw(st.lists(st.sampled_from(CUE_KINDS), unique=True)):
        names = st.sampled_from(PLACEHOLDERS[kind]).map(lambda p: "{" + p + "}")
        template = st.lists(st.one_of(_TEXT, names, st.just("{{x}}")), min_size=1, max_size=4).map("".join)
        alternatives = draw(st.lists(template.filter(lambda t: t.strip() == t), max_size=3))
        templates[kind] = tuple(alternatives)
    units = draw(st.dictionaries(st.sampled_from(UNIT_WORDS), _TEXT))
    numbers = draw(st.dictionaries(st.integers(0, 10_000), _TEXT, max_size=3))
    lexicon = draw(st.dictionaries(_TEXT, _TEXT, max_size=3))
    voice = draw(st.one_of(st.just(""), _TEXT.filter(lambda s: len(s) <= 100)))
    return Phrasebook(draw(st.sampled_from(["en", "es", "es-419", "fr"])), MappingProxyType(templates),
                      MappingProxyType(units), voice, MappingProxyType(numbers), MappingProxyType(lexicon))


@settings(max_examples=150, deadline=None)
@given(books())
def test_any_book_survives_dump_and_parse(book: Phrasebook) -> None:
    back = phrasebooks.parse(phrasebooks.dump(book), "dump.yaml")
    # Units the book leaves out are written with their default words.
    defaults = {u: u for u in UNIT_WORDS} | {"and": ""}
    assert wording(back) == wording(replace(book, units=MappingProxyType(defaults | dict(book.units))))


# ---- validation: before any audio work, located, with a suggestion ------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('cues:\n  nxt: "Next!"\n', ":2: unknown key `nxt` in `cues` (did you mean `next`?)"),
        ('cues:\n  next: "Next: {exercize}."\n', ":2: cue `next`: unknown placeholder {exercize} (did you mean `exercise`?)"),
        ('cues:\n  go:\n    - "Go!"\n    - "Go {"\n', ":4: cue `go` template 'Go {': unbalanced braces"),
        ('cues:\n  rest: "Rest, {count}."\n', ":2: cue `rest`: placeholder {count} is not available for this kind (available:"),
        ("units:\n  secs: s\n", ":2: unknown key `secs` in `units` (did you mean `seconds`?)"),
        ("cues:\n  next: []\n", ":2: `cues.next` is an empty list (use null to silence a cue kind)"),
        ("language: english language\n", ":1: `language` 'english language' is not a language tag (write e.g. en, es or es-419)"),
        ("numbers:\n  one: uno\n", ":2: a `numbers` key must be a whole number"),
        ("lexicon: [RDL]\n", ":1: `lexicon` must be a mapping"),
        ("voices: en\n", ":1: unknown key `voices` in the phrasebook (did you mean `voice`?)"),
    ],
)
def test_phrasebook_errors_are_located(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RoutineError) as caught:
        phrasebooks.load_file(path)
    assert str(caught.value).startswith(f"{path}:") and expected in str(caught.value), str(caught.value)


def test_several_errors_are_reported_together(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text('cues:\n  go: "{x}"\n  next: "{y}"\n', encoding="utf-8")
    with pytest.raises(CoachError) as caught:
        phrasebooks.load_file(path)
    assert [line.split(": ")[0] for line in str(caught.value).splitlines()] == [f"{path}:2", f"{path}:3"]


@pytest.mark.parametrize("command", ["script", "render", "say", "phrases"])
def test_bad_phrases_file_is_one_line_through_the_cli(tmp_path: Path, command: str) -> None:
    bad = DATA / "wording_bad.yaml"
    args = {"render": ["-o", str(tmp_path / "out.mp3")], "say": ["--kind", "next", "-o", str(tmp_path / "n.wav")]}
    engine = ["--engine", "fake"] if command != "phrases" else []
    result = coach(command, "--phrases", str(bad), *engine, *args.get(command, []))
    assert result.returncode == 1 and result.stdout == ""
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"coach: error: {bad}:5: cue `next` template")
    assert "unbalanced braces" in result.stderr and "write {{ and }} for literal braces" in result.stderr
    assert not list(tmp_path.iterdir())


# ---- the docs ---------------------------------------------------------------------------


def test_wording_docs_cover_every_kind_and_their_example_is_a_complete_book(tmp_path: Path) -> None:
    page = (ROOT / "docs" / "wording.md").read_text(encoding="utf-8")
    for kind in CUE_KINDS:
        assert f"| `{kind}` |" in page, kind
    for unit in UNIT_WORDS:
        assert f"`{unit}`" in page, unit
    example = re.search(r"```yaml\n(# A complete phrasebook.*?)```", page, flags=re.S)
    assert example, "docs/wording.md has no complete example phrasebook"
    book = phrasebooks.parse(example.group(1), "docs/wording.md")
    assert phrasebooks.missing(book) == [] and book.lexicon and book.numbers


# ---- the real engine ---------------------------------------------------------------------


@pytest.mark.tts
def test_spanish_voice_speaks_with_the_real_engine(write_routine) -> None:  # type: ignore[no-untyped-def]
    routine = loader.load(write_routine(
        "title: Corto\nlanguage: es\nlead_in: 8s\noutro: 4s\n"
        "blocks:\n  - name: Núcleo\n    exercises:\n      - {name: Plancha, work: 20s, rest: 60s}\n"
        "      - {name: Puente, work: 20s}\n"
    ))
    session = prepare(routine, SpeechOptions(engine="pyttsx3"))
    assert session.voice.name is not None and session.voice.name.rsplit("/", 1)[-1] == "es"
    spoken = {c.speech for c in session.cues}
    assert "Descansa, un minuto." in spoken  # the lexicon's "un", not "uno"
    for text in spoken:
        assert session.clips[text].duration_ms > 150, text
