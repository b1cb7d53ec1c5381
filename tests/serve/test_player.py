"""The pages in a real browser (the system's Chromium): what the phone shows at each moment."""

from __future__ import annotations

import math
import time

import pytest

from coach.serve.sessions import Served

from .conftest import Page, timeline
from .harness import SHORT, Running, render_all, serving

pytestmark = pytest.mark.slow  # a browser, and one test plays a session through
LAG_MS = 600  # how far behind the audio a display drawn at the last frame may be, at 4x speed


def test_list_page_links_every_session(page: Page, site: Running, served: list[Served]) -> None:
    page.page.goto(site.url("/"))
    page.page.wait_for_selector(".card")
    cards = page.page.eval_on_selector_all(".card", "(cards) => cards.map((c) => [c.getAttribute('href'), c.innerText])")
    assert [href for href, _ in cards] == [f"/play/{s.slug}" for s in served]
    for (_, text), session in zip(cards, served):
        assert session.title in text
        minutes, seconds = divmod(round(session.duration_ms / 1000), 60)
        assert f"{minutes}:{seconds:02d}" in text
        assert all(block.name in text for block in session.blocks)
    page.page.click(f"a[href='/play/{served[0].slug}']")  # the cookie set by the first page lets the player in
    page.page.wait_for_function("() => document.getElementById('title').textContent !== ''")
    assert page.page.text_content("#title") == served[0].title
    assert page.errors == []


def test_player_shows_each_work_segment(page: Page, site: Running, served: list[Served]) -> None:
    for session in served:
        page.open_player(site, session)
        works = [s for s in timeline(session)["segments"] if s["kind"] == "work"]
        assert works
        for seg in works:
            middle = (seg["start_ms"] + seg["end_ms"]) / 2
            shown = page.seek(middle / 1000)
            assert shown["kind"] == "work" and shown["phase"] == "Work"
            assert shown["exercise"] == seg["exercise"]
            assert shown["side"] == (f"{seg['side']} side" if seg["side"] else "")
            left = (seg["end_ms"] - float(shown["time"]) * 1000) / 1000
            assert abs(int(shown["seconds"]) - left) <= 1, (seg, shown)
    assert page.errors == []


def test_rest_switch_and_finish(page: Page, site: Running, short: Served) -> None:
    page.open_player(site, short)
    segments = timeline(short)["segments"]
    rest = next(s for s in segments if s["kind"] == "rest")
    after = next(s for s in segments if s["kind"] == "work" and s["start_ms"] >= rest["end_ms"])
    shown = page.seek((rest["start_ms"] + 1000) / 1000)
    assert (shown["kind"], shown["phase"], shown["exercise"]) == ("rest", "Rest", after["exercise"])
    assert shown["side"].startswith("up next")
    switch = next(s for s in segments if s["kind"] == "switch")
    shown = page.seek((switch["start_ms"] + 500) / 1000)
    assert (shown["kind"], shown["exercise"], shown["side"]) == ("switch", switch["exercise"], f"switch to the {switch['side']} side")
    shown = page.seek(timeline(short)["duration_ms"] / 1000)
    assert (shown["kind"], shown["phase"]) == ("finished", "Finished")
    assert page.errors == []


def test_cue_text_while_it_is_said(page: Page, site: Running, short: Served) -> None:
    page.open_player(site, short)
    cue = max(timeline(short)["cues"], key=lambda c: c["end_ms"] - c["start_ms"])
    shown = page.seek((cue["start_ms"] + cue["end_ms"]) / 2000)
    assert shown["cue"] == cue["text"]
    assert page.page.eval_on_selector("#cue", "(c) => c.classList.contains('speaking')")


def test_next_and_previous_track_move_between_exercise_chapters(page: Page, site: Running, served: list[Served]) -> None:
    session = served[1]
    page.open_player(site, session)
    chapters = timeline(session)["chapters"]
    assert len(chapters) > 3
    second = chapters[1]
    page.seek((second["start_ms"] + 5000) / 1000)
    assert page.page.evaluate("() => navigator.mediaSession.metadata.title") == second["title"]

    def at() -> float:
        return page.page.evaluate("() => document.getElementById('audio').currentTime")  # type: ignore[no-any-return]

    for chapter in chapters[2:5]:
        page.page.evaluate("() => window.mediaHandlers.nexttrack()")
        assert at() == pytest.approx(chapter["start_ms"] / 1000, abs=0.01)
        assert page.page.evaluate("() => navigator.mediaSession.metadata.title") == chapter["title"]
    page.seek((chapters[4]["start_ms"] + 10_000) / 1000)
    page.page.evaluate("() => window.mediaHandlers.previoustrack()")  # well into a chapter: back to its start
    assert at() == pytest.approx(chapters[4]["start_ms"] / 1000, abs=0.01)
    page.page.evaluate("() => window.mediaHandlers.previoustrack()")  # at its start: the one before
    assert at() == pytest.approx(chapters[3]["start_ms"] / 1000, abs=0.01)
    artwork = page.page.evaluate("() => navigator.mediaSession.metadata.artwork.map((a) => a.src)")
    assert len(artwork) == 1 and artwork[0].endswith(f"/s/{session.slug}/cover")
    assert sorted(page.page.evaluate("() => Object.keys(window.mediaHandlers)")) == sorted(
        ["play", "pause", "previoustrack", "nexttrack", "seekto", "seekbackward", "seekforward"])
    assert page.errors == []


