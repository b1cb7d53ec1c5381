"""Screenshots of `coach serve`'s player at phone size, and the page's weight before playback.

Usage: python scripts/serve_screenshots.py [--play]

Renders the built-in session with the fake engine, serves it on 127.0.0.1, opens the player in the
system's Chromium at 390x844 and writes docs/serve-list.png, docs/serve-work.png, docs/serve-rest.png
and docs/serve-finished.png; prints the bytes transferred before playback starts (every request the
page makes, the audio's metadata fetch included). With --play it also plays tests/data/serve_short.yaml
through in real time and prints each phase the display showed, with the audio's position.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.serve.harness import PHONE, SHORT, chromium, launch, render_all, serving  # noqa: E402

DOCS = ROOT / "docs"
SEEK = """async (seconds) => {
    const audio = document.getElementById("audio");
    await new Promise((resolve) => { audio.addEventListener("seeked", resolve, { once: true }); audio.currentTime = seconds; });
    await new Promise((resolve) => setTimeout(resolve, 400));  // the ring's transition
}"""


def weight(page: Any, url: str) -> tuple[int, list[tuple[str, int]]]:
    """Bytes received (headers and bodies, as on the wire) for every request the page makes on its own."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    urls: dict[str, str] = {}
    finished: dict[str, int] = {}
    received: dict[str, int] = {}  # a media request the browser stops once it has the metadata never finishes

    def data(event: dict[str, Any]) -> None:
        received[event["requestId"]] = received.get(event["requestId"], 0) + int(event["encodedDataLength"])

    cdp.on("Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))
    cdp.on("Network.dataReceived", data)
    cdp.on("Network.loadingFinished", lambda e: finished.__setitem__(e["requestId"], int(e["encodedDataLength"])))
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => document.getElementById('audio').readyState >= 1")
    time.sleep(2)
    rows = [(urls[r].split("?")[0].split("/", 3)[-1], max(finished.get(r, 0), received.get(r, 0))) for r in urls]
    return sum(n for _, n in rows), rows


def shoot(page: Any, seconds: float, name: str) -> None:
    page.evaluate(SEEK, seconds)
    path = DOCS / f"serve-{name}.png"
    page.screenshot(path=str(path))
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


def _while_said(timeline: dict[str, Any], segment: dict[str, Any]) -> float:
    """A moment in `segment` while its longest cue is being said (ms)."""
    inside = [c for c in timeline["cues"] if segment["start_ms"] <= c["start_ms"] < segment["end_ms"]]
    cue = max(inside, key=lambda c: c["end_ms"] - c["start_ms"])
    return cue["start_ms"] + 300.0


def play_through(browser: Any, site: Any, slug: str, timeline: dict[str, Any]) -> None:
    page = browser.new_context(viewport=PHONE).new_page()
    page.goto(site.url(f"/play/{slug}"))
    page.wait_for_function("() => document.getElementById('audio').readyState >= 1")
    page.evaluate("() => document.getElementById('audio').play()")
    began, last = time.monotonic(), None
    while time.monotonic() - began < timeline["duration_ms"] / 1000 + 15:
        shown = page.evaluate("() => [document.body.dataset.phase, document.getElementById('exercise').textContent, "
                              "document.getElementById('seconds').textContent, document.getElementById('audio').currentTime]")
        if shown[0] != last:
            last = shown[0]
            print(f"  wall {time.monotonic() - began:5.1f} s  audio {shown[3]:5.1f} s  {shown[0]:<10} {shown[1]!r} {shown[2]}")
        if shown[0] == "finished":
            break
        time.sleep(0.1)


def main() -> None:
    executable = chromium()
    if executable is None:
        sys.exit("chromium is not installed: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        served = render_all(["lower-back", str(SHORT)], Path(folder), Path(folder) / "cache")
        session = served[0]
        timeline = json.loads(session.timeline)
        with serving(served) as site, sync_playwright() as playwright:
            browser = launch(playwright, executable)
            page = browser.new_context(viewport=PHONE, device_scale_factor=2).new_page()
            total, rows = weight(page, site.url(f"/play/{session.slug}"))
            print(f"player page before playback: {total} bytes in {len(rows)} requests")
            for path, size in sorted(rows, key=lambda r: -r[1]):
                print(f"  {size:>8}  /{path}")
            page.goto(site.url("/"))
            page.wait_for_selector(".card")
            page.screenshot(path=str(DOCS / "serve-list.png"))
            print("wrote docs/serve-list.png")
            page.goto(site.url(f"/play/{session.slug}"))
            page.wait_for_function("() => document.getElementById('audio').readyState >= 1")
            segments = timeline["segments"]
            work = next(s for s in segments if s["kind"] == "work" and s["side"])
            rest = next(s for s in segments if s["kind"] == "rest" and s["start_ms"] > work["start_ms"])
            page.evaluate("() => document.getElementById('audio').play()")  # the work screenshot shows it playing
            shoot(page, _while_said(timeline, work) / 1000, "work")
            page.evaluate("() => document.getElementById('audio').pause()")
            shoot(page, _while_said(timeline, rest) / 1000, "rest")
            shoot(page, timeline["duration_ms"] / 1000, "finished")
            if "--play" in sys.argv:
                print(f"playing {served[1].title} in real time:")
                play_through(browser, site, served[1].slug, json.loads(served[1].timeline))
            browser.close()


if __name__ == "__main__":
    main()
