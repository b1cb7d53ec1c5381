"""The encoder: PCM into an audio file (`write`), written into a temporary beside the target
(`staged`) that is renamed into place once it is whole.

ffmpeg writes the LAME/Xing header with encoder delay and padding only when its output is a
seekable file, so it writes to a real temporary file beside the target (never a pipe): decoders
that honour the header give back exactly the samples we sent, cues where the timeline says.
An MP3 of a Source (a Mixdown) is encoded by LAME in-process (lameenc), a long one in parts at
once, one thread per core, joined behind the Info frame of one frame ffmpeg encodes with the tags
(see mp3splice). Everything else, and a join the encoder's output does not fit, is one ffmpeg.
"""

from __future__ import annotations

import contextlib
import errno
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from coach.errors import CoachError, EncoderError, OutputError
from coach.files import atomic_write, scratch_error, write_error
from coach.interrupts import ctrl_c_held
from coach.output import mp3splice
from coach.progress import Frames
from coach.tools import ffmpeg_path, workers

if TYPE_CHECKING:  # numpy is imported where audio is encoded: the format checks run without it
    import numpy as np

FORMATS = {
    "mp3": ["-c:a", "libmp3lame", "-write_xing", "1", "-id3v2_version", "3"],
    "m4a": ["-c:a", "aac", "-movflags", "+faststart"],
    "ogg": ["-c:a", "libvorbis"],
    "wav": ["-c:a", "pcm_s16le"],
}
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


def check_format(fmt: str) -> None:
    """One clear error for a format coach cannot write."""
    if fmt not in FORMATS:
        raise CoachError(f"unknown format `{fmt}`", f"formats: {', '.join(FORMATS)}")


@contextlib.contextmanager
def staged(out: Path, suffix: str = "") -> Iterator[Path]:
    """A temporary file beside `out` to write into (files.atomic_write): renamed over `out` when
    the block ends, removed if it fails; a failed write is the one-line error about `out`."""
    try:
        with atomic_write(out, suffix=suffix) as tmp:
            yield tmp
    except OSError as exc:  # a folder that takes no new files (/proc, a full disk): about `out`, not the temporary
        raise write_error(exc, out) from None


def write(
    audio: Source | Iterable[np.ndarray],
    target: Path,
    options: EncodeOptions,
    progress: Frames | None = None,
    jobs: int | None = None,
    out: Path | None = None,
) -> None:
    """Encode `audio` (int16 chunks, interleaved, or a Source) into `target`, replacing what it
    holds; errors name `out` (the file the user asked for, when `target` is its temporary). A
    Source long enough is encoded as MP3 in up to `jobs` parts at once (default: one per core,
    at most 4), joined gaplessly (see mp3splice)."""
    check_format(options.format)
    named = out or target
    with tempfile.TemporaryDirectory(prefix="coach-encode-") as scratch:
        encoder = ffmpeg_path()
        boundaries = None if isinstance(audio, Iterable) else _split(audio, options, jobs)
        if boundaries is not None and not isinstance(audio, Iterable):
            done = progress.done if progress else 0
            try:
                _encode_parts(encoder, audio, boundaries, target, named, options, Path(scratch), progress)
            except mp3splice.SpliceError:
                boundaries = None  # an encoder that writes what the join does not expect: in one piece
                if progress:
                    progress.again(progress.done - done)  # the bar does not run to twice its length
        if boundaries is None:
            chunks = audio if isinstance(audio, Iterable) else _chunks(audio, 0, audio.frames, options.rate)
            _encode_one(encoder, chunks, target, named, options, Path(scratch), progress)


def _split(audio: Source, options: EncodeOptions, jobs: int | None) -> list[int] | None:
    """Where to cut a Source to encode it in parts ([]: one part, joined behind ffmpeg's Info
    frame all the same), or None to leave it to one ffmpeg."""
    if options.format != "mp3" or options.rate not in mp3splice.RATES:
        return None
    parts = min(workers(jobs), audio.frames // (PART_MIN_S * options.rate))
    if _lame(options) is None:
        return None  # a bitrate LAME cannot take as it is: ffmpeg's to round or refuse
    return mp3splice.split_points(audio.frames, parts, audio.silent) if parts >= 2 else []


def _chunks(audio: Source, start: int, end: int, rate: int) -> Iterator[np.ndarray]:
    for pos in range(start, end, rate):
        yield audio.render(pos, min(rate, end - pos))


def _command(encoder: str, options: EncodeOptions, target: Path, scratch: Path) -> list[str]:
    """ffmpeg reading PCM on stdin and writing `target`."""
    cmd = [encoder, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
           "-f", "s16le", "-ar", str(options.rate), "-ac", str(options.channels), "-i", "pipe:0"]
    if options.metadata is not None:
        meta = scratch / "metadata.txt"
        meta.write_text(options.metadata, encoding="utf-8")
        cmd += ["-f", "ffmetadata", "-i", str(meta), "-map", "0:a", "-map_metadata", "1", "-map_chapters", "1"]
    cmd += FORMATS[options.format]
    if options.format != "wav":
        cmd += ["-b:a", options.bitrate]
    if options.metadata is None:
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
                  scratch: Path, progress: Frames | None) -> None:
    """Encode the parts between `boundaries` at once, each by LAME in-process in a thread, while
    ffmpeg writes one frame of silence with the tags and the Info frame into `tmp`; then join the
    parts behind that frame."""
    edges = [0, *boundaries, audio.frames]
    targets = [scratch / f"part{i}.mp3" for i in range(len(edges) - 1)]
    lame = _lame(options)
    assert lame is not None  # _split leaves a bitrate LAME cannot take to one ffmpeg
    stop = threading.Event()
    counted = progress or Frames()

    procs: list[subprocess.Popen[bytes]] = []
    threads: list[threading.Thread] = []
    errors: list[BaseException] = []

    def encode(start: int, end: int, target: Path) -> None:
        try:
            _lame_part(lame(), _chunks(audio, start, end, options.rate), target, options.channels, counted, stop)
        except OSError as exc:  # the parts are in TMPDIR, which may be full when the output's disk is not
            errors.append(scratch_error(exc, scratch))
        except BaseException as exc:  # noqa: BLE001 (reported by the main thread)
            errors.append(exc)

    import numpy as np

    try:
        with ctrl_c_held():  # until every thread started is listed: the clean-up below joins them all
            procs.append(_start(_command(encoder, options, tmp, scratch)))
            _feed(procs[0], [np.zeros(mp3splice.SAMPLES_PER_FRAME * options.channels, np.int16)], options.channels, None)
            for i, target in enumerate(targets):
                thread = threading.Thread(target=encode, args=(edges[i], edges[i + 1], target), daemon=True)
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

    return f"lameenc {metadata.version('lameenc')}"


def _lame(options: EncodeOptions) -> Callable[[], Any] | None:
    """A maker of in-process LAME encoders for `options` (lameenc: no process, no pipe, and it
    lets go of the GIL while it encodes), or None for a bitrate it cannot take."""
    match = re.fullmatch(r"(\d+)k", options.bitrate)
    if match is None:
        return None
    import lameenc

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


@contextlib.contextmanager
def writing(out: Path) -> Iterator[None]:
    """A failed write in the block (tagging its temporary, say) as the one-line error about `out`
    that encoding gives: a full disk is the same message at any step."""
    from mutagen import MutagenError

    try:
        yield
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
