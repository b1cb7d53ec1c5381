"""Join MP3 streams encoded in parts, side by side, into one gapless file.

LAME spends about as long on a minute of speech as the rest of a render put together, so on a
machine with several cores the session is encoded in parts at once. Each part after the first
is a fresh encoder starting at a frame boundary B (a multiple of 1152 samples) where the session
is digital silence: its first frame borrows nothing from the bit reservoir, and its priming
(the encoder's and the decoder's delay) decodes to the silence that is there anyway. Keeping
exactly B / 1152 frames of the part before it puts the next part's first sample at B again, to
the sample. The parts are joined behind the Info (Xing/LAME) frame of a short file ffmpeg wrote
with the same settings (the first part itself, or one frame of silence with the tags), which is
then rewritten for the whole file:
frame and byte counts, seek table, end padding, and both CRCs, so players show the right length
and trim the priming and padding as they do for any LAME file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

SAMPLES_PER_FRAME = 1152  # MPEG-1 Layer III, the only layout joined here
DECODER_DELAY = 529  # samples every MP3 decoder's filterbank adds
# Silence needed around a join: the next part's priming (encoder delay + decoder delay, under
# two frames) before it, and the reach of the overlapping transforms around it.
SILENCE_BEFORE = 4 * SAMPLES_PER_FRAME
SILENCE_AFTER = 2 * SAMPLES_PER_FRAME

_BITRATES = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
PROBE = 4  # frames: under the silence a join needs (SILENCE_BEFORE + SILENCE_AFTER), so none is missed
RATES = (44100, 48000, 32000)  # MPEG-1's: the only frames joined here


class SpliceError(Exception):
    """The parts cannot be joined as they are (an unexpected stream): encode in one piece instead."""


@dataclass(frozen=True)
class Frames:
    """Where a stream's frames lie: byte offset of each (and of the end) from `start`."""

    offsets: list[int]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def end(self, count: int) -> int:
        """The byte offset just after the first `count` frames."""
        return self.offsets[count]


@dataclass(frozen=True)
class Part:
    """Frames `start` to `end` of the session, encoded by a fresh encoder; `silent`: all digital
    silence, a whole number of MPEG frames (any such run encodes to the same frames, as many)."""

    start: int
    end: int
    silent: bool


