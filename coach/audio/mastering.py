"""Mastering to a target: the voice (speech and tones) set to the target loudness through the
per-clip true-peak limiter, by Newton steps on in-process measurements (voice_level.py); the
music set `music_level_db` under it from its tracks' loudness; tones relative to the voice."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from coach.audio import ebur128
from coach.audio.meter import Loudness
from coach.audio.mixdown import Mixdown, MixSettings
from coach.audio.music import MusicBed
from coach.audio.voice_level import voice_loudness, voice_measure
from coach.defaults import CEILING_DBTP, DUCK_DB, MUSIC_LEVEL_DB, TARGET_LUFS

# Lossy encoders add overshoot to peaks; the limiter aims at least this far under the ceiling.
# MP3 at 64k: eSpeak NG's built-in session overshot 1.9 dB over the whole file (its first minute
# 0.03-0.2 dB, so the excerpt does not tell); with 1.5 dB every cold render was encoded twice.
CODEC_MARGIN_DB = {"mp3": 2.2, "m4a": 1.0, "ogg": 1.0, "wav": 0.2}
# How far the worst overshoot over a whole session may pass the worst in its first minute (the
# excerpt). At 64k MP3, the built-in session (16 min) with Piper's test voice: 0.8 dB at the same
# settings (2.6 dB to 1.8 dB); the lower ceiling the excerpt asks for means harder limiting, whose
# overshoot differs again: a margin of the excerpt's + 1.0 dB peaked at -0.95 dBTP, + 1.3 dB at
# -2.2 dBTP. With eSpeak NG the excerpt asks for no more than CODEC_MARGIN_DB (0.03-0.2 dB).
PEAK_HEADROOM_DB = 1.3
MAX_MAKEUP_DB = 6.0  # gain a lowered ceiling may ask for: more is a measurement gone wrong
TOLERANCE_LU = 0.05
MAX_TRIES = 8
SINE_LUFS = -3.01  # a full-scale sine, for setting the tones' level


def measure_music(bed: MusicBed) -> Loudness:
    """The music bed's loudness, from its tracks: each distinct one metered once as the bed
    decodes it (stereo), up to the longest stretch of it the session plays, and the results
    averaged in energy by how long each plays. The fades and crossfades are left out."""
    played: dict[Path, list[int]] = {}
    for play in bed.plays:
        frames = max(0, min(play.length, bed.frames - play.start))
        played.setdefault(play.path, []).append(frames)
    energy = weight = 0.0
    for path, plays in played.items():
        level = ebur128.measure_file(path, true_peak=False, seconds=max(plays) / bed.rate, channels=bed.channels)
        weight += sum(plays)
        if math.isfinite(level.integrated):
            energy += sum(plays) * 10 ** (level.integrated / 10)
    integrated = 10 * math.log10(energy / weight) if energy > 0 else -math.inf
    return Loudness(integrated, math.nan, math.nan)




@dataclass(frozen=True)
class Mastering:
    """What mastering did: the final settings, the passes it took, and the mix as measured."""

    settings: MixSettings
    voice: Loudness
    music: Loudness | None
    mix: Loudness
    passes: int
    slope: float = 1.0  # dB of loudness per dB of gain, near the result (under 1 when limiting)


def master(
    mix: Mixdown,
    target_lufs: float = TARGET_LUFS,
    ceiling_dbtp: float = CEILING_DBTP,
    music_level_db: float = MUSIC_LEVEL_DB,
    duck_db: float = DUCK_DB,
    margin_db: float = 1.0,
    start_from: Mastering | None = None,
) -> tuple[Mixdown, Mastering]:
    """`mix` with the voice (speech and tones) at `target_lufs`, its true peaks under the ceiling
    (less `margin_db` for the encoder), and the music `music_level_db` under the voice.

    The voice is what is mastered: it stays on level whatever the music does. Its speech alone,
    unlimited, gives the gain that would reach the target; the limiter then takes the peaks over
    the ceiling and makes loudness grow slower than gain, so the voice with its tones is trimmed
    by Newton steps, each measurement estimating its own slope (the share of the energy the
    limiter leaves alone). Every measurement is in-process (`voice_loudness`), a fraction of a
    second; the music's tracks are metered once each. `start_from`: a mastering of the same mix
    with another margin, whose gain (and the make-up for the change of ceiling) is the first guess.
    """
    ceiling = ceiling_dbtp - margin_db
    # The voice is measured in mono; in both channels of a stereo file it measures 3 dB louder.
    voice_target = target_lufs - 10 * math.log10(mix.channels)
    base = mix.settings
    speech = voice_loudness(mix.with_settings(MixSettings(tones=False, music=False)))
    voice_db = voice_target - speech.integrated if math.isfinite(speech.integrated) else 0.0
    music = measure_music(mix.music) if mix.music is not None else None
    music_db = 0.0
    if music is not None and math.isfinite(music.integrated):
        music_db = target_lufs + music_level_db - music.integrated
    # Tones are sines: at this peak level a full-scale one is as loud as the voice (see tones.py).
    tones_db = voice_target - SINE_LUFS
    settings = replace(base, voice_db=voice_db, tones_db=tones_db, music_db=music_db, duck_db=duck_db, ceiling_db=ceiling)
    measured = speech
    last: Mixdown | None = None  # the last take, its clips limited: the result, most often

    def voice_at(trim_db: float) -> tuple[float, float]:
        nonlocal measured, last
        last = None  # one take's limited clips in memory at a time
        last = mix.with_settings(trimmed(settings, trim_db))
        measured, slope = voice_measure(last, last.adjusted(ceiling_db=None))
        return measured.integrated, slope

    start = 0.0
    if start_from is not None and start_from.settings.ceiling_db is not None:
        lowered = start_from.settings.ceiling_db - ceiling
        start = start_from.settings.voice_db - voice_db + makeup_db(lowered, start_from.slope)
    trim, slope, tries = _solve(voice_at, voice_target, start)
    final = trimmed(settings, trim)
    passes = 1 + tries + (music is not None)
    result = last if last is not None and last.settings == final else mix.with_settings(final)
    return result, Mastering(final, speech, music, measured, passes, slope)


def makeup_db(lowered_db: float, slope: float) -> float:
    """The gain that makes up for a ceiling `lowered_db` lower: that much less level with that much
    more gain into the limiter costs lowered_db * (1 - slope) LU, and gain brings `slope` LU a dB."""
    return min(MAX_MAKEUP_DB, max(0.0, lowered_db) * (1 - slope) / max(slope, 0.05))


def codec_margin(overshoot_db: float, margin_db: float) -> float:
    """The margin under the ceiling for a session whose first minute, encoded, peaks `overshoot_db`
    over what was sent: that and PEAK_HEADROOM_DB for the rest of the session, or `margin_db`."""
    return max(margin_db, overshoot_db + PEAK_HEADROOM_DB) if math.isfinite(overshoot_db) else margin_db


def _solve(
    loudness_at: Callable[[float], tuple[float, float]], target: float, gain: float, max_tries: int = MAX_TRIES
) -> tuple[float, float, int]:
    """The gain (dB) at which `loudness_at` gives `target`, from `gain`, by Newton steps on the
    slope it estimates with each level; a step that would leave the bracket found so far is
    replaced by the secant across it. Returns (gain, the last slope, measurements taken)."""
    below: tuple[float, float] | None = None  # (gain, level): the highest gain found under the target
    above: tuple[float, float] | None = None  # the lowest found over it
    slope = 1.0
    for n in range(1, max_tries + 1):
        level, slope = loudness_at(gain)
        slope = min(1.0, max(0.1, slope))
        error = target - level
        if not math.isfinite(error) or abs(error) <= TOLERANCE_LU:
            return gain, slope, n
        if error > 0 and (below is None or gain > below[0]):
            below = gain, level
        if error < 0 and (above is None or gain < above[0]):
            above = gain, level
        step = gain + error / slope
        if below is not None and above is not None and not below[0] < step < above[0]:
            (g0, l0), (g1, l1) = below, above
            step = g0 + (target - l0) * (g1 - g0) / (l1 - l0)
        gain = step
    return gain, slope, max_tries


def trimmed(settings: MixSettings, trim_db: float) -> MixSettings:
    """`settings` with every layer `trim_db` louder (the voice, its tones and the music together)."""
    return replace(settings, voice_db=settings.voice_db + trim_db, tones_db=settings.tones_db + trim_db,
                   music_db=settings.music_db + trim_db)
