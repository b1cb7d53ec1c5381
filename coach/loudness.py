"""Loudness: measure (ITU-R BS.1770 / EBU R128) and master to a target.

Two meters. ffmpeg's ebur128 reads files and streams (the music, the encoded file, what is sent
to the encoder): the independent check. And one in-process for the voice layer: BS.1770 gating
discards silence, and the voice is clips with silence between them, so its K-weighted energy
is computed per distinct clip (once) and added up where the clips are placed; no pass over the
session. Mastering sets the voice to the target with it, through the per-clip true-peak
limiter, by the secant method; the music is set `music_level_db` under it from its tracks'
loudness, tones relative to the voice.
"""

from __future__ import annotations

import functools
import math
import re
import subprocess
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coach.errors import EncoderError
from coach.mixdown import FULL_SCALE, Mixdown, MixSettings
from coach.music import MusicBed
from coach.tools import ffmpeg_path

TARGET_LUFS = -16.0
CEILING_DBTP = -1.0
# Lossy encoders add overshoot to peaks; the limiter aims this far under the ceiling.
CODEC_MARGIN_DB = {"mp3": 1.5, "m4a": 1.0, "ogg": 1.0, "wav": 0.2}
TOLERANCE_LU = 0.05
MAX_TRIES = 8
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


def measure_file(path: Path, true_peak: bool = True, seconds: float | None = None, channels: int | None = None) -> Loudness:
    """Loudness of an audio file as a player decodes it (its first `seconds`, in `channels`)."""
    cmd = [ffmpeg_path(), "-hide_banner", "-nostats", "-nostdin"]
    cmd += ["-t", f"{seconds:.3f}"] if seconds is not None else []
    cmd += ["-i", str(path)]
    cmd += ["-map", "0:a:0", "-ac", str(channels)] if channels is not None else []
    done = subprocess.run([*cmd, *_meter(true_peak)], check=False, capture_output=True)
    stderr = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        raise EncoderError(f"cannot measure {path}: {stderr.strip().splitlines()[-1:] or 'unknown error'}")
    return _parse(stderr)


def measure(mix: Mixdown, progress: Progress | None = None, true_peak: bool = True) -> Loudness:
    return measure_stream(mix.float_chunks(), mix.rate, mix.channels, progress, true_peak)


def measure_music(bed: MusicBed) -> Loudness:
    """The music bed's loudness, from its tracks: each distinct one metered once as the bed
    decodes it (stereo), up to the longest stretch of it the session plays, and the results
    averaged in energy by how long each plays. The fades and crossfades are left out."""
    played: dict[Path, list[int]] = {}
    for play in bed.plays:
        frames = max(0, min(play.length, bed.frames - play.start))
        played.setdefault(play.path, []).append(frames)
    energy = weight = 0.0
    for path, plays in played.items():
        level = measure_file(path, true_peak=False, seconds=max(plays) / bed.rate, channels=bed.channels)
        weight += sum(plays)
        if math.isfinite(level.integrated):
            energy += sum(plays) * 10 ** (level.integrated / 10)
    integrated = 10 * math.log10(energy / weight) if energy > 0 else -math.inf
    return Loudness(integrated, math.nan, math.nan)


# BS.1770's K-weighting: a high shelf (+4 dB above about 1.7 kHz) then a high-pass at 38 Hz.
# Designed for any sample rate from the analogue prototypes, as libebur128 and ffmpeg do.
SHELF_HZ, SHELF_DB, SHELF_Q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
HIGHPASS_HZ, HIGHPASS_Q = 38.13547087602444, 0.5003270373238773
GATE_LU = -10.0  # relative gate
HOP_S = 0.1  # 400 ms blocks overlapping by 75%: a block every 100 ms


def _k_weighting(rate: int) -> list[tuple[tuple[float, float, float], tuple[float, float, float]]]:
    """The two biquads' (b, a) coefficients at `rate`."""
    k = math.tan(math.pi * SHELF_HZ / rate)
    vh = 10 ** (SHELF_DB / 20)
    vb = vh ** 0.4996667741545416
    a0 = 1 + k / SHELF_Q + k * k
    shelf = ((vh + vb * k / SHELF_Q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / SHELF_Q + k * k) / a0), \
        (1.0, 2 * (k * k - 1) / a0, (1 - k / SHELF_Q + k * k) / a0)
    k = math.tan(math.pi * HIGHPASS_HZ / rate)
    a0 = 1 + k / HIGHPASS_Q + k * k
    highpass = (1.0, -2.0, 1.0), (1.0, 2 * (k * k - 1) / a0, (1 - k / HIGHPASS_Q + k * k) / a0)
    return [shelf, highpass]


