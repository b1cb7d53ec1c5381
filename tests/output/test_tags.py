"""Tags as players read them back: any number of chapters, in order; titles with the
characters ffmetadata and WebVTT treat as markup."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coach.output import encode, subtitles, tags
from coach.output.chapters import Chapter
from coach.plan.scheduler import Cue


def _info(chapters: int, title: str = "Many") -> tags.TrackInfo:
    marks = tuple(Chapter(n * 100, (n + 1) * 100, f"Chapter {n}") for n in range(chapters))
    return tags.TrackInfo(title=title, artist="Sam\\", album="coach sessions", year="2026", genre="Fitness",
                          comment="", language="en", duration_ms=chapters * 100, chapters=marks)


def _silence(path: Path, fmt: str, info: tags.TrackInfo, ms: int) -> None:
    frames = 44100 * ms // 1000
    with encode.staged(path, suffix=f".{fmt}") as tmp:
        encode.write([np.zeros(frames, np.int16)], tmp, encode.EncodeOptions(fmt, 44100, 1, "64k", info.text_tags,
                                                                            tags.ffmetadata(info)), out=path)
        tags.write(tmp, fmt, info)


def test_more_chapters_than_one_table_holds_are_all_there_in_order(tmp_path: Path) -> None:
    from mutagen.id3 import ID3, CTOCFlags

    info = _info(600)
    out = tmp_path / "many.mp3"
    _silence(out, "mp3", info, 60_000)
    tag = ID3(out)
    top = [f for f in tag.getall("CTOC") if f.flags & CTOCFlags.TOP_LEVEL]
    assert len(top) == 1 and top[0].child_element_ids == ["toc0", "toc1", "toc2"]
    listed = [cid for toc in top[0].child_element_ids for cid in tag[f"CTOC:{toc}"].child_element_ids]
    starts = [tag[f"CHAP:{cid}"].start_time for cid in listed]
    assert len(listed) == 600 and starts == sorted(starts) and starts[0] == 0


@pytest.mark.parametrize("fmt", ["wav", "m4a"])
def test_a_title_ending_in_a_backslash_swallows_no_tag(tmp_path: Path, fmt: str) -> None:
    import subprocess

    from coach.tools import ffmpeg_path

    out = tmp_path / f"s.{fmt}"
    _silence(out, fmt, _info(2, title="Back\\"), 1000)
    meta = subprocess.run([ffmpeg_path(), "-v", "error", "-i", str(out), "-f", "ffmetadata", "-"], capture_output=True,
                          text=True, check=True).stdout
    head = meta.split("[CHAPTER]")[0]  # the global tags
    found = dict(line.split("=", 1) for line in head.splitlines()[1:] if "=" in line)
    assert found["title"].rstrip() == "Back\\\\" and found["artist"].rstrip() == "Sam\\\\"  # escaped in the dump
    assert found["album"] == "coach sessions"


def test_vtt_cue_text_is_escaped() -> None:
    cues = (Cue(0, 1000, "tip", "a < b & c --> d", "a < b & c --> d"),)
    text = subtitles.vtt(cues, subtitles.SheetInfo("T", "A", "B", 1000)).splitlines()[3]
    assert text == "a &lt; b &amp; c --&gt; d"
