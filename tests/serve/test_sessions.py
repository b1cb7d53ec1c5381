"""What `coach serve` hosts is what `coach render` and `coach script --json` make."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from coach.output import chapters
from coach.routine import loader
from coach.serve import sessions
from coach.serve.sessions import Served, unique_slug
from coach.session import SpeechOptions, prepare
from tests.procs import coach

from .harness import SHORT, render_all


def test_the_audio_is_what_coach_render_writes(short: Served, tmp_path: Path) -> None:
    out = tmp_path / "rendered.mp3"
    result = coach("render", str(SHORT), "--engine", "fake", "-o", str(out), "-q", timeout=120)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == short.audio.read_bytes()


def test_the_timeline_is_coach_script_json_with_the_chapters(short: Served) -> None:
    served = json.loads(short.timeline)
    result = coach("script", str(SHORT), "--engine", "fake", "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    assert {k: v for k, v in served.items() if k not in ("chapters", "language", "sides")} == json.loads(result.stdout)
    assert (served["language"], served["sides"]) == ("en", {"left": "left side", "right": "right side"})
    session = prepare(loader.load(SHORT), SpeechOptions(engine="fake"))
    expected = chapters.chapters(session.timeline, session.book, "exercise")
    assert served["chapters"] == [{"start_ms": c.start_ms, "end_ms": c.end_ms, "title": c.title} for c in expected]


def test_the_summary_describes_the_routine(short: Served) -> None:
    routine = loader.load(SHORT)
    summary = short.summary()
    assert (summary["title"], summary["description"], summary["slug"]) == (routine.title, routine.description, routine.slug)
    assert summary["blocks"] == [{"name": "Core", "rounds": 2, "exercises": 2}]
    assert short.cover.startswith(b"\xff\xd8") and short.cover_mime == "image/jpeg"  # the cover the render drew


def test_two_routines_with_one_title_get_two_names() -> None:
    assert unique_slug("core", []) == "core"
    assert unique_slug("core", ["core"]) == "core-2"
    assert unique_slug("core", ["core", "core-2"]) == "core-3"


def test_a_render_kept_from_the_last_start_is_served_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    first = render_all([str(SHORT)], sessions.served_folder(cache, tmp_path), cache)[0]
    assert first.audio.parent == cache / sessions.FOLDER
    before = first.audio.read_bytes()

    def no_render(*args: object, **kwargs: object) -> None:
        raise AssertionError("rendered again")

    monkeypatch.setattr(sessions, "render", no_render)
    again = render_all([str(SHORT)], sessions.served_folder(cache, tmp_path), cache)[0]
    assert again.audio == first.audio and again.audio.read_bytes() == before and again.timeline == first.timeline

    first.audio.write_bytes(before[:-1000])  # changed by someone else: rendered again
    with pytest.raises(AssertionError, match="rendered again"):
        render_all([str(SHORT)], sessions.served_folder(cache, tmp_path), cache)


def test_only_the_most_recently_served_are_kept(tmp_path: Path) -> None:
    folder = sessions.served_folder(tmp_path, tmp_path / 'scratch')
    made = []
    for n in range(sessions.KEEP + 3):
        path = folder / f"session-{n}.{n:016x}.mp3"
        path.write_bytes(b"ID3")
        os.utime(path, ns=(n * 10**9, n * 10**9))
        made.append(path)
    (folder / "mine.txt").write_text("not coach's")
    rendering = folder / ".session-x.0000000000000000.mp3.k3x_9q2m.part"  # another server's render in progress
    rendering.write_bytes(b"ID3")
    assert sessions.prune(tmp_path) == 3
    assert rendering.exists()
    rendering.unlink()
    assert {p for p in folder.iterdir() if p.suffix == ".mp3"} == set(made[3:])
    assert sessions.stats(tmp_path) == (sessions.KEEP, 3 * sessions.KEEP)
    assert sessions.clear(tmp_path) == sessions.KEEP
    assert [p.name for p in folder.iterdir()] == ["mine.txt"]


def test_a_cache_folder_that_cannot_hold_them_serves_from_the_scratch_folder(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert sessions.served_folder(blocked, tmp_path / "scratch") == tmp_path / "scratch"
    assert sessions.served_folder(None, tmp_path / "scratch") == tmp_path / "scratch"
