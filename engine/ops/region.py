"""Regions the restorer marks (x, y, width, height in source pixels) as pixel rectangles of a
frame evaluated at some scale: shared by the manual repair stage and the protection of
marked picture from the automatic spot repairs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
