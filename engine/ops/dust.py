"""Dust, dirt, hairs and blotches: temporal spike detection on motion-compensated frames.

A defect of this family sits on one frame only (two at most, when the dirt stayed in the
gate), while the picture under it continues in the neighbouring frames. So each neighbour is
brought onto the current frame with dense optical flow, and a pixel is a defect when it lies
outside the range of *every* compensated neighbour by more than a threshold (the ROD detector
of Nadenau & Mitra, with the neighbours' values taken over a 3x3 neighbourhood so that
sub-pixel misregistration of fine texture is not mistaken for a spike). Guards against
repairing real picture content:

- the neighbours must show the same picture there: a past and a future one agree (their
  local ranges meet) much better than the current pixel agrees with either. Where motion
  compensation failed (occlusions, fast motion the flow missed) they disagree and nothing
  is detected; on a fast, featureless surface where the flow is poor and inconsistent (a
  door swinging past, soft upscaled footage) a loose registration still agrees, so the
  dirt on it is found. Forward-backward flow consistency is no hard gate for that reason;
- near a motion boundary (where the flow changes within a few pixels and is smoothed across
  the edge) a pixel must lie outside each neighbour's range over the flow's possible error;
- at a shot's end, where every neighbour lies on one side and shares any occlusion, only
  pixels with consistent flow to every neighbour are tested;
- a regional brightness offset between the frames (flicker) is measured and removed first;
- the threshold follows the measured noise (grain) level of the frame pair;
- detections are grown from strong seeds into weaker connected pixels (hysteresis); a
  connected detection longer than the largest defect size (by default half the frame
  width: real blotches and clumps of fibres can cover a third of the frame) is left alone.

Detected pixels, with gaps inside a blotch closed and grown by a pixel or two to cover the
soft edge, are replaced by the mean (median, with four neighbours) of the compensated
neighbours that are trusted there or agree and do not share the defect, so the fill carries
the neighbours' grain. Inside a defect the neighbours are sampled along the flow of its
surroundings (the flow from the current frame there is the dirt's), and failing trusted
ones, any neighbour without the dirt is used; only where none is usable is the hole
inpainted spatially, with grain-like noise matched to the surrounding noise level.

At a shot's first (last) frame the two following (preceding) frames stand in for the missing
side, fetched through `Window.fetch`, so the ends of a shot are cleaned too.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.ops.base import Operator, Result, Window
from engine.ops.color import LUMA_WEIGHTS
from engine.ops.memo import Memo
from engine.ops.motion import FlowEstimator
from engine.ops.params import Params, param

# Flows are estimated on luma at most this wide (pixels): film motion is smooth, so a
# half-resolution flow at 720p loses little and costs a quarter.
_FLOW_WIDTH = 640
_PRESET = "fast"
# Bounded memo sizes (entries): a sequential export at radius 2 needs the flows and lumas of
# the last few frames only.
_MEMO_FLOWS = 24
_MEMO_FRAMES = 12
# The regional brightness offset between a frame and a compensated neighbour (flicker) is
# measured on a grid this wide (cells) and smoothed over this many cells (Gaussian sigma).
_BIAS_GRID = 64
_BIAS_SIGMA = 2.0
# Hysteresis: weaker pixels connected to a detection are kept down to this fraction of the
# threshold, which catches the soft rims of specks and faint parts of hairs.
_LOW_FRACTION = 0.5
# Threshold = max(floor, k * noise std) with floor and k falling linearly with sensitivity
# 0-1 (levels 0-1, multiples of the residual noise std between compensated frames).
_FLOOR_AT_0, _FLOOR_SLOPE = 0.10, 0.08
_K_AT_0, _K_SLOPE = 8.0, 5.0
# Seeds must exceed the neighbours' range by this share of their contrast against the
# local background (the compensated neighbours blurred with this sigma, frame pixels).
_OWN_CONTRAST = 0.65
_BACKGROUND_SIGMA = 3.0
# Flow pixels (each side) within which a motion boundary makes the flow untrusted: two of
# the flow estimator's 4-pixel cells, over which it smooths motion across boundaries.
_BOUNDARY_RADIUS = 8
# Near a motion boundary the current pixel must lie outside a neighbour's range over this
# reach (flow pixels, each side): how far a flow smoothed across the boundary may be off.
_REACH = 4
# Spikes this many thresholds strong skip that test (no resampled line is that far off).
_CERTAIN = 2.0
# The neighbours may disagree with each other by at most this share of how far the current
# pixel lies outside both of them.
_AGREE = 0.5
# Detections are labelled on a grid at most this many cells wide.
_LABEL_WIDTH = 400
# With max_size 0, the longest defect is this share of the frame width.
_AUTO_MAX_SHARE = 0.5
# A regional level offset below this (levels 0-1, about a third of a code value at 8 bits)
# is not worth applying at full resolution.
_NEGLIGIBLE_BIAS = 0.0015
# Gaps inside a detected defect up to twice this radius (source pixels) are closed.
_CLOSE_RADIUS = 3
# Gaussian sigma (pixels) that gives re-injected noise the clumping of film grain.
_GRAIN_SIGMA = 0.7


@dataclass(frozen=True)
class DustParams(Params):
    sensitivity: float = param(
        0.5, label="Sensitivity", minimum=0.0, maximum=1.0, step=0.05,
        help="Higher finds fainter defects; lower leaves more alone. Detection adapts to the "
             "grain level of each frame")
    max_size: float = param(
        0.0, label="Largest defect", unit="px", minimum=0.0, maximum=4096.0, step=1.0,
        help="A detection whose longer side exceeds this (source pixels) is taken for real "
             "picture content and left alone; 0 = automatic, a fifth of the frame width "
             "(dirt scales with the frame: the same blotch covers more pixels in a 4K scan)")
    radius: int = param(
        1, label="Temporal radius", unit="frames", minimum=1, maximum=2, step=1,
        help="1 compares with the previous and next frame; 2 compares with two on each side "
             "and also removes dirt that stays for two frames")
    grow: int = param(
        2, label="Mask growth", unit="px", minimum=0, maximum=8, step=1,
        help="Pixels added around each defect (source pixels) to cover its soft edge")
    motion_tolerance: float = param(
        2.0, label="Motion tolerance", unit="px", minimum=0.25, maximum=8.0, step=0.25,
        help="Forward-backward flow error (source pixels) above which a neighbouring frame is "
             "not trusted (occlusions, fast motion); lower protects moving objects more")
    grain: bool = param(
        True, label="Grain in spatial fill",
        help="Add grain-like noise, matched to the surroundings, where a defect had to be "
             "filled from its surroundings because no neighbouring frame could be used")


@dataclass
class _FrameData:
    luma: np.ndarray   # float32 (H, W) levels 0-1
    small: np.ndarray  # float32 (h, w) luma at the flow's resolution, levels 0-1
    small8: np.ndarray  # uint8 (h, w), what the flow estimator sees


@dataclass
class _Neighbour:
    """One neighbouring frame brought onto the current frame's geometry (full resolution
    unless said otherwise)."""

    offset: int             # frames from the current one
    frame: np.ndarray       # the neighbour itself, RGB float32 (H, W, 3)
    trusted: np.ndarray     # uint8 (h, w) at flow resolution: 2 reliable, 1 only where the
                            # neighbours agree, 0 never
    map_x: np.ndarray       # float32 (H, W): where each current pixel lies in the neighbour
    map_y: np.ndarray
    bias: np.ndarray | None  # float32 (h, w): level offset that matches it to the current
                            # frame, at flow resolution; None where negligible
    luma: np.ndarray        # compensated, offset-corrected luma (H, W)
    hi: np.ndarray          # max of `luma` over 3x3, the top of its local range
    lo: np.ndarray          # min of `luma` over 3x3
    background: np.ndarray  # float32 (h, w): compensated luma at flow resolution, blurred
    wide_hi: np.ndarray     # float32 (h, w): its max over the motion-boundary reach
    wide_lo: np.ndarray     # float32 (h, w): its min over that reach
    factor: float           # flow resolution / full resolution
    flow: np.ndarray        # float32 (h, w, 2): the flow to the neighbour (flow pixels)

    def small_index(self, idx: np.ndarray, width: int) -> np.ndarray:
        """Flat indices at flow resolution of the full-resolution flat indices `idx` of a
        frame `width` pixels wide."""
        sh, sw = self.trusted.shape
        ys, xs = np.divmod(idx, width)
        sy = np.minimum(((ys + 0.5) * self.factor).astype(np.intp), sh - 1)
        sx = np.minimum(((xs + 0.5) * self.factor).astype(np.intp), sw - 1)
        return sy * sw + sx

    def trust_at(self, idx: np.ndarray, width: int) -> np.ndarray:
        """`trusted` at the full-resolution flat indices `idx`."""
        return self.trusted.flat[self.small_index(idx, width)]

    def bias_at(self, idx: np.ndarray, width: int) -> np.ndarray | float:
        """The level offset (levels 0-1) at the full-resolution flat indices `idx`."""
        if self.bias is None:
            return 0.0
        return self.bias.flat[self.small_index(idx, width)]


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    xs = np.broadcast_to(np.arange(w, dtype=np.float32), (h, w))
    ys = np.broadcast_to(np.arange(h, dtype=np.float32)[:, None], (h, w))
    return xs, ys


def _sample(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of `image` at the M points (x, y) (pixels): (M,) or (M, C)."""
    m = len(x)
    # remap wants a 2-D map with sides under 32767: lay the points out in rows.
    cols = 1024
    rows = max(1, -(-m // cols))
    mx = np.zeros(rows * cols, np.float32)
    my = np.zeros(rows * cols, np.float32)
    mx[:m], my[:m] = x, y
    out = cv2.remap(image, mx.reshape(rows, cols), my.reshape(rows, cols), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    if image.ndim == 3:
        return out.reshape(-1, image.shape[2])[:m]
    return out.reshape(-1)[:m]


def _second_smallest(values: list[np.ndarray]) -> np.ndarray:
    """Elementwise second smallest of three or four arrays (no sort)."""
    if len(values) == 3:
        a, b, c = values
        return np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))
    a, b, c, d = values
    m1, big1 = np.minimum(a, b), np.maximum(a, b)
    m2, big2 = np.minimum(c, d), np.maximum(c, d)
    return np.minimum(np.minimum(np.maximum(m1, m2), big1), big2)


def _vote(excess: list[np.ndarray], offsets: list[int]) -> np.ndarray:
    """How far (levels) the current pixel lies outside the neighbours' ranges, as agreed.

    With two neighbours both must agree. With three or four, one may disagree (dirt that
    stayed in the gate for two frames shows on one neighbour too), but each side in time
    must have a voting neighbour, so content that appears or vanishes for good (an
    occlusion) is never taken for a defect.
    """
    if len(excess) == 2:
        return np.minimum(excess[0], excess[1])
    score = _second_smallest(excess)
    past = [e for e, o in zip(excess, offsets, strict=True) if o < 0]
    future = [e for e, o in zip(excess, offsets, strict=True) if o > 0]
    if len(excess) == 4 and len(past) == 2:
        return score  # three of four voting already covers both sides
    if not past or not future:
        # At a shot's end all neighbours lie on one side: the nearer and the farther half.
        by_distance = sorted(zip(offsets, excess, strict=True), key=lambda t: abs(t[0]))
        half = len(by_distance) // 2
        past = [e for _, e in by_distance[:half]]
        future = [e for _, e in by_distance[half:]]
    return np.minimum(score, np.minimum(np.maximum.reduce(past), np.maximum.reduce(future)))


def _disagreement(neighbours: list[_Neighbour], idx: np.ndarray) -> np.ndarray:
    """How far (levels) the best-agreeing past and future neighbours lie apart at the flat
    indices `idx`, as the gap between their local 3x3 ranges (0 where they overlap).

    At a shot's end, where all neighbours lie on one side, the nearer and the farther half
    stand in for the past and the future.
    """
    past = [nb for nb in neighbours if nb.offset < 0]
    future = [nb for nb in neighbours if nb.offset > 0]
    if not past or not future:
        ordered = sorted(neighbours, key=lambda nb: abs(nb.offset))
        half = len(ordered) // 2
        past, future = ordered[:half], ordered[half:]
    best: np.ndarray | None = None
    for a in past:
        a_hi, a_lo = a.hi.flat[idx], a.lo.flat[idx]
        for b in future:
            g = np.maximum(np.maximum(a_lo - b.hi.flat[idx], b.lo.flat[idx] - a_hi), 0.0)
            best = g if best is None else np.minimum(best, g)
    assert best is not None
    return best


class DustOperator(Operator):
    id = "dust"
    label = "Dust & dirt"
    description = ("Removes dust, dirt, hairs and blotches that appear on one frame only, "
                   "detected against motion-compensated neighbours and filled from them.")
    Params = DustParams

    def __init__(self, params: DustParams | None = None) -> None:
        super().__init__(params)
        self._flow = FlowEstimator(preset=_PRESET, max_width=1 << 30)
        self._flows: Memo[np.ndarray] = Memo(_MEMO_FLOWS)
        self._frames: Memo[_FrameData] = Memo(_MEMO_FRAMES)

    @property
    def temporal_radius(self) -> int:
        return self.params.radius

    # --- frames and flows (memoised) ------------------------------------------------------

    def _neighbour_offsets(self, window: Window) -> list[int]:
        """Offsets of the neighbours to compare with: `radius` on each side, or at a shot's
        end the next ones on the side that exists (so the ends of a shot are cleaned)."""
        r = self.params.radius
        first, last = window.shot
        n = window.index
        before = [-k for k in range(1, r + 1) if n - k >= first]
        after = [k for k in range(1, r + 1) if n + k <= last]
        wanted = 2 * r
        offsets = before + after
        # Borrow further frames from the side that has them.
        k = r + 1
        while len(offsets) < wanted and (n - k >= first or n + k <= last):
            if not before and n + k <= last:
                offsets.append(k)
            elif not after and n - k >= first:
                offsets.append(-k)
            else:
                break
            k += 1
        if window.fetch is None:
            offsets = [o for o in offsets if window.neighbour(o) is not None]
        return sorted(offsets)

    def _frame(self, window: Window, offset: int) -> np.ndarray:
        frame = window.neighbour(offset)
        if frame is None:
            assert window.fetch is not None
            frame = window.fetch(window.index + offset)
        return frame

    def _frame_data(self, window: Window, index: int, frame: np.ndarray) -> _FrameData:
        key = (window.key, frame.shape, index)
        data = self._frames.get(key)
        if data is None:
            luma = cv2.transform(frame, LUMA_WEIGHTS.reshape(1, 3))
            luma = np.ascontiguousarray(luma.reshape(frame.shape[:2]), dtype=np.float32)
            h, w = luma.shape
            small = luma
            if w > _FLOW_WIDTH:
                size = (_FLOW_WIDTH, max(8, round(h * _FLOW_WIDTH / w)))
                small = cv2.resize(luma, size, interpolation=cv2.INTER_AREA)
            small8 = np.clip(small * 255.0 + 0.5, 0, 255).astype(np.uint8)
            data = _FrameData(luma, small, small8)
            self._frames.put(key, data)
        assert isinstance(data, _FrameData)
        return data

    def _pair_flow(self, window: Window, i: int, j: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Flow (h, w, 2) from frame i to frame j at flow resolution, memoised."""
        key = (window.key, a.shape, i, j)
        flow = self._flows.get(key)
        if flow is None:
            flow = self._flow.flow(a, b)
            self._flows.put(key, flow)
        assert isinstance(flow, np.ndarray)
        return flow

    def _compensate(self, window: Window, cur: _FrameData, offset: int) -> _Neighbour:
        i, j = window.index, window.index + offset
        frame = self._frame(window, offset)
        other = self._frame_data(window, j, frame)
        h, w = cur.luma.shape
        sh, sw = cur.small.shape
        factor = sw / w
        forward = self._pair_flow(window, i, j, cur.small8, other.small8)
        backward = self._pair_flow(window, j, i, other.small8, cur.small8)

        # Where each current pixel lies in the neighbour, at flow resolution: built once
        # and used for every warp below.
        xs, ys = _grid(sh, sw)
        map_x = xs + forward[..., 0]
        map_y = ys + forward[..., 1]
        inside = (map_x >= 0) & (map_x <= sw - 1) & (map_y >= 0) & (map_y <= sh - 1)

        # Forward-backward consistency (squared, to skip a square root per pixel).
        tolerance = max(self.params.motion_tolerance * window.scale * factor, 0.25)
        loop = forward + cv2.remap(backward, map_x, map_y, cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REPLICATE)
        error2 = loop[..., 0] * loop[..., 0] + loop[..., 1] * loop[..., 1]
        consistent = inside & (error2 <= np.float32(tolerance * tolerance))
        # Near a motion boundary the flow of a fast object bleeds into its surroundings
        # consistently in both directions, which the loop test cannot see; so where the
        # flow changes by more than the tolerance within a few pixels nothing is trusted.
        size = 2 * _BOUNDARY_RADIUS + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
        spread = cv2.dilate(forward, kernel) - cv2.erode(forward, kernel)
        smooth = np.maximum(spread[..., 0], spread[..., 1]) <= np.float32(2 * tolerance)
        trusted_small = consistent & smooth

        # Regional level offset (flicker) between the frames, measured where motion is
        # trusted on a coarse grid, each difference clipped so defects barely bias it.
        warped = cv2.remap(other.small, map_x, map_y, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        weight = trusted_small.astype(np.float32)
        diff = np.clip(cur.small - warped, -0.2, 0.2) * weight
        grid = (_BIAS_GRID, max(2, round(_BIAS_GRID * sh / sw)))
        num = cv2.GaussianBlur(cv2.resize(diff, grid, interpolation=cv2.INTER_AREA), (0, 0),
                               _BIAS_SIGMA)
        den = cv2.GaussianBlur(cv2.resize(weight, grid, interpolation=cv2.INTER_AREA), (0, 0),
                               _BIAS_SIGMA)
        bias_grid = num / np.maximum(den, np.float32(1e-3))
        warped += cv2.resize(bias_grid, (sw, sh), interpolation=cv2.INTER_LINEAR)
        background = cv2.GaussianBlur(warped, (0, 0), max(_BACKGROUND_SIGMA * factor, 1.0))
        # Near a motion boundary the flow may be off by up to the spread it measures: there
        # the current pixel must lie outside the neighbour's range over that whole reach.
        reach = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * _REACH + 1, 2 * _REACH + 1))
        wide_hi = cv2.dilate(warped, reach)
        wide_lo = cv2.erode(warped, reach)

        bias_small: np.ndarray | None = None
        if float(np.abs(bias_grid).max()) > _NEGLIGIBLE_BIAS:
            bias_small = cv2.resize(bias_grid, (sw, sh), interpolation=cv2.INTER_LINEAR)
        # 2: trusted; 1: motion smooth but not consistent (featureless or fast surfaces,
        # usable where the neighbours agree); 0: near a motion boundary, never used.
        trusted = trusted_small.view(np.uint8) + smooth.view(np.uint8)
        if factor < 1.0:
            # Upsampling the maps (converted to full-resolution coordinates first; the
            # conversion is affine, so it commutes with linear interpolation) is cheaper
            # than upsampling the flow and adding a full-resolution grid.
            inv = np.float32(1.0 / factor)
            map_x = cv2.resize((map_x + 0.5) * inv - 0.5, (w, h), interpolation=cv2.INTER_LINEAR)
            map_y = cv2.resize((map_y + 0.5) * inv - 0.5, (w, h), interpolation=cv2.INTER_LINEAR)
        luma = cv2.remap(other.luma, map_x, map_y, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
        if bias_small is not None:
            luma += cv2.resize(bias_grid, (w, h), interpolation=cv2.INTER_LINEAR)
        # The local 3x3 range absorbs sub-pixel misregistration of fine texture.
        kernel = np.ones((3, 3), np.uint8)
        hi = cv2.dilate(luma, kernel)
        lo = cv2.erode(luma, kernel)
        return _Neighbour(offset, frame, trusted, map_x, map_y, bias_small, luma, hi, lo,
                          background, wide_hi, wide_lo, factor, forward)

    # --- detection --------------------------------------------------------------------------

    def _threshold(self, luma: np.ndarray, neighbours: list[_Neighbour]) -> float:
        """Detection threshold (levels 0-1) from the noise level of the compensated pairs."""
        s = self.params.sensitivity
        # About 20 000 samples are plenty for a robust spread and keep this cheap at 4K.
        step = max(1, int(np.sqrt(luma.size / 20000)))
        h, w = luma.shape
        ys, xs = np.mgrid[0:h:step, 0:w:step]
        grid = (ys * w + xs).ravel()
        sigmas = []
        for nb in neighbours:
            sub_t = nb.trust_at(grid, w) == 2
            residual = (luma.flat[grid] - nb.luma.flat[grid])[sub_t]
            if residual.size > 100:
                sigmas.append(1.4826 * float(np.median(np.abs(residual))))
        noise = float(np.median(sigmas)) if sigmas else 0.02
        return max(_FLOOR_AT_0 - _FLOOR_SLOPE * s, (_K_AT_0 - _K_SLOPE * s) * noise)

    def _detect(
        self, luma: np.ndarray, neighbours: list[_Neighbour], threshold: float, scale: float
    ) -> np.ndarray:
        """Flat indices of the defect pixels.

        Candidates lie outside the neighbours' local ranges by half the threshold, trusted
        or not (a defect can upset the flow around itself). Connected candidates are kept
        when they hold a seed (outside every trusted neighbour's range by the threshold,
        and by most of its own contrast) and are no longer than the largest defect size.
        """
        offsets = [nb.offset for nb in neighbours]
        if len(neighbours) == 2:
            a, b = neighbours
            # cv2 rather than numpy: multi-threaded and no temporaries at full resolution.
            loose = cv2.max(cv2.subtract(luma, cv2.max(a.hi, b.hi)),
                            cv2.subtract(cv2.min(a.lo, b.lo), luma))
        else:
            loose = np.maximum(_vote([luma - nb.hi for nb in neighbours], offsets),
                               _vote([nb.lo - luma for nb in neighbours], offsets))
        low = loose > np.float32(threshold * _LOW_FRACTION)
        idx = np.flatnonzero(low)
        if idx.size == 0:
            return idx

        # Seeds, on the candidates only.
        here = luma.flat[idx]
        h, w = luma.shape
        ys, xs = np.divmod(idx, w)
        background = np.zeros(idx.size, np.float32)
        brights, darks = [], []
        for nb in neighbours:
            hi, lo = nb.hi.flat[idx], nb.lo.flat[idx]
            f = nb.factor
            sx, sy = (xs + 0.5) * f - 0.5, (ys + 0.5) * f - 0.5
            near_boundary = nb.trust_at(idx, w) == 0
            if near_boundary.any():
                px, py = sx[near_boundary], sy[near_boundary]
                hi[near_boundary] = np.maximum(hi[near_boundary], _sample(nb.wide_hi, px, py))
                lo[near_boundary] = np.minimum(lo[near_boundary], _sample(nb.wide_lo, px, py))
            brights.append(here - hi)
            darks.append(lo - here)
            background += _sample(nb.background, sx, sy)
        background /= len(neighbours)
        strict = np.maximum(_vote(brights, offsets), _vote(darks, offsets))
        # The neighbours must show the same picture there (a past and a future one agree
        # within their local ranges), by a clear margin against the current frame's
        # departure: where motion compensation failed (fast or featureless motion,
        # occlusions) they disagree and nothing is detected, while on a featureless moving
        # surface a loose registration still agrees and the dirt on it is found.
        gap = _disagreement(neighbours, idx)
        agree = gap <= _AGREE * strict
        if all(o > 0 for o in offsets) or all(o < 0 for o in offsets):
            # At a shot's end all neighbours lie on one side and share any occlusion, so
            # their agreement proves nothing: only consistent motion counts there.
            for nb in neighbours:
                agree &= nb.trust_at(idx, w) == 2
        # A fine line whose peak is merely softer in the neighbours (sub-pixel position,
        # resampling) stands out from them by half its contrast or less; the picture under
        # a defect shows no such feature, so a defect stands out by most of its contrast.
        contrast = np.abs(here - background)
        own = loose.flat[idx] > _OWN_CONTRAST * contrast
        seeds = (strict > threshold) & agree & (
            (strict > _OWN_CONTRAST * contrast) | (strict > threshold * _CERTAIN))
        if not seeds.any():
            return idx[:0]
        idx, seeds = idx[own], seeds[own]
        # Connected candidates are labelled on a grid of f x f cells (candidates within a
        # cell or two are one detection): labelling the full frame would cost more than the
        # rest of the detection, and defect sizes need no finer measure than a few pixels.
        f = max(1, w // _LABEL_WIDTH)
        gh, gw = -(-h // f), -(-w // f)
        ys, xs = np.divmod(idx, w)
        cell = (ys // f) * gw + xs // f
        low = np.zeros((gh, gw), np.uint8)
        low.flat[cell] = 1
        count, labels, stats, _ = cv2.connectedComponentsWithStats(low, connectivity=8)
        label = labels.flat[cell]
        keep = np.zeros(count, bool)
        keep[label[seeds]] = True
        keep[0] = False
        longest = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]) * f
        keep &= longest <= max(self._max_size(w, scale), 2.0) + f
        return idx[keep[label]]

    def _max_size(self, width: int, scale: float) -> float:
        """Longest defect (pixels of the current frame, `width` pixels wide)."""
        if self.params.max_size > 0:
            return self.params.max_size * scale
        return _AUTO_MAX_SHARE * width

    # --- fill -----------------------------------------------------------------------------

    def _fill(
        self,
        frame: np.ndarray,
        defects: np.ndarray,
        solid: np.ndarray,
        area: np.ndarray,
        neighbours: list[_Neighbour],
        luma: np.ndarray,
        threshold: float,
        index: int,
    ) -> np.ndarray:
        """Replace the `area` pixels (flat indices: the defects grown) from the neighbours,
        spatially where none is usable. `defects` is a uint8 (H, W) mask of the detected
        pixels, `solid` the same with the gaps inside the defects closed.

        A neighbour is used where its compensation is trusted or where it agrees with
        another neighbour. Inside a defect, failing those, any neighbour that does not
        carry the same dirt is still a better source than a spatial fill (it has the
        picture's texture); the rim around a defect, failing those, is left as it is.
        """
        on_defect = defects.flat[area] > 0
        here = luma.flat[area]
        width = luma.shape[1]
        agree = _disagreement(neighbours, area) <= threshold * _LOW_FRACTION
        values = np.empty((len(neighbours), area.size, 3), np.float32)
        primary = np.empty((len(neighbours), area.size), bool)
        clean = np.empty((len(neighbours), area.size), bool)
        for k, nb in enumerate(neighbours):
            # On the defect itself, a neighbour that agrees with the current pixel carries
            # the same dirt (it stayed in the gate) and must not be copied.
            outside = np.maximum(here - nb.hi.flat[area], nb.lo.flat[area] - here)
            clean[k] = ~on_defect | (outside > threshold * _LOW_FRACTION)
            primary[k] = clean[k] & ((nb.trust_at(area, width) == 2) | agree)
            values[k] = _sample(nb.frame, nb.map_x.flat[area], nb.map_y.flat[area])
            bias = nb.bias_at(area, width)
            if not isinstance(bias, float):
                values[k] += bias[:, None]
        # Inside a large defect the flow from the current frame is that of the dirt, not of
        # the picture under it: there the neighbours are sampled along the flow of the
        # defect's surroundings, carried inwards.
        on_solid = solid.flat[area] > 0
        inside = on_solid
        if inside.any():
            for k, nb in enumerate(neighbours):
                mx, my = self._flow_through(nb, solid, area[inside], width)
                values[k][inside] = _sample(nb.frame, mx, my)
                if not isinstance(bias := nb.bias_at(area[inside], width), float):
                    values[k][inside] += bias[:, None]
        has_primary = primary.any(axis=0)
        use = np.where(has_primary[None, :], primary, clean & on_solid[None, :])
        count = use.sum(axis=0)
        ok = count > 0
        out = frame.copy()
        flat = out.reshape(-1, 3)
        if ok.any():
            v, u = values[:, ok], use[:, ok]
            if len(neighbours) <= 2:
                fill = (v * u[..., None]).sum(axis=0) / count[ok][:, None].astype(np.float32)
            else:
                fill = np.nanmedian(np.where(u[..., None], v, np.nan), axis=0)
            flat[area[ok]] = fill
        hole_idx = area[~ok & on_solid]
        if hole_idx.size:
            hole = np.zeros(defects.shape, np.uint8)
            hole.flat[hole_idx] = 1
            self._inpaint(out, hole, index)
        return out

    @staticmethod
    def _flow_through(nb: _Neighbour, defects: np.ndarray, idx: np.ndarray, width: int
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Where the full-resolution pixels `idx` (flat, inside `defects`) lie in neighbour
        `nb` (x, y pixels), with the flow inside the defects filled in from around them.

        The flow is inpainted on a grid a quarter of the flow's resolution: the picture's
        motion is smooth across a blotch, and the grid keeps this cheap.
        """
        sh, sw = nb.flow.shape[:2]
        cw, ch = max(8, sw // 4), max(8, sh // 4)
        hole = cv2.resize(defects, (cw, ch), interpolation=cv2.INTER_AREA)
        hole = cv2.dilate((hole > 0).view(np.uint8), np.ones((3, 3), np.uint8))
        coarse = cv2.resize(nb.flow, (cw, ch), interpolation=cv2.INTER_AREA)
        filled = np.stack([cv2.inpaint(np.ascontiguousarray(coarse[..., c]), hole, 3,
                                       cv2.INPAINT_TELEA) for c in range(2)], axis=-1)
        ys, xs = np.divmod(idx, width)
        # Full-resolution pixel -> coarse grid coordinates (pixel centres aligned).
        g = cw / (sw / nb.factor)
        gx, gy = (xs + 0.5) * g - 0.5, (ys + 0.5) * g - 0.5
        flow = _sample(filled, gx.astype(np.float32), gy.astype(np.float32))
        inv = 1.0 / nb.factor
        return ((xs + flow[:, 0] * inv).astype(np.float32),
                (ys + flow[:, 1] * inv).astype(np.float32))

    def _inpaint(self, out: np.ndarray, hole: np.ndarray, index: int) -> None:
        """Fill `hole` (uint8 (H, W)) spatially in place, tile by tile, adding grain.

        Tiles (with a margin of context) rather than connected components: labelling the
        whole frame costs more than the few small inpaintings themselves.
        """
        h, w = hole.shape
        tile, margin = 64, 8
        ys, xs = np.nonzero(hole)
        tiles_across = -(-w // tile)
        rng = np.random.default_rng([index, 0xD057])
        for t in np.unique((ys // tile) * tiles_across + xs // tile):
            ty, tx = divmod(int(t), tiles_across)
            y0, x0 = max(ty * tile - margin, 0), max(tx * tile - margin, 0)
            y1, x1 = min((ty + 1) * tile + margin, h), min((tx + 1) * tile + margin, w)
            region = out[y0:y1, x0:x1]
            m = hole[y0:y1, x0:x1].copy()
            # Only this tile's own pixels are written; the margin is context (its hole
            # pixels stay masked so that they are not used as context).
            own = np.zeros_like(m)
            iy0, ix0 = ty * tile - y0, tx * tile - x0
            own[iy0:iy0 + tile, ix0:ix0 + tile] = m[iy0:iy0 + tile, ix0:ix0 + tile]
            # OpenCV's float inpainting assumes 8-bit-like levels, hence the 255 scale.
            filled = np.stack(
                [cv2.inpaint(region[..., ch] * np.float32(255.0), m, 3, cv2.INPAINT_TELEA)
                 for ch in range(3)], axis=-1) / np.float32(255.0)
            if self.params.grain:
                filled += self._grain_like(region, m, rng)[..., None]
            sel = own.astype(bool)
            region[sel] = filled[sel]

    @staticmethod
    def _grain_like(region: np.ndarray, hole: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Correlated noise (H, W) with the std of the grain around `hole` (levels 0-1)."""
        luma = region @ LUMA_WEIGHTS
        detail = luma - cv2.GaussianBlur(luma, (0, 0), 1.5)
        around = detail[hole == 0]
        std = 1.4826 * float(np.median(np.abs(around))) if around.size else 0.0
        noise = rng.standard_normal(luma.shape).astype(np.float32)
        noise = cv2.GaussianBlur(noise, (0, 0), _GRAIN_SIGMA)
        noise /= max(float(noise.std()), 1e-6)
        return noise * np.float32(std)

    # --- the operator -----------------------------------------------------------------------

    def process(self, window: Window) -> Result:
        frame = window.current
        h, w = frame.shape[:2]
        nothing = Result(frame, np.zeros((h, w), np.float32))
        offsets = self._neighbour_offsets(window)
        if len(offsets) < 2:
            return nothing  # one frame alone (or a one-frame shot): nothing to compare with
        cur = self._frame_data(window, window.index, frame)
        neighbours = [self._compensate(window, cur, o) for o in offsets]
        threshold = self._threshold(cur.luma, neighbours)
        found = self._detect(cur.luma, neighbours, threshold, window.scale)
        if found.size == 0:
            return nothing
        defects = np.zeros((h, w), np.uint8)
        defects.flat[found] = 1
        # Dirt is solid: the gaps and pin holes a pixel test leaves inside a blotch (where
        # the dirt happens to match the picture's luma, but not its colour) are closed.
        close = max(1, round(_CLOSE_RADIUS * window.scale))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * close + 1, 2 * close + 1))
        solid = cv2.morphologyEx(defects, cv2.MORPH_CLOSE, kernel)
        area = solid
        grow = round(self.params.grow * window.scale)
        if grow > 0:
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
            area = cv2.dilate(area, kernel)
        area_idx = np.flatnonzero(area)
        out = self._fill(frame, defects, solid, area_idx, neighbours, cur.luma, threshold,
                         window.index)
        return Result(out, area.astype(np.float32))
