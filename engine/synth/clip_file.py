"""Generated frames written to a media file, for tests, benchmarks and examples."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

from engine.media import Writer, output_format_for


def write_frames(path: str | Path, frames: Iterable[np.ndarray], fps: Fraction = Fraction(24),
                 timecode: str | None = None) -> Path:
    """Write `frames` (float32 (H, W, 3) RGB, levels 0-1, all one size) to `path` in the
    format its extension names (`.mkv`: lossless FFV1), at `fps`; returns the path."""
    path = Path(path)
    frames = iter(frames)
    first = next(frames)
    height, width = first.shape[:2]
    with Writer(path, output_format_for(path), width, height, fps, timecode=timecode) as writer:
        writer.write(first)
        for frame in frames:
            writer.write(frame)
    return path
