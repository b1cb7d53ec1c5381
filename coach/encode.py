"""The file sink: stream PCM chunks into ffmpeg, write a temporary file, rename it into place.

ffmpeg writes the LAME/Xing header with encoder delay and padding only when its output is a
seekable file, so it writes to a real temporary file beside the target (never a pipe): decoders
that honour the header give back exactly the samples we sent, cues where the timeline says.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from coach.errors import EncoderError, OutputError
from coach.tools import ffmpeg_path

FORMATS = {
    "mp3": ["-c:a", "libmp3lame", "-write_xing", "1", "-id3v2_version", "3"],
    "m4a": ["-c:a", "aac", "-movflags", "+faststart"],
    "ogg": ["-c:a", "libvorbis"],
    "wav": ["-c:a", "pcm_s16le"],
}


@dataclass(frozen=True)
class EncodeOptions:
    format: str = "mp3"
    rate: int = 44100
    channels: int = 1
    bitrate: str = "64k"
    tags: Mapping[str, str] = field(default_factory=dict)
    metadata: str | None = None  # an ffmetadata file's text: tags and chapters (replaces `tags`)


def check_output(out: Path) -> None:
    """Fail before any audio work if the output cannot be written."""
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise OutputError(f"cannot write {out}: {folder} {what}")
    if out.is_dir():
        raise OutputError(f"cannot write {out}: it is a folder")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write {out}: folder {folder} is not writable")


def write(
    chunks: Iterable[np.ndarray],
    out: Path,
    options: EncodeOptions,
    finish: Callable[[Path], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Encode `chunks` (int16, interleaved) to `out` atomically. `finish(tmp)` may tag the file first."""
    check_output(out)
    if options.format not in FORMATS:
        raise EncoderError(f"unknown format `{options.format}`", f"formats: {', '.join(FORMATS)}")
    with tempfile.TemporaryDirectory(prefix="coach-encode-") as scratch:
        _write(chunks, out, options, Path(scratch), finish, progress)


def _write(
    chunks: Iterable[np.ndarray],
    out: Path,
    options: EncodeOptions,
    scratch: Path,
    finish: Callable[[Path], None] | None,
    progress: Callable[[int], None] | None,
) -> None:
    encoder = ffmpeg_path()  # before the temporary file exists: a missing tool leaves nothing behind
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=f".part.{options.format}", dir=out.parent or ".")
    os.close(fd)
    tmp = Path(tmp_name)
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
    cmd += ["-f", {"m4a": "mp4"}.get(options.format, options.format), str(tmp)]
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise EncoderError(f"cannot start the encoder {encoder}: {exc.strerror or exc}") from None
    try:
        assert proc.stdin is not None
        try:
            for chunk in chunks:
                proc.stdin.write(chunk.astype("<i2").tobytes())
                if progress:
                    progress(len(chunk) // options.channels)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
        if proc.wait() != 0:
            raise _failure(stderr, out)
        if finish:
            _finish(finish, tmp, out)
        os.chmod(tmp, _mode_for(out))
        os.replace(tmp, out)
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if proc.stderr:
            proc.stderr.close()


def _finish(finish: Callable[[Path], None], tmp: Path, out: Path) -> None:
    """Run the tagging step; a full disk there is the same one-line error as during encoding."""
    import errno

    from mutagen import MutagenError

    try:
        finish(tmp)
    except (OSError, MutagenError) as exc:
        cause = exc if isinstance(exc, OSError) else exc.__cause__ or exc.__context__
        if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
            raise OutputError(f"cannot write {out}: the disk is full", "free some space and try again; the previous file is untouched") from None
        if isinstance(cause, OSError):
            raise OutputError(f"cannot write {out}: {cause.strerror or cause}") from None
        raise


def _mode_for(out: Path) -> int:
    """Keep an existing file's permissions; a new file gets the usual 0666 less the umask."""
    try:
        return out.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _failure(stderr: str, out: Path) -> Exception:
    last = stderr.strip().splitlines()[-1] if stderr.strip() else "unknown error"
    if "No space left" in stderr:
        return OutputError(f"cannot write {out}: the disk is full", "free some space and try again; the previous file is untouched")
    if "Permission denied" in stderr:
        return OutputError(f"cannot write {out}: permission denied")
    return EncoderError(f"the encoder failed: {last}")
