"""What YAML 1.1 reads otherwise than a person means is refused or kept as written, with its
line; text that would reach a terminal or a tag raw (control characters, lone surrogates) is
refused; a routine is read with a bound whatever the file is."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from coach.errors import RoutineError, RoutineErrors
from coach.routine import loader

Write = Callable[..., Path]


def _routine(title: str = "T", block: str = "A", exercise: str = "name: Plank", top: str = "") -> str:
    return f"title: {title}\n{top}blocks:\n  - name: {block}\n    exercises:\n      - {exercise}\n"


def _error(text: str) -> str:
    with pytest.raises((RoutineError, RoutineErrors)) as info:
        loader.parse(text, "r.yaml")
    return str(info.value)


def test_names_that_look_like_numbers_are_kept_as_written() -> None:
    routine = loader.parse(_routine(title="1:30", block="007", exercise="name: 0x10"))
    assert routine.title == "1:30"
    assert routine.blocks[0].name == "007"
    assert routine.blocks[0].exercises[0].name == "0x10"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("045", "`045` is read by YAML as the octal number 37"), ("0x10", "hexadecimal number 16"), ("0b11", "binary number 3")],
)
def test_a_duration_in_another_base_is_refused_with_its_line(value: str, fragment: str) -> None:
    message = _error(_routine(exercise=f"{{name: Plank, rest: {value}}}"))
    assert message.startswith("r.yaml:5: ") and fragment in message


def test_a_clock_time_is_read_as_written() -> None:
    routine = loader.parse(_routine(exercise="{name: Plank, work: 1:30}"))
    assert routine.blocks[0].exercises[0].work_ms == 90_000
    message = _error(_routine(top="lead_in: 190:00\n"))
    assert "'190:00', 3:10:00" in message and "11400" not in message


def test_a_whole_number_in_octal_is_refused() -> None:
    assert "`010` is read by YAML as 8" in _error(_routine(block="A\n    rounds: 010"))


@pytest.mark.parametrize("text", ['"Plank\\ud800"', '"Red \\e[31m"', '"bell\\a"', '"nul\\0"', '"c1 \\x9b"'])
def test_control_characters_and_lone_surrogates_are_refused(text: str) -> None:
    message = _error(_routine(exercise=f"name: {text}"))
    assert message.startswith("r.yaml:5: ") and ("control character" in message or "lone surrogate" in message)
    message.encode("ascii")  # the message itself is printable anywhere


def test_tabs_and_line_breaks_in_text_are_fine() -> None:
    routine = loader.parse(_routine(exercise='{name: Plank, tips: ["Breathe\\tout.\\nSlowly."]}'))
    assert routine.blocks[0].exercises[0].tips == ("Breathe\tout.\nSlowly.",)


def test_unbounded_files_are_read_with_a_bound(tmp_path: Path) -> None:
    with pytest.raises(RoutineError, match="too large"):
        loader.load("/dev/zero")
    fifo = tmp_path / "r.yaml"
    os.mkfifo(fifo)

    def endless() -> None:
        try:
            with open(fifo, "wb") as sink:
                while True:
                    sink.write(b"# comment\n" * 10_000)
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=endless, daemon=True)
    writer.start()
    with pytest.raises(RoutineError, match="too large"):
        loader.load(fifo)
    writer.join(5)


def test_a_tip_of_punctuation_only_is_refused_with_its_line() -> None:
    message = _error(_routine(exercise='{name: Plank, tips: ["Breathe.", "..."]}'))
    assert message.startswith("r.yaml:5: ") and "tip '...' has no words to say" in message
