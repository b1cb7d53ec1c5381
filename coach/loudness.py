"""Loudness: measure (ITU-R BS.1770 / EBU R128, with ffmpeg's ebur128 meter) and master to a target.

The meter reads a stream, so measuring the mix takes constant memory: the mixdown is rendered
chunk by chunk into an ffmpeg process that only meters. Mastering measures the voice alone and
the music alone once, sets their gains (voice at the target, music `music_level_db` under it,
tones relative to the voice), then measures the whole mix through the true-peak limiter and
trims until the integrated loudness is on target. The same meter reads the encoded file after.
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from coach.errors import EncoderError
from coach.mixdown import Mixdown, MixSettings
from coach.tools import ffmpeg_path

TARGET_LUFS = -16.0
CEILING_DBTP = -1.0
# Lossy encoders add overshoot to peaks; the limiter aims this far under the ceiling.
CODEC_MARGIN_DB = {"mp3": 1.5, "m4a": 1.0, "ogg": 1.0, "wav": 0.2}
TOLERANCE_LU = 0.15
MAX_PASSES = 6  # for the voice alone, on its speech
MAX_SESSION_PASSES = 3  # for the voice over the whole session
SILENT_LUFS = -70.0  # the meter's absolute gate: below it there is nothing to measure
SINE_LUFS = -3.01  # a full-scale sine, for setting the tones' level
# Music 18 LU under the voice between cues stays under BS.1770's relative gate, so a file with
# music measures what the voice alone does.
MUSIC_LEVEL_DB = -18.0
DUCK_DB = 12.0

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Loudness:
    integrated: float  # LUFS; -inf when everything is gated out
    true_peak: float  # dBTP; -inf for silence, nan when not measured
    lra: float  # LU


def _value(pattern: str, text: str, required: bool = True) -> float:
    found = re.findall(pattern + r"\s*(-?(?:inf|nan|\d+(?:\.\d+)?))", text)
    if not found and not required:
        return math.nan
    if not found:
        raise EncoderError("could not read ffmpeg's loudness meter", "the ffmpeg in use may lack the ebur128 filter")
    value = float(found[-1])
    return -math.inf if math.isnan(value) else value


def _parse(stderr: str) -> Loudness:
    summary = stderr[stderr.rfind("Summary:"):]
    integrated = _value(r"I:", summary)
    return Loudness(
        integrated=-math.inf if integrated <= SILENT_LUFS else integrated,
        true_peak=_value(r"Peak:", summary, required=False),  # nan when not measured
        lra=_value(r"LRA:", summary),
    )


def _meter(true_peak: bool) -> list[str]:
    # True peak needs 4x oversampling, which doubles the meter's time: skipped where not needed.
    return ["-af", f"ebur128=peak={'true' if true_peak else 'none'}:framelog=verbose", "-f", "null", "-"]


class StreamMeter:
    """An ffmpeg process metering PCM as it is fed: `feed` chunks, then `result()`."""

    def __init__(self, rate: int, channels: int, sample_format: str = "f32le", true_peak: bool = True) -> None:
        self.channels = channels
        self.dtype = {"f32le": "<f4", "s16le": "<i2"}[sample_format]
        cmd = [ffmpeg_path(), "-hide_banner", "-nostats", "-nostdin", "-f", sample_format, "-ar", str(rate),
               "-ac", str(channels), "-i", "pipe:0", *_meter(true_peak)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def feed(self, chunk: np.ndarray) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(chunk.astype(self.dtype).tobytes())

    def result(self) -> Loudness:
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.close()
        stderr = self.proc.stderr.read().decode("utf-8", "replace")
        self.close()
        if self.proc.returncode != 0:
            raise EncoderError(f"the loudness meter failed: {stderr.strip().splitlines()[-1:] or 'unknown error'}")
        return _parse(stderr)

    def close(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()


def measure_stream(
    chunks: Iterable[np.ndarray], rate: int, channels: int, progress: Progress | None = None, true_peak: bool = True
) -> Loudness:
    """Loudness of float32 interleaved chunks (1.0 = full scale), streamed through the meter."""
    meter = StreamMeter(rate, channels, true_peak=true_peak)
    try:
        for chunk in chunks:
            meter.feed(chunk)
            if progress:
                progress(len(chunk) // channels)
        return meter.result()
    finally:
        meter.close()


def measure_file(path: Path) -> Loudness:
    """Loudness of an audio file as a player decodes it."""
    done = subprocess.run([ffmpeg_path(), "-hide_banner", "-nostats", "-nostdin", "-i", str(path), *_meter(True)],
                          capture_output=True)
    stderr = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        raise EncoderError(f"cannot measure {path}: {stderr.strip().splitlines()[-1:] or 'unknown error'}")
    return _parse(stderr)


def measure(mix: Mixdown, progress: Progress | None = None, true_peak: bool = True) -> Loudness:
    return measure_stream(mix.float_chunks(), mix.rate, mix.channels, progress, true_peak)


@dataclass(frozen=True)
class Mastering:
    """What mastering did: the final settings, the passes it took, and the mix as measured."""

    settings: MixSettings
    voice: Loudness
    music: Loudness | None
    mix: Loudness
    passes: int
    slope: float = 1.0  # dB of loudness per dB of gain, near the result (under 1 when limiting)


def master(
    mix: Mixdown,
    target_lufs: float = TARGET_LUFS,
    ceiling_dbtp: float = CEILING_DBTP,
    music_level_db: float = MUSIC_LEVEL_DB,
    duck_db: float = DUCK_DB,
    margin_db: float = 1.0,
    progress: Progress | None = None,
) -> tuple[Mixdown, Mastering]:
    """`mix` with the voice (speech and tones) at `target_lufs`, its true peaks under the ceiling
    (less `margin_db` for the encoder), and the music `music_level_db` under the voice.

    The voice is what is mastered: it stays on level whatever the music does. Its gain is found
    first on its speech alone, back to back (a fraction of the session's length); the limiter
    makes loudness grow slower than gain, so by the secant method. Then the voice over the whole
    session is measured and trimmed with the slope found. Each measurement is one streaming pass.
    """
    ceiling = ceiling_dbtp - margin_db
    # The voice is measured in mono; in both channels of a stereo file it measures 3 dB louder.
    voice_target = target_lufs - 10 * math.log10(mix.channels)
    reel = mix.speech_only()
    voice = measure(reel.with_settings(MixSettings(tones=False, music=False)), progress)
    passes = 1
    voice_db, slope = 0.0, 1.0
    if math.isfinite(voice.integrated):
        voice_db = voice_target - voice.integrated
        if voice.true_peak + voice_db > ceiling:
            limited = reel.with_settings(MixSettings(ceiling_db=ceiling, tones=False, music=False))

            def reel_at(gain_db: float) -> float:
                return measure(limited.adjusted(voice_db=gain_db), progress, true_peak=False).integrated

            voice_db, slope, tries = _solve(reel_at, voice_target, voice_db, 1.0)
            passes += tries
    music = None
    music_db = 0.0
    if mix.music is not None:
        music = measure(mix.with_settings(MixSettings(voice=False, tones=False, duck_db=0.0)), progress, true_peak=False)
        passes += 1
        if math.isfinite(music.integrated):
            music_db = target_lufs + music_level_db - music.integrated
    # Tones are sines: at this peak level a full-scale one is as loud as the voice (see tones.py).
    tones_db = voice_target - SINE_LUFS
    base = mix.settings
    settings = MixSettings(voice_db, tones_db, music_db, duck_db, ceiling, base.voice, base.tones, base.music)
    # The voice layer over the whole session, in mono (a stereo file has it in both channels).
    alone = mix.speech_only(gap_ms=None).with_settings(replace(settings, music=False))
    measured = voice

    def session_at(trim_db: float) -> float:
        nonlocal measured
        measured = measure(alone.with_settings(trimmed(alone.settings, trim_db)), progress, true_peak=False)
        return measured.integrated

    trim, slope, tries = _solve(session_at, voice_target, 0.0, slope, MAX_SESSION_PASSES)
    final = trimmed(settings, trim)
    return mix.with_settings(final), Mastering(final, voice, music, measured, passes + tries, slope)


def _solve(
    loudness_at: Callable[[float], float], target: float, gain: float, slope: float, max_tries: int = MAX_PASSES
) -> tuple[float, float, int]:
    """The gain (dB) at which `loudness_at` gives `target`, by the secant method from `gain`.
    Returns (gain, the last slope seen, measurements taken)."""
    tried: list[tuple[float, float]] = []
    for n in range(1, max_tries + 1):
        level = loudness_at(gain)
        error = target - level
        if not math.isfinite(error) or abs(error) <= TOLERANCE_LU:
            return gain, slope, n
        tried.append((gain, level))
        if len(tried) > 1:
            (g0, l0), (g1, l1) = tried[-2:]
            if g1 != g0:
                slope = min(1.0, max(0.1, (l1 - l0) / (g1 - g0)))
        gain += error / slope
    return gain, slope, max_tries


def trimmed(settings: MixSettings, trim_db: float) -> MixSettings:
    return MixSettings(settings.voice_db + trim_db, settings.tones_db + trim_db, settings.music_db + trim_db,
                       settings.duck_db, settings.ceiling_db, settings.voice, settings.tones, settings.music)
