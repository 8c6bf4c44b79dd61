"""A small LRU memo for operators' per-frame analyses (flows, statistics, detections).

One operator instance serves a whole shot during an export, so each frame's analysis is
computed once and reused by the next frames' windows; the bound keeps a long export from
growing without limit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np

from engine.runtime import parallel_map

V = TypeVar("V")


class Memo(Generic[V]):
    """Least-recently-used mapping of at most `capacity` entries; safe to share between the
    threads of `engine.runtime.parallel_map` (two may compute the same value; one is kept)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._data

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> V:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)
        return value

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        value = self.get(key)
        if value is None:
            value = self.put(key, compute())
        return value


def measure_pairs(memo: Memo[V], key: Callable[[int], Hashable],
                  frame: Callable[[int], np.ndarray],
                  measure: Callable[[np.ndarray, np.ndarray], V], lo: int, hi: int) -> None:
    """Memoise `measure(frame(i), frame(i + 1))` under `key(i)` for each i in lo..hi − 1
    that `memo` lacks, the measurements side by side (`engine.runtime.parallel_map`): a
    shot's first frame needs a whole radius of pair analyses at once. The frames are
    fetched first, on this thread: fetching one evaluates an earlier stage, and work handed
    to the pool must never wait for a stage lock."""
    todo = [i for i in range(lo, hi) if key(i) not in memo]
    frames = {i: frame(i) for i in sorted({*todo, *(i + 1 for i in todo)})}
    measured = parallel_map(lambda i: measure(frames[i], frames[i + 1]), todo)
    for i, value in zip(todo, measured, strict=True):
        memo.put(key(i), value)
