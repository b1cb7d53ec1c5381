"""The sessions a server hosts: each routine rendered as `coach render` would, and described for the pages."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from pathlib import Path

from coach.output import chapters
from coach.output.options import RenderOptions
from coach.output.render import render
from coach.session import Session


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

    def summary(self) -> dict[str, object]:
        """What the list page shows, and where the session's files are."""
        base = f"/s/{self.slug}"
        return {
            "slug": self.slug, "title": self.title, "artist": self.artist, "description": self.description,
            "duration_ms": self.duration_ms, "blocks": [asdict(b) for b in self.blocks],
            "player": f"/play/{self.slug}", "timeline": f"{base}/timeline.json", "audio": f"{base}/audio.mp3",
            "download": f"{base}/download", "cover": f"{base}/cover", "cover_type": self.cover_mime,
        }


def render_session(
    session: Session, folder: Path, options: RenderOptions, taken: Collection[str] = (),
    progress: Callable[[int, int], None] | None = None, stamp: str | None = None,
) -> Served:
    """Render `session` into `folder` (as SLUG.mp3, a slug not in `taken`) and describe it;
    `stamp` is the up-to-date key `coach render` would tag the file with."""
    slug = unique_slug(session.routine.slug, taken)
    audio = folder / f"{slug}.mp3"
    render(session, audio, options, progress, stamp=stamp)
    data, mime = cover_of(audio)
    routine = session.routine
    return Served(
        slug=slug, title=routine.title, artist=routine.coach or "coach", description=routine.description,
        duration_ms=session.timeline.duration_ms,
        blocks=tuple(Block(b.name, b.rounds, len(b.exercises)) for b in routine.blocks),
        audio=audio, cover=data, cover_mime=mime,
        timeline=json.dumps(timeline_json(session), ensure_ascii=False).encode("utf-8"),
    )


def timeline_json(session: Session) -> dict[str, object]:
    """`coach script --json`, and the chapters the player's previous/next buttons move between
    (one per exercise, side and round: the same the MP3 carries with `--chapters exercise`)."""
    data = session.to_json()
    data["chapters"] = [asdict(c) for c in chapters.chapters(session.timeline, session.book, "exercise")]
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
