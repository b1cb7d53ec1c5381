"""Environment faults: each is one line saying what to do, a non-zero exit, and nothing lost.

Run as a user runs coach (a child process), with the fault made real where this machine allows
it (a tiny tmpfs for a full disk, a read-only mount) and simulated where it does not.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mounts import remount_read_only, tmpfs
from procs import ROUTINE, assert_one_line_error, coach, leftovers

PREVIOUS = b"ID3 the previous session, which must survive " * 200


@pytest.fixture
def routine(tmp_path: Path) -> Path:
    path = tmp_path / "faults.yaml"
    path.write_text(ROUTINE, encoding="utf-8")
    return path


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    """An output folder holding the session rendered last time."""
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "session.mp3").write_bytes(PREVIOUS)
    return folder / "session.mp3"


def assert_untouched(out: Path) -> None:
    assert out.read_bytes() == PREVIOUS
    assert leftovers(out.parent) == []


# ---- no speech engine -------------------------------------------------------------------

NO_ESPEAK_LIBRARY = """\
import ctypes
class _NoEspeak(ctypes.CDLL):
    def __init__(self, name, *args, **kwargs):
        if name and "espeak" in str(name).lower():
            raise OSError(f"{name}: cannot open shared object file: No such file or directory")
        super().__init__(name, *args, **kwargs)
ctypes.CDLL = _NoEspeak
"""
NO_ESPEAK_WHEEL = "import sys\nsys.modules['espeakng_loader'] = None\n"


@pytest.mark.parametrize(
    ("prelude", "message"),
    [
        (NO_ESPEAK_LIBRARY + NO_ESPEAK_WHEEL, "no eSpeak NG speech engine found"),
        (NO_ESPEAK_LIBRARY, "cannot load the bundled eSpeak NG library"),
    ],
    ids=["nothing-installed", "wheel-library-broken"],
)
def test_no_speech_engine(routine: Path, previous: Path, prelude: str, message: str) -> None:
    result = coach("render", str(routine), "-o", str(previous), "-q", prelude=prelude)
    assert_one_line_error(result, message, "pip install espeakng-loader", "apt-get install espeak-ng")
    assert_untouched(previous)


# ---- no encoder ---------------------------------------------------------------------------

def test_no_encoder(routine: Path, previous: Path) -> None:
    result = coach("render", str(routine), "-o", str(previous), "-q", "--engine", "fake", COACH_FFMPEG="/nonexistent")
    assert_one_line_error(result, "COACH_FFMPEG points at `/nonexistent`", "pip install imageio-ffmpeg")
    assert_untouched(previous)


def test_encoder_that_cannot_run(routine: Path, previous: Path, tmp_path: Path) -> None:
    not_a_program = tmp_path / "ffmpeg"
    not_a_program.write_text("this is not a program\n")
    not_a_program.chmod(0o755)
    result = coach("render", str(routine), "-o", str(previous), "-q", "--engine", "fake", COACH_FFMPEG=str(not_a_program))
    assert_one_line_error(result, "Exec format error", str(not_a_program))
    assert previous.read_bytes() == PREVIOUS


@pytest.fixture
def fresh_tool_lookup() -> Iterator[None]:
    from coach import tools

    tools.ffmpeg_path.cache_clear()
    yield
    tools.ffmpeg_path.cache_clear()


@pytest.mark.parametrize("encoder", ["/nonexistent", "not-a-program"])
def test_encoder_failing_to_start_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_tool_lookup: None, encoder: str
) -> None:
    """In process, at the encoder itself: the render pipeline may call ffmpeg before it gets there."""
    import numpy as np

    from coach.errors import CoachError
    from coach.output import encode

    if encoder == "not-a-program":
        program = tmp_path / "ffmpeg"
        program.write_text("this is not a program\n")
        program.chmod(0o755)
        encoder = str(program)
    monkeypatch.setenv("COACH_FFMPEG", encoder)
    out = tmp_path / "out" / "session.mp3"
    out.parent.mkdir()
    with pytest.raises((CoachError, OSError)), encode.staged(out) as tmp:
        encode.write(iter([np.zeros(44100, dtype=np.int16)]), tmp, encode.EncodeOptions(), out=out)
    assert leftovers(out.parent) == []


# ---- no audio device ----------------------------------------------------------------------

def _sound_devices() -> list[object]:
    live = pytest.importorskip("coach.live.sink", reason="coach/live/sink.py (the live sink) is not in this checkout")
    return list(live.devices())


@pytest.mark.parametrize("args", [("say", "Hinge as one unit"), ("play",)], ids=["say", "play"])
def test_no_audio_device(routine: Path, args: tuple[str, ...]) -> None:
    if _sound_devices():
        pytest.skip("this machine has a sound device; the test is for machines without one")
    extra = (str(routine),) if args[0] == "play" else ()
    result = coach(*args, *extra, "--engine", "fake", timeout=120)
    assert_one_line_error(result, "no audio device", "coach render")


# ---- unwritable output folder ---------------------------------------------------------------

def test_output_folder_is_a_file(routine: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    result = coach("render", str(routine), "-o", str(blocker / "session.mp3"), "--engine", "fake")
    assert_one_line_error(result, f"cannot write {blocker / 'session.mp3'}", "is a file, not a folder")
    assert blocker.read_text() == "a file where the folder should be"


def test_output_is_a_folder(routine: Path, tmp_path: Path) -> None:
    (tmp_path / "session.mp3").mkdir()
    result = coach("render", str(routine), "-o", str(tmp_path / "session.mp3"), "--engine", "fake")
    assert_one_line_error(result, "it is a folder")


def test_a_folder_that_takes_no_new_files_is_named_not_the_temporary(routine: Path) -> None:
    out = Path("/proc/session.mp3")  # writable by permissions (as root), but no file can be made there
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc on this system")
    result = coach("render", str(routine), "-o", str(out), "--engine", "fake")
    assert_one_line_error(result, f"cannot write {out}:")
    assert ".part." not in result.stderr


def test_read_only_output_folder(routine: Path, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "1m") as folder:
        out = folder / "session.mp3"
        out.write_bytes(PREVIOUS)
        remount_read_only(folder)
        result = coach("render", str(routine), "-o", str(out), "--engine", "fake")
        assert_one_line_error(result, f"cannot write {out}", "not writable")
        assert_untouched(out)


# ---- disk full --------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["mp3", "m4a", "ogg", "wav"])
def test_disk_full(routine: Path, tmp_path: Path, fmt: str) -> None:
    with tmpfs(tmp_path / "small", "64k" if fmt == "ogg" else "200k") as folder:  # Ogg is small
        out = folder / f"session.{fmt}"
        out.write_bytes(PREVIOUS)
        free_before = os.statvfs(folder).f_bfree
        result = coach("render", str(routine), "-o", str(out), "--engine", "fake")
        assert_one_line_error(result, f"cannot write {out}", "disk is full", "previous file is untouched")
        assert_untouched(out)
        assert os.statvfs(folder).f_bfree == free_before  # the partial file is gone, its space freed


@pytest.mark.parametrize("fmt", ["mp3", "m4a", "ogg"])
def test_disk_full_while_tagging(routine: Path, tmp_path: Path, fmt: str) -> None:
    """Room for the encoded audio but not for the tags added after it (chapters, cover, cue text)."""
    whole = tmp_path / f"whole.{fmt}"
    assert coach("render", str(routine), "-o", str(whole), "--engine", "fake", "-q").returncode == 0
    size = whole.stat().st_size
    for short_by_kib in (8, 16, 24):  # the tags take tens of KiB: one of these runs out while tagging
        with tmpfs(tmp_path / f"small-{short_by_kib}", f"{(size // 1024 - short_by_kib) // 4 * 4}k") as folder:
            out = folder / f"session.{fmt}"
            out.write_bytes(PREVIOUS[:1000])
            result = coach("render", str(routine), "-o", str(out), "--engine", "fake", "-q")
            assert_one_line_error(result, "disk is full")
            assert out.read_bytes() == PREVIOUS[:1000] and leftovers(folder) == []


FULL_DISK_FFMPEG = """\
#!{python}
# ffmpeg, except that the encoder's output (a .part file beside the output, not in coach's scratch
# folders in TMPDIR) hits a full disk part way through.
import os, sys
out = sys.argv[-1]
if ".part." not in os.path.basename(out) or os.path.basename(os.path.dirname(out)).startswith("coach-"):
    os.execv({ffmpeg!r}, [{ffmpeg!r}] + sys.argv[1:])
