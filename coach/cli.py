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

from coach import __version__, defaults
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
EngineOpt = typer.Option("auto", "--engine", help="Speech engine: auto (Piper if it has a voice for the session, else pyttsx3), "
                         "pyttsx3, piper, or fake (a tone, for trying things out).")
VoiceOpt = typer.Option(None, "--voice", help="Voice name as `coach voices` lists it.")
RateOpt = typer.Option(None, "--rate", help="Speaking rate in words per minute.", min=50, max=500)
VolumeOpt = typer.Option(None, "--volume", help="Voice volume, 0 to 1.", min=0.0, max=1.0, callback=_finite)
PhrasesOpt = typer.Option(None, "--phrases", help="A phrasebook YAML file with your own wording.")
LanguageOpt = typer.Option(None, "--language", help="Built-in wording language (en, es).")
CacheOpt = typer.Option(None, "--cache-dir", envvar="COACH_CACHE_DIR",
                        help="Cache folder: speech clips, remembered mastering, served sessions.")
NoCacheOpt = typer.Option(False, "--no-cache", help="Do not read or write the speech clip cache.")
# The audio options `coach render` and `coach serve` share.
BitrateOpt = typer.Option(None, "--bitrate", help="Encoder bitrate, e.g. 96k (default: 64k voice only, 128k with music).")
SampleRateOpt = typer.Option(defaults.SAMPLE_RATE, "--sample-rate", help="Sample rate in Hz.", min=8000, max=96000)
CoverOpt = typer.Option(None, "--cover", help="Cover image (JPEG or PNG; default: one drawn from the routine).")
LoudnessOpt = typer.Option(defaults.TARGET_LUFS, "--loudness", help="Target integrated loudness in LUFS.", min=-40.0, max=-6.0,
                           callback=_finite)
MusicOpt = typer.Option(None, "--music", help="Music under the session: an audio file, or a folder played in name order.")
MusicLevelOpt = typer.Option(defaults.MUSIC_LEVEL_DB, "--music-level", min=-60.0, max=0.0,
                             help="Music loudness relative to the voice, in dB.", callback=_finite)
DuckOpt = typer.Option(defaults.DUCK_DB, "--duck", help="How far the music dips under speech, in dB.", min=0.0, max=60.0,
                       callback=_finite)
BeepsOpt = typer.Option(False, "--beeps", help="Pips on the countdown and a tone on go.")
MarksOpt = typer.Option(False, "--marks", help="A soft tone where each work and rest starts.")


