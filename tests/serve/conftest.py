"""`coach serve` under test: sessions rendered once with the fake engine, a real server on
127.0.0.1 in a thread, and the system's Chromium driven by Playwright."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from coach.serve.sessions import Served

from .harness import PHONE, SHORT, Running, chromium, launch, render_all, serving


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> list[Served]:
    """The short test routine and the built-in session, rendered as `coach serve` does."""
    return render_all([str(SHORT), "lower-back"], tmp_path_factory.mktemp("served"), tmp_path_factory.mktemp("serve_cache"))


@pytest.fixture(scope="session")
def short(served: list[Served]) -> Served:
    return served[0]


@pytest.fixture(scope="session")
def site(served: list[Served]) -> Iterator[Running]:
    with serving(served) as running:
        yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = chromium()
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = launch(playwright, executable)
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
# Records the Media Session handlers the page registers (so a test can press "next track") and its wake lock requests.
RECORD_HANDLERS = """(() => {
    window.mediaHandlers = {};
    const original = navigator.mediaSession.setActionHandler.bind(navigator.mediaSession);
    navigator.mediaSession.setActionHandler = (action, handler) => { window.mediaHandlers[action] = handler; original(action, handler); };
    window.wakeLockRequests = [];
    if (navigator.wakeLock) {
        const request = navigator.wakeLock.request.bind(navigator.wakeLock);
        navigator.wakeLock.request = (type) => { window.wakeLockRequests.push(type); return request(type); };
    }
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
