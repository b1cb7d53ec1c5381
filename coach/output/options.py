"""What a render can be told, and every check of it that can fail before any speech or audio
work: the format, chapters, subtitles, bitrate and encoder settings, the cover and the music, and
that no output lands on an input. Light to import: `coach render` runs these, and the up-to-date
check, before it loads anything that mixes or encodes audio."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from coach import defaults, files
from coach.errors import CoachError
from coach.output import chapters as chapter_list
from coach.output import cover as covers
from coach.output import formats, subtitles

CHAPTER_MODES = (*chapter_list.MODES, "none")
BITRATES = {1: "64k", 2: "128k"}


@dataclass(frozen=True)
class RenderOptions:
    """Everything a render can be told. A new field shapes the audio unless named in NOT_AUDIO:
    it is then in the remembered mastering's key without more ado (`render.mastering_options`)."""

    format: str = defaults.FORMAT
    rate: int = defaults.SAMPLE_RATE
    bitrate: str | None = None  # None: 64k for the voice alone, 128k with music
    chapters: str = defaults.CHAPTERS  # exercise, block or none
    cover: Path | None = None  # None: a generated cover
    subtitles: tuple[str, ...] = ()  # sidecar formats: vtt, srt, lrc
    loudness: float = defaults.TARGET_LUFS
    true_peak: float = defaults.CEILING_DBTP
    music: Path | None = None  # a file, or a folder played through in name order
    music_level: float = defaults.MUSIC_LEVEL_DB  # the music's loudness relative to the voice
    duck: float = defaults.DUCK_DB  # how far the music dips under speech
    beeps: bool = False  # countdown pips and a go tone
    marks: bool = False  # a soft tone where each work and rest starts
    jobs: int | None = None  # MP3 encoders at once (None: one per core, at most 4)


@dataclass(frozen=True)
class Inputs:
    """The user's files, checked: the cover image and the music playlist."""

    cover: covers.Cover | None
    music: tuple[Path, ...]


def check(options: RenderOptions) -> Inputs:
    """Everything about the options that can fail, before any speech or audio work."""
    formats.check_format(options.format)
    if options.chapters not in CHAPTER_MODES:
        raise CoachError(f"unknown chapter mode `{options.chapters}`", f"modes: {', '.join(CHAPTER_MODES)}")
    unknown = [s for s in options.subtitles if s not in subtitles.FORMATS]
    if unknown:
        raise CoachError(f"unknown subtitle format `{unknown[0]}`", f"formats: {', '.join(subtitles.FORMATS)}")
    if options.bitrate is not None:
        check_bitrate(options.bitrate, options.format, options.rate)
    channels = 2 if options.music is not None else 1
    formats.check_settings(formats.EncodeOptions(options.format, options.rate, channels, options.bitrate or BITRATES[channels]))
    cover = covers.from_file(options.cover) if options.cover is not None else None
    tracks: tuple[Path, ...] = ()
    if options.music is not None:
        from coach.audio import music

        tracks = tuple(music.playlist(options.music))
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
