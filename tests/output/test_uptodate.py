"""`coach render` with nothing changed writes nothing and says so; anything that changes the
output — the routine, the wording, the voice, an option, a clip, the file itself — renders again."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from coach.speech.cache import ClipCache

ROUTINE = """\
title: Short
lead_in: 5s
outro: 3s
blocks:
  - name: Main
    exercises:
      - {name: Squat, work: 20s, rest: 5s, tips: ["Chest up."]}
      - {name: Plank, work: 15s}
"""

pytestmark = pytest.mark.ffmpeg


def _render(routine: Path, out: Path, *extra: str) -> str:
    """`coach render` in a process of its own, as a user runs it; what it says on stderr."""
    done = subprocess.run([sys.executable, "-m", "coach", "render", str(routine), "--engine", "fake", "-o", str(out), *extra],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done.stderr


@pytest.fixture
def rendered(write_routine: Callable[..., Path], tmp_path: Path) -> tuple[Path, Path]:
    routine = write_routine(ROUTINE)
    out = tmp_path / "short.mp3"
    assert "wrote" in _render(routine, out)
    return routine, out


def _unchanged(out: Path) -> Callable[[], bool]:
    before = out.stat().st_mtime_ns, out.read_bytes()
    return lambda: (out.stat().st_mtime_ns, out.read_bytes()) == before


def test_nothing_changed_writes_nothing(rendered: tuple[Path, Path]) -> None:
    routine, out = rendered
    same = _unchanged(out)
    assert _render(routine, out).strip() == f"{out} is up to date"
    assert _render(routine, out, "--jobs", "1").strip() == f"{out} is up to date"  # the same file, however encoded
    assert same()
    assert "wrote" in _render(routine, out, "--force")  # --force renders all the same
    assert not same()
    assert "up to date" in _render(routine, out)  # and its file is up to date in turn


def test_the_check_loads_nothing_that_mixes_or_encodes(rendered: tuple[Path, Path]) -> None:
    """What keeps "up to date" near the cost of `coach --help`: no numpy, no mixing or encoding code."""
    routine, out = rendered
    heavy = ("numpy", "lameenc", "coach.audio.mixdown", "coach.output.render", "coach.speech.synth")
    probe = (f"import atexit, sys\natexit.register(lambda: print(sorted(m for m in {heavy!r} if m in sys.modules)))\n"
             f"sys.argv = ['coach', 'render', {str(routine)!r}, '--engine', 'fake', '-o', {str(out)!r}]\n"
             "from coach.entry import main\nmain()\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == f"{out} is up to date"
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(("what", "extra"), [
    ("the voice", ["--rate", "190"]),
    ("an option", ["--loudness", "-18"]),
    ("an option that leaves the audio alone", ["--chapters", "block"]),
    ("the wording", ["--language", "es"]),
])
def test_a_changed_input_renders_again(rendered: tuple[Path, Path], what: str, extra: list[str]) -> None:
    routine, out = rendered
    assert "wrote" in _render(routine, out, *extra), what
    assert "up to date" in _render(routine, out, *extra), what


def test_a_changed_routine_renders_again(rendered: tuple[Path, Path]) -> None:
    routine, out = rendered
    routine.write_text(ROUTINE.replace("Chest up.", "Knees out."), encoding="utf-8")
    assert "wrote" in _render(routine, out)


def test_a_changed_phrasebook_renders_again(rendered: tuple[Path, Path], tmp_path: Path) -> None:
    routine, out = rendered
    book = tmp_path / "book.yaml"
    book.write_text("cues:\n  go: Now!\n", encoding="utf-8")
    assert "wrote" in _render(routine, out, "--phrases", str(book))
    assert "up to date" in _render(routine, out, "--phrases", str(book))
    book.write_text("cues:\n  go: Begin!\n", encoding="utf-8")
    assert "wrote" in _render(routine, out, "--phrases", str(book))


def test_a_changed_clip_renders_again(rendered: tuple[Path, Path], _isolated_cache: Path) -> None:
    routine, out = rendered
    clip = max((p for p in ClipCache(_isolated_cache).folder.rglob("*.wav")), key=lambda p: p.stat().st_size)  # type: ignore[union-attr]
    data = bytearray(clip.read_bytes())
    data[-2:] = b"\x10\x00" if data[-2:] != b"\x10\x00" else b"\x20\x00"  # its last sample, still a valid WAV
    clip.write_bytes(bytes(data))
    assert "wrote" in _render(routine, out)


def test_a_file_changed_by_someone_else_renders_again(rendered: tuple[Path, Path]) -> None:
    routine, out = rendered
    data = bytearray(out.read_bytes())
    data[-100] ^= 0xFF  # a byte of audio near the end
    out.write_bytes(bytes(data))
    assert "wrote" in _render(routine, out)
    out.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x50\xc4" * 400)  # another MP3 in its place
    assert "wrote" in _render(routine, out)


def test_tags_edited_by_hand_are_not_a_change(rendered: tuple[Path, Path]) -> None:
    from mutagen.id3 import ID3, TIT2

    routine, out = rendered
    tag = ID3(out)
    tag.setall("TIT2", [TIT2(encoding=3, text=["My own title, a much longer one than before" * 20])])
    tag.save(out, v2_version=3)
    assert "up to date" in _render(routine, out)


def test_no_cache_always_renders(rendered: tuple[Path, Path]) -> None:
    routine, out = rendered
    assert "wrote" in _render(routine, out, "--no-cache")
