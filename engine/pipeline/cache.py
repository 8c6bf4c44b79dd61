"""A byte-budgeted LRU cache for frames and masks, with a protected share for small
analysis frames."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import numpy as np


def nbytes_of(value: Any) -> int:
    """Bytes held by a cached value (arrays, and tuples/lists of arrays)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, tuple | list):
        return sum(nbytes_of(v) for v in value)
    return 64


PROTECTED_SHARE = 0.25
"""Share of the budget kept for protected entries while others can be evicted instead."""


class FrameCache:
    """Least-recently-used cache bounded by total bytes (not entries).

    Entries put with `protected=True` (the evaluator's analysis-scale source frames: small,
    but each one costs a decode to rebuild) are evicted only after every unprotected entry, as
    long as they use at most PROTECTED_SHARE of the budget; beyond that share the oldest of
    them go first. So a run of full-size previews cannot push a prepared shot's analysis
    frames out.

    Safe to share between threads; values must not be mutated after `put`.
    """

    def __init__(self, budget_bytes: int = 1 << 30) -> None:
        self._budget = int(budget_bytes)
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._protected: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._protected_bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def budget_bytes(self) -> int:
        return self._budget

    @property
    def bytes_used(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items) + len(self._protected)

    def set_budget(self, budget_bytes: int) -> None:
        with self._lock:
            self._budget = int(budget_bytes)
            self._evict()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            for items in (self._items, self._protected):
                item = items.get(key)
                if item is not None:
                    items.move_to_end(key)
                    self.hits += 1
                    return item[0]
            self.misses += 1
            return None

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items or key in self._protected

    def put(self, key: Hashable, value: Any, *, protected: bool = False) -> None:
        size = nbytes_of(value)
        with self._lock:
            self._drop(key)
            if size > self._budget:
                return
            (self._protected if protected else self._items)[key] = (value, size)
            self._bytes += size
            if protected:
                self._protected_bytes += size
            self._evict()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._protected.clear()
            self._bytes = self._protected_bytes = 0

    def _drop(self, key: Hashable) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= old[1]
        old = self._protected.pop(key, None)
        if old is not None:
            self._bytes -= old[1]
            self._protected_bytes -= old[1]

    def _evict(self) -> None:
        while self._bytes > self._budget:
            over_share = self._protected_bytes > PROTECTED_SHARE * self._budget
            if self._protected and (over_share or not self._items):
                _, (_, size) = self._protected.popitem(last=False)
                self._protected_bytes -= size
            elif self._items:
                _, (_, size) = self._items.popitem(last=False)
            else:
                break
            self._bytes -= size
