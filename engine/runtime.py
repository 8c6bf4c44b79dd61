"""Thread counts for the libraries that share the CPU.

Torch, OpenCV and the FFmpeg decoder each default to one thread per core, and on a
2-core machine three pools of two threads thrash. Nitrate's per-frame work is mostly
OpenCV; decoding and encoding run on their own threads beside it. So: OpenCV gets the
cores, torch gets the cores only for model operators (intra-op), and codecs are given
explicit thread counts in engine.media.

The split during an export (engine.render), on two cores:

- two threads evaluate consecutive frames side by side (`engine.render.export.
  EVALUATION_THREADS`; the evaluator's stage locks make them a pipeline), OpenCV with
  one thread per core;
- a read-ahead thread (`engine.media.read_ahead`) decodes the next source frames
  (`engine.media.reader.DECODER_THREADS`, 2 frame threads) and, after a full-size read,
  converts the next two to float while the operators work;
- the writer's thread converts each result to the encoder's pixel format
  (`engine.media.writer.CONVERT_THREADS`, 1: the encoder's threads already fill the
  cores, and sliced conversion measured 15-30 % slower) and encodes (`ENCODER_THREADS`, 2,
  of FFmpeg's AUTO type: frame threads for ProRes, which has no others, slices for FFV1);
- temporal operators hand the independent pieces of a frame (the flows to the frame just
  entering their window, dust's compensation of each neighbour) to `parallel_map`, a
  shared pool of one thread per core, which previews and analyses use; in the export's
  evaluating threads it runs inline while both are working (`side_by_side`): the two
  frames side by side keep the cores busy. While one waits (for the other's shot analysis
  at the start of a shot, say) the other's pieces go to the pool.

OpenCV with one thread against two gave the same whole-export speed within the noise of
the shared development machine (±30 % between identical runs), so it keeps the cores: on
an otherwise idle machine the operators' large filters and remaps use both. The
read-ahead thread was first tried and dropped on a faster machine, where it did not change
the export's speed; on the slower one, where the evaluator's thread was the bottleneck (busy
about 87 % of the export), it takes 1.4 s of decoding off that thread per 48 frames at
720p and makes the film preset's export faster (see docs/BENCHMARKS.md).

The allocator is set up with the threads (`configure_allocator`): every frame an export
makes is a new array of megabytes, and glibc's defaults hand each one fresh pages from the
kernel (zeroed, one fault per page) and give them back once it is freed.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_configured = False
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_in_pool = threading.local()


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def configure_threads(cores: int | None = None) -> None:
    """Set OpenCV's and torch's thread pools, and the allocator, once (idempotent)."""
    global _configured
    if _configured:
        return
    cores = cores or cpu_count()
    import cv2

    cv2.setNumThreads(cores)
    # torch takes seconds to import: only configure it when something already loaded it
    # (model operators call configure_torch_threads themselves).
    if "torch" in sys.modules:
        configure_torch_threads(cores)
    configure_allocator()
    _configured = True


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -2, -3, -8


def configure_allocator() -> bool:
    """Let glibc keep freed frame buffers for the next frames; True where it applied.

    By default every array above glibc's mmap threshold (a frame: megabytes) is mapped
    fresh, so each of its pages is zeroed by the kernel and faulted in once more, every
    frame; and each thread's own arena keeps memory the others cannot reuse. An export of
    the film preset spent about 15 % of its CPU time in the kernel that way. With one arena,
    arrays up to 32 MiB (a 1080p float frame is 25 MiB) taken from the heap, and freed
    memory kept up to 1 GiB, page faults fell by a third, the kernel's time by about 30 %
    and the export took about 6 % less time; the peak memory fell too (2.4 → 2.1 GB at
    720p). Call before the threads start. Other C libraries (macOS, Windows, musl) keep
    their own defaults.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    settings = ((_M_ARENA_MAX, 1), (_M_MMAP_THRESHOLD, 32 << 20),
                (_M_TRIM_THRESHOLD, 1 << 30), (_M_TOP_PAD, 64 << 20))
    return all(mallopt(param, value) == 1 for param, value in settings)


def configure_torch_threads(cores: int | None = None) -> None:
    """Intra-op threads = cores, one inter-op thread (operators already run one at a time)."""
    import torch

    torch.set_num_threads(cores or cpu_count())
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # can only be set before torch's first parallel work; harmless if late


def _mark_pool_thread() -> None:
    _in_pool.active = True


class _SideBySide:
    """How many threads marked by `side_by_side` are working now (not waiting for another's
    result): while all of them are, the cores are busy and `parallel_map` runs inline in
    them; while one waits, the others' pieces go to the pool and use its core."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.working = 0

    def add(self, delta: int) -> None:
        with self._lock:
            self.working += delta


_side = _SideBySide()
_in_side = threading.local()


def side_by_side(fn: Callable[..., R]) -> Callable[..., R]:
    """`fn` run as one of several threads working side by side (an export's evaluating
    threads): see `parallel_map` and `waiting`."""
    def run(*args: object, **kwargs: object) -> R:
        _in_side.marked = True
        _side.add(1)
        try:
            return fn(*args, **kwargs)
        finally:
            _side.add(-1)
            _in_side.marked = False

    return run


@contextmanager
def waiting() -> Iterator[None]:
    """Around a wait for another thread's work (a lock it holds): a thread working side by
    side does not count as working meanwhile."""
    marked = getattr(_in_side, "marked", False)
    if marked:
        _side.add(-1)
    try:
        yield
    finally:
        if marked:
            _side.add(1)


def _forget_pool() -> None:
    # A forked child inherits the pool object but none of its threads: work handed to it
    # would wait forever. The child makes a pool of its own when it first needs one.
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def parallel_map(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """`fn` applied to each of `items` on a shared pool of one thread per core; the results
    in order, the first exception raised.

    For independent pieces of one frame's work (a temporal operator's flows and
    compensations of its neighbours): OpenCV releases the GIL, and on frames as small as a
    preview or an analysis frame its own threads win nothing (a dust draft at 480 px took
    the same wall time with one OpenCV thread as with two, at 1.6 cores of CPU), while two
    such pieces side by side use both cores. Called from a pool thread, with one item or
    one core, it runs in the caller's thread (so nested use cannot deadlock); so it does in
    a thread working `side_by_side` while as many such threads as cores are working (they
    keep the cores busy, and the pool would only add its hand-offs).

    `fn` must not wait for a lock that an evaluating thread may hold (it must not evaluate
    a stage: fetch the frames it needs first), so that work handed to the pool always
    finishes whoever handed it.
    """
    work = list(items)
    cores = cpu_count()
    if len(work) < 2 or cores < 2 or getattr(_in_pool, "active", False) or (
            getattr(_in_side, "marked", False) and _side.working >= cores):
        return [fn(item) for item in work]
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(cores, thread_name_prefix="nitrate-ops",
                                       initializer=_mark_pool_thread)
        pool = _pool
    futures = [pool.submit(fn, item) for item in work]
    return [f.result() for f in futures]


def row_bands(height: int, min_rows: int = 64) -> list[slice]:
    """`height` rows cut into one band per core (at least `min_rows` rows each), for
    `parallel_map` over a frame's per-pixel work: numpy's elementwise operations run on one
    core, and on two bands of a frame they use both (same results: each pixel's arithmetic
    is unchanged)."""
    parts = max(1, min(cpu_count(), height // max(1, min_rows)))
    edges = [round(height * k / parts) for k in range(parts + 1)]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]
