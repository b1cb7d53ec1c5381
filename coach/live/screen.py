"""`coach play` on a terminal: a live display readable from across the room, and one-key controls.

The terminal is put in cbreak mode only while playing and only when stdin is a terminal; it is
restored on every way out (end, q, Ctrl-C, SIGTERM/SIGHUP, an error).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from rich.align import Align
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from coach.errors import DeviceError
from coach.live.player import Player, Status
from coach.live.sink import Sink
from coach.routine.durations import format_clock
from coach.session import Session

TICK_MS = 100  # how often the display looks at the position when no key is pressed
KEY_HELP = "space pause · n/→ next · p/← back · q quit"

LABELS = {
    "lead_in": ("GET READY", "Get ready", "bold black on yellow"),
    "work": ("WORK", "", "bold white on green"),
    "switch": ("SWITCH SIDES", "", "bold black on yellow"),
    "rest": ("REST", "Rest", "bold white on blue"),
    "round_rest": ("ROUND REST", "Rest", "bold white on blue"),
    "outro": ("FINISH", "Well done", "bold white on magenta"),
}

# Digits five rows high, drawn with full blocks; each "#" is two block characters wide.
GLYPHS = {
    "0": ("###", "# #", "# #", "# #", "###"),
    "1": ("## ", " # ", " # ", " # ", "###"),
    "2": ("###", "  #", "###", "#  ", "###"),
    "3": ("###", "  #", "###", "  #", "###"),
    "4": ("# #", "# #", "###", "  #", "  #"),
    "5": ("###", "#  ", "###", "  #", "###"),
    "6": ("###", "#  ", "###", "# #", "###"),
    "7": ("###", "  #", "  #", "  #", "  #"),
    "8": ("###", "# #", "###", "# #", "###"),
    "9": ("###", "# #", "###", "  #", "###"),
    ":": (" ", "#", " ", "#", " "),
}


def big(text: str) -> str:
    """`text` (digits and colons) in five-row block letters."""
    rows = []
    for r in range(5):
        cells = "  ".join(GLYPHS[ch][r] for ch in text if ch in GLYPHS)
        rows.append(cells.replace("#", "██").replace(" ", "  "))
    return "\n".join(rows)


def clock(ms: int) -> str:
    """A countdown shows whole seconds rounded up: 0:01 is the last second, 0:00 the end."""
    return format_clock((max(0, ms) + 999) // 1000 * 1000)


def view(status: Status, title: str) -> RenderableType:
    """The whole display for one moment of the session."""
    badge, heading, style = LABELS.get(status.kind, LABELS["work"])
    if status.finished:
        badge, heading, style = "DONE", "Session complete", "bold white on magenta"
    where = []
    if status.block and status.kind != "outro":
        where.append(status.block)
        if status.rounds and status.rounds > 1:
            where.append(f"round {status.round} of {status.rounds}")
    if status.side and status.kind == "work":
        where.append(f"{status.side} side")
    top = Text.assemble((f" {badge} ", style), "  ", " · ".join(where))
    if status.paused:
        top.append("   ")
        top.append(" PAUSED · space resumes ", style="bold black on bright_white")

    in_exercise = status.kind in ("work", "switch")
    name = (status.exercise or "") if in_exercise else heading
    if in_exercise:
        coming = status.next_exercise or "finish"
        if status.kind == "switch" and status.side:
            coming = f"{status.side} side"
    else:
        coming = (status.exercise or "") if status.kind != "outro" else ""
    left = 0 if status.finished else status.left_ms

    bar = Table.grid(expand=True, padding=(0, 1))
    bar.add_column(ratio=1)
    bar.add_column(justify="right", no_wrap=True)
    bar.add_row(
        ProgressBar(total=max(1, status.duration_ms), completed=status.position_ms),
        f"{format_clock(status.position_ms)} / {format_clock(status.duration_ms)}",
    )
    cue = Text(f"“{status.last_cue}”" if status.last_cue else "", style="italic", no_wrap=True, overflow="ellipsis")
    body = Group(
        top,
        Text(""),
        Text(name, style="bold", justify="center", no_wrap=True, overflow="ellipsis"),
        Text(""),
        Align.center(Text(big(clock(left)), style="dim" if status.paused else style.split(" on ")[-1],
                          no_wrap=True, overflow="crop")),
        Text(""),
        Text.assemble(("Next: ", "dim"), (coming or "—", "bold")),
        Text.assemble(("Said: ", "dim"), cue),
        Text(""),
        bar,
    )
    return Panel(body, title=f"[bold]{title}[/]", subtitle=KEY_HELP, padding=(1, 2))


def split_keys(data: str) -> list[str]:
    """Keypresses in what a terminal sent: single characters, or whole escape sequences (arrows)."""
    keys: list[str] = []
    i = 0
    while i < len(data):
        if data[i] == "\x1b" and data[i + 1 : i + 2] in ("[", "O"):
            j = i + 2
            while j < len(data) and not ("@" <= data[j] <= "~"):
                j += 1
            keys.append(data[i : j + 1])
            i = j + 1
        else:
            keys.append(data[i])
            i += 1
    return keys


class Keys:
    """Keypresses from stdin in cbreak mode (no echo, no Enter needed); nothing when it is not a terminal."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdin
        self._fd: int | None = None
        self._saved: list | None = None  # type: ignore[type-arg]

    def __enter__(self) -> Keys:
        try:
            import termios
            import tty

            fd = self.stream.fileno()
            if os.isatty(fd):
                self._saved = termios.tcgetattr(fd)
                self._fd = fd
                tty.setcbreak(fd, termios.TCSANOW)
        except (ImportError, OSError, ValueError):  # no termios (Windows), or no real stdin
            self._fd = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None and self._saved is not None:
            import termios

            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError, termios.error):  # a terminal that is gone needs no restoring
                termios.tcsetattr(fd, termios.TCSADRAIN, self._saved)

    def read(self, timeout_ms: int) -> list[str]:
        """Keys pressed within `timeout_ms` (returns as soon as there are any)."""
        if self._fd is None:
            time.sleep(timeout_ms / 1000)
            return []
        ready, _, _ = select.select([self._fd], [], [], timeout_ms / 1000)
        if not ready:
            return []
        try:
            data = os.read(self._fd, 64)
        except OSError:
            data = b""
        if not data:  # the terminal went away: play on without keys
            self.__exit__()
            return []
        return split_keys(data.decode("utf-8", errors="ignore"))


