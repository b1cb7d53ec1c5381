"""Ctrl-C held back while workers (threads, processes) start: one job, shared by the speech
workers and the MP3 encoders. SIGTERM and SIGHUP, which coach.entry treats as Ctrl-C, are held
the same way."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

# Ctrl-C, and the signals that stop coach the same way (see coach.entry).
SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def ctrl_c_held(block: bool = True) -> Iterator[None]:
    """Hold a Ctrl-C back while workers start, and raise it after, once every one started is known
    to the code that stops them: a Ctrl-C inside `Thread.start()` would leave a running thread no
    one joins. Processes started meanwhile inherit the blocked signal (a speech worker interrupted
    while reading its start-up data would print a traceback). The handler is swapped too, because
    a blocked main thread does not stop another thread (numpy's, say) from taking the signal for
    Python. Without `block` (no process starts), a second Ctrl-C is not held."""
    main = threading.current_thread() is threading.main_thread()
    signals = [n for n in SIGNALS if not main or signal.getsignal(n) not in (signal.SIG_IGN, signal.SIG_DFL, None)]
    if main and signal.SIGINT not in signals:
        yield  # Ctrl-C ignored (a background job): nothing to hold
        return
    held: list[int] = []
    handlers: dict[int, Any] = {}

    def hold(signum: int, frame: object) -> None:
        if held:
            _stop(handlers.get(signum), signum)  # a second one (when the signal is not blocked): now
        held.append(signum)

    if main:
        handlers = {n: signal.signal(n, hold) for n in signals}
    previous = (signal.pthread_sigmask(signal.SIG_BLOCK, set(signals))
                if block and hasattr(signal, "pthread_sigmask") else None)
    try:
        yield
    finally:
        if previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a signal pending on this thread comes now
        for n, handler in handlers.items():
            signal.signal(n, handler)
        if held:
            _stop(handlers.get(held[0]), held[0])


def _stop(handler: Callable[[int, object], Any] | int | None, signum: int) -> None:
    """What the signal would have done: its handler (coach.entry's remembers which it was), or a
    KeyboardInterrupt."""
    if callable(handler):
        handler(signum, None)
    raise KeyboardInterrupt
