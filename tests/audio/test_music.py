"""The music bed: streamed, crossfaded, ducked under every cue; stereo output on the timeline."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import decode, onsets

from coach.audio import music
from coach.errors import MediaError
from coach.output.render import RenderOptions, render
from coach.routine import loader
from coach.session import Session, SpeechOptions, prepare
from coach.tools import ffmpeg_path

RATE = 22050
ROUTINE = """\
title: Music
lead_in: 6s
outro: 8s
blocks:
  - name: Main
    exercises:
      - {name: Squat, work: 24s, rest: 8s}
      - {name: Plank, work: 12s}
"""


def make_music(path: Path, seconds: float, seeds: tuple[int, int] = (1, 2)) -> Path:
    """Stereo pink noise, the channels uncorrelated: the side channel (L - R) is music only."""
    subprocess.run(
        [ffmpeg_path(), "-v", "error", "-y",
         "-f", "lavfi", "-i", f"anoisesrc=color=pink:seed={seeds[0]}:amplitude=0.3:d={seconds}",
         "-f", "lavfi", "-i", f"anoisesrc=color=pink:seed={seeds[1]}:amplitude=0.3:d={seconds}",
         "-filter_complex", "[0][1]amerge=inputs=2", "-ar", str(RATE), str(path)],
        check=True,
    )
    return path


@pytest.fixture
def session(write_routine, fake_options: SpeechOptions) -> Session:  # type: ignore[no-untyped-def]
    return prepare(loader.load(write_routine(ROUTINE)), fake_options)


def _db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-9))


@pytest.mark.ffmpeg
def test_music_is_ducked_under_every_cue(session: Session, tmp_path: Path) -> None:
    bed = make_music(tmp_path / "bed.wav", 15)  # shorter than the session: it loops
    out = tmp_path / "m.mp3"
    report = render(session, out, RenderOptions(rate=RATE, music=bed, duck=12, music_level=-12))
    assert report.channels == 2
    pcm = decode(out, RATE, channels=2).reshape(-1, 2)
    assert len(pcm) == session.timeline.duration_ms * RATE // 1000
    side = (pcm[:, 0].astype(np.int32) - pcm[:, 1]) / 2  # the centred voice cancels
    ms = RATE // 1000
    cues = session.cues
    during = [_db(side[(c.start_ms + 40) * ms : (c.end_ms - 40) * ms]) for c in cues if c.end_ms - c.start_ms > 300]
    between = []
    for a, b in zip(cues, cues[1:]):
        lo, hi = a.end_ms + 700, b.start_ms - 300  # clear of the ramps
        if hi - lo >= 300 and lo > 3000 and hi < session.timeline.duration_ms - 7000:
            between.append(_db(side[lo * ms : hi * ms]))
    assert len(during) >= 5 and len(between) >= 3
    depth = np.median(between) - np.median(during)
    assert 10.5 <= depth <= 13.5, (depth, during, between)
    # The music fades out: the last 50 ms are 30 dB under the music between cues.
    assert _db(side[-50 * ms :]) < np.median(between) - 30


@pytest.mark.ffmpeg
def test_stereo_output_keeps_cues_on_time_and_the_exact_length(session: Session, tmp_path: Path) -> None:
    bed = make_music(tmp_path / "bed.wav", 30)
    out = tmp_path / "m.mp3"
    render(session, out, RenderOptions(rate=RATE, music=bed, music_level=-60))
    pcm = decode(out, RATE, channels=2).reshape(-1, 2)
    assert len(pcm) == session.timeline.duration_ms * RATE // 1000
    assert np.array_equal(pcm[:, 0], pcm[:, 1]) or np.abs(pcm[:, 0].astype(np.int32) - pcm[:, 1]).max() < 200
    # The threshold clears the encoder's smear at the end of a cue 150 ms before the next.
    errors = onsets(pcm[:, 0], session.to_json()["cues"], RATE, threshold=1000)
    assert max(abs(e) for e in errors) <= 5, errors


def test_folder_plays_in_name_order_crossfaded_and_loops(tmp_path: Path) -> None:
    folder = tmp_path / "music"
    folder.mkdir()
    make_music(folder / "10 last.wav", 3, (5, 6))
    make_music(folder / "2 first.wav", 4, (3, 4))
    (folder / "notes.txt").write_text("not music")
    tracks = music.playlist(folder)
    assert [t.name for t in tracks] == ["2 first.wav", "10 last.wav"]
    plays = music.layout(tracks, 20 * RATE, RATE, crossfade_ms=1000)
    assert [p.path.name for p in plays[:4]] == ["2 first.wav", "10 last.wav", "2 first.wav", "10 last.wav"]
    for a, b in zip(plays, plays[1:]):
        assert b.start == a.start + a.length - RATE and a.fade_out == b.fade_in == RATE
    assert plays[-1].start + plays[-1].length >= 20 * RATE


def test_streamed_music_equals_music_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bed = make_music(tmp_path / "bed.wav", 5)
    whole = music.MusicBed([bed], 12 * RATE, RATE, crossfade_ms=1000)
    expected = whole.render(0, whole.frames)
    monkeypatch.setattr(music, "IN_MEMORY_MS", 0)  # force the streaming decoders
    with music.MusicBed([bed], 12 * RATE, RATE, crossfade_ms=1000) as streamed:
        chunks = np.concatenate([streamed.render(p, 3001) for p in range(0, streamed.frames, 3001)])
        assert np.array_equal(chunks[: len(expected)], expected)
        assert np.array_equal(streamed.render(RATE, 500), expected[RATE : RATE + 500])  # a seek back
    assert np.abs(expected[-10:]).max() < 1e-3  # faded out at the end


@pytest.mark.parametrize("content", ["missing", "text", "empty folder"])
def test_bad_music_is_one_clear_error_and_nothing_written(
    content: str, session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "music"
    if content == "text":
        path.write_text("not audio")
    elif content == "empty folder":
        path.mkdir()
    out = tmp_path / "x.mp3"
    with pytest.raises(MediaError) as caught:
        render(session, out, RenderOptions(music=path))
    assert "music" in str(caught.value)
    assert not out.exists() and not list(tmp_path.glob(".*part*"))


def _tone_file(path: Path, seconds: float, channels: int) -> Path:
    sources = [arg for n in range(channels) for arg in ("-f", "lavfi", "-i", f"sine=frequency={220 * (n + 2)}:duration={seconds}")]
    layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels]
    joined = "".join(f"[{n}]" for n in range(channels))
    subprocess.run([ffmpeg_path(), "-v", "error", "-y", *sources, "-filter_complex",
                    f"{joined}join=inputs={channels}:channel_layout={layout}[a]" if channels > 1 else "[0]anull[a]",
                    "-map", "[a]", "-ar", str(RATE), str(path)], check=True)
    return path


@pytest.mark.ffmpeg
@pytest.mark.parametrize(("channels", "seconds"), [(2, 20), (6, 20), (2, 0.05)], ids=["stereo", "5.1", "50ms-loop"])
def test_the_session_is_on_target_whatever_the_music(session: Session, tmp_path: Path, channels: int,
                                                      seconds: float) -> None:
    """The mastering meters the music's tracks; what the session plays of them can differ (a 5.1
    downmix, a loop shorter than its crossfades): the file as decoded is what is checked."""
    from coach.audio import ebur128

    bed = _tone_file(tmp_path / f"bed{channels}.wav", seconds, channels)
    out = tmp_path / "m.mp3"
    report = render(session, out, RenderOptions(rate=RATE, music=bed))
    measured = ebur128.measure_file(out)  # an independent meter: ffmpeg's
    assert abs(measured.integrated + 16) <= 0.5 and abs(report.measured.integrated + 16) <= 0.5, measured


def test_an_image_as_music_says_it_has_no_audio(session: Session, tmp_path: Path) -> None:
    from PIL import Image

    image = tmp_path / "cover.png"
    Image.new("RGB", (32, 32)).save(image)
    with pytest.raises(MediaError, match="it has no audio") as caught:
        render(session, tmp_path / "x.mp3", RenderOptions(music=image))
    assert "trailing" not in str(caught.value)
