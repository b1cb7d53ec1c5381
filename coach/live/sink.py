"""The live sink: PCM frames to an audio output device (or a real-time null device), paced by its clock.

The device pulls frames through a miniaudio callback; nothing here keeps time of its own. A source
is any `pull(count) -> int16 samples` for up to `count` frames (interleaved when there are several
channels); it returns fewer than `count` frames when it has ended.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

import numpy as np

from coach.errors import DeviceError
from coach.speech.clip import Clip

NULL = "null"
LEAD_MS = 300  # silence before the first frame, so Bluetooth headphones wake in time for it
PERIOD_MS = 30  # the device asks for this much at a time: pause and skips are heard this fast
DRAIN_MS = 200  # silence after the last frame, so the device plays out what it buffered
STALL_MS = 3000  # a device that asks for nothing for this long has gone away
RATE = 44100  # the same rate `coach render` uses by default

Source = Callable[[int], np.ndarray]

NO_DEVICE_HINT = "`coach render` makes an MP3 to play anywhere; `--device null` tries the player without sound"


@dataclass(frozen=True)
class Device:
    name: str
    backend: str


def _miniaudio():  # type: ignore[no-untyped-def]
    try:
        import miniaudio
    except ImportError as exc:  # pragma: no cover - a dependency, but a broken install should say so
        raise DeviceError("the miniaudio package is not installed", "pip install miniaudio") from exc
    return miniaudio


def _sound_backends() -> list:  # type: ignore[type-arg]
    """Every miniaudio backend that reaches a sound system, in miniaudio's order of preference."""
    ma = _miniaudio()
    return [b for b in ma.Backend if b not in (ma.Backend.NULL, ma.Backend.CUSTOM)]


@contextlib.contextmanager
def _native_stderr_muted() -> Iterator[None]:
    """Sound libraries (ALSA above all) print probing noise straight to fd 2; the user needs none of it."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _is_discard(info: dict, backend: str) -> bool:  # type: ignore[type-arg]
    """ALSA's `null` PCM throws samples away as fast as it gets them: never a place to play to."""
    ma = _miniaudio()
    return backend == "ALSA" and bytes(ma.ffi.buffer(info["id"]))[:5] == b"null\0"


def _playbacks() -> tuple[str, list]:  # type: ignore[type-arg]
    """(backend name, miniaudio device infos) of the first sound system that answers."""
    ma = _miniaudio()
    with _native_stderr_muted():
        try:
            found = ma.Devices(backends=_sound_backends())
            infos = found.get_playbacks()
        except ma.MiniaudioError:
            return "", []
    return found.backend, [i for i in infos if not _is_discard(i, found.backend)]


def devices() -> list[Device]:
    """Output devices a sound system offers (not counting `null`, which is always there)."""
    backend, infos = _playbacks()
    return [Device(i["name"], backend) for i in infos]


def _find(name: str) -> dict:  # type: ignore[type-arg]
    _, infos = _playbacks()
    wanted = name.casefold()
    exact = [i for i in infos if i["name"].casefold() == wanted]
    partial = [i for i in infos if wanted in i["name"].casefold()]
    matches = exact or partial
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(f"`{i['name']}`" for i in matches)
        raise DeviceError(f"`{name}` matches several audio devices: {names}", "give more of the name")
    listed = ", ".join(f"`{i['name']}`" for i in infos) or "none found"
    raise DeviceError(
        f"no audio device named `{name}` (devices: {listed})",
        "`coach devices` lists them; `--device null` plays without sound",
    )


