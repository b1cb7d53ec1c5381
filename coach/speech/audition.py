"""`coach say`: hear one phrase, or one cue kind's wording, with the current voice settings."""

from __future__ import annotations

import wave
from pathlib import Path

from coach.errors import CoachError, suggest
from coach.files import atomic_write, check_outputs, write_error
from coach.routine.model import Routine
from coach.routine.wording import CUE_KINDS, PLACEHOLDERS
from coach.session import SpeechOptions, cache_for, open_engine, voice_for, wording
from coach.speech.engine import resolve_voice
from coach.speech.synth import check_length, synthesize_all

SAMPLE_CONTEXT = {
    "title": "Lower-Back Strength", "total": 960_000, "block": "Strength", "round": 2, "rounds": 3,
    "exercise": "", "work": 40_000, "rest": 15_000, "seconds": 10_000, "count": 3, "side": "left",
    "next": "Glute bridge", "tip": "Tail tucked, glutes in line with your back.", "reps": 10, "blocks": 2,
}


def say(text: str | None, options: SpeechOptions, output: Path | None, kind: str | None = None,
        exercise: str = "Plank to bear", device: str | None = None) -> str:
    routine = Routine(title="say", blocks=())
    book = wording(routine, options)
    if kind is not None:
        if kind not in CUE_KINDS:
            raise CoachError(f"unknown cue kind `{kind}`", suggest(kind, CUE_KINDS) or f"kinds: {', '.join(CUE_KINDS)}")
        ctx = dict(SAMPLE_CONTEXT, exercise=exercise, next=exercise)
        words = {
            "total": book.duration(960_000), "work": book.duration(40_000), "rest": book.duration(15_000),
            "seconds": book.duration(10_000), "count": book.number(3), "side": book.side("left"),
            "reps": book.reps(10), "round": book.number(2), "rounds": book.number(3), "blocks": book.number(2),
        }
        ctx.update(words)
        text = book.render(kind, {k: v for k, v in ctx.items() if k in PLACEHOLDERS[kind]}, 0)
        if text is None:
            raise CoachError(f"cue kind `{kind}` is silenced in this wording")
    if not text:
        raise CoachError("nothing to say", "give TEXT or --kind KIND")
    if output is not None:  # before any speech work
        check_outputs([output], [("the phrasebook", Path(options.phrases))] if options.phrases else [])
    wanted = voice_for(routine, book, options)
    engine = open_engine(options, wanted, book.language)
    voice = resolve_voice(engine, wanted, book.language)
    speech = book.spoken(text)
    check_length(speech)
    clip = synthesize_all([speech], engine, voice, cache_for(options))[speech]
    if output is not None:
        try:
            with atomic_write(output) as tmp, wave.open(str(tmp), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(clip.rate)
                w.writeframes(clip.samples.astype("<i2").tobytes())
        except OSError as exc:
            raise write_error(exc, output) from None
        return text
    from coach.live.sink import play_clip

    play_clip(clip, device)
    return text
