"""What a player shows about the track: tags, chapters, cover and cue text, per container.

ffmpeg gets the tags and chapters as an ffmetadata file while it encodes (that is how MP4
chapters and WAV INFO tags are made); mutagen then writes what ffmpeg cannot, or not as well:
the whole ID3v2.3 tag of an MP3 (CHAP/CTOC chapters, APIC cover, SYLT synchronised text), the
MP4 cover, and Vorbis comment chapters and cover for Ogg. One writer per format in `WRITERS`.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from coach.output import subtitles
from coach.output.chapters import Chapter
from coach.output.cover import Cover
from coach.plan.scheduler import Cue

# ISO 639-2 codes for the ID3 language fields; anything else is "und" (undetermined).
LANGUAGES = {"en": "eng", "es": "spa", "fr": "fra", "de": "deu", "it": "ita", "pt": "por", "nl": "nld"}
TOC_TITLE = "Chapters"
CTOC_MAX = 255  # entries in one ID3 table of contents


@dataclass(frozen=True)
class TrackInfo:
    title: str
    artist: str
    album: str
    year: str
    genre: str
    comment: str
    language: str
    duration_ms: int
    chapters: tuple[Chapter, ...] = ()
    cues: tuple[Cue, ...] = ()
    cover: Cover | None = None

    @property
    def text_tags(self) -> dict[str, str]:
        """Tags by ffmpeg's generic names, empty ones left out."""
        tags = {"title": self.title, "artist": self.artist, "album": self.album, "date": self.year,
                "genre": self.genre, "comment": self.comment}
        return {k: v for k, v in tags.items() if v}

    @property
    def sheet(self) -> subtitles.SheetInfo:
        return subtitles.SheetInfo(self.title, self.artist, self.album, self.duration_ms)


def _escape(text: str) -> str:
    for char in "\\=;#\n":
        text = text.replace(char, "\\" + char)
    # ffmpeg reads a line that ends in a backslash, even an escaped one, as going on into the
    # next (which a title ending in "\" would swallow): a space after it ends the line.
    return text + " " if text.endswith("\\") else text


def ffmetadata(info: TrackInfo) -> str:
    """An ffmetadata file: global tags, then one [CHAPTER] section per chapter (milliseconds)."""
    lines = [";FFMETADATA1"]
    lines += [f"{key}={_escape(value)}" for key, value in info.text_tags.items()]
    for chapter in info.chapters:
        lines += ["", "[CHAPTER]", "TIMEBASE=1/1000", f"START={chapter.start_ms}", f"END={chapter.end_ms}",
                  f"title={_escape(chapter.title)}"]
    return "\n".join(lines) + "\n"


def _id3(path: Path, info: TrackInfo) -> None:
    from mutagen.id3 import (
        APIC,
        CHAP,
        COMM,
        CTOC,
        ID3,
        SYLT,
        TALB,
        TCON,
        TDRC,
        TIT2,
        TLEN,
        TPE1,
        USLT,
        CTOCFlags,
        PictureType,
    )

    lang = LANGUAGES.get(info.language.split("-")[0].lower(), "und")
    tag = _chapters_in_order(ID3)()
    for frame, value in ((TIT2, info.title), (TPE1, info.artist), (TALB, info.album), (TDRC, info.year),
                         (TCON, info.genre)):
        if value:
            tag.add(frame(encoding=3, text=[value]))
    tag.add(TLEN(encoding=3, text=[str(info.duration_ms)]))
    if info.comment:
        tag.add(COMM(encoding=3, lang=lang, desc="", text=[info.comment]))
    if info.chapters:
        ids = [f"chp{n}" for n in range(len(info.chapters))]
        # A table of contents lists at most 255 entries: more chapters go in ordered tables of
        # 255 under the top one, so a player still finds every chapter, in order.
        groups = [ids[i : i + CTOC_MAX] for i in range(0, len(ids), CTOC_MAX)]
        children = ids if len(groups) == 1 else [f"toc{n}" for n in range(len(groups))]
        tag.add(CTOC(element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED, child_element_ids=children,
                     sub_frames=[TIT2(encoding=3, text=[TOC_TITLE])]))
        if len(groups) > 1:
            for n, group in enumerate(groups):
                tag.add(CTOC(element_id=f"toc{n}", flags=CTOCFlags.ORDERED, child_element_ids=group,
                             sub_frames=[TIT2(encoding=3, text=[f"{TOC_TITLE} {n * CTOC_MAX + 1}-{n * CTOC_MAX + len(group)}"])]))
        for element_id, chapter in zip(ids, info.chapters):
            tag.add(CHAP(element_id=element_id, start_time=chapter.start_ms, end_time=chapter.end_ms,
                         start_offset=0xFFFFFFFF, end_offset=0xFFFFFFFF,
                         sub_frames=[TIT2(encoding=3, text=[chapter.title])]))
    if info.cues:
        # Format 2: times in milliseconds; type 1: lyrics. An empty line clears the text when a cue ends.
        lines: list[tuple[str, int]] = []
        for n, cue in enumerate(info.cues):
            lines.append((" ".join(cue.text.split()), cue.start_ms))
            following = info.cues[n + 1].start_ms if n + 1 < len(info.cues) else None
            if following is None or following > cue.end_ms:
                lines.append(("", cue.end_ms))
        tag.add(SYLT(encoding=3, lang=lang, format=2, type=1, desc="", text=lines))
        # Players without SYLT support often read LRC from the unsynchronised lyrics instead.
        tag.add(USLT(encoding=3, lang=lang, desc="", text=subtitles.lrc(info.cues, info.sheet)))
    if info.cover:
        tag.add(APIC(encoding=3, mime=info.cover.mime, type=PictureType.COVER_FRONT, desc="Cover",
                     data=info.cover.data))
    tag.save(path, v2_version=3)


