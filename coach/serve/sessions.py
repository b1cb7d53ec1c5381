"""The sessions a server hosts: each routine rendered as `coach render` would, and described for the pages."""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from pathlib import Path

from coach.output import chapters, uptodate
from coach.output.options import RenderOptions
from coach.output.render import render
from coach.session import Session
from coach.speech.cache import TEMPORARY, files, size

FOLDER = "served"  # in the clip cache's folder: the MP3s `coach serve` rendered, kept for its next start
KEEP = 8  # the files kept there: the most recently served
SERVED = re.compile(r".+\.[0-9a-f]{16}\.mp3")


@dataclass(frozen=True)
class Block:
    name: str
    rounds: int
    exercises: int


@dataclass(frozen=True)
class Served:
    slug: str  # the session's name in its addresses: /play/SLUG, /s/SLUG/...
    title: str
    artist: str
    description: str
    duration_ms: int
    blocks: tuple[Block, ...]
    audio: Path  # the rendered MP3
    cover: bytes
    cover_mime: str
    timeline: bytes  # the `coach script --json` contract, with the exercise chapters, as UTF-8 JSON
    language: str = "en"  # the session's wording: the pages speak it too

    def summary(self) -> dict[str, object]:
        """What the list page shows, and where the session's files are."""
        base = f"/s/{self.slug}"
        return {
            "slug": self.slug, "title": self.title, "artist": self.artist, "description": self.description,
            "duration_ms": self.duration_ms, "blocks": [asdict(b) for b in self.blocks],
            "player": f"/play/{self.slug}", "timeline": f"{base}/timeline.json", "audio": f"{base}/audio.mp3",
            "download": f"{base}/download", "cover": f"{base}/cover", "cover_type": self.cover_mime,
            "language": self.language,
        }


def render_session(
    session: Session, folder: Path, options: RenderOptions, taken: Collection[str] = (),
    progress: Callable[[int, int], None] | None = None, stamp: str | None = None,
) -> Served:
    """Render `session` into `folder` (as SLUG.mp3, a slug not in `taken`) and describe it;
    `stamp` is the up-to-date key `coach render` would tag the file with. With a stamp the file is
    named after it too (`SLUG.KEY.mp3`), so that a folder kept between runs (`served_folder`) holds
    each version apart, and one already there, untouched, is served as it is: nothing is rendered."""
    slug = unique_slug(session.routine.slug, taken)
    audio = folder / (f"{slug}.{stamp[:16]}.mp3" if stamp else f"{slug}.mp3")
    if stamp and uptodate.current(audio, stamp):
        os.utime(audio)  # recently served: kept by `prune`
    else:
        render(session, audio, options, progress, stamp=stamp)
    data, mime = cover_of(audio)
    routine = session.routine
    return Served(
        slug=slug, title=routine.title, artist=routine.coach or "coach", description=routine.description,
        duration_ms=session.timeline.duration_ms,
        blocks=tuple(Block(b.name, b.rounds, len(b.exercises)) for b in routine.blocks),
        audio=audio, cover=data, cover_mime=mime,
        timeline=json.dumps(timeline_json(session), ensure_ascii=False).encode("utf-8"),
        language=session.book.language,
    )


def timeline_json(session: Session) -> dict[str, object]:
    """`coach script --json`, and the chapters the player's previous/next buttons move between
    (one per exercise, side and round: the same the MP3 carries with `--chapters exercise`)."""
    data = session.to_json()
    data["chapters"] = [asdict(c) for c in chapters.chapters(session.timeline, session.book, "exercise")]
    # The page's own words follow the session's language; the sides are the phrasebook's words.
    data["language"] = session.book.language
    data["sides"] = {side: session.book.side(side) for side in ("left", "right")}
    return data


def unique_slug(slug: str, taken: Collection[str]) -> str:
    """`slug`, or `slug-2`, `slug-3`... when two routines share a title."""
    candidate, n = slug, 1
    while candidate in taken:
        n += 1
        candidate = f"{slug}-{n}"
    return candidate


def cover_of(audio: Path) -> tuple[bytes, str]:
    """The cover the render put in the MP3 (the user's `--cover`, or the one drawn from the routine)."""
    from mutagen.id3 import ID3

    pictures = ID3(audio).getall("APIC")
    return (pictures[0].data, pictures[0].mime) if pictures else (b"", "")


def served_folder(cache_folder: Path | None, scratch: Path) -> Path:
    """Where `coach serve` keeps what it rendered: in the clip cache's folder (made if missing),
    else (no cache, or one that cannot be written) `scratch`, a folder removed when it stops."""
    if cache_folder is None:
        return scratch
    folder = cache_folder / FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return scratch
    return folder if os.access(folder, os.W_OK | os.X_OK) else scratch


def prune(cache_folder: Path, keep: int = KEEP) -> int:
    """Remove all but the `keep` most recently served files; how many went. Temporaries are left
    alone: one may be another `coach serve` rendering there now (`clear` removes them)."""
    order = sorted(files(cache_folder / FOLDER, SERVED), key=_mtime, reverse=True)
    return _remove(order[keep:])


def stats(cache_folder: Path) -> tuple[int, int]:
    """(served files kept in a cache folder, bytes on disk)."""
    entries = files(cache_folder / FOLDER, SERVED)
    return len(entries), size(entries + files(cache_folder / FOLDER, TEMPORARY))


def clear(cache_folder: Path) -> int:
    """Remove every served file kept in a cache folder; returns how many."""
    count = _remove(files(cache_folder / FOLDER, SERVED))
    _remove(files(cache_folder / FOLDER, TEMPORARY))
    with contextlib.suppress(OSError):
        (cache_folder / FOLDER).rmdir()
    return count


def _remove(paths: list[Path]) -> int:
    gone = 0
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            gone += 1
    return gone


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0
