"""SIGTERM and SIGHUP (a service manager stopping coach, a terminal closed) end a render as Ctrl-C
does: one line, exit 128 + the signal's number, the previous output untouched, no temporary
left beside it or in TMPDIR, no process left running."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from procs import ROUTINE, command, env, group_ends, leftovers

pytestmark = pytest.mark.slow
PREVIOUS = b"ID3 the previous session " * 100


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("whole_group", [True, False], ids=["group", "coach"])
def test_a_stopping_signal_is_an_interruption(tmp_path: Path, sig: signal.Signals, whole_group: bool) -> None:
    routine = tmp_path / "r.yaml"
    routine.write_text(ROUTINE, encoding="utf-8")
    folder, scratch = tmp_path / "out", tmp_path / "tmp"
    folder.mkdir()
    scratch.mkdir()
    out = folder / "session.mp3"
    out.write_bytes(PREVIOUS)
    proc = subprocess.Popen(
        command("render", str(routine), "-o", str(out), "--engine", "fake", "-q"),
        env=env(COACH_CACHE_DIR=str(tmp_path / "cache"), TMPDIR=str(scratch)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    # Wait for the work to be well under way: speech clips cached, or the encoder's scratch.
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if list(scratch.iterdir()) or len(list((tmp_path / "cache").rglob("*.wav"))) >= 5:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the render ended before it could be stopped"
    (os.killpg if whole_group else os.kill)(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    assert group_ends(proc.pid), "processes left running after coach ended"
    assert proc.returncode == 128 + sig, (proc.returncode, err)
    assert err == f"coach: stopped by {sig.name}\n"
    assert out.read_bytes() == PREVIOUS
    assert leftovers(folder) == []
    assert list(scratch.iterdir()) == []
