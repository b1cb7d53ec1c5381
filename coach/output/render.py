"""Render a prepared session to an audio file a phone player does justice to.

Steps: check the inputs (cover, music) before any audio work; build the mixdown (voice, tones,
ducked music); master it to the loudness target (in-process, or remembered from the last render
of the same session); stream it into the encoder, once; tag the file (chapters, cover, cue
text) and measure it as decoded before it is renamed into place; then write the subtitle
sidecars. Nothing is left at the output path if a step fails.
"""

from __future__ import annotations

import datetime
import functools
import math
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from coach import files
from coach.audio import decoded, ebur128, music, tones, voice_level
from coach.audio import mastering as master_to
from coach.audio.mastering import Mastering, trimmed
from coach.audio.meter import Loudness, Meter
from coach.audio.mixdown import FULL_SCALE, Mixdown, MixSettings
from coach.output import chapters as chapter_list
from coach.output import cover as covers
from coach.output import encode, formats, subtitles, tags, uptodate
from coach.output.mastering_cache import MasteringCache, Remembered, lineage_key
from coach.output.mastering_cache import key as mastering_key
from coach.output.options import BITRATES, RenderOptions, check_render, sidecar_paths
from coach.output.parts_cache import PartsCache
from coach.progress import Frames, Update
from coach.session import Session
from coach.tools import ffmpeg_path

PEAK_TOLERANCE_DB = 0.05  # the meter prints one decimal
MAX_ENCODES = 3  # the first, one that corrects loudness and peak, one last that only lowers the ceiling
LOUDNESS_TOLERANCE_LU = 0.4  # a second encode when the encoder's shift differs from the excerpt's by more
CODEC_SHIFT_MIN_LU = 0.05
EXCERPT_MS = 60_000
# The last render's settings are kept when the edit moves the voice by at most KEPT_DRIFT_LU and the
# file is foreseen this close to the target (half the tolerance that has a file encoded again;
# mastering afresh lands within about 0.07 LU of the target on the built-in session).
KEPT_DRIFT_LU = 0.05
KEPT_TOLERANCE_LU = 0.2




@dataclass(frozen=True)
class RenderReport:
    path: Path
    duration_ms: int
    channels: int
    chapters: tuple[chapter_list.Chapter, ...]
    measured: Loudness  # the encoded file, as decoded
    mastering: Mastering
    sidecars: tuple[Path, ...]
    parts: encode.PartCounts | None = None  # MP3 parts encoded and reused, over every encode (None: in one piece)


def track_info(session: Session, options: RenderOptions, cover: covers.Cover | None) -> tags.TrackInfo:
    routine = session.routine
    marks = () if options.chapters == "none" else chapter_list.chapters(session.timeline, session.book, options.chapters)
    return tags.TrackInfo(
        title=routine.title,
        artist=routine.coach or "coach",
        album="coach sessions",
        year=str(datetime.date.today().year),
        genre="Fitness",
        comment=routine.description,
        language=session.book.language or routine.language,
        duration_ms=session.timeline.duration_ms,
        chapters=marks,
        cues=session.cues,
        cover=cover or covers.generated(routine, session.timeline.duration_ms),
    )


def build_mixdown(session: Session, options: RenderOptions, tracks: tuple[Path, ...]) -> Mixdown:
    frames = session.timeline.duration_ms * options.rate // 1000
    bed = music.MusicBed(list(tracks), frames, options.rate) if tracks else None
    sounds = tones.placements(session.timeline, options.beeps, options.marks) if options.beeps or options.marks else ()
    return Mixdown(session.cues, session.used_clips(), session.timeline.duration_ms, options.rate, music=bed, tones=sounds)


