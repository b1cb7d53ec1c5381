"""The command line, run as a user runs it: one clear line on bad input, never a traceback."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest


def coach(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="120")
    return subprocess.run([sys.executable, "-m", "coach", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


GOOD = "title: Tiny\nlead_in: 5s\noutro: 2s\nblocks:\n  - name: Main\n    exercises:\n      - name: Squat\n        work: 12s\n"


def test_version_and_help() -> None:
    assert coach("--version").stdout.startswith("coach ")
    out = coach("--help").stdout
    for command in ("render", "script", "check", "voices", "say", "cache"):
        assert command in out


def test_check(write_routine) -> None:  # type: ignore[no-untyped-def]
    result = coach("check", str(write_routine(GOOD)))
    assert result.returncode == 0
    assert "total 0:19, 1 block, 1 exercise" in result.stdout
    builtin = coach("check", "lower-back")
    assert "total 16:00" in builtin.stdout


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title: T\nblocks:\n  - name: B\n    exercises: [{name: X, wrok: 3s}]\n",
         ":4: unknown key `wrok` in exercise `X` of block 1 (did you mean `work`?)"),
        ("title: [\n", ":2: YAML syntax error"),
        ("", ": file is empty"),
    ],
)
def test_bad_routine_is_one_line_no_traceback(write_routine, tmp_path: Path, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    path = write_routine(text)
    for command in ("check", "script", "render"):
        result = coach(command, str(path), "--engine", "fake", cwd=tmp_path) if command != "check" else coach(command, str(path))
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith(f"coach: error: {path}") and message in result.stderr, result.stderr
    assert not list(tmp_path.glob("*.mp3"))


def test_missing_file(tmp_path: Path) -> None:
    result = coach("render", str(tmp_path / "nope.yaml"), "--engine", "fake")
    assert result.returncode == 1 and "no such file" in result.stderr and "Traceback" not in result.stderr


def test_script_json_contract(write_routine) -> None:  # type: ignore[no-untyped-def]
    result = coach("script", str(write_routine(GOOD)), "--json", "--engine", "fake")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"title", "duration_ms", "segments", "cues"}
    assert data["duration_ms"] == 19_000
    assert [s["kind"] for s in data["segments"]] == ["lead_in", "work", "outro"]
    assert set(data["segments"][1]) == {"start_ms", "end_ms", "kind", "block", "exercise", "round", "side"}
    assert data["segments"][1]["exercise"] == "Squat"
    assert all(set(c) == {"start_ms", "end_ms", "kind", "text"} and isinstance(c["start_ms"], int) for c in data["cues"])


def test_script_table(write_routine) -> None:  # type: ignore[no-untyped-def]
    result = coach("script", str(write_routine(GOOD)), "--engine", "fake")
    assert result.returncode == 0
    assert "0:05.000" in result.stdout and "go" in result.stdout and "Next up: Squat, 12 seconds." in result.stdout


def test_render_writes_where_asked_and_keeps_old_file_on_bad_output(write_routine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    routine = write_routine(GOOD)
    out = tmp_path / "session.mp3"
    result = coach("render", str(routine), "-o", str(out), "--engine", "fake")
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 1000 and "wrote" in result.stderr
    missing_dir = coach("render", str(routine), "-o", str(tmp_path / "no" / "x.mp3"), "--engine", "fake")
    assert missing_dir.returncode == 1 and "does not exist" in missing_dir.stderr
    unknown_voice = coach("render", str(routine), "-o", str(out), "--engine", "fake", "--voice", "klingon")
    assert unknown_voice.returncode == 1 and "no voice `klingon`" in unknown_voice.stderr
    assert out.stat().st_size > 1000


def test_default_output_name(tmp_path: Path) -> None:
    routine = tmp_path / "my-routine.yaml"
    routine.write_text(GOOD)
    result = coach("render", "my-routine.yaml", "--engine", "fake", "-q", cwd=tmp_path)
    assert result.returncode == 0 and (tmp_path / "my-routine.mp3").exists()
    assert "wrote" not in result.stderr and "Traceback" not in result.stderr


def test_voices_and_cache(tmp_path: Path) -> None:
    voices = coach("voices", "--engine", "fake", "--language", "es")
    assert voices.returncode == 0 and "es" in voices.stdout and "en-us" not in voices.stdout
    assert "clips" in coach("cache", "--cache-dir", str(tmp_path)).stdout
    assert "removed 0 clips" in coach("cache", "--clear", "--cache-dir", str(tmp_path)).stdout


def test_cache_counts_and_clears_clips_and_mastering_results_only(write_routine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cache = tmp_path / "cache"
    made = coach("render", str(write_routine(GOOD)), "-o", str(tmp_path / "s.mp3"), "--engine", "fake", "--cache-dir", str(cache))
    assert made.returncode == 0, made.stderr
    clips = [p for p in cache.glob("??/*.wav") if len(p.stem) == 64]
    results = list(cache.glob("mastering/*.json"))
    last = list(cache.glob("mastering/*.last"))  # the last render to s.mp3: not a result, cleared with them
    parts = list(cache.glob("parts/??/*.frames"))
    assert clips and len(results) == 1 and len(last) == 1 and parts
    leftovers = {"ab/.k3x_9q2m.part": b"half a clip", "mastering/.q0w_e9rt.part": b"{"}  # a SIGKILLed write's
    mine = {"notes.txt": b"mine", "music/song.wav": b"RIFF", "mastering/notes.json": b"{}", "ab/readme.txt": b"mine"}
    for name, data in {**leftovers, **mine}.items():
        (cache / name).parent.mkdir(exist_ok=True)
        (cache / name).write_bytes(data)
    size = sum(p.stat().st_size for p in clips + results + last + parts) + sum(len(data) for data in leftovers.values())

    shown = coach("cache", "--cache-dir", str(cache))
    expected = (f"{cache}: {len(clips)} clips, 1 mastering results, {len(parts)} encoded parts, 0 served sessions,"
                f" {size / 1_000_000:.1f} MB\n")
    assert shown.stdout == expected, shown.stderr
    cleared = coach("cache", "--clear", "--cache-dir", str(cache))
    expected = f"removed {len(clips)} clips, 1 mastering results, {len(parts)} encoded parts and 0 served sessions from {cache}\n"
    assert cleared.stdout == expected, cleared.stderr
    assert {str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file()} == set(mine)
    expected = f"{cache}: 0 clips, 0 mastering results, 0 encoded parts, 0 served sessions, 0.0 MB\n"
    assert coach("cache", "--cache-dir", str(cache)).stdout == expected


def test_cache_default_folder_is_coach_cache_dir(tmp_path: Path) -> None:
    env = dict(os.environ, COACH_CACHE_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "coach", "cache"], capture_output=True, text=True, env=env, timeout=60)
    assert result.stdout == f"{tmp_path}: 0 clips, 0 mastering results, 0 encoded parts, 0 served sessions, 0.0 MB\n"


def test_say_to_file(tmp_path: Path) -> None:
    out = tmp_path / "say.wav"
    result = coach("say", "Tail tucked, hinge as one unit", "-o", str(out), "--engine", "fake")
    assert result.returncode == 0 and out.stat().st_size > 1000


def test_both_ways_in_start_at_the_entry_point() -> None:
    """coach.entry catches Ctrl-C from its first line on, start-up included."""
    import coach.entry

    assert entry_points(group="console_scripts")["coach"].value == "coach.entry:main"
    namespace = runpy.run_module("coach.__main__", run_name="not_main")  # imports, does not run
    assert namespace["main"] is coach.entry.main


# Ctrl-C, made deterministic: each case is a module run as `python -m CASE` (the way `python -m
# coach` runs), with coach.cli's main replaced by code that gets the KeyboardInterrupt where a
# real Ctrl-C can land, then handed to coach's entry point.
CTRL_C = {
    "while coach.cli imports": """
