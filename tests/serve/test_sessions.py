"""What `coach serve` hosts is what `coach render` and `coach script --json` make."""

from __future__ import annotations

import json
from pathlib import Path

from coach.output import chapters
from coach.routine import loader
from coach.serve.sessions import Served, unique_slug
from coach.session import SpeechOptions, prepare
from tests.procs import coach

from .harness import SHORT


def test_the_audio_is_what_coach_render_writes(short: Served, tmp_path: Path) -> None:
    out = tmp_path / "rendered.mp3"
    result = coach("render", str(SHORT), "--engine", "fake", "-o", str(out), "-q", timeout=120)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == short.audio.read_bytes()


def test_the_timeline_is_coach_script_json_with_the_chapters(short: Served) -> None:
    served = json.loads(short.timeline)
    result = coach("script", str(SHORT), "--engine", "fake", "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    assert {k: v for k, v in served.items() if k != "chapters"} == json.loads(result.stdout)
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
