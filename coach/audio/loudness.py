"""Loudness: measure (ITU-R BS.1770 / EBU R128) and master to a target.

Meters. ffmpeg's ebur128 reads files and streams (the music's tracks, what is sent to the
encoder over a music bed, and the tests' independent check). In-process, the same standard:
`Meter` takes PCM as it comes (what is sent to the encoder, the encoded file as ffmpeg decodes
it) and K-weights only where there is sound, since a session is mostly digital silence between
cues; its true peak is interpolated only where a sample peak leaves room for it to beat the
largest found. And `voice_loudness` measures the voice layer without rendering it: each
distinct clip's K-weighted energy computed once and added up where the clips are placed.
Mastering sets the voice to the target with it, through the per-clip true-peak limiter, by
Newton steps; the music is set `music_level_db` under it from its tracks' loudness, tones
relative to the voice.
"""

from __future__ import annotations

import collections
import functools
import math
import os
import queue
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Generator, Hashable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from coach.audio import limiter
from coach.audio.mixdown import FULL_SCALE, Mixdown, MixSettings
from coach.audio.music import MusicBed
from coach.errors import EncoderError
from coach.tools import ffmpeg_path

TARGET_LUFS = -16.0
CEILING_DBTP = -1.0
# Lossy encoders add overshoot to peaks; the limiter aims this far under the ceiling.
CODEC_MARGIN_DB = {"mp3": 1.5, "m4a": 1.0, "ogg": 1.0, "wav": 0.2}
TOLERANCE_LU = 0.05
MAX_THREADS = 4  # for measuring the voice's clips at once
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
BLOCK_HOPS = 4
SHORT_TERM_HOPS = 30  # EBU Tech 3342's 3 s windows, for the loudness range
LRA_GATE_LU = -20.0
SEGMENT_HOPS = 50  # the in-process meter's unit of work (5 s), as decoded
PIECE_HOPS = 28  # the longest stretch K-weighted in one FFT (with its lead-in, under 2^17 frames at 44.1 kHz)


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


