"""MP3 encoded in parts at once and joined: the same length, sound and timing as one encoder's file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import decode

from coach.output import encode, mp3splice
from coach.progress import Frames
from coach.tools import ffmpeg_path

RATE = 44100
FRAME = mp3splice.SAMPLES_PER_FRAME


class Bursts:
    """A Source: 1.5 s sounds (a gliding tone with a little noise) every 7 s, silence between."""

    channels = 1

    def __init__(self, seconds: int, every_ms: int = 7000, burst_ms: int = 1500, silent_gaps: bool = True) -> None:
        self.frames = seconds * RATE
        rng = np.random.default_rng(7)
        samples = np.zeros(self.frames)
        self.starts = list(range(RATE // 2, self.frames - RATE * burst_ms // 1000, RATE * every_ms // 1000))
        n = RATE * burst_ms // 1000
        t = np.arange(n) / RATE
        envelope = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)  # 10 ms fades
        for k, start in enumerate(self.starts):
            glide = np.sin(2 * np.pi * (300 + 40 * (k % 7)) * t * (1 + t / 3))
            samples[start : start + n] = envelope * (0.6 * glide + 0.05 * rng.standard_normal(n)) * 12000
        if not silent_gaps:
            samples += rng.standard_normal(self.frames) * 30  # a noise floor: nowhere digital silence
        self.samples = np.round(samples).astype(np.int16)

    def render(self, start: int, count: int) -> np.ndarray:
        return self.samples[start : start + count]

    def silent(self, start: int, count: int) -> bool:
        return not self.samples[max(0, start) : start + count].any()


def _encode(source: Bursts, out: Path, jobs: int) -> None:
    """As a render writes: into a temporary beside `out`, renamed into place when whole."""
    with encode.staged(out) as tmp:
        encode.write(source, tmp, encode.EncodeOptions("mp3", RATE, 1, "64k", {"title": "Parts"}), jobs=jobs, out=out)


def _snr_db(reference: np.ndarray, decoded: np.ndarray) -> float:
    error = decoded.astype(np.float64) - reference
    return float(10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / np.sum(error**2)))


# ---- without an encoder -----------------------------------------------------------------

def test_the_plan_cuts_at_every_silence_long_enough_for_a_join() -> None:
    source = Bursts(240)
    parts = mp3splice.plan(source.frames, source.silent, 100)
    assert parts[0].start == 0 and parts[-1].end == source.frames
    assert all(a.end == b.start for a, b in zip(parts, parts[1:]))  # they tile the session
    for part in parts[1:]:
        assert part.start % FRAME == 0
        assert source.silent(part.start - mp3splice.SILENCE_BEFORE, mp3splice.SILENCE_BEFORE + mp3splice.SILENCE_AFTER)
    sounds = [p for p in parts if not p.silent]
    silences = [p for p in parts if p.silent]
    # One part per burst, and the end of the session (silent, but kept whole); the silences between them
    # in runs of at most 100 frames, each a whole number of frames.
    assert len(sounds) == len(source.starts) + 1
    assert all(source.silent(p.start, p.end - p.start) and (p.end - p.start) % FRAME == 0 for p in silences)
    assert max(p.end - p.start for p in silences) == 100 * FRAME
    assert all(sum(p.start <= s < p.end for s in source.starts) == 1 for p in sounds[:-1])
    assert not parts[-1].silent  # kept whole: its padding is the file's


def test_one_part_where_nothing_is_silent() -> None:
    source = Bursts(240, silent_gaps=False)
    assert mp3splice.plan(source.frames, source.silent, 100) == [mp3splice.Part(0, source.frames, False)]


def test_frame_lengths_and_tags_sizes() -> None:
    assert mp3splice.frame_length(0xFFFB50C0) == 208  # 64 kbit/s, 44.1 kHz, no padding
    assert mp3splice.frame_length(0xFFFB52C0) == 209  # the same, padded
    assert mp3splice.frame_length(0xFFFB90C0) == 417  # 128 kbit/s
    with pytest.raises(mp3splice.SpliceError):
        mp3splice.frame_length(0x49443303)  # "ID3": not a frame
    assert mp3splice.id3_size(b"ID3\x03\x00\x00\x00\x00\x02\x01") == 10 + 257
    assert mp3splice.id3_size(b"\xff\xfb\x50\xc0" + bytes(6)) == 0


# ---- with the real encoder --------------------------------------------------------------

def _one_ffmpeg(source: Bursts, out: Path) -> None:
    """The reference: chunks as they come (no Source to cut), so one ffmpeg encodes them, no join."""
    chunks = (source.render(pos, RATE) for pos in range(0, source.frames, RATE))
    encode.write(chunks, out, encode.EncodeOptions("mp3", RATE, 1, "64k", {"title": "Parts"}))


def _recorded_joins(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The boundaries of every join from here on (the join itself still runs)."""
    joins: list[list[int]] = []
    real_join = mp3splice.join

    def join(first: Path, rest: list[Path], points: list[int], total: int) -> None:
        joins.append(list(points))
        real_join(first, rest, points, total)

    monkeypatch.setattr(mp3splice, "join", join)
    return joins


