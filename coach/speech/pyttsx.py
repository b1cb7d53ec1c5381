"""The real engine: pyttsx3 (eSpeak NG on Linux, SAPI5 on Windows, NSSpeech on macOS).

pyttsx3 2.99 traps handled here: one `save_to_file` per `runAndWait` (several keep only the last);
wait for `finished-utterance` before reading the file; unknown voice names are silently ignored
(resolve_voice makes them errors first); "Audio saved to" goes to stdout (swallowed); on macOS the
file is AIFF whatever its name (read by content).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import io
import os
import sys
import tempfile
import threading
import wave
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from coach.errors import EngineError, ToolMissing
from coach.routine.model import Voice
from coach.speech.clip import Clip
from coach.speech.engine import InProcessEngine, VoiceInfo

INSTALL_HINT = (
    "install eSpeak NG: `pip install espeakng-loader` (bundled with coach on Linux) "
    "or `apt-get install espeak-ng`"
)
_lock = threading.Lock()
T = TypeVar("T")


def prepare_espeak() -> str:
    """Make libespeak-ng loadable for pyttsx3; returns where it came from ('system' or 'pip').

    pyttsx3 dlopens `libespeak-ng.so.1` by name when its driver is imported, so a bundled copy
    must be loaded (RTLD_GLOBAL) first, with ESPEAK_DATA_PATH pointing at its voice data.
    """
    if not sys.platform.startswith("linux"):
        return "system"
    try:
        ctypes.CDLL("libespeak-ng.so.1")
        return "system"
    except OSError:
        pass
    try:
        import espeakng_loader
    except ImportError:
        raise ToolMissing("no eSpeak NG speech engine found", INSTALL_HINT) from None
    try:
        ctypes.CDLL(espeakng_loader.get_library_path(), mode=ctypes.RTLD_GLOBAL)
    except OSError as exc:
        raise ToolMissing(f"cannot load the bundled eSpeak NG library: {exc}", INSTALL_HINT) from None
    os.environ.setdefault("ESPEAK_DATA_PATH", espeakng_loader.get_data_path())
    return "pip"


class Pyttsx3Engine(InProcessEngine):
    name = "pyttsx3"

    def __init__(self) -> None:
        self.source = prepare_espeak()
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                import pyttsx3

                self._engine = pyttsx3.init()
        except Exception as exc:  # pyttsx3 raises bare RuntimeError/OSError/ImportError
            raise ToolMissing(f"the speech engine could not start: {exc}", INSTALL_HINT) from None
        driver = type(self._engine.proxy._driver).__module__.rsplit(".", 1)[-1]
        self.version = f"pyttsx3-2.99/{driver}/{sys.platform}"
        self._finished = threading.Event()
        self._engine.connect("finished-utterance", self._on_finished)
        self._voices: list[VoiceInfo] | None = None

    def _on_finished(self, name: object = None, completed: bool = True) -> None:
        self._finished.set()

    def voices(self) -> list[VoiceInfo]:
        if self._voices is None:
            self._voices = [
                VoiceInfo(
                    id=str(v.id),
                    name=str(v.name),
                    languages=tuple(_lang(x) for x in (v.languages or [])),
                    gender=str(v.gender or ""),
                )
                for v in self._engine.getProperty("voices")
            ]
        return self._voices

    def synthesize(self, text: str, voice: Voice) -> Clip:
        return self._spoken(text, voice, read_audio)

    def synthesize_raw(self, text: str, voice: Voice) -> tuple[bytes, int] | Clip:
        """`synthesize`, as 16-bit mono PCM bytes and their rate when the engine writes that
        (eSpeak NG does), without numpy: what a speech worker sends, lighter by numpy's memory."""
        return self._spoken(text, voice, lambda path: read_pcm(path) or read_audio(path))

    def _spoken(self, text: str, voice: Voice, read: Callable[[Path], T]) -> T:
        with _lock, tempfile.TemporaryDirectory(prefix="coach-tts-") as tmp:
            path = Path(tmp) / "clip.wav"
            engine = self._engine
            if voice.name:
                engine.setProperty("voice", voice.name)
            if voice.rate:
                engine.setProperty("rate", voice.rate)
            if voice.volume is not None:
                engine.setProperty("volume", voice.volume)
            self._finished.clear()
            # The driver prints "Audio saved to" from its callback, which may run after
            # runAndWait returns: keep stdout redirected until the utterance has finished.
            with contextlib.redirect_stdout(io.StringIO()):
                engine.save_to_file(text, str(path))
                engine.runAndWait()
                finished = self._finished.wait(timeout=30)
            if not finished:
                raise EngineError(f"the speech engine did not finish speaking {text!r}")
            if not path.exists():
                raise EngineError(f"the speech engine wrote no audio for {text!r}")
            return read(path)


def _lang(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "ignore")
    return str(value).lstrip("\x05").strip()


def read_pcm(path: Path) -> tuple[bytes, int] | None:
    """The samples of a 16-bit mono WAV file and its rate, as bytes; None for any other file."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() == 2 and w.getnchannels() == 1:
                return w.readframes(w.getnframes()), w.getframerate()
    except (wave.Error, EOFError):
        pass
    return None


def read_audio(path: Path) -> Clip:
    """Mono int16 samples of a WAV file, or of any format ffmpeg reads (AIFF from macOS)."""
    import numpy as np  # here: opening the engine for the up-to-date check needs no numpy

    try:
        with wave.open(str(path), "rb") as w:
            frames = w.readframes(w.getnframes())
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
        if width == 2:
            samples = np.frombuffer(frames, dtype="<i2")
            if channels > 1:
                samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
            return Clip(samples.copy(), rate)
    except (wave.Error, EOFError):
        pass
    from pydub import AudioSegment

    from coach.tools import ffmpeg_path

    AudioSegment.converter = ffmpeg_path()
    seg = AudioSegment.from_file(str(path)).set_channels(1).set_sample_width(2)
    return Clip(np.array(seg.get_array_of_samples(), dtype=np.int16), seg.frame_rate)
