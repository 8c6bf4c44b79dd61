"""Deflicker: remove frame-to-frame brightness and contrast flicker, globally and by region.

How it works, and why:

- Each pair of consecutive frames (i, i+1) is compared *through motion compensation*: frame
  i+1's small luma image is warped onto frame i with DIS optical flow, so the same picture
  content is compared and a moving object or a pan does not read as a brightness change.
  For the whole frame and for each region of a coarse grid, the pair gives an affine level
  map (gain, offset) taking frame i's levels to frame i+1's (mean and standard deviation
  matched over the corresponding pixels, with outliers such as dust or occlusions dropped).
  Pair maps are memoised, so a sequential export computes each one once.
- Chaining the pair maps gives, for every frame j within ±radius, the map taking the
  current frame's levels to frame j's. Without flicker these maps vary slowly (a fade, a
  lamp dimming); flicker makes them jump, and it also "breathes" (slow swings over a few
  frames, which a short window mistakes for light). A robust local-linear fit over ±radius
  frames (30 by default: a second and more either side) gives the steady target; the
  current frame is mapped onto it. A linear fit follows a fade exactly, and a lasting jump
  (a lamp switched on) splits the window, so only flicker is removed.
- The per-region corrections are interpolated smoothly (bicubic over the region centres)
  into a per-pixel gain and offset field, so no block edges appear.

All statistics come from the small `Window.analyse` frames (`analysis_radius` = radius), so
the pipeline keeps no full-size neighbours for this stage (`temporal_radius` 0); the
analysis runs on a luma image about 256 pixels wide, and the cost at 720p is dominated by
the final per-pixel multiply-add.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.ops.base import Operator, Result, Window
from engine.ops.color import LUMA_WEIGHTS, analysis_frame, analysis_span
from engine.ops.memo import Memo, measure_pairs
from engine.ops.motion import FlowEstimator
from engine.ops.params import Params, param

# Width (pixels) of the luma image used for flow and statistics.
_ANALYSIS_WIDTH = 256
# Below this standard deviation (levels 0-1) a region's contrast ratio is mostly grain, so
# the gain is taken from the mean ratio instead.
_FLAT_STD = 0.03
# Regions with fewer trusted pixels than this fraction fall back to the whole-frame map.
_MIN_TRUSTED = 0.15
# A correction of this size (levels at mid-grey) shows as 1 in the mask.
_MASK_FULL = 0.05
# A lasting jump (log level) larger than this many flicker steps, and than _STEP_MIN, is a
# real change of light (a lamp), not flicker.
_STEP_K = 5.0
_STEP_MIN = 0.1
# Pair maps kept per operator (a few hundred bytes each): a long shot's worth.
_PAIR_MEMO = 20_000


@dataclass(frozen=True)
class DeflickerParams(Params):
    strength: float = param(1.0, label="Strength", minimum=0.0, maximum=1.0, step=0.05,
                            help="Fraction of the measured flicker that is removed")
    radius: int = param(30, label="Temporal radius", unit="frames", minimum=2, maximum=50,
                        step=1, help="Frames on each side used for the steady target; "
                        "longer removes slower flicker but follows real light changes less")
    regions: int = param(6, label="Region grid", unit="regions", minimum=2, maximum=12, step=1,
                         help="Regions across the frame for local flicker (rows follow the "
                         "aspect ratio)")
    local: bool = param(True, label="Local flicker",
                        help="Correct each region separately (uneven flicker) as well as the "
                        "whole frame")


def analysis_luma(frame: np.ndarray, width: int = _ANALYSIS_WIDTH) -> np.ndarray:
    """Luma (levels 0-1, float32) of `frame` downscaled to about `width` pixels wide."""
    h, w = frame.shape[:2]
    if w > width:
        size = (width, max(8, round(h * width / w)))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(frame @ LUMA_WEIGHTS, dtype=np.float32)


def _flow_input(luma: np.ndarray) -> np.ndarray:
    """8-bit image for DIS, normalised by its own mean/std so global flicker barely shows."""
    mean, std = float(luma.mean()), float(luma.std()) + 1e-4
    return np.clip((luma - mean) * (48.0 / std) + 128.0, 0, 255).astype(np.uint8)


def _labels(h: int, w: int, cols: int, rows: int) -> np.ndarray:
    ys = np.minimum(np.arange(h) * rows // h, rows - 1)
    xs = np.minimum(np.arange(w) * cols // w, cols - 1)
    return (ys[:, None] * cols + xs[None, :]).astype(np.int64)


def _grid_shape(cols: int, h: int, w: int) -> tuple[int, int]:
    return cols, max(1, round(cols * h / w))


def _region_maps(
    x: np.ndarray, y: np.ndarray, labels: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Affine maps y ≈ gain * x + offset per label (0..n-1) from corresponding pixels.

    Returns (maps (n, 2) [gain, offset], trusted fraction (n,)). Two passes: the second drops
    pixels whose residual is far beyond the region's typical one (dust, occlusion, flow
    failure). Pixels with label < 0 are ignored.
    """
    keep = labels >= 0
    lab, xs, ys = labels[keep], x[keep], y[keep]
    # Regions are equal in area to within a pixel row or column.
    area = labels.size / n
    weights = np.ones_like(xs, dtype=np.float64)
    maps = np.zeros((n, 2))
    count = np.zeros(n)
    for _ in range(2):
        count = np.bincount(lab, weights, minlength=n)
        c = np.maximum(count, 1.0)
        mx = np.bincount(lab, weights * xs, minlength=n) / c
        my = np.bincount(lab, weights * ys, minlength=n) / c
        vx = np.maximum(np.bincount(lab, weights * xs * xs, minlength=n) / c - mx * mx, 0.0)
        vy = np.maximum(np.bincount(lab, weights * ys * ys, minlength=n) / c - my * my, 0.0)
        contrast = np.sqrt((vy + 1e-8) / (vx + 1e-8))
        ratio = (my + 0.02) / (mx + 0.02)
        # Flat regions: their std ratio is mostly grain; trust the mean ratio there.
        trust = vx / (vx + _FLAT_STD**2)
        gain = np.clip(trust * contrast + (1.0 - trust) * ratio, 0.25, 4.0)
        offset = my - gain * mx
        maps = np.stack([gain, offset], axis=1)
        resid = np.abs(ys - (gain[lab] * xs + offset[lab]))
        scale = np.bincount(lab, resid, minlength=n) / np.maximum(np.bincount(lab, minlength=n), 1)
        weights = (resid <= 2.5 * scale[lab] + 1e-3).astype(np.float64)
    return maps, count / area


