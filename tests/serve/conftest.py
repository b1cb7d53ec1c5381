"""`coach serve` under test: sessions rendered once with the fake engine, a real server on
127.0.0.1 in a thread, and the system's Chromium driven by Playwright."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coach.output.render import RenderOptions
from coach.routine import loader
from coach.serve import app as web
from coach.serve import server
from coach.serve.sessions import Served, render_session
from coach.session import SpeechOptions, prepare

DATA = Path(__file__).parent.parent / "data"
SHORT = DATA / "serve_short.yaml"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> list[Served]:
    """The short test routine and the built-in session, rendered as `coach serve` does."""
    folder = tmp_path_factory.mktemp("served")
    options = SpeechOptions(engine="fake", cache_dir=tmp_path_factory.mktemp("serve_cache"))
    out: list[Served] = []
    for name in (str(SHORT), "lower-back"):
        session = prepare(loader.load(name), options)
        out.append(render_session(session, folder, RenderOptions(), [s.slug for s in out]))
    return out


@pytest.fixture(scope="session")
def short(served: list[Served]) -> Served:
    return served[0]


class Running:
    def __init__(self, base: str, key: str, port: int) -> None:
        self.base, self.key, self.port = base, key, port

    def url(self, path: str = "/") -> str:
        return f"{self.base}{path}{'&' if '?' in path else '?'}k={self.key}"


@pytest.fixture(scope="session")
def site(served: list[Served]) -> Iterator[Running]:
    """A real server on 127.0.0.1 (a free port), in a thread."""
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
    assert instance.started, "the test server did not start"
    port = sock.getsockname()[1]
    yield Running(f"http://127.0.0.1:{port}", key, port)
    instance.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class Page:
    """A phone-sized page that records console errors and uncaught exceptions."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def open_player(self, site: Running, session: Served) -> None:
        self.page.goto(site.url(f"/play/{session.slug}"))
        self.page.wait_for_function("() => document.body.dataset.phase !== 'loading' && document.getElementById('audio').readyState >= 1")

    def seek(self, seconds: float) -> dict[str, str]:
        """Move the audio to `seconds`, wait for the seek to finish, and read the display."""
        return self.page.evaluate(SEEK, seconds)  # type: ignore[no-any-return]

    def display(self) -> dict[str, str]:
        return self.page.evaluate(DISPLAY)  # type: ignore[no-any-return]


DISPLAY = """() => Object.fromEntries(["phase", "exercise", "side", "seconds", "next", "where", "cue"]
    .map((id) => [id, document.getElementById(id).textContent]).concat([["kind", document.body.dataset.phase],
    ["time", String(document.getElementById("audio").currentTime)]]))"""
SEEK = """async (seconds) => {
    const audio = document.getElementById("audio");
    await new Promise((resolve) => { audio.addEventListener("seeked", resolve, { once: true }); audio.currentTime = seconds; });
    await new Promise((resolve) => requestAnimationFrame(() => resolve()));
    return (DISPLAY)();
}""".replace("DISPLAY", DISPLAY)
# Records the Media Session handlers the page registers, so a test can press "next track".
RECORD_HANDLERS = """(() => {
    window.mediaHandlers = {};
    const original = navigator.mediaSession.setActionHandler.bind(navigator.mediaSession);
    navigator.mediaSession.setActionHandler = (action, handler) => { window.mediaHandlers[action] = handler; original(action, handler); };
})();"""


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2)
    context.add_init_script(RECORD_HANDLERS)
    wrapped = Page(context.new_page())
    yield wrapped
    context.close()


def timeline(session: Served) -> dict[str, Any]:
    return json.loads(session.timeline)  # type: ignore[no-any-return]
