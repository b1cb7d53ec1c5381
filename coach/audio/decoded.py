"""A file measured as a player decodes it: decoded in-process (MP3, by dr_mp3) or by ffmpeg (other
formats), fed to the in-process meter as the PCM arrives."""

from __future__ import annotations

import queue
import subprocess
import tempfile
import threading
from collections.abc import Generator
from pathlib import Path
from typing import IO

import numpy as np

from coach.audio.meter import Loudness, Meter
from coach.errors import EncoderError
from coach.tools import ffmpeg_path

SEGMENT_HOPS = 50  # the unit of work (5 s), as decoded


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

