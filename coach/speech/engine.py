"""The speech engine interface, and the registry of engines by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from coach.errors import EngineError
from coach.routine.model import Voice
from coach.routine.wording import suggest
from coach.speech.clip import Clip


@dataclass(frozen=True)
class VoiceInfo:
    id: str
    name: str
    languages: tuple[str, ...] = ()
    gender: str = ""


class Engine(Protocol):
    name: str  # goes into the cache key: different engines never share clips
    version: str

    def voices(self) -> list[VoiceInfo]: ...

    def synthesize(self, text: str, voice: Voice) -> Clip:
        """Speak `text` with a resolved voice (see `resolve_voice`); untrimmed clip."""
        ...


def resolve_voice(engine: Engine, wanted: Voice, language: str = "") -> Voice:
    """The voice settings with `name` replaced by the engine's voice id; unknown names are errors.

    A name matches a voice's id (`gmw/en-us`), the id's last part (`en-us`), its display name
    (`English (America)`) or a language it speaks. With no name, the language picks the voice.
    """
    voices = engine.voices()
    name = wanted.name or language
    if not name:
        return wanted
    needle = name.lower()
    for match in (
        lambda v: v.id.lower() == needle,
        lambda v: v.id.lower().rsplit("/", 1)[-1] == needle,
        lambda v: v.name.lower() == needle,
        lambda v: needle in (lang.lower() for lang in v.languages),
        lambda v: any(lang.lower().split("-")[0] == needle for lang in v.languages),
    ):
        found = [v for v in voices if match(v)]
        if found:
            return Voice(found[0].id, wanted.rate, wanted.volume)
    ids = [v.id.rsplit("/", 1)[-1] for v in voices]
    hint = suggest(needle, ids + [v.name for v in voices])
    raise EngineError(
        f"the {engine.name} engine has no voice `{name}`",
        (hint + " " if hint else "") + "run `coach voices` to list the voices",
    )


EngineFactory = Callable[[], Engine]


def registry() -> dict[str, EngineFactory]:
    """Engines by name. `fake` is deterministic and instant: for tests and dry runs."""
    from coach.speech.fake import FakeEngine
    from coach.speech.pyttsx import Pyttsx3Engine

    return {"pyttsx3": Pyttsx3Engine, "fake": FakeEngine}


def get_engine(name: str) -> Engine:
    engines = registry()
    if name not in engines:
        raise EngineError(f"unknown speech engine `{name}`", f"engines: {', '.join(engines)}")
    return engines[name]()
