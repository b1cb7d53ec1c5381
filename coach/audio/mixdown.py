"""Placed cues + clips (+ tones, + a music bed) -> the session's audio, as PCM from any position.

`render(start, n)` is a pure function of position, so the file sink streams it front to back in
fixed-size chunks (constant memory whatever the session length) and the live player can seek.
Layers: the voice (clips normalised together so the loudest peak is -1 dBFS, then `voice_db`),
generated tones, and the music bed ducked under every cue. With a ceiling, a true-peak limiter
acts on each clip on its own: cues never overlap and lie further apart than the limiter's
reach, so that is what limiting the voice layer as a stream would give. Where tones or music
can add to a voice peak, a second limiter guards the sum. Clips are resampled and limited when
they are needed and only the ones used last are kept (the same clip made again is the same
samples): memory does not grow with the number of distinct clips.
Mono without music, stereo (voice in the centre) with it; frames come interleaved.
"""

from __future__ import annotations

import bisect
import copy
import functools
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from coach.audio.ducking import Ducking
from coach.audio.limiter import Limiter
from coach.audio.music import MusicBed
from coach.audio.tones import Tone, synthesize
from coach.defaults import DUCK_DB
from coach.plan.scheduler import Cue
from coach.recent import Recent
from coach.speech.clip import Clip
from coach.speech.store import ClipStore

PEAK_DBFS = -1.0
CLIP_BYTES = 2 << 20  # clips at the mix's rate kept for their next use, shared by every way of mixing them
LIMITED_BYTES = 4 << 20  # clips after one way's gain and limiter kept so
FULL_SCALE = 32768.0


@dataclass(frozen=True)
class MixSettings:
    voice_db: float = 0.0  # on top of the clips' joint normalisation
    tones_db: float = -20.0  # peak level of the tones, dBFS
    music_db: float = 0.0  # on the music as decoded
    duck_db: float = DUCK_DB  # how far the music dips under speech
    ceiling_db: float | None = None  # the limiter's true-peak ceiling, dBTP; None: no limiter
    # Layers on or off, to measure one alone.
    voice: bool = True
    tones: bool = True
    music: bool = True