def _prepare(routine, options, quiet: bool = False):  # type: ignore[no-untyped-def]
    """Speech for a loaded routine, with a progress bar; the schedule's warnings printed."""
    from coach import progress
    from coach.session import prepare

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
    bitrate: str | None = BitrateOpt, sample_rate: int = SampleRateOpt,
    chapters: str = typer.Option(defaults.CHAPTERS, "--chapters", help="Chapters: exercise (each side and round), block, or none."),
    cover: Path | None = CoverOpt,
    subtitles: str | None = typer.Option(
        None, "--subtitles", help="Also write the cue text beside the audio: vtt, srt, lrc (comma-separated)."),
    loudness: float = LoudnessOpt, music: Path | None = MusicOpt, music_level: float = MusicLevelOpt, duck: float = DuckOpt,
    beeps: bool = BeepsOpt, marks: bool = MarksOpt,
    engine: str = EngineOpt, voice: str | None = VoiceOpt, rate: int | None = RateOpt,
    volume: float | None = VolumeOpt, phrases: Path | None = PhrasesOpt, language: str | None = LanguageOpt,
    cache_dir: Path | None = CacheOpt, no_cache: bool = NoCacheOpt,
    jobs: int | None = typer.Option(
        None, "-j", "--jobs", min=1, max=64,
        help=f"Processes for speech and MP3 encoding (default: one per core, at most {defaults.MAX_WORKERS})."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress or summary."),
    force: bool = typer.Option(False, "--force", help="Render even when the file is up to date."),
) -> None:
    """Render a routine to one audio file (MP3 by default) with chapters, tags, cover and cue text."""
    from dataclasses import replace

    from coach import progress
    from coach.output import formats, uptodate
    from coach.output.options import RenderOptions, check_render, sidecar_paths
    from coach.routine import loader
    from coach.routine.durations import format_clock

    name = routine or defaults.ROUTINE
    stem = Path(name).stem if Path(name).suffix in (".yaml", ".yml") else Path(name).name
    fmt = format or (output.suffix.lstrip(".").lower() if output and output.suffix else defaults.FORMAT)
    out = output or Path(f"{stem}.{fmt}")
    formats.check_format(fmt)
    jobs = _capped_jobs(jobs)
    options = RenderOptions(
        format=fmt, rate=sample_rate, bitrate=bitrate, chapters=chapters, cover=cover,
        subtitles=tuple(dict.fromkeys(s.strip() for s in (subtitles or "").split(",") if s.strip())),
        loudness=loudness, music=music, music_level=music_level, duck=duck, beeps=beeps, marks=marks, jobs=jobs,
    )
    loaded = loader.load(routine)  # bad routines fail before any check of tools or output
    # a bad cover or music file, or an output over an input, fails before any speech work
    check_render(out, options, _reads(routine, phrases))
    speech = replace(_speech_options(engine, voice, rate, volume, phrases, language, cache_dir, no_cache), jobs=jobs)
    key = uptodate.key(loaded, speech, options)  # None until every clip is in the cache
    if not force and uptodate.current(out, key, sidecar_paths(out, options)):
        if not quiet:
            typer.echo(f"{out} is up to date", err=True)
        return
    from coach.output.render import render as render_file  # what mixes and encodes: not needed when up to date

    session = _prepare(loaded, speech, quiet)
    with progress.bar("Rendering", None if not quiet else False) as update:
        report = render_file(session, out, options, update, stamp=key or uptodate.key(loaded, speech, options))
    if not quiet:
        typer.echo(f"wrote {one_line(str(out))} ({format_clock(session.timeline.duration_ms)}, {len(session.cues)} cues, "
                   f"{_count(len(report.chapters), 'chapter') if fmt != 'wav' else 'no chapters in WAV'}, "
                   f"{report.measured.integrated:.1f} LUFS, "
                   f"{report.measured.true_peak:.1f} dBTP, voice: {session.speaker})", err=True)
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
    from coach.routine import loader

    session = _prepare(loader.load(routine), _speech_options(engine, voice, rate, volume, phrases, language, cache_dir, no_cache), as_json)
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
    spoken = loader.voice_language(r.voice.name)
    if spoken and spoken != r.language.replace("_", "-").split("-")[0].lower():
        typer.echo(f"warning: `language: {r.language}` but `voice: {r.voice.name}` speaks `{spoken}`: "
                   f"the {r.language} words would be read by a {spoken} voice", err=True)
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
    engine: str = typer.Option("auto", "--engine", help="Only this engine's voices (auto: every engine's)."),
    download: str | None = typer.Option(None, "--download", help="Download a Piper voice (en_US-lessac-medium, say) to the voice folder."),
    available: bool = typer.Option(False, "--available", help="List the Piper voices the online catalogue offers for download."),
) -> None:
    """List every engine's voices (installed Piper voices first), or the catalogue's, or download a Piper voice."""
    from coach.speech import registry

    if available:
        from coach.speech import catalogue

        offered = catalogue.offered(language)
        for voice in offered:
            size, mark = f"{voice.size / 1_000_000:.0f} MB", "installed" if voice.installed else ""
            typer.echo(f"{voice.name:<32} {voice.language:<7} {voice.quality:<7} {size:>7}  {mark}".rstrip())
        if not offered:
            raise CoachError(f"the voice catalogue has no voices for language `{language}`" if language else "the voice catalogue is empty")
        typer.echo(f"get one with `coach voices --download NAME` (from {catalogue.base_url()})", err=True)
        return
    if download:
        from coach import progress
        from coach.speech import catalogue

        with progress.bar(f"Downloading {download}") as update:
            path = catalogue.download(download, progress=update)
        typer.echo(f"downloaded {path.name[: -len('.onnx')]} to {path.parent}")
        return
    found = registry.all_voices(engine, language)
    for name, v in found:
        languages = ", ".join(v.languages)
        typer.echo(f"{name:<8} {v.id.rsplit('/', 1)[-1]:<24} {v.name:<36} {languages:<14} {v.quality or '-':<7} {v.licence or '-'}")
    if not found:
        hint = "get a Piper voice with `coach voices --download NAME` (en_US-lessac-medium, say)" if engine == "piper" else ""
        what = "no voices" if engine == "auto" else f"no {engine} voices"
        raise CoachError(f"{what} for language `{language}`" if language else what, hint)


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
        session = _prepare(r, _speech_options(engine, voice, rate, volume, phrases, language, cache_dir, no_cache))
        typer.echo(f"playing on {sink.name} (voice: {session.speaker})", err=True)
        outcome = playui.run(session, sink, player.resolve_start(session, start))
    typer.echo(outcome.summary, err=True)
    if outcome.reason == "interrupted":
        raise typer.Exit(130)


