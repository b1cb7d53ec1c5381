"""Turn every distinct cue text into a trimmed clip, from the cache where possible.

Missing clips are synthesised in parallel worker processes (one engine each) when there are
enough of them to pay for the workers' start-up, and by this process's own engine while they
start and alongside them; each clip is cached as soon as it is made. An isolated engine (Piper)
speaks only in its workers, as many as its memory bound allows, never in this process.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

from coach.errors import EngineError
from coach.interrupts import SIGNALS, ctrl_c_held
from coach.routine.model import Voice
from coach.speech.cache import ClipCache, clip_key
from coach.speech.clip import Clip
from coach.speech.engine import Engine
from coach.speech.registry import get_engine
from coach.tools import workers

if TYPE_CHECKING:
    from coach.speech.store import ClipStore

Progress = Callable[[int, int], None]
PARALLEL_MIN_CLIPS = 24
# The longest text spoken as one clip: a cue is a sentence or two, and eSpeak NG crashes (a
# segmentation fault, no message) on some tens of thousands of characters.
MAX_SPOKEN_CHARS = 5_000


def check_length(text: str) -> None:
    """One clear error for a text too long to speak as one clip (a tip, or a lexicon's expansion)."""
    if len(text) > MAX_SPOKEN_CHARS:
        raise EngineError(f"a cue is too long to speak: {len(text):,} characters, at most {MAX_SPOKEN_CHARS:,} "
                          f"({text[:40]!r}...)", "shorten the text, or the lexicon entries it uses")


def synthesize_all(
    texts: Iterable[str],
    engine: Engine,
    voice: Voice,
    cache: ClipCache,
    progress: Progress | None = None,
    jobs: int | None = None,
) -> ClipStore:
    """{text: trimmed clip} for every distinct text, kept on disk (see store.py)."""
    from coach.speech.store import ClipStore  # numpy: not in the speech workers, which import this module

    unique = list(dict.fromkeys(texts))
    for text in unique:
        check_length(text)
    clips = ClipStore()
    missing: list[str] = []
    tag = engine.cache_tag(voice)
    for text in unique:
        clip = cache.get(clip_key(engine.name, tag, voice, text))
        if clip is None:
            missing.append(text)
        else:
            clips.add(text, clip)
    done = len(clips)
    if progress:
        progress(done, len(unique))
    jobs = workers(jobs)
    # closing(): on Ctrl-C or an error here, the workers stop now, not when the generator is collected.
    with contextlib.closing(_synthesize(missing, engine, voice, jobs)) as made:
        for text, clip in made:
            if not len(clip.samples) and not engine.isolated and any(ch.isalnum() for ch in text):
                clip = _speak(engine, text, voice)  # eSpeak NG now and then says nothing on a busy machine: once more
            # The clip stored first is the one used: concurrent renders on one cache agree. An empty
            # one is never stored, so that the next run speaks it again.
            clips.add(text, cache.put(clip_key(engine.name, tag, voice, text), clip) if len(clip.samples) else clip)
            done += 1
            if progress:
                progress(done, len(unique))
    return clips


def _synthesize(texts: list[str], engine: Engine, voice: Voice, jobs: int) -> Generator[tuple[str, Clip], None, None]:
    if engine.isolated:
        if texts:
            yield from _in_workers(texts, engine, voice, min(jobs, engine.max_workers(voice) or jobs, len(texts)))
        return
    if jobs <= 1 or len(texts) < PARALLEL_MIN_CLIPS:
        for text in texts:
            yield text, _speak(engine, text, voice)
        return
    from concurrent.futures import FIRST_COMPLETED, Future, wait

    # `jobs` workers, and this process, whose engine is ready, speaks too: while they start, and
    # then alongside them (it also caches what comes back: not a whole speaker's share of a core).
    pool: ProcessPoolExecutor | None = None
    ahead = collections.deque(texts)
    running: dict[Future[Clip | tuple[bytes, int]], str] = {}

    def feed() -> None:
        assert pool is not None
        while ahead and len(running) < 2 * jobs:
            text = ahead.pop()  # the workers take from the end, this process from the start
            running[pool.submit(_work, text, voice)] = text

    try:
        # The workers, and multiprocessing's resource tracker (started first: see _start_tracker),
        # inherit the block (SIGHUP too, which the tracker does not ignore): Ctrl-C or SIGTERM is ours.
        _start_tracker()
        with ctrl_c_held():
            pool = _pool(engine, jobs)
            feed()
        while running or ahead:
            for future in [f for f in running if f.done()]:
                yield running.pop(future), _received(future.result())
            with ctrl_c_held():  # a submit may start one more worker (the pool spawns them as needed)
                feed()
            if ahead:
                text = ahead.popleft()
                yield text, _speak(engine, text, voice)
            elif running:
                wait(running, return_when=FIRST_COMPLETED)
    except BrokenProcessPool:
        raise _stopped() from None
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _in_workers(texts: list[str], engine: Engine, voice: Voice, jobs: int) -> Generator[tuple[str, Clip], None, None]:
    """Every clip from `jobs` worker processes; this process only hands out texts and collects."""
    from concurrent.futures import FIRST_COMPLETED, Future, wait

    pool: ProcessPoolExecutor | None = None
    ahead = collections.deque(texts)
    running: dict[Future[Clip | tuple[bytes, int]], str] = {}
    try:
        _start_tracker()
        with ctrl_c_held():  # the pool inherits the block (see _synthesize)
            pool = _pool(engine, max(1, jobs))
            while ahead and len(running) < 2 * jobs:
                text = ahead.popleft()
                running[pool.submit(_work, text, voice)] = text
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                yield running.pop(future), _received(future.result())
                if ahead:
                    text = ahead.popleft()
                    running[pool.submit(_work, text, voice)] = text
    except BrokenProcessPool:
        raise _stopped() from None
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _start_tracker() -> None:
    """Start multiprocessing's resource tracker, Ctrl-C held, before the pool's workers. Once it
    has started it unblocks SIGINT and SIGTERM in the thread that started it (bpo-33613): started
    by the pool's first worker, it would let the next workers be spawned without the block, and a
    Ctrl-C while they import would print their tracebacks."""
    from multiprocessing import resource_tracker

    with ctrl_c_held():
        resource_tracker.ensure_running()


def _pool(engine: Engine, jobs: int) -> ProcessPoolExecutor:
    import multiprocessing

    # spawn, not fork: a forked copy of an initialised speech engine is not safe to use, and a
    # fresh process never holds another engine's libraries.
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker, initargs=(engine.name, os.getpid()))


