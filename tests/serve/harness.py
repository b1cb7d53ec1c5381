"""What the serve tests and scripts/serve_screenshots.py share: sessions rendered with the fake
engine, a real server on 127.0.0.1 in a thread, and the system's Chromium."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from coach.output import uptodate
from coach.output.render import RenderOptions
from coach.routine import loader
from coach.serve import app as web
from coach.serve import server
from coach.serve.sessions import Served, render_session
from coach.session import SpeechOptions, prepare

SHORT = Path(__file__).parent.parent / "data" / "serve_short.yaml"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
]
PHONE = {"width": 390, "height": 844}


def render_all(names: Sequence[str], folder: Path, cache: Path, language: str | None = None) -> list[Served]:
    options = SpeechOptions(engine="fake", cache_dir=cache, language=language)
    out: list[Served] = []
    for name in names:
        routine = loader.load(name)
        session = prepare(routine, options)
        stamp = uptodate.key(routine, options, RenderOptions())  # as `coach serve` does
        out.append(render_session(session, folder, RenderOptions(), [s.slug for s in out], stamp=stamp))
    return out


class Running:
    def __init__(self, base: str, key: str, port: int) -> None:
        self.base, self.key, self.port = base, key, port

    def url(self, path: str = "/") -> str:
        return f"{self.base}{path}{'&' if '?' in path else '?'}k={self.key}"


@contextlib.contextmanager
def serving(served: Sequence[Served]) -> Iterator[Running]:
    """A real server for `served` on 127.0.0.1 (a free port), in a thread."""
    import uvicorn

    key = web.new_key()
    sock = server.listen(server.LOOPBACK, 0)
    config = uvicorn.Config(web.create(served, key), log_level="warning", access_log=False, lifespan="off")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        if not instance.started:
            raise RuntimeError("the test server did not start")
        port = sock.getsockname()[1]
        yield Running(f"http://127.0.0.1:{port}", key, port)
    finally:
        instance.should_exit = True
        thread.join(10)
        sock.close()


def chromium() -> str | None:
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


def launch(playwright: Any, executable: str) -> Any:
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
