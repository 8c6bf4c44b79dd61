"""Region tracking: a marked region follows the picture through its frames.

A protection drawn over water in a pan must move with the water; one drawn on frame 40
of a 50-frame shot would otherwise cover the bank by frame 90. `track_region` measures,
frame to frame, the motion of the picture in and around the region and returns the
region's offset on each frame (`Repair.track`), relative to where it lies on the key frame
(the frame it was placed on).

Each frame's position is measured against a reference frame (the key frame, as long as it
still matches: positions then do not drift over a long shot), else from the previous frame,
which becomes the new reference. A measurement is the stabiliser's block vote
(`engine.ops.stabilize.estimate_motion`: phase correlation per block, the shift most blocks
agree on, refined to sub-pixel) about the position the last motion predicts: first on the
region itself, then, when its own picture cannot be followed (water, fire and smoke change
every frame: that is why they are protected), on the picture around it, then on the whole
frame. A frame nothing can measure (a flash, a torn frame) is placed between the nearest
measured ones, and reported. Positions are kept in analysis pixels and rounded to whole
source pixels only at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from engine.errors import RenderCancelled
from engine.ops.motion import luma8
from engine.ops.stabilize import estimate_motion

# Frames are measured at most this wide (pixels, 8-bit luma): enough texture for the block
# vote at a fraction of the cost; only the reference, the previous frame and, walking
# backwards, one chunk are held.
_WIDTH = 640
# The picture around the region is the region grown to at least this many times its size,
# and at least _CONTEXT_MIN analysis pixels (the vote needs six blocks of about 45 px).
_CONTEXT_SCALE = 3.0
_CONTEXT_MIN = (270, 180)
# Frames read per step when walking backwards from the key frame: a forward read of a
# chunk is far cheaper than seeking to every frame of a long-GOP file.
_CHUNK = 32


@dataclass(frozen=True)
class Track:
    """offsets: (dx, dy) source pixels of the region on each frame start..end, (0, 0) on
    the key frame; unmeasured: frames whose motion could not be measured (a flash, a torn
    frame), where the region is placed between the nearest measured frames (held at the
    place of the last one beyond them)."""

    offsets: tuple[tuple[int, int], ...]
    unmeasured: tuple[int, ...]


def _luma(frame: np.ndarray, scale: float) -> np.ndarray:
    """8-bit luma of `frame` reduced by `scale` (at most 1)."""
    y = luma8(frame)
    if scale < 1.0:
        h, w = y.shape
        y = cv2.resize(y, (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA)
    return y


def _crop(luma: np.ndarray, x0: int, y0: int, w: int, h: int) -> np.ndarray:
    return luma[y0:y0 + h, x0:x0 + w].astype(np.float32) / 255.0


def _box(centre: np.ndarray, size: tuple[float, float], shape: tuple[int, int],
         offset: np.ndarray) -> tuple[int, int, int, int]:
    """A box of `size` (w, h) about `centre`, shrunk and moved so that it lies inside a
    frame of `shape` (h, w) both where it is and moved by `offset` (whole pixels)."""
    H, W = shape
    left, right = max(0, -int(offset[0])), min(W, W - int(offset[0]))
    top, bottom = max(0, -int(offset[1])), min(H, H - int(offset[1]))
    w, h = min(int(size[0]), right - left), min(int(size[1]), bottom - top)
    x0 = int(np.clip(round(centre[0] - w / 2), left, right - w))
    y0 = int(np.clip(round(centre[1] - h / 2), top, bottom - h))
    return x0, y0, w, h


def _shift_at(pa: np.ndarray, pb: np.ndarray, point: np.ndarray, halve: bool
              ) -> np.ndarray | None:
    """How far the picture at `point` of crop `pa` moved in crop `pb` (px), or None; with
    `halve`, measured on both halved (blocks then span twice the picture)."""
    if halve:
        pa, pb, point = cv2.pyrDown(pa), cv2.pyrDown(pb), point / 2.0
    m = estimate_motion(pa, pb)
    if m is None:
        return None
    shift = m[:, :2] @ point + m[:, 2] - point
    return shift * 2.0 if halve else shift


def _step(a: np.ndarray, b: np.ndarray, centre: np.ndarray, size: tuple[float, float],
          guess: np.ndarray) -> np.ndarray | None:
    """The shift (dx, dy, analysis px) of the picture at `centre` (a box of `size` about
    it) from luma `a` to luma `b`, searched about `guess`: on the region, else on the
    picture around it, else on the whole frame halved (a flat wall beside the water: the
    camera's motion is still the picture's, and larger blocks find what texture there
    is). None when none can be followed."""
    context = (max(size[0] * _CONTEXT_SCALE, _CONTEXT_MIN[0]),
               max(size[1] * _CONTEXT_SCALE, _CONTEXT_MIN[1]))
    whole = (float(a.shape[1]), float(a.shape[0]))
    offset = np.round(guess).astype(int)
    for box_size, halve in ((size, False), (context, False), (whole, True)):
        x0, y0, w, h = _box(centre, box_size, a.shape, offset)
        if w < 2 or h < 2:
            return None
        pa = _crop(a, x0, y0, w, h)
        pb = _crop(b, x0 + int(offset[0]), y0 + int(offset[1]), w, h)
        shift = _shift_at(pa, pb, centre - (x0, y0), halve)
        if shift is not None:
            return offset + shift
    return None


def _forward(reader: Any, first: int, last: int, scale: float) -> Iterator[np.ndarray]:
    for frame in reader.frames(first, last + 1):
        yield _luma(frame, scale)


def _backward(reader: Any, first: int, last: int, scale: float) -> Iterator[np.ndarray]:
    """Lumas of frames last, last-1, … first, read forwards a chunk at a time."""
    stop = last + 1
    while stop > first:
        start = max(first, stop - _CHUNK)
        chunk = [_luma(f, scale) for f in reader.frames(start, stop)]
        yield from reversed(chunk)
        stop = start


def track_region(reader: Any, region: tuple[int, int, int, int], start: int, end: int,
                 key: int, progress: Callable[[int, int], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> Track:
    """Follow `region` (x, y, width, height, source pixels, where it lies on frame `key`)
    through frames `start`..`end` (inclusive; key among them) of `reader` (anything with
    `info` and `frames(start, stop)`: engine.media.Reader).

    progress(done, total) is called per frame; cancel() → True stops with RenderCancelled.
    """
    if not start <= key <= end:
        raise ValueError(f"the key frame {key} lies outside frames {start}-{end}")
    width = reader.info.width
    scale = min(1.0, _WIDTH / width)
    x, y, w, h = region
    size = (w * scale, h * scale)
    home = np.array([(x + w / 2) * scale, (y + h / 2) * scale])
    positions = {key: np.zeros(2)}
    unmeasured: list[int] = []
    total = end - start + 1
    done = 0

    def walk(lumas: Iterator[np.ndarray], direction: int) -> None:
        nonlocal done
        index, velocity = key, np.zeros(2)
        previous = next(lumas)
        reference, anchor = previous, key
        if direction > 0:  # the key frame is read once, by the forward walk
            done += 1
        for luma in lumas:
            if cancel is not None and cancel():
                raise RenderCancelled("tracking cancelled")
            here = index + direction
            guess = positions[index] + velocity
            # Measured against the reference frame, positions do not drift; from frame to
            # frame, each step's small error would add up over a long shot.
            shift = _step(reference, luma, home + positions[anchor], size,
                          guess - positions[anchor])
            if shift is not None:
                positions[here] = positions[anchor] + shift
            else:
                # The reference no longer matches (the picture changed, or left it): one
                # step from the previous frame, which then becomes the reference.
                shift = _step(previous, luma, home + positions[index], size, velocity)
                if shift is None:
                    shift = np.zeros(2)  # for the next step; placed at the end
                    unmeasured.append(here)
                else:
                    reference, anchor = luma, here
                positions[here] = positions[index] + shift
            velocity = positions[here] - positions[index]
            index, previous = here, luma
            done += 1
            if progress is not None:
                progress(done, total)

    walk(_forward(reader, key, end, scale), +1)
    if key > start:
        walk(_backward(reader, start, key, scale), -1)
    frames = np.arange(start, end + 1)
    path = np.array([positions[i] for i in frames])
    if unmeasured:
        # A frame that could not be measured lies between measured ones (a flash or a torn
        # frame in a pan): the region goes where the picture's motion would have taken it.
        known = ~np.isin(frames, unmeasured)
        for axis in (0, 1):
            path[~known, axis] = np.interp(frames[~known], frames[known], path[known, axis])
    offsets = tuple((int(round(dx / scale)), int(round(dy / scale))) for dx, dy in path)
    return Track(offsets, tuple(sorted(unmeasured)))
