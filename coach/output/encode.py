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

import collections
import contextlib
import errno
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from coach.audio.meter import Loudness
from coach.errors import EncoderError, OutputError
from coach.files import atomic_write, scratch_error, write_error
from coach.interrupts import ctrl_c_held
from coach.output import mp3splice, parts_cache, parts_meter
from coach.output.formats import EncodeOptions, check_format, command
from coach.output.parts_cache import PartsCache, PcmHash
from coach.output.parts_meter import PartLevel
from coach.progress import Frames
from coach.tools import ffmpeg_path, workers

LAME_QUALITY = 3  # LAME's own default, which ffmpeg keeps: full noise shaping and psychoacoustics
SILENCE_PART_FRAMES = 512  # the longest silent part (13 s at 44.1 kHz): longer silences are several
RECENT_LEVELS = 256  # parts' levels kept in a render for parts with the same PCM (the silence above all)
KEEP_PCM_S = 30  # a part's PCM kept while its key is made, to encode it if it must be (longer: rendered again)


class Source(Protocol):
    """Audio that can be rendered from any position (a Mixdown): what lets the encoder work in parts."""

    frames: int
    channels: int

    def render(self, start: int, count: int) -> np.ndarray: ...

    def silent(self, start: int, count: int) -> bool: ...


@contextlib.contextmanager
def staged(out: Path, suffix: str = "") -> Iterator[Path]:
    """A temporary file beside `out` to write into (files.atomic_write): renamed over `out` when
    the block ends, removed if it fails; a failed write is the one-line error about `out`."""
    try:
        with atomic_write(out, suffix=suffix) as tmp:
            yield tmp
    except OSError as exc:  # a folder that takes no new files (/proc, a full disk): about `out`, not the temporary
        raise write_error(exc, out) from None


@dataclass(frozen=True)
class PartCounts:
    """What an MP3 encoded in parts took: parts encoded, and parts whose frames were reused (from
    the parts cache, or from a part with the same PCM in the same render)."""

    encoded: int = 0
    reused: int = 0
    keys: tuple[tuple[int, int, str], ...] = ()  # with reuse: each part's (first frame, end, key)
    level: Loudness | None = None  # with reuse: the file as decoded, measured from its parts (parts_meter)


def write(
    audio: Source | Iterable[np.ndarray],
    target: Path,
    options: EncodeOptions,
    progress: Frames | None = None,
    jobs: int | None = None,
    out: Path | None = None,
    reuse: PartsCache | None = None,
) -> PartCounts | None:
    """Encode `audio` (int16 chunks, interleaved, or a Source) into `target`, replacing what it
    holds; errors name `out` (the file the user asked for, when `target` is its temporary). A
    Source is encoded as MP3 in parts (see mp3splice.plan), up to `jobs` at once (default: one
    per core, at most 4), joined gaplessly; with `reuse`, a part whose PCM was encoded before
    (in this render, or in the cache) is not encoded again. Returns the parts' counts (None:
    encoded in one piece)."""
    check_format(options.format)
    named = out or target
    with tempfile.TemporaryDirectory(prefix="coach-encode-") as scratch:
        encoder = ffmpeg_path()
        plan = None if isinstance(audio, Iterable) else _split(audio, options)
        if plan is not None and not isinstance(audio, Iterable):
            done = progress.done if progress else 0
            try:
                return _encode_parts(encoder, audio, plan, target, named, options, Path(scratch), progress,
                                     workers(jobs), reuse)
            except mp3splice.SpliceError:
                # an encoder that writes what the join does not expect: in one piece
                if progress:
                    progress.again(progress.done - done)  # the bar does not run to twice its length
        chunks = audio if isinstance(audio, Iterable) else _chunks(audio, 0, audio.frames, options.rate)
        _encode_one(encoder, chunks, target, named, options, Path(scratch), progress)
    return None


def _split(audio: Source, options: EncodeOptions) -> list[mp3splice.Part] | None:
    """The parts to encode a Source in (one part where nothing is silent, joined behind ffmpeg's
    Info frame all the same), or None to leave it to one ffmpeg."""
    if options.format != "mp3" or options.rate not in mp3splice.RATES or _lame(options) is None:
        return None  # (a bitrate LAME cannot take as it is: ffmpeg's to round or refuse)
    return mp3splice.plan(audio.frames, audio.silent, SILENCE_PART_FRAMES)


