"""Cover art: a user's image is bounded in bytes and pixels before it is decoded; the drawn
cover takes any name (line breaks included)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from coach.errors import MediaError
from coach.output import cover
from coach.routine import loader


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims to be width x height (what a decompression bomb does)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    idat = zlib.compress(b"\0" * 1000)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [5000, 20_000, 60_000])  # over the limit; over Pillow's warning; over its error
def test_a_huge_image_is_refused_before_it_is_decoded(tmp_path: Path, side: int) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header(side, side))
    with pytest.raises(MediaError, match="too large to embed|not an image"):
        cover.from_file(path)


def test_a_file_without_end_is_read_with_a_bound() -> None:
    with pytest.raises(MediaError, match="is over 10 MB"):
        cover.from_file(Path("/dev/zero"))


def test_names_with_line_breaks_are_drawn_on_one_line() -> None:
    text = 'title: "Two\\nlines"\ncoach: "Coach\\nName"\nblocks:\n  - name: "Block\\none"\n    exercises:\n      - name: Plank\n'
    drawn = cover.generated(loader.parse(text), 60_000)
    assert drawn.mime == "image/jpeg" and drawn.data[:2] == b"\xff\xd8"