def _region_gains(
    x: np.ndarray, y: np.ndarray, labels: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Gains y ≈ gain * x per label (0..n-1), and the trusted fraction of each region.

    Two passes: the second drops pixels far off the first estimate (dust, occlusions, flow
    failures). Pixels with label < 0 are ignored.
    """
    keep = labels >= 0
    lab, xs, ys = labels[keep], x[keep].astype(np.float64), y[keep].astype(np.float64)
    weights = np.ones_like(xs)
    gains, count = np.ones(n), np.zeros(n)
    for _ in range(2):
        count = np.bincount(lab, weights, minlength=n)
        sx = np.bincount(lab, weights * xs, minlength=n)
        sy = np.bincount(lab, weights * ys, minlength=n)
        # The small constant keeps near-black regions from producing wild ratios.
        gains = np.clip((sy + 0.02 * count) / (sx + 0.02 * count + 1e-9), 0.25, 4.0)
        resid = np.abs(ys - gains[lab] * xs)
        scale = np.bincount(lab, resid, minlength=n) / np.maximum(np.bincount(lab, minlength=n), 1)
        weights = (resid <= 2.5 * scale[lab] + 1e-3).astype(np.float64)
    return gains, count / (labels.size / n)


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Affine level maps (..., 2) [gain, offset]: outer(inner(v))."""
    return np.stack([outer[..., 0] * inner[..., 0],
                     outer[..., 0] * inner[..., 1] + outer[..., 1]], axis=-1)


def _invert(m: np.ndarray) -> np.ndarray:
    return np.stack([1.0 / m[..., 0], -m[..., 1] / m[..., 0]], axis=-1)


def same_light(levels: np.ndarray, center: int) -> np.ndarray:
    """Bool (T, K): frames lit like the centre one, i.e. not across a sudden lasting change.

    `levels` (T, K) are log mid-grey levels of each frame relative to the centre one. A lamp
    switched on is a jump that *lasts*: the median of the 4 frames after a boundary differs
    from the median of the 4 before by much more than the flicker does. Flicker, however
    strong, is a jump that comes back. The largest such jump per column splits the window;
    the frames on the centre's side are kept (a centre next to the jump joins the side whose
    level it is closer to).
    """
    t, k = levels.shape
    keep = np.ones((t, k), bool)
    if t < 6:
        return keep
    # Typical flicker step from frame to frame (robust, one jump barely counts).
    noise = 1.4826 * np.median(np.abs(np.diff(levels, axis=0)), axis=0) / np.sqrt(2.0)
    # Boundary b lies between frames b and b + 1, with >= 2 frames each side; medians of
    # the up-to-4 frames before and after it.
    bounds = np.arange(1, t - 2)
    left = np.empty((len(bounds), k))
    right = np.empty((len(bounds), k))
    # Full 4-frame windows at once; the few boundaries near the ends one by one.
    med4 = np.median(np.lib.stride_tricks.sliding_window_view(levels, 4, axis=0), axis=2)
    for n, b in enumerate(bounds):
        left[n] = med4[b - 3] if b >= 3 else np.median(levels[:b + 1], axis=0)
        right[n] = med4[b + 1] if b + 4 < t else np.median(levels[b + 1:], axis=0)
    jump = np.abs(right - left)
    pick = np.argmax(jump, axis=0)
    cols = np.arange(k)
    best = jump[pick, cols]
    where = bounds[pick]
    left_at, right_at = left[pick, cols], right[pick, cols]
    found = best > np.maximum(_STEP_K * noise, _STEP_MIN)
    rows = np.arange(t)[:, None]
    on_left = np.where(np.abs(where - center) <= 1,
                       np.abs(levels[center] - left_at) <= np.abs(levels[center] - right_at),
                       center <= where)
    side = np.where(on_left[None, :], rows <= where[None, :], rows > where[None, :])
    return np.where(found[None, :], side, keep)


def tricube(t: np.ndarray, reach: float) -> np.ndarray:
    """Weights (1 - |t/reach|^3)^3: they fall smoothly to 0 at the window's ends, so a frame
    entering or leaving the window does not make the target jump (a truncated Gaussian would).
    """
    u = np.clip(np.abs(t) / reach, 0.0, 1.0)
    return (1.0 - u**3) ** 3


def robust_trend(
    values: np.ndarray, t: np.ndarray, reach: float, keep: np.ndarray | None = None
) -> np.ndarray:
    """Value at t = 0 of a robust local-linear fit of `values` (T, K) over times `t` (T,).

    Tricube time weights reaching `reach` frames, restricted to `keep` (T, K) when given; two
    reweighting passes with Tukey's biweight on the residuals so one wild frame (a splice, a
    burnt frame) does not drag the target. A series that changes linearly (a fade) is
    returned exactly at t = 0.
    """
    t = t.astype(np.float64)[:, None]
    base = tricube(t, reach) * np.ones((1, values.shape[1]))
    if keep is not None:
        base = base * keep
    w = base
    fit = values.mean(axis=0)
    for it in range(3):
        sw = w.sum(axis=0) + 1e-12
        mt = (w * t).sum(axis=0) / sw
        mv = (w * values).sum(axis=0) / sw
        var_t = (w * (t - mt) ** 2).sum(axis=0) / sw
        cov = (w * (t - mt) * (values - mv)).sum(axis=0) / sw
        slope = np.where(var_t > 1e-9, cov / np.maximum(var_t, 1e-9), 0.0)
        fit = mv - slope * mt
        if it == 2:
            break
        resid = np.abs(values - (fit + slope * t))
        scale = 4.685 * 1.4826 * np.median(resid, axis=0) + 1e-6
        u = np.clip(resid / scale, 0.0, 1.0)
        w = base * (1.0 - u**2) ** 2 + 1e-9 * base
    return fit


class DeflickerOperator(Operator):
    id = "deflicker"
    label = "Deflicker"
    description = ("Removes brightness and contrast flicker, over the whole frame and by "
                   "region, while keeping fades and other slow changes of light.")
    Params = DeflickerParams
    MEASURES = {"level_pct": ("brightness corrected at mid-grey", "% of full scale")}

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        # Memoised per (analysis key, index). Luma images: a sliding window plus slack, so a
        # sequential export reads each once. Pair maps are a few hundred bytes: a whole
        # shot's are kept, so a shot prepared in the background serves any later seek.
        self._lumas: Memo[np.ndarray] = Memo(2 * self.params.radius + 8)
        self._pairs: Memo[np.ndarray] = Memo(_PAIR_MEMO)
        self._corrections: Memo[np.ndarray] = Memo(_PAIR_MEMO)  # per frame, as small
        self._flow = FlowEstimator(preset="fast", max_width=1 << 30)  # a DIS per thread

    @property
    def analysis_radius(self) -> int:
        return self.params.radius

    def _luma(self, window: Window, index: int) -> np.ndarray:
        return self._lumas.get_or_compute(
            (window.analysis_memo_key, index),
            lambda: analysis_luma(analysis_frame(window, index)))

    def _pair_key(self, window: Window, index: int) -> tuple:
        return (window.analysis_memo_key, index, self.params.regions, self.params.local)

    def _pair(self, window: Window, index: int) -> np.ndarray:
        """Level maps (1 + regions, 2) from frame `index` to `index + 1` (row 0: whole
        frame)."""
        return self._pairs.get_or_compute(
            self._pair_key(window, index),
            lambda: self._measure(self._luma(window, index), self._luma(window, index + 1)))

    def _pairs_from(self, window: Window, lo: int, hi: int) -> list[np.ndarray]:
        """Level maps of the pairs (i, i + 1) for i in lo..hi − 1, those missing measured
        side by side (`measure_pairs`)."""
        measure_pairs(self._pairs, lambda i: self._pair_key(window, i),
                      lambda i: self._luma(window, i), self._measure, lo, hi)
        return [self._pair(window, i) for i in range(lo, hi)]

    def prepare(self, window: Window) -> None:
        """The frame's level correction (which measures the pairs within its radius): what
        is left to do for this frame at any scale is the per-pixel multiply-add."""
        self.correction(window)

    def _measure(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Level maps from analysis luma `a` to the next frame's, `b`."""
        h, w = a.shape
        flow = self._flow.flow(_flow_input(a), _flow_input(b))
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        mx, my = xs + flow[..., 0], ys + flow[..., 1]
        warped = cv2.remap(b, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        inside = (mx >= 1) & (mx <= w - 2) & (my >= 1) & (my <= h - 2)
        return self._maps(a, warped, inside)

    def _maps(self, a: np.ndarray, b: np.ndarray, inside: np.ndarray) -> np.ndarray:
        h, w = a.shape
        whole = np.where(inside, 0, -1)
        global_map, _ = _region_maps(a, b, whole, 1)
        if not self.params.local:
            return global_map
        cols, rows = _grid_shape(self.params.regions, h, w)
        n = cols * rows
        labels = np.where(inside, _labels(h, w, cols, rows), -1)
        # Regions get only a gain on top of the whole-frame map: a region's mean is far
        # steadier than its contrast (few pixels, moving objects), and uneven flicker is
        # mostly uneven exposure.
        gain, offset = global_map[0]
        gains, trusted = _region_gains(a * gain + offset, b, labels, n)
        # Sparse regions (borders during a fast pan, big occlusions) use the whole-frame map.
        gains[trusted < _MIN_TRUSTED] = 1.0
        local = np.stack([gains * gain, gains * offset], axis=1)
        return np.concatenate([global_map, local], axis=0)

    def correction(self, window: Window) -> np.ndarray:
        """Level maps (1 + regions, 2) [gain, offset] to apply to the current frame
        (memoised: the same at every scale, so a draft, the final preview frame and the
        shot analysis share it)."""
        span = analysis_span(window, self.params.radius)
        key = (window.analysis_memo_key, window.index, span, self.params)
        return self._corrections.get_or_compute(key, lambda: self._correction(window))

    def _correction(self, window: Window) -> np.ndarray:
        lo, hi = analysis_span(window, self.params.radius)
        n, c = hi - lo + 1, window.index - lo
        if n == 1:
            size = 1 + (np.prod(_grid_shape(self.params.regions, *self._luma(
                window, window.index).shape)) if self.params.local else 0)
            return np.tile(np.array([1.0, 0.0]), (int(size), 1))
        # maps[j]: current frame's levels -> frame lo + j's levels.
        pairs = self._pairs_from(window, lo, hi)
        identity = np.tile(np.array([1.0, 0.0]), (pairs[0].shape[0], 1))
        maps = [identity] * n
        for j in range(c + 1, n):
            maps[j] = _compose(pairs[j - 1], maps[j - 1])
        for j in range(c - 1, -1, -1):
            maps[j] = _compose(_invert(pairs[j]), maps[j + 1])
        series = np.stack(maps, axis=0)  # (T, K, 2)
        t = np.arange(n) - c
        flat = np.concatenate([np.log(series[..., 0]), series[..., 1]], axis=1)
        levels = np.log(np.maximum(series[..., 0] * 0.5 + series[..., 1], 1e-3))
        keep = same_light(levels, c)
        trend = robust_trend(flat, t, reach=self.params.radius + 1.0,
                             keep=np.concatenate([keep, keep], axis=1))
        k = series.shape[1]
        target = np.stack([np.exp(trend[:k]), trend[k:]], axis=1)
        s = self.params.strength
        return np.stack([1.0 + s * (target[:, 0] - 1.0), s * target[:, 1]], axis=1)

    def process(self, window: Window) -> Result:
        frame = window.current
        h, w = frame.shape[:2]
        corr = self.correction(window)
        if corr.shape[0] == 1:
            gain, offset = float(corr[0, 0]), float(corr[0, 1])
            matrix = np.zeros((3, 4), np.float32)
            matrix[np.arange(3), np.arange(3)] = gain
            matrix[:, 3] = offset
            out = cv2.transform(frame, matrix)
            level = abs((gain - 1.0) * 0.5 + offset)
            mask = np.full((h, w), min(1.0, level / _MASK_FULL), np.float32)
            return Result(out, mask, {"level_pct": 100.0 * level})
        small_h, small_w = self._luma(window, window.index).shape
        cols, rows = _grid_shape(self.params.regions, small_h, small_w)
        grid = corr[1:].reshape(rows, cols, 2).astype(np.float32)
        # Bicubic over the region centres gives a smooth field with no block edges; it is
        # built at a quarter size and enlarged bilinearly, one channel at a time (the field
        # is smooth, and a bicubic resize straight to full size costs several times more).
        quarter = (max(w // 4, cols), max(h // 4, rows))
        small = cv2.resize(grid, quarter, interpolation=cv2.INTER_CUBIC)
        gain = cv2.resize(np.ascontiguousarray(small[..., 0]), (w, h),
                          interpolation=cv2.INTER_LINEAR)
        offset = cv2.resize(np.ascontiguousarray(small[..., 1]), (w, h),
                            interpolation=cv2.INTER_LINEAR)
        # cvtColor spreads a field over the channels faster than merge, the same values.
        out = cv2.multiply(frame, cv2.cvtColor(gain, cv2.COLOR_GRAY2RGB))
        cv2.add(out, cv2.cvtColor(offset, cv2.COLOR_GRAY2RGB), dst=out)
        level = np.abs((small[..., 0] - 1.0) * 0.5 + small[..., 1])
        mask = cv2.resize(np.clip(level / _MASK_FULL, 0.0, 1.0), (w, h),
                          interpolation=cv2.INTER_LINEAR)
        return Result(out, mask.astype(np.float32, copy=False),
                      {"level_pct": 100.0 * float(level.mean())})
