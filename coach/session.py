"""The pipeline in one place: routine -> timeline -> clips -> placed cues -> mixdown -> sink.

The CLI and the player call these; each step lives in its own module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from coach.plan import compiler
from coach.plan.scheduler import Cue, Schedule, schedule
from coach.plan.timeline import Timeline
from coach.routine import phrasebooks
from coach.routine.model import Routine, Voice
from coach.routine.wording import Phrasebook
from coach.speech.cache import ClipCache, default_dir
from coach.speech.clip import Clip
from coach.speech.engine import Engine, resolve_voice
from coach.speech.registry import AUTO, choose

if TYPE_CHECKING:  # mixing and synthesis bring numpy: imported where they run
    from coach.audio.mixdown import Mixdown

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SpeechOptions:
    engine: str = AUTO
    voice: Voice = Voice()
    phrases: str | Path | None = None
    language: str | None = None
    cache_dir: str | Path | None = None
    no_cache: bool = False
    jobs: int | None = None


@dataclass(frozen=True)
class Session:
    routine: Routine
    book: Phrasebook
    voice: Voice
    timeline: Timeline
    schedule: Schedule
    clips: Mapping[str, Clip]  # a ClipStore from `prepare`: read from disk as they are needed
    cache_dir: Path | None = None  # the clip cache's folder, where a render also remembers its mastering
    speaker: str = ""  # which engine and voice spoke, for the summary line


    @property
    def cues(self) -> tuple[Cue, ...]:
        return self.schedule.cues

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.schedule.warnings

    def used_clips(self) -> Mapping[str, Clip]:
        """The clips of the placed cues (dropped cues' clips are synthesised but never heard)."""
        used = {c.speech for c in self.cues}
        from coach.speech.store import ClipStore

        if isinstance(self.clips, ClipStore):
            return self.clips.only(used)
        return {k: v for k, v in self.clips.items() if k in used}

    def mixdown(self, rate: int) -> Mixdown:
        from coach.audio.mixdown import Mixdown

        return Mixdown(self.cues, self.used_clips(), self.timeline.duration_ms, rate)

    def mastered_mixdown(self, rate: int) -> Mixdown:
        """The mixdown at the loudness a rendered file has (-16 LUFS, true peaks under -1 dBTP),
        every clip limited in advance: what `coach play` plays."""
        from coach.audio import mastering

        mix, _ = mastering.master(self.mixdown(rate), margin_db=mastering.CODEC_MARGIN_DB["wav"])
        mix.prepare_clips()
        return mix

    def to_json(self) -> dict[str, object]:
        """The `coach script --json` contract."""
        return {
            "title": self.timeline.title,
            "duration_ms": self.timeline.duration_ms,
            "segments": self.timeline.segments_json(),
            "cues": [{"start_ms": c.start_ms, "end_ms": c.end_ms, "kind": c.kind, "text": c.text} for c in self.cues],
        }


def wording(routine: Routine, options: SpeechOptions) -> Phrasebook:
    return phrasebooks.effective(routine, options.phrases, options.language)


def voice_for(routine: Routine, book: Phrasebook, options: SpeechOptions) -> Voice:
    """Which voice speaks, most specific first.

    Name: `--voice`; the routine's `voice:` name, while the session is in the routine's own
    language (a voice picked for English should not read Spanish words); the phrasebook's voice
    for the language; the language itself. Rate and volume: the flags, then the routine's; the
    phrasebook's rate (about 160 words a minute) when neither says.
    """
    name = options.voice.name
    if name is None and _same_language(routine.language, book.language):
        name = routine.voice.name
    if name is None:
        name = book.voice or book.language or None
    settings = Voice(rate=book.rate).merged(routine.voice).merged(options.voice)
    return Voice(name, settings.rate, settings.volume)


def _same_language(a: str, b: str) -> bool:
    """es and es-419 are the same language for choosing a voice."""
    return not b or phrasebooks.base_language(a) == phrasebooks.base_language(b)


def open_engine(options: SpeechOptions, wanted: Voice, language: str) -> Engine:
    """The engine `--engine` names; for `auto`, Piper if it has a voice for this, else pyttsx3."""
    return choose(options.engine, wanted, language)


def speaker(engine: Engine, voice: Voice) -> str:
    """`piper en_US-joe-medium`: the engine, and the voice's name without its folder."""
    name = Path(voice.name).name.removesuffix(".onnx") if voice.name and voice.name.endswith(".onnx") else voice.name
    return f"{engine.name} {(name or 'default').rsplit('/', 1)[-1]}"


def cache_for(options: SpeechOptions) -> ClipCache:
    if options.no_cache:
        return ClipCache(None)
    return ClipCache(options.cache_dir if options.cache_dir is not None else default_dir())


def prepare(routine: Routine, options: SpeechOptions, progress: Progress | None = None, engine: Engine | None = None) -> Session:
    """Everything up to placed cues: all speech is synthesised (or read from cache) here."""
    book = wording(routine, options)
    timeline = compiler.compile_routine(routine, book)
    language = book.language or routine.language
    wanted = voice_for(routine, book, options)
    engine = engine or open_engine(options, wanted, language)
    voice = resolve_voice(engine, wanted, language)
    cache = cache_for(options)
    from coach.speech.synth import synthesize_all  # with numpy: the up-to-date check needs neither

    clips = synthesize_all((r.speech for r in timeline.requests), engine, voice, cache, progress, options.jobs)
    lengths = {text: clips.duration_ms(text) for text in clips}
    placed = schedule(timeline.requests, lengths, timeline.duration_ms)
    return Session(routine, book, voice, timeline, placed, clips, cache.folder, speaker(engine, voice))
