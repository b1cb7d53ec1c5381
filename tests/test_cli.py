"""The command line, run as a user runs it: one clear line on bad input, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
    assert "total 0:19, 1 blocks, 1 exercises" in result.stdout
    builtin = coach("check", "lower-back")
    assert "total 16:00" in builtin.stdout


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title: T\nblocks:\n  - name: B\n    exercises: [{name: X, wrok: 3s}]\n", ":4: unknown key `wrok` in exercise 1 of block 1 (did you mean `work`?)"),
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


def test_say_to_file(tmp_path: Path) -> None:
    out = tmp_path / "say.wav"
    result = coach("say", "Tail tucked, hinge as one unit", "-o", str(out), "--engine", "fake")
    assert result.returncode == 0 and out.stat().st_size > 1000
