"""Mastering without passes over the session: the in-process meter, per-clip limiting, the cache."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import decode

from audio import ffmpeg_meter
from audio.test_loudness import ROUTINE, ebur128, speechlike, write_wav
from coach import defaults
from coach.audio import decoded, mixdown, tones, voice_level
from coach.audio import mastering as master_to
from coach.audio.limiter import Limiter
from coach.audio.meter import Loudness, Meter
from coach.audio.mixdown import FULL_SCALE, Mixdown, MixSettings
from coach.output import render as rendering
from coach.output.render import RenderOptions, render
from coach.plan.scheduler import Cue
from coach.routine import loader
from coach.session import SpeechOptions, prepare
from coach.speech.clip import Clip

RATE = 22050


def _mix() -> Mixdown:
    clips = {"a": Clip(speechlike(1.5, RATE, 1), RATE), "b": Clip(speechlike(0.8, RATE, 2), RATE)}
    cues = tuple(Cue(start, start + 1500, "tip", name, name)
                 for start, name in [(400, "a"), (2500, "b"), (3400, "a"), (6000, "b"), (6900, "a")])
    sounds = (tones.Tone(2500, "count"), tones.Tone(9000, "go"))
    return Mixdown(cues, clips, 10_000, RATE, tones=sounds)


def test_clips_filtered_again_measure_exactly_as_clips_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the clips heard last keep their parts and energies (memory flat in the number of
    clips): one mixed and filtered again when it recurs gives the same numbers."""
    settings = MixSettings(voice_db=12, tones_db=-10, ceiling_db=-3)
    mix = _mix().with_settings(settings)
    kept = voice_level.voice_measure(mix, mix.adjusted(ceiling_db=None))
    monkeypatch.setattr(mixdown, "CLIP_BYTES", 0)  # "a" and "b" alternate: each clip resampled,
    monkeypatch.setattr(mixdown, "LIMITED_BYTES", 0)  # limited and mixed again when it is needed
    mix = _mix().with_settings(settings)
    again = voice_level.voice_measure(mix, mix.adjusted(ceiling_db=None))
    # To the last bit where only one of them is made again; both: numpy's FFT of the same values
    # at another address may round its last bit otherwise.
    assert again[0].integrated == pytest.approx(kept[0].integrated, abs=1e-9) and again[1] == pytest.approx(kept[1], abs=1e-12)
    assert math.isfinite(kept[0].integrated)


@pytest.mark.ffmpeg
@pytest.mark.parametrize("settings", [MixSettings(tones=False), MixSettings(voice_db=12, tones_db=-10, ceiling_db=-3)])
def test_in_process_meter_agrees_with_ffmpeg(settings: MixSettings) -> None:
    mix = _mix().with_settings(settings)
    ours = voice_level.voice_loudness(mix).integrated
    theirs = ffmpeg_meter.measure(mix, true_peak=False).integrated  # ffmpeg's ebur128 over the whole stream
    assert abs(ours - theirs) <= 0.1, (ours, theirs)


@pytest.mark.ffmpeg
@pytest.mark.parametrize("tones", [False, True])
def test_what_is_sent_is_measured_as_ffmpeg_meters_it(tones: bool, tmp_path: Path) -> None:
    """Speech alone is the voice layer: its in-process loudness is what the encoder is sent
    (int16), as ffmpeg meters that stream. With tones a second limiter guards their sum with the
    voice, which the voice layer's meter does not see: the stream is metered in-process as sent."""
    mix = _mix().with_settings(MixSettings(voice_db=12, tones_db=-2, ceiling_db=-3, tones=tones))
    stream = Meter(RATE, 1, true_peak=False, full_scale=FULL_SCALE)
    chunks = list(mix.chunks(3000))
    for chunk in chunks:
        stream.feed(chunk)
    theirs, _ = ebur128(write_wav(tmp_path / "sent.wav", np.concatenate(chunks)[:, None], RATE))
    assert abs(stream.result().integrated - theirs) <= 0.05, (stream.result(), theirs)
    if not tones:
        assert abs(voice_level.voice_loudness(mix).integrated - theirs) <= 0.05, (voice_level.voice_loudness(mix), theirs)


