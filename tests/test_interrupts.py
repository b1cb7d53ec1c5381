"""Ctrl-C held while workers start: raised after, not lost; a second one not held; an ignored one ignored."""

from __future__ import annotations

import os
import signal
import time

import pytest

from coach.interrupts import ctrl_c_held


def _ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.02)  # time for the handler to run


def test_a_ctrl_c_is_held_until_the_end_then_raised() -> None:
    steps: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        with ctrl_c_held():
            _ctrl_c()
            steps.append(1)
    assert steps == [1]


def test_a_second_ctrl_c_is_not_held() -> None:
    steps: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        with ctrl_c_held(block=False):
            _ctrl_c()
            steps.append(1)
            _ctrl_c()
            steps.append(2)
    assert steps == [1]


def test_an_ignored_ctrl_c_stays_ignored() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with ctrl_c_held():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            _ctrl_c()
    finally:
        signal.signal(signal.SIGINT, previous)


def test_sigterm_is_held_like_ctrl_c_and_its_handler_told_which_signal() -> None:
    seen: list[int] = []

    def stop(signum: int, frame: object) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        steps: list[int] = []
        with pytest.raises(KeyboardInterrupt):
            with ctrl_c_held():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.02)
                steps.append(1)
        assert steps == [1]
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)