@pytest.mark.ffmpeg
def test_parts_decode_like_one_encoder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = Bursts(200)
    whole, parts = tmp_path / "whole.mp3", tmp_path / "parts.mp3"
    _one_ffmpeg(source, whole)
    joins = _recorded_joins(monkeypatch)
    _encode(source, parts, jobs=3)
    # A part per burst and the silences between, joined behind the Info frame of the one-frame file ffmpeg wrote.
    assert len(joins) == 1 and len(joins[0]) > len(source.starts) and joins[0][0] == 0
    one, joined = decode(whole), decode(parts)
    # Exactly the samples sent, as with one encoder: the gapless header is right for the whole file.
    assert len(joined) == len(one) == source.frames
    # As faithful as one encoder, and silent where the parts meet: where the next part's priming
    # decodes, and a frame beyond (a frame next to a sound holds its pre- or post-echo, as with one encoder).
    assert _snr_db(source.samples, joined) > _snr_db(source.samples, one) - 0.5
    for point in joins[0][1:]:
        assert np.abs(joined[point - mp3splice.SILENCE_BEFORE + FRAME : point + mp3splice.SILENCE_AFTER - FRAME]).max() <= 1
    # Every sound starts where it was sent, to the millisecond.
    loud = np.abs(joined.astype(np.int32)) > 300
    for start in source.starts:
        first = start - 200 + int(np.argmax(loud[start - 200 : start + 2000]))
        assert abs(first - start) <= RATE // 1000
    # The decoder finds nothing wrong, and reads the length from the header.
    check = subprocess.run([ffmpeg_path(), "-v", "warning", "-i", str(parts), "-f", "null", "-"],
                           capture_output=True, text=True, check=True)
    assert check.stderr.strip() == ""
    from mutagen.mp3 import MP3

    assert MP3(parts).info.length == pytest.approx(MP3(whole).info.length, abs=1e-6)


@pytest.mark.ffmpeg
def test_one_part_in_process_decodes_like_ffmpeg_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = Bursts(40, silent_gaps=False)  # nowhere to cut: one in-process encoder behind ffmpeg's Info frame
    ours, reference = tmp_path / "ours.mp3", tmp_path / "ffmpeg.mp3"
    joins = _recorded_joins(monkeypatch)
    _encode(source, ours, jobs=4)
    assert joins == [[0]]
    _one_ffmpeg(source, reference)
    assert len(joins) == 1  # ffmpeg alone: nothing joined
    one, mine = decode(reference), decode(ours)
    assert len(mine) == len(one) == source.frames
    assert _snr_db(source.samples, mine) > _snr_db(source.samples, one) - 0.5
    from mutagen.mp3 import MP3

    assert MP3(ours).tags["TIT2"].text == ["Parts"]


class StereoBursts(Bursts):
    channels = 2

    def render(self, start: int, count: int) -> np.ndarray:
        return np.repeat(super().render(start, count), 2)  # interleaved, both channels alike


