"""Loudness: the encoded file measures the target, true peaks stay under the ceiling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coach import loader, loudness
from coach.limiter import Limiter
from coach.mixdown import Mixdown, MixSettings
from coach.render import RenderOptions, render
from coach.scheduler import Cue
from coach.session import SpeechOptions, prepare
from coach.speech.clip import Clip

ROUTINE = """\
title: Loud
lead_in: 6s
outro: 4s
blocks:
  - name: Main
    exercises:
      - {name: Squat, work: 30s, rest: 8s, tips: ["Chest up, knees out."]}
      - {name: Lunge, work: 12s, sides: true}
"""


def speechlike(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Noise bursts with sharp peaks: a crest factor like a synthetic voice's."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    envelope = np.abs(np.sin(np.arange(n) * 2 * np.pi * 4 / rate))
    x = rng.standard_normal(n) * envelope * 3000
    x[rng.integers(0, n, 40)] = 30000
    return np.clip(x, -32768, 32767).astype(np.int16)


def test_limited_mix_is_the_same_however_it_is_chunked() -> None:
    clip = Clip(speechlike(1.5, 22050), 22050)
    cues = (Cue(300, 1800, "tip", "a", "a"), Cue(2500, 4000, "tip", "b", "b"))
    mix = Mixdown(cues, {"a": clip, "b": clip}, 5000, 22050, MixSettings(voice_db=12, ceiling_db=-3))
    whole = mix.render(0, mix.frames)
    for step in (1000, 4097):
        assert np.array_equal(np.concatenate(list(mix.chunks(step))), whole)
    assert np.abs(whole).max() <= 32768 * 10 ** (-3 / 20) + 1
    unlimited = mix.adjusted(ceiling_db=None).render(0, mix.frames)
    assert np.abs(unlimited).max() == 32767  # the same gain without the limiter clips


def test_limiter_holds_true_peaks_between_samples() -> None:
    rate = 44100
    n = np.arange(rate)
    # A quarter-rate sine sampled 45 degrees off its peaks: true peak 3 dB above the samples.
    x = (0.9 * np.sin(np.pi / 2 * n + np.pi / 4))[:, None]
    lim = Limiter(-6.0, rate)
    lo, hi = lim.window(rate // 4, rate // 2)
    padded = np.zeros((hi - lo, 1))
    padded[max(0, -lo) :] = x[max(0, lo) : max(0, lo) + hi - max(0, lo)][: hi - lo - max(0, -lo)]
    gains = lim.gains(padded)[rate // 4 - lo : rate // 4 - lo + rate // 2]
    assert abs(gains.mean() - 10 ** (-6 / 20) / 0.9) < 0.02


@pytest.mark.ffmpeg
@pytest.mark.parametrize("target", [-16.0, -20.0])
def test_encoded_file_measures_the_target(target: float, write_routine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    session = prepare(loader.load(write_routine(ROUTINE)), SpeechOptions(engine="fake"))
    out = tmp_path / "loud.mp3"
    report = render(session, out, RenderOptions(rate=22050, loudness=target, beeps=True))
    measured = loudness.measure_file(out)
    assert measured == report.measured
    assert abs(measured.integrated - target) <= 0.5, measured
    assert measured.true_peak <= -1.0, measured
