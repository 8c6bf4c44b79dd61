"""Stabilise: remove gate weave and jitter while keeping the camera's own motion.

How it works, and why:

- For each pair of consecutive frames the global motion (translation, rotation, scale: a
  similarity transform) is estimated from corner features tracked with pyramidal
  Lucas-Kanade on a luma image at most 640 pixels wide, checked forward and backward, and
  fitted with RANSAC so moving objects do not count. Coordinates are about the frame centre
  and in the frame's own pixels. Pair motions are memoised, so an export estimates each once.
- Chaining the pair motions gives each frame's position relative to the current one. A
  camera pan or tilt moves smoothly; weave jumps from frame to frame. A tricube-weighted
  local-linear fit over ±smoothing frames gives the smooth camera path at the current frame,
  and only the difference (the weave) is corrected, with one sub-pixel warp. A steady pan
  is kept exactly (a linear path is fitted exactly), unlike stabilisers that lock the frame.
- The correction is capped at `max_correction` pixels so a misestimate can never throw the
  picture about; uncovered borders are filled by reflection, replication or black, or
  hidden by a small constant zoom, and the frame keeps its size.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from engine.ops.base import Operator, Result, Window
from engine.ops.color import LUMA_WEIGHTS
from engine.ops.deflicker import tricube
from engine.ops.params import Params, param

# Width (pixels) of the luma image used for tracking: sub-pixel accurate at 720p, cheap.
_ANALYSIS_WIDTH = 640
_MAX_FEATURES = 300
# Tracks whose forward-backward round trip misses by more than this (analysis px) are dropped.
_ROUND_TRIP = 0.5
_MIN_TRACKS = 8

BORDERS = {
    "reflect": cv2.BORDER_REFLECT_101,
    "replicate": cv2.BORDER_REPLICATE,
    "black": cv2.BORDER_CONSTANT,
}


@dataclass(frozen=True)
class StabilizeParams(Params):
    smoothing: int = param(15, label="Smoothing", unit="frames", minimum=2, maximum=30, step=1,
                           help="Frames on each side over which the camera's path is smoothed; "
                           "motion faster than this is treated as weave and removed")
    max_correction: float = param(20.0, label="Max correction", unit="px", minimum=0.5,
                                  maximum=200.0, step=0.5,
                                  help="Largest shift applied to a frame, in source pixels")
    border: str = param("reflect", label="Border fill", choices=tuple(BORDERS),
                        help="How the strip uncovered by the correction is filled")
    zoom: float = param(0.0, label="Zoom", unit="%", minimum=0.0, maximum=10.0, step=0.1,
                        help="Constant enlargement that pushes uncovered borders out of frame")


class _Bounded(OrderedDict[Any, Any]):
    """A small LRU dict for the per-frame and per-pair analyses of a sliding window."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def remember(self, key: Any, value: Any) -> Any:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.capacity:
            self.popitem(last=False)
        return value


def _similarity(params: np.ndarray) -> np.ndarray:
    """3x3 matrix from [tx px, ty px, angle rad, log scale] (about the frame centre)."""
    tx, ty, angle, log_s = params
    s = np.exp(log_s)
    c, n = s * np.cos(angle), s * np.sin(angle)
    return np.array([[c, -n, tx], [n, c, ty], [0.0, 0.0, 1.0]])


def _params(m: np.ndarray) -> np.ndarray:
    return np.array([m[0, 2], m[1, 2], np.arctan2(m[1, 0], m[0, 0]),
                     np.log(max(np.hypot(m[0, 0], m[1, 0]), 1e-6))])


def smooth_path(params: np.ndarray, t: np.ndarray, reach: float) -> np.ndarray:
    """Value at t = 0 of a local-linear fit of `params` (T, K) over times `t` (frames).

    Tricube weights falling smoothly to 0 at `reach` frames, so frames entering the window
    do not make the path jump. A path moving at constant speed (a steady pan) is returned
    exactly.
    """
    tt = t.astype(np.float64)
    w = tricube(tt, reach)
    sw = w.sum()
    mt = (w * tt).sum() / sw
    mv = (w[:, None] * params).sum(axis=0) / sw
    var_t = (w * (tt - mt) ** 2).sum() / sw
    if var_t < 1e-9:
        return mv
    slope = (w[:, None] * (tt - mt)[:, None] * (params - mv)).sum(axis=0) / sw / var_t
    return mv - slope * mt


