"""Colour correction: exposure, contrast, saturation, and lift/gamma/gain per channel.

Works on linear-ish scanned levels 0-1. Order of operations follows grading tools:
exposure → lift/gamma/gain → contrast about mid-grey → saturation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.ops.base import Operator, Result, Window
from engine.ops.params import Params, param

# Rec. 709 luma weights: saturation is changed around this luma so brightness is kept.
LUMA_WEIGHTS = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def _channel(name: str, what: str, default: float, lo: float, hi: float, unit: str = "") -> float:
    return param(default, label=f"{what} {name}", minimum=lo, maximum=hi, step=0.01, unit=unit)


@dataclass(frozen=True)
class ColorParams(Params):
    exposure: float = param(0.0, label="Exposure", unit="stops", minimum=-4.0, maximum=4.0, step=0.05)
    contrast: float = param(1.0, label="Contrast", minimum=0.0, maximum=3.0, step=0.01,
                            help="1 keeps contrast; pivots on mid-grey 0.5")
    saturation: float = param(1.0, label="Saturation", minimum=0.0, maximum=3.0, step=0.01)
    lift_r: float = _channel("R", "Lift", 0.0, -0.5, 0.5)
    lift_g: float = _channel("G", "Lift", 0.0, -0.5, 0.5)
    lift_b: float = _channel("B", "Lift", 0.0, -0.5, 0.5)
    gamma_r: float = _channel("R", "Gamma", 1.0, 0.2, 5.0)
    gamma_g: float = _channel("G", "Gamma", 1.0, 0.2, 5.0)
    gamma_b: float = _channel("B", "Gamma", 1.0, 0.2, 5.0)
    gain_r: float = _channel("R", "Gain", 1.0, 0.0, 4.0)
    gain_g: float = _channel("G", "Gain", 1.0, 0.0, 4.0)
    gain_b: float = _channel("B", "Gain", 1.0, 0.0, 4.0)


def apply_grade(frame: np.ndarray, p: ColorParams) -> np.ndarray:
    """Apply the manual grade of `p` to an RGB float32 frame (levels 0-1)."""
    out = frame
    if p.exposure != 0.0:
        out = out * np.float32(2.0 ** p.exposure)
    lift = np.array([p.lift_r, p.lift_g, p.lift_b], dtype=np.float32)
    gain = np.array([p.gain_r, p.gain_g, p.gain_b], dtype=np.float32)
    gamma = np.array([p.gamma_r, p.gamma_g, p.gamma_b], dtype=np.float32)
    if np.any(lift != 0) or np.any(gain != 1):
        # ASC-style: lift raises blacks and leaves white alone; gain scales.
        out = (out * (1.0 - lift) + lift) * gain
    if np.any(gamma != 1):
        out = np.power(np.clip(out, 0.0, None), 1.0 / gamma)
    if p.contrast != 1.0:
        out = (out - np.float32(0.5)) * np.float32(p.contrast) + np.float32(0.5)
    if p.saturation != 1.0:
        luma = out @ LUMA_WEIGHTS
        out = luma[..., None] + (out - luma[..., None]) * np.float32(p.saturation)
    return np.ascontiguousarray(out, dtype=np.float32)


class ColorOperator(Operator):
    id = "color"
    label = "Colour"
    description = "Exposure, contrast, saturation and lift/gamma/gain per channel."
    Params = ColorParams

    def process(self, window: Window) -> Result:
        return Result(apply_grade(window.current, self.params))
