"""ffmpeg's ebur128 meter, where the in-process one has nothing to gain: the music's tracks (any
format, decoded by ffmpeg anyway) and a mix with music as it is sent to the encoder (stereo with
no silence to skip, metered in a process beside the encoder)."""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import numpy as np

from coach.audio.meter import SILENT_LUFS, Loudness
from coach.errors import EncoderError
from coach.tools import ffmpeg_path


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

