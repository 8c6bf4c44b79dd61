"""Colour registration: the red and blue records brought back onto the green.

Colour film printed from separations (three-strip negatives, successive-frame or bipack
processes), prints whose layers shrank unevenly, and scans through a lens with lateral
chromatic aberration show the colour records displaced from one another: coloured fringes
along every edge, red on one side and cyan on the other. The displacement is measured on
each frame and undone by moving the red and the blue record onto the green (or onto the
record the restorer picks as the reference).

Measurement, per frame, on its analysis frame (`Window.analyse`: at most 480 pixels wide,
the same at every preview scale, so a preview shows what the export writes): each record
is high-passed (the records differ in level and contrast, not in where their edges lie),
phase correlation gives the coarse displacement within `max_shift`, and ECC (enhanced
correlation coefficient) refines it to a fraction of a pixel, as a shift or, with the
`scale` model, a shift and a magnification about the centre (lateral chromatic
aberration grows towards the edges). A record whose correlation with the reference stays
below MIN_CORRELATION (no shared edges: a flat frame, a colour that exists in one record
only), or where phase correlation and ECC disagree, is unmeasured on that frame. The frame's correction is the median of the
measurements over `smoothing` frames each side, within the shot, so grain and a moving
subject do not make the registration wander; where nothing was measured the frame is left
as it is. On a black-and-white scan the three records agree and nothing moves.

Accuracy, measured on 1280x720 frames with known shifts of up to ±10 px (`tests`,
`benchmarks/registration.py`): about 0.1 px; it is set by the analysis width, so a 4K
scan registers to about a third of a pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.ops.base import Operator, Result, Window
from engine.ops.color import analysis_frame, analysis_span, channel_max
from engine.ops.memo import Memo
from engine.ops.params import Params, param

CHANNELS = {"red": 0, "green": 1, "blue": 2}
MODELS = ("shift", "scale")
HIGH_PASS_SIGMA = 3.0
"""Gaussian sigma (analysis pixels) of the blur subtracted from each record before they
are compared: what is left is where the edges are, not how bright the record is."""
MIN_CORRELATION = 0.15
"""ECC correlation coefficient below which a record's measurement is not trusted. Film's
records share most of their edges (0.85-0.99 on real footage); a synthetic scene of
coloured noise and saturated objects reaches only 0.2-0.4, and is still measured right."""
AGREEMENT = 1.0
"""Analysis pixels within which phase correlation and ECC must agree on the displacement:
two estimators that find the same answer are not both misled by a record's own content."""
STILL = 0.05
"""A correction that moves no pixel (the corners move most) by more than this many analysis
pixels is none, and the frame is passed through untouched: that is within what the
measurement resolves (a correctly registered 1280-pixel video measures 0.03-0.18 px a
frame), and resampling the records for it would only soften them."""


@dataclass(frozen=True)
class RegistrationParams(Params):
    reference: str = param("green", label="Reference record", choices=tuple(CHANNELS),
                           help="The colour record the other two are moved onto")
    model: str = param("shift", label="Model", choices=MODELS,
                       help="shift: the records are displaced (separations, printing); "
                            "scale: also magnified about the centre (lens colour fringes "
                            "that grow towards the edges)")
    max_shift: float = param(12.0, label="Largest shift", unit="px", minimum=1.0,
                             maximum=64.0, step=0.5,
                             help="Displacements beyond this (source pixels) are not "
                                  "believed: that frame counts as unmeasured")
    smoothing: int = param(12, label="Smoothing", unit="frames", minimum=0, maximum=48,
                           help="Frames each side whose measurements are pooled (median): "
                                "more is steadier, fewer follows a drifting registration")


def _high_pass(plane: np.ndarray) -> np.ndarray:
    plane = np.ascontiguousarray(plane, dtype=np.float32)
    return plane - cv2.GaussianBlur(plane, (0, 0), HIGH_PASS_SIGMA)


def measure_record(reference: np.ndarray, record: np.ndarray, model: str,
                   max_shift: float) -> np.ndarray | None:
    """Where `record` (a float32 (H, W) plane) lies relative to `reference`: (scale, dx,
    dy) such that record(scale · (p − c) + c + (dx, dy)) ≈ reference(p), c the centre, in
    the planes' pixels; None when it cannot be trusted."""
    ref, mov = _high_pass(reference), _high_pass(record)
    h, w = ref.shape
    if min(h, w) < 16 or float(ref.std()) < 1e-4 or float(mov.std()) < 1e-4:
        return None
    window = cv2.createHanningWindow((w, h), cv2.CV_32F)
    (px, py), _response = cv2.phaseCorrelate(ref, mov, window)
    if np.hypot(px, py) > max_shift:
        return None
    motion = cv2.MOTION_AFFINE if model == "scale" else cv2.MOTION_TRANSLATION
    warp = np.array([[1.0, 0.0, px], [0.0, 1.0, py]], np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 60, 1e-5)
    try:
        correlation, warp = cv2.findTransformECC(ref, mov, warp, motion, criteria, None, 1)
    except cv2.error:  # did not converge: a flat or unrelated record
        return None
    if correlation < MIN_CORRELATION:
        return None
    # About the centre: the displacement is where the fitted warp takes the centre, the
    # magnification the mean of its two axes' (a lens magnifies evenly; a fitted shear or
    # stretch is noise, and fitted separately it would leak into the displacement).
    scale = float(warp[0, 0] + warp[1, 1]) / 2 if model == "scale" else 1.0
    cx, cy = (w - 1) / 2, (h - 1) / 2
    dx, dy = (warp.astype(np.float64) @ np.array([cx, cy, 1.0])) - np.array([cx, cy])
    if np.hypot(dx, dy) > max_shift or np.hypot(dx - px, dy - py) > AGREEMENT:
        return None
    return np.array([scale, float(dx), float(dy)])


