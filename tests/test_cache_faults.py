"""The speech cache under damage, through the session and the render: damaged clips are made
again, and a cache that cannot be written costs a warning, never the render."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import decode
from mounts import remount_read_only, tmpfs
from procs import ROUTINE, coach, leftovers

from coach.routine import loader
from coach.routine.model import Voice
from coach.session import SpeechOptions, prepare
from coach.speech.cache import ClipCache
from coach.speech.clip import Clip
from coach.speech.fake import FakeEngine

DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda data: data[: len(data) // 3],
    "zero-length": lambda data: b"",
    "one bit flipped": lambda data: data[:60] + bytes([data[60] ^ 0x01]) + data[61:],
    "checksum lost": lambda data: data[:-40],
    "not audio": lambda data: b"<html>proxy error</html>" * 10,
}


class CountingEngine(FakeEngine):
    def __init__(self) -> None:
        self.spoken: list[str] = []

    def synthesize(self, text: str, voice: Voice) -> Clip:
        self.spoken.append(text)
        return super().synthesize(text, voice)


@pytest.fixture
def routine(tmp_path: Path) -> Path:
    path = tmp_path / "faults.yaml"
    path.write_text(ROUTINE, encoding="utf-8")
    return path


def clip_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*/*.wav"))


def test_damaged_clips_are_made_again_and_repaired(routine: Path, tmp_path: Path) -> None:
    options = SpeechOptions(engine="fake", cache_dir=tmp_path / "cache", jobs=1)
    first = prepare(loader.load(routine), options, engine=CountingEngine())
    files = clip_files(tmp_path / "cache")
    assert len(files) == len(first.clips) > len(DAMAGE)
    damaged = dict(zip(files, DAMAGE.values()))
    for path, damage in damaged.items():
        path.write_bytes(damage(path.read_bytes()))
    (files[-1].parent / f".{files[-1].name}.part").write_bytes(b"half a clip from a crash")

    engine = CountingEngine()
    again = prepare(loader.load(routine), options, engine=engine)
    assert len(engine.spoken) == len(DAMAGE)  # exactly the damaged ones, nothing else
    assert again.cues == first.cues
    assert all(np.array_equal(again.clips[t].samples, first.clips[t].samples) for t in first.clips)
    cache = ClipCache(tmp_path / "cache")
    assert all(cache.get(p.stem) is not None for p in damaged)  # repaired in place

    third = CountingEngine()
    prepare(loader.load(routine), options, engine=third)
    assert third.spoken == []


def test_render_with_damaged_cache_matches_a_clean_render(routine: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    clean = coach("render", str(routine), "-o", str(tmp_path / "clean.mp3"), "--engine", "fake", "-q", COACH_CACHE_DIR=str(cache))
    assert clean.returncode == 0, clean.stderr
    for path, damage in zip(clip_files(cache), DAMAGE.values()):
        path.write_bytes(damage(path.read_bytes()))
    again = coach("render", str(routine), "-o", str(tmp_path / "again.mp3"), "--engine", "fake", "-q", COACH_CACHE_DIR=str(cache))
    assert again.returncode == 0 and again.stderr == "", again.stderr
    assert np.array_equal(decode(tmp_path / "again.mp3"), decode(tmp_path / "clean.mp3"))


def assert_warned_once(stderr: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("coach: warning: speech cache ") and "continuing without caching" in lines[0], stderr


def test_cache_folder_that_cannot_be_created(routine: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    out = tmp_path / "session.mp3"
    result = coach("render", str(routine), "-o", str(out), "--engine", "fake", "-q", COACH_CACHE_DIR=str(blocker))
    assert result.returncode == 0
    assert_warned_once(result.stderr)
    assert out.stat().st_size > 10_000


def test_read_only_cache(routine: Path, tmp_path: Path) -> None:
    """Half the clips cached, then the cache made read-only: those are read, the rest made fresh."""
    with tmpfs(tmp_path / "cache", "20m") as cache:
        half = ROUTINE.split("      - name: Side plank")[0]
        warm = tmp_path / "half.yaml"
        warm.write_text(half, encoding="utf-8")
        primed = coach("render", str(warm), "-o", str(tmp_path / "half.mp3"), "--engine", "fake", "-q", COACH_CACHE_DIR=str(cache))
        assert primed.returncode == 0, primed.stderr
        before = {p: p.read_bytes() for p in clip_files(cache)}
        remount_read_only(cache)
        out = tmp_path / "session.mp3"
        result = coach("render", str(routine), "-o", str(out), "--engine", "fake", "-q", COACH_CACHE_DIR=str(cache))
        assert result.returncode == 0
        assert_warned_once(result.stderr)
        assert "Read-only file system" in result.stderr
        assert {p: p.read_bytes() for p in clip_files(cache)} == before
    reference = tmp_path / "reference.mp3"
    assert coach("render", str(routine), "-o", str(reference), "--engine", "fake", "-q", "--no-cache").returncode == 0
    assert np.array_equal(decode(out), decode(reference))


def test_full_cache(routine: Path, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "cache", "64k") as cache:
        out = tmp_path / "session.mp3"
        result = coach("render", str(routine), "-o", str(out), "--engine", "fake", "-q", COACH_CACHE_DIR=str(cache))
        assert result.returncode == 0
        assert_warned_once(result.stderr)
        assert "No space left on device" in result.stderr
        assert out.stat().st_size > 10_000
        store = ClipCache(cache)
        kept = clip_files(cache)
        assert kept and all(store.get(p.stem) is not None for p in kept)  # whole clips or none
        assert all(leftovers(folder) == [] for folder in cache.iterdir() if folder.is_dir())


def test_parallel_synthesis_into_a_full_cache(routine: Path, tmp_path: Path) -> None:
    """The same with clips made in worker processes (enough of them), in process this time."""
    with tmpfs(tmp_path / "cache", "64k") as cache:
        options = SpeechOptions(engine="fake", cache_dir=cache, jobs=2)
        with pytest.warns(UserWarning, match="No space left on device"):
            session = prepare(loader.load(routine), options)
        reference = prepare(loader.load(routine), dataclasses.replace(options, no_cache=True, jobs=1))
        assert session.cues == reference.cues
