"""Content-addressed clip cache: one WAV file per clip, named by a hash of what shapes its sound.

Files are written to a temporary name and renamed into place, so a crash never leaves a half
clip under a real name; each file also carries a checksum chunk, so a damaged clip is detected
and synthesised again. A read-only or full cache folder degrades to no caching, with a warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import warnings
from collections.abc import Iterable
from pathlib import Path

from coach.files import write_bytes
from coach.routine.model import Voice
from coach.speech.clip import Clip

FORMAT_VERSION = 1
ENV_VAR = "COACH_CACHE_DIR"
# The names the cache gives its files: only these are counted or cleared, never anything else a
# user keeps in the folder. Clips are KEY.wav in a folder named by the key's first two digits.
SHARD = re.compile(r"[0-9a-f]{2}")
CLIP = re.compile(r"[0-9a-f]{64}\.wav")
TEMPORARY = re.compile(r"\..+\.part")  # what files.atomic_write leaves if killed


def default_dir() -> Path:
    """$COACH_CACHE_DIR; else the checkout's audio_cache/ when run from one; else the user cache."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[2] / "audio_cache"
    if checkout.is_dir():
        return checkout
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "coach" / "audio_cache"


def clip_key(engine: str, engine_version: str, voice: Voice, text: str) -> str:
    shape = {
        "engine": engine,
        "engine_version": engine_version,
        "voice": voice.name,
        "rate": voice.rate,
        "volume": voice.volume,
        "text": text,
        "format": FORMAT_VERSION,
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode("utf-8")).hexdigest()


class ClipCache:
    def __init__(self, folder: Path | str | None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self._warned = False

    def path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.wav"

    def get(self, key: str) -> Clip | None:
        if self.folder is None:
            return None
        try:
            data = self.path(key).read_bytes()
        except OSError:
            return None
        return decode(data)

    def put(self, key: str, clip: Clip) -> Clip:
        """Store `clip` unless a clip is stored under `key` already (another render made it
        meanwhile): then that one, which every render uses, so that concurrent renders agree.
        Returns the clip stored."""
        if self.folder is None:
            return clip
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                write_bytes(target, encode(clip), exclusive=True)
            except FileExistsError:
                stored = self.get(key)
                if stored is not None:
                    return stored
                write_bytes(target, encode(clip))  # a damaged clip there: replaced
        except OSError as exc:
            if not self._warned:
                self._warned = True
                warnings.warn(f"speech cache {self.folder} is not writable ({exc.strerror}); continuing without caching", stacklevel=2)
        return clip

    def stats(self) -> tuple[int, int]:
        """(number of clips, bytes on disk, temporaries a stopped write left included)."""
        clips = self._files(CLIP)
        return len(clips), size(clips + self._files(TEMPORARY))

    def clear(self) -> int:
        """Delete every clip and leftover temporary, and the emptied shard folders; returns how
        many clips."""
        clips = self._files(CLIP)
        for path in clips + self._files(TEMPORARY):
            path.unlink(missing_ok=True)
        for shard in self._shards():
            try:
                shard.rmdir()
            except OSError:  # not empty: something the cache did not make is in it
                pass
        return len(clips)

    def _shards(self) -> list[Path]:
        if self.folder is None or not self.folder.is_dir():
            return []
        return [d for d in self.folder.iterdir() if SHARD.fullmatch(d.name) and d.is_dir()]

    def _files(self, names: re.Pattern[str]) -> list[Path]:
        return [p for shard in self._shards() for p in files(shard, names)]


def files(folder: Path, names: re.Pattern[str]) -> list[Path]:
    """The files in `folder` whose whole name matches `names` (none if there is no such folder)."""
    try:
        return sorted(p for p in folder.iterdir() if names.fullmatch(p.name) and p.is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []


def size(paths: Iterable[Path]) -> int:
    """Bytes on disk, skipping files removed meanwhile (by another render, say)."""
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size
        except FileNotFoundError:
            pass
    return total


def encode(clip: Clip) -> bytes:
    """A standard mono 16-bit WAV plus a trailing `csum` chunk with the sha256 of the samples."""
    pcm = clip.samples.astype("<i2").tobytes()
    digest = hashlib.sha256(pcm).digest()
    fmt = struct.pack("<HHIIHH", 1, 1, clip.rate, clip.rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(pcm)) + pcm + (b"\x00" if len(pcm) % 2 else b"")
    body += b"csum" + struct.pack("<I", len(digest)) + digest
    return b"RIFF" + struct.pack("<I", len(body)) + body


def decode(data: bytes) -> Clip | None:
    """The clip in a cache file, or None if the file is damaged in any way."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    if struct.unpack("<I", data[4:8])[0] != len(data) - 8:
        return None
    chunks: dict[bytes, bytes] = {}
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks[cid] = data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size % 2)
    if pos != len(data) or not {b"fmt ", b"data", b"csum"} <= chunks.keys() or len(chunks[b"fmt "]) < 16:
        return None
    audio_format, channels, rate, _, _, bits = struct.unpack("<HHIIHH", chunks[b"fmt "][:16])
    pcm = chunks[b"data"]
    if (audio_format, channels, bits) != (1, 1, 16) or hashlib.sha256(pcm).digest() != chunks[b"csum"]:
        return None
    import numpy as np  # here: the up-to-date check reads the cache without loading numpy

    return Clip(np.frombuffer(pcm, dtype="<i2").astype(np.int16), rate)
