"""Loudness: the encoded file measures the target, true peaks stay under the ceiling, and the
in-process meter reads files as ffmpeg's ebur128 does."""

from __future__ import annotations

import math
import re
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from coach.audio import decoded, limiter
from coach.audio import ebur128 as ffmpeg_ebur128
from coach.audio.limiter import Limiter
from coach.audio.meter import SILENT_LUFS, Loudness, Meter
from coach.audio.mixdown import Mixdown, MixSettings
from coach.output.render import RenderOptions, render
from coach.plan.scheduler import Cue
from coach.routine import loader
from coach.session import SpeechOptions, prepare
from coach.speech.clip import Clip
from coach.tools import ffmpeg_path

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
    integrated, true_peak = ebur128(out)  # ffmpeg's meter, the independent check
    assert abs(report.measured.integrated - integrated) <= 0.05, (report.measured, integrated)
    assert abs(report.measured.true_peak - true_peak) <= 0.2, (report.measured, true_peak)
    assert abs(integrated - target) <= 0.5, integrated
    assert true_peak <= -1.0, true_peak


def ebur128(path: Path) -> tuple[float, float]:
    """ffmpeg's ebur128 on `path` to three decimals (its summary prints one): integrated loudness
    (LUFS) and true peak (dBTP), from the metadata it attaches every 100 ms."""
    done = subprocess.run(
        [ffmpeg_path(), "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:a:0",
         "-af", "ebur128=peak=true:metadata=1,ametadata=mode=print:file=ebur128.txt", "-f", "null", "-"],
        cwd=path.parent, capture_output=True, check=True,
    )
    assert done.returncode == 0
    text = (path.parent / "ebur128.txt").read_text()
    integrated = float(re.findall(r"lavfi\.r128\.I=(-?[\d.]+)", text)[-1])
    peak = max(float(v) for v in re.findall(r"lavfi\.r128\.true_peaks_ch\d+=([\d.]+)", text))
    return (integrated if integrated > SILENT_LUFS else -math.inf), 20 * math.log10(peak)


def write_wav(path: Path, frames: np.ndarray, rate: int) -> Path:
    """`frames` ((frames, channels) int16) as a WAV file."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(frames.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames.astype("<i2").tobytes())
    return path


def encoded(path: Path, frames: np.ndarray, rate: int, bitrate: str) -> Path:
    source = write_wav(path.with_suffix(".src.wav"), frames, rate)
    subprocess.run([ffmpeg_path(), "-v", "error", "-y", "-i", str(source), "-c:a", "libmp3lame", "-b:a", bitrate,
                    str(path)], check=True)
    return path


def cues_and_silence(seconds: float, rate: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Speech-like bursts (sharp peaks) between stretches of digital silence, as a session is."""
    rng = np.random.default_rng(seed)
    out = np.zeros((int(seconds * rate), channels), dtype=np.int16)
    at = int(0.3 * rate)
    while at < len(out) - 3 * rate:
        burst = speechlike(rng.uniform(0.4, 2.5), rate, int(rng.integers(1 << 30)))
        out[at : at + len(burst)] = burst[:, None]
        at += len(burst) + int(rng.uniform(0.15, 6.0) * rate)
    return out


