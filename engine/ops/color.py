"""Colour correction: faded-colour restoration, exposure, contrast, saturation, and
lift/gamma/gain per channel.

Works on linear-ish scanned levels 0-1. Order of operations follows grading tools: the
automatic per-shot restoration first (levels and balance, off by default), then the manual
grade: exposure → lift/gamma/gain → contrast about mid-grey → saturation.

The automatic part measures the whole shot, not the frame: 12 frames spread over the shot
are pooled, and one constant per-channel gain and offset is derived from them, so the
correction cannot pump from frame to frame. Faded prints lose their dyes unevenly (a pink
cast), their blacks rise and their whites sink; per-channel black and white points
(robust percentiles) and a grey-world mid-point put the three channels back on a common
scale.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import cv2
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
    auto_levels: bool = param(False, label="Auto levels",
                              help="Stretch the shot's darkest and brightest 0.5 % to black "
                              "and white (one setting for the whole shot)")
    auto_balance: bool = param(False, label="Auto balance",
                               help="Neutralise the shot's colour cast (faded dyes): channel "
                               "black, white and mid points are brought together")
    auto_strength: float = param(1.0, label="Auto strength", minimum=0.0, maximum=1.0,
                                 step=0.05, help="How much of the automatic correction is applied")


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


# Shot statistics: frames sampled per shot, analysis width (pixels), percentiles (%).
_SAMPLES = 12
_STATS_WIDTH = 256
_LOW_PCT, _HIGH_PCT = 0.5, 99.5
# Where the automatic levels put the shot's low and high percentiles (levels 0-1): a little
# inside black and white so the extremes keep some detail.
_BLACK, _WHITE = 0.02, 0.98
# Weight of the grey-world mid-point against the black and white points in the balance.
_GREY_WEIGHT = 0.5
# A change of this size (levels) shows as 1 in the mask.
_MASK_FULL = 0.1


@dataclass(frozen=True)
class ShotStats:
    """Robust levels of a shot, per channel R, G, B and for luma (levels 0-1)."""

    low: np.ndarray     # (3,) low percentile per channel
    high: np.ndarray    # (3,) high percentile per channel
    mean: np.ndarray    # (3,) mean per channel
    luma_low: float
    luma_high: float


def shot_stats(frames: list[np.ndarray]) -> ShotStats:
    """Pool downscaled `frames` and measure their per-channel levels."""
    pixels = []
    for f in frames:
        h, w = f.shape[:2]
        if w > _STATS_WIDTH:
            f = cv2.resize(f, (_STATS_WIDTH, max(1, round(h * _STATS_WIDTH / w))),
                           interpolation=cv2.INTER_AREA)
        pixels.append(f.reshape(-1, 3))
    rgb = np.concatenate(pixels, axis=0)
    low, high = np.percentile(rgb, [_LOW_PCT, _HIGH_PCT], axis=0)
    luma = rgb @ LUMA_WEIGHTS
    luma_low, luma_high = np.percentile(luma, [_LOW_PCT, _HIGH_PCT])
    return ShotStats(low, high, rgb.mean(axis=0), float(luma_low), float(luma_high))


def auto_correction(stats: ShotStats, levels: bool, balance: bool,
                    strength: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (gain (3,), offset (3,)) restoring a shot's levels and/or balance.

    levels:  the shot's low/high percentiles go to near black/white; without `balance` one
             map serves all channels (hue kept).
    balance: each channel's own low/high percentiles and mean are brought onto the common
             ones (least squares through the three points), which removes a dye fade's cast;
             without `levels` the shot's overall contrast is kept.
    strength: 0 = no change … 1 = full correction.
    """
    gain, offset = np.ones(3), np.zeros(3)
    if levels:
        lo_t, hi_t = _BLACK, _WHITE
    else:
        lo_t = float(stats.low @ LUMA_WEIGHTS)
        hi_t = float(stats.high @ LUMA_WEIGHTS)
    if balance:
        span = np.maximum(stats.high - stats.low, 1e-3)
        mid = np.clip((stats.mean - stats.low) / span, 0.05, 0.95)  # normalised channel means
        mid_t = float(mid @ LUMA_WEIGHTS)
        # Per channel, the line through (0, 0), (mid, mid_t), (1, 1) in normalised levels,
        # fitted by weighted least squares.
        xs = np.stack([np.zeros(3), mid, np.ones(3)], axis=1)
        ys = np.stack([np.zeros(3), np.full(3, mid_t), np.ones(3)], axis=1)
        w = np.array([1.0, _GREY_WEIGHT, 1.0])
        mx = (xs * w).sum(axis=1) / w.sum()
        my = (ys * w).sum(axis=1) / w.sum()
        slope = ((w * (xs - mx[:, None]) * (ys - my[:, None])).sum(axis=1)
                 / (w * (xs - mx[:, None]) ** 2).sum(axis=1))
        icpt = my - slope * mx
        # Compose: normalise, straighten, then place on [lo_t, hi_t].
        gain = (hi_t - lo_t) * slope / span
        offset = lo_t + (hi_t - lo_t) * (icpt - slope * stats.low / span)
    elif levels:
        span = max(stats.luma_high - stats.luma_low, 1e-3)
        gain = np.full(3, (hi_t - lo_t) / span)
        offset = np.full(3, lo_t - stats.luma_low * (hi_t - lo_t) / span)
    gain = 1.0 + strength * (np.clip(gain, 0.2, 5.0) - 1.0)
    offset = strength * offset
    return gain.astype(np.float32), offset.astype(np.float32)