def _chapters_in_order(id3: type) -> type:
    """mutagen stores frames of the same rank smallest first, which scatters the CHAP frames;
    readers that list chapters in stored order (ffmpeg, and what it converts to) would show them
    shuffled. This ID3 puts them back in time order where they were, in the tag mutagen made."""

    class ChaptersInOrder(id3):  # type: ignore[misc, valid-type]
        def _write(self, config):  # type: ignore[no-untyped-def]
            data = bytes(super()._write(config))
            frames, pos = [], 0
            while pos + 10 <= len(data) and data[pos] != 0:
                size = int.from_bytes(data[pos + 4 : pos + 8], "big")
                if config.v2_version == 4:  # sizes are syncsafe there: 7 bits a byte
                    size = sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(data[pos + 4 : pos + 8]))
                frames.append(data[pos : pos + 10 + size])
                pos += 10 + size
            slots = [i for i, frame in enumerate(frames) if frame[:4] == b"CHAP"]
            timed = sorted((frames[i] for i in slots), key=_chapter_start)
            for i, frame in zip(slots, timed):
                frames[i] = frame
            return bytearray(b"".join(frames) + data[pos:])

    return ChaptersInOrder


def _chapter_start(frame: bytes) -> int:
    """A CHAP frame's start time: after the 10-byte header, the element id and its terminating zero."""
    at = frame.index(b"\0", 10) + 1
    return int.from_bytes(frame[at : at + 4], "big")


def _mp4(path: Path, info: TrackInfo) -> None:
    from mutagen.mp4 import MP4, MP4Cover

    audio = MP4(path)
    if audio.tags is None:
        audio.add_tags()
    assert audio.tags is not None
    for key, value in (("\xa9nam", info.title), ("\xa9ART", info.artist), ("\xa9alb", info.album),
                       ("\xa9day", info.year), ("\xa9gen", info.genre), ("\xa9cmt", info.comment)):
        if value:
            audio.tags[key] = [value]
    if info.cover:
        kind = MP4Cover.FORMAT_PNG if info.cover.mime == "image/png" else MP4Cover.FORMAT_JPEG
        audio.tags["covr"] = [MP4Cover(info.cover.data, imageformat=kind)]
    audio.save()


def _vorbis(path: Path, info: TrackInfo) -> None:
    from mutagen.oggvorbis import OggVorbis

    audio = OggVorbis(path)
    assert audio.tags is not None
    for key, value in info.text_tags.items():
        audio.tags[key] = [value]
    # The Vorbis comment chapter extension: CHAPTERnnn=HH:MM:SS.mmm and CHAPTERnnnNAME=title.
    for n, chapter in enumerate(info.chapters):
        audio.tags[f"CHAPTER{n:03d}"] = [subtitles.clock(chapter.start_ms, ".")]
        audio.tags[f"CHAPTER{n:03d}NAME"] = [chapter.title]
    if info.cover:
        audio.tags["METADATA_BLOCK_PICTURE"] = [base64.b64encode(_flac_picture(info.cover)).decode("ascii")]
    audio.save()


def _flac_picture(cover: Cover) -> bytes:
    from mutagen.flac import Picture
    from PIL import Image

    picture = Picture()
    picture.type = 3  # front cover
    picture.mime = cover.mime
    picture.desc = "Cover"
    with Image.open(io.BytesIO(cover.data)) as image:
        picture.width, picture.height = image.size
        picture.depth = 24
    picture.data = cover.data
    return picture.write()


# WAV carries the ffmetadata tags as RIFF INFO and nothing more.
WRITERS: dict[str, Callable[[Path, TrackInfo], None] | None] = {"mp3": _id3, "m4a": _mp4, "ogg": _vorbis, "wav": None}


def write(path: Path, fmt: str, info: TrackInfo) -> None:
    writer = WRITERS.get(fmt)
    if writer is not None:
        writer(path, info)