@contextlib.contextmanager
def _exit_on_hangup() -> Iterator[None]:
    """SIGTERM and SIGHUP end the session through the same clean-up as q (only the main thread can)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = [s for s in ("SIGTERM", "SIGHUP") if hasattr(signal, s)]
    saved = {name: signal.getsignal(getattr(signal, name)) for name in wanted}

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    for name in wanted:
        signal.signal(getattr(signal, name), stop)
    try:
        yield
    finally:
        for name, handler in saved.items():
            signal.signal(getattr(signal, name), handler)


class _Log:
    """The display without a terminal (piped, under a service manager): one line per segment
    as it begins, so that a log shows where the session is."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.last: tuple[object, ...] | None = None

    def update(self, status: Status, refresh: bool = True) -> None:
        where = (status.kind, status.exercise, status.side, status.round, status.block)
        if status.finished or status.paused or where == self.last:
            return
        self.last = where
        self.console.print(log_line(status), markup=False, highlight=False, soft_wrap=True)
        self.console.file.flush()


def log_line(status: Status) -> str:
    """`3:20 work: Plank, left (round 2 of 3)`: the segment that begins at the position."""
    what = LABELS.get(status.kind, (status.kind,))[0].lower()
    during = status.exercise if status.kind in ("work", "switch") else None
    if during and status.side:
        during += f", {status.side}"
    if during and status.rounds and status.rounds > 1:
        during += f" (round {status.round} of {status.rounds})"
    upcoming = status.exercise or status.next_exercise
    coming = f" (next: {upcoming})" if status.kind not in ("work", "switch", "outro") and upcoming else ""
    return f"{format_clock(status.position_ms)} {what}" + (f": {during}" if during else "") + coming


@dataclass(frozen=True)
class Outcome:
    reason: str  # "end", "quit" or "interrupted"
    position_ms: int
    duration_ms: int

    @property
    def summary(self) -> str:
        if self.reason == "end":
            return f"session complete ({format_clock(self.duration_ms)})"
        at = format_clock(self.position_ms)
        return f"stopped at {at} of {format_clock(self.duration_ms)} (carry on with --from {at})"


def run(session: Session, sink: Sink, start_ms: int = 0, keys: IO[str] | None = None,
        console: Console | None = None) -> Outcome:
    """Plays the session through `sink` with the live display until it ends, q, or Ctrl-C."""
    from rich.live import Live

    mixdown = session.mastered_mixdown(sink.rate)  # as loud as the rendered file
    if mixdown.channels != sink.channels:
        raise DeviceError(f"the session has {mixdown.channels} channels, the device plays {sink.channels}")
    player = Player(session, mixdown, start_ms)
    console = console or Console()
    title = session.timeline.title
    reason = "end"
    shown = None
    log = None if console.is_terminal else _Log(console)
    display: contextlib.AbstractContextManager[Any] = contextlib.nullcontext(log) if log is not None else Live(
        view(player.status(), title), console=console, auto_refresh=False, transient=False)
    try:
        with _exit_on_hangup(), Keys(keys) as pressed, display as live:
            sink.start(player.pull)
            try:
                while not sink.done.is_set():
                    for key in pressed.read(TICK_MS):
                        player.press(key)
                    if player.quit:
                        reason = "quit"
                        break
                    sink.check()
                    status = player.status()
                    # Redraw only when something visible changed: the audio thread needs the CPU more.
                    seen = (status.position_ms // 1000, status.left_ms // 1000, status.paused, status.kind,
                            status.last_cue)
                    if seen != shown:
                        live.update(status if log is not None else view(status, title), refresh=True)
                        shown = seen
                sink.check()
            except KeyboardInterrupt:
                reason = "interrupted"
            sink.close()  # silence first, then the last frame of the display
            if log is None:
                live.update(view(player.status(), title), refresh=True)
    finally:
        sink.close()
        mixdown.close()
    return Outcome(reason, player.position_ms, session.timeline.duration_ms)
