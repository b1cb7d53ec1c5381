"""The clip cache: keyed by everything that shapes the sound, atomic, damage detected."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from coach.routine.model import Voice
from coach.speech.cache import ClipCache, clip_key, decode, encode
from coach.speech.clip import Clip


def clip() -> Clip:
    return Clip(np.arange(-500, 500, dtype=np.int16), 22050)


def test_key_changes_with_everything_that_shapes_the_sound() -> None:
    base = clip_key("pyttsx3", "v1", Voice("en-us", 170, 0.9), "Go!")
    assert base == clip_key("pyttsx3", "v1", Voice("en-us", 170, 0.9), "Go!")
    others = {
        clip_key("fake", "v1", Voice("en-us", 170, 0.9), "Go!"),
        clip_key("pyttsx3", "v2", Voice("en-us", 170, 0.9), "Go!"),
        clip_key("pyttsx3", "v1", Voice("es", 170, 0.9), "Go!"),
        clip_key("pyttsx3", "v1", Voice("en-us", 180, 0.9), "Go!"),
        clip_key("pyttsx3", "v1", Voice("en-us", 170, 1.0), "Go!"),
        clip_key("pyttsx3", "v1", Voice("en-us", 170, 0.9), "Go"),
    }
    assert base not in others and len(others) == 6


def test_round_trip_and_stats(tmp_path: Path) -> None:
    cache = ClipCache(tmp_path)
    cache.put("ab" * 32, clip())
    got = cache.get("ab" * 32)
    assert got is not None and got.rate == 22050 and np.array_equal(got.samples, clip().samples)
    assert cache.stats()[0] == 1
    assert not list(tmp_path.glob("*/.*.part"))
    assert cache.clear() == 1 and cache.get("ab" * 32) is None


def test_stats_and_clear_count_only_what_the_cache_made(tmp_path: Path) -> None:
    cache = ClipCache(tmp_path)
    for key in ("ab" * 32, "ab" + "cd" * 31, "ef" * 32):
        cache.put(key, clip())
    leftover = tmp_path / "ab" / ".k3x_9q2m.part"  # what a write stopped by SIGKILL leaves
    leftover.write_bytes(b"half a clip")
    mine = {  # a user's own files in the same folder, some with the cache's extensions
        "notes.txt": b"mine", "music/song.wav": b"RIFF", "music/.x.part": b"mine", "ab/readme.txt": b"mine",
        "zz/" + "ab" * 32 + ".wav": b"RIFF",
    }
    for name, data in mine.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    clips = [cache.path(k) for k in ("ab" * 32, "ab" + "cd" * 31, "ef" * 32)]

    assert cache.stats() == (3, sum(p.stat().st_size for p in clips) + len(b"half a clip"))
    assert cache.clear() == 3
    left = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert left == set(mine)
    assert not (tmp_path / "ef").exists() and (tmp_path / "ab").is_dir()  # emptied shards go
    assert cache.stats() == (0, 0) and cache.clear() == 0


def test_stats_of_a_missing_folder(tmp_path: Path) -> None:
    assert ClipCache(tmp_path / "none").stats() == (0, 0)
    assert ClipCache(tmp_path / "none").clear() == 0


def test_cache_files_are_plain_wav(tmp_path: Path) -> None:
    import wave

    path = tmp_path / "c.wav"
    path.write_bytes(encode(clip()))
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 22050, 1000)


@pytest.mark.parametrize(
    "damage",
    [lambda b: b[: len(b) // 2], lambda b: b"", lambda b: b[:100] + bytes([b[100] ^ 0xFF]) + b[101:], lambda b: b"RIFF" + b[4:-10]],
)
def test_damaged_clips_are_misses(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    data = encode(clip())
    assert decode(data) is not None
    assert decode(damage(data)) is None
    cache = ClipCache(tmp_path)
    cache.put("cd" * 32, clip())
    cache.path("cd" * 32).write_bytes(damage(data))
    assert cache.get("cd" * 32) is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_cache_degrades_with_a_warning(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        cache = ClipCache(tmp_path / "sub")
        with pytest.warns(UserWarning, match="not writable"):
            cache.put("ef" * 32, clip())
    finally:
        tmp_path.chmod(0o700)


def test_unwritable_cache_folder_degrades_with_a_warning(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = ClipCache(blocker)  # a file where the folder should be: mkdir fails even for root
    with pytest.warns(UserWarning, match="not writable"):
        cache.put("ef" * 32, clip())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cache.put("ef" * 32, clip())  # warned once only
    assert cache.get("ef" * 32) is None


def test_the_first_clip_stored_wins_and_every_render_uses_it(tmp_path: Path) -> None:
    """Renders at once on one empty cache: eSpeak NG is not bit-identical between processes, so
    a clip another render stored meanwhile is the one used, and all renders agree."""
    import numpy as np

    from coach.routine.model import Voice
    from coach.speech.cache import ClipCache, clip_key
    from coach.speech.clip import Clip
    from coach.speech.fake import FakeEngine
    from coach.speech.synth import synthesize_all

    other = ClipCache(tmp_path)
    theirs = Clip(np.full(800, 123, np.int16), 22050)

    class Racing(FakeEngine):
        """Speaks, while another render stores its own take of the same text first."""

        def synthesize(self, text: str, voice: Voice) -> Clip:
            other.put(clip_key(self.name, self.version, voice, text), theirs)
            return super().synthesize(text, voice)

    engine = Racing()
    clips = synthesize_all(["Go!"], engine, Voice(), ClipCache(tmp_path))
    assert np.array_equal(clips["Go!"].samples, theirs.samples)
    stored = ClipCache(tmp_path).get(clip_key(engine.name, engine.version, Voice(), "Go!"))
    assert stored is not None and np.array_equal(stored.samples, theirs.samples)


def test_an_empty_clip_is_spoken_again_and_never_stored(tmp_path: Path) -> None:
    """eSpeak NG under load now and then returns no audio for a text: one more try, and a clip
    with nothing in it never goes into the cache, where every later run would reuse it."""
    from coach.speech.fake import FakeEngine
    from coach.speech.synth import synthesize_all

    class Hiccup(FakeEngine):
        def __init__(self, empty: int) -> None:
            super().__init__()
            self.empty, self.calls = empty, 0

        def synthesize(self, text: str, voice: Voice) -> Clip:
            self.calls += 1
            if self.calls <= self.empty:
                return Clip(np.zeros(0, np.int16), 22050)
            return super().synthesize(text, voice)

    once = Hiccup(empty=1)
    clips = synthesize_all(["Knees out."], once, Voice(), ClipCache(tmp_path), jobs=1)
    assert once.calls == 2 and len(clips["Knees out."].samples) > 0
    assert ClipCache(tmp_path).get(clip_key(once.name, once.version, Voice(), "Knees out.")) is not None

    always = Hiccup(empty=10)
    clips = synthesize_all(["Hips up."], always, Voice(), ClipCache(tmp_path), jobs=1)
    assert len(clips["Hips up."].samples) == 0
    assert ClipCache(tmp_path).get(clip_key(always.name, always.version, Voice(), "Hips up.")) is None
