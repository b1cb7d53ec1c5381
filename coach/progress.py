"""Progress bars on a terminal, silence when piped; progress counted in frames, for them."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator

Update = Callable[[int, int], None]


@contextlib.contextmanager
def bar(label: str, enabled: bool | None = None) -> Iterator[Update]:
    """Yields update(done, total). Shows a rich bar only when stderr is a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), TimeRemainingColumn(),
        console=Console(stderr=True), transient=True,
    )
    with progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


class Frames:
    """Progress in audio frames over passes whose number is known only as they go (mastering's
    excerpt, the encode, perhaps a second one): called from any thread with the frames each step
    did, it tells `update` (done, total). `again(frames)`: a pass over audio already counted
    reports only what goes past it, so the bar does not run to twice its length."""

    def __init__(self, total: int = 0, update: Update | None = None) -> None:
        self.done, self.total, self.update = 0, total, update
        self._skip = 0
        self._lock = threading.Lock()

    def __call__(self, frames: int) -> None:
        with self._lock:
            skipped = min(self._skip, frames)
            self._skip -= skipped
            frames -= skipped
            if not frames:
                return
            self.done += frames
            self.total = max(self.total, self.done + frames)
            if self.update:
                self.update(self.done, self.total)

    def again(self, frames: int) -> None:
        with self._lock:
            self._skip += frames
