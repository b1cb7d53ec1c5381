"""The neural engine: Piper (VITS voices as ONNX files), an optional extra: `pip install "coach[piper]"`.

Traps handled here: Piper's phonemizer crashes (SIGSEGV) in a process where pyttsx3's eSpeak NG
library was loaded RTLD_GLOBAL first, so this engine is `isolated`: it speaks only in worker
processes of its own, and the process that lists and chooses voices imports neither piper nor
onnxruntime. It samples noise, so the same text twice differs: the cache key carries the versions,
the voice files' hash and every setting. One onnxruntime thread a worker (faster than its pool on
shared cores), and about 250 MB a worker with a medium voice: workers are bounded by memory. Piper leaves no
pause between sentences: coach puts one in.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coach.errors import EngineError, ToolMissing
from coach.routine.model import Voice
from coach.speech import voices
from coach.speech.clip import Clip
from coach.speech.engine import VoiceInfo

if TYPE_CHECKING:  # imported where it speaks: choosing the engine (`auto`) needs no numpy
    import numpy as np

INSTALL_HINT = 'install it with `pip install "coach[piper]"`'
SENTENCE_PAUSE_MS = 300
# --rate means the same words per minute as with pyttsx3. Measured on the built-in session's cues
# (trimmed clips, pauses included): eSpeak NG at rate R speaks ESPEAK_WPM[0] * R + ESPEAK_WPM[1]
# words a minute (143.5 at 150, 165.6 at 175, 184.6 at 200); the Piper test voice speaks
# NATURAL_WPM at its own length scale, and words per minute go as length_scale ** -RATE_EXPONENT
# (233 at 0.7, 178 at 1.0, 138 at 1.4: durations are rounded up per phoneme, so not as 1/x).
ESPEAK_WPM = (0.822, 20.2)
NATURAL_WPM = 178.0
RATE_EXPONENT = 0.76
# A render's whole process tree stays under TREE_BUDGET_MB. Measured with the 63 MB medium test voice
# over the built-in session's cues: the main process at 53 MB, multiprocessing's resource tracker at
# 15 MB, and a worker at 240-261 MB (VmHWM) without onnxruntime's arena and with large blocks
# returned to the system (see _large_blocks_returned); with the arena a worker kept 263-295 MB and
# two made 568-634 MB. Two workers now make 530 MB (the tree's peak); a low voice (20-30 MB) gets three.
TREE_BUDGET_MB = 600
WORKER_BASE_MB = 135  # plus twice the model file
MAIN_MB = 70
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD = 1 << 20  # bytes


def _large_blocks_returned() -> None:
    """Have this process's malloc (glibc's) map each block of MMAP_THRESHOLD or more on its own and
    unmap it when freed. A voice's tensors change size with every sentence; on the heap they
    fragment it, and a worker without onnxruntime's arena grew to 300-430 MB. The cost is page
    faults: 4.5 million over the built-in session's cues, 6 s of system time beside 13.7 s of user
    time, which two workers share. Other C libraries: left alone."""
    import ctypes
    import ctypes.util
    import platform

    name = ctypes.util.find_library("c") if platform.libc_ver()[0] == "glibc" else None
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def looks_like_piper_voice(name: str) -> bool:
    return name.endswith(".onnx") or voices.NAME.fullmatch(name) is not None


def length_scale(rate: int | None, natural: float) -> float:
    """Piper's length scale for a rate in words per minute (None: the voice's own pace)."""
    if not rate:
        return natural
    wpm = ESPEAK_WPM[0] * rate + ESPEAK_WPM[1]
    return round(natural * (NATURAL_WPM / wpm) ** (1 / RATE_EXPONENT), 4)


class PiperEngine:
    name = "piper"
    isolated = True

    def __init__(self) -> None:
        self.folder = voices.default_dir()
        try:
            self.version = f"piper-tts {dist_version('piper-tts')}, onnxruntime {dist_version('onnxruntime')}"
        except PackageNotFoundError:
            raise ToolMissing("the Piper speech engine is not installed", INSTALL_HINT) from None
        self._loaded: tuple[Path, Any] | None = None

    def voices(self) -> list[VoiceInfo]:
        return voices.installed(self.folder)

    def voice_from_file(self, path: Path) -> VoiceInfo:
        return voices.describe(path, str(path.absolute()))  # not resolve(): its config is the one beside this name

    def voice_help(self) -> str:
        have = [v.id for v in self.voices()]
        where = f"installed in {self.folder}: {', '.join(have)}" if have else f"no voice is installed in {self.folder}"
        return f"{where}; get one with `coach voices --download NAME` (e.g. en_US-lessac-medium), or give a path to an .onnx file"

    def max_workers(self, voice: Voice) -> int:
        model_mb = voices.model_path(voice.name or "").stat().st_size / 1e6
        return max(1, int((TREE_BUDGET_MB - MAIN_MB) // (WORKER_BASE_MB + 2 * model_mb)))

    def cache_tag(self, voice: Voice) -> str:
        model = voices.model_path(voice.name or "")
        try:
            files = voices.digest(model)
        except OSError as exc:
            raise EngineError(f"cannot read the Piper voice {model}: {exc.strerror}") from None
        return f"{self.version}, voice {files}, pause {SENTENCE_PAUSE_MS} ms, rate model {ESPEAK_WPM}/{NATURAL_WPM}/{RATE_EXPONENT}"

    def synthesize(self, text: str, voice: Voice) -> Clip:
        piper = self._voice(voices.model_path(voice.name or ""))
        import numpy as np
        from piper import SynthesisConfig

        settings = SynthesisConfig(
            length_scale=length_scale(voice.rate, piper.config.length_scale),
            volume=voice.volume if voice.volume is not None else 1.0,
            normalize_audio=False,  # one level for every sentence and clip; mastering sets the loudness
        )
        rate = piper.config.sample_rate
        pause = np.zeros(SENTENCE_PAUSE_MS * rate // 1000, dtype=np.int16)
        parts: list[np.ndarray] = []
        for chunk in piper.synthesize(text, settings):
            sentence = Clip(chunk.audio_int16_array, rate).trimmed().samples
            if len(sentence):
                parts += [pause, sentence] if parts else [sentence]
        return Clip(np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16), rate)

    def _voice(self, model: Path) -> Any:
        """The loaded voice (one at a time: each takes a few hundred MB)."""
        if self._loaded is not None and self._loaded[0] == model:
            return self._loaded[1]
        try:
            import onnxruntime
            from piper import PiperConfig, PiperVoice
        except ImportError:
            raise ToolMissing("the Piper speech engine is not installed", INSTALL_HINT) from None
        try:
            config = json.loads(model.with_name(model.name + ".json").read_text(encoding="utf-8"))
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            # No arena: onnxruntime's grows by powers of two and keeps every block (35-65 MB more a worker).
            options.enable_cpu_mem_arena = False
            _large_blocks_returned()
            session = onnxruntime.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
            loaded = PiperVoice(session=session, config=PiperConfig.from_dict(config))
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise EngineError(f"cannot load the Piper voice {model.name}: {exc}") from None
        self._loaded = (model, loaded)
        return loaded
