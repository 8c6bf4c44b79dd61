"""Colour correction: faded-colour restoration, exposure, contrast, saturation, and
lift/gamma/gain per channel.

Works on linear-ish scanned levels 0-1. Order of operations follows grading tools: the
automatic per-shot restoration first (levels and balance, off by default), then the manual
grade: exposure → lift/gamma/gain → contrast about mid-grey → saturation.

The automatic part measures the whole shot, not the frame: 12 analysis frames
(small) spread over the shot are pooled, and one constant per-channel gain and offset is
derived from them, so the correction cannot pump from frame to frame. In a pipeline they
are survey frames (`Window.survey`: the picture before the dust, scratch and grain repairs
that precede the grade, whose temporal windows would otherwise be evaluated for them, most
of a short shot): at the analysis scale, pooled over 12 frames, what those repairs remove
does not move the shot's percentiles (the film preset's SSIM was the same or better on the
quality benchmark than with the repaired frames).
It undoes a fade only as far as the shot shows one: a faded print's blacks rise to a
common fog floor in all channels, its range is compressed and its dyes fade unevenly (a
pink cast). The floor is lowered half way (fog and a scene with no true black look alike),
a sunken white is raised, and the channels' whites are brought together in proportion to
the evidence of fading (the floor's height), so a shot with true blacks keeps its colours
and a picture that is not faded is barely touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from engine.ops.base import ANALYSIS_WIDTH, Operator, Result, Window
from engine.ops.memo import Memo
from engine.ops.params import Params, param

# Rec. 709 luma weights: saturation is changed around this luma so brightness is kept.
LUMA_WEIGHTS = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def channel_max(values: np.ndarray) -> np.ndarray:
    """The largest of each pixel's channels (the last axis): `values.max(axis=-1)`, but
    numpy reduces over an axis of three about 17 times slower than it takes two elementwise
    maxima (2.6 against 0.15 ms on a quarter-size 720p frame)."""
    out = values[..., 0]
    for c in range(1, values.shape[-1]):
        out = np.maximum(out, values[..., c])
    return out


def analysis_span(window: Window, radius: int) -> tuple[int, int]:
    """First and last frame index (inclusive) within `radius` frames of the current one whose
    analysis frames `analysis_frame` can give: the shot, or only the window's own frames
    when it was built without `analyse` or `fetch` (a bare window in a test or tool)."""
    first, last = window.shot
    if window.analyse is None and window.fetch is None:
        first, last = window.indices[0], window.indices[-1]
    return max(first, window.index - radius), min(last, window.index + radius)


def analysis_frame(window: Window, index: int) -> np.ndarray:
    """Previous-stage frame `index` at most ANALYSIS_WIDTH pixels wide, for statistics.

    `window.analyse` when the pipeline provides it (cheap, cached, identical at every
    preview scale); otherwise the full-size frame from `fetch` or the window, reduced here.
    Lengths measured on it convert to the current frame's pixels by the ratio of widths.
    """
    if window.analyse is not None:
        return window.analyse(index)
    if window.fetch is not None:
        frame = window.fetch(index)
    else:
        frame = window.frames[window.indices.index(index)]
    h, w = frame.shape[:2]
    if w <= ANALYSIS_WIDTH:
        return frame
    size = (ANALYSIS_WIDTH, max(8, round(h * ANALYSIS_WIDTH / w)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


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
                              help="Lower a faded shot's raised blacks and raise a sunken "
                              "white (one setting for the whole shot)")
    auto_balance: bool = param(False, label="Auto balance",
                               help="Reduce a faded shot's colour cast (uneven dye fading): "
                               "channel whites are brought together as far as the shot "
                               "shows a fade")
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


MATCH_PERCENTILES = (2.0, 98.0)
"""Each channel's black and white points when one shot is matched to another (%): a little
inside the extremes, so a speck or a highlight does not decide a shot's grade."""


