"""Ctrl-C held back while workers (threads, processes) start: one job, shared by the speech
workers and the MP3 encoders."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def ctrl_c_held(block: bool = True) -> Iterator[None]:
    """Hold a Ctrl-C back while workers start, and raise it after, once every one started is known
    to the code that stops them: a Ctrl-C inside `Thread.start()` would leave a running thread no
    one joins. Processes started meanwhile inherit the blocked signal (a speech worker interrupted
    while reading its start-up data would print a traceback). The handler is swapped too, because
    a blocked main thread does not stop another thread (numpy's, say) from taking the signal for
    Python. Without `block` (no process starts), a second Ctrl-C is not held."""
    main = threading.current_thread() is threading.main_thread()
    if main and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield  # ignored (a background job): nothing to hold
        return
    held: list[int] = []

    def hold(signum: int, frame: object) -> None:
        if held:
            raise KeyboardInterrupt  # a second Ctrl-C (when the signal is not blocked): now
        held.append(signum)

    handler = signal.signal(signal.SIGINT, hold) if main else None
    previous = (signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
                if block and hasattr(signal, "pthread_sigmask") else None)
    try:
        yield
    finally:
        if previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a Ctrl-C pending on this thread comes now
        if main:
            signal.signal(signal.SIGINT, handler)
        if held:
            raise KeyboardInterrupt
