"""The Piper engine with the real test voice: it speaks in its own workers, never beside pyttsx3."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from coach.errors import EngineError
from coach.routine.model import Voice
from coach.speech import piper, synth, voices
from coach.speech.cache import ClipCache
from coach.speech.clip import Clip
from coach.speech.engine import resolve_voice
from coach.speech.registry import choose
from tests.conftest import TEST_VOICE

pytestmark = pytest.mark.piper


def speak(texts: list[str], voice: Voice, engine_name: str = "piper") -> dict[str, Clip]:
    engine = choose(engine_name, voice, "en")
    return synth.synthesize_all(texts, engine, resolve_voice(engine, voice, "en"), ClipCache(None), jobs=2)


def gaps_ms(clip: Clip, at_least_ms: int) -> list[int]:
    """Lengths of the silent stretches inside a clip that last at least `at_least_ms`."""
    loud = np.abs(clip.samples.astype(np.int32)) > 200
    edges = np.flatnonzero(np.diff(loud.astype(np.int8)))
    runs = [(b - a) * 1000 // clip.rate for a, b in zip(edges[::2] + 1, edges[1::2] + 1) if not loud[a]]
    return [r for r in runs if r >= at_least_ms]


def test_piper_speaks_sentences_with_a_pause_and_follows_the_rate(piper_voices: Path) -> None:
    two = "Halfway there. Keep your back flat."
    clips = speak([two, "Halfway there."], Voice(TEST_VOICE))
    one = clips["Halfway there."]
    assert clips[two].rate == 22050
    assert 500 < one.duration_ms < 2500
    assert np.abs(one.samples.astype(np.int32)).max() > 3000
    assert gaps_ms(clips[two], piper.SENTENCE_PAUSE_MS - 20), "no pause between the sentences"
    slow = speak([two], Voice(TEST_VOICE, 120))[two]
    fast = speak([two], Voice(TEST_VOICE, 240))[two]
    # As with pyttsx3, whose 240 words a minute are 1.83 times as many as its 120 (measured).
    speech = lambda c: c.duration_ms - piper.SENTENCE_PAUSE_MS  # noqa: E731
    assert 1.6 < speech(slow) / speech(fast) < 2.1, (slow.duration_ms, fast.duration_ms)


def test_rate_means_the_same_words_per_minute_as_pyttsx3() -> None:
    assert piper.length_scale(None, 1.0) == 1.0
    # At the rate where eSpeak NG speaks the voice's natural words per minute, the natural scale.
    natural_rate = (piper.NATURAL_WPM - piper.ESPEAK_WPM[1]) / piper.ESPEAK_WPM[0]
    assert piper.length_scale(round(natural_rate), 1.0) == pytest.approx(1.0, abs=0.01)
    assert piper.length_scale(100, 1.0) > piper.length_scale(200, 1.0)


def test_the_cache_key_follows_versions_voice_files_and_settings(piper_voices: Path, tmp_path: Path) -> None:
    engine = choose("piper", Voice(TEST_VOICE), "en")
    voice = resolve_voice(engine, Voice(TEST_VOICE), "en")
    tag = engine.cache_tag(voice)
    assert "piper-tts" in tag and "onnxruntime" in tag and voices.digest(voices.model_path(TEST_VOICE)) in tag
    # The same model with another config is another voice.
    copy = tmp_path / "copy.onnx"
    copy.symlink_to(piper_voices / f"{TEST_VOICE}.onnx")
    config = (piper_voices / f"{TEST_VOICE}.onnx.json").read_text().replace('"noise_w": 0.8', '"noise_w": 0.5')
    (tmp_path / "copy.onnx.json").write_text(config)
    other = resolve_voice(engine, Voice(str(copy)), "en")
    assert other.name == str(copy)
    assert engine.cache_tag(other) != tag


def test_auto_takes_piper_only_with_a_voice_for_the_session(piper_voices: Path, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    assert choose("auto", Voice(), "en").name == "piper"
    assert choose("auto", Voice("en-us"), "en").name == "piper"  # a language both engines speak
    assert choose("auto", Voice(), "es").name == "pyttsx3"  # no Spanish Piper voice here
    monkeypatch.setenv("COACH_VOICES", str(tmp_path))
    assert choose("auto", Voice(), "en").name == "pyttsx3"


def test_an_unknown_voice_lists_the_installed_ones_and_how_to_download(piper_voices: Path) -> None:
    engine = choose("piper", Voice(), "en")
    with pytest.raises(EngineError) as caught:
        resolve_voice(engine, Voice("en_US-joe-low"), "en")
    text = str(caught.value)
    assert "no voice `en_US-joe-low`" in text and TEST_VOICE in text and "coach voices --download" in text
    with pytest.raises(EngineError, match="no Piper voice file"):
        resolve_voice(engine, Voice(str(piper_voices / "missing.onnx")), "en")
    done = subprocess.run([sys.executable, "-m", "coach", "say", "hi", "--voice", "en_GB-alan-low", "-o", "x.wav"],
                          capture_output=True, text=True, cwd=piper_voices)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "piper engine has no voice `en_GB-alan-low`" in done.stderr and TEST_VOICE in done.stderr


def test_a_piper_voice_without_piper_installed_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from coach.errors import ToolMissing
    from coach.speech import registry

    monkeypatch.setattr(registry, "piper_installed", lambda: False)
    with pytest.raises(ToolMissing, match=r"Piper engine is not installed.*coach\[piper\]"):
        choose("auto", Voice("en_US-lessac-medium"), "en")
    assert choose("auto", Voice(), "en").name == "pyttsx3"


BOTH = """\
import sys
from coach.routine.model import Voice
from coach.speech import synth
from coach.speech.cache import ClipCache
from coach.speech.engine import resolve_voice
from coach.speech.registry import get_engine
for name in sys.argv[1:]:
    engine = get_engine(name)
    voice = resolve_voice(engine, Voice(None), "en")
    clip = synth.synthesize_all(["Three, two, one, go."], engine, voice, ClipCache(None))["Three, two, one, go."]
    print(name, clip.duration_ms)
