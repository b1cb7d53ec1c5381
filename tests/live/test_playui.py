"""The terminal side of `coach play`: the display, keys from a real pseudo-terminal, the CLI."""

from __future__ import annotations

import dataclasses
import io
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from coach.live import screen as playui
from coach.live import sink as live
from coach.live.player import Player
from coach.routine import loader
from coach.session import Session, SpeechOptions, prepare

termios = pytest.importorskip("termios")

ROUTINE = """\
title: UI test
lead_in: 1s
outro: 1s
defaults: {work: 2s, rest: 1s}
blocks:
  - name: Core
    rounds: 2
    exercises:
      - name: Plank
      - name: Dead bug
        sides: true
        switch: 1s
"""


@pytest.fixture
def session(write_routine: Callable[..., Path], fake_options: SpeechOptions) -> Session:
    return prepare(loader.load(write_routine(ROUTINE)), dataclasses.replace(fake_options, jobs=1))


def text_of(session: Session, ms: int, paused: bool = False) -> str:
    player = Player(session, session.mixdown(8000), ms)
    if paused:
        player.press(" ")
    console = Console(file=io.StringIO(), width=80, color_system=None)
    console.print(playui.view(player.status(), session.timeline.title))
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_the_display_shows_exercise_round_time_left_next_and_progress(session: Session) -> None:
    shown = text_of(session, 4500)  # round 1, Dead bug, left side, 0.5 s in
    assert "UI test" in shown and "WORK" in shown
    assert "Dead bug" in shown and "round 1 of 2" in shown and "left side" in shown
    assert all(row in shown for row in playui.big("0:02").split("\n"))  # 1.5 s left, rounded up
    assert "Next: Plank" in shown
    assert "0:04 / 0:19" in shown
    assert "q quit" in shown


def test_the_display_in_a_rest_and_paused(session: Session) -> None:
    shown = text_of(session, 3200, paused=True)  # the rest after Plank
    assert "REST" in shown and "PAUSED" in shown and "Next: Dead bug" in shown


def test_big_digits_are_five_rows() -> None:
    rows = playui.big("12:34").split("\n")
    assert len(rows) == 5 and len({len(r) for r in rows}) == 1
    assert playui.clock(1) == "0:01" and playui.clock(1000) == "0:01" and playui.clock(0) == "0:00"


def test_split_keys_keeps_arrow_sequences_whole() -> None:
    assert playui.split_keys("n \x1b[C\x1bODq") == ["n", " ", "\x1b[C", "\x1bOD", "q"]
    assert playui.split_keys("\x1b") == ["\x1b"]


def test_keys_from_a_terminal_and_the_terminal_restored() -> None:
    master, slave = os.openpty()
    try:
        with os.fdopen(slave, "r", closefd=False) as stream:
            before = termios.tcgetattr(slave)
            with playui.Keys(stream) as keys:
                during = termios.tcgetattr(slave)
                assert not during[3] & termios.ICANON and not during[3] & termios.ECHO
                os.write(master, b"n\x1b[D ")
                assert keys.read(1000) == ["n", "\x1b[D", " "]
                assert keys.read(10) == []
            assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)


def test_a_terminal_that_goes_away_ends_key_reading() -> None:
    master, slave = os.openpty()
    try:
        with os.fdopen(slave, "r", closefd=False) as stream, playui.Keys(stream) as keys:
            os.close(master)
            assert keys.read(100) == []  # hung up: no keys, and no busy loop on an empty read
            started = time.monotonic()
            assert keys.read(100) == []
            assert time.monotonic() - started >= 0.05
    finally:
        os.close(slave)


def test_no_key_reading_when_stdin_is_not_a_terminal() -> None:
    read, write = os.pipe()
    try:
        os.write(write, b"q")
        with os.fdopen(read, "r", closefd=False) as stream, playui.Keys(stream) as keys:
            assert keys.read(10) == []
        assert os.read(read, 1) == b"q"  # left where it was
    finally:
        os.close(read)
        os.close(write)


