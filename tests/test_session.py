"""The whole pipeline: placed cues follow the timing rules; the MP3 decodes to the timeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import decode, onsets

from coach.output.render import RenderOptions, render
from coach.plan.compiler import countdown_from
from coach.routine import loader
from coach.session import SpeechOptions, prepare

SHORT = """\
title: Short
lead_in: 8s
outro: 3s
blocks:
  - name: Main
    exercises:
      - name: Squat
        work: 30s
        rest: 8s
        tips: ["Chest up."]
      - name: Side plank
        work: 12s
        sides: true
        switch: 4s
"""


def check_timing_rules(data: dict) -> None:
    cues, segments = data["cues"], data["segments"]
    for a, b in zip(cues, cues[1:]):
        assert a["end_ms"] <= b["start_ms"], (a, b)
    go = [c["start_ms"] for c in cues if c["kind"] == "go"]
    works = [s for s in segments if s["kind"] == "work"]
    assert go == [s["start_ms"] for s in works]
    for work in works:
        # 3, 2, 1 into work; from 2 or 1 when the rest or switch before it is short (compiler.countdown_from).
        before = next(s for s in segments if s["end_ms"] == work["start_ms"])
        counts = countdown_from(before["start_ms"], work["start_ms"], before["kind"])
        starts = [c["start_ms"] for c in cues if c["kind"] == "countdown" and work["start_ms"] - 3000 <= c["start_ms"] < work["start_ms"]]
        assert starts == [work["start_ms"] - n * 1000 for n in range(counts, 0, -1)]
        inside = [c for c in cues if c["kind"] in ("halfway", "remaining", "tip") and work["start_ms"] <= c["start_ms"] < work["end_ms"]]
        assert all(c["end_ms"] <= work["end_ms"] for c in inside)
    assert all(0 <= c["start_ms"] < c["end_ms"] <= data["duration_ms"] for c in cues)


def test_fake_session_follows_the_timing_rules(write_routine, fake_options: SpeechOptions) -> None:  # type: ignore[no-untyped-def]
    session = prepare(loader.load(write_routine(SHORT)), fake_options)
    data = json.loads(json.dumps(session.to_json()))
    check_timing_rules(data)
    kinds = {c["kind"] for c in data["cues"]}
    # (A 30-s set has no halfway, 10 s from "10 seconds left"; the 4-s switch says just the side;
    # the 3-s outro is too short for the finish's summary, which is reported.)
    assert {"intro", "block", "last_exercise", "countdown", "go", "remaining", "end_count", "switch_short", "rest",
            "tip"} <= kinds
    assert [w for w in session.warnings if "dropped" in w] == [w for w in session.warnings if "`finish`" in w]


def test_builtin_session_with_fake_engine(fake_options: SpeechOptions) -> None:
    session = prepare(loader.load(), fake_options)
    check_timing_rules(session.to_json())
    assert session.timeline.duration_ms == 960_000


@pytest.mark.ffmpeg
def test_mp3_decodes_to_the_timeline(write_routine, tmp_path: Path, fake_options: SpeechOptions) -> None:  # type: ignore[no-untyped-def]
    session = prepare(loader.load(write_routine(SHORT)), fake_options)
    out = tmp_path / "short.mp3"
    render(session, out, RenderOptions())
    samples = decode(out)
    assert len(samples) == session.timeline.duration_ms * 44100 // 1000
    errors = onsets(samples, session.to_json()["cues"])
    assert max(abs(e) for e in errors) <= 5, errors
    assert not list(tmp_path.glob(".*part*"))
    from mutagen.id3 import ID3

    tags = ID3(out)
    assert str(tags["TIT2"]) == "Short" and str(tags["TPE1"]) == "coach"


@pytest.mark.ffmpeg
@pytest.mark.slow
def test_builtin_session_encoded_in_parts_decodes_to_the_timeline(tmp_path: Path, fake_options: SpeechOptions,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from coach.output import mp3splice

    joins: list[list[int]] = []
    real_join = mp3splice.join
    monkeypatch.setattr(mp3splice, "join", lambda first, rest, points, total: (joins.append(list(points)),
                                                                                real_join(first, rest, points, total)))
    session = prepare(loader.load(), fake_options)
    cues = session.to_json()["cues"]
    out = tmp_path / "parts.mp3"
    render(session, out, RenderOptions(jobs=3))
    # Cut at every gap between cues (and in the longer ones), the parts behind ffmpeg's Info frame.
    assert len(joins) == 1 and joins[0][0] == 0 and len(joins[0]) > len(cues)
    samples = decode(out)
    assert len(samples) == 960_000 * 44100 // 1000
    errors = onsets(samples, cues)
    assert max(abs(e) for e in errors) <= 5, errors
    # The joins fall between cues, with the silence around them that the join needs.
    for point in joins[0][1:]:
        lo, hi = point - mp3splice.SILENCE_BEFORE, point + mp3splice.SILENCE_AFTER
        assert not any(c["start_ms"] * 441 // 10 < hi and c["end_ms"] * 441 // 10 > lo for c in cues)


@pytest.mark.tts
@pytest.mark.ffmpeg
def test_real_engine_and_encoder_end_to_end(write_routine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    session = prepare(loader.load(write_routine(SHORT)), SpeechOptions(engine="pyttsx3"))
    check_timing_rules(session.to_json())
    out = tmp_path / "real.mp3"
    render(session, out, RenderOptions(bitrate="96k"))
    samples = decode(out)
    assert len(samples) == session.timeline.duration_ms * 44100 // 1000
    errors = onsets(samples, session.to_json()["cues"])
    assert max(abs(e) for e in errors) <= 20, errors


def test_render_is_atomic_when_encoding_fails(write_routine, tmp_path: Path, fake_options, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from coach.errors import EncoderError
    from coach.output import formats

    out = tmp_path / "keep.mp3"
    out.write_bytes(b"ID3 previous session")
    session = prepare(loader.load(write_routine(SHORT)), fake_options)
    monkeypatch.setitem(formats.FORMATS, "mp3", ["-c:a", "no-such-codec"])
    with pytest.raises(EncoderError):
        render(session, out, RenderOptions())
    assert out.read_bytes() == b"ID3 previous session"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.mp3", "routine.yaml"]


def test_live_mixdown_is_as_loud_as_a_rendered_file(fake_options: SpeechOptions) -> None:
    from coach import defaults
    from coach.audio.meter import Meter

    session = prepare(loader.load(), fake_options)
    mastered = session.mastered_mixdown(44100)
    meter = Meter(44100, 1, full_scale=32768.0)
    for chunk in mastered.chunks():
        meter.feed(chunk)
    level = meter.result()
    assert level.integrated == pytest.approx(defaults.TARGET_LUFS, abs=0.1)
    assert level.true_peak <= defaults.CEILING_DBTP
    # The cues stay where they were: only the level changed.
    errors = onsets(mastered.render(0, mastered.frames), session.to_json()["cues"])
    assert max(abs(e) for e in errors) <= 1, errors