def match_grade(shown: np.ndarray, reference: np.ndarray, params: ColorParams
                ) -> dict[str, float]:
    """Lift and gain values for a colour step graded with `params` so that `shown` (a frame
    as that grade makes it, float (H, W, 3) RGB 0-1) takes `reference`'s black and white
    points channel by channel (MATCH_PERCENTILES): one shot matched to another in density
    and colour. Returns the six `lift_*` / `gain_*` values, within their ranges.

    The step's lift and gain map its input x to x·(1 − lift)·gain + lift·gain; the match is
    the affine map from `shown`'s points to the reference's, composed with it. That is
    exact when the step's gamma, contrast and saturation are neutral and no later step
    changes levels; otherwise matching again refines it."""
    lo, hi = MATCH_PERCENTILES
    values: dict[str, float] = {}
    for c, name in enumerate("rgb"):
        here = np.percentile(shown[..., c], (lo, hi))
        there = np.percentile(reference[..., c], (lo, hi))
        scale = (there[1] - there[0]) / max(here[1] - here[0], 1e-3)
        shift = there[0] - scale * here[0]
        lift, gain = getattr(params, f"lift_{name}"), getattr(params, f"gain_{name}")
        a, b = (1.0 - lift) * gain, lift * gain   # the step's map now
        a, b = scale * a, scale * b + shift         # followed by the match
        new_gain = float(np.clip(a + b, 0.0, 4.0))
        new_lift = float(np.clip(b / new_gain, -0.5, 0.5)) if new_gain > 1e-6 else 0.0
        values[f"lift_{name}"], values[f"gain_{name}"] = new_lift, new_gain
    return values


# Shot statistics: frames sampled per shot, percentiles (%). The low one is far down the
# tail: a faded print's fog floor is where its darkest pixels pile up.
_SAMPLES = 12
_LOW_PCT, _HIGH_PCT = 0.1, 99.5
# A shot whose darkest pixels sit this high (levels) has a floor as raised as a clearly
# faded print's; below it the evidence of a fade, and so the balance applied, shrinks in
# proportion (a shot with true blacks is left as it is).
_FLOOR_FULL = 0.05
# Share of the raised floor that auto levels removes: a fog floor and a scene with no
# true black (haze, a grey street) look the same, so it goes half way.
_FLOOR_REMOVED = 0.5
# Where auto levels puts a white that has sunk (levels): a little inside white so the
# highlights keep some detail. A white already above it is left alone.
_WHITE = 0.98
# How far (exponent, at full evidence) the channels' white points are brought together:
# part of a difference between channel whites is the scene's own colour.
_BALANCE = 0.8
# A change of this size (levels) shows as 1 in the mask.
_MASK_FULL = 0.1


def level_change_mask(frame: np.ndarray, change: Callable[[np.ndarray], np.ndarray]
                      ) -> np.ndarray:
    """The mask of a change of levels that is the same for every pixel of a level (a
    grade, a LUT): `change` applied to a quarter-size copy of `frame`, the difference
    (_MASK_FULL levels shows as 1) enlarged back. float32 (H, W), 0-1. Such a change is
    smooth in levels, so the small copy shows where it acted most at 1/16 of the work."""
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    changed = channel_max(np.abs(change(small) - small))
    mask = cv2.resize(np.clip(changed / _MASK_FULL, 0.0, 1.0), (w, h),
                      interpolation=cv2.INTER_LINEAR)
    return mask.astype(np.float32, copy=False)


@dataclass(frozen=True)
class ShotStats:
    """Robust levels of a shot, per channel R, G, B (levels 0-1)."""

    low: np.ndarray     # (3,) low percentile per channel
    high: np.ndarray    # (3,) high percentile per channel
    mean: np.ndarray    # (3,) mean per channel


def shot_stats(frames: list[np.ndarray]) -> ShotStats:
    """Pool `frames` (analysis frames: small, so grain is averaged away) and measure their
    per-channel levels."""
    rgb = np.concatenate([f.reshape(-1, 3) for f in frames], axis=0)
    low, high = np.percentile(rgb, [_LOW_PCT, _HIGH_PCT], axis=0)
    return ShotStats(low, high, rgb.mean(axis=0))