def render(
    session: Session, out: Path, options: RenderOptions, progress: Update | None = None, stamp: str | None = None,
    reuse_parts: bool = True,
) -> RenderReport:
    """The steps in order: check, mix, master (or remember), then into a temporary beside `out`:
    encode, tag, measure as decoded, and encode again (at most twice) if the encoder moved the
    loudness or a peak; rename into place; write the sidecars. `stamp`: the key that says the file is up to
    date (see uptodate), stored in its tag. `reuse_parts`: MP3 parts already encoded with the same
    PCM (in the cache folder, or earlier in this render) are not encoded again; off, every part is
    encoded (the same samples, decoded: tests/output/test_parts_cache.py)."""
    inputs = check_render(out, options)
    info = track_info(session, options, inputs.cover)
    mix = build_mixdown(session, options, inputs.music)
    remembered = MasteringCache(session.cache_dir, _mastering_key(session, mix, options, inputs.music))
    last_here = MasteringCache(session.cache_dir, lineage_key(out, mastering_options(options, mix.channels)), last=True)
    frames = Frames(mix.frames, progress)
    counts: encode.PartCounts | None = None
    try:
        known = remembered.get()
        reuse = PartsCache(session.cache_dir, {(a, b): k for a, b, k in known.parts} if known else None) \
            if reuse_parts else None
        kept = _kept(mix, options, last_here.get()) if known is None else None
        if known is not None:
            mastering, sent, shift = known.mastering, known.sent, known.shift
            mastered = mix.with_settings(mastering.settings)
        elif kept is not None:
            mastered, mastering, sent, shift = kept
        else:
            mastered, mastering, shift = _master(mix, options, frames)
            sent = math.nan
        with encode.staged(out, f".{options.format}") as tmp:
            for attempt in range(1, MAX_ENCODES + 1):
                sent, made = _encode(mastered, tmp, out, options, info, frames, sent, reuse)
                if made is not None:
                    counts = made if counts is None else replace(made, encoded=counts.encoded + made.encoded,
                                                                 reused=counts.reused + made.reused)
                with encode.writing(out):
                    tags.write(tmp, options.format, info)
                    if stamp is not None and options.format in uptodate.FORMATS:
                        uptodate.stamp(tmp, stamp)
                if known is not None and known.measured is not None:
                    # Same mastering key, same settings: the same samples this measurement was made of.
                    measured = known.measured
                    break
                # The parts' own levels add up to the file's (parts_meter); else the file is decoded.
                measured = made.level if made is not None and made.level is not None else \
                    decoded.measure_decoded(tmp, mastered.rate, mastered.channels)
                if attempt == MAX_ENCODES:
                    break
                last = attempt == MAX_ENCODES - 1  # the encode after this correction is not checked again
                corrected = _corrected(mastered.settings, measured, sent, shift, options, mastering.slope, peak_only=last)
                if corrected is None:
                    break
                mastered, sent = mastered.with_settings(corrected), math.nan
        if math.isnan(sent):  # the voice alone, measured once for the settings encoded last
            sent = voice_level.voice_loudness(mastered).integrated
        keys = counts.keys if counts is not None else ()
        if known is None or mastered.settings != mastering.settings or known.measured is None or known.parts != keys:
            # What this encode did is what the same settings will do next time.
            remembered.put(Remembered(replace(mastering, settings=mastered.settings), sent,
                                      measured.integrated - sent, measured, keys))
        # The next render to this file, after an edit, starts from these settings (see `_kept`).
        last_here.put(Remembered(replace(mastering, settings=mastered.settings), sent, measured.integrated - sent))
    finally:
        mix.close()
    sidecars = []
    for fmt, path in zip(options.subtitles, sidecar_paths(out, options)):
        files.write_text(path, subtitles.FORMATS[fmt](session.cues, info.sheet))
        sidecars.append(path)
    return RenderReport(out, session.timeline.duration_ms, mix.channels, info.chapters, measured,
                        replace(mastering, settings=mastered.settings), tuple(sidecars), counts)


