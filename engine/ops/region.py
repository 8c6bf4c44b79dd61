"""Regions the restorer marks (x, y, width, height in source pixels) as pixel rectangles of a
frame evaluated at some scale: shared by the manual repair stage and the protection of
marked picture from the automatic spot repairs; and the box of a spot of dirt the restorer
clicks (`spot_around`), for a repair without drawing one."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.ops.color import LUMA_WEIGHTS


@dataclass(frozen=True)
class Rect:
    """A pixel rectangle of a frame: columns x0..x1 and rows y0..y1, the ends exclusive."""

    x0: int
    y0: int
    x1: int  # exclusive
    y1: int

    @property
    def empty(self) -> bool:
        return self.x1 <= self.x0 or self.y1 <= self.y0

    def grown(self, by: int, width: int, height: int) -> Rect:
        return Rect(max(0, self.x0 - by), max(0, self.y0 - by),
                    min(width, self.x1 + by), min(height, self.y1 + by))

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    def within(self, area: Rect) -> Rect:
        """This rectangle in the coordinates of `area` (which contains it)."""
        return Rect(self.x0 - area.x0, self.y0 - area.y0, self.x1 - area.x0, self.y1 - area.y0)


def region_rect(region: tuple[int, int, int, int], scale: float, width: int, height: int) -> Rect:
    """A region in source pixels as a pixel rectangle of a frame at `scale`, clipped to it
    (rounded outwards so a small region never vanishes at a preview scale)."""
    x, y, w, h = region
    return Rect(max(0, int(np.floor(x * scale))), max(0, int(np.floor(y * scale))),
                min(width, int(np.ceil((x + w) * scale))),
                min(height, int(np.ceil((y + h) * scale))))


# A clicked spot must stand out from the picture around it by at least this much (levels
# 0-1), and by this many times the picture's own texture (robust std of what the median
# filter leaves), to be taken for dirt.
_SPOT_CONTRAST = 0.03
_SPOT_TEXTURE = 3.0
# Spot radii tried (pixels): the picture around a spot is its median over a square a
# little larger than the spot, which a spot of that size cannot move.
_SPOT_RADII = (3, 6, 12, 20)
# The picture just around a spot: a ring this many pixels wide outside its box.
_SPOT_RING = 4


def spot_around(luma: np.ndarray, x: float, y: float, reach: int = 48,
                margin: int = 2) -> tuple[int, int, int, int] | None:
    """The box (x, y, width, height, pixels of `luma`) of the spot of dirt clicked at
    (x, y), grown by `margin` to cover its soft edge; None where nothing there stands out.

    Smallest size first, the picture around is the median over a square twice the size
    tried; the spot is the connected pixels that stand out from it the same way as the
    clicked one (or its strongest neighbour, for a click on the soft edge), by at least
    half as much, and by more than the picture's own texture. It must fit the size tried:
    what spreads farther is tried at the next size, and beyond the largest is picture (an
    edge, a line, an object), not a spot.
    """
    h, w = luma.shape
    cx, cy = int(np.clip(np.floor(x), 0, w - 1)), int(np.clip(np.floor(y), 0, h - 1))
    x0, y0 = max(0, cx - reach), max(0, cy - reach)
    x1, y1 = min(w, cx + reach + 1), min(h, cy + reach + 1)
    crop = np.clip(luma[y0:y1, x0:x1] * 255.0 + 0.5, 0, 255).astype(np.uint8)
    px, py = cx - x0, cy - y0
    for radius in _SPOT_RADII:
        background = cv2.medianBlur(crop, 4 * radius + 1)
        diff = (crop.astype(np.float32) - background) / 255.0
        near = diff[max(0, py - 1):py + 2, max(0, px - 1):px + 2]
        peak = float(near.flat[np.argmax(np.abs(near))])
        texture = 1.4826 * float(np.median(np.abs(diff)))
        if abs(peak) < max(_SPOT_CONTRAST, _SPOT_TEXTURE * texture):
            continue
        standing = diff * np.sign(peak) > abs(peak) / 2
        _count, labels = cv2.connectedComponents(standing.astype(np.uint8), connectivity=8)
        label = int(labels[max(0, py - 1):py + 2, max(0, px - 1):px + 2].max())
        ys, xs = np.nonzero(labels == label)
        if xs.max() - xs.min() >= 2 * radius + 1 or ys.max() - ys.min() >= 2 * radius + 1:
            continue  # larger than the size tried: the median was not the picture around
        # The picture just around the spot must be one picture, which the spot stands
        # out from: beside an edge it is both sides, as far apart as the "spot" is.
        box = np.zeros(crop.shape, np.uint8)
        box[ys.min():ys.max() + 1, xs.min():xs.max() + 1] = 1
        ring = (cv2.dilate(box, np.ones((2 * _SPOT_RING + 1,) * 2, np.uint8)) > 0) & \
            (cv2.dilate(box, np.ones((3, 3), np.uint8)) == 0)
        around = crop[ring].astype(np.float32) / 255.0
        low, high = np.percentile(around, (10, 90))
        spread = float(high - low) / 2.56  # a std, but not blind to a minority side
        extreme = float(np.max(np.abs(crop[labels == label] / 255.0 - np.median(around))))
        if _SPOT_TEXTURE * spread >= extreme:
            continue
        bx0, by0 = max(0, x0 + int(xs.min()) - margin), max(0, y0 + int(ys.min()) - margin)
        bx1 = min(w, x0 + int(xs.max()) + 1 + margin)
        by1 = min(h, y0 + int(ys.max()) + 1 + margin)
        return bx0, by0, bx1 - bx0, by1 - by0
    return None


def spot_region(frame: np.ndarray, x: float, y: float,
                width: int = 960) -> tuple[int, int, int, int] | None:
    """`spot_around` for a frame of any size: the region (x, y, width, height, source
    pixels) of the speck at source point (x, y) of `frame` (float32 (H, W, 3) RGB), found
    on the frame reduced to at most `width` pixels (the sizes tried are a preview's) and
    scaled back, rounded outwards."""
    h, w = frame.shape[:2]
    scale = min(1.0, width / w)
    luma = frame @ LUMA_WEIGHTS
    if scale < 1.0:
        luma = cv2.resize(luma, (max(1, round(w * scale)), max(1, round(h * scale))),
                          interpolation=cv2.INTER_AREA)
    box = spot_around(luma, x * scale, y * scale)
    if box is None:
        return None
    bx, by, bw, bh = box
    x0, y0 = int(np.floor(bx / scale)), int(np.floor(by / scale))
    x1, y1 = min(w, int(np.ceil((bx + bw) / scale))), min(h, int(np.ceil((by + bh) / scale)))
    return x0, y0, x1 - x0, y1 - y0
