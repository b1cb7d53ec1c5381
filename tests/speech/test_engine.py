"""Engines: the fake one is deterministic; the real pyttsx3 engine speaks, with voices checked."""

from __future__ import annotations

import numpy as np
import pytest

from coach.errors import EngineError
from coach.routine.model import Voice
from coach.speech.engine import resolve_voice
from coach.speech.fake import FakeEngine
from coach.speech.registry import get_engine


def test_fake_engine_is_deterministic_and_trims() -> None:
    engine = FakeEngine()
    a = engine.synthesize("Next up: plank", Voice())
    b = engine.synthesize("Next up: plank", Voice())
    assert np.array_equal(a.samples, b.samples)
    trimmed = a.trimmed()
    assert len(trimmed.samples) < len(a.samples)
    assert abs(int(trimmed.samples[0])) > 0 and trimmed.duration_ms > 0


def test_voice_resolution(fake_engine: FakeEngine) -> None:
    assert resolve_voice(fake_engine, Voice("en-us"), "").name == "fake/en-us"
    assert resolve_voice(fake_engine, Voice(None, 150), "es").name == "fake/es"
    with pytest.raises(EngineError, match="no voice `klingon`"):
        resolve_voice(fake_engine, Voice("klingon"), "")


def test_unknown_engine() -> None:
    with pytest.raises(EngineError, match="unknown speech engine"):
        get_engine("loud")


@pytest.mark.tts
def test_real_pyttsx3_engine_speaks(capfd: pytest.CaptureFixture[str]) -> None:
    engine = get_engine("pyttsx3")
    voices = engine.voices()
    assert any("en" in v.languages or "en-us" in v.languages for v in voices)
    voice = resolve_voice(engine, Voice("en-us", 170, 1.0), "en")
    first = engine.synthesize("Three, two, one, go", voice).trimmed()
    again = engine.synthesize("Three, two, one, go", voice).trimmed()
    short = engine.synthesize("Go", voice).trimmed()
    assert 500 < first.duration_ms < 4000
    assert abs(first.duration_ms - again.duration_ms) < 100  # eSpeak is not bit-identical run to run
    assert short.duration_ms < first.duration_ms
    assert np.abs(first.samples.astype(np.int32)).max() > 3000
    assert "Audio saved" not in capfd.readouterr().out
    with pytest.raises(EngineError, match="no voice `bogus`"):
        resolve_voice(engine, Voice("bogus"), "")