def _master(mix: Mixdown, options: RenderOptions, frames: Frames) -> tuple[Mixdown, Mastering, float]:
    """Master in-process, then correct for what the encoder does to the loudness; returns the
    shift the encoder is expected to make (LU, from what is sent to what is decoded). When the
    encoded first minute peaks so far over what was sent that the session's worst peak would pass
    the ceiling (peaky voices: Piper's), master again with a margin for it, so that the first
    encode lands (another encode of the whole session costs more than an excerpt and a mastering)."""
    margin = master_to.CODEC_MARGIN_DB[options.format]
    master = functools.partial(master_to.master, mix, target_lufs=options.loudness, ceiling_dbtp=options.true_peak,
                               music_level_db=options.music_level, duck_db=options.duck)
    mastered, mastering = master(margin_db=margin)
    shift, overshoot = _codec_shift(mastered, options, frames)
    shifted = _shifted(mastered, mastering, shift)
    if master_to.codec_margin(overshoot, margin) > margin:
        _, overshoot = _codec_shift(shifted, options, frames)  # with the gain the session is encoded at
        needed = master_to.codec_margin(overshoot, margin)
        if needed > margin:
            mastered, mastering = master(margin_db=needed, start_from=mastering)
            shifted = _shifted(mastered, mastering, shift)
    return shifted, mastering, shift if abs(shift) > CODEC_SHIFT_MIN_LU else 0.0


def _shifted(mastered: Mixdown, mastering: Mastering, shift: float) -> Mixdown:
    """`mastered` with the gain that makes up for the encoder's loudness shift."""
    if abs(shift) <= CODEC_SHIFT_MIN_LU:
        return mastered
    return mastered.with_settings(trimmed(mastered.settings, -shift / mastering.slope))


def _kept(mix: Mixdown, options: RenderOptions, last: Remembered | None
          ) -> tuple[Mixdown, Mastering, float, float] | None:
    """The settings the last render to the same file ended with, when this session with them
    sounds as loud as that render's (KEPT_DRIFT_LU, the voice measured in-process) and, with the
    shift the encoder made last time, meets the target (KEPT_TOLERANCE_LU): after editing a tip, the
    rest of the session is the same PCM, and its encoded parts are reused. With music, or off
    the target: None (mastered again). Returns (mix, mastering, loudness sent, expected shift)."""
    if last is None or mix.music is not None or options.format != "mp3":
        return None
    mastered = mix.with_settings(last.mastering.settings)
    sent = voice_level.voice_loudness(mastered).integrated
    if not (abs(sent - last.sent) <= KEPT_DRIFT_LU and abs(sent + last.shift - options.loudness) <= KEPT_TOLERANCE_LU):
        return None
    return mastered, replace(last.mastering, passes=0), sent, last.shift


# RenderOptions' fields that leave the audio alone: what the file holds besides it.
# `jobs`: how many parts encode at once; the MP3's parts are where its silences are, whatever it is.
NOT_AUDIO = frozenset({"chapters", "cover", "subtitles", "jobs"})


def mastering_options(options: RenderOptions, channels: int) -> dict[str, object]:
    """The options the mastered settings depend on: every field but NOT_AUDIO's, as resolved."""
    shaping = {f.name: getattr(options, f.name) for f in fields(options) if f.name not in NOT_AUDIO}
    shaping.update(
        channels=channels,
        bitrate=options.bitrate or BITRATES[channels],
        mp3_encoder=encode.mp3_encoder(),
    )
    return shaping


def _mastering_key(session: Session, mix: Mixdown, options: RenderOptions, tracks: tuple[Path, ...]) -> str:
    """Everything the mastered settings depend on (see mastering_cache)."""
    shaping = {**mastering_options(options, mix.channels), "duration_ms": session.timeline.duration_ms}
    return mastering_key(session.cues, session.used_clips(), mix.tones, tracks, shaping, ffmpeg_path())