class Sink:
    """One opened output device, 16-bit, playing one source at a time.

    `name` is a device name as `devices()` lists it (or part of one), `null` for the real-time
    null device, or None for the system's default output.
    """

    def __init__(self, name: str | None = None, rate: int = RATE, channels: int = 1) -> None:
        ma = _miniaudio()
        self.rate = rate
        self.channels = channels
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.elapsed_ms: int | None = None
        self._started_ns = 0
        self._last_pull_ns = 0
        self._last_check_ns = 0
        self._watch_from_ns = 0
        settings = {"output_format": ma.SampleFormat.SIGNED16, "nchannels": channels, "sample_rate": rate,
                    "buffersize_msec": PERIOD_MS, "app_name": "coach"}
        if name is not None and name.strip().casefold() == NULL:
            try:
                self._device = ma.PlaybackDevice(backends=[ma.Backend.NULL], **settings)
            except ma.MiniaudioError as exc:
                raise DeviceError(f"cannot open the null audio device ({exc.args[0]})") from None
            self.name = NULL
            return
        chosen = _find(name) if name is not None else None
        with _native_stderr_muted():
            try:
                self._device = ma.PlaybackDevice(
                    backends=_sound_backends(), device_id=chosen["id"] if chosen else None, **settings
                )
            except ma.MiniaudioError as exc:
                if chosen is None:
                    raise DeviceError("no audio device could be opened", NO_DEVICE_HINT) from None
                what = f"cannot open audio device `{chosen['name']}` ({exc.args[0]})"
                raise DeviceError(what, NO_DEVICE_HINT) from None
        self.name = chosen["name"] if chosen else f"default ({self._device.backend})"

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stops the sound at once, whatever the source still has."""
        device, self._device = getattr(self, "_device", None), None
        if device is not None:
            device.close()

    def start(self, source: Source, lead_ms: int = LEAD_MS) -> None:
        """Plays `lead_ms` of silence, then `source` until it ends; `done` is set once it has played out."""
        if self._device is None:
            raise DeviceError("the audio device is closed")
        feed = self._feed(source, lead_ms * self.rate // 1000)
        next(feed)
        self._started_ns = self._last_pull_ns = self._last_check_ns = self._watch_from_ns = time.monotonic_ns()
        self._device.start(feed)

    def wait(self, timeout_ms: int | None = None) -> bool:
        """True once the source has ended and played out. Raises what went wrong on the audio thread."""
        deadline = None if timeout_ms is None else time.monotonic_ns() + timeout_ms * 1_000_000
        while True:
            # Short waits keep Ctrl-C responsive on the main thread.
            if self.done.wait(0.1):
                break
            self.check()
            if deadline is not None and time.monotonic_ns() >= deadline:
                return False
        self.check()
        return True

    def check(self) -> None:
        """Raises an error from the audio thread, or DeviceError when the device stopped asking for audio."""
        if self.error is not None:
            raise self.error
        if self.done.is_set() or not self._started_ns:
            return
        now = time.monotonic_ns()
        if (now - self._last_check_ns) // 1_000_000 > STALL_MS:
            # We were not running either (Ctrl-Z, a busy machine): give the device time to catch up.
            self._watch_from_ns = now
        self._last_check_ns = now
        silent_ms = (now - max(self._last_pull_ns, self._watch_from_ns)) // 1_000_000
        if silent_ms > STALL_MS:
            raise DeviceError(f"the audio device `{self.name}` stopped playing", "was it disconnected?")

    def _feed(self, source: Source, lead: int) -> Generator[bytes, int, None]:
        drain = DRAIN_MS * self.rate // 1000
        width = self.channels
        ended = False
        count = yield b""
        while True:
            self._last_pull_ns = time.monotonic_ns()
            out = np.zeros(count * width, dtype=np.int16)
            try:
                filled = min(lead, count)
                lead -= filled
                if not ended and filled < count:
                    samples = source(count - filled)
                    out[filled * width : filled * width + len(samples)] = samples
                    if len(samples) < (count - filled) * width:
                        ended = True
                        self.elapsed_ms = (self._last_pull_ns - self._started_ns) // 1_000_000
                elif ended:
                    drain -= count
                    if drain <= 0:
                        self.done.set()
            except BaseException as exc:  # noqa: BLE001 - carried to the main thread by wait()/check()
                self.error = exc
                self.done.set()
                ended = True
            count = yield out.tobytes()


def play_clip(clip: Clip, device: str | None = None) -> None:
    """Plays one clip to the end (for `coach say`)."""
    samples = clip.samples
    position = 0

    def pull(count: int) -> np.ndarray:
        nonlocal position
        chunk = samples[position : position + count]
        position += len(chunk)
        return chunk

    with Sink(device, clip.rate) as sink:
        sink.start(pull)
        sink.wait()
