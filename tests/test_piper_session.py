"""The built-in session spoken by Piper (the test voice installed): the default engine picks it, cues
land on time in the decoded MP3, at the loudness target, and live play takes the same clips."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coach import defaults
from coach.audio import ebur128
from coach.routine import loader
from coach.session import SpeechOptions, prepare
from coach.speech import synth
from tests.conftest import TEST_VOICE, decode, onsets

pytestmark = [pytest.mark.piper, pytest.mark.slow, pytest.mark.ffmpeg]


def test_render_with_piper_by_default_and_play_reuses_its_clips(piper_voices: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "lower-back.mp3"
    done = subprocess.run([sys.executable, "-m", "coach", "render", "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"voice: piper {TEST_VOICE}" in done.stderr, done.stderr
    script = subprocess.run([sys.executable, "-m", "coach", "script", "--json"], capture_output=True, text=True)
    cues = json.loads(script.stdout)["cues"]
    samples = decode(out)
    assert len(samples) == json.loads(script.stdout)["duration_ms"] * 44100 // 1000
    errors = onsets(samples, cues)
    assert max(abs(e) for e in errors) <= 20, errors
    level = ebur128.measure_file(out)
    assert abs(level.integrated - defaults.TARGET_LUFS) <= 0.5 and level.true_peak <= defaults.CEILING_DBTP + 0.05, level

    # Live play takes the same clips: nothing in the cache is made again (Piper would not make
    # the same samples twice), and it says the same voice speaks.
    cache = Path(os.environ["COACH_CACHE_DIR"])
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*.wav")}
    done = subprocess.run([sys.executable, "-m", "coach", "play", "--device", "null", "--from", "15:56"],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"playing on null (voice: piper {TEST_VOICE})" in done.stderr and "session complete" in done.stderr, done.stderr
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.wav")} == before

    # `coach play` prepares the same way: every clip comes from the cache, no Piper worker starts.
    def no_synthesis(*args: object) -> None:
        raise AssertionError("a clip was synthesised again")

    monkeypatch.setattr(synth, "_in_workers", no_synthesis)
    session = prepare(loader.load(None), SpeechOptions())
    assert session.speaker == f"piper {TEST_VOICE}"
    assert [(c.start_ms, c.end_ms) for c in session.cues] == [(c["start_ms"], c["end_ms"]) for c in cues]
