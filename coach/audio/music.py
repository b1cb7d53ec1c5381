"""The music bed: a file, or a folder's files in name order, laid under the whole session.

Tracks follow each other with an equal-power crossfade and start over when the playlist runs
out; the bed fades in at the start and out at the end of the session. Audio comes from ffmpeg
(any format it reads), decoded to float PCM in a subprocess and read in chunks: memory stays
small however long the session or the music. `render(start, count)` is a function of position
like the mixdown's; sequential reads (the file sink) never restart a decoder.
"""

from __future__ import annotations

import bisect
import io
import queue
import re
import subprocess
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from coach.errors import MediaError
from coach.tools import ffmpeg_path

CHANNELS = 2
CROSSFADE_MS = 3000
FADE_IN_MS = 1500
FADE_OUT_MS = 6000
HISTORY_MS = 2000  # kept behind each decoder's position, so re-reads a little back need no restart
IN_MEMORY_MS = 60_000  # shorter tracks are decoded once and kept (a short loop repeats many times)
MEMORY_TRACKS = 3
READ_FRAMES = 8192
PREFETCH_BLOCKS = 32  # of READ_FRAMES at most: a few seconds decoded ahead


def playlist(path: Path) -> list[Path]:
    """The playable files of `path` (a file, or a folder's files by name), probed with ffmpeg."""
    if not path.exists():
        raise MediaError(f"music {path} does not exist")
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")), key=_natural)
        playable = [p for p in files if _probe(p) is None]
        if not playable:
            raise MediaError(f"no music in folder {path}", "put audio files there (any format ffmpeg reads)")
        return playable
    problem = _probe(path)
    if problem is not None:
        raise MediaError(f"cannot use {path} as music: {problem}", "give an audio file ffmpeg reads (mp3, m4a, ogg, flac, wav...)")
    return [path]


def _natural(path: Path) -> list[object]:
    """'2 song' before '10 song'."""
    return [int(part) if part.isdigit() else part.casefold() for part in re.split(r"(\d+)", path.name)]


def _decode_command(path: Path, rate: int, channels: int, start_frame: int = 0, fmt: str = "f32le") -> list[str]:
    cmd = [ffmpeg_path(), "-v", "error", "-nostdin"]
    if start_frame:
        cmd += ["-ss", f"{start_frame / rate:.6f}"]
    return cmd + ["-i", str(path), "-map", "0:a:0", "-vn", "-ac", str(channels), "-ar", str(rate), "-f", fmt, "-"]


def _probe(path: Path) -> str | None:
    """None if ffmpeg decodes some audio from `path`, else why not."""
    cmd = _decode_command(path, 8000, 1, fmt="s16le")
    cmd[cmd.index("-i"):cmd.index("-i")] = ["-t", "0.05"]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0 or not done.stdout:
        return _reason(done.stderr.decode("utf-8", "replace"))
    return None


def _reason(stderr: str) -> str:
    """What ffmpeg's messages come to: no audio stream (an image, a video without sound) is
    said before ffmpeg's own advice about maps; else its last line."""
    if "matches no streams" in stderr:
        return "it has no audio (an image, or a video without sound?)"
    lines = stderr.strip().splitlines()
    line = lines[-1] if lines else "no audio in it"
    return line.split("] ", 1)[-1] if "] " in line else line


def _length(path: Path, rate: int) -> int:
    """Exact length in frames at `rate`, by decoding (headers only estimate)."""
    frames = 0
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(_decode_command(path, rate, 1, fmt="s16le"), stdout=subprocess.PIPE, stderr=errors)
        assert proc.stdout is not None
        while block := proc.stdout.read(1 << 16):
            frames += len(block) // 2
        proc.wait()
    return frames


def _decode_all(path: Path, rate: int) -> np.ndarray:
    pcm = subprocess.run(_decode_command(path, rate, CHANNELS), capture_output=True).stdout
    return np.frombuffer(pcm, dtype="<f4").reshape(-1, CHANNELS)


@dataclass(frozen=True)
class Placement:
    """One play of a track: where it starts in the bed, how long, and its fade lengths (frames)."""

    path: Path
    start: int
    length: int
    fade_in: int
    fade_out: int


