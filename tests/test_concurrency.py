"""Several renders at once sharing one cache; and the same routine always renders the same audio.

The fake engine is deterministic, so every render of a routine must decode to identical samples.
The real engine is not (see docs/benchmarks.md): eSpeak NG gives a fresh process the same samples
for a text, but not the same engine speaking it again, nor another eSpeak version or machine.
That is why renders are compared with the fake engine, and why clips are cached once made.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import decode
from procs import ROUTINE, command, env, leftovers

from coach.plan import compiler
from coach.routine import loader
from coach.session import SpeechOptions, prepare
from coach.speech.cache import ClipCache

RENDERS = 3


@pytest.fixture
def routine(tmp_path: Path) -> Path:
    path = tmp_path / "session.yaml"
    path.write_text(ROUTINE, encoding="utf-8")
    return path


def start(routine: Path, out: Path, cache: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command("render", str(routine), "-o", str(out), "--engine", "fake", "-q"),
        env=env(COACH_CACHE_DIR=str(cache)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0 and err == "", err


def test_renders_at_once_sharing_a_cold_cache(routine: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    outs = [tmp_path / f"session-{i}.mp3" for i in range(RENDERS)]
    finish([start(routine, out, cache) for out in outs])  # all synthesise, all write the same clips
    first = decode(outs[0])
    assert len(first) == compiler.total_ms(loader.load(routine)) * 44100 // 1000
    for out in outs[1:]:
        assert np.array_equal(decode(out), first), out
    store = ClipCache(cache)
    files = sorted(cache.glob("*/*.wav"))
    assert files and all(store.get(p.stem) is not None for p in files)
    assert not [p for p in cache.rglob(".*")]


def test_renders_at_once_to_the_same_file(routine: Path, tmp_path: Path) -> None:
    cache, out = tmp_path / "cache", tmp_path / "session.mp3"
    finish([start(routine, out, cache) for _ in range(RENDERS)])  # the last rename wins, whole
    alone = tmp_path / "alone.mp3"
    finish([start(routine, alone, cache)])
    assert np.array_equal(decode(out), decode(alone))
    assert leftovers(tmp_path) == []


def test_same_routine_same_audio(routine: Path, tmp_path: Path) -> None:
    """Twice, each from an empty cache (so speech is made both times), with the fake engine."""
    outs = [tmp_path / "first.mp3", tmp_path / "second.mp3"]
    for n, out in enumerate(outs):
        finish([start(routine, out, tmp_path / f"cache-{n}")])
    assert np.array_equal(decode(outs[0]), decode(outs[1]))


def test_same_session_serial_or_parallel_synthesis(routine: Path, tmp_path: Path) -> None:
    """In worker processes or not, the clips, and so the cues, are the same."""
    serial = prepare(loader.load(routine), SpeechOptions(engine="fake", no_cache=True, jobs=1))
    parallel = prepare(loader.load(routine), SpeechOptions(engine="fake", no_cache=True, jobs=2))
    assert serial.cues == parallel.cues
    assert serial.clips.keys() == parallel.clips.keys()
    assert all(np.array_equal(serial.clips[t].samples, parallel.clips[t].samples) for t in serial.clips)
