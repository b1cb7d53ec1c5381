"""Mastering remembered: the settings a render ended with, so the next render of the same session
encodes once and measures only the result.

Keyed by a hash of everything mastering depends on: the clips' samples, where each cue and tone
falls, the music files (path, size, modification time), every render option that shapes the
audio (`render.mastering_options`: a new option is in the key by default), the encoder binary,
and VERSION (raise it when the mastering code itself changes). Files live in the
clip cache folder under `mastering/`, written to a temporary name and renamed into place like
the clips; an unreadable or damaged entry is simply mastered again.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from coach.audio.mastering import Mastering
from coach.audio.meter import Loudness
from coach.audio.mixdown import MixSettings
from coach.audio.tones import Tone
from coach.errors import OutputError
from coach.files import write_text
from coach.output import parts_cache
from coach.plan.scheduler import Cue
from coach.speech.cache import TEMPORARY, files, size
from coach.speech.clip import Clip

VERSION = 4  # 4: MP3 parts cut at every silence (their split no longer depends on --jobs)
FOLDER = "mastering"
ENTRY = re.compile(r"[0-9a-f]{64}\.json")  # KEY.json, the only name an entry has
LAST = re.compile(r"[0-9a-f]{64}\.last")  # the last render to a file (`lineage_key`): not a result


def key(
    cues: Sequence[Cue], clips: Mapping[str, Clip], tones: Sequence[Tone], music: Sequence[Path],
    options: Mapping[str, object], encoder: str,
) -> str:
    digest = hashlib.sha256()
    for speech in sorted(clips):
        clip = clips[speech]
        digest.update(json.dumps([speech, clip.rate]).encode("utf-8"))
        digest.update(clip.samples.astype("<i2").tobytes())
    shape = {
        "version": VERSION,
        "cues": [[c.start_ms, c.speech] for c in cues],
        "tones": [[t.start_ms, t.sound] for t in tones],
        "music": [_file_identity(p) for p in music],
        "encoder": _file_identity(Path(encoder)),
        "options": dict(options),
    }
    digest.update(json.dumps(shape, sort_keys=True, default=str).encode("utf-8"))
    return digest.hexdigest()


def lineage_key(out: Path, options: Mapping[str, object]) -> str:
    """The key of the last render to `out` with these options, whatever the session: where an
    edited session looks for settings to keep (render._kept checks they still fit)."""
    shape = {"version": VERSION, "lineage": str(out.resolve()), "options": dict(options)}
    return hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _file_identity(path: Path) -> list[object]:
    try:
        stat = path.stat()
        return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]
    except OSError:
        return [str(path), None, None]


@dataclass(frozen=True)
class Remembered:
    mastering: Mastering  # its settings: the ones the file was encoded with
    sent: float  # LUFS of what was sent to the encoder
    shift: float  # LU the encoder added to that (the file measured sent + shift)
    # The encoded file as decoded and metered: the same settings give the same samples, so a
    # warm render reports this instead of decoding and metering its file again.
    measured: Loudness | None = None
    # The MP3 parts those settings gave, (first frame, end, key in the parts cache): the same PCM
    # again, so a warm render finds them without rendering it (parts_cache.PartsCache.known).
    parts: tuple[tuple[int, int, str], ...] = ()


class MasteringCache:
    """One session's remembered mastering in `folder` (None: remember nothing)."""

    def __init__(self, folder: Path | None, key: str, last: bool = False) -> None:
        name = f"{key}.last" if last else f"{key}.json"  # last: the entry of `lineage_key`
        self.path = folder / FOLDER / name if folder is not None else None

    def get(self) -> Remembered | None:
        if self.path is None:
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            mastering = Mastering(
                settings=MixSettings(**data["settings"]),
                voice=Loudness(**data["voice"]),
                music=Loudness(**data["music"]) if data["music"] is not None else None,
                mix=Loudness(**data["mix"]),
                passes=int(data["passes"]),
                slope=float(data["slope"]),
            )
            measured = Loudness(**data["measured"]) if data.get("measured") is not None else None
            parts = tuple((int(a), int(b), str(k)) for a, b, k in data.get("parts") or ()) \
                if data.get("parts_version") == parts_cache.VERSION else ()
            remembered = Remembered(mastering, float(data["sent"]), float(data["shift"]), measured, parts)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return remembered if math.isfinite(remembered.sent) and math.isfinite(remembered.shift) else None

    def put(self, remembered: Remembered) -> None:
        """Remember, best effort: a read-only or full cache only means mastering again next time."""
        if self.path is None or not (math.isfinite(remembered.sent) and math.isfinite(remembered.shift)):
            return
        data = asdict(remembered.mastering)
        measured = asdict(remembered.measured) if remembered.measured is not None else None
        data.update(sent=remembered.sent, shift=remembered.shift, measured=measured,
                    parts=[list(p) for p in remembered.parts], parts_version=parts_cache.VERSION)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_text(self.path, json.dumps(data))
        except (OSError, OutputError):
            pass


def stats(cache_folder: Path) -> tuple[int, int]:
    """(remembered masterings in a cache folder, bytes on disk, leftover temporaries included)."""
    entries = files(cache_folder / FOLDER, ENTRY)
    return len(entries), size(entries + files(cache_folder / FOLDER, LAST) + files(cache_folder / FOLDER, TEMPORARY))


def clear(cache_folder: Path) -> int:
    """Forget every remembered mastering in a cache folder, leftover temporaries too; returns how
    many. Files the cache did not name are left where they are."""
    entries = files(cache_folder / FOLDER, ENTRY)
    for path in entries + files(cache_folder / FOLDER, LAST) + files(cache_folder / FOLDER, TEMPORARY):
        path.unlink(missing_ok=True)
    try:
        (cache_folder / FOLDER).rmdir()
    except OSError:  # absent, or holding something else
        pass
    return len(entries)
