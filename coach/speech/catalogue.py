"""`coach voices --download NAME`: a Piper voice from the public catalogue (its voices.json) into
the voice folder, each file checked against the catalogue's size and md5 and written atomically;
`coach voices --available`: what the catalogue offers.

The catalogue's base URL is $COACH_VOICES_URL, so a mirror (or a test's own server) can stand in.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coach.errors import EngineError, suggest
from coach.files import atomic_write
from coach.speech import voices

URL_VAR = "COACH_VOICES_URL"
DEFAULT_URL = "https://huggingface.co/rhasspy/piper-voices/resolve/main/"
TIMEOUT_S = 30
BLOCK = 1 << 16
# What a voice's files become in the folder (the model last but one, its config last: a voice is
# listed only once both are there, so a stopped download never shows a voice that cannot load).
SUFFIXES = ((".md", "MODEL_CARD"), (".onnx", ".onnx"), (".onnx.json", ".onnx.json"))

Progress = Callable[[int, int], None]


def base_url() -> str:
    url = os.environ.get(URL_VAR) or DEFAULT_URL
    return url if url.endswith("/") else url + "/"


def catalogue() -> dict[str, Any]:
    with _open(base_url() + "voices.json") as response:
        try:
            data = json.loads(response.read())
        except ValueError as exc:
            raise EngineError(f"the voice catalogue at {base_url()} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise EngineError(f"the voice catalogue at {base_url()} is not a list of voices")
    return data


@dataclass(frozen=True)
class Offered:
    """A voice the catalogue offers for download."""

    name: str
    language: str  # en_US, es_MX
    quality: str  # x_low, low, medium, high
    size: int  # bytes to download
    installed: bool


def offered(language: str | None = None, folder: Path | None = None) -> list[Offered]:
    """The catalogue's voices, for `language` (`es`, `es_MX`) if given, in name order."""
    here = {v.id.rsplit("/", 1)[-1] for v in voices.installed(folder)}
    wanted = (language or "").replace("-", "_").lower()
    found = []
    for name, entry in catalogue().items():
        if not isinstance(entry, dict):
            continue
        info = entry.get("language")
        code = str(info.get("code", "")) if isinstance(info, dict) else str(name).split("-", 1)[0]
        if wanted and code.lower() != wanted and code.lower().split("_", 1)[0] != wanted:
            continue
        listed = entry.get("files")
        size = sum(int(f.get("size_bytes", 0)) for f in listed.values() if isinstance(f, dict)) if isinstance(listed, dict) else 0
        key = str(entry.get("key", name))
        found.append(Offered(key, code, str(entry.get("quality", "")), size, key in here))
    return sorted(found, key=lambda v: v.name)


def download(name: str, folder: Path | None = None, progress: Progress | None = None) -> Path:
    """Fetch voice `name` into `folder` (default: the voice folder); returns the model's path."""
    folder = folder if folder is not None else voices.default_dir()
    known = catalogue()
    entry = known.get(name) or next((v for v in known.values() if name in v.get("aliases", ())), None)
    if not isinstance(entry, dict):
        hint = suggest(name, known) or "voice names look like en_US-lessac-medium"
        raise EngineError(f"the voice catalogue has no voice `{name}`", hint)
    key = str(entry.get("key", name))
    files = _files(entry, key)
    total = sum(size for _, _, size, _ in files)
    folder.mkdir(parents=True, exist_ok=True)
    done = 0
    for remote, suffix, size, md5 in files:
        target = folder / f"{key}{suffix}"

        def step(n: int, base: int = done) -> None:
            if progress:
                progress(base + n, total)

        _fetch(base_url() + remote, target, size, md5, step)
        done += size
    return folder / f"{key}.onnx"


def _files(entry: dict[str, Any], key: str) -> list[tuple[str, str, int, str]]:
    """(path in the catalogue, suffix here, size, md5) of the files to fetch, in writing order."""
    listed = entry.get("files")
    if not isinstance(listed, dict):
        raise EngineError(f"the catalogue's entry for `{key}` lists no files")
    found = []
    for suffix, ending in SUFFIXES:
        remote = next((p for p in listed if p.rsplit("/", 1)[-1] == ending or p.endswith(f"/{key}{ending}")), None)
        if remote is None:
            if suffix == ".md":
                continue  # the model card is welcome, not needed
            raise EngineError(f"the catalogue's entry for `{key}` has no {ending} file")
        info = listed[remote]
        found.append((remote, suffix, int(info["size_bytes"]), str(info["md5_digest"])))
    return found


def _fetch(url: str, target: Path, size: int, md5: str, progress: Callable[[int], None]) -> None:
    """Download to a temporary file beside `target`, check it, then rename it into place."""
    digest = hashlib.md5(usedforsecurity=False)
    got = 0
    with _open(url) as response, atomic_write(target) as tmp, open(tmp, "wb") as out:
        for block in iter(lambda: response.read(BLOCK), b""):
            got += len(block)
            if got > size:
                raise EngineError(f"{url} is larger than the catalogue says ({size} bytes): not saved")
            digest.update(block)
            out.write(block)
            progress(got)
        if got != size or digest.hexdigest() != md5:
            raise EngineError(f"{url} does not match the catalogue (size {got} of {size} bytes, md5 {digest.hexdigest()}): not saved",
                              "try again; if it persists the catalogue and the file disagree")


def _open(url: str) -> Any:
    """The response to a GET of `url` (to use in a `with`); failures as one clear error."""
    try:
        return urllib.request.urlopen(url, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        raise EngineError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise EngineError(f"cannot download {url}: {reason}", f"check the connection, or set {URL_VAR} to a mirror") from None