def auto_correction(stats: ShotStats, levels: bool, balance: bool,
                    strength: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (gain (3,), offset (3,)) undoing as much of a fade as the shot shows.

    A fade raises the black floor to a common level in all channels (fog) and scales each
    channel's picture above it by its own factor (dyes fade unevenly: a cast). So:

    levels:  the floor (the lowest channel's low percentile) is lowered by _FLOOR_REMOVED
             of its height, and the brightest channel's white raised to _WHITE when it has
             sunk below it (a faded or dim print's compressed range); a white above it is
             left alone, so a picture that is not faded is not stretched.
    balance: each channel's white is brought towards the brightest channel's, by an
             exponent growing with the evidence of a fade (the floor's height): a shot
             with true blacks keeps its colours.
    strength: 0 = no change … 1 = full correction.
    """
    floor = float(stats.low.min())
    white = float(stats.high.max())
    span = max(white - floor, 1e-3)
    if levels:
        target, white_target = floor * (1.0 - _FLOOR_REMOVED), max(white, _WHITE)
    else:
        target, white_target = floor, white
    gain = np.full(3, (white_target - target) / span)
    if balance:
        evidence = float(np.clip(floor / _FLOOR_FULL, 0.0, 1.0))
        spans = np.maximum(stats.high - floor, 1e-3)
        gain = gain * np.clip(span / spans, 0.5, 2.0) ** (_BALANCE * evidence)
    offset = target - floor * gain
    gain = 1.0 + strength * (gain - 1.0)
    offset = strength * offset
    return gain.astype(np.float32), offset.astype(np.float32)


class ColorOperator(Operator):
    id = "color"
    label = "Colour"
    description = ("Faded-colour restoration (automatic per-shot levels and balance), "
                   "exposure, contrast, saturation and lift/gamma/gain per channel.")
    Params = ColorParams
    MEASURES = {f"gain_{c}": (f"automatic {name} gain", "×")
                for c, name in (("r", "red"), ("g", "green"), ("b", "blue"))}

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        # Per (analysis key, shot): a few shots' statistics, the ones an export crosses.
        self._stats: Memo[ShotStats] = Memo(8)

    # analysis_radius stays 0: the statistics read only _SAMPLES analysis frames spread over
    # the whole shot, once per shot; declaring the shot's length as a radius would make the
    # planners prefetch, decode and cache every frame of it around each frame.

    def stats(self, window: Window) -> ShotStats:
        """Statistics of the window's shot from up to _SAMPLES analysis frames spread over
        it (memoised)."""
        def compute() -> ShotStats:
            first, last = analysis_span(window, window.shot[1] - window.shot[0])
            picks = np.unique(np.linspace(first, last, min(_SAMPLES, last - first + 1)).round())
            # Survey frames where the pipeline gives them: the dust and grain repairs
            # before the grade change too little of a frame to move its levels, and
            # their temporal windows would otherwise be evaluated for every sample.
            read = window.survey or (lambda i: analysis_frame(window, i))
            return shot_stats([read(int(i)) for i in picks])

        return self._stats.get_or_compute((window.analysis_memo_key, window.shot), compute)

    def prepare(self, window: Window) -> None:
        """Measure the shot's statistics when the analysis pass reaches the shot's last
        frame: they sample the whole shot through the earlier stages, whose flicker and
        weave analyses are all done by then (measured earlier, one step of the pass could
        keep the viewer waiting for seconds)."""
        p = self.params
        if (p.auto_levels or p.auto_balance) and p.auto_strength > 0 and (
                window.index == window.shot[1]):
            self.stats(window)

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
        def grade(picture: np.ndarray) -> np.ndarray:
            return apply_grade(cv2.transform(picture, matrix), p)

        out = grade(frame)
        mask = level_change_mask(frame, grade)
        gains = {f"gain_{c}": float(g) for c, g in zip("rgb", gain, strict=True)}
        return Result(out, mask, gains)
