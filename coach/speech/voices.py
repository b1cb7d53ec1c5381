"""Piper's voice folder: each voice is NAME.onnx with NAME.onnx.json beside it (and NAME.md, its
model card, when coach downloaded it). Reading the folder imports neither piper nor onnxruntime."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

from coach.errors import EngineError
from coach.speech.engine import VoiceInfo

ENV_VAR = "COACH_VOICES"
# Piper's names: language_REGION-dataset-quality (en_US-lessac-medium).
NAME = re.compile(r"[a-z]{2,3}_[A-Z]{2}-[\w]+-(x_low|low|medium|high)")
_LICENCE = re.compile(r"^\W*licen[cs]e:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_digests: dict[tuple[str, int, int], str] = {}


def default_dir() -> Path:
    """$COACH_VOICES; else coach/voices in the platform's folder for user data."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "coach" / "voices"


def installed(folder: Path | None = None) -> list[VoiceInfo]:
    """Every complete voice in the folder (both files there), by name."""
    folder = folder if folder is not None else default_dir()
    try:
        models = sorted(p for p in folder.iterdir() if p.name.endswith(".onnx") and p.with_name(p.name + ".json").is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for model in models:
        try:
            found.append(describe(model, model.name[: -len(".onnx")]))
        except EngineError:
            continue  # a damaged config is reported when the voice is asked for, not when listing
    return found


def describe(model: Path, voice_id: str) -> VoiceInfo:
    """A voice from its files: language, quality and licence from its config and model card."""
    config = model.with_name(model.name + ".json")
    if not model.is_file():
        raise EngineError(f"no Piper voice file {model}")
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
        language = data.get("language") or {}
        code = str(language["code"]) if language else str(data["espeak"]["voice"])
        quality = str(data.get("audio", {}).get("quality", ""))
        dataset = str(data.get("dataset", ""))
        english, region = str(language.get("name_english", "")), str(language.get("country_english", ""))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise EngineError(f"the Piper voice {model.name} has no usable {config.name}: {exc}",
                          "a voice is NAME.onnx with NAME.onnx.json beside it") from None
    tag = code.replace("_", "-").lower()
    languages = tuple(dict.fromkeys((tag, tag.split("-")[0])))
    label = f"{english} ({region})" if english and region else english or code
    return VoiceInfo(voice_id, f"{label}, {dataset}" if dataset else label, languages, quality=quality, licence=licence(model))


def licence(model: Path) -> str:
    """The licence its model card gives (the dataset's), and the voice it was fine-tuned from."""
    card = model.with_name(model.name[: -len(".onnx")] + ".md")
    try:
        text = card.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "unknown (no model card)"
    found = _LICENCE.search(text)
    result = found.group(1) if found else "unknown"
    tuned = re.search(r"fine-?tuned from ([^\n(]+)", text, re.IGNORECASE)
    return f"{result}, fine-tuned from {tuned.group(1).strip().rstrip('.')}" if tuned else result


def model_path(voice_id: str) -> Path:
    """The .onnx of a resolved voice: a file path, or a name in the voice folder."""
    if voice_id.endswith(".onnx"):
        return Path(voice_id)
    return default_dir() / f"{voice_id}.onnx"


def digest(model: Path) -> str:
    """sha256 of the model and its config, remembered per file size and time in this process."""
    config = model.with_name(model.name + ".json")
    stats = [model.stat(), config.stat()]
    key = (str(model.absolute()), sum(s.st_size for s in stats), max(s.st_mtime_ns for s in stats))
    if key not in _digests:
        h = hashlib.sha256()
        for path in (model, config):
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        _digests[key] = h.hexdigest()
    return _digests[key]
