"""The brightness of every frame of a clip: the timeline's levels graph.

Flicker, fades and exposure jumps show at a glance as the clip's mean luma over time, and
so does what deflicker will have to even out. One sequential pass reads each frame reduced
inside the colour conversion (`Reader.read_scaled`, a few milliseconds a frame on top of
the decode), so the graph of a reel costs about what its decode does, in the background.
Cut detection measures the same thing on its own pass (`engine.shots.analyse_cuts`), so a
clip whose shots are being found gets its graph from there instead.

The levels of a video file are kept in the user's cache (`store_levels`, `cached_levels`:
XDG_CACHE_HOME/nitrate/levels, named by `engine.media.cache.source_key`), so opening its
project again costs no pass. Image sequences are measured each time: a frame rewritten in
place changes neither the folder's size nor, always, its time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.errors import RenderCancelled
from engine.media.cache import derived_path, load_arrays, store_arrays
from engine.media.reader import Reader
from engine.metrics import LUMA

LEVELS_WIDTH = 160
"""Width (pixels) frames are reduced to: the mean of a reduced frame is the frame's mean."""
PROGRESS_EVERY = 25
"""Frames between progress callbacks (and cancel polls)."""


def frame_levels(
    reader: Reader,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    width: int = LEVELS_WIDTH,
) -> np.ndarray:
    """Mean Rec. 709 luma (levels 0-1) of every frame of `reader`'s clip, in order: float32
    (frame_count,). NaN counts as black, levels beyond 0-1 as the nearest end (as an export
    writes them). `progress(done, total)` every PROGRESS_EVERY frames and at the end;
    `cancel()` polled as often, True stops by raising RenderCancelled."""
    info = reader.info
    count = int(info.frame_count)
    size = (max(1, min(width, info.width)),
            max(1, round(info.height * min(width, info.width) / max(1, info.width))))
    levels = np.zeros(count, np.float32)
    for i in range(count):
        if i % PROGRESS_EVERY == 0:
            if cancel is not None and cancel():
                raise RenderCancelled(f"levels cancelled at frame {i}")
            if progress is not None:
                progress(i, count)
        frame = reader.read_scaled(i, size)
        luma = np.nan_to_num(frame.astype(np.float32, copy=False) @ LUMA, nan=0.0)
        levels[i] = float(np.clip(luma, 0.0, 1.0).mean())
    if progress is not None:
        progress(count, count)
    return levels


def levels_path(source: str | Path, folder: Path | None = None) -> Path | None:
    """Where the cached levels of video file `source` live (None: not a file, unreadable)."""
    return derived_path("levels", source, ".npz", folder)


def cached_levels(source: str | Path, frame_count: int,
                  folder: Path | None = None) -> np.ndarray | None:
    """The stored levels of `source` when there are `frame_count` of them, else None."""
    data = load_arrays(levels_path(source, folder))
    levels = None if data is None else data.get("levels")
    if levels is None or levels.shape != (frame_count,) or levels.dtype != np.float32:
        return None
    return levels


def store_levels(source: str | Path, levels: np.ndarray, folder: Path | None = None) -> None:
    """Keep `levels` of video file `source` for next time (atomically; a cache that cannot
    be written is logged and skipped: the graph is measured again next time)."""
    store_arrays(levels_path(source, folder), levels=np.asarray(levels, np.float32))