def test_q_on_the_terminal_stops_at_once_and_restores_it(session: Session) -> None:
    master, slave = os.openpty()
    try:
        with os.fdopen(slave, "r", closefd=False) as stream, live.Sink(live.NULL) as sink:
            before = termios.tcgetattr(slave)
            timer = threading.Timer(0.8, os.write, (master, b"q"))
            timer.start()
            outcome = playui.run(session, sink, 0, keys=stream, console=Console(file=io.StringIO(), width=80))
            timer.join()
            assert termios.tcgetattr(slave) == before
        assert outcome.reason == "quit"
        assert 0 < outcome.position_ms < 1500
        assert f"--from {playui.format_clock(outcome.position_ms)}" in outcome.summary
    finally:
        os.close(master)
        os.close(slave)


def test_an_error_while_playing_restores_the_terminal(session: Session) -> None:
    master, slave = os.openpty()

    class Broken(live.Sink):
        def check(self) -> None:
            raise live.DeviceError("the audio device `null` stopped playing")

    try:
        with os.fdopen(slave, "r", closefd=False) as stream, Broken(live.NULL) as sink:
            before = termios.tcgetattr(slave)
            with pytest.raises(live.DeviceError):
                playui.run(session, sink, 0, keys=stream, console=Console(file=io.StringIO(), width=80))
            assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)


# ---- the command line -----------------------------------------------------------


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    from coach import cli

    monkeypatch.setattr(sys, "argv", ["coach", *args])
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(SystemExit) as exited:
        cli.main()
    return int(exited.value.code or 0)


def test_cli_play_to_the_end(write_routine: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    path = write_routine(ROUTINE)
    started = time.monotonic()
    code = run_cli(monkeypatch, "play", str(path), "--device", "null", "--engine", "fake", "--from", "0:17")
    took = time.monotonic() - started
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "playing on null" in err and "session complete (0:19)" in err
    assert out.splitlines() == ["0:17 work: Dead bug, right (round 2 of 2)", "0:18 finish"]  # no terminal: a log
    assert 2 + live.LEAD_MS / 1000 - 0.3 <= took < 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "Plonk", "--device", "null"),
         "coach: error: no exercise named `Plonk` in this routine (did you mean `Plank`?)"),
        (("--from", "9:00", "--device", "null"), "coach: error: --from 9:00 is past the end of the session (0:19)"),
        (("--device", "Studio monitors"), "coach: error: no audio device named `Studio monitors`"),
    ],
)
def test_cli_play_errors_are_one_line(write_routine: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str) -> None:
    code = run_cli(monkeypatch, "play", str(write_routine(ROUTINE)), "--engine", "fake", *args)
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(message) and err.count("\n") == 1 and "Traceback" not in err


def test_cli_play_without_a_sound_device(write_routine: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    import miniaudio

    monkeypatch.setattr(live, "_sound_backends", lambda: [miniaudio.Backend.WEBAUDIO])
    code = run_cli(monkeypatch, "play", str(write_routine(ROUTINE)), "--engine", "fake")
    err = capsys.readouterr().err
    assert code == 1
    assert "no audio device could be opened" in err and "coach render" in err and "--device null" in err


def test_cli_devices_always_lists_null(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli(monkeypatch, "devices")
    assert code == 0
    assert any(line.startswith("null ") for line in capsys.readouterr().out.splitlines())


def test_without_a_terminal_one_line_per_segment_as_it_begins(session: Session) -> None:
    """Piped or under a service manager: a log line as each segment begins (time, phase,
    exercise, side, round), and nothing else; the lines come while the session plays."""
    out = io.StringIO()
    with live.Sink(live.NULL) as sink:
        outcome = playui.run(session, sink, 0, keys=io.StringIO(), console=Console(file=out, width=80))
    assert outcome.reason == "end"
    lines = out.getvalue().splitlines()
    starts = [s for s in session.timeline.segments]
    assert len(lines) == len(starts), lines
    for line, segment in zip(lines, starts):
        assert line.startswith(playui.format_clock(segment.start_ms) + " "), (line, segment)
    assert lines[0].startswith("0:00 get ready (next: Plank)")
    assert any(line.endswith("work: Dead bug, left (round 1 of 2)") for line in lines), lines
    assert lines[-1].endswith("finish")