def layout(tracks: list[Path], frames: int, rate: int, crossfade_ms: int = CROSSFADE_MS) -> tuple[Placement, ...]:
    """Plays of the tracks in order, over and over, crossfaded, until `frames` are covered."""
    lengths: dict[Path, int] = {}
    plays: list[list[object]] = []  # [path, start, length, fade_in, fade_out]
    position = 0
    n = 0
    while position < frames:
        path = tracks[n % len(tracks)]
        n += 1
        if path not in lengths:
            lengths[path] = _length(path, rate)
        length = lengths[path]
        if length <= 0:
            if all(lengths.get(t, 1) <= 0 for t in tracks):
                raise MediaError(f"no audio could be decoded from the music ({', '.join(t.name for t in tracks)})")
            continue
        if plays:
            prev = plays[-1]
            fade = min(crossfade_ms * rate // 1000, int(prev[2]) // 2, length // 2)  # type: ignore[call-overload]
            start = int(prev[1]) + int(prev[2]) - fade  # type: ignore[call-overload]
            prev[4] = fade
        else:
            fade = min(FADE_IN_MS * rate // 1000, length // 2)
            start = 0
        plays.append([path, start, length, fade, 0])
        position = start + length
    return tuple(Placement(*p) for p in plays)  # type: ignore[arg-type]


class _Stream:
    """One ffmpeg decoder reading a file forward from some frame, with a little history.

    A thread keeps reading the decoder's output a few blocks ahead, so ffmpeg decodes while the
    mix is being computed instead of waiting for each read.
    """

    def __init__(self, path: Path, rate: int) -> None:
        self.path = path
        self.rate = rate
        self.proc: subprocess.Popen[bytes] | None = None
        self.queue: queue.Queue[bytes | None] = queue.Queue(PREFETCH_BLOCKS)
        self.stop = threading.Event()
        self.pump: threading.Thread | None = None
        self.buf = np.zeros((0, CHANNELS), dtype=np.float32)
        self.buf_start = 0
        self.eof = False

    def _restart(self, frame: int) -> None:
        self.close()
        self.proc = subprocess.Popen(_decode_command(self.path, self.rate, CHANNELS, frame),
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.queue = queue.Queue(PREFETCH_BLOCKS)
        self.stop = threading.Event()
        self.pump = threading.Thread(target=_pump, args=(self.proc, self.queue, self.stop), daemon=True)
        self.pump.start()
        self.buf = np.zeros((0, CHANNELS), dtype=np.float32)
        self.buf_start = frame
        self.eof = False
        self.partial = b""

    def read(self, offset: int, count: int) -> np.ndarray:
        end_of_buf = self.buf_start + len(self.buf)
        if self.proc is None or offset < self.buf_start or offset > end_of_buf:
            self._restart(offset)
        parts = [self.buf]
        have = len(self.buf)
        want = offset + count - self.buf_start
        frame_bytes = CHANNELS * 4
        while have < want and not self.eof:
            data = self.queue.get()
            if data is None:
                self.eof = True
                break
            data = self.partial + data
            whole = len(data) // frame_bytes * frame_bytes
            self.partial = data[whole:]
            block = np.frombuffer(data[:whole], dtype="<f4").reshape(-1, CHANNELS)
            parts.append(block)
            have += len(block)
        self.buf = np.concatenate(parts) if len(parts) > 1 else self.buf
        out = np.zeros((count, CHANNELS), dtype=np.float32)
        got = self.buf[offset - self.buf_start : offset - self.buf_start + count]
        out[: len(got)] = got
        keep_from = max(0, min(offset, offset + count - HISTORY_MS * self.rate // 1000) - self.buf_start)
        if keep_from:
            self.buf = self.buf[keep_from:].copy()
            self.buf_start += keep_from
        return out

    def close(self) -> None:
        if self.proc is not None:
            self.stop.set()
            if self.proc.poll() is None:
                self.proc.kill()
            while self.pump is not None and self.pump.is_alive():
                try:
                    self.queue.get(timeout=0.05)  # unblock a pump waiting to put
                except queue.Empty:
                    pass
            self.proc.wait()
            if self.proc.stdout:
                self.proc.stdout.close()
            self.proc = None
            self.pump = None


def _pump(proc: subprocess.Popen[bytes], out: queue.Queue[bytes | None], stop: threading.Event) -> None:
    assert proc.stdout is not None
    try:
        while not stop.is_set():
            data = cast(io.BufferedReader, proc.stdout).read1(READ_FRAMES * CHANNELS * 4)
            if not data:
                break
            out.put(data)
    except (OSError, ValueError):
        pass
    if not stop.is_set():
        out.put(None)


class MusicBed:
    """Stereo float32 music for frames [0, frames) at `rate`, before any gain or ducking."""

    channels = CHANNELS

    def __init__(self, tracks: list[Path], frames: int, rate: int, crossfade_ms: int = CROSSFADE_MS) -> None:
        self.tracks = tracks
        self.frames = frames
        self.rate = rate
        self.plays = layout(tracks, frames, rate, crossfade_ms)
        self.fade_out = min(FADE_OUT_MS * rate // 1000, frames // 3)
        self._ends = [p.start + p.length for p in self.plays]  # increasing, like the starts
        self._streams: dict[int, _Stream] = {}
        self._memory: OrderedDict[Path, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_path(cls, path: Path, frames: int, rate: int) -> MusicBed:
        return cls(playlist(path), frames, rate)

    def _source(self, index: int, offset: int, count: int) -> np.ndarray:
        play = self.plays[index]
        if play.length * 1000 // self.rate <= IN_MEMORY_MS:
            audio = self._memory.get(play.path)
            if audio is None:
                audio = _decode_all(play.path, self.rate)
                self._memory[play.path] = audio
                while len(self._memory) > MEMORY_TRACKS:
                    self._memory.popitem(last=False)
            self._memory.move_to_end(play.path)
            out = np.zeros((count, CHANNELS), dtype=np.float32)
            got = audio[offset : offset + count]
            out[: len(got)] = got
            return out
        stream = self._streams.get(index)
        if stream is None:
            stream = self._streams[index] = _Stream(play.path, self.rate)
        return stream.read(offset, count)

    def render(self, start: int, count: int) -> np.ndarray:
        """(count, 2) float32; silence outside [0, frames)."""
        out = np.zeros((count, CHANNELS), dtype=np.float32)
        lo, hi = max(0, start), min(self.frames, start + count)
        if hi <= lo:
            return out
        with self._lock:
            history = HISTORY_MS * self.rate // 1000
            for index in [i for i in self._streams if self.plays[i].start + self.plays[i].length < lo - history]:
                self._streams.pop(index).close()
            for index in range(bisect.bisect_right(self._ends, lo), len(self.plays)):
                play = self.plays[index]
                if play.start >= hi:
                    break
                a, b = max(lo, play.start), min(hi, play.start + play.length)
                audio = self._source(index, a - play.start, b - a)
                t = np.arange(a - play.start, b - play.start, dtype=np.float64)
                gain = np.ones(b - a)
                if play.fade_in:
                    head = t < play.fade_in
                    gain[head] *= np.sin(0.5 * np.pi * (t[head] + 0.5) / play.fade_in)
                if play.fade_out:
                    tail = t >= play.length - play.fade_out
                    gain[tail] *= np.sin(0.5 * np.pi * (play.length - t[tail] - 0.5) / play.fade_out)
                out[a - start : b - start] += audio * gain[:, None].astype(np.float32)
        if self.fade_out and hi > self.frames - self.fade_out:
            at = np.arange(lo, hi)
            tail = at >= self.frames - self.fade_out
            ramp = np.sin(0.5 * np.pi * (self.frames - at[tail] - 0.5) / self.fade_out)
            out[lo - start : hi - start][tail] *= ramp[:, None].astype(np.float32)
        return out

    def close(self) -> None:
        with self._lock:
            for stream in self._streams.values():
                stream.close()
            self._streams.clear()
            self._memory.clear()

    def __enter__(self) -> MusicBed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
