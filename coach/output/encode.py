"""The file sink: stream PCM chunks into ffmpeg, write a temporary file, rename it into place.

ffmpeg writes the LAME/Xing header with encoder delay and padding only when its output is a
seekable file, so it writes to a real temporary file beside the target (never a pipe): decoders
that honour the header give back exactly the samples we sent, cues where the timeline says.
An MP3 of a Source (a Mixdown) is encoded by LAME in-process (lameenc), a long one in parts at
once, one thread per core, joined behind the Info frame of one frame ffmpeg encodes with the tags
(see mp3splice); without lameenc an ffmpeg encodes each part.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from coach.errors import EncoderError, OutputError
from coach.files import atomic_write, check_output, scratch_error, write_error
from coach.interrupts import ctrl_c_held
from coach.output import mp3splice
from coach.tools import ffmpeg_path

FORMATS = {
    "mp3": ["-c:a", "libmp3lame", "-write_xing", "1", "-id3v2_version", "3"],
    "m4a": ["-c:a", "aac", "-movflags", "+faststart"],
    "ogg": ["-c:a", "libvorbis"],
    "wav": ["-c:a", "pcm_s16le"],
}
MAX_PARTS = 4  # MP3 encoded in at most this many parts at once
LAME_QUALITY = 3  # LAME's own default, which ffmpeg keeps: full noise shaping and psychoacoustics
PART_MIN_S = 60  # and none shorter than this: each encoder costs a process start


@dataclass(frozen=True)
class EncodeOptions:
    format: str = "mp3"
    rate: int = 44100
    channels: int = 1
    bitrate: str = "64k"
    tags: Mapping[str, str] = field(default_factory=dict)
    metadata: str | None = None  # an ffmetadata file's text: tags and chapters (replaces `tags`)


MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


def check_settings(options: EncodeOptions) -> None:
    """Fail before any audio work if the encoder cannot take these settings: an MP3 rate LAME
    would change silently, or a rate and bitrate the Vorbis or AAC encoder refuses (it is asked,
    with a tenth of a second of silence)."""
    if options.format == "mp3" and options.rate not in MP3_RATES:
        raise EncoderError(f"MP3 has no sample rate of {options.rate} Hz",
                           f"use one of {', '.join(str(r) for r in MP3_RATES)}")
    if options.format not in ("ogg", "m4a"):
        return
    silence = bytes(2 * options.channels * (options.rate // 10))
    with tempfile.TemporaryDirectory(prefix="coach-probe-") as scratch:
        cmd = _command(ffmpeg_path(), replace(options, metadata=None, tags={}), Path(scratch) / f"probe.{options.format}",
                       Path(scratch))
        try:
            done = subprocess.run(cmd, input=silence, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EncoderError(f"cannot start the encoder {cmd[0]}: {exc}") from None
    if done.returncode != 0:
        raise EncoderError(f"{options.format} cannot be encoded at {options.rate} Hz and {options.bitrate}"
                           f" ({'stereo' if options.channels == 2 else 'mono'})",
                           "try 44100 or 48000 Hz, or another --bitrate")


class Source(Protocol):
    """Audio that can be rendered from any position (a Mixdown): what lets the encoder work in parts."""

    frames: int
    channels: int

    def render(self, start: int, count: int) -> np.ndarray: ...

    def silent(self, start: int, count: int) -> bool: ...


def write(
    audio: Source | Iterable[np.ndarray],
    out: Path,
    options: EncodeOptions,
    finish: Callable[[Path], None] | None = None,
    progress: Callable[[int], None] | None = None,
    jobs: int | None = None,
) -> None:
    """Encode `audio` (int16 chunks, interleaved, or a Source) to `out` atomically. `finish(tmp)`
    may tag the file first. A Source long enough is encoded as MP3 in up to `jobs` parts at
    once (default: one per core, at most 4), joined gaplessly (see mp3splice)."""
    check_output(out)
    if options.format not in FORMATS:
        raise EncoderError(f"unknown format `{options.format}`", f"formats: {', '.join(FORMATS)}")
    with tempfile.TemporaryDirectory(prefix="coach-encode-") as scratch:
        encoder = ffmpeg_path()  # before the temporary file exists: a missing tool leaves nothing behind
        try:
            with atomic_write(out, suffix=f".{options.format}") as tmp:
                boundaries = None if isinstance(audio, Iterable) else _split(audio, options, jobs)
                if boundaries is not None and not isinstance(audio, Iterable):
                    counted = _Counted(progress)
                    try:
                        _encode_parts(encoder, audio, boundaries, tmp, out, options, Path(scratch), counted)
                    except mp3splice.SpliceError:
                        boundaries = None  # an encoder that writes what the join does not expect: in one piece
                        progress = counted.again()
                if boundaries is None:
                    chunks = audio if isinstance(audio, Iterable) else _chunks(audio, 0, audio.frames, options.rate)
                    _encode_one(encoder, chunks, tmp, out, options, Path(scratch), progress)
                if finish:
                    _finish(finish, tmp, out)
        except OSError as exc:  # a folder that takes no new files (/proc, a full disk): about `out`, not the temporary
            raise write_error(exc, out) from None


class _Counted:
    """Progress passed on, and counted: a second pass over the same audio reports only what goes
    past the first (`again`), so the bar does not run to twice its length."""

    def __init__(self, progress: Callable[[int], None] | None) -> None:
        self.progress, self.frames = progress, 0

    def __call__(self, frames: int) -> None:
        self.frames += frames
        if self.progress:
            self.progress(frames)

    def again(self) -> Callable[[int], None] | None:
        if self.progress is None:
            return None
        done, seen, progress = self.frames, 0, self.progress

        def beyond(frames: int) -> None:
            nonlocal seen
            new = max(0, seen + frames - max(seen, done))
            seen += frames
            if new:
                progress(new)

        return beyond


def encoders(jobs: int | None) -> int:
    """How many MP3 encoders run at once for `jobs` (None: one per core, at most MAX_PARTS)."""
    return jobs if jobs is not None else min(os.cpu_count() or 1, MAX_PARTS)


def _split(audio: Source, options: EncodeOptions, jobs: int | None) -> list[int] | None:
    """Where to cut a Source to encode it in parts ([]: one part, joined behind ffmpeg's Info
    frame all the same), or None to leave it to one ffmpeg."""
    if options.format != "mp3" or options.rate not in mp3splice.RATES:
        return None
    parts = min(encoders(jobs), audio.frames // (PART_MIN_S * options.rate))
    boundaries = mp3splice.split_points(audio.frames, parts, audio.silent) if parts >= 2 else []
    if not boundaries and _lame(options) is None:
        return None  # one part, by ffmpeg: as well in one go
    return boundaries


def _chunks(audio: Source, start: int, end: int, rate: int) -> Iterator[np.ndarray]:
    for pos in range(start, end, rate):
        yield audio.render(pos, min(rate, end - pos))


def _command(encoder: str, options: EncodeOptions, target: Path, scratch: Path, bare: bool = False) -> list[str]:
    """ffmpeg reading PCM on stdin and writing `target`; `bare`: MP3 frames only (no tags, no Info frame)."""
    cmd = [encoder, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
           "-f", "s16le", "-ar", str(options.rate), "-ac", str(options.channels), "-i", "pipe:0"]
    if options.metadata is not None and not bare:
        meta = scratch / "metadata.txt"
        meta.write_text(options.metadata, encoding="utf-8")
        cmd += ["-f", "ffmetadata", "-i", str(meta), "-map", "0:a", "-map_metadata", "1", "-map_chapters", "1"]
    cmd += FORMATS[options.format]
    if options.format != "wav":
        cmd += ["-b:a", options.bitrate]
    if bare:
        cmd += ["-write_xing", "0", "-id3v2_version", "0"]
    elif options.metadata is None:
        for key, value in options.tags.items():
            cmd += ["-metadata", f"{key}={value}"]
    return cmd + ["-f", {"m4a": "mp4"}.get(options.format, options.format), str(target)]


def _start(cmd: list[str]) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        raise EncoderError(f"cannot start the encoder {cmd[0]}: {exc.strerror or exc}") from None


def _feed(proc: subprocess.Popen[bytes], chunks: Iterable[np.ndarray], channels: int,
          progress: Callable[[int], None] | None) -> None:
    assert proc.stdin is not None
    try:
        for chunk in chunks:
            proc.stdin.write(chunk.astype("<i2").tobytes())
            if progress:
                progress(len(chunk) // channels)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # the encoder stopped: its exit status and message say why


def _wait(proc: subprocess.Popen[bytes], out: Path) -> None:
    stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if proc.wait() != 0:
        raise _failure(stderr, out)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stderr:
            proc.stderr.close()


def _encode_one(encoder: str, chunks: Iterable[np.ndarray], tmp: Path, out: Path, options: EncodeOptions,
                scratch: Path, progress: Callable[[int], None] | None) -> None:
    proc = _start(_command(encoder, options, tmp, scratch))
    try:
        _feed(proc, chunks, options.channels, progress)
        _wait(proc, out)
    finally:
        _stop([proc])


def _encode_parts(encoder: str, audio: Source, boundaries: list[int], tmp: Path, out: Path, options: EncodeOptions,
                  scratch: Path, progress: Callable[[int], None] | None) -> None:
    """Encode the parts between `boundaries` at once, each by its own encoder in a thread (LAME
    in-process when lameenc is installed, else an ffmpeg each), while ffmpeg writes one frame of
    silence with the tags and the Info frame into `tmp`; then join the parts behind that frame."""
    edges = [0, *boundaries, audio.frames]
    targets = [scratch / f"part{i}.mp3" for i in range(len(edges) - 1)]
    lame = _lame(options)
    lock = threading.Lock()
    stop = threading.Event()

    def counted(frames: int) -> None:
        with lock:
            if progress:
                progress(frames)

    procs: list[subprocess.Popen[bytes]] = []
    threads: list[threading.Thread] = []
    errors: list[BaseException] = []

    def feed(proc: subprocess.Popen[bytes], start: int, end: int) -> None:
        try:
            _feed(proc, _chunks(audio, start, end, options.rate), options.channels, counted)
        except BaseException as exc:  # noqa: BLE001 (reported by the main thread)
            errors.append(exc)

    def encode(start: int, end: int, target: Path) -> None:
        assert lame is not None
        try:
            _lame_part(lame(), _chunks(audio, start, end, options.rate), target, options.channels, counted, stop)
        except OSError as exc:  # the parts are in TMPDIR, which may be full when the output's disk is not
            errors.append(scratch_error(exc, scratch))
        except BaseException as exc:  # noqa: BLE001 (reported by the main thread)
            errors.append(exc)

    try:
        with ctrl_c_held():  # until every thread started is listed: the clean-up below joins them all
            procs.append(_start(_command(encoder, options, tmp, scratch)))
            _feed(procs[0], [np.zeros(mp3splice.SAMPLES_PER_FRAME * options.channels, np.int16)], options.channels, None)
            for i, target in enumerate(targets):
                if lame is not None:
                    thread = threading.Thread(target=encode, args=(edges[i], edges[i + 1], target), daemon=True)
                else:
                    procs.append(_start(_command(encoder, options, target, scratch, bare=True)))
                    thread = threading.Thread(target=feed, args=(procs[-1], edges[i], edges[i + 1]), daemon=True)
                thread.start()
                threads.append(thread)
        for thread in threads:
            while thread.is_alive():
                thread.join(0.1)  # in short waits, so that Ctrl-C reaches this thread
        if errors:
            raise errors[0]
        for proc in procs:
            _wait(proc, out)
    finally:
        stop.set()
        _stop(procs)
        for thread in threads:
            thread.join()
    try:
        mp3splice.join(tmp, targets, [0, *boundaries], audio.frames)
    except OSError as exc:
        raise write_error(exc, out) from None


def mp3_encoder() -> str:
    """What encodes MP3 parts here, with its version: what a remembered mastering depends on."""
    from importlib import metadata

    try:
        return f"lameenc {metadata.version('lameenc')}"
    except metadata.PackageNotFoundError:
        return "ffmpeg"


def _lame(options: EncodeOptions) -> Callable[[], Any] | None:
    """A maker of in-process LAME encoders for `options` (lameenc: no process, no pipe, and it
    lets go of the GIL while it encodes), or None without lameenc or for a bitrate it cannot take."""
    match = re.fullmatch(r"(\d+)k", options.bitrate)
    if match is None:
        return None
    try:
        import lameenc
    except ImportError:
        return None

    def make() -> Any:
        lame = lameenc.Encoder()
        lame.set_bit_rate(int(match.group(1)))
        lame.set_in_sample_rate(options.rate)
        lame.set_out_sample_rate(options.rate)  # else LAME picks a rate for the bitrate: not the Info frame's
        lame.set_channels(options.channels)
        lame.set_quality(LAME_QUALITY)
        return lame

    return make


def _lame_part(lame: Any, chunks: Iterable[np.ndarray], target: Path, channels: int,
               progress: Callable[[int], None], stop: threading.Event) -> None:
    """Encode `chunks` into `target`: bare MP3 frames, as the join takes them."""
    def encoded(step: Callable[..., bytes], *args: bytes) -> bytes:
        try:
            return step(*args)
        except RuntimeError as exc:  # lameenc's only error
            raise EncoderError(f"the MP3 encoder failed: {exc}") from None

    started = False
    with target.open("wb") as sink:
        for chunk in chunks:
            if stop.is_set():
                return
            sink.write(encoded(lame.encode, chunk.astype("<i2").tobytes()))
            started = True
            progress(len(chunk) // channels)
        if started:  # (lameenc refuses to flush what never started; no frames: the join refuses it)
            sink.write(encoded(lame.flush))


def _finish(finish: Callable[[Path], None], tmp: Path, out: Path) -> None:
    """Run the tagging step; a full disk there is the same one-line error as during encoding."""
    from mutagen import MutagenError

    try:
        finish(tmp)
    except (OSError, MutagenError) as exc:
        cause = exc if isinstance(exc, OSError) else exc.__cause__ or exc.__context__
        if isinstance(cause, OSError):
            raise write_error(cause, out) from None
        raise


def _failure(stderr: str, out: Path) -> Exception:
    last = stderr.strip().splitlines()[-1] if stderr.strip() else "unknown error"
    if "No space left" in stderr:
        return write_error(OSError(errno.ENOSPC, "No space left on device"), out)
    if "Permission denied" in stderr:
        return OutputError(f"cannot write {out}: permission denied")
    return EncoderError(f"the encoder failed: {last}")
