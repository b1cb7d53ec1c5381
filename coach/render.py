"""Render a prepared session to an audio file: mixdown streamed into the encoder, then tags."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from coach import encode
from coach.session import Session


@dataclass(frozen=True)
class RenderOptions:
    format: str = "mp3"
    rate: int = 44100
    bitrate: str = "64k"


def tags(session: Session) -> dict[str, str]:
    routine = session.routine
    return {
        "title": routine.title,
        "artist": routine.coach or "coach",
        "album": "coach sessions",
        "genre": "Fitness",
        "date": str(datetime.date.today().year),
        "comment": routine.description,
    }


def render(session: Session, out: Path, options: RenderOptions, progress: Callable[[int, int], None] | None = None) -> None:
    encode.check_output(out)
    mix = session.mixdown(options.rate)
    done = 0

    def step(frames: int) -> None:
        nonlocal done
        done += frames
        if progress:
            progress(done, mix.frames)

    encode.write(
        mix.chunks(),
        out,
        encode.EncodeOptions(options.format, options.rate, 1, options.bitrate, tags(session)),
        progress=step,
    )