def music_bed(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Stereo, never silent: uncorrelated noise with a slow tremolo, under occasional bursts."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    tremolo = 0.6 + 0.4 * np.sin(np.arange(n) * 2 * np.pi * 0.3 / rate)
    bed = rng.standard_normal((n, 2)) * 1500 * tremolo[:, None]
    return np.clip(bed + cues_and_silence(seconds, rate, 2, seed + 1), -32768, 32767).astype(np.int16)


def _between_samples(seconds: float, rate: int) -> np.ndarray:
    """A quarter-rate sine sampled 45 degrees off its peaks (true peak 3 dB over the samples),
    faded in and out in bursts with silence between."""
    n = np.arange(int(seconds * rate))
    x = 0.5 * np.sin(np.pi / 2 * n + np.pi / 4) * np.maximum(0, np.sin(2 * np.pi * 0.5 * n / rate)) ** 2
    return np.round(x * 32767).astype(np.int16)[:, None]


def test_meter_is_the_same_however_the_pcm_is_cut() -> None:
    rate = 22050
    audio = music_bed(8, rate)
    audio[3 * rate : 5 * rate] = 0  # silence in the middle, ringing into it
    results = []
    for size in (len(audio), 1000, 4097, 2205 * 3):
        meter = Meter(rate, 2, full_scale=32768.0)
        for pos in range(0, len(audio), size):
            meter.feed(audio[pos : pos + size].reshape(-1))
        results.append(meter.result())
    for got in results[1:]:  # the same, but for FFTs of other sizes rounding otherwise
        assert got.true_peak == results[0].true_peak
        assert abs(got.integrated - results[0].integrated) < 1e-6
        assert abs(got.lra - results[0].lra) < 1e-6


@pytest.mark.parametrize("signal", ["speech", "music", "between"])
def test_meter_true_peak_is_the_largest_interpolated_value(signal: str) -> None:
    """Skipping the blocks whose sample peaks cannot beat the largest found changes nothing."""
    rate = 22050
    audio = {"speech": lambda: cues_and_silence(20, rate), "music": lambda: music_bed(10, rate),
             "between": lambda: _between_samples(4, rate)}[signal]() / 32768.0
    meter = Meter(rate, audio.shape[1])
    meter.feed(audio.reshape(-1))
    padded = np.concatenate((np.zeros((limiter.BLOCK, audio.shape[1])), audio,
                             np.zeros((-len(audio) % limiter.BLOCK + limiter.BLOCK, audio.shape[1]))))
    every = np.arange(len(padded) // limiter.BLOCK)
    brute = max(float(np.abs(audio).max()), float(limiter.between_peaks(padded, every).max()))
    assert meter.result().true_peak == 20 * math.log10(brute)


def test_a_silent_stream_measures_nothing() -> None:
    meter = Meter(22050, 1)
    meter.feed(np.zeros(22050 * 3))
    assert meter.result() == Loudness(-math.inf, -math.inf, 0.0)


@pytest.mark.ffmpeg
@pytest.mark.parametrize(("signal", "channels", "bitrate"), [
    ("speech", 1, "64k"),  # mostly digital silence, as a voice-only session
    ("music", 2, "128k"),  # no silence at all, as a session with a music bed
    ("between", 1, "wav"),  # the true peak between samples, losslessly
])
def test_meter_agrees_with_ffmpeg_on_files(signal: str, channels: int, bitrate: str, tmp_path: Path) -> None:
    rate = 44100
    audio = {"speech": lambda: cues_and_silence(60, rate), "music": lambda: music_bed(60, rate),
             "between": lambda: _between_samples(10, rate)}[signal]()
    path = (write_wav(tmp_path / "s.wav", audio, rate) if bitrate == "wav"
            else encoded(tmp_path / "s.mp3", audio, rate, bitrate))
    ours = decoded.measure_decoded(path, rate, channels)
    integrated, true_peak = ebur128(path)
    assert abs(ours.integrated - integrated) <= 0.05, (ours, integrated)
    assert abs(ours.true_peak - true_peak) <= 0.2, (ours, true_peak)
    assert abs(ours.lra - ffmpeg_ebur128.measure_file(path, true_peak=False).lra) <= 0.3


@pytest.mark.ffmpeg
@pytest.mark.parametrize("with_music", [False, True])
def test_rendered_files_measure_as_ffmpeg_does(with_music: bool, write_routine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    session = prepare(loader.load(write_routine(ROUTINE)), SpeechOptions(engine="fake"))
    music = None
    if with_music:
        music = write_wav(tmp_path / "bed.wav", music_bed(20, 44100, seed=3), 44100)
    out = tmp_path / "r.mp3"
    report = render(session, out, RenderOptions(music=music, beeps=True))
    integrated, true_peak = ebur128(out)
    assert abs(report.measured.integrated - integrated) <= 0.05, (report.measured, integrated)
    assert abs(report.measured.true_peak - true_peak) <= 0.2, (report.measured, true_peak)


@pytest.mark.ffmpeg
@pytest.mark.slow
def test_the_built_in_session_measures_as_ffmpeg_does(tmp_path: Path) -> None:
    session = prepare(loader.load(None), SpeechOptions(engine="fake"))
    out = tmp_path / "lower-back.mp3"
    report = render(session, out, RenderOptions())
    integrated, true_peak = ebur128(out)
    assert abs(report.measured.integrated - integrated) <= 0.05, (report.measured, integrated)
    assert abs(report.measured.true_peak - true_peak) <= 0.2, (report.measured, true_peak)
    assert abs(report.measured.lra - ffmpeg_ebur128.measure_file(out, true_peak=False).lra) <= 0.3


def test_a_damaged_mp3_is_one_clear_error(tmp_path: Path) -> None:
    from coach.errors import EncoderError

    path = tmp_path / "damaged.mp3"
    path.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(EncoderError, match=r"cannot measure .*damaged\.mp3: failed to init decoder$"):
        decoded.measure_decoded(path, 44100, 1)
