"""Where `coach` and `python -m coach` start: Ctrl-C at any moment ends in one line and exit 130;
SIGTERM and SIGHUP (a service manager, a closed terminal) are the same interruption, with exit
128 + the signal's number, every temporary file removed on the way out.

Kept tiny, importing nothing that is not loaded already, so that it is running within a
millisecond of the interpreter's own start-up and before typer, rich and the rest load: a Ctrl-C
during that start-up is caught too.
"""

from __future__ import annotations

import _signal
import _thread
import sys

_interrupted: list[int] = []  # signals received: what makes any error that follows an interruption
# Stopping signals other than Ctrl-C's, handled like it (where the system has them).
STOPS = tuple(getattr(_signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(_signal, name))


def main() -> None:
    import faulthandler  # built in: no file to load

    faulthandler.enable()  # a crash in native code (a speech engine's) is reported, not a silent exit 139
    sys.unraisablehook = _unraisable
    if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:  # not if ignored (a background job)
        _signal.signal(_signal.SIGINT, _on_ctrl_c)
    for signum in STOPS:
        if _signal.getsignal(signum) == _signal.SIG_DFL:  # not if ignored (nohup)
            _signal.signal(signum, _on_ctrl_c)
    try:
        from coach.cli import main as run  # most of start-up is this import

        run()
    except BaseException as exc:
        if not _ctrl_c(exc):
            raise
        _exiting()
        signum = _interrupted[0] if _interrupted else _signal.SIGINT
        sys.stderr.write("coach: interrupted\n" if signum == _signal.SIGINT else f"coach: stopped by {_name(signum)}\n")
        sys.exit(128 + signum)
    finally:
        _exiting()


def _on_ctrl_c(signum: int, frame: object) -> None:
    """Python's own handler, remembering that it ran (and for which signal)."""
    _interrupted.append(signum)
    raise KeyboardInterrupt


def _name(signum: int) -> str:
    return {getattr(_signal, "SIGTERM", -1): "SIGTERM", getattr(_signal, "SIGHUP", -1): "SIGHUP"}.get(signum, f"signal {signum}")


def _ctrl_c(exc: BaseException) -> bool:
    """A KeyboardInterrupt, an error raised from one (Python 3.11 reports a Ctrl-C in a class's
    __set_name__, which each enum member has, as a RuntimeError), or any error after a Ctrl-C came:
    one landing inside an import can surface as another error altogether (a TypeError from the
    import machinery, seen once in some 500 trials)."""
    if isinstance(exc, KeyboardInterrupt) or isinstance(exc.__cause__, KeyboardInterrupt):
        return True
    return isinstance(exc, Exception) and bool(_interrupted)  # not SystemExit: an exit chosen after a Ctrl-C


def _unraisable(unraisable: sys.UnraisableHookArgs) -> None:
    """A Ctrl-C that lands in a weakref callback or a finalizer (importlib runs some on every
    import) cannot propagate from there: Python would print it and carry on as if it never came.
    Send it again, from a new thread: that cannot run before this one lets go of the interpreter
    lock (when it blocks, or after a 5 ms switch interval), long after this hook has returned."""
    if not issubclass(unraisable.exc_type, KeyboardInterrupt):
        sys.__unraisablehook__(unraisable)
        return
    import signal

    if hasattr(signal, "pthread_kill"):  # a real signal also wakes a main thread that waits
        _thread.start_new_thread(signal.pthread_kill, (_thread.get_ident(), signal.SIGINT))
    else:
        _thread.start_new_thread(_thread.interrupt_main, ())


def _exiting() -> None:
    """From here on the process only exits: a late Ctrl-C must not turn that into a traceback
    (in clean-up code, or at interpreter shutdown) or a death by SIGINT."""
    import signal

    for signum in (signal.SIGINT, *STOPS):
        signal.signal(signum, signal.SIG_IGN)
    # CPython 3.11 marks any KeyboardInterrupt that leaves code run by exec() of a string (as
    # dataclasses and namedtuple build methods) as unhandled, even when it is caught later; a
    # `python -m` run then ends by killing itself with SIGINT instead of with its exit status.
    # Running any string clears that mark (where the mark is set only for a truly unhandled
    # interrupt, as in newer CPython, this does nothing).
    exec("pass")
