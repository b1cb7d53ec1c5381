"""Durations: parse what people write (45, 45s, 2m, 1m30s, 1:30) into integer milliseconds."""

from __future__ import annotations

import math
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
        return _ms(value)
    if not isinstance(value, str):
        raise ValueError("expected a duration such as 45s, 2m, 1m30s or 1:30")
    text = value.strip().lower().replace(" ", "")
    if text.startswith("-"):
        raise ValueError(f"duration {value!r} is negative")
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds):  # "inf" and "nan" are words, not durations
            return _ms(seconds)
    for pattern in (_CLOCK, _UNITS):
        match = pattern.match(text)
        if match and any(match.groupdict().values()):
            parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
            return _ms(parts["h"] * 3600 + parts["m"] * 60 + parts["s"])
    raise ValueError(f"cannot read {_short(value)} as a duration (try 45s, 2m, 1m30s or 1:30)")


def _ms(seconds: int | float) -> int:
    """Seconds to integer ms; a value too big for a float (1e308, 400 nines) is not a duration."""
    if isinstance(seconds, int):
        return seconds * 1000
    ms = seconds * 1000
    if math.isnan(ms):
        raise ValueError("expected a finite duration")
    if math.isinf(ms):
        raise ValueError("duration is far too long")
    return round(ms)


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


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
