"""A careless or hostile user at the command line: every case ends in one clear line (or the
command's normal output), never a traceback, a silent wrong file or a hang."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from procs import assert_one_line_error, coach, command, env

SHORT = "title: Short\nlead_in: 2s\noutro: 2s\nblocks:\n  - name: A\n    exercises:\n      - {name: Plank, work: 3s, rest: 2s}\n"
UNICODE = "title: Ünïcødé\nblocks:\n  - name: Bløck\n    exercises:\n      - {name: Plänk, work: 3s}\n"


@pytest.fixture
def short(tmp_path: Path) -> Path:
    path = tmp_path / "short.yaml"
    path.write_text(SHORT, encoding="utf-8")
    return path


@pytest.mark.parametrize("option", ["--loudness", "--volume", "--music-level", "--duck"])
def test_nan_is_no_number_for_any_option(short: Path, tmp_path: Path, option: str) -> None:
    result = coach("render", str(short), "-o", str(tmp_path / "x.mp3"), option, "nan", "--engine", "fake")
    assert result.returncode == 2 and "nan is not a number" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.mp3").exists()


@pytest.mark.parametrize(
    ("fmt", "rate", "fragment"),
    [("mp3", "96000", "MP3 has no sample rate of 96000 Hz"), ("mp3", "12345", "use one of 8000, 11025"),
     ("ogg", "96000", "ogg cannot be encoded at 96000 Hz")],
)
def test_a_sample_rate_the_format_lacks_is_refused_up_front(short: Path, tmp_path: Path, fmt: str, rate: str,
                                                            fragment: str) -> None:
    cache = tmp_path / "cache"
    result = coach("render", str(short), "-o", str(tmp_path / f"x.{fmt}"), "--sample-rate", rate, "--engine", "fake",
                   COACH_CACHE_DIR=str(cache))
    assert_one_line_error(result, fragment)
    assert not cache.exists()  # refused before any speech was made


def test_script_into_a_pipe_closed_early_is_quiet(short: Path) -> None:
    proc = subprocess.Popen([*command("script", str(short), "--engine", "fake")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env())
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # as `| head -0` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) in (0, 1) and "Traceback" not in err and "Exception ignored" not in err, err


def test_script_with_stdout_closed_is_one_line(short: Path) -> None:
    result = subprocess.run([*command("script", str(short), "--engine", "fake")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env(), timeout=120,
                            preexec_fn=lambda: __import__("os").close(1))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1].startswith("coach: error: standard output is closed")


@pytest.mark.parametrize("cmd", ["check", "script"])
def test_non_ascii_names_on_an_ascii_terminal(tmp_path: Path, cmd: str) -> None:
    routine = tmp_path / "u.yaml"
    routine.write_text(UNICODE, encoding="utf-8")
    extra = ["--engine", "fake"] if cmd == "script" else []
    result = coach(cmd, str(routine), *extra, PYTHONIOENCODING="ascii")
    assert result.returncode == 0, result.stderr
    assert "Plänk" in result.stdout or "Pl\\xe4nk" in result.stdout  # as it is, or escaped: not a crash


def test_play_with_stdin_closed_plays(short: Path) -> None:
    result = subprocess.run([*command("play", str(short), "--engine", "fake", "--device", "null")], stdin=None,
                            capture_output=True, text=True, env=env(), timeout=120,
                            preexec_fn=lambda: __import__("os").close(0))
    assert result.returncode == 0, result.stderr
    assert "session complete" in result.stderr


def test_say_refuses_text_too_long_to_speak(tmp_path: Path) -> None:
    result = coach("say", "word " * 6000, "-o", str(tmp_path / "long.wav"), "--engine", "fake")
    assert_one_line_error(result, "too long to speak", "30,000 characters")
    assert not (tmp_path / "long.wav").exists()


def test_a_lexicon_that_expands_past_the_bound_is_one_line(short: Path, tmp_path: Path) -> None:
    book = tmp_path / "book.yaml"
    book.write_text("lexicon:\n  Plank: " + "plank " * 80 + "\n  plank: " + "x" * 10 + "\n", encoding="utf-8")
    tips = tmp_path / "tips.yaml"
    tips.write_text(SHORT.replace("rest: 2s}", "rest: 2s, tips: [\"" + "Plank " * 80 + "\"]}"), encoding="utf-8")
    result = coach("script", str(tips), "--phrases", str(book), "--engine", "fake")
    assert_one_line_error(result, "too long to speak")


def test_jobs_are_capped_by_cores_and_said(short: Path, tmp_path: Path) -> None:
    result = coach("render", str(short), "-o", str(tmp_path / "x.mp3"), "--jobs", "64", "--engine", "fake", "-q")
    assert result.returncode == 0, result.stderr
    assert "--jobs 64: using" in result.stderr


def test_thousands_of_warnings_are_summarised(tmp_path: Path) -> None:
    exercises = "".join(f"      - {{name: Move {n}, work: 1s, rest: 1s, tips: [\"Tip {n} is long enough to need time.\"]}}\n"
                        for n in range(300))
    routine = tmp_path / "many.yaml"
    routine.write_text(f"title: Many\nblocks:\n  - name: A\n    exercises:\n{exercises}", encoding="utf-8")
    result = coach("script", str(routine), "--engine", "fake", "--json")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert 20 < len(lines) <= 21 and "more warnings like these" in lines[-1], lines[-3:]


def test_the_entry_point_is_importable_without_a_terminal() -> None:
    assert subprocess.run([sys.executable, "-c", "import coach.entry"], capture_output=True).returncode == 0


def test_escape_sequences_in_file_names_reach_the_terminal_escaped(short: Path, tmp_path: Path) -> None:
    out = tmp_path / "\x1b[31mred\x1b]0;title\x07.mp3"
    result = coach("render", str(short), "-o", str(out), "--engine", "fake")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr and "\\x1b[31mred" in result.stderr
    missing = coach("render", str(short), "-o", str(tmp_path / "no\x1b[2Jdir" / "x.mp3"), "--engine", "fake")
    assert_one_line_error(missing, "no\\x1b[2Jdir")


def test_an_output_name_near_the_file_system_limit_renders(short: Path, tmp_path: Path) -> None:
    out = tmp_path / ("n" * 246 + ".mp3")  # 250 bytes: its temporary must be shorter than "." + name + ...
    result = coach("render", str(short), "-o", str(out), "--subtitles", "vtt", "--engine", "fake", "-q")
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 0 and out.with_suffix(".vtt").exists()
