"""Chapters, tags, cover and cue text: computed from the timeline, read back from the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from coach.output import chapters, subtitles
from coach.output.render import RenderOptions, render
from coach.plan.scheduler import Cue
from coach.routine import loader
from coach.session import Session, SpeechOptions, prepare

ROUTINE = """\
title: Chapters
description: Two blocks, sides and rounds.
coach: Sam
lead_in: 6s
outro: 4s
blocks:
  - name: Warm-up
    exercises:
      - {name: March, work: 8s, rest: 4s}
      - {name: Lunge, work: 6s, sides: true, switch: 3s, rest: 4s}
  - name: Strength
    rounds: 2
    round_rest: 7s
    exercises:
      - {name: Squat, work: 8s, rest: 4s}
      - {name: Bridge, work: 8s, rest: 4s}
"""


@pytest.fixture
def session(write_routine, fake_options: SpeechOptions) -> Session:  # type: ignore[no-untyped-def]
    return prepare(loader.load(write_routine(ROUTINE)), fake_options)


def test_one_chapter_per_exercise_side_and_round_tiling_the_session(session: Session) -> None:
    marks = chapters.chapters(session.timeline, session.book)
    assert [c.title for c in marks] == [
        "Lead-in", "March", "Lunge, left side", "Lunge, right side",
        "Squat, round 1 of 2", "Bridge, round 1 of 2", "Squat, round 2 of 2", "Bridge, round 2 of 2", "Finish",
    ]
    assert marks[0].start_ms == 0 and marks[-1].end_ms == session.timeline.duration_ms
    assert all(a.end_ms == b.start_ms for a, b in zip(marks, marks[1:]))
    # Each exercise chapter starts with the rest or switch that leads into its work.
    segments = session.timeline.segments
    works = [i for i, s in enumerate(segments) if s.kind == "work"]
    expected = [segments[i - 1].start_ms if segments[i - 1].kind != "lead_in" else segments[i].start_ms for i in works]
    assert [c.start_ms for c in marks[1:-1]] == expected
    assert marks[-1].start_ms == next(s.start_ms for s in segments if s.kind == "outro")


def test_block_chapters(session: Session) -> None:
    marks = chapters.chapters(session.timeline, session.book, "block")
    assert [c.title for c in marks] == ["Lead-in", "Warm-up", "Strength (2 rounds)", "Finish"]
    by_exercise = chapters.chapters(session.timeline, session.book)
    assert marks[2].start_ms == by_exercise[4].start_ms


def test_subtitle_formats() -> None:
    cues = (Cue(1_234, 2_500, "go", "Go!", "Go!"), Cue(61_000, 3_723_456, "tip", "Breathe  out.", "Breathe out."))
    info = subtitles.SheetInfo("T", "coach", "coach sessions", 3_800_000)
    assert subtitles.vtt(cues, info).splitlines()[:4] == ["WEBVTT", "", "00:00:01.234 --> 00:00:02.500", "Go!"]
    assert "01:02:03,456" in subtitles.srt(cues, info).splitlines()[5]
    lrc = subtitles.lrc(cues, info).splitlines()
    assert "[00:01.23]Go!" in lrc and "[00:02.50]" in lrc and "[01:01.00]Breathe out." in lrc
    assert "[length:63:20]" in lrc


@pytest.mark.ffmpeg
def test_mp3_chapters_tags_cover_and_lyrics_read_back(session: Session, tmp_path: Path) -> None:
    from mutagen.id3 import ID3

    out = tmp_path / "s.mp3"
    report = render(session, out, RenderOptions(rate=22050, subtitles=("vtt", "lrc", "srt")))
    tag = ID3(out)
    assert tag.version[:2] == (2, 3)
    toc = tag.getall("CTOC")
    assert len(toc) == 1 and toc[0].flags == 3  # top level, ordered
    frames = {c.element_id: c for c in tag.getall("CHAP")}
    read = [frames[i] for i in toc[0].child_element_ids]
    expected = chapters.chapters(session.timeline, session.book)
    assert [(c.start_time, c.end_time, str(c.sub_frames["TIT2"])) for c in read] == [
        (c.start_ms, c.end_ms, c.title) for c in expected
    ]
    assert report.chapters == expected
    # Stored in time order too: readers that list chapters as stored (ffmpeg) show them in order.
    assert [c.start_time for c in tag.getall("CHAP")] == [c.start_ms for c in expected]
    import re
    import subprocess

    from coach.tools import ffmpeg_path

    probe = subprocess.run([ffmpeg_path(), "-hide_banner", "-i", str(out)], capture_output=True, text=True).stderr
    starts = [float(x) for x in re.findall(r"Chapter #\d+:\d+: start (\d+\.\d+)", probe)]
    assert starts == [c.start_ms / 1000 for c in expected]
    assert str(tag["TIT2"]) == "Chapters" and str(tag["TPE1"]) == "Sam"
    assert str(tag["TALB"]) and str(tag["TCON"]) == "Fitness" and str(tag["TDRC"]).isdigit()
    assert tag.getall("COMM")[0].text == ["Two blocks, sides and rounds."]
    cover = tag.getall("APIC")[0]
    assert cover.type == 3 and cover.mime == "image/jpeg" and cover.data[:2] == b"\xff\xd8"
    sylt = tag.getall("SYLT")[0]
    spoken = [(text, ms) for text, ms in sylt.text if text]
    assert spoken == [(c.text, c.start_ms) for c in session.cues]
    for fmt in ("vtt", "lrc", "srt"):
        assert (tmp_path / f"s.{fmt}").read_text(encoding="utf-8").strip()


@pytest.mark.ffmpeg
def test_cover_file_is_embedded_as_given(session: Session, tmp_path: Path) -> None:
    from mutagen.id3 import ID3
    from PIL import Image

    image = tmp_path / "cover.png"
    Image.new("RGB", (64, 64), (200, 40, 40)).save(image)
    out = tmp_path / "c.mp3"
    render(session, out, RenderOptions(rate=22050, cover=image, chapters="block"))
    cover = ID3(out).getall("APIC")[0]
    assert cover.mime == "image/png" and cover.data == image.read_bytes()
    assert len(ID3(out).getall("CHAP")) == 4


def test_bad_cover_is_one_clear_error_and_nothing_written(session: Session, tmp_path: Path) -> None:
    from coach.errors import MediaError

    bad = tmp_path / "cover.jpg"
    bad.write_text("not an image")
    out = tmp_path / "x.mp3"
    with pytest.raises(MediaError, match="not an image"):
        render(session, out, RenderOptions(cover=bad))
    with pytest.raises(MediaError, match="cannot read"):
        render(session, out, RenderOptions(cover=tmp_path / "missing.png"))
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["cover.jpg", "routine.yaml"]
