"""The speech engine interface, and how a voice name becomes one of an engine's voices."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from coach.errors import EngineError, suggest
from coach.routine.model import Voice
from coach.speech.clip import Clip


@dataclass(frozen=True)
class VoiceInfo:
    id: str
    name: str
    languages: tuple[str, ...] = ()
    gender: str = ""
    quality: str = ""
    licence: str = ""


class Engine(Protocol):
    name: str  # goes into the cache key: different engines never share clips
    version: str
    # True: the engine speaks only in worker processes of its own, never in the one that chose it
    # (Piper's phonemizer and pyttsx3's eSpeak NG crash when they share a process).
    isolated: bool

    def voices(self) -> list[VoiceInfo]: ...

    def voice_help(self) -> str:
        """What to tell a user who named a voice the engine does not have."""
        ...

    def cache_tag(self, voice: Voice) -> str:
        """Everything besides the text and the voice settings that shapes a clip's sound."""
        ...

    def max_workers(self, voice: Voice) -> int | None:
        """How many worker processes may speak at once with this voice (memory), None: no bound."""
        ...

    def synthesize(self, text: str, voice: Voice) -> Clip:
        """Speak `text` with a resolved voice (see `resolve_voice`); untrimmed clip."""
        ...


class InProcessEngine:
    """What an engine that may speak in any process has in common (pyttsx3, fake)."""

    version: str
    isolated = False

    def voice_help(self) -> str:
        return "run `coach voices` to list the voices"

    def cache_tag(self, voice: Voice) -> str:
        return self.version  # the clip key as it always was: caches stay valid

    def max_workers(self, voice: Voice) -> int | None:
        return None


@runtime_checkable
class FileVoices(Protocol):
    """An engine whose voices can also be given as a file."""

    def voice_from_file(self, path: Path) -> VoiceInfo: ...


def resolve_voice(engine: Engine, wanted: Voice, language: str = "") -> Voice:
    """The voice settings with `name` replaced by the engine's voice id; unknown names are errors.

    A name matches a voice's id (`gmw/en-us`), the id's last part (`en-us`), its display name
    (`English (America)`) or a language it speaks. With no name, the language picks the voice.
    An engine with voice files (Piper) also takes a path to one.
    """
    name = wanted.name or language
    if not name:
        return wanted
    if wanted.name and isinstance(engine, FileVoices) and wanted.name.endswith(".onnx"):
        return Voice(engine.voice_from_file(Path(wanted.name)).id, wanted.rate, wanted.volume)
    found = find_voice(engine.voices(), name)
    if found is not None:
        return Voice(found.id, wanted.rate, wanted.volume)
    voices = engine.voices()
    ids = [v.id.rsplit("/", 1)[-1] for v in voices]
    hint = suggest(name.lower(), ids + [v.name for v in voices])
    raise EngineError(f"the {engine.name} engine has no voice `{name}`", (hint + " " if hint else "") + engine.voice_help())


def find_voice(voices: list[VoiceInfo], name: str) -> VoiceInfo | None:
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
            return found[0]
    return None
