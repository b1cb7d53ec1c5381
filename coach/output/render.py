"""Render a prepared session to an audio file a phone player does justice to.

Steps: check the inputs (cover, music) before any audio work; build the mixdown (voice, tones,
ducked music); master it to the loudness target (in-process, or remembered from the last render
of the same session); stream it into the encoder, once; tag the file (chapters, cover, cue
text) and measure it as decoded before it is renamed into place; then write the subtitle
sidecars. Nothing is left at the output path if a step fails.
"""

from __future__ import annotations

import datetime
import math
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from coach import files
from coach.audio import loudness as meter
from coach.audio import music, tones
from coach.audio.mixdown import FULL_SCALE, Mixdown
from coach.errors import CoachError
from coach.output import chapters as chapter_list
from coach.output import cover as covers
from coach.output import encode, subtitles, tags
from coach.output.mastering_cache import MasteringCache, Remembered
from coach.output.mastering_cache import key as mastering_key
from coach.session import Session
from coach.tools import ffmpeg_path

CHAPTER_MODES = (*chapter_list.MODES, "none")
BITRATES = {1: "64k", 2: "128k"}
PEAK_TOLERANCE_DB = 0.05  # the meter prints one decimal
LOUDNESS_TOLERANCE_LU = 0.4  # a second encode when the encoder's shift differs from the excerpt's by more
CODEC_SHIFT_MIN_LU = 0.05
EXCERPT_MS = 60_000


@dataclass(frozen=True)
class RenderOptions:
    format: str = "mp3"
    rate: int = 44100
    bitrate: str | None = None  # None: 64k for the voice alone, 128k with music
    chapters: str = "exercise"  # exercise, block or none
    cover: Path | None = None  # None: a generated cover
    subtitles: tuple[str, ...] = ()  # sidecar formats: vtt, srt, lrc
    loudness: float = meter.TARGET_LUFS
    true_peak: float = meter.CEILING_DBTP
    music: Path | None = None  # a file, or a folder played through in name order
    music_level: float = meter.MUSIC_LEVEL_DB  # the music's loudness relative to the voice
    duck: float = meter.DUCK_DB  # how far the music dips under speech
    beeps: bool = False  # countdown pips and a go tone
    marks: bool = False  # a soft tone where each work and rest starts
    jobs: int | None = None  # MP3 encoders at once (None: one per core, at most 4)


@dataclass(frozen=True)
class RenderReport:
    path: Path
    duration_ms: int
    channels: int
    chapters: tuple[chapter_list.Chapter, ...]
    measured: meter.Loudness  # the encoded file, as decoded
    mastering: meter.Mastering
    sidecars: tuple[Path, ...]


@dataclass(frozen=True)
class Inputs:
    """The user's files, checked: the cover image and the music playlist."""

    cover: covers.Cover | None
    music: tuple[Path, ...]


def check(options: RenderOptions) -> Inputs:
    """Everything about the options that can fail, before any speech or audio work."""
    if options.format not in encode.FORMATS:
        raise CoachError(f"unknown format `{options.format}`", f"formats: {', '.join(encode.FORMATS)}")
    if options.chapters not in CHAPTER_MODES:
        raise CoachError(f"unknown chapter mode `{options.chapters}`", f"modes: {', '.join(CHAPTER_MODES)}")
    unknown = [s for s in options.subtitles if s not in subtitles.FORMATS]
    if unknown:
        raise CoachError(f"unknown subtitle format `{unknown[0]}`", f"formats: {', '.join(subtitles.FORMATS)}")
    if options.bitrate is not None:
        check_bitrate(options.bitrate, options.format, options.rate)
    channels = 2 if options.music is not None else 1
    encode.check_settings(encode.EncodeOptions(options.format, options.rate, channels, options.bitrate or BITRATES[channels]))
    cover = covers.from_file(options.cover) if options.cover is not None else None
    tracks = tuple(music.playlist(options.music)) if options.music is not None else ()
    return Inputs(cover, tracks)