def _stopped() -> EngineError:
    return EngineError(
        "a speech worker process stopped unexpectedly (killed, or out of memory?)",
        "run the command again: the clips made so far are cached",
    )


def _speak(engine: Engine, text: str, voice: Voice) -> Clip:
    """A clip from this process's engine, a Ctrl-C held until it is made (about 10 ms; a second
    one is not held): pyttsx3 stopped midway leaves its driver writing into a folder that is being
    removed, and talking."""
    with ctrl_c_held(block=False):
        return engine.synthesize(text, voice).trimmed()


_worker_engine: Engine | None = None


def _init_worker(engine_name: str, parent: int) -> None:
    global _worker_engine
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_IGN)  # the main process stops the pool on Ctrl-C (or SIGTERM)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    _worker_engine = get_engine(engine_name)


def _exit_with(parent: int) -> None:
    """Workers wait on queues the main process also holds open: if it is killed (SIGKILL, out of
    memory) they would wait forever, so each leaves as soon as it has been orphaned."""
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)


def _work(text: str, voice: Voice) -> Clip | tuple[bytes, int]:
    """A trimmed clip; from an engine that gives PCM bytes (pyttsx3), those and their rate,
    trimmed by the main process (`_received`): a worker that never imports numpy is smaller."""
    assert _worker_engine is not None
    raw = getattr(_worker_engine, "synthesize_raw", None)
    made = raw(text, voice) if raw is not None else _worker_engine.synthesize(text, voice)
    return made if isinstance(made, tuple) else made.trimmed()


def _received(made: Clip | tuple[bytes, int]) -> Clip:
    """What a worker sent, as a trimmed clip."""
    if not isinstance(made, tuple):
        return made
    import numpy as np

    pcm, rate = made
    return Clip(np.frombuffer(pcm, dtype="<i2").astype(np.int16), rate).trimmed()
