"""Which ffmpeg coach uses: the bundled one, whatever else is on PATH, so that output and
measurements hold with any system ffmpeg; and a file that another ffmpeg encodes still decodes
to the samples sent."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from coach import tools


@pytest.fixture
def fresh() -> object:
    tools.ffmpeg_path.cache_clear()
    yield
    tools.ffmpeg_path.cache_clear()


def test_the_bundled_ffmpeg_comes_before_one_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     fresh: object) -> None:
    import imageio_ffmpeg

    impostor = tmp_path / "ffmpeg"
    impostor.write_text("#!/bin/sh\nexit 1\n")
    impostor.chmod(0o755)
    monkeypatch.delenv("COACH_FFMPEG", raising=False)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert tools.ffmpeg_path() == imageio_ffmpeg.get_ffmpeg_exe()
    tools.ffmpeg_path.cache_clear()
    monkeypatch.setenv("COACH_FFMPEG", str(impostor))
    assert tools.ffmpeg_path() == str(impostor)  # asked for by name: that one


def _system_ffmpeg() -> str:
    import imageio_ffmpeg

    found = shutil.which("ffmpeg")
    if not found or os.path.realpath(found) == os.path.realpath(imageio_ffmpeg.get_ffmpeg_exe()):
        pytest.skip("no system ffmpeg besides the bundled one (put one first on PATH to run this)")
    return found


@pytest.mark.parametrize("fmt", ["m4a", "ogg", "mp3"])
def test_a_file_the_system_ffmpeg_encodes_holds_the_samples_sent(tmp_path: Path, fmt: str, fresh: object,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import decode

    from coach.output import encode

    system = _system_ffmpeg()
    rate, frames = 22050, 22050 * 7
    tone = (np.sin(np.arange(frames) * 0.05) * 8000).astype(np.int16)
    out = tmp_path / f"s.{fmt}"
    monkeypatch.setenv("COACH_FFMPEG", system)
    encode.write([tone], out, encode.EncodeOptions(fmt, rate, 1, "64k"))
    monkeypatch.delenv("COACH_FFMPEG")
    tools.ffmpeg_path.cache_clear()  # decoded by the bundled ffmpeg, as coach measures it
    samples = decode(out, rate)
    assert len(samples) == frames, (subprocess.run([system, "-version"], capture_output=True, text=True).stdout[:40])
