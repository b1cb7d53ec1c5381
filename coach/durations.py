"""Durations: parse what people write (45, 45s, 2m, 1m30s, 1:30) into integer milliseconds."""

from __future__ import annotations

import re

_UNITS = re.compile(r"^(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m(?:in)?)?(?:(?P<s>\d+(?:\.\d+)?)s(?:ec)?)?$")
_CLOCK = re.compile(r"^(?:(?P<h>\d+):)?(?P<m>\d+):(?P<s>\d{2}(?:\.\d+)?)$")


def parse_duration(value: object) -> int:
    """Return milliseconds, or raise ValueError with a short reason.

    Accepts a number of seconds (int or float) or a string: "45", "45s", "2m", "1m30s", "1:30", "1:02:00".
    """
    if isinstance(value, bool) or value is None:
        raise ValueError("expected a duration such as 45s, 2m, 1m30s or 1:30")
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("expected a finite duration")
        return round(value * 1000)
    if not isinstance(value, str):
        raise ValueError("expected a duration such as 45s, 2m, 1m30s or 1:30")
    text = value.strip().lower().replace(" ", "")
    if text.startswith("-"):
        raise ValueError(f"duration {value!r} is negative")
    try:
        return round(float(text) * 1000)
    except ValueError:
        pass
    for pattern in (_CLOCK, _UNITS):
        match = pattern.match(text)
        if match and any(match.groupdict().values()):
            parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
            seconds = parts["h"] * 3600 + parts["m"] * 60 + parts["s"]
            return round(seconds * 1000)
    raise ValueError(f"cannot read {value!r} as a duration (try 45s, 2m, 1m30s or 1:30)")


def format_clock(ms: int) -> str:
    """16:00, 1:02:03 — for tables and displays."""
    total = ms // 1000
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes}:{seconds:02d}"


def format_stamp(ms: int) -> str:
    """0:45.250 — millisecond-precise time for cue sheets."""
    return f"{format_clock(ms)}.{ms % 1000:03d}"