class Mixdown:
    def __init__(
        self,
        cues: tuple[Cue, ...],
        clips: Mapping[str, Clip],
        duration_ms: int,
        rate: int,
        settings: MixSettings | None = None,
        music: MusicBed | None = None,
        tones: Sequence[Tone] = (),
    ) -> None:
        self.rate = rate
        self.duration_ms = duration_ms
        self.frames = duration_ms * rate // 1000
        self.cues = cues
        self.music = music
        self.channels = music.channels if music is not None else 1
        # Each clip resampled once, into a file of the mix's own (speech/store.py): read back and
        # scaled when the mix needs it, only the ones used last kept so: memory stays flat in the
        # number of clips, and no measuring pass resamples again.
        self._resampled = ClipStore(recent_bytes=0)  # (scaled, they are kept as _scaled)
        peak, lengths = 0, {}
        for speech, clip in clips.items():  # (a clip store reads each clip: one pass)
            if len(clip.samples):
                peak = max(peak, int(np.abs(clip.samples.astype(np.int32)).max()))
            resampled = clip.resampled(rate)
            self._resampled.add(speech, resampled)
            lengths[speech] = len(resampled.samples)
        self._gain = (32767 * 10 ** (PEAK_DBFS / 20)) / peak if peak else 1.0
        self._scaled: Recent[np.ndarray] = Recent(CLIP_BYTES)
        self._starts = [self.frame(c.start_ms) for c in cues]
        self._spans = [(s, s + lengths[c.speech]) for s, c in zip(self._starts, cues)]
        self._longest_clip = max((e - s for s, e in self._spans), default=0)
        self.tones = tuple(tones)
        self._tone_audio = {name: synthesize(name, rate) for name in {t.sound for t in self.tones}}
        self._tone_starts = [self.frame(t.start_ms) for t in self.tones]
        self._longest_tone = max((len(a) for a in self._tone_audio.values()), default=0)
        self.settings = MixSettings()
        self._configure(settings or MixSettings())

    def _configure(self, settings: MixSettings) -> None:
        self.settings = settings
        self._voice_gain = 10 ** (settings.voice_db / 20) if settings.voice else 0.0
        self._tone_gain = FULL_SCALE * 10 ** (settings.tones_db / 20) if settings.tones and self.tones else 0.0
        self._music_gain = FULL_SCALE * 10 ** (settings.music_db / 20) if settings.music and self.music else 0.0
        self._ducking = Ducking(self._spans, settings.duck_db, self.rate)
        limiter = Limiter(settings.ceiling_db, self.rate, FULL_SCALE) if settings.ceiling_db is not None else None
        self._clip_limiter = limiter if self._voice_gain else None
        # Each distinct clip after gain and limiter, made when it is needed, the last ones kept.
        self._limited: Recent[np.ndarray] = Recent(LIMITED_BYTES)
        # Only tones or music can push the sum of limited clips over the ceiling.
        self._limiter = limiter if self._tone_gain or self._music_gain else None

    def with_settings(self, settings: MixSettings) -> Mixdown:
        """The same session mixed another way (shares the prepared audio)."""
        other = copy.copy(self)
        other._configure(settings)
        return other

    def adjusted(self, **changes: object) -> Mixdown:
        return self.with_settings(replace(self.settings, **changes))  # type: ignore[arg-type]

    def frame(self, ms: int) -> int:
        return ms * self.rate // 1000

    def _plain(self) -> bool:
        return not self._tone_gain and not self._music_gain and self._clip_limiter is None and self._voice_gain == 1.0

    def _scaled_clip(self, speech: str) -> np.ndarray:
        """A clip at the mix's rate, normalised with the others (int16), made again when not kept."""
        def make() -> np.ndarray:
            samples = self._resampled[speech].samples.astype(np.float32) * self._gain
            return np.clip(np.round(samples), -32768, 32767).astype(np.int16)

        return self._scaled.get(speech, make)

    def _clip(self, speech: str) -> np.ndarray:
        """A clip after the voice gain and the limiter (only with one: float)."""
        limiter = self._clip_limiter
        if limiter is None:
            return self._scaled_clip(speech)
        return self._limited.get(
            speech, lambda: _limited(self._scaled_clip(speech) * self._voice_gain, limiter).astype(np.float32))

    def prepare_clips(self, threads: int = 1) -> None:
        """Make every clip now and keep them all (a live player's audio thread must not wait for
        one), in `threads` at once (numpy lets go of the GIL for most of the limiter's work)."""
        self._scaled.pinned = self._limited.pinned = True
        if threads <= 1:
            for speech in self._resampled:
                self._clip(speech)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(self._clip, list(self._resampled)))

    def _voice(self, start: int, count: int) -> np.ndarray:
        out = np.zeros(count, dtype=np.float64)
        if not self._voice_gain:
            return out
        end = start + count
        # Cues never overlap, so at most a few touch any chunk: start at the first that may.
        i = max(0, bisect.bisect_right(self._starts, start) - 1)
        while i < len(self.cues) and self._starts[i] < end:
            c0, c1 = self._spans[i]
            lo, hi = max(start, c0), min(end, c1)
            if hi > lo:
                out[lo - start : hi - start] += self._clip(self.cues[i].speech)[lo - c0 : hi - c0]
            i += 1
        return out if self._clip_limiter is not None else out * self._voice_gain

    def silent(self, start: int, count: int) -> bool:
        """Whether frames `start` to `start + count` are digital silence (no clip, tone or music)."""
        if self._music_gain:
            return False
        end = start + count
        layers = [(self._starts, self._spans, self._longest_clip)] if self._voice_gain else []
        if self._tone_gain:
            tone_spans = [(t, t + len(self._tone_audio[tone.sound])) for t, tone in zip(self._tone_starts, self.tones)]
            layers.append((self._tone_starts, tone_spans, self._longest_tone))
        for starts, spans, longest in layers:
            i = bisect.bisect_left(starts, start - longest)
            while i < len(starts) and starts[i] < end:
                if spans[i][1] > start:
                    return False
                i += 1
        return True

    def voice_parts(self, apart: int) -> Iterator[tuple[int, Hashable, int, Callable[[], np.ndarray]]]:
        """The voice layer (speech and tones, mono, as `render` mixes them, limited together when
        there is no music) in parts at least `apart` frames from each other, silence between:
        (first frame, what it is, frames, a maker of its samples (a new array at each call), to call in any thread). A part
        that is one clip or one tone is named by it (the same name, the same samples);
        overlapping ones come as one part named None. For measuring without the silences."""
        events = sorted([(s, e, ("speech", c.speech)) for (s, e), c in zip(self._spans, self.cues) if self._voice_gain]
                        + [(t, t + len(self._tone_audio[tone.sound]), ("tone", tone.sound))
                           for t, tone in zip(self._tone_starts, self.tones) if self._tone_gain])
        i = 0
        while i < len(events):
            start, end, name = events[i]
            j = i + 1
            while j < len(events) and events[j][0] < end + apart:
                end = max(end, events[j][1])
                j += 1
            lo, hi = max(0, start), min(self.frames, end)
            if hi > lo:
                alone = name if j == i + 1 and (lo, hi) == (start, end) else None
                yield lo, alone, hi - lo, functools.partial(self._part, lo, hi - lo)
            i = j

    def _part(self, start: int, count: int) -> np.ndarray:
        if self._limiter is not None and not self._music_gain:
            # Tones without music: the limiter that guards their sum with the voice acts here too.
            return self._mastered(start, count)[:, 0]
        part = self._voice(start, count)
        if self._tone_gain:
            self._tones(start, count, part)
        return part

    def _tones(self, start: int, count: int, out: np.ndarray) -> None:
        end = start + count
        i = bisect.bisect_left(self._tone_starts, start - self._longest_tone)
        while i < len(self.tones) and self._tone_starts[i] < end:
            audio = self._tone_audio[self.tones[i].sound]
            t0 = self._tone_starts[i]
            lo, hi = max(start, t0), min(end, t0 + len(audio))
            if hi > lo:
                out[lo - start : hi - start] += audio[lo - t0 : hi - t0] * self._tone_gain
            i += 1

    def _mix(self, start: int, count: int) -> np.ndarray:
        """(count, channels) float64 in int16 units, silent outside the session."""
        lo, hi = max(0, start), min(self.frames, start + count)
        out = np.zeros((count, self.channels))
        if hi <= lo:
            return out
        mono = self._voice(lo, hi - lo)
        if self._tone_gain:
            self._tones(lo, hi - lo, mono)
        out[lo - start : hi - start] = mono[:, None]
        if self._music_gain and self.music is not None:
            music = self.music.render(lo, hi - lo).astype(np.float64)
            music *= (self._ducking.gains(lo, hi - lo) * self._music_gain)[:, None]
            out[lo - start : hi - start] += music
        return out

    def _mastered(self, start: int, count: int) -> np.ndarray:
        if self._limiter is None:
            return self._mix(start, count)
        lo, hi = self._limiter.window(start, count)
        audio = self._mix(lo, hi - lo)
        gains = self._limiter.gains(audio)[start - lo : start - lo + count]
        return audio[start - lo : start - lo + count] * gains[:, None]

    def render(self, start: int, count: int) -> np.ndarray:
        """`count` frames from frame `start` as interleaved int16 (silence past the end is not produced)."""
        count = max(0, min(count, self.frames - start))
        if self._plain() and self.channels == 1:
            return np.clip(np.round(self._voice(start, count)), -32768, 32767).astype(np.int16)
        audio = self._mastered(start, count)
        return np.clip(np.round(audio), -32768, 32767).astype(np.int16).reshape(-1)

    def render_float(self, start: int, count: int) -> np.ndarray:
        """Like `render`, as float32 (1.0 = full scale) with nothing clipped: for measuring."""
        count = max(0, min(count, self.frames - start))
        return (self._mastered(start, count) / FULL_SCALE).astype(np.float32).reshape(-1)

    def chunks(self, frames_per_chunk: int = 0, start: int = 0) -> Iterator[np.ndarray]:
        step = frames_per_chunk or self.rate
        for pos in range(start, self.frames, step):
            yield self.render(pos, step)

    def float_chunks(self, frames_per_chunk: int = 0) -> Iterator[np.ndarray]:
        step = frames_per_chunk or self.rate
        for pos in range(0, self.frames, step):
            yield self.render_float(pos, step)

    def close(self) -> None:
        """Stop the music decoders (a no-op without music)."""
        if self.music is not None:
            self.music.close()


def _limited(audio: np.ndarray, limiter: Limiter) -> np.ndarray:
    """`audio` (mono) through `limiter`, as if surrounded by silence."""
    lo, hi = limiter.window(0, len(audio))
    padded = np.zeros((hi - lo, 1))
    padded[-lo : -lo + len(audio), 0] = audio
    return audio * limiter.gains(padded)[-lo : -lo + len(audio)]