@pytest.mark.ffmpeg
@pytest.mark.parametrize(("channels", "bitrate"), [(1, "32k"), (1, "48k"), (2, "96k"), (2, "128k")])
def test_every_mpeg1_bitrate_is_joined_with_progress_counted_once(tmp_path: Path, channels: int, bitrate: str) -> None:
    """Low bitrates make LAME pick a lower sample rate of its own unless told: then the parts
    would not join, and everything was encoded again by one ffmpeg."""
    source = Bursts(130) if channels == 1 else StereoBursts(130)
    out = tmp_path / "out.mp3"
    counted = Frames()
    with pytest.MonkeyPatch.context() as patch:
        joins = _recorded_joins(patch)
        patch.setattr(encode, "_encode_one", lambda *a: pytest.fail("the join was refused: encoded again in one piece"))
        encode.write(source, out, encode.EncodeOptions("mp3", RATE, channels, bitrate), progress=counted, jobs=2)
    assert len(joins) == 1 and len(joins[0]) > len(source.starts)
    assert counted.done == source.frames
    assert len(decode(out, channels=channels)) == source.frames * channels


@pytest.mark.ffmpeg
def test_progress_is_not_counted_twice_when_the_join_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise mp3splice.SpliceError("unexpected")

    monkeypatch.setattr(mp3splice, "join", refuse)
    source = Bursts(130)
    counted = Frames(source.frames)
    encode.write(source, tmp_path / "out.mp3", encode.EncodeOptions("mp3", RATE, 1, "64k"), progress=counted, jobs=2)
    assert counted.done == source.frames  # the fallback's pass counted only past the first


@pytest.mark.ffmpeg
def test_the_joined_header_checks_out(tmp_path: Path) -> None:
    import fastcrc

    source = Bursts(130)
    out = tmp_path / "parts.mp3"
    _encode(source, out, jobs=2)
    data = out.read_bytes()
    start = mp3splice.id3_size(data[:10])
    frames = mp3splice.scan(out, start)
    info = mp3splice._InfoFrame.read(out, start, frames.end(1) - start)
    at, lame = info.at, info.lame
    assert int.from_bytes(data[start + at + 8 : start + at + 12], "big") == len(frames) - 1
    assert int.from_bytes(data[start + at + 12 : start + at + 16], "big") == len(data) - start
    padding = ((data[start + lame + 22] & 0xF) << 8) | data[start + lame + 23]
    assert (len(frames) - 1) * FRAME - info.delay - padding == source.frames
    assert int.from_bytes(data[start + lame + 32 : start + lame + 34], "big") == fastcrc.crc16.arc(data[frames.end(1):])
    toc = data[start + at + 16 : start + at + 116]
    assert list(toc) == sorted(toc) and toc[0] == 0 and toc[-1] > 240


@pytest.mark.ffmpeg
def test_a_stream_the_join_does_not_expect_is_encoded_in_one_piece(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise mp3splice.SpliceError("unexpected")

    monkeypatch.setattr(mp3splice, "join", refuse)
    source = Bursts(130)
    out = tmp_path / "out.mp3"
    _encode(source, out, jobs=2)
    assert len(decode(out)) == source.frames
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp3"]


@pytest.mark.ffmpeg
def test_a_failing_part_leaves_the_previous_file_and_no_temporaries(tmp_path: Path) -> None:
    class Failing(Bursts):
        def render(self, start: int, count: int) -> np.ndarray:
            if start > self.frames * 3 // 4:
                raise RuntimeError("the mixdown failed")
            return super().render(start, count)

    out = tmp_path / "out.mp3"
    out.write_bytes(b"the previous session")
    with pytest.raises(RuntimeError, match="the mixdown failed"):
        _encode(Failing(130), out, jobs=2)
    assert out.read_bytes() == b"the previous session"
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp3"]


@pytest.mark.ffmpeg
def test_a_disk_filling_up_while_joining_is_one_clear_error(tmp_path: Path) -> None:
    from mounts import tmpfs

    from coach.errors import OutputError

    source = Bursts(130)  # about 1 MB of MP3: the first part fits in 800 KB, the whole file does not
    with tmpfs(tmp_path / "small", "800k") as folder:
        out = folder / "session.mp3"
        out.write_bytes(b"the previous session")
        with pytest.MonkeyPatch.context() as patch:
            joined = _recorded_joins(patch)
            with pytest.raises(OutputError, match="the disk is full"):
                _encode(source, out, jobs=2)
        assert joined  # it failed in the join, not before
        assert out.read_bytes() == b"the previous session"
        assert [p.name for p in folder.iterdir()] == ["session.mp3"]
