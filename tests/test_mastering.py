"""Mastering without passes over the session: the in-process meter, per-clip limiting, the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import decode
from test_loudness import ROUTINE, speechlike

from coach import loader, loudness, tones
from coach import render as rendering
from coach.limiter import Limiter
from coach.mixdown import FULL_SCALE, Mixdown, MixSettings
from coach.render import RenderOptions, render
from coach.scheduler import Cue
from coach.session import SpeechOptions, prepare
from coach.speech.clip import Clip

RATE = 22050


def _mix() -> Mixdown:
    clips = {"a": Clip(speechlike(1.5, RATE, 1), RATE), "b": Clip(speechlike(0.8, RATE, 2), RATE)}
    cues = tuple(Cue(start, start + 1500, "tip", name, name)
                 for start, name in [(400, "a"), (2500, "b"), (3400, "a"), (6000, "b"), (6900, "a")])
    sounds = (tones.Tone(2500, "count"), tones.Tone(9000, "go"))
    return Mixdown(cues, clips, 10_000, RATE, tones=sounds)


@pytest.mark.ffmpeg
@pytest.mark.parametrize("settings", [MixSettings(tones=False), MixSettings(voice_db=12, tones_db=-10, ceiling_db=-3)])
def test_in_process_meter_agrees_with_ffmpeg(settings: MixSettings) -> None:
    mix = _mix().with_settings(settings)
    ours = loudness.voice_loudness(mix).integrated
    theirs = loudness.measure(mix, true_peak=False).integrated  # ffmpeg's ebur128 over the whole stream
    assert abs(ours - theirs) <= 0.1, (ours, theirs)


def test_each_clip_is_limited_once_under_the_ceiling() -> None:
    mix = _mix().with_settings(MixSettings(voice_db=12, tones=False, ceiling_db=-3))
    whole = mix.render(0, mix.frames)
    assert np.array_equal(np.concatenate(list(mix.chunks(777))), whole)
    limiter = Limiter(-3, RATE, FULL_SCALE)
    lo, hi = limiter.window(0, len(whole))
    padded = np.zeros((hi - lo, 1))
    padded[-lo : -lo + len(whole), 0] = whole
    # Limiting the finished voice layer again finds nothing left to do.
    assert limiter.gains(padded).min() > 0.999
    # The same clip sounds the same wherever it falls.
    a = mix.frame(400), mix.frame(3400)
    n = len(mix._audio["a"])
    assert np.array_equal(whole[a[0] : a[0] + n], whole[a[1] : a[1] + n])


@pytest.mark.ffmpeg
def test_a_second_render_reuses_the_mastering(write_routine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    session = prepare(loader.load(write_routine(ROUTINE)), SpeechOptions(engine="fake"))
    options = RenderOptions(rate=RATE, beeps=True)
    first = render(session, tmp_path / "a.mp3", options)

    def no_mastering(*args: object, **kwargs: object) -> None:
        raise AssertionError("mastered again")

    monkeypatch.setattr(rendering, "_master", no_mastering)
    second = render(session, tmp_path / "b.mp3", options)
    assert second.mastering.settings == first.mastering.settings
    assert np.array_equal(decode(tmp_path / "a.mp3", RATE), decode(tmp_path / "b.mp3", RATE))
    with pytest.raises(AssertionError, match="mastered again"):
        render(session, tmp_path / "c.mp3", RenderOptions(rate=RATE, beeps=True, loudness=-18))


@pytest.mark.ffmpeg
def test_a_damaged_remembered_mastering_is_mastered_again(write_routine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    session = prepare(loader.load(write_routine(ROUTINE)), SpeechOptions(engine="fake"))
    options = RenderOptions(rate=RATE)
    first = render(session, tmp_path / "a.mp3", options)
    assert session.cache_dir is not None
    (entry,) = (session.cache_dir / "mastering").glob("*.json")
    entry.write_text("{not json", encoding="utf-8")
    again = render(session, tmp_path / "b.mp3", options)
    assert again.mastering.settings == first.mastering.settings
    assert abs(again.measured.integrated - options.loudness) <= 0.5


@pytest.mark.ffmpeg
def test_a_warm_render_reports_the_measurement_of_identical_audio(write_routine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    session = prepare(loader.load(write_routine(ROUTINE)), SpeechOptions(engine="fake"))
    options = RenderOptions(rate=RATE)
    first = render(session, tmp_path / "a.mp3", options)
    monkeypatch.setattr(loudness, "measure_file", lambda path: (_ for _ in ()).throw(AssertionError("metered again")))
    second = render(session, tmp_path / "b.mp3", options)
    monkeypatch.undo()
    # The remembered figure is the one the identical samples of the new file really measure.
    assert np.array_equal(decode(tmp_path / "a.mp3", RATE), decode(tmp_path / "b.mp3", RATE))
    fresh = loudness.measure_file(tmp_path / "b.mp3")
    assert second.measured == first.measured
    assert abs(fresh.integrated - second.measured.integrated) <= 0.1
    assert abs(fresh.true_peak - second.measured.true_peak) <= 0.1
