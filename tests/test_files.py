"""coach.files: one atomic write for every file a command writes, one check of output paths.

No command writes over a file it reads in the same run, or over anything that is not a regular
file; what it writes appears whole or not at all, with the mode of any file the user makes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from procs import ROUTINE, assert_one_line_error, coach, leftovers

from coach import files
from coach.errors import OutputError


@pytest.fixture
def umask_022() -> object:
    old = os.umask(0o022)
    yield
    os.umask(old)


# ---- atomic_write ------------------------------------------------------------------------------

def test_new_file_gets_the_mode_a_new_file_gets(tmp_path: Path) -> None:
    for umask, mode in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o664)):
        old = os.umask(umask)
        try:
            target = tmp_path / f"new-{umask:o}.txt"
            files.write_text(target, "hello\n")
        finally:
            os.umask(old)
        assert stat.S_IMODE(target.stat().st_mode) == mode
        assert target.read_text() == "hello\n"


def test_existing_file_keeps_its_mode(tmp_path: Path, umask_022: object) -> None:
    target = tmp_path / "kept.txt"
    target.write_text("old")
    target.chmod(0o640)
    files.write_bytes(target, b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.read_bytes() == b"new"


def test_an_error_midway_leaves_the_previous_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "kept.txt"
    target.write_text("previous")
    for error in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(error)):
            with files.atomic_write(target) as tmp:
                tmp.write_text("half")
                raise error
        assert target.read_text() == "previous"
        assert leftovers(tmp_path) == []


def test_a_name_at_the_file_system_limit_is_written(tmp_path: Path) -> None:
    long_name = "é" * 123 + ".mp3"  # 250 bytes: a temporary named after it in full would not fit
    target = tmp_path / long_name
    files.write_bytes(target, b"ID3 data")
    assert target.read_bytes() == b"ID3 data"
    assert leftovers(tmp_path) == []


def test_exclusive_keeps_what_another_writer_stored_first(tmp_path: Path) -> None:
    target = tmp_path / "clip.wav"
    files.write_bytes(target, b"first", exclusive=True)
    with pytest.raises(FileExistsError):
        files.write_bytes(target, b"second", exclusive=True)
    assert target.read_bytes() == b"first"
    assert leftovers(tmp_path) == []


# ---- check_outputs -----------------------------------------------------------------------------

def test_an_output_that_is_an_input_is_refused_by_path_link_or_inode(tmp_path: Path) -> None:
    routine = tmp_path / "r.yaml"
    routine.write_text("title: x\n")
    (tmp_path / "link.mp3").symlink_to(routine)
    os.link(routine, tmp_path / "hard.mp3")
    for out in (routine, tmp_path / "sub" / ".." / "r.yaml", tmp_path / "link.mp3", tmp_path / "hard.mp3"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(OutputError, match="it is the routine, which this command reads"):
            files.check_outputs([out], [("the routine", routine)], audio=0)


def test_two_outputs_with_one_name_are_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="two outputs have that name"):
        files.check_outputs([tmp_path / "s.vtt", tmp_path / "s.vtt"])


@pytest.mark.parametrize("special", ["/dev/null", "/dev/full", "fifo", "folder"])
def test_anything_but_a_regular_file_is_refused(tmp_path: Path, special: str) -> None:
    path = Path(special)
    if special == "fifo":
        path = tmp_path / "pipe.mp3"
        os.mkfifo(path)
    elif special == "folder":
        path = tmp_path / "folder.mp3"
        path.mkdir()
    with pytest.raises(OutputError, match="not a regular file"):
        files.check_outputs([path])


def test_an_audio_output_is_never_written_over_a_file_that_is_not_audio(tmp_path: Path) -> None:
    notes = tmp_path / "notes.wav"
    notes.write_text("my training notes")
    with pytest.raises(OutputError, match="something other than audio"):
        files.check_outputs([notes])
    for head in (b"ID3\x03", b"\xff\xfb\x90", b"RIFF\0\0\0\0WAVE", b"OggS", b"\0\0\0\x20ftypM4A ", b""):
        (tmp_path / "audio").write_bytes(head)
        files.check_outputs([tmp_path / "audio"])


def test_a_name_longer_than_the_file_system_allows_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="longer than the file system allows"):
        files.check_outputs([tmp_path / ("x" * 300 + ".mp3")])


def test_reads_are_bounded_whatever_the_file_is(tmp_path: Path) -> None:
    with pytest.raises(files.TooLarge):
        files.read_bounded(Path("/dev/zero"), 1000)
    small = tmp_path / "small"
    small.write_bytes(b"abc")
    assert files.read_bounded(small, 3) == b"abc"


# ---- the commands ------------------------------------------------------------------------------

@pytest.fixture
def routine(tmp_path: Path) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(ROUTINE, encoding="utf-8")
    return path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _music(path: Path) -> Path:
    import wave

    import numpy as np

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes((np.sin(np.arange(44100) / 10) * 3000).astype("<i2").tobytes())
    return path


def _cover(path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (64, 64), (200, 30, 30)).save(path, "GIF")
    return path


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-o", "{r}", "--format", "mp3"], "it is the routine"),
        (["-o", "{d}/song.wav", "--music", "{d}/song.wav"], "it is the music"),
        (["-o", "{d}/art.gif", "--format", "mp3", "--cover", "{d}/art.gif"], "it is the cover image"),
        (["-o", "{d}/s.vtt", "--format", "mp3", "--subtitles", "vtt"], "two outputs have that name"),
        (["-o", "{d}/r.mp3", "--phrases", "{d}/r.srt", "--subtitles", "srt"], "it is the phrasebook"),
        (["-o", "/dev/null", "--format", "mp3"], "it is a device"),
    ],
)
def test_render_never_writes_over_what_it_reads(routine: Path, tmp_path: Path, args: list[str], fragment: str) -> None:
    _music(tmp_path / "song.wav")
    _cover(tmp_path / "art.gif")
    (tmp_path / "r.srt").write_text("cues: {}\n")
    before = _snapshot(tmp_path)
    filled = [a.format(r=routine, d=tmp_path) for a in args]
    result = coach("render", str(routine), *filled, "--engine", "fake", timeout=120)
    assert_one_line_error(result, fragment)
    assert _snapshot(tmp_path) == before


def test_a_sidecar_never_lands_on_the_routine(tmp_path: Path) -> None:
    routine = tmp_path / "plan.lrc"
    routine.write_text(ROUTINE, encoding="utf-8")
    result = coach("render", str(routine), "-o", str(tmp_path / "plan.mp3"), "--subtitles", "lrc", "--engine", "fake")
    assert_one_line_error(result, "plan.lrc", "it is the routine")
    assert routine.read_text(encoding="utf-8") == ROUTINE


def test_say_never_writes_over_a_routine_or_a_device(routine: Path) -> None:
    for out in (str(routine), "/dev/full"):
        result = coach("say", "hello", "-o", out, "--engine", "fake")
        assert_one_line_error(result, f"cannot write {out}")
    assert routine.read_text(encoding="utf-8") == ROUTINE


def test_say_writes_atomically_with_a_normal_mode(tmp_path: Path) -> None:
    out = tmp_path / "hello.wav"
    result = coach("say", "hello", "-o", str(out), "--engine", "fake")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:4] == b"RIFF"
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~_umask()
    assert leftovers(tmp_path) == []


def test_sidecars_have_the_mode_of_the_audio(routine: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.mp3"
    result = coach("render", str(routine), "-o", str(out), "--subtitles", "vtt,srt", "--engine", "fake", "-q", timeout=300)
    assert result.returncode == 0, result.stderr
    modes = {p.suffix: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.glob("s.*")}
    assert modes == {".mp3": 0o666 & ~_umask(), ".vtt": 0o666 & ~_umask(), ".srt": 0o666 & ~_umask()}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