sys.stdin.buffer.read(1_000_000)
with open(out, "wb") as fh:
    fh.write(b"ID3 half a file")
sys.stderr.write(f"[out#0/mp3] Error writing trailer: No space left on device\\n")
sys.exit(1)
"""


def test_disk_full_simulated(routine: Path, previous: Path, tmp_path: Path) -> None:
    """The same, where mounting a small disk is not allowed: ffmpeg reports ENOSPC mid-file."""
    from coach.tools import ffmpeg_path

    fake = tmp_path / "ffmpeg"
    fake.write_text(FULL_DISK_FFMPEG.format(python=sys.executable, ffmpeg=ffmpeg_path()))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    result = coach("render", str(routine), "-o", str(previous), "--engine", "fake", COACH_FFMPEG=str(fake))
    assert_one_line_error(result, "disk is full", "previous file is untouched")
    assert_untouched(previous)


@pytest.mark.parametrize("cache", ["cold", "warm"])  # cold: an excerpt encoded to measure; warm: MP3 parts
def test_full_tmpdir_is_named_not_the_output(routine: Path, tmp_path: Path, cache: str) -> None:
    warm = tmp_path / "cache"
    if cache == "warm":
        assert coach("render", str(routine), "-o", str(tmp_path / "first.mp3"), "--engine", "fake", "-q",
                     COACH_CACHE_DIR=str(warm)).returncode == 0
    with tmpfs(tmp_path / "tmp", "100k") as scratch:
        out = tmp_path / "session.mp3"
        result = coach("render", str(routine), "-o", str(out), "--engine", "fake", TMPDIR=str(scratch),
                       COACH_CACHE_DIR=str(warm if cache == "warm" else tmp_path / "cold"))
        assert_one_line_error(result, f"cannot write temporary files in {scratch}: the disk is full", "TMPDIR")
        assert not out.exists() and list(scratch.iterdir()) == []


def test_say_on_a_full_disk_keeps_the_previous_file(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", "64k") as folder:
        out = folder / "hello.wav"
        previous = b"RIFF" + bytes(40_000)
        out.write_bytes(previous)
        result = coach("say", "a sentence long enough to need more room than is left " * 3, "-o", str(out),
                       "--engine", "fake")
        assert_one_line_error(result, f"cannot write {out}", "disk is full")
        assert out.read_bytes() == previous and leftovers(folder) == []