class RegistrationOperator(Operator):
    id = "registration"
    label = "Colour registration"
    description = ("Moves the red and blue records back onto the green: colour fringes from "
                   "misregistered separations, shrunken prints or lens aberration.")
    Params = RegistrationParams
    MEASURES = {f"{name}_px": (f"{name} record moved", "px") for name in CHANNELS}

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        # Per frame: a (2, 3) array, rows the two moved records, (scale, dx, dy) in analysis
        # pixels, NaN where unmeasured. A whole shot's are kept.
        self._measured: Memo[np.ndarray] = Memo(4096)

    @property
    def analysis_radius(self) -> int:
        return self.params.smoothing

    def _moved(self) -> tuple[int, int]:
        """The two records that are moved (channel indices), in order."""
        ref = CHANNELS[self.params.reference]
        return tuple(c for c in range(3) if c != ref)  # type: ignore[return-value]

    def _measure(self, window: Window, index: int) -> np.ndarray:
        p = self.params

        def compute() -> np.ndarray:
            frame = analysis_frame(window, index)
            if window.analyse is not None:
                per_source_px = window.analysis_scale
            else:  # reduced here from the window's frames, which are at `scale`
                per_source_px = frame.shape[1] / window.current.shape[1] * window.scale
            limit = p.max_shift * per_source_px  # source pixels → analysis pixels
            ref = frame[..., CHANNELS[p.reference]]
            rows = []
            for c in self._moved():
                found = measure_record(ref, frame[..., c], p.model, limit)
                rows.append(found if found is not None else np.full(3, np.nan))
            return np.stack(rows)

        key = (window.analysis_memo_key, index, p.reference, p.model, p.max_shift)
        return self._measured.get_or_compute(key, compute)

    def prepare(self, window: Window) -> None:
        """Measure the frame's registration, the shot's analysis for one frame."""
        self._measure(window, window.index)

    def correction(self, window: Window) -> np.ndarray:
        """(2, 3): for each moved record, (scale, dx, dy) in pixels of the current frame,
        the median over the frames around (identity where none was measured)."""
        lo, hi = analysis_span(window, self.params.smoothing)
        found = np.stack([self._measure(window, i) for i in range(lo, hi + 1)])
        out = np.tile([1.0, 0.0, 0.0], (2, 1))
        width = analysis_frame(window, window.index).shape[1]
        factor = window.current.shape[1] / width  # frame pixels per analysis pixel
        for r in range(2):
            rows = found[:, r]
            rows = rows[~np.isnan(rows[:, 0])]
            if len(rows):
                scale, dx, dy = np.median(rows, axis=0)
                # The planes' centres correspond; a shift scales with the width.
                out[r] = (scale, dx * factor, dy * factor)
        return out

    def process(self, window: Window) -> Result:
        frame = window.current
        h, w = frame.shape[:2]
        corr = self.correction(window)
        cx, cy = (w - 1) / 2, (h - 1) / 2
        reach = np.hypot(cx, cy)  # the corners move most under a scale
        per_analysis_px = w / analysis_frame(window, window.index).shape[1]
        moves = [abs(s - 1.0) * reach + np.hypot(dx, dy) for s, dx, dy in corr]
        names = [name for name, c in CHANNELS.items() if c in self._moved()]
        if all(move < STILL * per_analysis_px for move in moves):
            still = {f"{name}_px": 0.0 for name in names}
            return Result(frame, np.zeros((h, w), np.float32), still)
        measures = {f"{name}_px": float(move) / window.scale
                    for name, move in zip(names, moves, strict=True)}
        out = frame.copy()
        for c, (s, dx, dy) in zip(self._moved(), corr, strict=True):
            # Output pixel p takes the record from s·(p − c) + c + d: where it lies.
            m = np.array([[s, 0.0, (1.0 - s) * cx + dx], [0.0, s, (1.0 - s) * cy + dy]])
            out[..., c] = cv2.warpAffine(
                np.ascontiguousarray(frame[..., c]), m, (w, h),
                flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        mask = np.clip(channel_max(np.abs(out - frame)) * 20.0, 0.0, 1.0)
        return Result(out, mask.astype(np.float32, copy=False), measures)
