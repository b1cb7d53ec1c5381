"""Cue wording: templates, spoken durations, alternatives, the lexicon, and a user book changing every kind."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from types import MappingProxyType

import pytest

from coach.errors import RoutineError
from coach.plan import compiler
from coach.routine import loader, phrasebooks
from coach.routine.model import Voice
from coach.routine.wording import (
    ALL_PLACEHOLDERS,
    CUE_KINDS,
    MEANING,
    PHRASE_KINDS,
    PLACEHOLDERS,
    WHEN,
    Phrasebook,
    check_template,
)
from coach.session import SpeechOptions, prepare
from coach.speech.clip import Clip
from coach.speech.fake import FakeEngine

SPOKEN_KINDS = set(CUE_KINDS) - set(PHRASE_KINDS)
DATA = Path(__file__).resolve().parents[1] / "data"
ROUTINE = DATA / "wording_routine.yaml"
FULL = DATA / "wording_full.yaml"


def book(templates: dict[str, tuple[str, ...]] | None = None, lexicon: dict[str, str] | None = None) -> Phrasebook:
    base = phrasebooks.builtin("en")
    return Phrasebook("en", MappingProxyType(templates or dict(base.templates)), base.units,
                      lexicon=MappingProxyType(lexicon or {}))


def texts_by_kind(timeline_requests) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    out: dict[str, list[str]] = defaultdict(list)
    for r in timeline_requests:
        out[r.kind].append(r.text)
    return out


# ---- templates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "template", "message", "hint"),
    [
        ("nxt", "x", "unknown cue kind `nxt`", "did you mean `next`?"),
        ("next", "{exersize}", "unknown placeholder {exersize}", "did you mean `exercise`?"),
        ("rest", "{count}", "placeholder {count} is not available", "available: {title}"),
        ("go", "Go {", "unbalanced braces, a `{` without a `}` after it", "write {{ and }}"),
        ("go", "Go }", "unbalanced braces, a `}` without a `{` before it", "write {{ and }}"),
        ("next", "{exercise", "unbalanced braces, a `{` that is never closed", "write {{ and }}"),
        ("next", "{exercise, {work}", "unbalanced braces, a `{` inside a placeholder", "write {{ and }}"),
        ("halfway", "{seconds:>5} left", "has a format", "write {seconds}"),
        ("go", "{exercise!r}", "has a format", "write {exercise}"),
        ("go", "Go {}", "empty {}", "placeholders for `go`"),
        ("go", "{0}", "unknown placeholder {0}", "placeholders for `go`"),
    ],
)
def test_bad_templates_are_located_with_a_suggestion(kind: str, template: str, message: str, hint: str) -> None:
    with pytest.raises(RoutineError) as caught:
        check_template(kind, template, "mine.yaml", 7)
    text = str(caught.value)
    assert text.startswith("mine.yaml:7: ") and message in text, text
    assert hint in text[text.index(" ("):], text  # the suggestion, in parentheses after the message


def test_literal_braces_and_every_placeholder_are_fine() -> None:
    for kind, names in PLACEHOLDERS.items():
        check_template(kind, "{{literal}} " + " ".join("{" + n + "}" for n in names), "f", 1)


def test_an_empty_placeholder_takes_its_space_along() -> None:
    b = book({"next": ("Next: {exercise} {side}.",)})
    assert b.render("next", {"exercise": "Plank", "side": ""}, 0) == "Next: Plank."
    assert b.render("next", {"exercise": "Plank", "side": "left side"}, 0) == "Next: Plank left side."
    assert b.render("next", {"exercise": "Plank"}, 0) == "Next: Plank."


def test_a_silenced_kind_renders_nothing() -> None:
    assert book({"go": ()}).render("go", {}, 0) is None


# ---- words ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "ms", "words"),
    [
        ("en", 45_000, "45 seconds"),
        ("en", 1_000, "1 second"),
        ("en", 90_000, "1 minute 30 seconds"),
        ("en", 3_600_000, "1 hour"),
        ("en", 0, "0 seconds"),
        ("es", 45_000, "45 segundos"),
        ("es", 60_000, "1 minuto"),
        ("es", 90_000, "1 minuto y 30 segundos"),
        ("es", 3_661_000, "1 hora 1 minuto y 1 segundo"),
        ("es", 7_200_000, "2 horas"),
    ],
)
def test_spoken_durations(language: str, ms: int, words: str) -> None:
    assert phrasebooks.builtin(language).duration(ms) == words


def test_reps_sides_and_number_words() -> None:
    es = phrasebooks.builtin("es")
    assert (es.reps(1), es.reps(10)) == ("1 repetición", "10 repeticiones")
    assert (es.side("left"), es.side("right"), es.side("")) == ("lado izquierdo", "lado derecho", "")
    mine = phrasebooks.load_file(FULL)
    assert (mine.number(3), mine.number(4), mine.duration(61_000)) == ("three", "4", "one min plus one sec")


# ---- the lexicon -------------------------------------------------------------------


def test_lexicon_whole_words_any_case_longest_first_one_pass() -> None:
    b = book(lexicon={"RDL": "R D L", "Plank": "plank hold", "Plank to bear": "bear crawl plank",
                      "a": "b", "b": "c", "x": r"\1 back\slash"})
    assert b.spoken("rdl, RDLs and Plank to bear; plank.") == "R D L, RDLs and bear crawl plank; plank hold."
    assert b.spoken("a b") == "b c"  # replaced once, never replaced again
    assert b.spoken("x") == r"\1 back\slash"
    assert book().spoken("unchanged") == "unchanged"


def test_a_lexicon_on_top_replaces_an_entry_in_any_case() -> None:
    layered = book(lexicon={"RDL": "R D L", "AMRAP": "am rap"}).layered(book(lexicon={"rdl": "Romanian deadlift"}))
    assert layered.spoken("RDL then AMRAP") == "Romanian deadlift then am rap"


def test_every_kind_and_placeholder_is_explained() -> None:
    assert set(WHEN) == set(CUE_KINDS) and set(MEANING) == set(ALL_PLACEHOLDERS)


class RecordingEngine(FakeEngine):
    """The fake engine, remembering every text it was asked to speak."""

    def __init__(self) -> None:
        self.heard: list[str] = []

    def synthesize(self, text: str, voice: Voice) -> Clip:
        self.heard.append(text)
        return super().synthesize(text, voice)


def test_lexicon_changes_what_is_spoken_not_what_is_shown() -> None:
    engine = RecordingEngine()
    session = prepare(loader.load(ROUTINE), SpeechOptions(engine="fake", phrases=FULL, no_cache=True, jobs=1),
                      engine=engine)
    shown = [c["text"] for c in session.to_json()["cues"]]  # type: ignore[union-attr]
    # Exercise names and tips are spoken as the lexicon says, displayed as written.
    assert shown[0].endswith("First Plank for 40 secs.") and "Coach says: Brace your core." in shown
    assert session.cues[0].speech.endswith("First plank hold for 40 secs.")
    assert "Now plank hold, 40 secs." in engine.heard and "Coach says: brace hard your core." in engine.heard
    assert not any(re.search(r"\bPlank\b", t) for t in engine.heard)
    assert "Swap to the right leg." in shown  # "Side plank" is a different, longer name: untouched
    for cue in session.cues:
        assert cue.speech == session.book.spoken(cue.text)
    assert set(engine.heard) == {c.speech for c in session.timeline.requests}


# ---- alternatives and a user book ----------------------------------------------------


def test_alternatives_rotate_deterministically() -> None:
    routine = loader.load(ROUTINE)
    en = phrasebooks.effective(routine)
    first = compiler.compile_routine(routine, en)
    again = compiler.compile_routine(loader.load(ROUTINE), phrasebooks.effective(routine))
    assert first == again  # same routine, same words
    texts = texts_by_kind(first.requests)
    assert texts["go"][:4] == ["Go!", "Begin!", "Start now!", "Go!"]
    for kind in ("next", "go"):
        alternatives = en.templates[kind]
        assert len(set(texts[kind][: len(alternatives)])) == len(alternatives), kind


def test_a_user_phrasebook_changes_every_cue_kind() -> None:
    routine = loader.load(ROUTINE)
    builtin = texts_by_kind(compiler.compile_routine(routine, phrasebooks.effective(routine)).requests)
    mine = texts_by_kind(compiler.compile_routine(routine, phrasebooks.effective(routine, FULL)).requests)
    assert set(builtin) == set(mine) == SPOKEN_KINDS  # the fixture routine speaks every kind
    for kind in SPOKEN_KINDS:
        assert not set(builtin[kind]) & set(mine[kind]), kind
    assert mine["intro"] == ["Welcome to Every Cue, 7 mins plus 39 secs today. First Plank for 40 secs."]
    # The phrases word {work}: per side, and per rep with the tempo.
    assert "Then Side plank left leg, 30 secs a side from the left leg." in mine["next"]
    assert "Finally Burpees, 20 secs." in mine["last_exercise"]
    assert mine["countdown"][:3] == ["Three!", "Two!", "One!"]  # "{count}!": a cue starts with a capital
    assert mine["go"][:3] == ["Move!", "Work!", "Push!"]
    assert mine["switch"][0] == "Swap to the right leg."
    assert mine["rep"][:2] == ["Rep two", "Rep two"]  # then "Three to go.", "Two to go.", "Final rep."
    assert mine["reps_left"][:2] == ["Three to go.", "Two to go."]
    assert mine["round"] == ["Again: round one of two."]
    assert mine["final_round"] == ["Last round of Core."]
    assert "Breathe for 20 secs, then Side plank." in mine["rest"]


def test_every_kind_reaches_the_placed_cues(write_routine) -> None:  # type: ignore[no-untyped-def]
    session = prepare(loader.load(ROUTINE), SpeechOptions(engine="fake", phrases=FULL))
    assert {c.kind for c in session.cues} == SPOKEN_KINDS - {"finish_short"}  # the outro has room for `finish`
    # ... and where it has not, the compact words end the session instead of silence.
    short = write_routine(ROUTINE.read_text(encoding="utf-8").replace("outro: 10s", "outro: 1s"), "short_outro.yaml")
    session = prepare(loader.load(short), SpeechOptions(engine="fake", phrases=FULL))
    assert [c.text for c in session.cues if c.kind.startswith("finish")] == ["All done."]


def test_the_lexicon_says_what_a_longest_first_whole_word_regex_says() -> None:
    """The lexicon walks a tree of its entries (time linear in the text, whatever their number):
    on random text it replaces exactly what the plain regular-expression reading would."""
    import random
    import re
    from dataclasses import replace
    from types import MappingProxyType

    from coach.routine import phrasebooks

    rng = random.Random(14)
    words = ["rdl", "RDL", "r.d.l.", "sit up", "sit", "ups", "_x", "é", "Élan", "1/2", "a"]
    for _ in range(200):
        lexicon = {w: f"<{w}>" for w in rng.sample(words, rng.randint(1, len(words)))}
        book = replace(phrasebooks.builtin("en"), lexicon=MappingProxyType(lexicon))
        text = "".join(rng.choice([*words, " ", ".", ",", "x", "_", "-"]) for _ in range(rng.randint(0, 30)))
        written = [w for w in sorted(lexicon, key=len, reverse=True)
                   if w.casefold() not in {v.casefold() for v in list(lexicon)[: list(lexicon).index(w)]}]
        pattern = re.compile(r"(?<!\w)(?:" + "|".join(f"({re.escape(w)})" for w in written) + r")(?!\w)", re.IGNORECASE)
        said = [lexicon[w] for w in written]
        expected = pattern.sub(lambda m, said=said: said[m.lastindex - 1], text)  # type: ignore[misc, operator]
        assert book.spoken(text) == expected, (lexicon, text)