# kbit/s that MP3 has: MPEG-1 (32 kHz and up), MPEG-2 and 2.5 (lower sample rates)
MP3_BITRATES = {True: (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
                False: (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)}


def check_bitrate(bitrate: str, fmt: str, rate: int) -> None:
    """A bitrate the encoder takes as it is, or one clear error (ffmpeg would round or fail late)."""
    match = re.fullmatch(r"(\d+)k", bitrate.strip())
    kbits = int(match.group(1)) if match else None
    if fmt == "wav":
        return  # uncompressed: no bitrate to set
    allowed = MP3_BITRATES[rate >= 32000]
    if fmt == "mp3":
        if kbits not in allowed:
            raise CoachError(f"bitrate `{bitrate}` is not one MP3 has at {rate} Hz",
                             f"use one of {', '.join(f'{k}k' for k in allowed)}")
    elif kbits is None or not 16 <= kbits <= 512:
        raise CoachError(f"bitrate `{bitrate}` is not a bitrate", "write kilobits per second, from 16k to 512k, e.g. 96k")


def check_render(out: Path, options: RenderOptions, reads: Iterable[tuple[str, Path]] = ()) -> Inputs:
    """`check`, and that the audio file and its sidecars can be written over none of the inputs."""
    inputs = check(options)  # first: a bad subtitle format is no file name
    reads = [*reads, *(("the music", track) for track in inputs.music)]
    if options.cover is not None:
        reads.append(("the cover image", options.cover))
    files.check_outputs([out, *sidecar_paths(out, options)], reads)
    return inputs


def sidecar_paths(out: Path, options: RenderOptions) -> list[Path]:
    return [out.with_suffix(f".{fmt}") for fmt in options.subtitles]


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
    session: Session, out: Path, options: RenderOptions, progress: Callable[[int, int], None] | None = None
) -> RenderReport:
    inputs = check_render(out, options)
    info = track_info(session, options, inputs.cover)
    mix = build_mixdown(session, options, inputs.music)
    remembered = MasteringCache(session.cache_dir, _mastering_key(session, mix, options, inputs.music))
    try:
        step = _Steps(mix.frames, progress)
        known = remembered.get()
        if known is not None:
            mastering, sent, shift = known.mastering, known.sent, known.shift
            mastered = mix.with_settings(mastering.settings)
        else:
            mastered, mastering, shift = _master(mix, options, step)
            sent = math.nan
        trusted = known.measured if known is not None else None
        try:
            measured, sent = _encode(mastered, out, options, info, mastering, step, sent, shift, retry=True,
                                     trusted=trusted)
        except _Retry as again:
            # The encoder moved the loudness or pushed a peak over: adjust and encode once more.
            settings = meter.trimmed(mastered.settings, again.trim_db)
            if settings.ceiling_db is not None:
                settings = replace(settings, ceiling_db=settings.ceiling_db - again.peak_db)
            mastered = mastered.with_settings(settings)
            measured, sent = _encode(mastered, out, options, info, mastering, step, math.nan, shift, retry=False)
        if known is None or mastered.settings != mastering.settings or known.measured is None:
            # What this encode did is what the same settings will do next time.
            remembered.put(Remembered(replace(mastering, settings=mastered.settings), sent,
                                      measured.integrated - sent, measured))
    finally:
        mix.close()
    sidecars = []
    for fmt, path in zip(options.subtitles, sidecar_paths(out, options)):
        files.write_text(path, subtitles.FORMATS[fmt](session.cues, info.sheet))
        sidecars.append(path)
    return RenderReport(out, session.timeline.duration_ms, mix.channels, info.chapters, measured,
                        replace(mastering, settings=mastered.settings), tuple(sidecars))


def _master(mix: Mixdown, options: RenderOptions, step: _Steps) -> tuple[Mixdown, meter.Mastering, float]:
    """Master in-process, then correct for what the encoder does to the loudness; returns the
    shift the encoder is expected to make (LU, from what is sent to what is decoded)."""
    mastered, mastering = meter.master(mix, options.loudness, options.true_peak, options.music_level, options.duck,
                                       meter.CODEC_MARGIN_DB[options.format])
    shift = _codec_shift(mastered, options, step)
    if abs(shift) <= CODEC_SHIFT_MIN_LU:
        return mastered, mastering, 0.0
    return mastered.with_settings(meter.trimmed(mastered.settings, -shift / mastering.slope)), mastering, shift


def _mastering_key(session: Session, mix: Mixdown, options: RenderOptions, tracks: tuple[Path, ...]) -> str:
    """Everything the mastered settings depend on (see mastering_cache)."""
    loudness = {"rate": options.rate, "channels": mix.channels, "format": options.format,
                "bitrate": options.bitrate or BITRATES[mix.channels], "loudness": options.loudness,
                "true_peak": options.true_peak, "music_level": options.music_level, "duck": options.duck,
                "duration_ms": session.timeline.duration_ms,
                "encoders": encode.encoders(options.jobs),  # parts encoded apart: not quite the same samples
                "mp3_encoder": encode.mp3_encoder()}
    return mastering_key(session.cues, session.used_clips(), mix.tones, tracks, loudness, ffmpeg_path())


