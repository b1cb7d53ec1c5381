"""m4a, ogg and wav: exact length, cues on time, loudness, and chapters where the container has them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import decode, onsets

from coach.audio import ebur128, tones
from coach.output import chapters
from coach.output.render import RenderOptions, render
from coach.routine import loader
from coach.session import Session, SpeechOptions, prepare

RATE = 22050
ROUTINE = """\
title: Formats
coach: Alex
lead_in: 6s
outro: 4s
blocks:
  - name: Main
    exercises:
      - {name: Squat, work: 20s, rest: 6s}
      - {name: Side plank, work: 10s, sides: true, switch: 4s}
"""


@pytest.fixture
def session(write_routine, fake_options: SpeechOptions) -> Session:  # type: ignore[no-untyped-def]
    return prepare(loader.load(write_routine(ROUTINE)), fake_options)


@pytest.mark.ffmpeg
@pytest.mark.parametrize("fmt", ["m4a", "ogg", "wav"])
def test_format_decodes_to_the_timeline_with_tags(fmt: str, session: Session, tmp_path: Path) -> None:
    import mutagen

    out = tmp_path / f"s.{fmt}"
    report = render(session, out, RenderOptions(format=fmt, rate=RATE))
    samples = decode(out, RATE)
    assert len(samples) == session.timeline.duration_ms * RATE // 1000
    errors = onsets(samples, session.to_json()["cues"], RATE, threshold=1000)
    assert max(abs(e) for e in errors) <= 5, errors
    measured = ebur128.measure_file(out)
    assert abs(measured.integrated + 16) <= 0.5 and measured.true_peak <= -1.0, measured
    expected = [(c.start_ms, c.title) for c in chapters.chapters(session.timeline, session.book)]
    assert [(c.start_ms, c.title) for c in report.chapters] == expected
    audio = mutagen.File(out)
    if fmt == "m4a":
        assert audio.tags["\xa9nam"] == ["Formats"] and audio.tags["\xa9ART"] == ["Alex"]
        assert audio.tags["covr"][0][:2] == b"\xff\xd8"
        assert [(round(c.start * 1000), c.title) for c in audio.chapters] == expected
    elif fmt == "ogg":
        assert audio.tags["title"] == ["Formats"] and audio.tags["artist"] == ["Alex"]
        assert audio.tags["METADATA_BLOCK_PICTURE"]
        names = [audio.tags[f"CHAPTER{n:03d}NAME"][0] for n in range(len(expected))]
        assert names == [title for _, title in expected]
        assert audio.tags["CHAPTER001"] == [f"00:00:{expected[1][0] // 1000:02d}.{expected[1][0] % 1000:03d}"]


def test_beeps_just_before_the_countdown_seconds_and_go(session: Session) -> None:
    """Each tone ends just before the second it marks, where its spoken word starts."""
    placed = tones.placements(session.timeline, beeps=True, marks=True)
    works = [s for s in session.timeline.segments if s.kind == "work"]
    go_ms, count_ms = (sum(ms for _, ms in tones.SOUNDS[n].notes) for n in ("go", "count"))
    go = [t.start_ms for t in placed if t.sound == "go"]
    assert go == [w.start_ms - go_ms - tones.LEAD_MS for w in works]
    counts = [t.start_ms + count_ms + tones.LEAD_MS for t in placed if t.sound == "count"]
    for work in works:
        assert [work.start_ms - 3000, work.start_ms - 2000, work.start_ms - 1000] == [
            c for c in counts if work.start_ms - 3000 <= c < work.start_ms
        ]
    assert [t.start_ms for t in placed if t.sound == "rest"] == [
        s.start_ms for s in session.timeline.segments if s.kind == "rest"
    ]
    assert not [t for t in placed if t.sound == "work"]  # the go tone marks work starts already


@pytest.mark.ffmpeg
def test_beeps_are_heard(session: Session, tmp_path: Path) -> None:
    out = tmp_path / "b.wav"
    render(session, out, RenderOptions(format="wav", rate=RATE, beeps=True))
    samples = decode(out, RATE).astype(np.float64)
    go = next(s.start_ms for s in session.timeline.segments if s.kind == "work")
    window = samples[(go - 300) * RATE // 1000 : (go - 40) * RATE // 1000]  # the go tone ends before "Go!"
    spectrum = np.abs(np.fft.rfft(window * np.hanning(len(window))))
    freqs = np.fft.rfftfreq(len(window), 1 / RATE)
    assert abs(freqs[spectrum.argmax()] - 1320) < 10 or spectrum[np.abs(freqs - 1320).argmin()] > 0.2 * spectrum.max()


@pytest.mark.parametrize(("bitrate", "fmt", "rate"), [("abc", "mp3", 44100), ("64", "mp3", 44100), ("9999k", "mp3", 44100),
                                                      ("8k", "mp3", 44100), ("600k", "m4a", 44100), ("-5k", "ogg", 44100)])
def test_a_bitrate_the_encoder_would_not_take_as_it_is_is_refused_first(bitrate: str, fmt: str, rate: int) -> None:
    from coach.errors import CoachError
    from coach.output.options import check

    with pytest.raises(CoachError, match="bitrate"):
        check(RenderOptions(format=fmt, rate=rate, bitrate=bitrate))


@pytest.mark.parametrize(("bitrate", "fmt", "rate"), [("64k", "mp3", 44100), ("320k", "mp3", 48000), ("8k", "mp3", 22050),
                                                      ("96k", "m4a", 44100), ("anything", "wav", 44100)])
def test_bitrates_the_encoder_takes(bitrate: str, fmt: str, rate: int) -> None:
    from coach.output.options import check

    check(RenderOptions(format=fmt, rate=rate, bitrate=bitrate))
