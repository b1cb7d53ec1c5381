"""The command line: parse arguments, call the library, turn CoachErrors into one-line messages."""

from __future__ import annotations

import io
import json
import math
import os
import sys
import warnings
from pathlib import Path
from typing import TextIO

import typer

from coach import __version__
from coach.errors import CoachError, one_line

app = typer.Typer(
    help="coach: workout routines in YAML become spoken, timed sessions, live or as one MP3.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

MAX_WARNINGS = 20  # shown one a line; past that, counted
ROUTINE_HELP = "Routine YAML file or built-in routine name (default: lower-back)."
RoutineArg = typer.Argument(None, help=ROUTINE_HELP, show_default=False)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"coach {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """coach: workout routines in YAML become spoken, timed sessions, live or as one MP3."""


def _speech_options(
    engine: str, voice: str | None, rate: int | None, volume: float | None,
    phrases: Path | None, language: str | None, cache_dir: Path | None, no_cache: bool,
):  # type: ignore[no-untyped-def]
    from coach.routine.model import Voice
    from coach.session import SpeechOptions

    return SpeechOptions(
        engine=engine, voice=Voice(voice, rate, volume), phrases=phrases, language=language,
        cache_dir=cache_dir, no_cache=no_cache,
    )


def _finite(value: float | None) -> float | None:
    """nan passes every range check: refused here, with the option's name (typer adds it)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a number")
    return value


# Options shared by every command that speaks.
EngineOpt = typer.Option("pyttsx3", "--engine", help="Speech engine: pyttsx3, or fake (a tone, for trying things out).")
VoiceOpt = typer.Option(None, "--voice", help="Voice name as `coach voices` lists it.")
RateOpt = typer.Option(None, "--rate", help="Speaking rate in words per minute.", min=50, max=500)
VolumeOpt = typer.Option(None, "--volume", help="Voice volume, 0 to 1.", min=0.0, max=1.0, callback=_finite)
PhrasesOpt = typer.Option(None, "--phrases", help="A phrasebook YAML file with your own wording.")
LanguageOpt = typer.Option(None, "--language", help="Built-in wording language (en, es).")
CacheOpt = typer.Option(None, "--cache-dir", envvar="COACH_CACHE_DIR", help="Cache folder: speech clips and remembered mastering.")
NoCacheOpt = typer.Option(False, "--no-cache", help="Do not read or write the speech clip cache.")


def _prepare(routine_arg: str | None, options, quiet: bool = False):  # type: ignore[no-untyped-def]
    from coach import progress
    from coach.routine import loader
    from coach.session import prepare

    routine = loader.load(routine_arg)
    with progress.bar("Preparing speech", None if not quiet else False) as update:
        session = prepare(routine, options, update)
    shown = session.warnings[:MAX_WARNINGS]
    for warning in shown:
        typer.echo(f"warning: {warning}", err=True)
    if len(session.warnings) > len(shown):
        typer.echo(f"warning: ... and {len(session.warnings) - len(shown):,} more warnings like these "
                   "(`coach script` shows every cue)", err=True)
    return session


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@app.command()
def render(
    routine: str | None = RoutineArg,
    output: Path | None = typer.Option(None, "-o", "--output", help="Output file (default: ROUTINE.mp3 here)."),
    format: str | None = typer.Option(None, "--format", help="mp3 (default), m4a, ogg or wav; default from the output's extension."),
    bitrate: str | None = typer.Option(None, "--bitrate", help="Encoder bitrate, e.g. 96k (default: 64k voice only, 128k with music)."),
    sample_rate: int = typer.Option(44100, "--sample-rate", help="Sample rate in Hz.", min=8000, max=96000),
    chapters: str = typer.Option("exercise", "--chapters", help="Chapters: exercise (each side and round), block, or none."),
    cover: Path | None = typer.Option(None, "--cover", help="Cover image (JPEG or PNG; default: one drawn from the routine)."),
    subtitles: str | None = typer.Option(
        None, "--subtitles", help="Also write the cue text beside the audio: vtt, srt, lrc (comma-separated)."),
    loudness: float = typer.Option(-16.0, "--loudness", help="Target integrated loudness in LUFS.", min=-40.0, max=-6.0,
                                  callback=_finite),
    music: Path | None = typer.Option(None, "--music", help="Music under the session: an audio file, or a folder played in name order."),
    music_level: float = typer.Option(-18.0, "--music-level", help="Music loudness relative to the voice, in dB.",
                                     min=-60.0, max=0.0, callback=_finite),
    duck: float = typer.Option(12.0, "--duck", help="How far the music dips under speech, in dB.", min=0.0, max=60.0,
                              callback=_finite),
    beeps: bool = typer.Option(False, "--beeps", help="Pips on the countdown and a tone on go."),
    marks: bool = typer.Option(False, "--marks", help="A soft tone where each work and rest starts."),
    engine: str = EngineOpt, voice: str | None = VoiceOpt, rate: int | None = RateOpt,
    volume: float | None = VolumeOpt, phrases: Path | None = PhrasesOpt, language: str | None = LanguageOpt,
    cache_dir: Path | None = CacheOpt, no_cache: bool = NoCacheOpt,
    jobs: int | None = typer.Option(None, "-j", "--jobs", min=1, max=64,
                                       help="Processes for speech and MP3 encoding (default: one per core, at most 4)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress or summary."),
) -> None:
    """Render a routine to one audio file (MP3 by default) with chapters, tags, cover and cue text."""
    from dataclasses import replace

    from coach import progress
    from coach.output import encode
    from coach.output.render import RenderOptions, check_render
    from coach.output.render import render as render_file
    from coach.routine import loader
    from coach.routine.durations import format_clock

    name = routine or "lower-back"
    stem = Path(name).stem if Path(name).suffix in (".yaml", ".yml") else Path(name).name
    fmt = format or (output.suffix.lstrip(".").lower() if output and output.suffix else "mp3")
    out = output or Path(f"{stem}.{fmt}")
    if fmt not in encode.FORMATS:
        raise CoachError(f"unknown format `{fmt}`", f"formats: {', '.join(encode.FORMATS)}")
    jobs = _capped_jobs(jobs)
    options = RenderOptions(
        fmt, sample_rate, bitrate, chapters, cover, tuple(dict.fromkeys(s.strip() for s in (subtitles or "").split(",") if s.strip())),
        loudness, music=music, music_level=music_level, duck=duck, beeps=beeps, marks=marks, jobs=jobs,
    )
    loader.load(routine)  # bad routines fail before any check of tools or output
    # a bad cover or music file, or an output over an input, fails before any speech work
    check_render(out, options, _reads(routine, phrases))
    speech = _speech_options(engine, voice, rate, volume, phrases, language, cache_dir, no_cache)
    session = _prepare(routine, replace(speech, jobs=jobs), quiet)
    with progress.bar("Rendering", None if not quiet else False) as update:
        report = render_file(session, out, options, update)
    if not quiet:
        typer.echo(f"wrote {one_line(str(out))} ({format_clock(session.timeline.duration_ms)}, {len(session.cues)} cues, "
                   f"{_count(len(report.chapters), 'chapter') if fmt != 'wav' else 'no chapters in WAV'}, "
                   f"{report.measured.integrated:.1f} LUFS, "
                   f"{report.measured.true_peak:.1f} dBTP)", err=True)
        for path in report.sidecars:
            typer.echo(f"wrote {one_line(str(path))}", err=True)


WORKER_BYTES = 100_000_000  # what one speech worker process takes, about (engine, numpy, the clips)


def _capped_jobs(jobs: int | None) -> int | None:
    """--jobs, at most one per core and as many as the free memory holds, said when it is cut."""
    if jobs is None:
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    limit, why = cores, f"{_count(cores, 'core')}"
    free = _available_memory()
    if free is not None and free // WORKER_BYTES < limit:
        limit, why = max(1, free // WORKER_BYTES), f"{free / 1e9:.1f} GB of free memory"
    if jobs <= limit:
        return jobs
    typer.echo(f"coach: warning: --jobs {jobs}: using {limit} ({why} here)", err=True)
    return limit


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _reads(routine: str | None, phrases: Path | None) -> list[tuple[str, Path]]:
    """The files a command reads besides its media: the routine (unless built in), the phrasebook."""
    reads = [("the routine", Path(routine))] if routine is not None and Path(routine).exists() else []
    return reads + ([("the phrasebook", phrases)] if phrases is not None else [])


@app.command()
def script(
    routine: str | None = RoutineArg,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    engine: str = EngineOpt, voice: str | None = VoiceOpt, rate: int | None = RateOpt,
    volume: float | None = VolumeOpt, phrases: Path | None = PhrasesOpt, language: str | None = LanguageOpt,
    cache_dir: Path | None = CacheOpt, no_cache: bool = NoCacheOpt,
) -> None:
    """Show the cue sheet: when each cue is spoken, its kind and its words."""
    session = _prepare(routine, _speech_options(engine, voice, rate, volume, phrases, language, cache_dir, no_cache), as_json)
    if as_json:
        typer.echo(json.dumps(session.to_json(), indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    from coach.routine.durations import format_stamp

    table = Table(title=f"{session.routine.title} — {format_stamp(session.timeline.duration_ms)}")
    table.add_column("time", justify="right")
    table.add_column("during")
    table.add_column("kind")
    table.add_column("text")
    for cue in session.cues:
        during = session.timeline.segment_at(cue.start_ms).label()
        table.add_row(format_stamp(cue.start_ms), during, cue.kind, cue.text)
    Console(width=None if sys.stdout.isatty() else 120).print(table)


@app.command()
def check(routine: str | None = RoutineArg) -> None:
    """Validate a routine; print its total time, blocks and exercises."""
    from coach.plan import compiler
    from coach.routine import loader
    from coach.routine.durations import format_clock

    r = loader.load(routine)
    total = compiler.total_ms(r)
    exercises = sum(len(b.exercises) for b in r.blocks)
    typer.echo(f"{r.source}: OK — {r.title}")
    typer.echo(f"total {format_clock(total)}, {_count(len(r.blocks), 'block')}, {_count(exercises, 'exercise')}")
    for block in r.blocks:
        rounds = f" x{block.rounds}" if block.rounds > 1 else ""
        names = ", ".join(e.name for e in block.exercises)
        typer.echo(f"  {block.name}{rounds}: {names}")


@app.command()
def phrases(
    routine: str | None = typer.Argument(
        None, help="Show the wording for this routine (file or built-in name), its `cues:` applied.", show_default=False
    ),
    language: str | None = LanguageOpt,
    book: Path | None = PhrasesOpt,
) -> None:
    """Print the effective wording as a phrasebook YAML to edit and use with --phrases FILE."""
    from coach.routine import loader, phrasebooks

    typer.echo(phrasebooks.show(loader.load(routine) if routine else None, book, language), nl=False)


@app.command()
def voices(
    language: str | None = typer.Option(None, "--language", help="Only voices for this language (e.g. es)."),
    engine: str = EngineOpt,
) -> None:
    """List the voices the speech engine offers."""
    from coach.speech.engine import get_engine

    found = get_engine(engine).voices()
    if language:
        lang = language.lower()
        found = [v for v in found if any(lang_tag.lower() == lang or lang_tag.lower().split("-")[0] == lang for lang_tag in v.languages)]
    for v in found:
        typer.echo(f"{v.id.rsplit('/', 1)[-1]:<16} {v.name:<36} {', '.join(v.languages)}")
    if not found:
        raise CoachError(f"no voices for language `{language}`")


@app.command()
def say(
    text: str | None = typer.Argument(None, help="The words to speak."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write a WAV file instead of playing."),
    kind: str | None = typer.Option(None, "--kind", help="Speak one cue kind's wording instead of TEXT."),
    exercise: str = typer.Option("Plank to bear", "--exercise", help="Exercise name for --kind."),
    device: str | None = typer.Option(None, "--device", help="Output device (see `coach devices`), or null."),
    engine: str = EngineOpt, voice: str | None = VoiceOpt, rate: int | None = RateOpt,
    volume: float | None = VolumeOpt, phrases: Path | None = PhrasesOpt, language: str | None = LanguageOpt,
    cache_dir: Path | None = CacheOpt, no_cache: bool = NoCacheOpt,
) -> None:
    """Hear a phrase (or one cue kind) with the current voice settings."""
    from coach.speech import audition

    options = _speech_options(engine, voice, rate, volume, phrases, language, cache_dir, no_cache)
    spoken = audition.say(text, options, output, kind=kind, exercise=exercise, device=device)
    typer.echo(f"said: {spoken}" + (f" -> {output}" if output else ""), err=True)


@app.command()
def play(
    routine: str | None = RoutineArg,
    start: str | None = typer.Option(None, "--from", help='Start at an exercise ("Plank to bear") or a time (5:30).'),
    device: str | None = typer.Option(None, "--device", help="Output device (see `coach devices`), or null."),
    engine: str = EngineOpt, voice: str | None = VoiceOpt, rate: int | None = RateOpt,
    volume: float | None = VolumeOpt, phrases: Path | None = PhrasesOpt, language: str | None = LanguageOpt,
    cache_dir: Path | None = CacheOpt, no_cache: bool = NoCacheOpt,
) -> None:
    """Play a routine live, hands-free: keys space pause, n next, p back, q quit."""
    from coach.live import player
    from coach.live import screen as playui
    from coach.live import sink as live
    from coach.plan import compiler
    from coach.routine import loader

    r = loader.load(routine)
    player.check_start(r, compiler.total_ms(r), start)  # a bad --from fails before any speech is made
    with live.Sink(device) as sink:
        session = _prepare(routine, _speech_options(engine, voice, rate, volume, phrases, language, cache_dir, no_cache))
        typer.echo(f"playing on {sink.name}", err=True)
        outcome = playui.run(session, sink, player.resolve_start(session, start))
    typer.echo(outcome.summary, err=True)
    if outcome.reason == "interrupted":
        raise typer.Exit(130)


@app.command()
def devices() -> None:
    """List audio output devices for `coach play --device` and `coach say --device`."""
    from coach.live import sink as live

    found = live.devices()
    for d in found:
        typer.echo(f"{d.name}  ({d.backend})")
    typer.echo("null  (plays into nothing in real time: try the player without sound)")
    if not found:
        typer.echo("no sound device found: `coach render` makes an MP3 to play anywhere", err=True)


@app.command()
def cache(
    clear: bool = typer.Option(False, "--clear", help="Delete every cached clip and remembered mastering result."),
    cache_dir: Path | None = CacheOpt,
) -> None:
    """Show the cache's size (speech clips, remembered mastering results), or clear it."""
    from coach.output import mastering_cache
    from coach.speech.cache import ClipCache, default_dir

    folder = cache_dir or default_dir()
    clips = ClipCache(folder)
    if clear:
        typer.echo(f"removed {clips.clear()} clips and {mastering_cache.clear(folder)} mastering results from {folder}")
        return
    (count, clip_bytes), (results, result_bytes) = clips.stats(), mastering_cache.stats(folder)
    typer.echo(f"{folder}: {count} clips, {results} mastering results, {(clip_bytes + result_bytes) / 1_000_000:.1f} MB")


def main() -> None:
    """Run the command line; Ctrl-C propagates as KeyboardInterrupt, for coach.entry to report."""
    warnings.showwarning = _show_warning
    _plain_streams()
    try:
        app()
    except CoachError as exc:
        typer.echo(f"coach: error: {exc}", err=True)
        sys.exit(1)
    except BrokenPipeError:  # the reader went away (`coach script | head -1`): nothing more to say
        _plain_streams(closed=True)
        sys.exit(1)
    except OSError as exc:  # the system refused something no CoachError anticipated: still one line
        where = f": {exc.filename}" if exc.filename else ""
        typer.echo(f"coach: error: {exc.strerror or exc}{where}", err=True)
        sys.exit(1)
    except SystemExit as exc:
        if _interrupted(exc):
            raise KeyboardInterrupt from None
        raise


class _Closed(io.TextIOBase):
    """Standard output when it was closed (`>&-`): writing to it is one clear error."""

    def write(self, text: str) -> int:
        raise CoachError("standard output is closed", "run the command with its output going somewhere")

    def isatty(self) -> bool:
        return False


def _plain_streams(closed: bool = False) -> None:
    """Text that the terminal's encoding cannot show (PYTHONIOENCODING=ascii, a C locale) is
    escaped, not a crash; a closed stream is not a traceback; after a broken pipe, nothing more
    is written to it (not even at exit)."""
    if closed:  # what is still buffered goes nowhere, instead of failing again at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if sys.stdout is None:
        sys.stdout = _Closed()
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    if sys.stdin is None:
        sys.stdin = open(os.devnull)  # noqa: SIM115
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


def _interrupted(exc: SystemExit) -> bool:
    """Typer ends a Ctrl-C as a silent `Exit(130) from KeyboardInterrupt`; a command's own exit 130
    (`coach play` stopped by Ctrl-C, which reports that itself) is not one."""
    typer_exit = exc.__context__
    return typer_exit is not None and isinstance(typer_exit.__cause__, KeyboardInterrupt)


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    """A warning (say, a speech cache that cannot be written) as one line, without source code."""
    typer.echo(f"coach: warning: {message}", err=True)