@functools.lru_cache(maxsize=32)
def _k_response(size: int, rate: int) -> np.ndarray:
    """The K-weighting's frequency response at the bins of a real FFT of `size` points."""
    z = np.exp(-1j * np.pi * np.arange(size // 2 + 1) / (size // 2))  # e^-jw at each bin
    response = np.ones(len(z), dtype=np.complex128)
    for b, a in _k_weighting(rate):
        response *= (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)
    return response


def _k_energy(samples: np.ndarray, rate: int, tail: int) -> np.ndarray:
    """Running sum of the squared K-weighted signal of `samples` (1.0 = full scale) followed by
    `tail` frames of silence, where the filters ring out: length len(samples) + tail + 1.
    Filtered in the frequency domain (numpy has no IIR filter); the tail keeps the wrap-around
    of the circular convolution far below anything the meter resolves."""
    n = len(samples) + tail
    size = 1 << max(1, (n - 1).bit_length())
    weighted = np.fft.irfft(np.fft.rfft(samples, size) * _k_response(size, rate), size)[:n]
    return np.concatenate(([0.0], np.cumsum(weighted * weighted)))


def voice_loudness(mix: Mixdown) -> Loudness:
    """The integrated loudness (BS.1770: 400 ms blocks every 100 ms, gated at -70 LUFS and 10 LU
    under the ungated mean) of `mix`'s voice layer, speech and tones, in mono, over the whole
    session, without rendering it: each part of it is filtered on its own (a distinct clip
    once) and its energy added into the 100 ms steps it covers."""
    hop = max(1, round(mix.rate * HOP_S))
    tail = hop  # the filters' ringing is ~1e-10 of the signal after 100 ms
    steps = np.zeros(-(-mix.frames // hop) + 3 + 1)  # 3 silent steps before: the first blocks fill up
    energies: dict[Hashable, np.ndarray] = {}
    for start, name, samples in mix.voice_parts(apart=tail):
        energy = energies.get(name) if name is not None else None
        if energy is None:
            energy = _k_energy(samples / FULL_SCALE, mix.rate, tail)
            if name is not None:
                energies[name] = energy
        first, last = start // hop, (start + len(energy) - 2) // hop
        bounds = np.clip(np.arange(first, last + 2) * hop - start, 0, len(energy) - 1)
        steps[3 + first : 3 + last + 1] += np.diff(energy[bounds])
    blocks = (steps[:-3] + steps[1:-2] + steps[2:-1] + steps[3:])[: mix.frames // hop] / (4 * hop)
    return Loudness(_gated(blocks), math.nan, math.nan)


def _gated(power: np.ndarray) -> float:
    """Integrated loudness from the blocks' mean squares."""
    with np.errstate(divide="ignore"):
        level = -0.691 + 10 * np.log10(power)
    kept = power[level > SILENT_LUFS]
    if not len(kept):
        return -math.inf
    relative = -0.691 + 10 * math.log10(float(kept.mean())) + GATE_LU
    kept = power[(level > SILENT_LUFS) & (level > relative)]
    return -0.691 + 10 * math.log10(float(kept.mean()))


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
) -> tuple[Mixdown, Mastering]:
    """`mix` with the voice (speech and tones) at `target_lufs`, its true peaks under the ceiling
    (less `margin_db` for the encoder), and the music `music_level_db` under the voice.

    The voice is what is mastered: it stays on level whatever the music does. Its speech alone,
    unlimited, gives the gain that would reach the target; the limiter then takes the peaks over
    the ceiling and makes loudness grow slower than gain, so the voice with its tones is trimmed
    by the secant method. Every measurement is in-process (`voice_loudness`), a fraction of a
    second; the music's tracks are metered once each.
    """
    ceiling = ceiling_dbtp - margin_db
    # The voice is measured in mono; in both channels of a stereo file it measures 3 dB louder.
    voice_target = target_lufs - 10 * math.log10(mix.channels)
    base = mix.settings
    speech = voice_loudness(mix.with_settings(MixSettings(tones=False, music=False)))
    voice_db = voice_target - speech.integrated if math.isfinite(speech.integrated) else 0.0
    music = measure_music(mix.music) if mix.music is not None else None
    music_db = 0.0
    if music is not None and math.isfinite(music.integrated):
        music_db = target_lufs + music_level_db - music.integrated
    # Tones are sines: at this peak level a full-scale one is as loud as the voice (see tones.py).
    tones_db = voice_target - SINE_LUFS
    settings = MixSettings(voice_db, tones_db, music_db, duck_db, ceiling, base.voice, base.tones, base.music)
    measured = speech

    def voice_at(trim_db: float) -> float:
        nonlocal measured
        measured = voice_loudness(mix.with_settings(trimmed(settings, trim_db)))
        return measured.integrated

    trim, slope, tries = _solve(voice_at, voice_target, 0.0, 1.0)
    final = trimmed(settings, trim)
    passes = 1 + tries + (music is not None)
    return mix.with_settings(final), Mastering(final, speech, music, measured, passes, slope)


def _solve(
    loudness_at: Callable[[float], float], target: float, gain: float, slope: float, max_tries: int = MAX_TRIES
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
