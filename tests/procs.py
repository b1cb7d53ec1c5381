"""Running coach as a user does, in a child process, for the fault, atomicity and concurrency tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# A routine of 3 min 26 s: enough distinct cues (27, over 24) for parallel synthesis, no dropped cues.
ROUTINE = """\
title: Faults
lead_in: 12s
outro: 4s
defaults: {work: 15s, rest: 7s, switch: 4s}
blocks:
  - name: Main
    rounds: 2
    round_rest: 10s
    exercises:
      - name: Squat
        tips: ["Chest up.", "Knees out."]
      - name: Side plank
        work: 10s
        sides: true
      - name: Bridge
        tips: ["Drive through your heels."]
      - name: Lunge
"""

_RUN_MAIN = "\nimport sys\nsys.argv = ['coach'] + sys.argv[1:]\nfrom coach.entry import main\nmain()\n"


def env(**changes: str) -> dict[str, str]:
    out = dict(os.environ, COLUMNS="120")
    out.update(changes)
    return out


def command(*args: str, prelude: str = "") -> list[str]:
    """`python -m coach ARGS`; with a prelude, Python code run first in the same process."""
    if prelude:
        return [sys.executable, "-c", prelude + _RUN_MAIN, *args]
    return [sys.executable, "-m", "coach", *args]


def coach(*args: str, prelude: str = "", cwd: Path | None = None, timeout: float = 300, **environ: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args, prelude=prelude), capture_output=True, text=True, cwd=cwd, env=env(**environ), timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit 1, and stderr is one `coach: error: ...` line containing every fragment."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1 and lines[0].startswith("coach: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def leftovers(folder: Path) -> list[str]:
    """Temporary files coach may have left in a folder (hidden `.NAME.*.part*` files)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or ".part" in p.name)


def group_ends(pgid: int, timeout: float = 30) -> bool:
    """Whether every process of the render's group (ffmpeg, synthesis workers) ends by itself
    once coach has; the stragglers are killed either way."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() > deadline:
            os.killpg(pgid, signal.SIGKILL)
            return False
        time.sleep(0.02)