def _chunks(audio: Source, start: int, end: int, rate: int) -> Iterator[np.ndarray]:
    for pos in range(start, end, rate):
        yield audio.render(pos, min(rate, end - pos))


def _command_in(encoder: str, options: EncodeOptions, target: Path, scratch: Path) -> list[str]:
    """The encoder's command; its metadata file is written in `scratch` (under TMPDIR), and a
    failure there is told about TMPDIR, not about the output."""
    try:
        return command(encoder, options, target, scratch)
    except OSError as exc:
        raise scratch_error(exc, scratch) from None


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
    proc = _start(_command_in(encoder, options, tmp, scratch))
    try:
        _feed(proc, chunks, options.channels, progress)
        _wait(proc, out)
    finally:
        _stop([proc])


def _encode_parts(encoder: str, audio: Source, plan: list[mp3splice.Part], tmp: Path, out: Path,
                  options: EncodeOptions, scratch: Path, progress: Frames | None, threads: int,
                  reuse: PartsCache | None) -> PartCounts:
    """Encode the parts of `plan`, `threads` at once, each by LAME in-process from its own PCM
    (or found again, with `reuse`), while ffmpeg writes one frame of silence with the tags and
    the Info frame into `tmp`; then join the parts behind that frame."""
    lame = _lame(options)
    assert lame is not None  # _split leaves a bitrate LAME cannot take to one ffmpeg
    settings = parts_cache.settings_key(options.rate, options.channels, options.bitrate, LAME_QUALITY, mp3_encoder())
    silence = PcmHash(settings, SILENCE_PART_FRAMES * mp3splice.SAMPLES_PER_FRAME)
    silence.update(np.zeros(SILENCE_PART_FRAMES * mp3splice.SAMPLES_PER_FRAME * options.channels, np.int16))
    silence_key = silence.key()
    stop = threading.Event()
    counted = progress or Frames()
    targets: list[Path | None] = [None] * len(plan)
    keys: list[str] = [""] * len(plan)
    placed = parts_meter.Levels(audio.frames, options.rate)  # the file's level, from the parts'
    recent: collections.OrderedDict[str, PartLevel | None] = collections.OrderedDict()  # for parts met again

    def level_of(key: str, level: PartLevel | None = None, known: bool = False) -> PartLevel | None:
        """A part's level, remembered for the next part with the same key (the last few only:
        one forgotten is read from the cache again; not there, the file is measured as decoded)."""
        with lock:
            if known:
                recent[key] = level
                if len(recent) > RECENT_LEVELS:
                    recent.move_to_end(silence_key)  # (the silence, met all along, is never forgotten)
                    recent.popitem(last=False)
            elif key in recent:
                recent.move_to_end(key)
            elif reuse is not None:  # forgotten: as stored with the part (if the cache could keep it)
                found = reuse.get(key)
                return PartLevel.from_bytes(found[1]) if found is not None else None
            return recent.get(key)
    lock = threading.Lock()
    made: dict[str, tuple[threading.Event, list[Path]]] = {}  # key: done, and the file once made
    counts = {"encoded": 0, "reused": 0}
    todo = iter(range(len(plan)))

    def count(what: str) -> None:
        with lock:
            counts[what] += 1

    def pcm(part: mp3splice.Part) -> Iterator[np.ndarray]:
        if part.silent and reuse is not None:  # the first frames of the one silent entry
            count = SILENCE_PART_FRAMES * mp3splice.SAMPLES_PER_FRAME
            return iter([np.zeros(count * options.channels, np.int16)])
        return _chunks(audio, part.start, part.end, options.rate)

    def key_of(part: mp3splice.Part, known: bool = True) -> tuple[str | None, list[np.ndarray] | None]:
        """The part's key (None without reuse) and its PCM when short enough to keep; `known`:
        the key remembered for it, if any, without rendering (then no PCM)."""
        if reuse is None:
            return None, None
        if part.silent:
            return silence_key, None
        if known and (part.start, part.end) in reuse.known:
            return reuse.known[part.start, part.end], None
        digest = PcmHash(settings, part.end - part.start)
        kept: list[np.ndarray] | None = []
        for chunk in pcm(part):
            digest.update(chunk)
            if kept is not None:
                kept.append(chunk)
                if len(kept) > KEEP_PCM_S:
                    kept = None  # rendered again if it must be encoded
        return digest.key(), kept

    def one(i: int) -> None:
        part = plan[i]
        key, kept = key_of(part)
        remembered = reuse is not None and not part.silent and (part.start, part.end) in reuse.known
        if key is None or reuse is None:
            target = targets[i] = scratch / f"part{i}.mp3"
            _lame_part(lame(), pcm(part), target, options.channels, counted, stop)
            count("encoded")
            return
        keys[i] = key
        with lock:
            entry = made.get(key)
            mine = entry is None
            if entry is None:
                entry = made[key] = (threading.Event(), [])
        done, path = entry
        if not mine:
            while not done.wait(0.1):
                if stop.is_set():
                    return
            if path:  # (else its maker failed, which it reports)
                targets[i] = path[0]
                placed.add(part.start, level_of(key))
                count("reused")
                counted(part.end - part.start)
            return
        try:
            target = scratch / f"{key}.mp3"
            found = reuse.get(key)
            if found is not None:
                target.write_bytes(found[0])
                placed.add(part.start, level_of(key, PartLevel.from_bytes(found[1]), known=True))
                count("reused")
                counted(part.end - part.start)
            else:
                if remembered:  # a remembered key not found: hashed as the PCM is now
                    key, kept = key_of(part, known=False)
                    assert key is not None
                    keys[i], target = key, scratch / f"{key}.mp3"
                _lame_part(lame(), iter(kept) if kept is not None else pcm(part), target, options.channels,
                           counted if not part.silent else _ignored, stop)
                if stop.is_set():
                    return
                if part.silent:
                    counted(part.end - part.start)
                count("encoded")
                frames = target.read_bytes()
                level = level_of(key, parts_meter.measure(frames, options.rate, options.channels), known=True)
                placed.add(part.start, level)
                reuse.put(key, frames, level.to_bytes() if level is not None else b"")
            path.append(target)
            targets[i] = target
        finally:
            done.set()

    errors: list[BaseException] = []

    def work() -> None:
        try:
            while not stop.is_set() and not errors:
                with lock:
                    i = next(todo, None)
                if i is None:
                    return
                one(i)
        except OSError as exc:  # the parts are in TMPDIR, which may be full when the output's disk is not
            errors.append(scratch_error(exc, scratch))
        except BaseException as exc:  # noqa: BLE001 (reported by the main thread)
            errors.append(exc)
        finally:
            if errors:
                stop.set()


    procs: list[subprocess.Popen[bytes]] = []
    pool: list[threading.Thread] = []
    try:
        with ctrl_c_held():  # until every thread started is listed: the clean-up below joins them all
            procs.append(_start(_command_in(encoder, options, tmp, scratch)))
            _feed(procs[0], [np.zeros(mp3splice.SAMPLES_PER_FRAME * options.channels, np.int16)], options.channels, None)
            for _ in range(max(1, min(threads, len(plan)))):
                thread = threading.Thread(target=work, daemon=True)
                thread.start()
                pool.append(thread)
        for thread in pool:
            while thread.is_alive():
                thread.join(0.1)  # in short waits, so that Ctrl-C reaches this thread
        if errors:
            raise errors[0]
        for proc in procs:
            _wait(proc, out)
    finally:
        stop.set()
        _stop(procs)
        for thread in pool:
            thread.join()
    parts = [t for t in targets if t is not None]
    if len(parts) != len(plan):
        raise mp3splice.SpliceError("a part is missing")
    try:
        mp3splice.join(tmp, parts, [p.start for p in plan], audio.frames)
    except OSError as exc:
        raise write_error(exc, out) from None
    if reuse is not None:
        reuse.trim()
    if reuse is None:
        return PartCounts(counts["encoded"], counts["reused"])
    return PartCounts(counts["encoded"], counts["reused"], tuple((p.start, p.end, k) for p, k in zip(plan, keys)),
                      placed.result())


def _ignored(frames: int) -> None:
    """Progress not counted (the silent entry's frames are counted as the parts it serves)."""


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