class _Retry(Exception):
    """The encoder moved the loudness or pushed a peak over the ceiling: encode once more."""

    def __init__(self, peak_db: float, trim_db: float) -> None:
        super().__init__(f"encode again: {peak_db:.1f} dB more peak margin, {trim_db:+.1f} dB")
        self.peak_db = peak_db
        self.trim_db = trim_db


class _Steps:
    """Progress over every streaming pass; how many mastering takes is only known as it goes."""

    def __init__(self, total: int, progress: Callable[[int, int], None] | None) -> None:
        self.done, self.total, self.progress = 0, total, progress

    def __call__(self, frames: int) -> None:
        self.done += frames
        self.total = max(self.total, self.done + frames)
        if self.progress:
            self.progress(self.done, self.total)


def _codec_shift(mastered: Mixdown, options: RenderOptions, step: _Steps) -> float:
    """How much the encoder changes the loudness (low-bitrate MP3 loses a few tenths of a LU),
    found on an excerpt: encode the session's first minute, decode it, compare."""
    frames = min(mastered.frames, EXCERPT_MS * mastered.rate // 1000)
    if options.format == "wav" or frames < mastered.rate * 3:
        return 0.0
    sent = meter.Meter(mastered.rate, mastered.channels, true_peak=False, full_scale=FULL_SCALE)

    def chunks() -> Iterator[np.ndarray]:
        for pos in range(0, frames, mastered.rate):
            chunk = mastered.render(pos, min(mastered.rate, frames - pos))
            sent.feed(chunk)
            yield chunk

    try:
        with tempfile.TemporaryDirectory(prefix="coach-excerpt-") as folder:
            excerpt = Path(folder) / f"excerpt.{options.format}"
            bitrate = options.bitrate or BITRATES[mastered.channels]
            encode.write(chunks(), excerpt, encode.EncodeOptions(options.format, options.rate, mastered.channels, bitrate),
                         progress=step)
            before = sent.result()
            after = meter.measure_decoded(excerpt, mastered.rate, mastered.channels, true_peak=False)
    finally:
        sent.close()
    shift = after.integrated - before.integrated
    return shift if math.isfinite(shift) else 0.0


def _encode(
    mastered: Mixdown, out: Path, options: RenderOptions, info: tags.TrackInfo, mastering: meter.Mastering,
    step: _Steps, sent: float, shift: float, retry: bool, trusted: meter.Loudness | None = None,
) -> tuple[meter.Loudness, float]:
    """Encode, tag, and measure the file as decoded (before it replaces `out`). Returns that and
    the loudness of what was sent to the encoder: `sent` when already known for these settings,
    else measured. Speech and tones, in-process without a pass (`voice_loudness`, which also
    limits the clips before the encoder needs them); with music, stereo with no silence to skip,
    by an ffmpeg meter beside the encoder. With `retry`, a true peak over the ceiling or an
    encoder shift in loudness other than `shift` raises _Retry."""
    measured: list[meter.Loudness] = []
    stream: meter.StreamMeter | None = None
    if math.isnan(sent) and mastered.music is not None:
        stream = meter.StreamMeter(mastered.rate, mastered.channels, "s16le", true_peak=False)
    elif math.isnan(sent):
        sent = meter.voice_loudness(mastered).integrated

    def chunks() -> Iterator[np.ndarray]:
        for chunk in mastered.chunks():
            if stream is not None:
                stream.feed(chunk)
            yield chunk

    def finish(tmp: Path) -> None:
        nonlocal sent
        if stream is not None:
            sent = stream.result().integrated
        tags.write(tmp, options.format, info)
        if trusted is not None:
            # Same mastering key, same settings: the same samples this measurement was made of.
            measured.append(trusted)
            return
        got = meter.measure_decoded(tmp, mastered.rate, mastered.channels)
        measured.append(got)
        excess = got.true_peak - options.true_peak
        # Off the target, whatever the cause: the encoder did what was not foreseen, or the music (its
        # measured tracks are not quite the bed the session plays: a short loop, a surround downmix).
        error = got.integrated - options.loudness
        if retry and (excess > PEAK_TOLERANCE_DB or abs(error) > LOUDNESS_TOLERANCE_LU):
            # More gain means more limiting: loudness grows about `slope` dB per dB of gain.
            raise _Retry(max(0.0, excess + 0.3), -error / mastering.slope)

    bitrate = options.bitrate or BITRATES[mastered.channels]
    try:
        encode.write(
            chunks() if stream is not None else mastered, out,  # a Mixdown: encoded in parts at once
            encode.EncodeOptions(options.format, options.rate, mastered.channels, bitrate, info.text_tags,
                                 tags.ffmetadata(info)),
            finish=finish, progress=step, jobs=options.jobs,
        )
    finally:
        if stream is not None:
            stream.close()
    return measured[0], sent
