"""A reel's frame check kept in the user's cache, so its findings come back with the reel.

Named like the levels graph (`engine.media.cache.derived_path`: the video file's path,
size and modification time), so a replaced file never meets an old check; image sequences
are checked again each time. The check is small (a few numbers a frame), kept as an .npz.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from engine.media.cache import derived_path, load_arrays, store_arrays
from engine.qc.frame_check import KINDS, FrameCheck, FrameEvent


def check_path(source: str | Path, folder: Path | None = None) -> Path | None:
    """Where the frame check of video file `source` is kept (None: not a file)."""
    return derived_path("frame_check", source, ".npz", folder)


def store_check(source: str | Path, check: FrameCheck, folder: Path | None = None) -> None:
    """Keep `check` of `source` (atomically; a cache that cannot be written is skipped)."""
    store_arrays(check_path(source, folder),
                 range=np.array([check.start, check.end], np.int64),
                 frames=np.array([e.frame for e in check.events], np.int64),
                 kinds=np.array([KINDS.index(e.kind) for e in check.events], np.int64),
                 measures=np.array([e.measure for e in check.events], np.float64),
                 level=check.level, change=check.change, standout=check.standout,
                 fps=np.array([check.fps.numerator, check.fps.denominator], np.int64),
                 timecode=np.array(check.timecode or ""))


def cached_check(source: str | Path, frame_count: int,
                 folder: Path | None = None) -> FrameCheck | None:
    """The kept frame check of `source`, if there is one of a clip of `frame_count`
    frames, else None."""
    data = load_arrays(check_path(source, folder))
    try:
        if data is None:
            return None
        start, end = (int(v) for v in data["range"])
        n = end - start
        if not 0 <= start < end <= frame_count or any(
                data[k].shape != (n,) for k in ("level", "change", "standout")):
            return None
        events = tuple(FrameEvent(int(f), KINDS[int(k)], float(m)) for f, k, m in
                       zip(data["frames"], data["kinds"], data["measures"], strict=True))
        num, den = (int(v) for v in data["fps"])
        return FrameCheck(start, end, events, data["level"].astype(np.float32),
                          data["change"].astype(np.float32),
                          data["standout"].astype(np.float32), Fraction(num, den),
                          str(data["timecode"]) or None)
    except (KeyError, IndexError, ValueError, ZeroDivisionError):
        return None
