"""Encoded MP3 parts remembered: each part of a session (see mp3splice.plan) is encoded by a fresh
encoder from its own PCM alone, so the same PCM with the same encoder settings gives the same
frames. Keyed by a hash of exactly that: the PCM as sent, the rate, channels, bitrate, LAME's
quality, the encoder and its version, and VERSION (raise it when what a part is changes). The
silence between cues is one entry (any run of silent frames is the first frames of a longer
one), and a re-render after an edit finds every part the edit did not touch.

Entries live beside the clips, in `parts/` of the cache folder, as `KEY.frames` in a folder named by
the key's first two digits: a header with the sha256 of the rest, then the bare frames and their
decoded level (parts_meter: the file is measured from its parts). They are
written to a temporary and renamed into place (files.atomic_write, not flushed to disk), the first of several renders
writing one wins, and one that does not check out (a damaged disk, a stopped copy) is a miss: it is
encoded again and written over, never joined. The folder is kept under MAX_BYTES by removing the
entries used longest ago (a hit refreshes its time).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from coach.files import write_bytes
from coach.speech.cache import SHARD, TEMPORARY, files, size

VERSION = 1
FOLDER = "parts"
MAGIC = b"coach-mp3-part\n\x01"
ENTRY = re.compile(r"[0-9a-f]{64}\.frames")
MAX_BYTES = 256 << 20  # a 2-hour session's voice at 64 kbit/s is about 58 MB
MAX_ENV = "COACH_PARTS_CACHE_MB"  # another bound, in MiB (0: remember nothing)


def settings_key(rate: int, channels: int, bitrate: str, quality: int, encoder: str) -> bytes:
    """What, besides the PCM, decides a part's frames."""
    shape = {"version": VERSION, "rate": rate, "channels": channels, "bitrate": bitrate, "quality": quality,
             "encoder": encoder}
    return json.dumps(shape, sort_keys=True).encode("utf-8")


class PcmHash:
    """A part's key, from its PCM as it is rendered (int16 chunks, interleaved)."""

    def __init__(self, settings: bytes, frames: int) -> None:
        self._digest = hashlib.sha256(settings)
        self._digest.update(frames.to_bytes(8, "little"))

    def update(self, chunk: np.ndarray) -> None:
        self._digest.update(chunk.astype("<i2", copy=False).tobytes())

    def key(self) -> str:
        return self._digest.hexdigest()


def bound() -> int:
    """The folder's size bound in bytes ($COACH_PARTS_CACHE_MB, else MAX_BYTES)."""
    value = os.environ.get(MAX_ENV)
    try:
        return int(float(value) * (1 << 20)) if value else MAX_BYTES
    except ValueError:
        return MAX_BYTES


class PartsCache:
    """Encoded parts in `folder` (the clip cache folder; None: none remembered). `known`: the keys
    the parts (first frame, end) of this very audio had the last time, remembered with its
    mastering (same mastering key, same settings: the same PCM), so that a warm render finds its
    parts without rendering the PCM to hash it; a part not found is rendered and hashed as usual."""

    def __init__(self, folder: Path | None, known: Mapping[tuple[int, int], str] | None = None) -> None:
        self.folder = folder / FOLDER if folder is not None else None
        self.known = dict(known or {})
        self._wrote = False

    def path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.frames"

    def get(self, key: str) -> tuple[bytes, bytes] | None:
        """The frames stored under `key` and what was kept with them (their level, see
        parts_meter), or None (absent, or not what was stored)."""
        if self.folder is None:
            return None
        path = self.path(key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        frames = _checked(data)
        if frames is not None:
            with contextlib.suppress(OSError):
                os.utime(path)  # used: the last to be removed
        return frames

    def put(self, key: str, frames: bytes, extra: bytes = b"") -> None:
        """Remember, best effort (a read-only or full folder only means encoding again next time);
        a damaged entry under `key` is replaced, a sound one another render wrote is kept."""
        if self.folder is None or bound() <= 0:
            return
        target = self.path(key)
        payload = len(frames).to_bytes(8, "little") + frames + extra
        data = MAGIC + hashlib.sha256(payload).digest() + payload
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:  # not flushed to disk: a damaged entry is found out when read
                write_bytes(target, data, exclusive=True, durable=False)
            except FileExistsError:
                if self.get(key) is None:
                    write_bytes(target, data, durable=False)
            self._wrote = True
        except OSError:
            pass

    def trim(self) -> None:
        """Keep the folder under its bound: the entries used longest ago go first. Only after this
        cache wrote something; entries another render removes meanwhile are skipped."""
        if self.folder is None or not self._wrote:
            return
        limit = max(0, bound())
        dated = []
        for path in entries(self.folder):
            try:
                stat = path.stat()
            except OSError:
                continue
            dated.append((stat.st_mtime_ns, stat.st_size, path))
        total = sum(s for _, s, _ in dated)
        for _, length, path in sorted(dated, key=lambda d: d[0]):
            if total <= limit:
                break
            with contextlib.suppress(OSError):
                path.unlink()
            total -= length


def _checked(data: bytes) -> tuple[bytes, bytes] | None:
    head = len(MAGIC) + 32
    if len(data) < head + 8 or not data.startswith(MAGIC):
        return None
    payload = data[head:]
    if hashlib.sha256(payload).digest() != data[len(MAGIC):head]:
        return None
    size = int.from_bytes(payload[:8], "little")
    return (payload[8:8 + size], payload[8 + size:]) if 0 < size <= len(payload) - 8 else None


def entries(folder: Path) -> list[Path]:
    """The entries in a parts folder (`cache/parts`)."""
    return [p for shard in _shards(folder) for p in files(shard, ENTRY)]


def _shards(folder: Path) -> Iterable[Path]:
    try:
        return sorted(d for d in folder.iterdir() if SHARD.fullmatch(d.name) and d.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def stats(cache_folder: Path) -> tuple[int, int]:
    """(encoded parts in a cache folder, bytes on disk, leftover temporaries included)."""
    folder = cache_folder / FOLDER
    found = entries(folder)
    return len(found), size(found + [p for shard in _shards(folder) for p in files(shard, TEMPORARY)])


def clear(cache_folder: Path) -> int:
    """Forget every encoded part in a cache folder, leftover temporaries too; returns how many.
    Files the cache did not name are left where they are."""
    folder = cache_folder / FOLDER
    found = entries(folder)
    for path in found + [p for shard in _shards(folder) for p in files(shard, TEMPORARY)]:
        path.unlink(missing_ok=True)
    for shard in [*_shards(folder), folder]:
        with contextlib.suppress(OSError):
            shard.rmdir()
    return len(found)