@app.command()
def serve(
    routines: list[str] | None = typer.Argument(None, help="Routine YAML files or built-in names (default: lower-back).",
                                                show_default=False),
    port: int = typer.Option(defaults.SERVE_PORT, "--port", help="Port to listen on; 0 picks a free one.", min=0, max=65535),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every network)."),
    lan: bool = typer.Option(False, "--lan", help="Listen on the local network, for a phone (same as --host 0.0.0.0)."),
    bitrate: str | None = BitrateOpt, sample_rate: int = SampleRateOpt, cover: Path | None = CoverOpt,
    loudness: float = LoudnessOpt, music: Path | None = MusicOpt, music_level: float = MusicLevelOpt, duck: float = DuckOpt,
    beeps: bool = BeepsOpt, marks: bool = MarksOpt,
    engine: str = EngineOpt, voice: str | None = VoiceOpt, rate: int | None = RateOpt,
    volume: float | None = VolumeOpt, phrases: Path | None = PhrasesOpt, language: str | None = LanguageOpt,
    cache_dir: Path | None = CacheOpt, no_cache: bool = NoCacheOpt,
) -> None:
    """Host sessions for a phone's browser: the MP3 with a big display in step with it (docs/serve.md)."""
    import tempfile

    from coach import progress
    from coach.output import uptodate
    from coach.output.options import RenderOptions, check
    from coach.routine import loader
    from coach.serve import app as web
    from coach.serve import server, sessions
    from coach.session import cache_for

    names: list[str | None] = list(routines) if routines else [None]
    loaded = [loader.load(name) for name in names]  # every routine checked before any speech work or listening
    options = RenderOptions(rate=sample_rate, bitrate=bitrate, cover=cover, loudness=loudness, music=music,
                            music_level=music_level, duck=duck, beeps=beeps, marks=marks)
    check(options)
    sock = server.listen("0.0.0.0" if lan else host, port)
    speech = _speech_options(engine, voice, rate, volume, phrases, language, cache_dir, no_cache)
    kept = cache_for(speech).folder  # the clip cache's folder keeps the renders for the next start
    with sock, tempfile.TemporaryDirectory(prefix="coach-serve-") as scratch:
        folder = sessions.served_folder(kept, Path(scratch))
        served: list[sessions.Served] = []
        for routine in loaded:
            session = _prepare(routine, speech)
            stamp = uptodate.key(routine, speech, options)  # tagged as `coach render` tags it
            with progress.bar(f"Rendering {session.routine.title}") as update:
                served.append(sessions.render_session(session, folder, options, [s.slug for s in served], update, stamp))
        if kept is not None and folder != Path(scratch):
            sessions.prune(kept)
        key = web.new_key()
        site = web.create(served, key)
        url = server.address(sock, key)
        where = "on this computer (--lan for a phone on the same Wi-Fi)" if server.is_loopback(sock) else "on your phone (same Wi-Fi)"
        typer.echo(f"Serving {_count(len(served), 'session')}. Open {where}:\n  {url}")
        if sys.stdout.isatty():
            for line in server.qr_lines(url):
                typer.echo(line)
        typer.echo("Ctrl-C stops the server.")
        sys.stdout.flush()
        server.run(site, sock)


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
    clear: bool = typer.Option(False, "--clear",
                               help="Delete every cached clip, remembered mastering result, encoded part and served session."),
    cache_dir: Path | None = CacheOpt,
) -> None:
    """Show the cache's size (speech clips, remembered mastering results, encoded MP3 parts, served sessions), or clear it."""
    from coach.output import mastering_cache, parts_cache
    from coach.serve import sessions
    from coach.speech.cache import ClipCache, default_dir

    folder = cache_dir or default_dir()
    clips = ClipCache(folder)
    if clear:
        typer.echo(f"removed {clips.clear()} clips, {mastering_cache.clear(folder)} mastering results,"
                   f" {parts_cache.clear(folder)} encoded parts and {sessions.clear(folder)} served sessions from {folder}")
        return
    (count, clip_bytes), (results, result_bytes) = clips.stats(), mastering_cache.stats(folder)
    (parts, part_bytes), (served, served_bytes) = parts_cache.stats(folder), sessions.stats(folder)
    typer.echo(f"{folder}: {count} clips, {results} mastering results, {parts} encoded parts, {served} served sessions,"
               f" {(clip_bytes + result_bytes + part_bytes + served_bytes) / 1_000_000:.1f} MB")


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
