"""Live play into miniaudio's null device, which takes audio in real time: timing and keys, end to end."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from coach.errors import DeviceError
from coach.live import sink as live
from coach.live.player import Player, slots
from coach.routine import loader
from coach.session import Session, SpeechOptions, prepare
from coach.speech.clip import Clip

TOLERANCE_MS = 300  # how far the end of a played session may be from its timeline length

SHORT = """\
title: Short
lead_in: 1s
outro: 1s
defaults: {work: 1s, rest: 0.5s}
blocks:
  - name: Only
    exercises:
      - name: Squat
      - name: Lunge
"""

THREE = """\
title: Three
lead_in: 1s
outro: 0.5s
defaults: {work: 2s, rest: 1s}
blocks:
  - name: Only
    exercises:
      - name: Squat
      - name: Lunge
      - name: Plank
"""


@pytest.fixture
def load(write_routine: Callable[..., Path], fake_options: SpeechOptions) -> Callable[[str], Session]:
    def load(text: str) -> Session:
        return prepare(loader.load(write_routine(text)), dataclasses.replace(fake_options, jobs=1))

    return load


def wait_for(condition: Callable[[], bool], timeout_ms: int = 5000) -> None:
    deadline = time.monotonic() + timeout_ms / 1000
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_session_ends_on_time(load: Callable[[str], Session]) -> None:
    session = load(SHORT)
    assert session.timeline.duration_ms == 4500
    with live.Sink(live.NULL) as sink:
        player = Player(session, session.mixdown(sink.rate))
        sink.start(player.pull)
        assert sink.wait(10_000)
    assert player.finished
    assert sink.elapsed_ms is not None
    error = sink.elapsed_ms - (live.LEAD_MS + session.timeline.duration_ms)
    assert abs(error) <= TOLERANCE_MS, f"ended {error:+d} ms off"


def test_the_device_hears_exactly_the_mixdown(load: Callable[[str], Session]) -> None:
    session = load(SHORT)
    heard: list[np.ndarray] = []
    with live.Sink(live.NULL) as sink:
        player = Player(session, session.mixdown(sink.rate), 3000)

        def pull(count: int) -> np.ndarray:
            frames = player.pull(count)
            heard.append(frames.copy())
            return frames

        sink.start(pull)
        assert sink.wait(10_000)
    mixdown = player.mixdown
    start = mixdown.frame(3000)
    assert np.array_equal(np.concatenate(heard), mixdown.render(start, mixdown.frames - start))


def test_keys_pause_skip_and_go_back_while_playing(load: Callable[[str], Session]) -> None:
    session = load(THREE)
    starts = [s.start_ms for s in slots(session)]  # where next and back land
    assert starts == sorted(set(starts)) and len(starts) == 3
    slack = 150  # the device may take a chunk or two between a key and the check
    paused_pulls: list[np.ndarray] = []
    with live.Sink(live.NULL) as sink:
        player = Player(session, session.mixdown(sink.rate))

        def pull(count: int) -> np.ndarray:
            frames = player.pull(count)
            if player.paused:
                paused_pulls.append(frames)
            return frames

        sink.start(pull)
        wait_for(lambda: player.position_ms >= 300)

        player.press(" ")
        held = player.position_ms
        time.sleep(0.5)
        assert player.position_ms == held  # the device took silence, not the session
        assert paused_pulls and not any(f.any() for f in paused_pulls)
        player.press(" ")
        wait_for(lambda: player.position_ms > held + 100)

        player.press("n")
        assert starts[1] <= player.position_ms <= starts[1] + slack
        wait_for(lambda: player.position_ms >= starts[1] + 200)
        player.press("p")  # back within 3 s of the start of this exercise: the one before
        assert 0 <= player.position_ms <= slack
        player.press("n")
        player.press("\x1b[C")
        assert starts[2] <= player.position_ms <= starts[2] + slack
        player.press("n")  # from the last exercise: to the finish
        assert player.position_ms >= session.timeline.duration_ms - 500

        assert sink.wait(5000)
    assert player.finished


def test_a_stereo_source_plays_for_its_length() -> None:
    frames = 44100 // 2
    samples = np.ones(frames * 2, dtype=np.int16)
    taken = 0

    def pull(count: int) -> np.ndarray:
        nonlocal taken
        chunk = samples[taken * 2 : (taken + count) * 2]
        taken += len(chunk) // 2
        return chunk

    with live.Sink(live.NULL, channels=2) as sink:
        sink.start(pull)
        assert sink.wait(5000)
    assert taken == frames
    assert sink.elapsed_ms is not None and abs(sink.elapsed_ms - (live.LEAD_MS + 500)) <= TOLERANCE_MS


def test_play_clip_plays_to_the_end_on_the_null_device() -> None:
    clip = Clip(np.full(11025, 1000, dtype=np.int16), 22050)  # 500 ms
    started = time.monotonic()
    live.play_clip(clip, "null")
    took_ms = (time.monotonic() - started) * 1000
    assert 500 + live.LEAD_MS - TOLERANCE_MS <= took_ms <= 500 + live.LEAD_MS + live.DRAIN_MS + 1000


def test_an_error_on_the_audio_thread_reaches_the_caller() -> None:
    def pull(count: int) -> np.ndarray:
        raise RuntimeError("broken source")

    with live.Sink(live.NULL) as sink:
        sink.start(pull)
        with pytest.raises(RuntimeError, match="broken source"):
            sink.wait(5000)


def test_an_unknown_device_name_is_a_clear_error() -> None:
    with pytest.raises(DeviceError, match="no audio device named `no such speaker`"):
        live.Sink("no such speaker")


def test_no_sound_system_says_so_and_suggests_render(monkeypatch: pytest.MonkeyPatch) -> None:
    import miniaudio

    # A backend that exists only in web browsers: no sound system answers.
    monkeypatch.setattr(live, "_sound_backends", lambda: [miniaudio.Backend.WEBAUDIO])
    assert live.devices() == []
    with pytest.raises(DeviceError, match="no audio device could be opened") as caught:
        live.Sink(None)
    assert "coach render" in str(caught.value) and "--device null" in str(caught.value)
    with live.Sink("NULL") as sink:  # the null device needs no sound system
        assert sink.name == live.NULL
