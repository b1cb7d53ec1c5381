"""Encoded MP3 parts reused: within a render (the silence between cues) and across renders (an
edit re-encodes only what it changed), with the same decoded samples as encoding every part."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import decode, onsets

from coach.audio import decoded
from coach.output import encode, parts_cache
from coach.output.parts_cache import PartsCache
from coach.output.render import RenderOptions, render
from coach.routine import loader
from coach.session import SpeechOptions, prepare

from .test_mp3splice import RATE, Bursts

BUILTIN = Path(loader.__file__).parent / "routines" / "lower-back.yaml"
OLD_TIP = "Keep your back long as you scoop."
NEW_TIP = "Keep your back long and your neck easy as you scoop."


def _write(source: Bursts, out: Path, reuse: PartsCache | None) -> encode.PartCounts | None:
    with encode.staged(out) as tmp:
        return encode.write(source, tmp, encode.EncodeOptions("mp3", RATE, 1, "64k"), jobs=2, out=out, reuse=reuse)


# ---- the cache itself ----------------------------------------------------------------------

def test_an_entry_is_what_was_put_and_a_damaged_one_is_a_miss(tmp_path: Path) -> None:
    cache = PartsCache(tmp_path)
    key = "ab" + "0" * 62
    cache.put(key, b"frames", b"level")
    assert cache.get(key) == (b"frames", b"level")
    path = cache.path(key)
    assert path.parent.parent == tmp_path / "parts"
    data = path.read_bytes()
    path.write_bytes(data[:-1] + b"X")  # a flipped byte
    assert cache.get(key) is None
    path.write_bytes(data[: len(data) // 2])  # a stopped copy
    assert cache.get(key) is None
    cache.put(key, b"frames")  # a damaged entry is written over
    assert cache.get(key) == (b"frames", b"")
    assert PartsCache(None).get(key) is None
    assert parts_cache.stats(tmp_path)[0] == 1
    assert parts_cache.clear(tmp_path) == 1 and not (tmp_path / "parts").exists()


def test_the_folder_keeps_under_its_bound_the_entries_used_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setenv(parts_cache.MAX_ENV, str(2500 / (1 << 20)))  # room for two of the entries below
    cache = PartsCache(tmp_path)
    keys = [f"{n:02x}" + "0" * 62 for n in range(4)]
    for n, key in enumerate(keys):
        cache.put(key, bytes(1000))
        os.utime(cache.path(key), ns=(n * 10**9, n * 10**9))
    assert cache.get(keys[0]) is not None  # used again: now the newest
    cache.trim()
    assert [k for k in keys if cache.path(k).exists()] == [keys[0], keys[3]]


# ---- encoding with it -------------------------------------------------------------------------

@pytest.mark.ffmpeg
def test_parts_reused_decode_to_the_samples_of_every_part_encoded(tmp_path: Path) -> None:
    source = Bursts(150)
    fresh = _write(source, tmp_path / "fresh.mp3", None)
    cache = PartsCache(tmp_path / "cache")
    first = _write(source, tmp_path / "first.mp3", cache)
    again = _write(source, tmp_path / "again.mp3", cache)
    assert fresh is not None and first is not None and again is not None
    parts = fresh.encoded
    # Every silence between the bursts is the first frames of one encoded silence.
    assert first.encoded + first.reused == parts and first.encoded < parts // 2 + 3
    assert (again.encoded, again.reused) == (0, parts)
    reference = decode(tmp_path / "fresh.mp3")
    assert len(reference) == source.frames
    for name in ("first.mp3", "again.mp3"):
        assert np.array_equal(decode(tmp_path / name), reference), name


@pytest.mark.ffmpeg
def test_a_damaged_entry_is_encoded_again_never_joined(tmp_path: Path) -> None:
    source = Bursts(100)
    cache = PartsCache(tmp_path / "cache")
    _write(source, tmp_path / "first.mp3", cache)
    entries = parts_cache.entries(tmp_path / "cache" / "parts")
    damaged = max(entries, key=lambda p: p.stat().st_size)  # a burst's part, not the silence
    data = bytearray(damaged.read_bytes())
    data[-100] ^= 0xFF
    damaged.write_bytes(bytes(data))
    truncated = min(entries, key=lambda p: p.stat().st_size)
    truncated.write_bytes(truncated.read_bytes()[:-7])
    counts = _write(source, tmp_path / "again.mp3", cache)
    assert counts is not None and counts.encoded == 2
    assert np.array_equal(decode(tmp_path / "again.mp3"), decode(tmp_path / "first.mp3"))
    assert cache.get(damaged.stem) is not None and cache.get(truncated.stem) is not None  # both written again


# ---- renders --------------------------------------------------------------------------------

@pytest.mark.ffmpeg
def test_a_render_with_reuse_is_sample_identical_to_one_without(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from coach.audio.mixdown import Mixdown

    session = prepare(loader.load(), SpeechOptions(engine="fake"))
    without = render(session, tmp_path / "without.mp3", RenderOptions(), reuse_parts=False)
    first = render(session, tmp_path / "first.mp3", RenderOptions())
    rendered: list[int] = []
    real = Mixdown.render
    monkeypatch.setattr(Mixdown, "render", lambda self, start, count: (rendered.append(count), real(self, start, count))[1])
    second = render(session, tmp_path / "second.mp3", RenderOptions())
    assert rendered == []  # the parts found by the keys remembered with the mastering: nothing mixed
    assert without.parts is not None and first.parts is not None and second.parts is not None
    total = without.parts.encoded
    assert without.parts.reused == 0
    # The silences between cues come from one encoded silence: most parts are not encoded.
    assert first.parts.encoded + first.parts.reused == total and first.parts.reused > total // 3
    assert (second.parts.encoded, second.parts.reused) == (0, total)  # nothing changed: nothing encoded
    reference = decode(tmp_path / "without.mp3")
    assert len(reference) == session.timeline.duration_ms * RATE // 1000
    for name in ("first.mp3", "second.mp3"):
        assert np.array_equal(decode(tmp_path / name), reference), name
    errors = onsets(reference, session.to_json()["cues"])
    assert max(abs(e) for e in errors) <= 5, errors
    measured = decoded.measure_decoded(tmp_path / "second.mp3", RATE, 1)
    assert measured.integrated == pytest.approx(-16.0, abs=0.4) and measured.true_peak <= -1.0 + 0.05


@pytest.mark.ffmpeg
def test_a_render_after_editing_one_tip_encodes_only_that_tips_parts(tmp_path: Path) -> None:
    text = BUILTIN.read_text(encoding="utf-8")
    assert OLD_TIP in text
    routine = tmp_path / "lower-back.yaml"
    routine.write_text(text, encoding="utf-8")
    out = tmp_path / "lower-back.mp3"
    before = render(prepare(loader.load(routine), SpeechOptions(engine="fake")), out, RenderOptions())
    routine.write_text(text.replace(OLD_TIP, NEW_TIP), encoding="utf-8")
    session = prepare(loader.load(routine), SpeechOptions(engine="fake"))
    after = render(session, out, RenderOptions())
    assert before.parts is not None and after.parts is not None
    # The mastering kept (still on target), so every other part is the same PCM as before.
    assert after.mastering.settings == before.mastering.settings
    assert 1 <= after.parts.encoded <= 2 and after.parts.reused > 100
    assert after.measured.integrated == pytest.approx(-16.0, abs=0.4) and after.measured.true_peak <= -1.0 + 0.05
    # The same file as a render of the edited routine that reuses nothing, to the sample.
    reference = tmp_path / "reference.mp3"
    fresh = render(session, reference, RenderOptions(), reuse_parts=False)
    assert fresh.parts is not None and fresh.parts.reused == 0
    assert np.array_equal(decode(out), decode(reference))
    errors = onsets(decode(out), session.to_json()["cues"])
    assert max(abs(e) for e in errors) <= 5, errors


# ---- the file measured from its parts --------------------------------------------------------

@pytest.mark.ffmpeg
def test_the_parts_levels_add_up_to_the_decoded_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encode, "RECENT_LEVELS", 2)  # fewer than the parts: the silence's must not be forgotten
    source = Bursts(100)
    cache = PartsCache(tmp_path / "cache")
    first = _write(source, tmp_path / "first.mp3", cache)
    again = _write(source, tmp_path / "again.mp3", cache)  # every level read back from the cache
    whole = decoded.measure_decoded(tmp_path / "first.mp3", RATE, 1)
    for counts in (first, again):
        assert counts is not None and counts.level is not None
        assert counts.level.integrated == pytest.approx(whole.integrated, abs=1e-3)
        assert counts.level.true_peak == pytest.approx(whole.true_peak, abs=1e-3)
        assert counts.level.lra == pytest.approx(whole.lra, abs=1e-3)
    assert _write(source, tmp_path / "none.mp3", None).level is None  # type: ignore[union-attr]


@pytest.mark.ffmpeg
def test_a_render_measures_its_file_from_the_parts_as_decoding_it_would(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    session = prepare(loader.load(), SpeechOptions(engine="fake"))
    real = decoded.measure_decoded

    def only_the_excerpt(path: Path, rate: int, channels: int, true_peak: bool = True) -> object:
        # (the encoder's shift, and its overshoot, are found on an excerpt: render's own temporary file)
        assert "coach-excerpt-" in str(path), "the file was decoded to measure it"
        return real(path, rate, channels, true_peak)

    with monkeypatch.context() as patch:
        patch.setattr(decoded, "measure_decoded", only_the_excerpt)
        report = render(session, tmp_path / "s.mp3", RenderOptions())
    whole = decoded.measure_decoded(tmp_path / "s.mp3", RATE, 1)
    assert report.measured.integrated == pytest.approx(whole.integrated, abs=1e-3)
    assert report.measured.true_peak == pytest.approx(whole.true_peak, abs=1e-3)
    assert report.measured.lra == pytest.approx(whole.lra, abs=1e-3)
