"""A deterministic stand-in engine: a tone whose pitch and length follow the text.

Same text, same samples, every time, in microseconds: for fast tests and for trying the
pipeline without a speech engine (`--engine fake`). Leading and trailing silence is included
so the trimming path is exercised like with a real engine.
"""

from __future__ import annotations

import hashlib

from coach.routine.model import Voice
from coach.speech.clip import Clip
from coach.speech.engine import InProcessEngine, VoiceInfo

RATE = 22050
MS_PER_CHAR = 45
PAD_MS = 40


class FakeEngine(InProcessEngine):
    name = "fake"
    version = "1"

    def voices(self) -> list[VoiceInfo]:
        return [
            VoiceInfo("fake/en-us", "Fake English", ("en-us", "en")),
            VoiceInfo("fake/es", "Fake Spanish", ("es",)),
        ]

    def synthesize(self, text: str, voice: Voice) -> Clip:
        import numpy as np  # as the real engines: none is needed to open the engine

        rate_wpm = voice.rate or 175
        speech_ms = max(150, len(text) * MS_PER_CHAR * 175 // rate_wpm)
        digest = hashlib.sha256(text.encode("utf-8")).digest()
        freq = 200 + digest[0] * 3
        n = speech_ms * RATE // 1000
        t = np.arange(n) / RATE
        amplitude = 12000 * (voice.volume if voice.volume is not None else 1.0)
        tone = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)
        pad = np.zeros(PAD_MS * RATE // 1000, dtype=np.int16)
        return Clip(np.concatenate([pad, tone, pad]), RATE)