"""


@pytest.mark.tts
@pytest.mark.parametrize("order", [("pyttsx3", "piper", "pyttsx3"), ("piper", "pyttsx3", "piper")])
def test_both_engines_in_one_process_either_order(piper_voices: Path, order: tuple[str, ...]) -> None:
    """pyttsx3's eSpeak NG loaded first made Piper's phonemizer crash (exit 139) in one process."""
    done = subprocess.run([sys.executable, "-c", BOTH, *order], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    spoken = [line.split() for line in done.stdout.splitlines()]
    assert [name for name, _ in spoken] == list(order)
    assert all(400 < int(ms) < 3000 for _, ms in spoken), spoken


@pytest.mark.tts
@pytest.mark.parametrize("order", [("pyttsx3", "piper"), ("piper", "pyttsx3")])
def test_both_engines_in_this_pytest_process(piper_voices: Path, order: tuple[str, str]) -> None:
    for name in order:
        clip = speak(["Go."], Voice(None), name)["Go."]
        assert 100 < clip.duration_ms < 2000


def test_help_and_voices_import_neither_piper_nor_onnxruntime(piper_voices: Path) -> None:
    probe = (
        "import sys\nfrom coach.cli import main\nsys.argv = ['coach'] + sys.argv[1:]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('LOADED', sorted(m for m in ('piper', 'onnxruntime') if m in sys.modules))"
    )
    for args in (["--help"], ["voices", "--engine", "piper"], ["check"]):
        done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True)
        assert done.stdout.strip().endswith("LOADED []"), (args, done.stdout[-300:], done.stderr[-300:])


def test_voices_lists_installed_piper_voices_first_with_quality_and_licence(piper_voices: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "coach", "voices", "--language", "en"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["piper", TEST_VOICE]
    assert "medium" in lines[0] and "CC0" in lines[0] and "lessac" in lines[0]
    assert any(line.startswith("pyttsx3") for line in lines[1:])


def test_workers_are_bounded_by_the_memory_of_the_process_tree(piper_voices: Path) -> None:
    engine = choose("piper", Voice(TEST_VOICE), "en")
    medium = resolve_voice(engine, Voice(TEST_VOICE), "en")
    assert engine.max_workers(medium) == 2  # 70 MB + 2 x 261 MB; three would pass 600 MB
    model_mb = voices.model_path(TEST_VOICE).stat().st_size / 1e6
    assert piper.MAIN_MB + 2 * (piper.WORKER_BASE_MB + 2 * model_mb) <= piper.TREE_BUDGET_MB


WORKER_PEAK = """
import sys
from coach.routine import loader
from coach.routine.model import Voice
from coach.session import SpeechOptions, wording
from coach.plan import compiler
from coach.speech.registry import get_engine
routine = loader.load(None)
requests = compiler.compile_routine(routine, wording(routine, SpeechOptions(engine="piper"))).requests
texts = sorted({r.speech for r in requests}, key=len, reverse=True)[:12]
engine = get_engine("piper")
for text in texts:
    engine.synthesize(text, Voice(sys.argv[1]))
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is Linux's")
def test_a_worker_stays_within_the_memory_its_bound_allows_for(piper_voices: Path) -> None:
    """A process speaking the built-in session's longest cues as a worker does peaks under the
    memory max_workers allows each worker: the bound is measured, not hoped for."""
    done = subprocess.run([sys.executable, "-c", WORKER_PEAK, TEST_VOICE], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]
    peak_mb = int(done.stdout.split()[-1]) * 1024 / 1e6
    model_mb = voices.model_path(TEST_VOICE).stat().st_size / 1e6
    assert peak_mb <= piper.WORKER_BASE_MB + 2 * model_mb, peak_mb