def test_mastering_steps_by_the_estimated_slope() -> None:
    """Each measurement estimates its own slope (the share of energy the limiter leaves alone),
    so mastering reaches the target in a few measurements; a poor estimate is caught by the
    bracket."""
    mix = _mix().with_settings(MixSettings(voice_db=6))
    mastered, mastering = master_to.master(mix, target_lufs=-14.0)
    assert abs(mastering.mix.integrated - (-14.0)) <= master_to.TOLERANCE_LU
    assert mastering.passes <= 4
    assert 0.1 <= mastering.slope < 1.0
    assert voice_level.voice_loudness(mastered).integrated == mastering.mix.integrated

    calls: list[float] = []

    def steep(gain: float) -> tuple[float, float]:  # slope 1, estimated as 0.1: Newton overshoots
        calls.append(gain)
        return -20.0 + gain, 0.1

    gain, _, tries = master_to._solve(steep, -16.0, 0.0)
    assert abs(gain - 4.0) <= master_to.TOLERANCE_LU and tries <= 4, calls


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
    n = len(mix._scaled_clip("a"))
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
    monkeypatch.setattr(decoded, "measure_decoded", lambda *args, **kwargs: (_ for _ in ()).throw(AssertionError("metered again")))
    second = render(session, tmp_path / "b.mp3", options)
    monkeypatch.undo()
    # The remembered figure is the one the identical samples of the new file really measure.
    assert np.array_equal(decode(tmp_path / "a.mp3", RATE), decode(tmp_path / "b.mp3", RATE))
    fresh = decoded.measure_decoded(tmp_path / "b.mp3", RATE, 1)
    assert second.measured == first.measured
    assert abs(fresh.integrated - second.measured.integrated) <= 0.1
    assert abs(fresh.true_peak - second.measured.true_peak) <= 0.1


@pytest.mark.ffmpeg
def test_a_true_peak_over_the_ceiling_is_encoded_again(write_routine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    session = prepare(loader.load(write_routine(ROUTINE)), SpeechOptions(engine="fake"))
    measure = decoded.measure_decoded
    files: list[Loudness] = []

    def measured(path: Path, rate: int, channels: int, true_peak: bool = True) -> Loudness:
        got = measure(path, rate, channels, true_peak)
        if path.stem != "excerpt":  # the whole file, not the excerpt
            files.append(got)
            if len(files) == 1:
                return replace(got, true_peak=-0.5)  # as if the encoder had pushed a peak over
        return got

    monkeypatch.setattr(decoded, "measure_decoded", measured)
    report = render(session, tmp_path / "a.mp3", RenderOptions(rate=RATE))
    assert len(files) == 2
    assert report.measured == files[1]
    first_ceiling = defaults.CEILING_DBTP - master_to.CODEC_MARGIN_DB["mp3"]
    assert report.mastering.settings.ceiling_db == pytest.approx(first_ceiling - (0.5 + 0.3))


@pytest.mark.ffmpeg
def test_a_peaky_excerpt_is_mastered_again_with_a_wider_margin(write_routine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    session = prepare(loader.load(write_routine(ROUTINE)), SpeechOptions(engine="fake"))
    excerpt = rendering._codec_shift
    overshoots: list[float] = []

    def peaky(mastered: Mixdown, options: RenderOptions, frames: object) -> tuple[float, float]:
        shift, overshoot = excerpt(mastered, options, frames)  # type: ignore[arg-type]
        overshoots.append(overshoot)
        return shift, 1.2 + 0.3 * len(overshoots)  # as if this voice made the encoder overshoot 1.5, then 1.8 dB

    monkeypatch.setattr(rendering, "_codec_shift", peaky)
    files: list[Loudness] = []
    measure = decoded.measure_decoded

    def measured(path: Path, rate: int, channels: int, true_peak: bool = True) -> Loudness:
        got = measure(path, rate, channels, true_peak)
        if path.stem != "excerpt":
            files.append(got)
        return got

    monkeypatch.setattr(decoded, "measure_decoded", measured)
    report = render(session, tmp_path / "a.mp3", RenderOptions(rate=RATE))
    assert len(overshoots) == 2  # the second excerpt at the gain the session is encoded with
    assert report.mastering.settings.ceiling_db == pytest.approx(defaults.CEILING_DBTP - (1.8 + master_to.PEAK_HEADROOM_DB))
    assert len(files) == 1 and abs(report.measured.integrated - defaults.TARGET_LUFS) <= 0.5  # one encode, on target


def test_the_codec_margin_follows_the_excerpt_or_stays() -> None:
    assert master_to.codec_margin(0.1, 1.5) == 1.5
    assert master_to.codec_margin(math.nan, 1.5) == 1.5
    assert master_to.codec_margin(2.0, 1.5) == pytest.approx(2.0 + master_to.PEAK_HEADROOM_DB)
    assert master_to.makeup_db(2.0, 0.5) == pytest.approx(2.0)
    assert master_to.makeup_db(-1.0, 0.5) == 0.0
    assert master_to.makeup_db(10.0, 0.1) == master_to.MAX_MAKEUP_DB
