"""Files a command writes and reads: one atomic write, one check of output paths, bounded reads.

Every file coach writes (audio, sidecars, `say` output, cache entries) is written to a short
hidden temporary beside its target, flushed to disk and renamed over it: the previous file
survives byte for byte until the new one is complete, and the temporary goes on any exit
(an error, Ctrl-C, SIGTERM). Before any audio work, `check_outputs` refuses an output that
is one of the command's inputs, another output, or not a regular file (a device, a FIFO, a
folder), with one line saying why.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from coach.errors import OutputError

TEMP_PREFIX = "."
SCRATCH_PREFIX = "coach-"  # coach's scratch folders in TMPDIR: coach-encode-*, coach-excerpt-*
TEMP_SUFFIX = ".part"
NAME_MAX = 255  # bytes in one file name on every common file system
_NAME_ROOM = 40  # of the target's name kept in a temporary's: mkstemp adds 8 characters


def new_file_mode() -> int:
    """What a new file gets from open(2): 0666 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _mode_for(target: Path) -> int:
    """An existing file keeps its permissions; a new one is like any file the user makes."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        return new_file_mode()


@contextlib.contextmanager
def atomic_write(target: Path, suffix: str = "", exclusive: bool = False, durable: bool = True) -> Iterator[Path]:
    """A temporary path beside `target` to write; when the block ends without an error it is
    flushed to disk, given `target`'s mode and renamed over it. On any exit with an error (Ctrl-C
    and SIGTERM included) the temporary is removed and `target` is untouched. `suffix` ends the
    temporary's name (an encoder may want its extension). `exclusive`: a `target` that exists
    by then is kept and FileExistsError raised (the first of several writers wins). `durable`
    False: not flushed to disk (for cache entries that check themselves when read: a crash may
    leave one damaged, never half-named). Raises OSError as the system does."""
    folder = target.parent if str(target.parent) else Path(".")
    stem = os.fsencode(target.name)[:_NAME_ROOM].decode("utf-8", "ignore")
    fd, name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{stem}.", suffix=TEMP_SUFFIX + suffix, dir=folder)
    tmp = Path(name)
    try:
        os.close(fd)
        yield tmp
        if durable:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.chmod(tmp, _mode_for(target))
        if exclusive:
            _link(tmp, target)
        else:
            os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if durable:
        _sync_folder(folder)


def _link(tmp: Path, target: Path) -> None:
    """Put `tmp` at `target` unless something is there already (FileExistsError)."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: the last writer wins there
        os.replace(tmp, target)
        return
    tmp.unlink()


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every system can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes(target: Path, data: bytes, exclusive: bool = False, durable: bool = True) -> None:
    """`data` at `target`, atomically (OSError as the system raises it; see `atomic_write`)."""
    with atomic_write(target, exclusive=exclusive, durable=durable) as tmp:
        tmp.write_bytes(data)


def write_text(target: Path, text: str) -> None:
    """`text` at `target` as UTF-8 with \\n line ends, atomically; OutputError if it cannot be."""
    try:
        with atomic_write(target) as tmp:
            with tmp.open("w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
    except OSError as exc:
        raise write_error(exc, target) from None


def write_error(exc: OSError, target: Path) -> OutputError:
    """A failed write (of a temporary, say) told about the file the user named, or about TMPDIR
    for coach's own scratch files there (an excerpt encoded to measure, MP3 parts)."""
    if target.parent.name.startswith(SCRATCH_PREFIX) and _same(target.parent.parent, Path(tempfile.gettempdir())):
        return scratch_error(exc, target.parent)
    if exc.errno == errno.ENOSPC:
        return OutputError(f"cannot write {target}: the disk is full",
                           "free some space and try again; the previous file is untouched")
    if exc.errno == errno.ENAMETOOLONG:
        return OutputError(f"cannot write {target}: the name is too long for the file system")
    return OutputError(f"cannot write {target}: {exc.strerror or exc}")


def scratch_error(exc: OSError, folder: Path) -> OutputError:
    """A failed write in a scratch folder (under TMPDIR), told with that folder's place."""
    if exc.errno == errno.ENOSPC:
        return OutputError(f"cannot write temporary files in {folder.parent}: the disk is full",
                           "free some space there, or point TMPDIR at a folder with room")
    return OutputError(f"cannot write temporary files in {folder.parent}: {exc.strerror or exc}")


# ---- output paths ------------------------------------------------------------------------------

def check_output(out: Path, audio: bool = False) -> None:
    """Fail before any audio work if `out` cannot be written as a regular file; with `audio`,
    an existing file there must be audio too (a routine or a photo is never written over)."""
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise OutputError(f"cannot write {out}: {folder} {what}")
    if len(os.fsencode(out.name)) > _name_max(folder):
        raise OutputError(f"cannot write {out}: the name is longer than the file system allows ({_name_max(folder)} bytes)")
    try:
        mode = os.stat(out).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {exc.strerror or exc}") from None
    if mode is not None and not stat.S_ISREG(mode):
        raise OutputError(f"cannot write {out}: it is {_kind(mode)}, not a regular file",
                          "name a new file or an existing audio file")
    if audio and mode is not None and not _audio_or_empty(out):
        raise OutputError(f"cannot write {out}: it holds something other than audio, which is not written over",
                          "choose another output name, or remove that file first")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write {out}: folder {folder} is not writable")


# How the audio files coach writes begin: ID3 or an MPEG frame, RIFF/WAVE, Ogg, MP4 (`ftyp`).
_AUDIO_MAGIC = (b"ID3", b"RIFF", b"OggS", b"fLaC")


def _audio_or_empty(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError:
        return True  # unreadable: writing will say why
    if not head or head.startswith(_AUDIO_MAGIC) or head[4:8] == b"ftyp":
        return True
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0


def check_outputs(outputs: Iterable[Path], reads: Iterable[tuple[str, Path]] = (), audio: int = 1) -> None:
    """Each output can be written (`check_output`; the first `audio` of them are audio files),
    none is another, and none is a file the command reads in the same run (`reads`: what it is,
    its path), compared by resolved path and by device and inode (hard links, symlinks)."""
    seen: list[tuple[str, Path]] = [(what, path) for what, path in reads]
    for n, out in enumerate(outputs):
        for what, path in seen:
            if _same(out, path):
                raise OutputError(f"cannot write {out}: it is {what}, which this command reads"
                                  if what != "an output" else f"cannot write {out} twice: two outputs have that name",
                                  "choose another output name")
        check_output(out, audio=n < audio)
        seen.append(("an output", out))


def _same(a: Path, b: Path) -> bool:
    try:
        if a.resolve() == b.resolve():
            return True
    except (OSError, RuntimeError):  # a symlink loop
        pass
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return NAME_MAX


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


# ---- bounded reads -----------------------------------------------------------------------------

class TooLarge(Exception):
    """A file holds more than the bound it is read with."""


def read_bounded(path: Path, limit: int) -> bytes:
    """At most `limit` bytes of `path`, whatever it is (a regular file, /dev/zero, a FIFO):
    TooLarge if there are more, never reading past `limit + 1`. IsADirectoryError for a folder."""
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(limit)
    return data
