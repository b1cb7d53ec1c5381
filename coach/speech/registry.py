"""Speech engines by name; an engine's module is imported only when the engine is asked for.

`auto` is not an engine but a choice: Piper when it is installed and has a voice for the session
(the voice named, else the session's language), else pyttsx3.
"""

from __future__ import annotations

import importlib
import importlib.util

from coach.errors import EngineError, ToolMissing
from coach.routine.model import Voice
from coach.speech.engine import Engine, VoiceInfo, find_voice

ENGINES = {
    "pyttsx3": ("coach.speech.pyttsx", "Pyttsx3Engine"),
    "piper": ("coach.speech.piper", "PiperEngine"),
    "fake": ("coach.speech.fake", "FakeEngine"),  # deterministic and instant: for tests and dry runs
}
AUTO = "auto"
CHOICES = (AUTO, *ENGINES)


def get_engine(name: str) -> Engine:
    if name not in ENGINES:
        raise EngineError(f"unknown speech engine `{name}`", f"engines: {', '.join(CHOICES)}")
    module, cls = ENGINES[name]
    engine: Engine = getattr(importlib.import_module(module), cls)()
    return engine


def piper_installed() -> bool:
    """piper-tts and onnxruntime can be imported (found without importing either)."""
    return all(importlib.util.find_spec(m) is not None for m in ("piper", "onnxruntime"))


def choose(name: str, wanted: Voice, language: str) -> Engine:
    """The engine called `name`; for `auto`, the one that will speak `wanted` (or `language`)."""
    if name != AUTO:
        return get_engine(name)
    from coach.speech.piper import INSTALL_HINT, PiperEngine, looks_like_piper_voice

    piper_voice = bool(wanted.name) and looks_like_piper_voice(wanted.name or "")
    if piper_installed():
        piper = PiperEngine()
        if piper_voice:
            return piper  # a Piper name or file: Piper says clearly if it is not installed
        key = wanted.name or language
        if key and find_voice(piper.voices(), key) is not None:
            return piper
    elif piper_voice:
        raise ToolMissing(f"`{wanted.name}` is a Piper voice, and the Piper engine is not installed", INSTALL_HINT)
    return get_engine("pyttsx3")


def all_voices(name: str, language: str | None = None) -> list[tuple[str, VoiceInfo]]:
    """(engine, voice) for `coach voices`: for `auto` every engine's, installed Piper voices first."""
    names = [name] if name != AUTO else [n for n in ("piper", "pyttsx3") if n != "piper" or piper_installed()]
    found = [(n, v) for n in names for v in get_engine(n).voices()]
    if language:
        lang = language.lower()
        found = [(n, v) for n, v in found if any(t.lower() == lang or t.lower().split("-")[0] == lang for t in v.languages)]
    return found