@functools.lru_cache(maxsize=64)
def _k_response(size: int, rate: int) -> np.ndarray:
    """The K-weighting's frequency response at the bins of a real FFT of `size` points (kept in
    single precision, half the memory: a part in 1e7 of the energy is far below what matters)."""
    z = np.exp(-2j * np.pi * np.arange(size // 2 + 1) / size)  # e^-jw at each bin
    response = np.ones(len(z), dtype=np.complex128)
    for b, a in _k_weighting(rate):
        response *= (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)
    return response.astype(np.complex64)


def _fft_size(n: int) -> int:
    """The smallest 2^k, 3 * 2^k or 5 * 2^k of at least `n`: numpy's FFT is fastest there, and a
    power of two alone would pad a signal up to twice its length."""
    return min(f << max(0, (-(-n // f) - 1).bit_length()) for f in (1, 3, 5))


def _k_weighted(samples: np.ndarray, rate: int, tail: int) -> np.ndarray:
    """The K-weighted signal of `samples` (along the first axis, 1.0 = full scale) followed by
    `tail` frames of silence, where the filters ring out. Filtered in the frequency domain (numpy
    has no IIR filter); the tail keeps the wrap-around of the circular convolution far below
    anything the meter resolves (the filters' ringing is ~1e-10 of the signal after 100 ms)."""
    n = len(samples) + tail
    size = _fft_size(n)
    response = _k_response(size, rate)
    if samples.ndim > 1:
        response = response[:, None]
    return np.fft.irfft(np.fft.rfft(samples, size, axis=0) * response, size, axis=0)[:n]


def _k_energy(samples: np.ndarray, rate: int, tail: int) -> np.ndarray:
    """Running sum of the squared K-weighted signal of mono `samples` followed by `tail` frames of
    silence: length len(samples) + tail + 1."""
    weighted = _k_weighted(samples, rate, tail)
    return np.concatenate(([0.0], np.cumsum(weighted * weighted)))


def voice_loudness(mix: Mixdown) -> Loudness:
    """The integrated loudness (BS.1770: 400 ms blocks every 100 ms, gated at -70 LUFS and 10 LU
    under the ungated mean) of `mix`'s voice layer, speech and tones, in mono, over the whole
    session, without rendering it: each part of it is filtered on its own (a distinct clip
    once) and its energy added into the 100 ms steps it covers."""
    return _voice_measure(mix)[0]


def _voice_measure(mix: Mixdown, unlimited: Mixdown | None = None) -> tuple[Loudness, float]:
    """`voice_loudness`, and with `unlimited` (the same mix without the limiter) an estimate of
    how many dB of loudness one more dB of gain would bring: the share of the voice's energy the
    limiter leaves alone (what it holds at the ceiling does not grow). 1.0 without `unlimited`."""
    hop = _hop(mix.rate)
    tail = hop  # the filters' ringing is ~1e-10 of the signal after 100 ms
    steps = np.zeros(-(-mix.frames // hop) + 1)
    shares: dict[Hashable, tuple[float, float]] = {}
    free = total = 0.0
    threads = min(os.cpu_count() or 1, MAX_THREADS)
    mix.prepare_clips(threads)
    plain = unlimited.voice_parts(apart=tail) if unlimited is not None else None
    energies: dict[Hashable, Future[np.ndarray]] = {}  # a distinct clip or tone's, kept; others' until used
    ahead: collections.deque[tuple[int, Hashable, np.ndarray]] = collections.deque()

    def add(start: int, name: Hashable, samples: np.ndarray) -> None:
        nonlocal free, total
        energy = (energies[name] if name is not None else energies.pop(("at", start))).result()
        first, last = start // hop, (start + len(energy) - 2) // hop
        bounds = np.clip(np.arange(first, last + 2) * hop - start, 0, len(energy) - 1)
        steps[first : last + 1] += np.diff(energy[bounds])
        if plain is not None:
            unlimited_samples = next(plain)[2]
            share = shares.get(name) if name is not None else None
            if share is None:
                untouched = np.abs(samples - unlimited_samples) <= 1e-6 * np.abs(unlimited_samples)
                power = samples * samples
                share = float(power[untouched].sum()), float(power.sum())
                if name is not None:
                    shares[name] = share
            free += share[0]
            total += share[1]

    # Parts are filtered on every core a few ahead of where they are added up (numpy's FFTs let go
    # of the GIL); only the distinct clips' energies are kept, so memory does not grow with length.
    with ThreadPoolExecutor(threads) as pool:
        for start, name, samples in mix.voice_parts(apart=tail):
            key = name if name is not None else ("at", start)
            if key not in energies:
                energies[key] = pool.submit(_k_energy, samples / FULL_SCALE, mix.rate, tail)
            ahead.append((start, name, samples))
            if len(ahead) > 4 * threads:
                add(*ahead.popleft())
        while ahead:
            add(*ahead.popleft())
    slope = free / total if total > 0 else 1.0
    return Loudness(_integrated(steps[: mix.frames // hop], hop), math.nan, math.nan), slope


def _hop(rate: int) -> int:
    return max(1, round(rate * HOP_S))


def _integrated(steps: np.ndarray, hop: int) -> float:
    """Integrated loudness from the K-weighted energy of each whole 100 ms step (channels summed):
    a 400 ms block ends at each step from the fourth on, as ffmpeg's ebur128 counts them."""
    if len(steps) < BLOCK_HOPS:
        return -math.inf
    return _gated(_windows(steps, BLOCK_HOPS) / (BLOCK_HOPS * hop))


def _windows(steps: np.ndarray, hops: int) -> np.ndarray:
    """The sums of every `hops` consecutive steps (rounding kept from making silence negative)."""
    sums = np.concatenate(([0.0], np.cumsum(steps)))
    return np.maximum(sums[hops:] - sums[:-hops], 0.0)


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


def _range(steps: np.ndarray, hop: int) -> float:
    """Loudness range (EBU Tech 3342): the spread between the 10th and 95th percentiles of the
    3 s short-term loudness every 100 ms, gated at -70 LUFS and 20 LU under their mean."""
    if len(steps) < SHORT_TERM_HOPS:
        return 0.0
    power = _windows(steps, SHORT_TERM_HOPS) / (SHORT_TERM_HOPS * hop)
    with np.errstate(divide="ignore"):
        level = -0.691 + 10 * np.log10(power)
    kept = power[level > SILENT_LUFS]
    if not len(kept):
        return 0.0
    relative = -0.691 + 10 * math.log10(float(kept.mean())) + LRA_GATE_LU
    level = level[(level > SILENT_LUFS) & (level > relative)]
    low, high = np.percentile(level, [10, 95])
    return float(high - low)


class Meter:
    """BS.1770 integrated loudness, loudness range and true peak, in-process, of interleaved PCM
    fed in order (`feed`, then `result()`; `full_scale` is what 1.0 is in the samples' units).

    Digital silence needs no filtering: each 100 ms step that is all zeros, and not just after
    sound (where the filters ring), has no energy. The rest is K-weighted in stretches, each with
    the 100 ms before it as lead-in for the filters' state, so how the PCM is cut into chunks does
    not matter. True peak: 4x interpolation as the limiter estimates it, exactly, but only in the
    blocks whose sample peak times the interpolator's bound can beat the largest peak found, the
    loudest first."""

    def __init__(self, rate: int, channels: int, true_peak: bool = True, full_scale: float = 1.0) -> None:
        self.rate, self.channels, self.full_scale = rate, channels, full_scale
        self.hop = _hop(rate)
        self._pending = np.zeros((0, channels))
        self._lead = np.zeros((self.hop, channels))  # the step before the pending frames
        self._sounding = False  # whether that step had sound
        self._steps: list[np.ndarray] = []
        self._true_peak = true_peak
        self._peak = 0.0
        self._carry = np.zeros((limiter.BLOCK, channels), np.float32)  # frames whose peaks are not yet known

    def feed(self, chunk: np.ndarray) -> None:
        frames = chunk.reshape(-1, self.channels)
        if self.full_scale != 1.0:
            frames = frames / self.full_scale
        pending = np.concatenate((self._pending, frames)) if len(self._pending) else frames
        whole = len(pending) // self.hop * self.hop
        if whole:
            self._steps.append(self._energies(pending[:whole]))
            if self._true_peak:
                self._peaks(pending[:whole])
        self._pending = pending[whole:]

    def result(self) -> Loudness:
        if self._true_peak:
            self._peaks(np.concatenate((self._pending, np.zeros((2 * limiter.BLOCK, self.channels)))))
        steps = np.concatenate(self._steps) if self._steps else np.zeros(0)
        integrated = _integrated(steps, self.hop)
        peak = (20 * math.log10(self._peak) if self._peak > 0 else -math.inf) if self._true_peak else math.nan
        return Loudness(integrated, peak, _range(steps, self.hop))

    def close(self) -> None:
        """Nothing to release (the same shape as StreamMeter)."""

    def _energies(self, audio: np.ndarray) -> np.ndarray:
        """The K-weighted energy of each step of `audio` (whole steps), channels summed."""
        hop, count = self.hop, len(audio) // self.hop
        sounding = np.any(audio.reshape(count, -1) != 0, axis=1)
        # A step after sound has the filters' ringing in it.
        busy = sounding | np.concatenate(([self._sounding], sounding[:-1]))
        energies = np.zeros(count)
        edges = np.flatnonzero(np.diff(np.concatenate(([0], busy.view(np.int8), [0]))))
        for first, end in zip(edges[::2], edges[1::2]):
            for lo in range(first, end, PIECE_HOPS):
                hi = min(end, lo + PIECE_HOPS)
                # The step before a stretch is silent unless the stretch starts this chunk of audio.
                lead = self._lead if lo == 0 else audio[(lo - 1) * hop : lo * hop]
                piece = np.concatenate((lead, audio[lo * hop : hi * hop])).astype(np.float64)
                weighted = _k_weighted(piece, self.rate, 0)[hop:]
                energies[lo:hi] = (weighted * weighted).reshape(hi - lo, -1).sum(axis=1)
        self._lead = audio[-hop:]
        self._sounding = bool(sounding[-1])
        return energies

    def _peaks(self, audio: np.ndarray) -> None:
        """Raise the true peak with `audio`: the blocks of it and the carried frames before it
        whose neighbours are all known; the rest is carried to the next call."""
        block = limiter.BLOCK
        audio = np.concatenate((self._carry, audio))
        count = len(audio) // block
        if count < 3:
            self._carry = audio
            return
        peaks = _block_peaks(audio[: count * block])
        # Block 0 was done last time (or is the silence before the start); the last waits for its neighbour.
        self._peak = max(self._peak, float(peaks[1:-1].max()))
        near = np.maximum(np.maximum(peaks[:-2], peaks[1:-1]), peaks[2:])
        candidates = np.flatnonzero(near * limiter.BOUND > self._peak) + 1
        candidates = candidates[np.argsort(-near[candidates - 1], kind="stable")]
        batch = 64  # small while the largest peak is still unknown, then large
        while len(candidates):
            self._peak = max(self._peak, float(limiter.between_peaks(audio, candidates[:batch]).max()))
            candidates = candidates[batch:]
            candidates = candidates[near[candidates - 1] * limiter.BOUND > self._peak]
            batch = min(1024, batch * 4)
        self._carry = audio[(count - 2) * block :]


def _block_peaks(audio: np.ndarray) -> np.ndarray:
    """`limiter.block_peaks`, faster on long silences: a max and a min over 128 blocks at a time
    first (reductions along a long axis are cheap), the blocks themselves only where those are
    not both zero."""
    group = 128 * limiter.BLOCK
    whole = len(audio) // group * group
    flat = audio[:whole].reshape(-1, group * audio.shape[1])
    sounding = np.flatnonzero((flat.max(axis=1) != 0) | (flat.min(axis=1) != 0))
    peaks = np.zeros((whole // group, 128))
    if len(sounding):
        peaks[sounding] = limiter.block_peaks(audio[:whole].reshape(-1, group, audio.shape[1])[sounding]
                                              .reshape(-1, audio.shape[1])).reshape(-1, 128)
    return np.concatenate((peaks.reshape(-1), limiter.block_peaks(audio[whole:])))


def measure_decoded(path: Path, rate: int, channels: int, true_peak: bool = True) -> Loudness:
    """Loudness and true peak of an audio file as a player decodes it: ffmpeg decodes (to `rate`
    and `channels`, the file's own), the in-process meter measures as the PCM arrives."""
    # Frames of a second, not the codec's ~26 ms: ffmpeg hands each frame between its threads.
    cmd = [ffmpeg_path(), "-hide_banner", "-nostats", "-nostdin", "-v", "error", "-i", str(path),
           "-map", "0:a:0", "-ac", str(channels), "-ar", str(rate), "-af", f"asetnsamples=n={rate}:p=0",
           "-f", "f32le", "-"]
    meter = Meter(rate, channels, true_peak)
    if path.suffix.lower() == ".mp3":
        _feed_mp3(path, meter)
        return meter.result()
    frame = 4 * channels
    with tempfile.TemporaryFile() as errors:  # a file: a damaged input's many errors cannot block ffmpeg
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors)
        assert proc.stdout is not None
        pieces = _read_ahead(proc.stdout, SEGMENT_HOPS * meter.hop * frame)
        try:
            for data in pieces:
                meter.feed(np.frombuffer(data, "<f4", len(data) // frame * channels))
        except BaseException:
            proc.kill()
            raise
        finally:
            pieces.close()
            proc.stdout.close()
            proc.wait()
        if proc.returncode != 0:
            errors.seek(0)
            last = errors.read().decode("utf-8", "replace").strip().splitlines()[-1:] or ["unknown error"]
            raise EncoderError(f"cannot measure {path}: {last[0]}")
    return meter.result()


def _feed_mp3(path: Path, meter: Meter) -> None:
    """Decode an MP3 in-process into `meter`: dr_mp3 (miniaudio, the live player's library) takes
    half ffmpeg's time, and trims the LAME priming and padding as ffmpeg does, to the sample."""
    import miniaudio

    try:
        for piece in miniaudio.stream_file(str(path), miniaudio.SampleFormat.FLOAT32, meter.channels, meter.rate,
                                           frames_to_read=SEGMENT_HOPS * meter.hop):
            meter.feed(np.frombuffer(piece, np.float32))
    except miniaudio.MiniaudioError as exc:
        raise EncoderError(f"cannot measure {path}: {exc.args[0] if exc.args else exc}") from None


def _read_ahead(stream: IO[bytes], size: int, depth: int = 3) -> Generator[bytes, None, None]:
    """`stream` in pieces of `size` bytes, read by a thread up to `depth` pieces ahead: the
    decoder keeps decoding while the meter works (a pipe alone holds a fraction of a second)."""
    pieces: queue.Queue[bytes] = queue.Queue(depth)
    stop = threading.Event()

    def offer(piece: bytes) -> bool:
        while not stop.is_set():
            try:
                pieces.put(piece, timeout=0.05)
                return True
            except queue.Full:
                pass
        return False

    def read() -> None:
        try:
            while (piece := stream.read(size)) and offer(piece):
                pass
        except (OSError, ValueError):  # closed under it: the reader has stopped anyway
            pass
        finally:
            offer(b"")

    thread = threading.Thread(target=read, name="coach-decode-reader", daemon=True)
    thread.start()
    try:
        while piece := pieces.get():
            yield piece
    finally:
        stop.set()
        thread.join()


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
    by Newton steps, each measurement estimating its own slope (the share of the energy the
    limiter leaves alone). Every measurement is in-process (`voice_loudness`), a fraction of a
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

    def voice_at(trim_db: float) -> tuple[float, float]:
        nonlocal measured
        limited = mix.with_settings(trimmed(settings, trim_db))
        measured, slope = _voice_measure(limited, limited.adjusted(ceiling_db=None))
        return measured.integrated, slope

    trim, slope, tries = _solve(voice_at, voice_target, 0.0)
    final = trimmed(settings, trim)
    passes = 1 + tries + (music is not None)
    return mix.with_settings(final), Mastering(final, speech, music, measured, passes, slope)


def _solve(
    loudness_at: Callable[[float], tuple[float, float]], target: float, gain: float, max_tries: int = MAX_TRIES
) -> tuple[float, float, int]:
    """The gain (dB) at which `loudness_at` gives `target`, from `gain`, by Newton steps on the
    slope it estimates with each level; a step that would leave the bracket found so far is
    replaced by the secant across it. Returns (gain, the last slope, measurements taken)."""
    below: tuple[float, float] | None = None  # (gain, level): the highest gain found under the target
    above: tuple[float, float] | None = None  # the lowest found over it
    slope = 1.0
    for n in range(1, max_tries + 1):
        level, slope = loudness_at(gain)
        slope = min(1.0, max(0.1, slope))
        error = target - level
        if not math.isfinite(error) or abs(error) <= TOLERANCE_LU:
            return gain, slope, n
        if error > 0 and (below is None or gain > below[0]):
            below = gain, level
        if error < 0 and (above is None or gain < above[0]):
            above = gain, level
        step = gain + error / slope
        if below is not None and above is not None and not below[0] < step < above[0]:
            (g0, l0), (g1, l1) = below, above
            step = g0 + (target - l0) * (g1 - g0) / (l1 - l0)
        gain = step
    return gain, slope, max_tries


def trimmed(settings: MixSettings, trim_db: float) -> MixSettings:
    return MixSettings(settings.voice_db + trim_db, settings.tones_db + trim_db, settings.music_db + trim_db,
                       settings.duck_db, settings.ceiling_db, settings.voice, settings.tones, settings.music)
