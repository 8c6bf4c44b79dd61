"""Unsharp mask: add back the difference between the frame and a blurred copy."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.ops.base import Operator, Result, Window
from engine.ops.color import channel_max
from engine.ops.params import Params, param


@dataclass(frozen=True)
class SharpenParams(Params):
    amount: float = param(0.5, label="Amount", minimum=0.0, maximum=5.0, step=0.05,
                          help="How much of the detail is added back (1 = doubled)")
    radius: float = param(1.5, label="Radius", unit="px", minimum=0.3, maximum=20.0, step=0.1,
                          help="Gaussian sigma of the blur, in source pixels")
    threshold: float = param(0.0, label="Threshold", minimum=0.0, maximum=0.5, step=0.005,
                             help="Detail smaller than this (levels 0-1) is left alone, so grain is not sharpened")


class SharpenOperator(Operator):
    id = "sharpen"
    label = "Sharpen"
    description = "Unsharp mask with a threshold that spares grain."
    Params = SharpenParams

    def process(self, window: Window) -> Result:
        p = self.params
        frame = window.current
        sigma = max(p.radius * window.scale, 0.3)
        blurred = cv2.GaussianBlur(frame, (0, 0), sigmaX=sigma, sigmaY=sigma)
        detail = frame - blurred
        if p.threshold > 0:
            # Soft threshold on the detail magnitude keeps edges continuous.
            magnitude = np.abs(detail)
            detail = np.sign(detail) * np.maximum(magnitude - np.float32(p.threshold), 0)
        out = frame + np.float32(p.amount) * detail
        mask = np.clip(channel_max(np.abs(out - frame)) * 20.0, 0.0, 1.0)
        return Result(out.astype(np.float32, copy=False), mask.astype(np.float32))
