"""Finding the picture area of a scan: the crop that removes its uniform surround.

A scan often shows the gate around the picture: a black band (the gate's shadow, or
letterbox bars printed on the film) or a clear one (unexposed base, white in a print
scan), with frame lines at the top and bottom. `detect_crop` finds such bands at the
four edges of frames sampled across the clip:

- an edge row (or column) is surround when nearly all its pixels (`UNIFORM_SHARE`) lie
  within `LEVEL_TOLERANCE` of the row's median, and that median is dark (≤ `DARK`) or
  clear (≥ `CLEAR`). Picture is rarely flat to its very edge at such levels; a dust
  speck or a hair on the surround leaves it uniform by this count;
- each sample frame is walked inward from every edge until the first row that is not
  surround; a frame whose surround would take more than a third of the picture on one
  side (a fade to black, a flash) says nothing and is skipped;
- the crop is the widest surround of any sample, so the gate's weave never shows, plus
  `MARGIN` pixels where a surround was found (the gate's edge is soft).

Perforations and soundtracks are not uniform and are not found: they are cropped by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from engine.metrics import LUMA

if TYPE_CHECKING:
    from engine.media.reader import Reader

DARK = 0.15
"""Highest median luma (0-1) of a dark surround."""
CLEAR = 0.85
"""Lowest median luma (0-1) of a clear surround."""
LEVEL_TOLERANCE = 0.06
"""How far (luma, 0-1) a surround pixel may lie from its row's median: grain and noise."""
UNIFORM_SHARE = 0.97
"""Share of a row's pixels that must lie within the tolerance for it to be surround."""
MARGIN = 2
"""Pixels added to each side where a surround was found: the gate's edge is soft."""
SAMPLES = 9
"""Frames read across the clip to find the surround."""

Crop = tuple[int, int, int, int]
"""Pixels cut from the (left, top, right, bottom) edges."""


def _surround_rows(luma: np.ndarray) -> np.ndarray:
    """Per row of `luma` (H, W): True where the row is uniform surround (module docstring)."""
    median = np.median(luma, axis=1, keepdims=True)
    share = np.mean(np.abs(luma - median) <= LEVEL_TOLERANCE, axis=1)
    level = median[:, 0]
    return (share >= UNIFORM_SHARE) & ((level <= DARK) | (level >= CLEAR))


def _walk(surround: np.ndarray) -> tuple[int, int]:
    """How many leading and trailing entries of `surround` are True before the first False."""
    inside = np.flatnonzero(~surround)
    if inside.size == 0:
        return len(surround), len(surround)
    return int(inside[0]), int(len(surround) - 1 - inside[-1])


def frame_surround(picture: np.ndarray) -> Crop | None:
    """The uniform surround of one frame (float32 (H, W, 3) RGB, 0-1) as a crop, or None
    when it would take more than a third of the picture on a side (a frame that says
    nothing about the gate: a fade, a flash)."""
    luma = picture.astype(np.float32, copy=False) @ LUMA
    # Blurred along each line (3 px) first: single-pixel grain and noise do not break a
    # uniform band, and a clear frame line does not bleed into the dark band beside it.
    along_rows, along_columns = cv2.blur(luma, (3, 1)), cv2.blur(luma, (1, 3))
    height, width = luma.shape
    left = top = right = bottom = 0
    # Rows are judged between the side bands and columns between the top and bottom
    # ones, twice: a clear frame line above a dark side band leaves neither uniform
    # across the whole frame.
    for _ in range(2):
        top, bottom = _walk(_surround_rows(along_rows[:, left:width - right]))
        if max(top, bottom) * 3 > height:
            return None
        left, right = _walk(_surround_rows(along_columns[top:height - bottom].T))
        if max(left, right) * 3 > width:
            return None
    return left, top, right, bottom


def detect_crop(pictures: Sequence[np.ndarray]) -> Crop:
    """The crop removing the uniform surround of `pictures` (frames of one clip, float32
    (H, W, 3) RGB, 0-1): the widest of any frame, plus MARGIN where one was found. (0, 0,
    0, 0) when no frame shows a surround."""
    found = [c for c in (frame_surround(p) for p in pictures) if c is not None]
    if not found:
        return 0, 0, 0, 0
    widest = np.max(np.array(found), axis=0)
    return tuple(int(v) + MARGIN if v else 0 for v in widest)  # type: ignore[return-value]


def sample_indices(frame_count: int, count: int = SAMPLES) -> list[int]:
    """`count` frame indices spread evenly over a clip (its ends excluded: leaders, fades)."""
    if frame_count <= count:
        return list(range(frame_count))
    step = frame_count / (count + 1)
    return sorted({int(step * (i + 1)) for i in range(count)})


def detect_clip_crop(reader: Reader, count: int = SAMPLES) -> Crop:
    """`detect_crop` of `count` frames read across `reader`'s clip (full resolution: the
    crop is in source pixels)."""
    indices = sample_indices(reader.info.frame_count, count)
    return detect_crop([reader.read(i) for i in indices])