def _codec_shift(mastered: Mixdown, options: RenderOptions, frames: Frames) -> tuple[float, float]:
    """How much the encoder changes the loudness (low-bitrate MP3 loses a few tenths of a LU), and
    how far its true peak passes what was sent (dB), found on an excerpt: encode the session's
    first minute, decode it, compare."""
    count = min(mastered.frames, EXCERPT_MS * mastered.rate // 1000)
    if options.format == "wav" or count < mastered.rate * 3:
        return 0.0, math.nan
    sent = Meter(mastered.rate, mastered.channels, true_peak=True, full_scale=FULL_SCALE)
    with tempfile.TemporaryDirectory(prefix="coach-excerpt-") as folder:
        excerpt = Path(folder) / f"excerpt.{options.format}"
        bitrate = options.bitrate or BITRATES[mastered.channels]
        chunks = _metered(mastered.render(pos, min(mastered.rate, count - pos)) for pos in range(0, count, mastered.rate))
        encode.write(chunks(sent), excerpt, formats.EncodeOptions(options.format, options.rate, mastered.channels, bitrate),
                     progress=frames)
        before = sent.result()
        after = decoded.measure_decoded(excerpt, mastered.rate, mastered.channels)
    shift = after.integrated - before.integrated
    return shift if math.isfinite(shift) else 0.0, after.true_peak - before.true_peak


def _metered(chunks: Iterable[np.ndarray]) -> Callable[[Meter | ebur128.StreamMeter], Iterator[np.ndarray]]:
    """`chunks`, each fed to a meter on its way to the encoder."""
    def through(meter: Meter | ebur128.StreamMeter) -> Iterator[np.ndarray]:
        for chunk in chunks:
            meter.feed(chunk)
            yield chunk

    return through


def _encode(mastered: Mixdown, tmp: Path, out: Path, options: RenderOptions, info: tags.TrackInfo, frames: Frames,
            sent: float, reuse: PartsCache | None = None) -> tuple[float, encode.PartCounts | None]:
    """Encode into `tmp`; returns the loudness of what was sent to the encoder when it is measured
    on the way (with music, stereo with no silence to skip, by an ffmpeg meter beside the
    encoder; speech and tones need no pass: `voice_loudness`, from the clips, once the last
    settings are known, so `sent` as given), and what the parts took."""
    bitrate = options.bitrate or BITRATES[mastered.channels]
    settings = formats.EncodeOptions(options.format, options.rate, mastered.channels, bitrate, info.text_tags,
                                    tags.ffmetadata(info))
    if not math.isnan(sent) or mastered.music is None:
        # A Mixdown: encoded in parts at once.
        made = encode.write(mastered, tmp, settings, progress=frames, jobs=options.jobs, out=out, reuse=reuse)
        return sent, made
    stream = ebur128.StreamMeter(mastered.rate, mastered.channels, "s16le", true_peak=False)
    try:
        encode.write(_metered(mastered.chunks())(stream), tmp, settings, progress=frames, jobs=options.jobs, out=out)
        return stream.result().integrated, None
    finally:
        stream.close()


def _corrected(settings: MixSettings, measured: Loudness, sent: float, shift: float, options: RenderOptions,
               slope: float, peak_only: bool = False) -> MixSettings | None:
    """New settings when the file as decoded is off the loudness target (the encoder moved it other
    than `shift` foretold, or the music did) or has a true peak over the ceiling, else None. More
    gain means more limiting: loudness grows about `slope` dB per dB of gain. `peak_only`: for the
    last encode, which nothing checks after it: only a lower ceiling, no gain (a peak over the
    ceiling is worse than a loudness a little under the target)."""
    excess = measured.true_peak - options.true_peak
    if peak_only:
        if excess <= PEAK_TOLERANCE_DB or settings.ceiling_db is None:
            return None
        return replace(settings, ceiling_db=settings.ceiling_db - (excess + 0.3))
    # Off the target, whatever the cause: the encoder did what `shift` did not foretell, or the music
    # (its measured tracks are not quite the bed the session plays: a short loop, a surround downmix).
    error = measured.integrated - options.loudness
    if excess <= PEAK_TOLERANCE_DB and abs(error) <= LOUDNESS_TOLERANCE_LU:
        return None
    corrected = trimmed(settings, -error / slope)
    lowered = max(0.0, excess + 0.3) if corrected.ceiling_db is not None else 0.0
    if lowered and corrected.ceiling_db is not None:
        # A ceiling `lowered` dB lower is that much less level with that much more gain into the
        # limiter: it costs lowered * (1 - slope) LU, which gain (slope LU a dB) makes up.
        corrected = replace(trimmed(corrected, master_to.makeup_db(lowered, slope)), ceiling_db=corrected.ceiling_db - lowered)
    return corrected

