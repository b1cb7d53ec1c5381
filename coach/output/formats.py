"""The formats coach writes, and the checks of their settings that run before any audio work:
light to import (no numpy), for the option checks and the up-to-date path."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from coach.errors import CoachError, EncoderError
from coach.tools import ffmpeg_path

FORMATS = {
    "mp3": ["-c:a", "libmp3lame", "-write_xing", "1", "-id3v2_version", "3"],
    "m4a": ["-c:a", "aac", "-movflags", "+faststart"],
    "ogg": ["-c:a", "libvorbis"],
    "wav": ["-c:a", "pcm_s16le"],
}


@dataclass(frozen=True)
class EncodeOptions:
    format: str = "mp3"
    rate: int = 44100
    channels: int = 1
    bitrate: str = "64k"
    tags: Mapping[str, str] = field(default_factory=dict)
    metadata: str | None = None  # an ffmetadata file's text: tags and chapters (replaces `tags`)


MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


def check_settings(options: EncodeOptions) -> None:
    """Fail before any audio work if the encoder cannot take these settings: an MP3 rate LAME
    would change silently, or a rate and bitrate the Vorbis or AAC encoder refuses (it is asked,
    with a tenth of a second of silence)."""
    if options.format == "mp3" and options.rate not in MP3_RATES:
        raise EncoderError(f"MP3 has no sample rate of {options.rate} Hz",
                           f"use one of {', '.join(str(r) for r in MP3_RATES)}")
    if options.format not in ("ogg", "m4a"):
        return
    silence = bytes(2 * options.channels * (options.rate // 10))
    with tempfile.TemporaryDirectory(prefix="coach-probe-") as scratch:
        cmd = command(ffmpeg_path(), replace(options, metadata=None, tags={}), Path(scratch) / f"probe.{options.format}",
                       Path(scratch))
        try:
            done = subprocess.run(cmd, input=silence, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EncoderError(f"cannot start the encoder {cmd[0]}: {exc}") from None
    if done.returncode != 0:
        raise EncoderError(f"{options.format} cannot be encoded at {options.rate} Hz and {options.bitrate}"
                           f" ({'stereo' if options.channels == 2 else 'mono'})",
                           "try 44100 or 48000 Hz, or another --bitrate")


def check_format(fmt: str) -> None:
    """One clear error for a format coach cannot write."""
    if fmt not in FORMATS:
        raise CoachError(f"unknown format `{fmt}`", f"formats: {', '.join(FORMATS)}")


def command(encoder: str, options: EncodeOptions, target: Path, scratch: Path) -> list[str]:
    """ffmpeg reading PCM on stdin and writing `target`."""
    cmd = [encoder, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
           "-f", "s16le", "-ar", str(options.rate), "-ac", str(options.channels), "-i", "pipe:0"]
    if options.metadata is not None:
        meta = scratch / "metadata.txt"
        meta.write_text(options.metadata, encoding="utf-8")
        cmd += ["-f", "ffmetadata", "-i", str(meta), "-map", "0:a", "-map_metadata", "1", "-map_chapters", "1"]
    cmd += FORMATS[options.format]
    if options.format != "wav":
        cmd += ["-b:a", options.bitrate]
    if options.metadata is None:
        for key, value in options.tags.items():
            cmd += ["-metadata", f"{key}={value}"]
    return cmd + ["-f", {"m4a": "mp4"}.get(options.format, options.format), str(target)]