class Interrupt:  # Ctrl-C in the ~0.2 s that typer, rich and the rest take to import
    def find_spec(self, name, path=None, target=None):
        if name == "coach.cli":
            raise KeyboardInterrupt
sys.meta_path.insert(0, Interrupt())
""",
    "in a class's __set_name__, which Python 3.11 wraps in RuntimeError": """
import coach.cli
class Member:
    def __set_name__(self, owner, name): raise KeyboardInterrupt
def main():  # enum members are set up this way, in many of the modules coach imports
    class Colour:
        red = Member()
coach.cli.main = main
""",
    "in a method that dataclasses built with exec()": """
import coach.cli
def main():  # CPython then marks the interrupt unhandled; `python -m` used to die by SIGINT
    exec("raise KeyboardInterrupt")
coach.cli.main = main
""",
    "in a weakref callback, where Python drops it": """
import time, weakref, coach.cli
class Thing: pass
def interrupt(ref): raise KeyboardInterrupt
def main():  # importlib's module locks have such callbacks: a Ctrl-C there was lost
    thing = Thing()
    ref = weakref.ref(thing, interrupt)
    del thing
    time.sleep(10)  # the interrupt must end this sleep
coach.cli.main = main
""",
}


def run_case(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "ctrl_c_case.py").write_text(f"import sys\n{code}\nfrom coach.entry import main\nmain()\n", encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "ctrl_c_case"], capture_output=True, text=True, cwd=tmp_path, timeout=20)


@pytest.mark.parametrize("code", CTRL_C.values(), ids=CTRL_C.keys())
def test_ctrl_c_is_one_line_and_exit_130(tmp_path: Path, code: str) -> None:
    result = run_case(tmp_path, code)
    assert (result.returncode, result.stderr) == (130, "coach: interrupted\n")


def test_a_second_ctrl_c_while_exiting_is_ignored(tmp_path: Path) -> None:
    code = """
import atexit, os, signal, time
def exit_work():  # a second Ctrl-C here, after the message, must not cut the exit short
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.2)
    sys.stderr.write("exit work done\\n")
atexit.register(exit_work)
import coach.cli
def main(): raise KeyboardInterrupt
coach.cli.main = main
"""
    result = run_case(tmp_path, code)
    assert (result.returncode, result.stderr) == (130, "coach: interrupted\nexit work done\n")


def test_a_caught_interrupt_does_not_change_the_exit_status(tmp_path: Path) -> None:
    code = """
import coach.cli
def main():
    try:
        exec("raise KeyboardInterrupt")
    except KeyboardInterrupt:
        pass
coach.cli.main = main
"""
    result = run_case(tmp_path, code)
    assert (result.returncode, result.stderr) == (0, "")
