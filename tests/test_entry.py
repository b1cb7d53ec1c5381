"""The entry point: what counts as an interruption, and a Ctrl-C that is ignored stays ignored."""

from __future__ import annotations

import subprocess
import sys

import pytest

from coach import entry


def test_any_error_after_a_ctrl_c_is_the_interruption_but_a_chosen_exit_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entry, "_interrupted", [])
    assert entry._ctrl_c(KeyboardInterrupt())
    assert not entry._ctrl_c(TypeError("expected a message argument"))
    monkeypatch.setattr(entry, "_interrupted", [2])
    assert entry._ctrl_c(TypeError("expected a message argument"))  # a Ctrl-C inside an import, disguised
    assert not entry._ctrl_c(SystemExit(130))  # `coach play` stopped by Ctrl-C: its own summary and exit


PROBE = """
import signal, sys
if sys.argv[1] == "ignored":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell starts a background job
import coach.cli
coach.cli.main = lambda: print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)
from coach.entry import main
main()
"""


@pytest.mark.parametrize(("start", "ignored"), [("ignored", "True"), ("default", "False")])
def test_a_ctrl_c_ignored_from_the_start_stays_ignored(start: str, ignored: str) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, start], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ignored


def test_a_crash_in_native_code_is_reported_not_silent() -> None:
    """A speech engine that crashes (eSpeak NG on very long text did) must not end coach with a
    bare exit 139: Python's fault handler says what happened and where."""
    import signal

    from procs import coach

    crash = "import ctypes, coach.cli\ncoach.cli.main = lambda: ctypes.string_at(0)\n"
    result = coach("check", prelude=crash)
    assert result.returncode == -signal.SIGSEGV
    assert "Fatal Python error: Segmentation fault" in result.stderr
