"""A render killed at random points never leaves a partial file where the output goes.

The previous file there survives byte for byte, or the complete new one replaces it; after Ctrl-C
(SIGINT to the whole process group, as a terminal sends it, or to coach alone) every temporary
file is gone too. After SIGKILL nothing can clean up: an orphaned hidden `.NAME.*.part.*` file may
stay beside the output, never at its name; but no process may be left running (ffmpeg sees its
input end, synthesis workers notice they are orphans). Kill points are random; set COACH_TEST_SEED to replay.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import decode
from procs import ROUTINE, command, env, group_ends, leftovers

TRIALS = int(os.environ.get("COACH_KILL_TRIALS", "5"))  # per signal
STARTUP_TRIALS = int(os.environ.get("COACH_STARTUP_TRIALS", "40"))
PREVIOUS = b"ID3 the previous session, which must survive " * 500
SEED = int(os.environ.get("COACH_TEST_SEED") or random.SystemRandom().randrange(10**6))

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Reference:
    routine: Path
    warm_cache: Path
    complete: bytes  # what a finished render writes
    cold_s: float  # how long a render takes from an empty cache, and from a full one
    warm_s: float


def render(routine: Path, out: Path, cache: Path, tmp: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command("render", str(routine), "-o", str(out), "--engine", "fake", "-q"),
        env=env(COACH_CACHE_DIR=str(cache), TMPDIR=str(tmp)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    folder = tmp_path_factory.mktemp("atomic")
    routine = folder / "session.yaml"
    routine.write_text(ROUTINE, encoding="utf-8")
    times = []
    for name in ("cold", "warm"):
        start = time.perf_counter()
        proc = render(routine, folder / f"{name}.mp3", folder / "cache", folder)
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        times.append(time.perf_counter() - start)
    complete = (folder / "warm.mp3").read_bytes()
    assert complete == (folder / "cold.mp3").read_bytes()
    return Reference(routine, folder / "cache", complete, *times)


def assert_whole(out: Path, had_previous: bool, reference: Reference, note: str) -> None:
    if not out.exists():
        assert not had_previous, f"{note}: the previous file is gone"
        return
    data = out.read_bytes()
    if data == PREVIOUS or data == reference.complete:
        return
    assert had_previous or data != PREVIOUS, note
    # Not byte-equal to either: only acceptable if it is the complete session all the same.
    ours = decode(out)
    expected = decode_bytes(reference.complete, out.parent / "expected.mp3")
    assert len(ours) == len(expected) and np.array_equal(ours, expected), f"{note}: partial file at the output ({len(data)} bytes)"


def decode_bytes(data: bytes, path: Path) -> np.ndarray:
    path.write_bytes(data)
    try:
        return decode(path)
    finally:
        path.unlink()


def before_coach(returncode: int, stderr: str) -> bool:
    """Ctrl-C before coach.entry.main runs (the first few tens of ms) gets Python's own report,
    from one of its start-up stages. (That both ways in start at coach.entry is tested in test_cli.)"""
    if re.match(r"Fatal Python error: init_\w+: ", stderr):
        return True  # initialising the interpreter: its standard streams, `site`
    if re.match(r"Error processing line \d+ of .+\.pth:", stderr):
        return True  # `site` ran a .pth file, reported the interrupt as its error and went on
    if returncode == -signal.SIGINT and not stderr:
        return True  # no SIGINT handler installed yet
    if returncode == 1 and stderr == "KeyboardInterrupt\n":
        return True  # compiling the `coach` script: no Python frame yet
    if stderr.startswith("Failed checking if argv[0] is an import path entry"):
        return True  # the interpreter checking the `coach` script's path (reported, then it carries on)
    if re.match(r"Could not \w+ runpy", stderr):
        return True  # `python -m` loading its runpy module
    return (  # the launcher (runpy, or the `coach` script's own import line), before it imports coach.entry;
        # `python -m coach`'s __main__ reports a Ctrl-C during that import itself
        returncode == -signal.SIGINT and stderr.startswith("Traceback") and stderr.endswith("KeyboardInterrupt\n")
        and not re.search(r'coach/(entry|__main__)\.py", line \d+, in ', stderr)
    )


def trial(reference: Reference, tmp_path: Path, n: int, sig: signal.Signals, rng: random.Random) -> None:
    folder, tmp = tmp_path / f"trial-{n}" / "out", tmp_path / f"trial-{n}" / "tmp"
    folder.mkdir(parents=True)
    tmp.mkdir()
    out = folder / "session.mp3"
    had_previous = n % 4 != 3
    if had_previous:
        out.write_bytes(PREVIOUS)
    cold = n % 2 == 0  # an empty cache: the kill may land during (parallel) speech synthesis
    cache = tmp_path / f"trial-{n}" / "cache" if cold else reference.warm_cache
    whole_group = n % 3 != 2  # Ctrl-C in a terminal reaches ffmpeg and the workers too
    delay = rng.uniform(0.05, 1.1 * (reference.cold_s if cold else reference.warm_s))
    note = f"trial {n}: {sig.name} after {delay:.2f}s, {'cold' if cold else 'warm'} cache, seed {SEED}"

    proc = render(reference.routine, out, cache, tmp)
    time.sleep(delay)
    if proc.poll() is None:
        if sig == signal.SIGINT and whole_group:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
    proc.wait(timeout=120)
    ended = group_ends(proc.pid)
    _, err = proc.communicate(timeout=30)
    assert ended, f"{note}: processes left running after coach ended"
    assert_whole(out, had_previous, reference, note)
    if sig == signal.SIGKILL:
        assert proc.returncode in (0, -signal.SIGKILL), (note, proc.returncode, err)
        return
    if before_coach(proc.returncode, err):
        return  # the output was never touched (checked above)
    assert proc.returncode in (0, 130), (note, proc.returncode, err)
    if proc.returncode == 130:
        assert err == "coach: interrupted\n", (note, err)
    assert leftovers(folder) == [], note
    assert list(tmp.iterdir()) == [], (note, list(tmp.iterdir()))
    if cold and cache.exists():
        assert [p for p in cache.rglob("*") if p.name.startswith(".")] == [], note


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_killed_render_never_leaves_a_partial_file(reference: Reference, tmp_path: Path, sig: signal.Signals) -> None:
    rng = random.Random(SEED + sig)
    for n in range(TRIALS):
        trial(reference, tmp_path, n, sig, rng)


def test_ctrl_c_during_start_up_is_one_line_and_exit_130(reference: Reference, tmp_path: Path) -> None:
    """Ctrl-C at random moments of a warm render's first 0.3 s: interpreter start, imports (typer,
    rich, numpy, the dataclasses they build), loading. Both ways in: `python -m coach` and the
    `coach` script."""
    rng = random.Random(SEED)
    script = Path(sys.executable).with_name("coach")
    launchers = [[sys.executable, "-m", "coach"]] + ([[str(script)]] if script.exists() else [])
    outcomes: list[object] = []
    for n in range(STARTUP_TRIALS):
        delay = rng.uniform(0, 0.3)
        proc = subprocess.Popen(
            [*launchers[n % len(launchers)], "render", str(reference.routine), "-o", str(tmp_path / f"{n}.mp3"),
             "--engine", "fake", "-q"],
            env=env(COACH_CACHE_DIR=str(reference.warm_cache), TMPDIR=str(tmp_path)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        time.sleep(delay)
        if proc.poll() is None:
            (os.killpg if n % 3 != 2 else os.kill)(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
        ended = group_ends(proc.pid)
        _, err = proc.communicate(timeout=30)
        note = f"trial {n}: SIGINT after {delay:.3f}s to {launchers[n % len(launchers)][-1]}, seed {SEED}"
        assert ended, f"{note}: processes left running after coach ended"
        if before_coach(proc.returncode, err):
            outcomes.append("before coach")
            continue
        assert (proc.returncode, err) in ((130, "coach: interrupted\n"), (0, "")), (note, proc.returncode, err)
        outcomes.append(proc.returncode)
    assert outcomes.count(130) >= STARTUP_TRIALS // 3, outcomes  # most Ctrl-Cs reached coach


def test_render_after_a_killed_one_succeeds(reference: Reference, tmp_path: Path) -> None:
    """An orphaned temp file from a SIGKILL does not get in the way of the next render."""
    out = tmp_path / "session.mp3"
    out.write_bytes(PREVIOUS)
    proc = render(reference.routine, out, reference.warm_cache, tmp_path)
    time.sleep(0.6 * reference.warm_s)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert group_ends(proc.pid)
    proc.communicate(timeout=30)
    again = render(reference.routine, out, reference.warm_cache, tmp_path)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert out.read_bytes() == reference.complete
