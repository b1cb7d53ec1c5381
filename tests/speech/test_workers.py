"""Speech worker processes stay light: pyttsx3's send PCM bytes, trimmed by the main process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from coach.speech import synth
from coach.speech.clip import Clip

WORKER = """\
import os, sys
from coach.routine.model import Voice
from coach.speech import synth
synth._init_worker("pyttsx3", os.getppid())
made = synth._work("Hinge as one unit.", Voice())
print(type(made).__name__, len(made[0]) if isinstance(made, tuple) else 0, "numpy" in sys.modules)
"""


@pytest.mark.tts
def test_a_pyttsx3_worker_never_imports_numpy() -> None:
    root = str(Path(synth.__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", WORKER], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    kind, size, numpy = done.stdout.split()
    assert (kind, numpy) == ("tuple", "False") and int(size) > 0


def test_what_a_worker_sends_is_trimmed_here() -> None:
    samples = np.concatenate([np.zeros(100, np.int16), np.full(50, 3000, np.int16), np.zeros(80, np.int16)])
    received = synth._received((samples.astype("<i2").tobytes(), 22050))
    assert received.rate == 22050 and np.array_equal(received.samples, Clip(samples, 22050).trimmed().samples)
    clip = Clip(np.full(10, 5000, np.int16), 16000)
    assert synth._received(clip) is clip  # a clip comes trimmed already