class ColorOperator(Operator):
    id = "color"
    label = "Colour"
    description = ("Faded-colour restoration (automatic per-shot levels and balance), "
                   "exposure, contrast, saturation and lift/gamma/gain per channel.")
    Params = ColorParams

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        # Per (window.key, shot): a few shots' statistics, the ones an export is crossing.
        self._stats: OrderedDict[tuple[str, tuple[int, int]], ShotStats] = OrderedDict()

    def stats(self, window: Window) -> ShotStats:
        """Statistics of the window's shot from up to 12 frames spread over it (memoised)."""
        key = (window.key, window.shot)
        hit = self._stats.get(key)
        if hit is not None:
            return hit
        first, last = window.shot
        if window.fetch is not None:
            picks = np.unique(np.linspace(first, last, min(_SAMPLES, last - first + 1)).round())
            frames = [window.fetch(int(i)) for i in picks]
        else:
            frames = list(window.frames)
        result = shot_stats(frames)
        self._stats[key] = result
        while len(self._stats) > 8:
            self._stats.popitem(last=False)
        return result

    def process(self, window: Window) -> Result:
        p = self.params
        frame = window.current
        auto = (p.auto_levels or p.auto_balance) and p.auto_strength > 0
        if not auto:
            return Result(apply_grade(frame, p))
        gain, offset = auto_correction(self.stats(window), p.auto_levels, p.auto_balance,
                                       p.auto_strength)
        # One pass per pixel: a diagonal 3x4 colour matrix.
        matrix = np.zeros((3, 4), np.float32)
        matrix[np.arange(3), np.arange(3)] = gain
        matrix[:, 3] = offset
        out = apply_grade(cv2.transform(frame, matrix), p)
        # The mask is measured on a small copy: the correction is smooth in levels, so a
        # quarter-size difference, enlarged, shows where it acted most.
        h, w = frame.shape[:2]
        small_size = (max(1, w // 4), max(1, h // 4))
        small = cv2.resize(frame, small_size, interpolation=cv2.INTER_AREA)
        changed = np.abs(apply_grade(cv2.transform(small, matrix), p) - small).max(axis=2)
        mask = cv2.resize(np.clip(changed / _MASK_FULL, 0.0, 1.0), (w, h),
                          interpolation=cv2.INTER_LINEAR)
        return Result(out, mask.astype(np.float32, copy=False))