class StabilizeOperator(Operator):
    id = "stabilize"
    label = "Stabilise"
    description = ("Removes gate weave and jitter (shift, small rotation and scale) while "
                   "keeping the camera's own pans and tilts.")
    Params = StabilizeParams

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        capacity = 4 * self.params.smoothing + 16
        self._grays = _Bounded(capacity)
        self._pairs = _Bounded(capacity)

    @property
    def temporal_radius(self) -> int:
        return self.params.smoothing

    def _gray(self, window: Window, pos: int) -> tuple[np.ndarray, float]:
        """8-bit analysis luma of window frame `pos` and its scale to the frame (≤ 1)."""
        key = (window.key, window.indices[pos])
        hit = self._grays.get(key)
        if hit is not None:
            return hit
        frame = window.frames[pos]
        h, w = frame.shape[:2]
        factor = min(1.0, _ANALYSIS_WIDTH / w)
        if factor < 1.0:
            frame = cv2.resize(frame, (round(w * factor), max(8, round(h * factor))),
                               interpolation=cv2.INTER_AREA)
        gray = np.clip(frame @ LUMA_WEIGHTS * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return self._grays.remember(key, (gray, factor))

    def _pair(self, window: Window, pos: int) -> np.ndarray:
        """3x3 motion mapping frame pos's centred pixel coordinates to frame pos + 1's."""
        key = (window.key, window.indices[pos])
        hit = self._pairs.get(key)
        if hit is not None:
            return hit
        (a, factor), (b, _) = self._gray(window, pos), self._gray(window, pos + 1)
        return self._pairs.remember(key, self._estimate(a, b, factor, window.current.shape))

    @staticmethod
    def _estimate(a: np.ndarray, b: np.ndarray, factor: float, shape: tuple[int, ...]) -> np.ndarray:
        identity = np.eye(3)
        min_dist = max(4.0, a.shape[1] / 60.0)
        pts = cv2.goodFeaturesToTrack(a, _MAX_FEATURES, 0.01, min_dist, blockSize=7)
        if pts is None or len(pts) < _MIN_TRACKS:
            return identity
        lk = {"winSize": (21, 21), "maxLevel": 3,
              "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)}
        fwd, ok1, _ = cv2.calcOpticalFlowPyrLK(a, b, pts, None, **lk)
        back, ok2, _ = cv2.calcOpticalFlowPyrLK(b, a, fwd, None, **lk)
        good = (ok1[:, 0] == 1) & (ok2[:, 0] == 1)
        good &= np.linalg.norm((back - pts)[:, 0], axis=1) < _ROUND_TRIP
        if good.sum() < _MIN_TRACKS:
            return identity
        h, w = shape[:2]
        centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0], np.float32)
        src = pts[good, 0] / np.float32(factor) - centre
        dst = fwd[good, 0] / np.float32(factor) - centre
        m, inliers = cv2.estimateAffinePartial2D(
            src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.0 / factor,
            maxIters=500, confidence=0.995, refineIters=10)
        if m is None or inliers is None or inliers.sum() < _MIN_TRACKS:
            return identity
        return np.vstack([m, [0.0, 0.0, 1.0]])

    def correction(self, window: Window) -> np.ndarray:
        """3x3 matrix (centred coordinates) taking output pixels to where they are sampled in
        the current frame (before zoom and the cap)."""
        n, c = len(window.frames), window.center
        if n < 2:
            return np.eye(3)
        paths = [np.eye(3)] * n  # paths[j]: current frame's coordinates -> frame j's
        for j in range(c + 1, n):
            paths[j] = self._pair(window, j - 1) @ paths[j - 1]
        for j in range(c - 1, -1, -1):
            paths[j] = np.linalg.inv(self._pair(window, j)) @ paths[j + 1]
        series = np.stack([_params(m) for m in paths])
        smooth = smooth_path(series, np.arange(n) - c, reach=self.params.smoothing + 1.0)
        # Sampling the current frame through the inverse of the smooth path shows what a
        # camera on that path would have seen.
        return np.linalg.inv(_similarity(smooth))

    def process(self, window: Window) -> Result:
        p = self.params
        frame = window.current
        h, w = frame.shape[:2]
        corr = self.correction(window)
        corners = np.array([[-(w - 1) / 2, -(h - 1) / 2], [(w - 1) / 2, -(h - 1) / 2],
                            [-(w - 1) / 2, (h - 1) / 2], [(w - 1) / 2, (h - 1) / 2]])
        moved = corners @ corr[:2, :2].T + corr[:2, 2]
        shift = float(np.linalg.norm(moved - corners, axis=1).max())
        limit = p.max_correction * window.scale
        if shift > limit:
            # Scale the correction down as a whole (translation, angle, log-scale alike).
            corr = _similarity(_params(corr) * (limit / shift))
            shift = limit
        zoom = np.diag([1.0 / (1.0 + p.zoom / 100.0)] * 2 + [1.0])
        to_centre = np.array([[1.0, 0.0, -(w - 1) / 2], [0.0, 1.0, -(h - 1) / 2], [0.0, 0.0, 1.0]])
        from_centre = np.array([[1.0, 0.0, (w - 1) / 2], [0.0, 1.0, (h - 1) / 2], [0.0, 0.0, 1.0]])
        m = (from_centre @ corr @ zoom @ to_centre)[:2].astype(np.float64)
        if np.allclose(m, [[1, 0, 0], [0, 1, 0]], atol=1e-6):
            return Result(frame, np.zeros((h, w), np.float32))
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        out = cv2.warpAffine(frame, m, (w, h), flags=flags, borderMode=BORDERS[p.border],
                             borderValue=(0.0, 0.0, 0.0))
        # Mask: uncovered borders (filled, not picture) at 1; inside, how hard the frame was
        # pushed relative to the cap.
        inside = cv2.warpAffine(np.ones((h, w), np.float32), m, (w, h), flags=flags,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        mask = 1.0 - inside * np.float32(1.0 - min(1.0, shift / max(limit, 1e-6)))
        return Result(out, mask.astype(np.float32, copy=False))
