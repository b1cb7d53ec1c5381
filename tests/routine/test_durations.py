from __future__ import annotations

import pytest

from coach.routine.durations import format_clock, format_stamp, parse_duration


@pytest.mark.parametrize(
    ("value", "ms"),
    [(45, 45_000), (1.5, 1_500), ("45", 45_000), ("45s", 45_000), ("2m", 120_000), ("1m30s", 90_000),
     ("1:30", 90_000), ("1:02:03", 3_723_000), ("2min", 120_000), ("1h", 3_600_000), (" 30 s ", 30_000), ("0.5s", 500)],
)
def test_parse(value: object, ms: int) -> None:
    assert parse_duration(value) == ms


@pytest.mark.parametrize("value", ["soon", "", "-5s", "1:3", "5x", None, True, [1], float("nan"), "m"])
def test_parse_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


def test_format() -> None:
    assert format_clock(960_000) == "16:00"
    assert format_clock(3_723_000) == "1:02:03"
    assert format_stamp(61_250) == "1:01.250"