def plan(frames: int, silent: Callable[[int, int], bool], longest_silence: int) -> list[Part]:
    """The session cut at every stretch of silence long enough for a join: sounds (speech
    islands, with the silence around them up to the joins) and the silence runs between them,
    none longer than `longest_silence` MPEG frames. Each cut is a frame boundary with digital
    silence from SILENCE_BEFORE before it to SILENCE_AFTER after it, so each part is encoded on
    its own and the join puts every sample where it was. The last part is never `silent` (it is
    kept whole, its end padding the file's)."""
    count = -(-frames // SAMPLES_PER_FRAME)
    quiet = np.zeros(count, dtype=bool)  # whether each MPEG frame's samples are all digital silence

    def still(first: int, n: int) -> bool:
        return silent(first * SAMPLES_PER_FRAME, n * SAMPLES_PER_FRAME)

    k = 0
    while k < count:  # galloping over each run, so the calls grow with the runs' number, not the length
        if still(k, 1):
            n = 1  # silence: the longest run from k, exactly (a longer run holds every shorter one)
            while k + 2 * n <= count and still(k, 2 * n):
                n *= 2
            step = n // 2
            while step:
                if k + n + step <= count and still(k, n + step):
                    n += step
                step //= 2
            quiet[k : k + n] = True
            k += n
        else:
            # Sound: on to a silent frame, looking at every PROBE-th frame (a silence long enough for
            # a join is never missed; a shorter one may be, which only leaves it unused).
            lo, hi = 0, PROBE
            while k + hi < count and not still(k + hi, 1):
                lo, hi = hi, hi + PROBE
            hi = min(hi, count - k)  # frame k + lo has sound, k + hi is silent (or the end)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if not still(k + mid, 1) else (lo, mid)
            k += hi

    before, after = SILENCE_BEFORE // SAMPLES_PER_FRAME, SILENCE_AFTER // SAMPLES_PER_FRAME
    # Boundary b (sample b * 1152) can be a cut when frames b - before to b + after - 1 are silent.
    runs = np.concatenate(([0], np.cumsum(quiet)))
    b = np.arange(before, count - after + 1)
    ok = b[(runs[b + after] - runs[b - before] == before + after) & (b * SAMPLES_PER_FRAME + SILENCE_AFTER < frames)]
    cuts: list[int] = []
    if len(ok):
        breaks = np.flatnonzero(np.diff(ok) != 1)
        for first, last in zip(ok[np.concatenate(([0], breaks + 1))], ok[np.concatenate((breaks, [len(ok) - 1]))]):
            cut = int(first)
            while True:
                cuts.append(cut)
                if cut >= last:
                    break
                cut = min(int(last), cut + longest_silence)
    edges = [0, *cuts, count]
    return [Part(lo * SAMPLES_PER_FRAME, min(frames, hi * SAMPLES_PER_FRAME),
                 hi < count and hi - lo <= longest_silence and runs[hi] - runs[lo] == hi - lo)
            for lo, hi in zip(edges, edges[1:]) if hi > lo]


def id3_size(head: bytes) -> int:
    """Bytes of the ID3v2 tag at the start of a file (0 without one)."""
    if len(head) < 10 or head[:3] != b"ID3":
        return 0
    size = 0
    for byte in head[6:10]:
        size = (size << 7) | (byte & 0x7F)
    return 10 + size + (10 if head[5] & 0x10 else 0)


def frame_length(header: int) -> int:
    """Bytes in the MPEG-1 Layer III frame starting with this 32-bit header."""
    if header >> 21 != 0x7FF or (header >> 19) & 3 != 3 or (header >> 17) & 3 != 1:
        raise SpliceError(f"not an MPEG-1 Layer III frame header: {header:08x}")
    bitrate, rate = (header >> 12) & 15, (header >> 10) & 3
    if not 0 < bitrate < 15 or rate == 3:
        raise SpliceError(f"unsupported frame header: {header:08x}")
    return 144 * _BITRATES[bitrate] * 1000 // RATES[rate] + ((header >> 9) & 1)


def scan(path: Path, start: int = 0) -> Frames:
    """Every frame from byte `start` to the end of the file (which must end on a frame)."""
    offsets = [start]
    block, base = b"", start  # `block` holds the file from byte `base` on
    with path.open("rb") as stream:
        while True:
            pos = offsets[-1] - base
            if pos + 4 > len(block):
                stream.seek(offsets[-1])
                block, base = stream.read(1 << 20), offsets[-1]
                if len(block) < 4:
                    break
                continue
            offsets.append(offsets[-1] + frame_length(int.from_bytes(block[pos:pos + 4], "big")))
    if offsets[-1] != path.stat().st_size:
        raise SpliceError(f"{path.name} does not end on a frame")
    return Frames(offsets)


def join(first: Path, rest: Sequence[Path], boundaries: Sequence[int], total_samples: int) -> None:
    """Make `first` (ID3 tag, Info frame, frames: as ffmpeg writes a seekable MP3) the whole
    session: its frames up to `boundaries[0]`, then each of `rest` (bare frames, encoded from its
    boundary on) up to the next boundary, the last whole. `total_samples` is the session's length."""
    if not rest or len(rest) != len(boundaries):
        raise SpliceError("one boundary per part after the first")
    with first.open("rb") as stream:
        tag_end = id3_size(stream.read(10))
    ours = scan(first, tag_end)
    info = _InfoFrame.read(first, tag_end, ours.end(1) - tag_end)
    starts = [0, *boundaries]
    # (file, its frames, the first audio frame, how many to keep): each part up to the next
    # boundary, the last one whole; the first part's frame 0 is the Info frame.
    parts = [(first, ours, 1, boundaries[0] // SAMPLES_PER_FRAME)]
    scanned: dict[Path, Frames] = {}  # a part file may serve several parts (the silence between cues)
    for i, path in enumerate(rest):
        frames = scanned.get(path) or scanned.setdefault(path, scan(path))
        count = (starts[i + 2] - starts[i + 1]) // SAMPLES_PER_FRAME if i + 2 < len(starts) else len(frames)
        parts.append((path, frames, 0, count))
    for path, frames, skip, count in parts:
        if len(frames) - skip < count:
            raise SpliceError(f"{path.name} has {len(frames) - skip} frames, {count} are needed")
    audio_frames = sum(count for *_, count in parts)
    padding = audio_frames * SAMPLES_PER_FRAME - info.delay - total_samples
    if not 0 <= padding < 4096:
        raise SpliceError(f"the parts give {padding} samples of padding")
    import fastcrc  # CRC-16/ARC, which the LAME tag uses, in compiled code

    seek_points: list[int] = []  # each audio frame's byte offset from the Info frame
    crc = 0
    written = info.length  # bytes from the Info frame to the end of what is kept so far
    with first.open("r+b") as out:
        for path, frames, skip, count in parts:
            begin, end = frames.offsets[skip], frames.offsets[skip + count]
            seek_points.extend(written + frames.offsets[skip + n] - begin for n in range(count))
            with path.open("rb") as source:
                source.seek(begin)
                for block in _blocks(source, end - begin, path):
                    crc = fastcrc.crc16.arc(block, crc)
                    if path != first:  # the first part's frames are already in place
                        out.seek(tag_end + written)
                        out.write(block)
                    written += len(block)
        out.truncate(tag_end + written)
        out.seek(tag_end)
        out.write(info.updated(audio_frames, written, seek_points, padding, crc))


def _blocks(source: BinaryIO, length: int, path: Path) -> Iterator[bytes]:
    while length:
        block = source.read(min(length, 1 << 20))
        if not block:
            raise SpliceError(f"{path.name} shrank while being joined")
        length -= len(block)
        yield block


@dataclass(frozen=True)
class _InfoFrame:
    """The Info (or Xing) frame ffmpeg and LAME put first: counts, seek table and the LAME tag."""

    data: bytes
    at: int  # offset of "Info"/"Xing" in the frame
    delay: int  # encoder delay, samples
    tag_crc_span: int  # bytes the tag CRC covers (LAME writes 190; see `updated`)

    @property
    def length(self) -> int:
        return len(self.data)

    @property
    def lame(self) -> int:
        return self.at + 120  # after marker, flags, frames, bytes, 100-entry TOC, quality

    @classmethod
    def read(cls, path: Path, start: int, length: int) -> _InfoFrame:
        with path.open("rb") as stream:
            stream.seek(start)
            data = stream.read(length)
        side_info = 17 if (data[3] >> 6) == 3 else 32  # mono or stereo side information
        at = 4 + side_info
        if data[at:at + 4] not in (b"Info", b"Xing") or int.from_bytes(data[at + 4:at + 8], "big") & 0xF != 0xF:
            raise SpliceError("the first frame has no complete Info tag")
        lame = at + 120
        if len(data) < lame + 36:
            raise SpliceError("the Info frame has no LAME tag")
        delay = (data[lame + 21] << 4) | (data[lame + 22] >> 4)
        import fastcrc

        stored = int.from_bytes(data[lame + 34:lame + 36], "big")
        blank = data[:lame + 34] + b"\0\0" + data[lame + 36:]
        # The LAME tag's own CRC covers the frame's first 190 bytes, which for mono runs past the
        # CRC itself (ffmpeg computes it with the field zero): keep whichever the encoder used.
        span = next((n for n in (190, lame + 34) if fastcrc.crc16.arc(blank[:n]) == stored), 190)
        return cls(data, at, delay, span)

    def updated(self, frames: int, total_bytes: int, seek_points: list[int], padding: int, music_crc: int) -> bytes:
        data = bytearray(self.data)
        at, lame = self.at, self.lame
        data[at + 8:at + 12] = frames.to_bytes(4, "big")
        data[at + 12:at + 16] = total_bytes.to_bytes(4, "big")
        # Seek table: where (in 256ths of the file) each percent of the duration starts.
        data[at + 16:at + 116] = bytes(
            min(255, seek_points[min(frames - 1, i * frames // 100)] * 256 // total_bytes) for i in range(100))
        data[lame + 21:lame + 24] = bytes([self.delay >> 4, ((self.delay & 0xF) << 4) | (padding >> 8), padding & 0xFF])
        data[lame + 28:lame + 32] = total_bytes.to_bytes(4, "big")
        data[lame + 32:lame + 34] = music_crc.to_bytes(2, "big")
        data[lame + 34:lame + 36] = b"\0\0"
        import fastcrc

        data[lame + 34:lame + 36] = fastcrc.crc16.arc(bytes(data[:self.tag_crc_span])).to_bytes(2, "big")
        return bytes(data)
