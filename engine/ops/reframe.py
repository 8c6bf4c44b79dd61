"""Reframe: move, enlarge or turn the picture of a shot inside the frame.

A shot scanned off-centre (the frame line showing at the top), a tilted camera, a damaged
edge to hide, a pan and scan across a wide picture: what a restorer repositions by hand,
shot by shot, where the clip's framing (Clip ▸ Framing…) is the same for the whole clip.
Every value can be keyframed, so a reposition can move during a shot (a pan and scan).

The picture is moved by `pan_x`/`pan_y` source pixels (right and down), enlarged by `zoom`
(100 % is the scan's size) and turned by `rotate` degrees (anticlockwise) about the
frame's centre, in one bicubic resampling; the frame keeps its size and the strip the
picture uncovers is filled (black by default, or the picture mirrored or its edge
repeated). The mask is that strip: what is not picture. At the defaults the frame is
passed on untouched.

Put it after the cleaning steps: they then work on the scan's own pixels, and a turned
picture would make the vertical scratches the scratch step looks for slant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from engine.ops.base import Operator, Result, Window
from engine.ops.params import Params, param
from engine.ops.warp import BORDERS, about_centre, warp_frame


@dataclass(frozen=True)
class ReframeParams(Params):
    pan_x: float = param(0.0, label="Move right", unit="px", minimum=-4000.0, maximum=4000.0,
                         step=0.5, help="Moves the picture right (negative: left), in "
                         "source pixels")
    pan_y: float = param(0.0, label="Move down", unit="px", minimum=-4000.0, maximum=4000.0,
                         step=0.5, help="Moves the picture down (negative: up), in source "
                         "pixels")
    zoom: float = param(100.0, label="Size", unit="%", minimum=25.0, maximum=400.0, step=0.5,
                        help="The picture's size: 100 % as scanned, more enlarges it about "
                        "the frame's centre (hiding damaged edges)")
    rotate: float = param(0.0, label="Rotate", unit="°", minimum=-45.0, maximum=45.0,
                          step=0.05, help="Turns the picture anticlockwise about the frame's "
                          "centre (negative: clockwise), to level a tilted camera")
    border: str = param("black", label="Border fill", choices=tuple(BORDERS),
                        help="How the strip the picture uncovers is filled")


class ReframeOperator(Operator):
    id = "reframe"
    label = "Reframe"
    description = ("Move, enlarge or turn the picture of a shot inside the frame: a shot "
                   "scanned off-centre, a tilted camera, a damaged edge hidden, a pan and "
                   "scan (keyframe the values).")
    Params = ReframeParams

    def process(self, window: Window) -> Result:
        p = self.params
        assert isinstance(p, ReframeParams)
        frame = window.current
        h, w = frame.shape[:2]
        size = p.zoom / 100.0
        angle = math.radians(p.rotate)
        # No measures: it applies exactly its values, which the report lists.
        if (p.pan_x, p.pan_y, p.zoom, p.rotate) == (0.0, 0.0, 100.0, 0.0):
            return Result(frame, np.zeros((h, w), np.float32))
        # Where each output pixel is read: the inverse of "turn, enlarge, then move" (the
        # image's y axis points down, so anticlockwise on screen is a negative angle here).
        c, s = math.cos(-angle) * size, math.sin(-angle) * size
        forward = np.array([[c, -s, p.pan_x * window.scale],
                            [s, c, p.pan_y * window.scale],
                            [0.0, 0.0, 1.0]])
        sample = np.linalg.inv(about_centre(forward, w, h))[:2]
        out, inside = warp_frame(frame, sample, p.border, cv2.INTER_CUBIC)
        return Result(out, (~inside).astype(np.float32))
