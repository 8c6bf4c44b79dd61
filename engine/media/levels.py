"""The brightness of every frame of a clip: the timeline's levels graph.

Flicker, fades and exposure jumps show at a glance as the clip's mean luma over time, and
so does what deflicker will have to even out. One sequential pass reads each frame reduced
inside the colour conversion (`Reader.read_scaled`, a few milliseconds a frame on top of
the decode), so the graph of a reel costs about what its decode does, in the background.
Cut detection measures the same thing on its own pass (`engine.shots.analyse_cuts`), so a
clip whose shots are being found gets its graph from there instead.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.errors import RenderCancelled
from engine.media.reader import Reader

LEVELS_WIDTH = 160
"""Width (pixels) frames are reduced to: the mean of a reduced frame is the frame's mean."""
PROGRESS_EVERY = 25
"""Frames between progress callbacks (and cancel polls)."""

_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


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
        luma = np.nan_to_num(frame.astype(np.float32, copy=False) @ _LUMA, nan=0.0)
        levels[i] = float(np.clip(luma, 0.0, 1.0).mean())
    if progress is not None:
        progress(count, count)
    return levels
