"""Motion estimation and compensation shared by the temporal operators.

Dense optical flow is OpenCV's DIS (fast on CPU: about 5.6 ms at 960x540 on the reference
2-core machine), computed on a luma image that may be downscaled for speed and then scaled
back. Flows are float32 arrays (H, W, 2) in pixels at the frame's own resolution, giving for
each pixel of the *reference* frame where the same content lies in the *other* frame.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from engine.ops.color import LUMA_WEIGHTS

_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def luma8(frame: np.ndarray) -> np.ndarray:
    """8-bit luma of an RGB float frame (levels 0-1), the input DIS expects."""
    y = frame @ LUMA_WEIGHTS
    return np.clip(y * 255.0 + 0.5, 0, 255).astype(np.uint8)


@dataclass
class FlowEstimator:
    """Dense optical flow between two frames.

    preset:    DIS preset ("ultrafast", "fast", "medium"): speed against accuracy.
    max_width: frames wider than this (pixels) are downscaled before estimation, and the
               flow is upscaled back; flow on film is smooth, so little is lost.
    """

    preset: str = "fast"
    max_width: int = 960

    def __post_init__(self) -> None:
        # One DIS instance per thread: an instance keeps its working buffers between calls,
        # so two threads (engine.runtime.parallel_map) must not share one.
        self._local = threading.local()

    @property
    def _dis(self) -> cv2.DISOpticalFlow:
        dis = getattr(self._local, "dis", None)
        if dis is None:
            dis = cv2.DISOpticalFlow_create(_PRESETS[self.preset])
            dis.setUseSpatialPropagation(True)
            self._local.dis = dis
        return dis

    def flow(self, reference: np.ndarray, other: np.ndarray) -> np.ndarray:
        """Flow (H, W, 2) px from `reference` to `other` (RGB float or 8-bit luma)."""
        a = reference if reference.ndim == 2 else luma8(reference)
        b = other if other.ndim == 2 else luma8(other)
        h, w = a.shape
        factor = min(1.0, self.max_width / w)
        if factor < 1.0:
            size = (max(8, round(w * factor)), max(8, round(h * factor)))
            a = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
            b = cv2.resize(b, size, interpolation=cv2.INTER_AREA)
        flow = _dis_calc(self._dis, a, b)
        if factor < 1.0:
            flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR) / np.float32(factor)
        return flow


MIN_FLOW_SIDE = 32
"""DIS crashes the interpreter (segfault) on images under about 32 px high or wide, which a
quarter-scale preview of a small clip produces: smaller images are padded first (pixels)."""


def _dis_calc(dis: cv2.DISOpticalFlow, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    h, w = a.shape
    if h >= MIN_FLOW_SIDE and w >= MIN_FLOW_SIDE:
        return dis.calc(a, b, None)
    pad_y, pad_x = max(0, MIN_FLOW_SIDE - h), max(0, MIN_FLOW_SIDE - w)
    border = cv2.BORDER_REPLICATE
    a = cv2.copyMakeBorder(a, 0, pad_y, 0, pad_x, border)
    b = cv2.copyMakeBorder(b, 0, pad_y, 0, pad_x, border)
    return np.ascontiguousarray(dis.calc(a, b, None)[:h, :w])


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return xs, ys


def warp(frame: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Bring `frame` (the *other* frame of `flow`) into the reference frame's geometry.

    Pixels sampled from outside are replicated from the border; use `valid_mask` to know
    which ones really came from inside.
    """
    h, w = flow.shape[:2]
    xs, ys = _grid(h, w)
    return cv2.remap(
        frame, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def valid_mask(flow: np.ndarray) -> np.ndarray:
    """True where the flow points inside the other frame (bool (H, W))."""
    h, w = flow.shape[:2]
    xs, ys = _grid(h, w)
    x = xs + flow[..., 0]
    y = ys + flow[..., 1]
    return (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)


def consistency_error(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Forward–backward flow error (H, W) in pixels.

    `forward` maps reference → other and `backward` maps other → reference. Where motion is
    estimated correctly, following forward then backward returns to the start; occlusions and
    failures leave a large error, so compensated pixels there must not be trusted.
    """
    loop = forward + warp(backward, forward)
    return cv2.magnitude(loop[..., 0], loop[..., 1])  # several times faster than linalg.norm


def compensate(
    reference: np.ndarray,
    other: np.ndarray,
    estimator: FlowEstimator,
    max_error: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Motion-compensate `other` onto `reference`.

    Returns the warped frame and a bool (H, W) mask of pixels that are trustworthy: the
    flow points inside the frame and forward–backward error ≤ `max_error` pixels.
    """
    forward = estimator.flow(reference, other)
    backward = estimator.flow(other, reference)
    warped = warp(other, forward)
    trusted = valid_mask(forward) & (consistency_error(forward, backward) <= max_error)
    return warped, trusted
