"""A bounded, thread-safe cache of arrays made on demand: the ones used last are kept, up to a
number of bytes, and any other is made again when it is next needed (the same inputs give the
same samples). What keeps memory flat in the number of distinct clips."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


def nbytes(value: object) -> int:
    """The bytes an array, or a tuple of arrays and numbers, holds (numbers count nothing)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, tuple):
        return sum(nbytes(v) for v in value)
    return 0


class Recent(Generic[T]):
    """{key: value} holding at most `budget` bytes (and always the last value made, whatever its
    size); `pinned`: hold everything (what a live player, which must never wait, asks for)."""

    def __init__(self, budget: int, size: Callable[[T], int] = nbytes) -> None:
        self.budget = budget
        self._size = size
        self.pinned = False
        self._items: collections.OrderedDict[Hashable, tuple[T, int]] = collections.OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        """The value for `key`, made by `make()` (outside the lock: threads make different ones at
        once; two making the same one make equal values) when it is not held."""
        with self._lock:
            held = self._items.get(key)
            if held is not None:
                self._items.move_to_end(key)
                return held[0]
        value = make()
        size = self._size(value)
        with self._lock:
            if key not in self._items:
                self._items[key] = value, size
                self._bytes += size
            while self._bytes > self.budget and len(self._items) > 1 and not self.pinned:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped
        return value

    def __len__(self) -> int:
        return len(self._items)

    @property
    def held_bytes(self) -> int:
        return self._bytes
