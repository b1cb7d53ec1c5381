"""Cover art: the user's image, or one drawn from the routine (title, total time, blocks).

Pillow draws it with the font it bundles, so the cover looks the same on every machine and
needs no system fonts. Same routine, same bytes.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from coach.errors import MediaError
from coach.files import TooLarge, read_bounded
from coach.routine.durations import format_clock
from coach.routine.model import Routine

SIZE = 1000
MARGIN = 80
BACKGROUND_TOP = (16, 42, 67)
BACKGROUND_BOTTOM = (9, 20, 33)
ACCENT = (255, 176, 59)
TEXT = (245, 245, 240)
MUTED = (160, 178, 196)
MIME = {"JPEG": "image/jpeg", "PNG": "image/png"}
MAX_BYTES = 10_000_000  # players embed the cover in every copy of the file: a photo fits in far less
MAX_PIXELS = 4000 * 4000

if TYPE_CHECKING:
    from PIL import ImageDraw, ImageFont


@dataclass(frozen=True)
class Cover:
    data: bytes
    mime: str  # image/jpeg or image/png


def from_file(path: Path) -> Cover:
    """The user's image as it is when JPEG or PNG (what every player shows), else converted to PNG."""
    from PIL import Image, UnidentifiedImageError

    try:
        data = read_bounded(path, MAX_BYTES)
    except TooLarge:
        raise MediaError(f"cover image {path} is over {MAX_BYTES // 1_000_000} MB", "use a smaller JPEG or PNG file") from None
    except OSError as exc:
        raise MediaError(f"cannot read cover image {path}: {exc.strerror or exc}") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        with image:
            if image.width * image.height > MAX_PIXELS:
                raise MediaError(f"cover image {path} is {image.width} x {image.height} pixels, too large to embed",
                                 "use one of at most 4000 x 4000 pixels")
            image.load()
            if image.format in MIME:
                return Cover(data, MIME[image.format])
            buffer = io.BytesIO()
            image.convert("RGBA" if "A" in image.getbands() else "RGB").save(buffer, "PNG")
            return Cover(buffer.getvalue(), "image/png")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError(f"cover {path} is not an image Pillow can read", "use a JPEG or PNG file") from None


def generated(routine: Routine, duration_ms: int) -> Cover:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (SIZE, SIZE))
    draw = ImageDraw.Draw(image)
    for y in range(SIZE):
        t = y / (SIZE - 1)
        colour = tuple(round(a + (b - a) * t) for a, b in zip(BACKGROUND_TOP, BACKGROUND_BOTTOM))
        draw.line([(0, y), (SIZE, y)], fill=colour)

    def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        return ImageFont.load_default(size)

    width = SIZE - 2 * MARGIN
    y = MARGIN
    draw.rectangle([MARGIN, y, MARGIN + 120, y + 12], fill=ACCENT)
    y += 60
    title_font = font(86)
    for line in _wrap(draw, routine.title, title_font, width)[:4]:
        draw.text((MARGIN, y), line, font=title_font, fill=TEXT)
        y += 100
    y += 30
    clock_font = font(150)
    draw.text((MARGIN, y), format_clock(duration_ms), font=clock_font, fill=ACCENT)
    y += 200
    block_font = font(44)
    for block in routine.blocks[:6]:
        count = len(block.exercises)
        line = f"{block.name}  \u00b7  {count} exercise{'s' if count != 1 else ''}"
        if block.rounds > 1:
            line += f", {block.rounds} rounds"
        draw.text((MARGIN, y), _fit(draw, line, block_font, width), font=block_font, fill=MUTED)
        y += 62
        if y > SIZE - MARGIN - 120:
            break
    footer = font(40)
    draw.text((MARGIN, SIZE - MARGIN - 40), _fit(draw, routine.coach or "coach", footer, width), font=footer, fill=TEXT)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, optimize=True)
    return Cover(buffer.getvalue(), "image/jpeg")


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: object, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:  # type: ignore[arg-type]
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(_fit(draw, word, font, width))
    return lines or [""]


def _fit(draw: ImageDraw.ImageDraw, text: str, font: object, width: int) -> str:
    """`text` on one line (a name may hold line breaks), cut with an ellipsis if it is wider than `width`."""
    text = " ".join(text.split())
    if draw.textlength(text, font=font) <= width:  # type: ignore[arg-type]
        return text
    while text and draw.textlength(text + "\u2026", font=font) > width:  # type: ignore[arg-type]
        text = text[:-1]
    return text + "\u2026"