def test_playing_advances_through_the_phases_to_finished(page: Page, site: Running, short: Served) -> None:
    """The short session played through (four times as fast): the display follows the audio itself."""
    page.open_player(site, short)
    page.page.evaluate("() => { const a = document.getElementById('audio'); a.playbackRate = 4; return a.play(); }")
    segments = timeline(short)["segments"]
    seen: list[str] = []
    deadline = time.monotonic() + timeline(short)["duration_ms"] / 4000 + 20
    while time.monotonic() < deadline:
        shown = page.display()
        kind = shown["kind"]
        if not seen or seen[-1] != kind:
            seen.append(kind)
        if kind != "finished":  # in step with the audio: the segment and seconds left at its position
            at = float(shown["time"]) * 1000
            playing = next(s for s in reversed(segments) if s["start_ms"] <= at)
            # Drawn a frame ago: 67 ms of audio at 4x, or a few frames more on a loaded machine.
            if kind == playing["kind"]:
                left = [math.ceil((playing["end_ms"] - t) / 1000) for t in (at, at - LAG_MS)]
                assert left[0] <= int(shown["seconds"]) <= left[1], (shown, playing)
            else:  # drawn just before the segment changed
                assert at - playing["start_ms"] < LAG_MS, (shown, playing)
        if kind == "finished":
            break
        time.sleep(0.05)
    kinds = [s["kind"] for s in timeline(short)["segments"]] + ["finished"]
    assert seen == [k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k]  # every phase, in order
    assert page.page.evaluate("() => document.getElementById('audio').ended")
    assert page.page.evaluate("() => window.wakeLockRequests") == ["screen"]  # 127.0.0.1 is a secure context
    assert page.errors == []


def test_download_link_and_cover(page: Page, site: Running, short: Served) -> None:
    page.open_player(site, short)
    assert page.page.get_attribute("#download", "href") == f"/s/{short.slug}/download"
    response = page.page.request.get(site.base + f"/s/{short.slug}/download")  # the page's cookie carries the key
    assert response.status == 200
    assert response.headers["content-disposition"] == f'attachment; filename="{short.slug}.mp3"'
    assert response.body() == short.audio.read_bytes()
    assert not math.isnan(page.page.evaluate("() => document.getElementById('audio').duration"))


def test_the_position_is_kept_when_the_page_is_opened_again(page: Page, site: Running, short: Served) -> None:
    page.open_player(site, short)
    work = [s for s in timeline(short)["segments"] if s["kind"] == "work"][2]
    page.seek((work["start_ms"] + 2000) / 1000)
    page.page.click("a.back")  # back to the list, then the same session again
    page.page.wait_for_selector(".card")
    page.page.click(f"a[href='/play/{short.slug}']")
    page.page.wait_for_function("() => document.getElementById('audio').readyState >= 1 && document.body.dataset.phase === 'work'")
    shown = page.display()
    assert float(shown["time"]) == pytest.approx((work["start_ms"] + 2000) / 1000, abs=0.05)
    assert shown["exercise"] == work["exercise"]
    page.seek(timeline(short)["duration_ms"] / 1000)  # finished: the next visit starts at the beginning
    page.page.reload()
    page.page.wait_for_function("() => document.getElementById('audio').readyState >= 1 && document.body.dataset.phase === 'lead_in'")
    assert float(page.display()["time"]) == 0
    assert page.errors == []


def test_a_spanish_session_is_shown_in_spanish(page: Page, tmp_path_factory: pytest.TempPathFactory) -> None:
    (spanish,) = render_all([str(SHORT)], tmp_path_factory.mktemp("served_es"), tmp_path_factory.mktemp("cache_es"), language="es")
    segments = timeline(spanish)["segments"]
    with serving([spanish]) as site:
        page.page.goto(site.url("/"))
        page.page.wait_for_function("() => document.querySelectorAll('#sessions > li').length === 1")
        assert page.page.text_content("#heading") == "Sesiones"
        assert "ejercicios" in page.page.text_content("#sessions")
        page.open_player(site, spanish)
        assert page.page.evaluate("document.documentElement.lang") == "es"
        left = next(s for s in segments if s["kind"] == "work" and s["side"] == "left")
        shown = page.seek((left["start_ms"] + 1000) / 1000)
        assert (shown["phase"], shown["side"]) == ("Trabajo", "lado izquierdo")
        assert shown["next"].startswith("Después: ")
        switch = next(s for s in segments if s["kind"] == "switch")
        shown = page.seek((switch["start_ms"] + 500) / 1000)
        assert (shown["phase"], shown["side"]) == ("Cambio de lado", "cambia al lado derecho")
        rest = next(s for s in segments if s["kind"] == "rest")
        shown = page.seek((rest["start_ms"] + 500) / 1000)
        assert shown["phase"] == "Descanso" and shown["side"].startswith("a continuación") and "quedan" in shown["next"]
        assert "ronda 1 de 2" in shown["where"]
        shown = page.seek(timeline(spanish)["duration_ms"] / 1000)
        assert (shown["phase"], shown["exercise"]) == ("Terminado", "¡Bien hecho!")
        assert page.page.text_content("#download") == "Descargar MP3"
    assert page.errors == []
