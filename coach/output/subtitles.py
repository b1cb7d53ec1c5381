"""What is being said, as text with times: WebVTT, SubRip and LRC, one small writer each.

Each writer turns placed cues into the file's text; `FORMATS` is the registry the renderer and
the CLI use. LRC has no end times, so an empty line clears the text when a cue ends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from coach.plan.scheduler import Cue


@dataclass(frozen=True)
class SheetInfo:
    title: str
    artist: str
    album: str
    duration_ms: int


def clock(ms: int, separator: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def vtt(cues: Sequence[Cue], info: SheetInfo) -> str:
    lines = ["WEBVTT", ""]
    for cue in cues:
        # Cue text is markup in WebVTT: & and < escaped (so "-->" cannot appear either).
        text = _one_line(cue.text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        lines += [f"{clock(cue.start_ms, '.')} --> {clock(cue.end_ms, '.')}", text, ""]
    return "\n".join(lines)


def srt(cues: Sequence[Cue], info: SheetInfo) -> str:
    lines: list[str] = []
    for n, cue in enumerate(cues, 1):
        lines += [str(n), f"{clock(cue.start_ms, ',')} --> {clock(cue.end_ms, ',')}", _one_line(cue.text), ""]
    return "\n".join(lines)


def _lrc_stamp(ms: int) -> str:
    minutes, rest = divmod(ms, 60_000)
    return f"[{minutes:02d}:{rest // 1000:02d}.{rest % 1000 // 10:02d}]"


def lrc(cues: Sequence[Cue], info: SheetInfo) -> str:
    minutes, rest = divmod(info.duration_ms // 1000, 60)
    lines = [
        f"[ti:{_one_line(info.title)}]", f"[ar:{_one_line(info.artist)}]", f"[al:{_one_line(info.album)}]",
        f"[length:{minutes:02d}:{rest:02d}]", "[re:coach]",
    ]
    for n, cue in enumerate(cues):
        lines.append(f"{_lrc_stamp(cue.start_ms)}{_one_line(cue.text)}")
        following = cues[n + 1].start_ms if n + 1 < len(cues) else None
        if following is None or following // 10 > cue.end_ms // 10:
            lines.append(_lrc_stamp(cue.end_ms))
    return "\n".join(lines) + "\n"


FORMATS: dict[str, Callable[[Sequence[Cue], SheetInfo], str]] = {"vtt": vtt, "srt": srt, "lrc": lrc}
