"""Manual repairs: frames or regions the restorer marked as damaged beyond automatic repair.

A *destroyed* frame (torn, burnt, a splice's missing frame) is rebuilt from the nearest good
frames before and after it inside the shot, by motion-compensated interpolation at its
phase between them (engine.retime's in-between machinery: bidirectional flow, occlusion-aware
splatting, a cross-fade where the flow fails). At a shot's first or last frame the one
good neighbour is repeated.

A *region* (x, y, width, height in source pixels) is filled with the same in-between of the
nearest frames outside the repair's range, level-matched to the frame around the region (so
flicker between frames leaves no patch). When motion cannot be trusted there, judged by how
well that in-between agrees with the frame in a ring around the region, the region is
filled spatially instead (cv2.inpaint) with grain matched to its surroundings. Pixels
outside a region are never touched.

This stage runs first in the pipeline, on the decoded frames, so a torn frame disturbs no
later analysis (deflicker's exposure target, stabilise's camera path). The evaluator adds it
when a shot has repairs; it is not a recipe operator (not in the registry), and its mask is
reported under `engine.pipeline.evaluator.REPAIR_MASK_KEY`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

from engine.ops.base import Operator, Result, Window
from engine.ops.color import LUMA_WEIGHTS
from engine.ops.memo import Memo
from engine.ops.motion import FlowEstimator, warp
from engine.ops.params import Params, param
from engine.ops.region import Rect, region_rect
from engine.retime.interpolate import Interpolator, Motion

# Width of the ring around a region (pixels, at least) that judges the motion and gives the
# level match and the grain level; a quarter of the region's smaller side beyond that.
_RING_MIN = 4
# Pixels around a damaged rectangle whose flow is also replaced (the damage's edge drags the
# flow estimate a little beyond it).
_FLOW_MARGIN = 2
# Motion is trusted when the in-between differs from the frame around the region by at most
# this (median absolute luma, levels 0-1) plus twice the grain's standard deviation there.
_RING_TOLERANCE = 0.03
# Context (pixels at full scale, at least) around a region that its motion is estimated on:
# enough for the flow to lock onto the surroundings, far less work than the whole frame.
_CONTEXT = 96
_GRAIN_SIGMA = 0.7


class RepairSpan(Protocol):
    """What the stage reads of a repair (engine.project.model.Repair fits)."""

    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def region(self) -> tuple[int, int, int, int] | None: ...
    @property
    def protect(self) -> bool: ...
    def region_at(self, frame: int) -> tuple[int, int, int, int] | None: ...


@dataclass(frozen=True)
class RepairParams(Params):
    quality: str = param("high", label="Motion quality", choices=("high", "fast"),
                         help="high: finer optical flow for the in-betweens; fast: quicker")
    grain: bool = param(True, label="Matched grain",
                        help="Add grain like the surroundings' to regions filled spatially")


def _luma(frame: np.ndarray) -> np.ndarray:
    return frame @ LUMA_WEIGHTS


def _grain_std(luma: np.ndarray) -> float:
    """Robust standard deviation (levels) of the fine detail of a luma patch."""
    if luma.size < 9:
        return 0.0
    detail = luma - cv2.GaussianBlur(luma, (0, 0), 1.5)
    return 1.4826 * float(np.median(np.abs(detail - np.median(detail))))


def matched_grain(shape: tuple[int, int], std: float, rng: np.random.Generator) -> np.ndarray:
    """Correlated noise (H, W) of standard deviation `std` (levels), grain-sized."""
    noise = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), _GRAIN_SIGMA)
    noise /= max(float(noise.std()), 1e-6)
    return noise * np.float32(std)


class RepairOperator(Operator):
    """The repair stage for one shot: `repairs` are the shot's repairs (clipped to it);
    protections among them are not this stage's (the evaluator applies them)."""

    id = "repair"
    label = "Manual repair"
    description = ("Rebuilds frames and regions the restorer marked as destroyed from the "
                   "motion-compensated neighbouring frames (spatially where motion fails).")
    Params = RepairParams

    def __init__(self, params: Params | None = None, repairs: Sequence[RepairSpan] = ()) -> None:
        super().__init__(params)
        self.repairs: tuple[RepairSpan, ...] = tuple(r for r in repairs if not r.protect)
        p = self.params
        assert isinstance(p, RepairParams)
        self._interpolator = Interpolator(p.quality)
        self._flow = FlowEstimator("medium" if p.quality == "high" else "fast")
        # Motion between a pair of good frames serves every frame of a destroyed run.
        self._motions: Memo[Motion] = Memo(2)  # full-size flows: a few tens of MB each

    # -- which frames are good -----------------------------------------------------------
    def _destroyed(self, index: int) -> bool:
        return any(r.region is None and r.start <= index <= r.end for r in self.repairs)

    def _good_neighbours(
        self, shot: tuple[int, int], before: int, after: int
    ) -> tuple[int | None, int | None]:
        """The nearest frames ≤ `before` and ≥ `after` inside the shot that are not
        destroyed (None where the shot has none on that side)."""
        first, last = shot
        a: int | None = before
        while a is not None and (a < first or self._destroyed(a)):
            a = a - 1 if a > first else None
        b: int | None = after
        while b is not None and (b > last or self._destroyed(b)):
            b = b + 1 if b < last else None
        return a, b

    # -- estimates from neighbours -------------------------------------------------------
    def _in_between(
        self, window: Window, a: int, b: int, area: Rect | None = None
    ) -> tuple[np.ndarray, bool]:
        """Frame `window.index` (its `area` only, default all) estimated from good frames
        a < index < b, and whether the flow between them failed (the estimate is then a
        cross-fade)."""
        assert window.fetch is not None
        fa, fb = window.fetch(a), window.fetch(b)
        if area is not None:
            fa, fb = fa[area.slices], fb[area.slices]
        motion = self._motions.get_or_compute(
            (window.key, a, b, area), lambda: self._interpolator.motion(fa, fb))
        phase = (window.index - a) / (b - a)
        return self._interpolator.interpolate(fa, fb, phase, motion), motion.failed

    def _compensated(self, window: Window, other: int, rect: Rect, area: Rect) -> np.ndarray:
        """Frame `other` warped onto the current frame's `area`, the damaged rectangle
        following the motion of its surroundings (the flow inside it sees the damage)."""
        assert window.fetch is not None
        cur, nb = window.current[area.slices], window.fetch(other)[area.slices]
        flow = self._flow.flow(cur, nb)
        h, w = cur.shape[:2]
        local = rect.within(area)
        ring = self._ring(local, w, h)
        sy, sx = ring.slices
        around = flow[sy, sx][self._ring_mask(local, ring)]
        if around.size:
            flow[local.grown(_FLOW_MARGIN, w, h).slices] = np.median(around, axis=0)
        return warp(nb, flow)

    # -- region fills --------------------------------------------------------------------
    @staticmethod
    def _ring(rect: Rect, width: int, height: int) -> Rect:
        by = max(_RING_MIN, min(rect.x1 - rect.x0, rect.y1 - rect.y0) // 4)
        return rect.grown(by, width, height)

    @staticmethod
    def _ring_mask(rect: Rect, ring: Rect) -> np.ndarray:
        """bool mask over `ring`'s slice: True outside `rect`."""
        mask = np.ones((ring.y1 - ring.y0, ring.x1 - ring.x0), bool)
        mask[rect.y0 - ring.y0:rect.y1 - ring.y0, rect.x0 - ring.x0:rect.x1 - ring.x0] = False
        return mask

    def _fill_region(
        self, out: np.ndarray, mask: np.ndarray, estimate: np.ndarray | None, area: Rect,
        rect: Rect, index: int,
    ) -> None:
        """Fill `rect` of `out` in place from `estimate` (of `area`, which holds the rect and
        its ring; level-matched), or spatially when there is none or it disagrees with the
        frame around the region.

        The whole rectangle is replaced, with no feathering: the restorer's rectangle often
        ends right at the damage, and a blend inside it would keep part of the damage; the
        estimate is aligned and level-matched, so the edge does not show."""
        h, w = out.shape[:2]
        ring = self._ring(rect, w, h)
        ry, rx = ring.slices
        around = self._ring_mask(rect, ring)
        cur_ring = out[ry, rx][around]
        grain = _grain_std(_luma(out[ry, rx]))
        fill: np.ndarray | None = None
        if estimate is not None and cur_ring.size:
            est_ring = estimate[ring.within(area).slices][around]
            offset = (cur_ring.mean(axis=0) - est_ring.mean(axis=0)).astype(np.float32)
            error = float(np.median(np.abs(_luma(est_ring + offset) - _luma(cur_ring))))
            if error <= _RING_TOLERANCE + 2.0 * grain:
                fill = estimate[rect.within(area).slices] + offset
        if fill is None:
            fill = self._spatial(out, rect, ring, grain, index)
        out[rect.slices] = fill
        mask[rect.slices] = 1.0

    def _spatial(self, frame: np.ndarray, rect: Rect, ring: Rect, grain: float,
                 index: int) -> np.ndarray:
        """The rectangle inpainted from its surroundings (TELEA), with matched grain."""
        ry, rx = ring.slices
        context = frame[ry, rx]
        hole = (~self._ring_mask(rect, ring)).astype(np.uint8)
        # OpenCV's float inpainting assumes 8-bit-like levels, hence the 255 scale.
        radius = max(3, min(rect.x1 - rect.x0, rect.y1 - rect.y0) // 4)
        filled = np.stack([cv2.inpaint(np.ascontiguousarray(context[..., c]) * np.float32(255.0),
                                       hole, radius, cv2.INPAINT_TELEA)
                           for c in range(3)], axis=-1) / np.float32(255.0)
        part = filled[rect.y0 - ring.y0:rect.y1 - ring.y0, rect.x0 - ring.x0:rect.x1 - ring.x0]
        p = self.params
        assert isinstance(p, RepairParams)
        if p.grain and grain > 0:
            rng = np.random.default_rng([index, rect.x0, rect.y0, 0x4E9A])
            part = part + matched_grain(part.shape[:2], grain, rng)[..., None]
        return part.astype(np.float32)

    # -- the operator --------------------------------------------------------------------
    def process(self, window: Window) -> Result:
        n = window.index
        here = [r for r in self.repairs if r.start <= n <= r.end]
        frame = window.current
        if not here:
            return Result(frame)
        h, w = frame.shape[:2]
        if any(r.region is None for r in here):
            a, b = self._good_neighbours(window.shot, n - 1, n + 1)
            assert window.fetch is not None
            if a is not None and b is not None:
                rebuilt, _ = self._in_between(window, a, b)
            elif a is not None or b is not None:
                rebuilt = window.fetch(a if a is not None else b).copy()  # type: ignore[arg-type]
            else:
                # A shot of destroyed frames only: nothing to rebuild from; left as it is.
                return Result(frame, np.zeros((h, w), np.float32))
            return Result(rebuilt.astype(np.float32, copy=False), np.ones((h, w), np.float32))

        out = frame.copy()
        mask = np.zeros((h, w), np.float32)
        for r in here:
            region = r.region_at(n)
            assert region is not None
            rect = region_rect(region, window.scale, w, h)
            if rect.empty:
                continue
            a, b = self._good_neighbours(window.shot, r.start - 1, r.end + 1)
            context = max(round(_CONTEXT * window.scale), rect.x1 - rect.x0, rect.y1 - rect.y0)
            area = self._ring(rect, w, h).grown(context, w, h)
            estimate: np.ndarray | None = None
            if a is not None and b is not None:
                estimate, failed = self._in_between(window, a, b, area)
                if failed:
                    estimate = None
            elif a is not None or b is not None:
                other = a if a is not None else b
                assert other is not None
                estimate = self._compensated(window, other, rect, area)
            self._fill_region(out, mask, estimate, area, rect, n)
        return Result(out, mask)


class WithoutDestroyed:
    """A reader whose destroyed frames (whole-frame repairs) read as a cross-fade of the
    nearest good frames around them.

    For analyses over a whole clip that run before the repair stage, cut detection above
    all: a torn frame differs from both neighbours as a cut does, and a cut found there
    would end the shot at the torn frame and leave it no neighbour to be rebuilt from. A
    cross-fade moves halfway between its neighbours, which no detector takes for a cut (a
    repeated frame would not do: the next step then doubles the motion, which looks like a
    jump). Wraps anything with `info` and `frames(start, stop)` (engine.media.Reader).
    """

    def __init__(self, reader: Any, repairs: Sequence[RepairSpan]) -> None:
        self.reader = reader
        self.info = reader.info
        self._destroyed = [(r.start, r.end) for r in repairs
                           if r.region is None and not r.protect]

    def _is_destroyed(self, index: int) -> bool:
        return any(a <= index <= b for a, b in self._destroyed)

    def frames(self, start: int, stop: int | None = None) -> Iterator[np.ndarray]:
        """Frames start..stop-1 in order (stop exclusive), destroyed ones replaced."""
        good: tuple[int, np.ndarray] | None = None
        waiting: list[tuple[int, np.ndarray]] = []  # destroyed frames until the next good one
        for index, frame in enumerate(self.reader.frames(start, stop), start=start):
            if self._is_destroyed(index):
                waiting.append((index, frame))
                continue
            for i, _ in waiting:
                if good is None:  # destroyed frames open the range: the next good one
                    yield frame
                else:
                    phase = (i - good[0]) / (index - good[0])
                    yield cv2.addWeighted(good[1], 1.0 - phase, frame, phase, 0.0)
            waiting.clear()
            good = (index, frame)
            yield frame
        for _, torn in waiting:  # destroyed frames close the range: the last good one
            yield torn if good is None else good[1]
