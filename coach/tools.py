"""The machine: external tools (ffmpeg: the imageio-ffmpeg wheel first, then the system's) and how
many workers to run at once."""

from __future__ import annotations

import functools
import os
import shutil

from coach.defaults import MAX_WORKERS
from coach.errors import ToolMissing

FFMPEG_HINT = "install it with `pip install imageio-ffmpeg` (bundled with coach) or `apt-get install ffmpeg`"


@functools.lru_cache(maxsize=1)
def ffmpeg_path() -> str:
    """The ffmpeg executable: $COACH_FFMPEG, then imageio-ffmpeg's binary, then ffmpeg on PATH.

    The bundled one first: what coach writes and measures then does not change with the system's
    ffmpeg (Debian 12's 5.1 decodes an AAC file with 8 samples more than it was encoded with)."""
    explicit = os.environ.get("COACH_FFMPEG")
    if explicit:
        if shutil.which(explicit) or os.path.isfile(explicit):
            return explicit
        raise ToolMissing(f"COACH_FFMPEG points at `{explicit}`, which does not exist", FFMPEG_HINT)
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception:  # imageio-ffmpeg raises RuntimeError when it has no binary for this platform
        pass
    found = shutil.which("ffmpeg")
    if found:
        return found
    raise ToolMissing("no ffmpeg found to encode audio", FFMPEG_HINT)


def workers(jobs: int | None = None) -> int:
    """How many workers run at once (speech processes, MP3 encoders, measuring threads): `jobs`
    when given, else one per core, at most MAX_WORKERS."""
    return jobs if jobs is not None else min(os.cpu_count() or 1, MAX_WORKERS)
