"""A session's clips, kept on disk while it renders: one unnamed temporary file holds every clip's
samples, and a clip is read back when it is asked for (the last few kept in memory).

A routine may have hundreds of distinct texts; holding all their clips in memory would make a
render's memory grow with them. The file is the store's own (removed as soon as it is made: it
leaves nothing behind, even killed), so another process clearing the clip cache meanwhile
changes nothing. Where no temporary file can be written, the clips stay in memory.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from typing import IO

import numpy as np

from coach.recent import Recent
from coach.speech.clip import Clip

RECENT_BYTES = 1 << 20  # clips read back, kept for their next use


class _Spill:
    """The file the samples go into, shared by a store and its views."""

    def __init__(self) -> None:
        self.file: IO[bytes] | None = None
        self.size = 0
        self.failed = False

    def append(self, data: bytes) -> int | None:
        """Where `data` now starts in the file, or None when it cannot be written."""
        if self.failed:
            return None
        try:
            if self.file is None:
                self.file = tempfile.TemporaryFile(prefix="coach-clips-")
            written = os.pwrite(self.file.fileno(), data, self.size)
        except OSError:
            written = -1
        if written != len(data):  # a full disk may take part of it without an error
            self.failed = True
            if written > 0 and self.file is not None:
                os.ftruncate(self.file.fileno(), self.size)  # give the part written back: TMPDIR is wanted
            return None
        offset, self.size = self.size, self.size + len(data)
        return offset

    def read(self, offset: int, size: int) -> bytes:
        assert self.file is not None
        data = os.pread(self.file.fileno(), size, offset)
        if len(data) != size:
            raise OSError(f"the session's clip file was cut short ({len(data)} of {size} bytes)")
        return data


class ClipStore(Mapping[str, Clip]):
    """{text: clip}, the samples in a temporary file, read again on each use (thread-safe)."""

    def __init__(self, clips: Mapping[str, Clip] | None = None, recent_bytes: int | None = None) -> None:
        self._spill = _Spill()
        # text -> (offset in the file or None: in memory, frames, rate); in memory: `_held`
        self._index: dict[str, tuple[int | None, int, int]] = {}
        self._held: dict[str, Clip] = {}
        budget = RECENT_BYTES if recent_bytes is None else recent_bytes
        self._recent: Recent[Clip] = Recent(budget, lambda clip: clip.samples.nbytes)
        for text, clip in (clips or {}).items():
            self.add(text, clip)

    def add(self, text: str, clip: Clip) -> None:
        samples = np.ascontiguousarray(clip.samples, dtype="<i2")
        offset = self._spill.append(samples.tobytes()) if len(samples) else None
        if offset is None:
            self._held[text] = clip
        self._index[text] = offset, len(samples), clip.rate

    def only(self, texts: Iterable[str]) -> ClipStore:
        """The same store limited to `texts` (sharing its file)."""
        wanted = set(texts)
        view = ClipStore()
        view._spill, view._recent = self._spill, self._recent
        view._index = {t: entry for t, entry in self._index.items() if t in wanted}
        view._held = {t: clip for t, clip in self._held.items() if t in wanted}
        return view

    def duration_ms(self, text: str) -> int:
        """A clip's length without reading it."""
        _, frames, rate = self._index[text]
        return frames * 1000 // rate

    def __getitem__(self, text: str) -> Clip:
        offset, frames, rate = self._index[text]
        if offset is None:
            return self._held[text]
        return self._recent.get(text, lambda: self._read(offset, frames, rate))

    def _read(self, offset: int, frames: int, rate: int) -> Clip:
        return Clip(np.frombuffer(self._spill.read(offset, 2 * frames), dtype="<i2").astype(np.int16), rate)

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, text: object) -> bool:
        return text in self._index
