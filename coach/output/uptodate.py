""""Up to date": a rendered file remembers, in its own tags, a key of everything that shapes it;
a render with the same key finds the file as it was written and does nothing.

The key is made without speaking or mixing anything: the routine and its effective wording
(which give every text spoken), the engine and the resolved voice, the bytes of each text's clip
in the clip cache, every render option (a file's path, size and modification time for the cover
and the music), the encoders, coach's version and the year (a tag). A text whose clip is not in
the cache yet, or no cache at all, means no key: the render goes ahead. The file itself is
checked too: the key is stored beside a hash of its audio (everything after the ID3 tag), so a
file someone else re-encoded or cut is rendered again; tags edited by hand are not a change.
MP3 only (the other formats always render).
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

from coach import __version__
from coach.plan import compiler
from coach.routine.model import Routine
from coach.session import SpeechOptions, cache_for, open_engine, voice_for, wording
from coach.speech.cache import clip_key
from coach.speech.engine import resolve_voice
from coach.tools import ffmpeg_path

FRAME = "coach:render"  # the TXXX frame's description
FORMATS = ("mp3",)


def key(routine: Routine, speech: SpeechOptions, options: object) -> str | None:
    """The key of the file `coach render` would write for `routine` with these options (a
    RenderOptions), or None when it cannot be known without speaking (see the module's note)."""
    if getattr(options, "format", None) not in FORMATS:
        return None
    book = wording(routine, speech)
    timeline = compiler.compile_routine(routine, book)
    language = book.language or routine.language
    wanted = voice_for(routine, book, speech)
    engine = open_engine(speech, wanted, language)
    voice = resolve_voice(engine, wanted, language)
    tag = engine.cache_tag(voice)
    cache = cache_for(speech)
    if cache.folder is None:
        return None
    clips = []
    for text in dict.fromkeys(r.speech for r in timeline.requests):
        try:
            data = cache.path(clip_key(engine.name, tag, voice, text)).read_bytes()
        except OSError:
            return None
        clips.append(hashlib.sha256(data).hexdigest())
    shape = {
        "coach": __version__,
        "year": datetime.date.today().year,
        "routine": repr(routine),
        "wording": repr(book),
        "engine": [engine.name, tag],
        "voice": repr(voice),
        "clips": clips,
        # Not `jobs`: an MP3's parts are cut where its silences are, however many encode at once.
        "options": {f.name: _identity(getattr(options, f.name)) for f in fields(options) if f.name != "jobs"},  # type: ignore[arg-type]
        "ffmpeg": _identity(Path(ffmpeg_path())),
        "lameenc": _lameenc(),
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def current(out: Path, wanted: str | None, sidecars: Sequence[Path] = ()) -> bool:
    """Whether `out` is the file a render with key `wanted` writes, untouched, its sidecars there."""
    if wanted is None or not out.is_file() or not all(p.is_file() for p in sidecars):
        return False
    from mutagen import MutagenError
    from mutagen.id3 import ID3

    try:
        tag = ID3(out)
        stored = [str(t) for t in tag.getall(f"TXXX:{FRAME}")]
        audio = _audio_hash(out, tag.size)
    except (OSError, MutagenError):
        return False
    return stored == [f"{wanted} {audio}"]


def stamp(path: Path, value: str) -> None:
    """Store `value` (a key) in the MP3 `path`'s tag, with the hash of its audio as it is now."""
    from mutagen.id3 import ID3, TXXX

    tag = ID3(path)
    audio = _audio_hash(path, tag.size)
    tag.setall(f"TXXX:{FRAME}", [TXXX(encoding=3, desc=FRAME, text=[f"{value} {audio}"])])
    tag.save(path, v2_version=3)


def _audio_hash(path: Path, tag_size: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        handle.seek(tag_size)
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _identity(value: object) -> object:
    """A path as what is there (a folder: each file in it), anything else as itself."""
    if not isinstance(value, Path):
        return value
    try:
        if value.is_dir():
            return [_identity(p) for p in sorted(value.iterdir())]
        stat = value.stat()
        return [str(value.resolve()), stat.st_size, stat.st_mtime_ns]
    except OSError:
        return [str(value), None, None]


def _lameenc() -> str:
    from importlib import metadata

    return metadata.version("lameenc")
