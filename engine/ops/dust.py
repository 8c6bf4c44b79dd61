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
  the edge) a pixel must lie outside each neighbour's range over the flow's possible error.
  Beside an edge of the picture's own motion (measured between the neighbours: a large
  blotch makes an edge of its own in the flow from its frame) and near the frame's edge,
  where objects enter, a pixel that one neighbour shows along the camera's motion (the
  frame's dominant one) is picture about to be covered or just uncovered, not dirt,
  unless it lies far beyond both neighbours;
- at a shot's end, where every neighbour lies on one side and shares any occlusion, a
  detection needs consistent motion: flow to every neighbour that passes the
  forward-backward test, or (away from motion boundaries) flow to the nearest neighbour
  that continues the picture's motion between the neighbours, one track through three
  frames. A detection without either is kept only where the neighbours closely fit a ring
  of picture around it and it stands out from that ring in the current frame (dirt on a
  featureless surface, where flow means little; a strip about to be covered by an object
  looks like the background beside it). Where such a detection has joined that strip,
  what stands out in it is confirmed on its own. The flow bleeds across a moving object's
  edge consistently, so a detection whose ring spans two motions keeps only what stands out
  from that ring (the strip beside the edge moves with the object, and is no dirt);
- where the neighbours disagree because the flow from the current frame failed (a large
  blotch drags it along, most of all on a flat moving surface), they are sampled again along
  the picture's motion measured between them, which never saw the blotch; a detection made
  that way needs both neighbours, registered on a ring of picture around it, to fit it
  closely (so an edge the motion model misplaces is not taken for dirt);
- a regional brightness offset between the frames (flicker) is measured and removed first
  (for the fills, measured again without the pixels far from it, the dirt itself);
- the threshold follows the measured noise (grain) level of the frame pair;
- detections are grown from strong seeds into weaker connected pixels (hysteresis); a
  connected detection longer than the largest defect size (by default half the frame
  width: real blotches and clumps of fibres can cover a third of the frame) is left alone.

Detected pixels, with gaps inside a blotch closed and grown by a pixel or two to cover the
soft edge, are replaced by a mean of the compensated neighbours weighted by how well each
fits the picture around the defect (the median, with four neighbours), so the fill carries
the neighbours' grain. Inside a defect the flow from the
current frame is the dirt's, so the neighbours are sampled along the picture's own motion,
measured between the two nearest neighbours (constant speed assumed over the frames
concerned), then registered by a sub-pixel shift on a ring of picture around each defect.
Where that motion leaves the ring poorly fitted (a fast object crossed the defect's place
between the neighbours, so the motion measured there is the object's), the ring's own flow
from the current frame and the frame's dominant motion are tried too, and one is kept only
where it fits the ring closely and clearly better.
A neighbour that fits that ring clearly worse than the best shows other picture there (an
occlusion) and is not used; one is used where its compensation is trusted, where it agrees
with another, or where it fits the ring closely, and inside a defect, failing those, any
fitting neighbour without the dirt. Where the two neighbours disagree and one lies beyond
the range of the picture around the defect while the other lies within it, the first
carries dirt of its own there (two specks that happen to overlap) and is not used. Ring
pixels that differ in colour from every fitting neighbour by the threshold, while those
agree, are dirt the luma test missed and are replaced too: a soft rim, within a few pixels
of the defect (farther out, a fine line the scan holds sharper on this frame than on its
neighbours differs the same way), or dirt that matches the picture's luma but not its
colour. Not at a shot's end, where the neighbours' agreement proves little. Only where no
neighbour is usable is the hole inpainted spatially, with grain-like noise matched to the
surrounding noise level.

At a shot's first (last) frame the two following (preceding) frames stand in for the missing
side, fetched through `Window.fetch`, so the ends of a shot are cleaned too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from engine.ops.base import Operator, Result, Window
from engine.ops.color import LUMA_WEIGHTS, channel_max
from engine.ops.memo import Memo
from engine.ops.motion import FlowEstimator
from engine.ops.params import Params, param
from engine.runtime import parallel_map

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
# For fills it is measured again without the pixels that differ from that first estimate
# by more than this (levels): dirt on either frame pulls a plain mean towards its own
# level, and the fill would then carry that level (a faint ghost of the blotch).
_BIAS_OUTLIER = 0.1
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
# Candidates this many thresholds beyond both neighbours are not tested against the
# camera's motion (`_camera_explains`): picture about to be covered stands out by less.
_CAMERA_CERTAIN = 4.0
# Within this many flow pixels of the frame's edge, picture enters and leaves the frame
# (an object moving in covers what was there), as beside a motion boundary.
_ENTRY_BAND = 16
# Spikes this many thresholds strong skip that test (no resampled line is that far off).
_CERTAIN = 2.0
# The neighbours may disagree with each other by at most this share of how far the current
# pixel lies outside both of them.
_AGREE = 0.5
# At a shot's end the flow to the nearest neighbour may miss the picture's motion between
# the neighbours by the motion tolerance plus this share of that motion.
_TRACK_SHARE = 0.2
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
# Fills are registered on a ring of picture this wide (source pixels) around each grown
# defect: the motion measured between the neighbours is only good to a pixel or so, while
# fine texture copied a pixel off is visibly wrong.
_RING = 6
# A ring pixel is taken for the defect's stray dirt (a soft rim the luma test missed) only
# this close (source pixels) to the grown defect. Farther out, what differs from two
# agreeing neighbours is mostly picture: a fine line drawn sharper on this frame than on
# its neighbours (the scan's sub-pixel phase), which must not be repainted softer.
_STRAY_REACH = 3
# ...except around a blotch larger than this (source pixels, about 50 x 40), whose whole
# ring is open to it.
_LARGE_BLOTCH = 2000
# At a shot's end, a detection whose ring's picture motion spreads by more than this
# (source pixels per frame) lies on an object's edge, and must stand out from that ring by
# this share of the threshold (`_clear_of_edges`).
_EDGE_SPREAD = 4.0
_EDGE_STAND_OUT = 0.5
# The share of a blob's ring that must remain picture (not other detections) to judge a fit.
_RING_KEPT = 0.5
# Lucas-Kanade steps of that registration, the largest correction it may make (source
# pixels: beyond that the flow was wrong, not imprecise), and its ridge term (squared
# levels per pixel, per ring pixel: keeps the shift at zero on a featureless ring).
_REGISTER_STEPS = 3
_MAX_SHIFT = 3.0
# Other motions (the ring's own flow, the frame's dominant motion; `_other_motions`) are
# tried on a poorly fitted blob only where they lie this far (source pixels) from the first.
_ALTERNATIVE_APART = 1.0
# ... and kept where its misfit is below this share of the best so far: on a blob at an
# object's edge the ring fits several motions about equally, and the picture's own motion
# is the safer guess for what lies under the dirt.
_ALTERNATIVE_GAIN = 0.75
_RIDGE = 1e-5
# Ring residuals are clipped to this (levels) so that other dirt or an occlusion in the
# ring does not drag the registration or dominate its misfit.
_RESIDUAL_CLIP = 0.1
# A neighbour's own dirt is dropped from a fill with a pixel around it (its soft rim).
_RIM_KERNEL = np.ones((3, 3), np.uint8)
# Fills from two neighbours weigh each by its ring misfit plus this share of the detection
# threshold (so that two close fits count about equally), inverse squared.
_FIT_FLOOR = 0.05
# A neighbour whose registered ring misfit (see `_register`) is worse than the best one's
# times this ratio plus this share of the detection threshold shows other picture there
# and is not used.
_MISFIT_RATIO = 1.5
_MISFIT_SLACK = 0.25
# A neighbour whose misfit is within this share of the detection threshold (about the
# grain's own mean difference between two frames) shows the same picture around the blob:
# it is used on the whole blob, and at a shot's end it confirms a detection.
_WELL_REGISTERED = 0.35
# A ring with dirt the luma test missed fits less well; it is searched for that dirt where a
# neighbour's misfit is within this share of the detection threshold.
_ROUGHLY_REGISTERED = 0.7
# A blob whose ring no neighbour fits within this share of the detection threshold is not
# filled (`_fill`): the picture around it changed between the frames.
_NO_FIT = 1.0


@dataclass(frozen=True)
class DustParams(Params):
    sensitivity: float = param(
        0.5, label="Sensitivity", minimum=0.0, maximum=1.0, step=0.05,
        help="Higher finds fainter defects; lower leaves more alone. Detection adapts to the "
             "grain level of each frame")
    max_size: float = param(
        0.0, label="Largest defect", unit="px", minimum=0.0, maximum=4096.0, step=1.0,
        help="A detection whose longer side exceeds this (source pixels) is taken for real "
             "picture content and left alone; 0 = automatic, half the frame width "
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
    hi: np.ndarray | None = None  # max of `luma` over 3x3, when asked for (`ranges`)
    lo: np.ndarray | None = None  # min of `luma` over 3x3

    def ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """The top and bottom of each pixel's 3x3 luma range (computed once)."""
        if self.hi is None or self.lo is None:
            self.hi, self.lo = _local_range(self.luma)
        return self.hi, self.lo


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
                            # frame (outliers left out: for fills and registrations), at
                            # flow resolution; None where negligible
    luma: np.ndarray        # compensated luma (H, W), offset-corrected for detection
    hi: np.ndarray          # max of `luma` over 3x3, the top of its local range
    lo: np.ndarray          # min of `luma` over 3x3
    background: np.ndarray  # float32 (h, w): compensated luma at flow resolution, blurred
    wide_hi: np.ndarray     # float32 (h, w): its max over the motion-boundary reach
    wide_lo: np.ndarray     # float32 (h, w): its min over that reach
    factor: float           # flow resolution / full resolution
    flow: np.ndarray        # float32 (h, w, 2): the flow to the neighbour (flow pixels)
    source_luma: np.ndarray  # float32 (H, W): the neighbour's own luma, not compensated

    @cached_property
    def dominant(self) -> tuple[float, float]:
        """The frame's dominant motion to the neighbour (the camera's, on most shots): the
        median flow on a sparse grid of the frame (full-resolution pixels). Worked out
        only where a test needs it."""
        dx, dy = np.median(self.flow[::4, ::4].reshape(-1, 2), axis=0) / self.factor
        return float(dx), float(dy)

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

    def trust_on_grid(self, step: int, shape: tuple[int, int]) -> np.ndarray:
        """`trusted` at every `step`-th row and column of a full-resolution frame of
        `shape` (what `trust_at` gives there, without flat indices)."""
        sh, sw = self.trusted.shape
        h, w = shape
        sy = np.minimum(((np.arange(0, h, step) + 0.5) * self.factor).astype(np.intp), sh - 1)
        sx = np.minimum(((np.arange(0, w, step) + 0.5) * self.factor).astype(np.intp), sw - 1)
        return self.trusted[np.ix_(sy, sx)]

    def bias_at(self, idx: np.ndarray, width: int) -> np.ndarray | float:
        """The level offset (levels 0-1) at the full-resolution flat indices `idx`."""
        if self.bias is None:
            return 0.0
        return self.bias.flat[self.small_index(idx, width)]


@dataclass
class _Motion:
    """The picture's own motion around the current frame, measured between two neighbours
    (frames `first` and `first + span` away from it) so that the current frame's dirt plays
    no part: inside a defect the flow from the current frame is the dirt's."""

    flow: np.ndarray   # float32 (h, w, 2): flow from the first neighbour to the second
                       # (flow pixels), on the first one's geometry
    first: int         # offset of the first neighbour (frames)
    span: int          # frames between the two
    factor: float      # flow resolution / full resolution

    def velocity(self, idx: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
        """The motion (x, y: full-resolution pixels per frame) of the picture at the flat
        indices `idx` of the current frame (`width` pixels wide), taken as constant over
        the frames concerned."""
        ys, xs = np.divmod(idx, width)
        f = self.factor
        sx = ((xs + 0.5) * f - 0.5).astype(np.float32)
        sy = ((ys + 0.5) * f - 0.5).astype(np.float32)
        v = _sample(self.flow, sx, sy) / np.float32(self.span)
        # The flow lives on the first neighbour's geometry, where a current pixel p lies
        # at p + first * v: one fixed-point step finds v there.
        v = _sample(self.flow, sx + self.first * v[:, 0], sy + self.first * v[:, 1])
        v /= np.float32(self.span * f)
        return v[:, 0], v[:, 1]


@dataclass
class _Registration:
    """Neighbours registered onto blobs: defects (with rims) and a ring of picture round each."""

    blob_of_area: np.ndarray  # intp: the blob of each area pixel
    ring: np.ndarray          # flat indices of the ring pixels
    blob_of_ring: np.ndarray  # intp: the blob of each ring pixel
    blobs: int                # number of blobs (0 is none)
    maps: list[tuple[np.ndarray, np.ndarray, np.ndarray | float]]
                              # per neighbour: where the area then ring pixels lie in it (x,
                              # y pixels) and its level offset there
    misfit: np.ndarray        # float32 (neighbours, blobs): how badly each neighbour fits
                              # each ring after registration (see `_register`)


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    xs = np.broadcast_to(np.arange(w, dtype=np.float32), (h, w))
    ys = np.broadcast_to(np.arange(h, dtype=np.float32)[:, None], (h, w))
    return xs, ys


def _sample(image: np.ndarray, x: np.ndarray, y: np.ndarray,
            interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Samples (bilinear unless told) of `image` at the M points (x, y) (pixels): (M,) or
    (M, C)."""
    m = len(x)
    # remap wants a 2-D map with sides under 32767: lay the points out in rows.
    cols = 1024
    rows = max(1, -(-m // cols))
    mx = np.zeros(rows * cols, np.float32)
    my = np.zeros(rows * cols, np.float32)
    mx[:m], my[:m] = x, y
    out = cv2.remap(image, mx.reshape(rows, cols), my.reshape(rows, cols), interpolation,
                    borderMode=cv2.BORDER_REPLICATE)
    if image.ndim == 3:
        return out.reshape(-1, image.shape[2])[:m]
    return out.reshape(-1)[:m]


def _local_range(luma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The top and bottom of each pixel's 3x3 neighbourhood of `luma` (levels 0-1)."""
    kernel = np.ones((3, 3), np.uint8)
    return cv2.dilate(luma, kernel), cv2.erode(luma, kernel)


def _flat_nonzero(mask: np.ndarray) -> np.ndarray:
    """Flat indices (ascending) of the non-zero pixels of a uint8 (H, W) mask; OpenCV's
    scan is several times faster than numpy's on a mostly empty frame."""
    points = cv2.findNonZero(mask)
    if points is None:
        return np.zeros(0, np.intp)
    points = points.reshape(-1, 2).astype(np.intp)
    return points[:, 1] * mask.shape[1] + points[:, 0]


def _second_smallest(values: list[np.ndarray]) -> np.ndarray:
    """Elementwise second smallest of three or four arrays (no sort)."""
    if len(values) == 3:
        a, b, c = values
        return np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))
    a, b, c, d = values
    m1, big1 = np.minimum(a, b), np.maximum(a, b)
    m2, big2 = np.minimum(c, d), np.maximum(c, d)
    return np.minimum(np.minimum(np.maximum(m1, m2), big1), big2)


def _register(
    source: np.ndarray, ring_values: np.ndarray, x: np.ndarray, y: np.ndarray,
    bias: np.ndarray | float, blob: np.ndarray, blobs: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-blob shifts that register a neighbour onto the current frame's defect rings.

    `ring_values` are the current frame's luma at the ring pixels (levels 0-1), (x, y) where
    those lie in the neighbour's luma `source` (pixels), `bias` its level offset there, and
    `blob` the blob (0..blobs-1) each ring pixel belongs to. Returns (shift_x, shift_y)
    (pixels, one per blob) found by Lucas-Kanade steps on a translation, and each blob's
    remaining misfit: the mean of its ring's absolute residuals (levels), each clipped.
    """
    shift_x = np.zeros(blobs, np.float32)
    shift_y = np.zeros(blobs, np.float32)
    count = np.bincount(blob, minlength=blobs).astype(np.float32)
    ridge = count * np.float32(_RIDGE) + np.float32(1e-9)
    m = len(x)
    for _ in range(_REGISTER_STEPS):
        px, py = x + shift_x[blob], y + shift_y[blob]
        # The value and its central differences, sampled in one pass.
        s = _sample(source, np.concatenate([px, px + 1, px - 1, px, px]),
                    np.concatenate([py, py, py, py + 1, py - 1])).reshape(5, m)
        r = np.clip(ring_values - (s[0] + bias), -_RESIDUAL_CLIP, _RESIDUAL_CLIP)
        gx, gy = (s[1] - s[2]) * 0.5, (s[3] - s[4]) * 0.5
        sxx = np.bincount(blob, gx * gx, blobs) + ridge
        syy = np.bincount(blob, gy * gy, blobs) + ridge
        sxy = np.bincount(blob, gx * gy, blobs)
        sxr = np.bincount(blob, gx * r, blobs)
        syr = np.bincount(blob, gy * r, blobs)
        det = sxx * syy - sxy * sxy
        shift_x = np.clip(shift_x + (syy * sxr - sxy * syr) / det, -_MAX_SHIFT, _MAX_SHIFT
                          ).astype(np.float32)
        shift_y = np.clip(shift_y + (sxx * syr - sxy * sxr) / det, -_MAX_SHIFT, _MAX_SHIFT
                          ).astype(np.float32)
    px, py = x + shift_x[blob], y + shift_y[blob]
    r = np.minimum(np.abs(ring_values - (_sample(source, px, py) + bias)), _RESIDUAL_CLIP)
    misfit = np.bincount(blob, r, blobs) / np.maximum(count, 1.0)
    return shift_x, shift_y, misfit.astype(np.float32)


def _regional_offset(diff: np.ndarray, weight: np.ndarray, grid: tuple[int, int]
                     ) -> np.ndarray:
    """The weighted mean of `diff` (levels) over a coarse `grid` (cells across, down),
    smoothed over neighbouring cells."""
    num = cv2.GaussianBlur(cv2.resize(diff * weight, grid, interpolation=cv2.INTER_AREA), (0, 0),
                           _BIAS_SIGMA)
    den = cv2.GaussianBlur(cv2.resize(weight, grid, interpolation=cv2.INTER_AREA), (0, 0),
                           _BIAS_SIGMA)
    return num / np.maximum(den, np.float32(1e-3))


def _blob_median(values: np.ndarray, blob: np.ndarray, blobs: int) -> np.ndarray:
    """The median of `values` over each blob (`blob` gives each value's blob, 0..blobs-1);
    0 for a blob without values."""
    out = np.zeros(blobs, np.float32)
    if values.size == 0:
        return out
    order = np.lexsort((values, blob))
    sorted_blob = blob[order]
    starts = np.searchsorted(sorted_blob, np.arange(blobs), "left")
    ends = np.searchsorted(sorted_blob, np.arange(blobs), "right")
    has = ends > starts
    mid = (starts + ends - 1) // 2
    out[has] = values[order][mid[has]]
    return out


def _other_motions(
    nb: _Neighbour, ring: np.ndarray, ring_values: np.ndarray, bias: np.ndarray | float,
    blob: np.ndarray, blobs: int, x: np.ndarray, y: np.ndarray, misfit: np.ndarray,
    good: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Register neighbour `nb` on the rings of poorly fitted blobs from two more motions
    than the picture's own, one translation per blob each:

    - the ring's own flow from the current frame (its median): the picture's motion
      between the neighbours is wrong where a fast object crossed the blob's place between
      them, while the ring, outside the dirt, moves with the picture around it;
    - the frame's dominant motion (the camera's), for a ring whose flow a nearby object
      or the dirt itself dragged along.

    `ring` are the poor blobs' ring pixels (flat indices), `ring_values` the current luma
    there, (x, y) where the first registration put them in the neighbour, `blob` their
    blobs and `misfit` every blob's misfit so far. Returns (blobs where another motion fits
    better, their translations x and y (pixels), the misfits), or None where none does.
    """
    width = nb.source_luma.shape[1]
    ys, xs = np.divmod(ring, width)
    count = np.bincount(blob, minlength=blobs)
    has = count > 0
    first_x = np.bincount(blob, x - xs, blobs) / np.maximum(count, 1)
    first_y = np.bincount(blob, y - ys, blobs) / np.maximum(count, 1)
    best = misfit.copy()
    take = np.zeros(blobs, bool)
    move_x = np.zeros(blobs, np.float32)
    move_y = np.zeros(blobs, np.float32)
    dominant = nb.dominant
    candidates = [
        (_blob_median(nb.map_x.flat[ring] - xs, blob, blobs),
         _blob_median(nb.map_y.flat[ring] - ys, blob, blobs)),
        (np.full(blobs, dominant[0], np.float32), np.full(blobs, dominant[1], np.float32)),
    ]
    for tx, ty in candidates:
        # A candidate within a pixel of the first registration's start adds nothing: the
        # registration reaches it from there.
        new = has & (np.hypot(tx - first_x, ty - first_y) > _ALTERNATIVE_APART)
        on = new[blob]
        if not on.any():
            continue
        b = blob[on]
        shift_x, shift_y, fit = _register(
            nb.source_luma, ring_values[on], xs[on] + tx[b], ys[on] + ty[b],
            bias if isinstance(bias, float) else bias[on], b, blobs)
        better = new & (fit <= good) & (fit < best * np.float32(_ALTERNATIVE_GAIN))
        best = np.where(better, fit, best)
        take |= better
        move_x = np.where(better, tx + shift_x, move_x)
        move_y = np.where(better, ty + shift_y, move_y)
    if not take.any():
        return None
    return take, move_x, move_y, best.astype(np.float32)


def _blob_range(values: np.ndarray, blob: np.ndarray, blobs: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """The largest and smallest of `values` over each blob (`blob` gives each value's blob,
    0..blobs-1): -inf and +inf for a blob without values."""
    top = np.full(blobs, -np.inf, np.float32)
    bottom = np.full(blobs, np.inf, np.float32)
    np.maximum.at(top, blob, values)
    np.minimum.at(bottom, blob, values)
    return top, bottom


def _beyond_ring(luma: np.ndarray, idx: np.ndarray, blob: np.ndarray, ring: np.ndarray,
                 blob_of_ring: np.ndarray, blobs: int) -> np.ndarray:
    """How far (levels) `luma` at the flat indices `idx` lies outside the range of its
    blob's ring (`blob` gives each one's blob; `ring`, flat, their rings' pixels, with
    `blob_of_ring` theirs); negative inside the range."""
    top, bottom = _blob_range(luma.flat[ring], blob_of_ring, blobs)
    here = luma.flat[idx]
    return np.maximum(here - top[blob], bottom[blob] - here)


def _camera_explains(neighbours: list[_Neighbour], idx: np.ndarray, here: np.ndarray,
                     width: int, margin: float) -> np.ndarray:
    """Whether the luma `here` (levels) at the flat indices `idx` lies within `margin` of
    some neighbour's 3x3 range when that neighbour is sampled along its dominant motion
    (the camera's) rather than along the flow.

    Beside a fast object the flow carries the object's motion into the picture around it,
    so both neighbours are sampled off the mark, may agree by chance, and the current pixel
    stands out from both: picture about to be covered looks like a spike. One neighbour
    still shows it where the camera moved it; dirt is in neither.
    """
    ys, xs = np.divmod(idx, width)
    xs, ys = xs.astype(np.float32), ys.astype(np.float32)
    # The nine points of the 3x3 neighbourhood around each moved pixel, sampled in one pass.
    step_x, step_y = (g.reshape(9, 1) for g in np.meshgrid(*[np.float32([-1, 0, 1])] * 2))
    explained = np.zeros(idx.size, bool)
    for nb in neighbours:
        dx, dy = nb.dominant
        px = xs[None, :] + np.float32(dx) + step_x
        py = ys[None, :] + np.float32(dy) + step_y
        values = _sample(nb.source_luma, px.ravel(), py.ravel()).reshape(9, idx.size)
        values += nb.bias_at(idx, width)  # the level offset (flicker) between the frames
        explained |= ((here >= values.min(axis=0) - margin)
                      & (here <= values.max(axis=0) + margin))
    return explained


def _on_motion_edge(motion: _Motion, idx: np.ndarray, shape: tuple[int, int], scale: float
                    ) -> np.ndarray:
    """Whether the picture's `motion` spreads by more than `_EDGE_SPREAD` (source pixels
    per frame, times `scale`) over the flow's boundary reach around each of the flat
    indices `idx` (of a frame of `shape`): an object's edge."""
    height, width = shape
    reach = int(round(_BOUNDARY_RADIUS / motion.factor))
    vx, vy = motion.velocity(idx, width)
    ys, xs = np.divmod(idx, width)
    spread = np.zeros(idx.size, np.float32)
    for dx, dy in ((reach, 0), (-reach, 0), (0, reach), (0, -reach)):
        moved = (np.clip(ys + dy, 0, height - 1) * width + np.clip(xs + dx, 0, width - 1))
        ox, oy = motion.velocity(moved, width)
        spread = np.maximum(spread, np.hypot(ox - vx, oy - vy))
    return spread > _EDGE_SPREAD * scale


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
    local_repair = True
    spot_repair = True

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

    def _flows_ready(self, window: Window, cur: _FrameData, frames: dict[int, np.ndarray]
                     ) -> None:
        """Compute, side by side, the flows between the current frame and its neighbours
        `frames` (offset → frame) that are not memoised yet (in an export, those to the
        frame just entering the window), so that the compensations that follow find them."""
        i = window.index
        todo: list[tuple[int, int, np.ndarray, np.ndarray]] = []
        for o, frame in frames.items():
            other = self._frame_data(window, i + o, frame)
            for a, b, da, db in ((i, i + o, cur, other), (i + o, i, other, cur)):
                if (window.key, da.small8.shape, a, b) not in self._flows:
                    todo.append((a, b, da.small8, db.small8))
        parallel_map(lambda t: self._pair_flow(window, *t), todo)

    def _picture_motion(self, window: Window, cur: _FrameData, offsets: list[int]) -> _Motion:
        """The picture's motion between the nearest neighbour on each side, or at a shot's
        end the two nearest ones (their frames and flows are memoised)."""
        past = [o for o in offsets if o < 0]
        future = [o for o in offsets if o > 0]
        if past and future:
            a, b = max(past), min(future)
        else:
            a, b = sorted(offsets, key=abs)[:2]
            a, b = min(a, b), max(a, b)
        n = window.index
        da = self._frame_data(window, n + a, self._frame(window, a))
        db = self._frame_data(window, n + b, self._frame(window, b))
        # At a shot's end this is a flow the neighbour computed for itself (memoised).
        flow = self._pair_flow(window, n + a, n + b, da.small8, db.small8)
        return _Motion(flow, a, b - a, cur.small.shape[1] / cur.luma.shape[1])

    def _compensate(self, window: Window, cur: _FrameData, offset: int, frame: np.ndarray
                    ) -> _Neighbour:
        i, j = window.index, window.index + offset
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
        raw = cur.small - warped
        grid = (_BIAS_GRID, max(2, round(_BIAS_GRID * sh / sw)))
        bias_grid = _regional_offset(np.clip(raw, -0.2, 0.2), weight, grid)
        bias_first = cv2.resize(bias_grid, (sw, sh), interpolation=cv2.INTER_LINEAR)
        warped += bias_first
        # The detection compares with that offset: where the frames differ a lot it leans
        # towards the current frame, which makes an occlusion look less like a spike. The
        # fills and registrations take it again without the pixels far from it, the dirt
        # included, so that they carry the picture's own level.
        weight *= np.abs(raw - bias_first) <= np.float32(_BIAS_OUTLIER)
        fill_grid = _regional_offset(raw, weight, grid)
        background = cv2.GaussianBlur(warped, (0, 0), max(_BACKGROUND_SIGMA * factor, 1.0))
        # Near a motion boundary the flow may be off by up to the spread it measures: there
        # the current pixel must lie outside the neighbour's range over that whole reach.
        reach = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * _REACH + 1, 2 * _REACH + 1))
        wide_hi = cv2.dilate(warped, reach)
        wide_lo = cv2.erode(warped, reach)

        bias_small: np.ndarray | None = None
        if float(np.abs(fill_grid).max()) > _NEGLIGIBLE_BIAS:
            bias_small = cv2.resize(fill_grid, (sw, sh), interpolation=cv2.INTER_LINEAR)
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
        if float(np.abs(bias_grid).max()) > _NEGLIGIBLE_BIAS:
            luma += cv2.resize(bias_grid, (w, h), interpolation=cv2.INTER_LINEAR)
        # The local 3x3 range absorbs sub-pixel misregistration of fine texture.
        hi, lo = _local_range(luma)
        return _Neighbour(offset, frame, trusted, map_x, map_y, bias_small, luma, hi, lo,
                          background, wide_hi, wide_lo, factor, forward, other.luma)

    # --- detection --------------------------------------------------------------------------

    def _threshold(self, luma: np.ndarray, neighbours: list[_Neighbour]) -> float:
        """Detection threshold (levels 0-1) from the noise level of the compensated pairs."""
        s = self.params.sensitivity
        # About 20 000 samples are plenty for a robust spread and keep this cheap at 4K.
        step = max(1, int(np.sqrt(luma.size / 20000)))
        here = luma[::step, ::step]
        sigmas = []
        for nb in neighbours:
            sub_t = nb.trust_on_grid(step, luma.shape) == 2
            residual = (here - nb.luma[::step, ::step])[sub_t]
            if residual.size > 100:
                sigmas.append(1.4826 * float(np.median(np.abs(residual))))
        noise = float(np.median(sigmas)) if sigmas else 0.02
        return max(_FLOOR_AT_0 - _FLOOR_SLOPE * s, (_K_AT_0 - _K_SLOPE * s) * noise)

    def _detect(
        self, luma: np.ndarray, neighbours: list[_Neighbour], threshold: float, scale: float,
        motion: _Motion | None = None, picture: Callable[[], _Motion] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Flat indices (ascending) of the defect pixels, of the detections to be
        confirmed, of all the candidates, and of those whose neighbours disagree (where the
        flow may have failed).

        Candidates lie outside the neighbours' local ranges by half the threshold, trusted
        or not (a defect can upset the flow around itself). `motion` is given at a shot's
        end only, where all neighbours lie on one side: there a detection whose seeds all
        lack consistent motion is returned apart, to be confirmed by `_confirmed`.
        Connected candidates are kept when they hold a seed (outside every trusted
        neighbour's range by the threshold, and by most of its own contrast) and are no
        longer than the largest defect size. `picture` gives the picture's motion measured
        between the neighbours (asked for only where a candidate lies by a motion boundary).
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
            return idx, idx, idx, idx

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
        firm = agree
        if motion is not None:
            # At a shot's end all neighbours lie on one side and share any occlusion, so
            # their agreement proves little: consistent motion makes a seed firm. Either
            # the flow to every neighbour passes the forward-backward test, or the current
            # pixel moves to the nearest neighbour as the picture moves on between the
            # neighbours (one track through three frames: a pixel about to be covered or
            # just uncovered follows a different motion from what shows there next).
            # Near a motion boundary the flow bleeds across the edge consistently in both
            # directions and along the track, so neither test holds there.
            consistent = np.ones(idx.size, bool)
            smooth = np.ones(idx.size, bool)
            for nb in neighbours:
                trust = nb.trust_at(idx, w)
                consistent &= trust == 2
                smooth &= trust > 0
            tracked = smooth & self._on_track(neighbours, motion, idx, w, scale)
            firm = agree & (consistent | tracked)
        # A fine line whose peak is merely softer in the neighbours (sub-pixel position,
        # resampling) stands out from them by half its contrast or less; the picture under
        # a defect shows no such feature, so a defect stands out by most of its contrast.
        contrast = np.abs(here - background)
        own = loose.flat[idx] > _OWN_CONTRAST * contrast
        seeds = (strict > threshold) & agree & (
            (strict > _OWN_CONTRAST * contrast) | (strict > threshold * _CERTAIN))
        # Near a motion boundary, and near the frame's edge where picture enters and leaves
        # (the flow cannot see where from), what a neighbour shows where the camera moved
        # it is picture (about to be covered, or just uncovered), neither a seed nor a
        # pixel that joins a detection. The boundary must be the picture's own, where its
        # motion between the neighbours spreads: a large blotch drags the flow from its
        # frame and makes a boundary of its own.
        band = int(np.ceil(_ENTRY_BAND / neighbours[0].factor))
        boundary = np.zeros(idx.size, bool)
        for nb in neighbours:
            boundary |= nb.trust_at(idx, w) == 0
        if picture is not None and boundary.any():
            at = np.flatnonzero(boundary)
            boundary[at[~_on_motion_edge(picture(), idx[at], (h, w), scale)]] = False
        boundary |= (xs < band) | (ys < band) | (xs >= w - band) | (ys >= h - band)
        # A spike far beyond both neighbours is dirt whatever a neighbour shows along the
        # camera's motion (a white blotch over a dark coat may meet a white page there).
        boundary &= loose.flat[idx] <= np.float32(threshold * _CAMERA_CERTAIN)
        if boundary.any():
            at = np.flatnonzero(boundary)
            at = at[_camera_explains(neighbours, idx[at], here[at], w,
                                     threshold * _LOW_FRACTION)]
            seeds[at] = False
            own[at] = False
        candidates, disputed = idx, idx[~agree]
        if not seeds.any():
            return idx[:0], idx[:0], candidates, disputed
        firm = seeds & firm
        idx, seeds, firm = idx[own], seeds[own], firm[own]
        label, small = self._detections(idx, (h, w), scale)
        keep = np.zeros(small.size, bool)
        keep[label[firm]] = True
        maybe = np.zeros(small.size, bool)
        maybe[label[seeds]] = True
        keep &= small
        maybe &= small & ~keep
        return idx[keep[label]], idx[maybe[label]], candidates, disputed

    def _detections(self, idx: np.ndarray, shape: tuple[int, int], scale: float
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Connected candidates `idx` (flat indices of a frame of `shape`): the detection
        each belongs to, and whether each detection is small enough to be a defect."""
        h, w = shape
        # Labelled on a grid of f x f cells (candidates within a cell or two are one
        # detection): labelling the full frame would cost more than the rest of the
        # detection, and defect sizes need no finer measure than a few pixels.
        f = max(1, w // _LABEL_WIDTH)
        gh, gw = -(-h // f), -(-w // f)
        ys, xs = np.divmod(idx, w)
        cell = (ys // f) * gw + xs // f
        low = np.zeros((gh, gw), np.uint8)
        low.flat[cell] = 1
        _, labels, stats, _ = cv2.connectedComponentsWithStats(low, connectivity=8)
        longest = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]) * f
        small = longest <= max(self._max_size(w, scale), 2.0) + f
        small[0] = False
        return labels.flat[cell], small

    def _detect_along_motion(
        self, window: Window, luma: np.ndarray, neighbours: list[_Neighbour],
        threshold: float, scale: float, motion: _Motion, candidates: np.ndarray,
    ) -> np.ndarray:
        """Flat indices of the defects among `candidates` (flat, ascending: those whose
        neighbours disagree) found with the neighbours sampled along the picture's own
        motion.

        A large or strongly contrasting blotch drags the flow from the current frame with
        it, most of all on a flat moving surface: the neighbours it brings in then show
        other picture, disagree, and the test against them finds nothing. The motion
        measured between the two nearest neighbours never saw the current frame's dirt, so
        along it they show the picture that belongs under the defect. The same test then
        applies: both neighbours agree there, and the current pixel lies outside both
        (their 3x3 ranges) by the threshold and by most of its contrast against them.
        Between neighbours on both sides only: at a shot's end they share whatever enters
        or leaves the picture after the current frame.
        """
        if candidates.size == 0:
            return candidates
        h, w = luma.shape
        here = luma.flat[candidates]
        vx, vy = motion.velocity(candidates, w)
        ys, xs = np.divmod(candidates, w)
        ranges = []
        for offset in (motion.first, motion.first + motion.span):
            nb = next(n for n in neighbours if n.offset == offset)
            data = self._frame_data(window, window.index + offset, nb.frame)
            hi, lo = data.ranges()
            mx = (xs + offset * vx).astype(np.float32)
            my = (ys + offset * vy).astype(np.float32)
            bias = nb.bias_at(candidates, w)
            ranges.append((_sample(lo, mx, my) + bias, _sample(hi, mx, my) + bias))
        (lo_a, hi_a), (lo_b, hi_b) = ranges
        strict = np.minimum(np.maximum(here - hi_a, lo_a - here),
                            np.maximum(here - hi_b, lo_b - here))
        gap = np.maximum(np.maximum(lo_a - hi_b, lo_b - hi_a), 0.0)
        middle = (lo_a + hi_a + lo_b + hi_b) * np.float32(0.25)
        contrast = np.abs(here - middle)
        low = (strict > threshold * _LOW_FRACTION) & (gap <= _AGREE * strict)
        seeds = low & (strict > threshold) & (strict > _OWN_CONTRAST * contrast)
        if not seeds.any():
            return candidates[:0]
        idx, seeds = candidates[low], seeds[low]
        label, small = self._detections(idx, (h, w), scale)
        keep = np.zeros(small.size, bool)
        keep[label[seeds]] = True
        keep &= small
        return idx[keep[label]]

    def _on_track(self, neighbours: list[_Neighbour], motion: _Motion, idx: np.ndarray,
                  width: int, scale: float) -> np.ndarray:
        """Whether the flow from the current frame's pixels `idx` (flat) to the nearest
        neighbour matches the picture's motion between the neighbours, within the motion
        tolerance."""
        near = min(neighbours, key=lambda nb: abs(nb.offset))
        vx, vy = motion.velocity(idx, width)
        ys, xs = np.divmod(idx, width)
        f = near.factor
        here = _sample(near.flow, ((xs + 0.5) * f - 0.5).astype(np.float32),
                       ((ys + 0.5) * f - 0.5).astype(np.float32))
        ex, ey = near.offset * vx * f, near.offset * vy * f
        dx, dy = here[:, 0] - ex, here[:, 1] - ey
        # Flow errors grow with the motion; a pixel about to be covered or just uncovered
        # moves with another object, unlike its expected track by much more.
        tolerance = max(self.params.motion_tolerance * scale * f, 0.25)
        allowed = tolerance * tolerance + _TRACK_SHARE * _TRACK_SHARE * (ex * ex + ey * ey)
        return dx * dx + dy * dy <= allowed

    def _max_size(self, width: int, scale: float) -> float:
        """Longest defect (pixels of the current frame, `width` pixels wide)."""
        if self.params.max_size > 0:
            return self.params.max_size * scale
        return _AUTO_MAX_SHARE * width

    def _grown(self, defects: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """The detected pixels `defects` (uint8 (H, W)) with their gaps closed, and those
        grown by the mask growth (both uint8 (H, W))."""
        # Dirt is solid: the gaps and pin holes a pixel test leaves inside a blotch (where
        # the dirt happens to match the picture's luma, but not its colour) are closed.
        close = max(1, round(_CLOSE_RADIUS * scale))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * close + 1, 2 * close + 1))
        solid = cv2.morphologyEx(defects, cv2.MORPH_CLOSE, kernel)
        area = solid
        grow = round(self.params.grow * scale)
        if grow > 0:
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
            area = cv2.dilate(area, kernel)
        return solid, area

    def _confirmed(self, tentative: np.ndarray, neighbours: list[_Neighbour], luma: np.ndarray,
                   threshold: float, scale: float, motion: _Motion,
                   context: np.ndarray | None = None, stand_out: bool = True,
                   apart: np.ndarray | None = None) -> np.ndarray:
        """The detections `tentative` (flat indices) that are confirmed as defects: at a
        shot's end those without consistent motion (on a featureless surface the flow means
        little), and those found along the picture's motion (`_detect_along_motion`).

        A detection is confirmed when every neighbour, registered along the picture's motion,
        closely fits the ring of picture around it (so the surroundings are the same picture
        and no object enters or leaves there), and it stands out from that ring in the
        current frame by the threshold (dirt is a spot; the strip of background about to be
        covered by an object, or just uncovered, looks like the background beside it).
        `stand_out` False skips that last test: between neighbours on both sides in time, an
        occlusion makes them disagree, so their agreement already rules it out. `context`
        (flat indices) are other candidates, kept out of the ring where they lie near the
        detection (the rest of a blotch the detection did not reach). Where that joins a
        detection with candidates on a fast object beside it, no neighbour fits the joined
        ring; each such detection is then judged on its own ring, the candidates left out of
        it, and must stand out from it. A ring that fits poorly along the picture's motion
        is registered from the camera's and its own flow too (`_other_motions`): beside a
        fast object the picture's motion there is the object's.

        A blob that stands out but does not fit may be dirt joined to the band an object's
        edge covers or uncovers, which the neighbours cannot fit; what stands out in it is
        then confirmed on its own (`_cores`). `apart` (a uint8 (H, W) mask) are the pixels
        kept out of the rings in that second pass.
        """
        mask = np.zeros(luma.shape, np.uint8)
        mask.flat[tentative] = 1
        if context is not None:
            # The rest of the dirt may lie beside the detection (in candidates it did not
            # reach): keep it out of the ring, within two ring widths of the detection.
            r = max(2, round(2 * _RING * scale))
            near = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1,) * 2))
            mask.flat[context[near.flat[context] > 0]] = 1
        area = _flat_nonzero(self._grown(mask, scale)[1])
        reg = self._registration(area, neighbours, luma, motion, scale, threshold, apart,
                                 other_motions=True)
        fits = (reg.misfit <= threshold * _WELL_REGISTERED).all(axis=0)
        blob = reg.blob_of_area[np.searchsorted(area, tentative)]
        if not stand_out:
            confirmed = tentative[fits[blob]]
            if context is not None:
                unfit = tentative[~fits[blob]]
                if unfit.size:
                    confirmed = np.union1d(confirmed, self._confirmed(
                        unfit, neighbours, luma, threshold, scale, motion, apart=mask))
            return confirmed
        beyond = _beyond_ring(luma, tentative, blob, reg.ring, reg.blob_of_ring, reg.blobs)
        stands_out = np.zeros(reg.blobs, bool)
        stands_out[blob[beyond > threshold]] = True
        confirmed = tentative[(fits & stands_out)[blob]]
        if apart is None:
            unfit = ~fits[blob] & stands_out[blob]
            cores = self._cores(tentative[unfit], beyond[unfit] > threshold, luma.shape, scale)
            if cores.size:
                others = np.zeros(luma.shape, np.uint8)
                others.flat[np.setdiff1d(tentative, cores, assume_unique=True)] = 1
                confirmed = np.union1d(confirmed, self._confirmed(
                    cores, neighbours, luma, threshold, scale, motion, apart=others))
        return confirmed

    def _clear_of_edges(self, found: np.ndarray, luma: np.ndarray, threshold: float,
                        scale: float, motion: _Motion) -> np.ndarray:
        """The detections `found` (flat indices, ascending) at a shot's end, less those
        that may be the strip beside a moving object's edge.

        There both neighbours lie on one side, and the flow from the current frame bleeds
        across an object's edge: the strip of background the object is about to cover
        (or has just uncovered) moves with the object, consistently, and its neighbours
        show the object there. Such a strip looks like the background beside it, where
        dirt is a spot of its own. So of a detection whose ring of picture spans two motions
        (an edge), only the cores that stand out from that ring by `_EDGE_STAND_OUT` of the
        `threshold` (levels) are kept (`_cores`). Sending such detections to `_confirmed`
        instead, which also asks every neighbour to fit the ring, lost real dirt beside
        motion (bunny's dust repaired 95.4 -> 94.6 % in the quality benchmark's diagnosis).
        """
        solid = np.zeros(luma.shape, np.uint8)
        solid.flat[found] = 1
        area = _flat_nonzero(self._grown(solid, scale)[1])
        blob_of_area, ring, blob_of_ring, blobs = self._blobs(area, luma.shape, scale)
        vx, vy = motion.velocity(ring, luma.shape[1])
        spread = np.zeros(blobs, np.float32)
        for v in (vx, vy):
            top, bottom = _blob_range(v, blob_of_ring, blobs)
            spread += np.where(np.isfinite(top), top - bottom, 0.0) ** 2
        on_edge = np.sqrt(spread) > _EDGE_SPREAD * scale
        blob = blob_of_area[np.searchsorted(area, found)]
        edge = on_edge[blob]
        if not edge.any():
            return found
        beyond = _beyond_ring(luma, found[edge], blob[edge], ring, blob_of_ring, blobs)
        cores = self._cores(found[edge], beyond > threshold * _EDGE_STAND_OUT, luma.shape, scale)
        return np.union1d(found[~edge], cores)

    @staticmethod
    def _cores(detections: np.ndarray, outstanding: np.ndarray, shape: tuple[int, int],
               scale: float) -> np.ndarray:
        """The cores of dirt among `detections` (flat indices into a frame of `shape`): the
        `outstanding` ones (those standing out from their ring) with the detections close
        around them (within the gap-closing radius: the dirt's soft edge). The rest is left
        out: a band an object's edge covers or uncovers looks like the picture beside it."""
        if not outstanding.any():
            return detections[:0]
        core = np.zeros(shape, np.uint8)
        core.flat[detections[outstanding]] = 1
        r = max(1, round(_CLOSE_RADIUS * scale))
        core = cv2.dilate(core, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2))
        return detections[core.flat[detections] > 0]

    def _registration(self, area: np.ndarray, neighbours: list[_Neighbour], luma: np.ndarray,
                      motion: _Motion, scale: float, threshold: float,
                      apart: np.ndarray | None = None, other_motions: bool = False
                      ) -> _Registration:
        """Register each neighbour onto the blobs of `area` (flat indices) along the
        picture's motion, on a ring of picture around each blob; residuals are judged
        against the detection `threshold` (levels). The pixels of `apart` (uint8 (H, W), if
        given) are left out of the rings. With `other_motions`, a blob that fits poorly is
        registered from other motions too (`_other_motions`), and the best kept."""
        h, width = luma.shape
        na = area.size
        blob_of_area, ring, blob_of_ring, blobs = self._blobs(area, (h, width), scale)
        short = None
        if apart is not None:
            keep = apart.flat[ring] == 0
            # A ring mostly taken by other detections is too little picture to judge a fit.
            short = (np.bincount(blob_of_ring[keep], minlength=blobs)
                     < _RING_KEPT * np.bincount(blob_of_ring, minlength=blobs))
            ring, blob_of_ring = ring[keep], blob_of_ring[keep]
        both = np.concatenate([area, ring])
        blob_of_both = np.concatenate([blob_of_area, blob_of_ring])
        ys, xs = np.divmod(both, width)
        vx, vy = motion.velocity(both, width)
        maps: list[tuple[np.ndarray, np.ndarray, np.ndarray | float]] = []
        misfit = np.empty((len(neighbours), blobs), np.float32)
        # Every other ring pixel is plenty to register a translation and judge the fit.
        sub = slice(na, None, 2)
        ring_values = luma.flat[ring[::2]]
        for k, nb in enumerate(neighbours):
            bias = nb.bias_at(both, width)
            ring_bias = bias if isinstance(bias, float) else bias[sub]
            mx = (xs + nb.offset * vx).astype(np.float32)
            my = (ys + nb.offset * vy).astype(np.float32)
            shift_x, shift_y, misfit[k] = _register(
                nb.source_luma, ring_values, mx[sub], my[sub], ring_bias,
                blob_of_ring[::2], blobs)
            mx += shift_x[blob_of_both]
            my += shift_y[blob_of_both]
            if other_motions:
                poor = misfit[k] > threshold * _WELL_REGISTERED
                if poor.any():
                    on = poor[blob_of_ring[::2]]
                    moved = _other_motions(
                        nb, ring[::2][on], ring_values[on],
                        ring_bias if isinstance(ring_bias, float) else ring_bias[on],
                        blob_of_ring[::2][on], blobs, mx[sub][on], my[sub][on], misfit[k],
                        threshold * _WELL_REGISTERED)
                    if moved is not None:
                        take, tx, ty, misfit[k] = moved
                        pick = take[blob_of_both]
                        mx = np.where(pick, xs + tx[blob_of_both], mx).astype(np.float32)
                        my = np.where(pick, ys + ty[blob_of_both], my).astype(np.float32)
            maps.append((mx, my, bias))
        if short is not None:
            misfit[:, short] = np.inf
        return _Registration(blob_of_area, ring, blob_of_ring, blobs, maps, misfit)

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
        scale: float,
        motion: _Motion,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Replace the `area` pixels (flat indices: the defects grown) from the neighbours,
        spatially where none is usable; returns the frame and the flat indices replaced.
        `defects` is a uint8 (H, W) mask of the detected pixels, `solid` the same with the
        gaps inside the defects closed.

        Each defect with its rim and a ring of picture around it form a blob. The
        neighbours are sampled along the picture's motion measured between them (inside a
        defect the flow from the current frame is the dirt's), registered on the ring; one
        that fits the ring clearly worse than the best shows other picture (an occlusion)
        and is not used. A neighbour is used where its compensation is trusted, where it
        agrees with another neighbour, or where it fits the ring closely. Inside a defect,
        failing those, any fitting neighbour that does not carry the same dirt is still a
        better source than a spatial fill (it has the picture's texture); the rim around a
        defect, failing those, is left as it is. Ring pixels that differ in colour from
        every fitting neighbour by the threshold, while those agree, are the part of the
        dirt that the luma test missed (a soft edge within `_STRAY_REACH` of the defect,
        dirt that matches the picture's luma but not its colour) and are replaced too,
        except at a shot's end. A blob whose ring no neighbour fits within the threshold
        (`_NO_FIT`) is left as it is.
        """
        h, width = luma.shape
        na = area.size
        reg = self._registration(area, neighbours, luma, motion, scale, threshold,
                                 other_motions=True)
        blob_of_area, ring, blob_of_ring, misfit = (
            reg.blob_of_area, reg.ring, reg.blob_of_ring, reg.misfit)
        values = np.empty((len(neighbours), na + ring.size, 3), np.float32)
        # A neighbour has nothing to give where the picture lies outside it (it moved in
        # across the frame's edge).
        inside = np.empty((len(neighbours), na + ring.size), bool)
        for k, (nb, (mx, my, bias)) in enumerate(zip(neighbours, reg.maps, strict=True)):
            inside[k] = (mx >= 0) & (mx <= width - 1) & (my >= 0) & (my <= h - 1)
            # Bicubic on the blob: fine texture resampled bilinearly at a sub-pixel position
            # is visibly softened. The ring is only compared with.
            values[k, :na] = _sample(nb.frame, mx[:na], my[:na], cv2.INTER_CUBIC)
            values[k, na:] = _sample(nb.frame, mx[na:], my[na:])
            if not isinstance(bias, float):
                values[k] += bias[:, None]
        # A neighbour that fits the ring clearly worse than the best one is not used; one
        # that fits it closely is used on the whole blob.
        fits = misfit <= misfit.min(axis=0) * _MISFIT_RATIO + threshold * _MISFIT_SLACK
        well = fits & (misfit <= threshold * _WELL_REGISTERED)

        # The defects and their rims.
        on_defect = defects.flat[area] > 0
        on_solid = solid.flat[area] > 0
        here = luma.flat[area]
        agree = _disagreement(neighbours, area) <= threshold * _LOW_FRACTION
        usable = fits[:, blob_of_area] & inside[:, :na]
        primary = np.empty((len(neighbours), na), bool)
        clean = np.empty((len(neighbours), na), bool)
        for k, nb in enumerate(neighbours):
            # On the defect itself, a neighbour that agrees with the current pixel carries
            # the same dirt (it stayed in the gate) and must not be copied.
            outside = np.maximum(here - nb.hi.flat[area], nb.lo.flat[area] - here)
            clean[k] = usable[k] & (~on_defect | (outside > threshold * _LOW_FRACTION))
            primary[k] = clean[k] & ((nb.trust_at(area, width) == 2) | agree
                                     | well[k, blob_of_area])
        use = np.where(primary.any(axis=0)[None, :], primary, clean & on_solid[None, :])
        if len(neighbours) == 2:
            use &= ~self._foreign_dirt(values[:, :na], use, area, luma, ring, blob_of_area,
                                       blob_of_ring, reg.blobs, threshold)

        # Where no neighbour fits the picture around a blob even within the detection
        # threshold, that picture changed between the frames (a deforming or blurred
        # object the flow did not follow): the neighbours show other picture, the
        # detection itself is in doubt, and a fill from them would paint a wrong patch.
        # Such a blob is left as it is.
        unfit = misfit.min(axis=0) > threshold * _NO_FIT
        if unfit.any():
            use[:, unfit[blob_of_area]] = False
            on_solid &= ~unfit[blob_of_area]
        # The ring's stray dirt: outside every fitting neighbour, which agree there. Where
        # none fits the ring even roughly, the picture around the blob changes (an edge
        # about to be covered, say) and nothing there is taken for dirt.
        ring_values = values[:, na:]
        fit_ring = ((fits & (misfit <= threshold * _ROUGHLY_REGISTERED))[:, blob_of_ring]
                    & inside[:, na:])
        off = channel_max(np.abs(ring_values - frame.reshape(-1, 3)[ring][None]))
        nearest = np.where(fit_ring, off, np.inf).min(axis=0)
        top = np.where(fit_ring[..., None], ring_values, -np.inf).max(axis=0)
        bottom = np.where(fit_ring[..., None], ring_values, np.inf).min(axis=0)
        spread = channel_max(top - bottom)
        stray = (fit_ring.any(axis=0) & (nearest > threshold)
                 & (spread <= _AGREE * nearest))
        if all(nb.offset > 0 for nb in neighbours) or all(nb.offset < 0 for nb in neighbours):
            # At a shot's end the neighbours lie on one side and agree on whatever changes
            # after (or before) the current frame: their agreement is no evidence there.
            stray[:] = False
        if stray.any():
            grown = np.zeros(luma.shape, np.uint8)
            grown.flat[area] = 1
            r = max(1, round(_STRAY_REACH * scale))
            kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1))
            near = cv2.dilate(grown, kernel).flat[ring] > 0
            # A large blotch has a wide soft edge and parts the luma test missed (where
            # the picture under it was as bright): its whole ring is open.
            size = np.bincount(blob_of_area, minlength=reg.blobs)
            near |= size[blob_of_ring] > _LARGE_BLOTCH * scale * scale
            # Dirt that matches the picture's luma differs in colour only, and may reach
            # across the ring: that the luma test did not see it proves nothing there.
            luma_off = np.abs(ring_values @ LUMA_WEIGHTS - luma.flat[ring][None])
            colour_only = (np.where(fit_ring, luma_off, np.inf).min(axis=0)
                           <= threshold * _LOW_FRACTION)
            stray &= near | colour_only
        area = np.concatenate([area, ring[stray]])
        values = np.concatenate([values[:, :na], ring_values[:, stray]], axis=1)
        use = np.concatenate([use, fit_ring[:, stray]], axis=1)
        on_solid = np.concatenate([on_solid, np.ones(int(stray.sum()), bool)])

        count = use.sum(axis=0)
        ok = count > 0
        out = frame.copy()
        flat = out.reshape(-1, 3)
        if ok.any():
            v, u = values[:, ok], use[:, ok]
            if len(neighbours) <= 2:
                # Weighted by how well each neighbour fits the ring around the blob (inverse
                # square misfit, as inverse variances): a neighbour registered a little off
                # blurs fine texture into the fill less than in a plain mean.
                blob = np.concatenate([blob_of_area, blob_of_ring[stray]])[ok]
                misfit_here = misfit[:, blob] + np.float32(threshold * _FIT_FLOOR)
                weight = (u / (misfit_here * misfit_here)).astype(np.float32)
                fill = (v * weight[..., None]).sum(axis=0) / weight.sum(axis=0)[:, None]
            else:
                fill = np.nanmedian(np.where(u[..., None], v, np.nan), axis=0)
            flat[area[ok]] = fill
        hole_idx = area[~ok & on_solid]
        if hole_idx.size:
            hole = np.zeros(defects.shape, np.uint8)
            hole.flat[hole_idx] = 1
            self._inpaint(out, hole, index)
        return out, area[ok | on_solid]

    @staticmethod
    def _foreign_dirt(values: np.ndarray, use: np.ndarray, area: np.ndarray, luma: np.ndarray,
                      ring: np.ndarray, blob_of_area: np.ndarray, blob_of_ring: np.ndarray,
                      blobs: int, threshold: float) -> np.ndarray:
        """Where each of two neighbours carries dirt of its own into a blob: (2, area) bool.

        `values` (2, area, 3) are the neighbours' compensated colours on the blob pixels
        `area` (flat indices of the current frame's `luma`), `use` where each would be
        used. Where the two disagree by more than the threshold (levels), one shows
        something the other does not. When one lies beyond the range of the picture around
        the blob (its ring in the current frame) by the threshold and the other within
        half of it, the first holds a defect of its own: dust does not repeat on the next
        frame, and a dark speck must not replace a white one. Its soft rim, a pixel
        around, goes with it.
        """
        top, bottom = _blob_range(luma.flat[ring], blob_of_ring, blobs)
        v = values @ LUMA_WEIGHTS
        beyond = np.maximum(v - top[blob_of_area], bottom[blob_of_area] - v)
        both = use[0] & use[1]
        apart = both & (np.abs(v[0] - v[1]) > threshold)
        inside = beyond <= threshold * _LOW_FRACTION
        foreign = np.stack([apart & (beyond[0] > threshold) & inside[1],
                            apart & (beyond[1] > threshold) & inside[0]])
        if foreign.any():
            mask = np.zeros(luma.shape, np.uint8)
            for k in (0, 1):
                mask.flat[area] = foreign[k]
                near = cv2.dilate(mask, _RIM_KERNEL).flat[area] > 0
                foreign[k] |= near & both & ~foreign[1 - k]
        return foreign

    @staticmethod
    def _blobs(area: np.ndarray, shape: tuple[int, int], scale: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Group the flat indices `area` of a frame of `shape` into blobs, each with a ring
        of picture around it: (blob of each area pixel, ring pixels (flat indices), blob of
        each ring pixel, number of blobs)."""
        h, w = shape
        mask = np.zeros(shape, np.uint8)
        mask.flat[area] = 1
        r = max(2, round(_RING * scale))
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1))
        ring = _flat_nonzero(cv2.dilate(mask, kernel) - mask)
        # Labelled on a grid of f x f cells, as detections are: blobs a cell apart merge,
        # which does no harm, and labelling the full frame would cost more.
        f = max(1, w // _LABEL_WIDTH)
        gw = -(-w // f)
        cells = []
        for idx in (area, ring):
            ys, xs = np.divmod(idx, w)
            cells.append((ys // f) * gw + xs // f)
        grid = np.zeros((-(-h // f), gw), np.uint8)
        grid.flat[cells[0]] = 1
        grid.flat[cells[1]] = 1
        blobs, labels = cv2.connectedComponents(grid, connectivity=8, ltype=cv2.CV_32S)
        return labels.flat[cells[0]], ring, labels.flat[cells[1]], blobs

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
        # The neighbours are fetched here, on the evaluating thread: fetching one from
        # outside the window evaluates the previous stage, which waits for its lock, and
        # work handed to parallel_map must never wait for a stage lock.
        frames = {o: self._frame(window, o) for o in offsets}
        self._flows_ready(window, cur, frames)
        neighbours = parallel_map(lambda o: self._compensate(window, cur, o, frames[o]),
                                  offsets)
        threshold = self._threshold(cur.luma, neighbours)
        one_side = all(o > 0 for o in offsets) or all(o < 0 for o in offsets)
        motion = self._picture_motion(window, cur, offsets) if one_side else None
        found, tentative, candidates, disputed = self._detect(
            cur.luma, neighbours, threshold, window.scale, motion,
            picture=lambda: motion or self._picture_motion(window, cur, offsets))
        if one_side and found.size:
            assert motion is not None
            found = self._clear_of_edges(found, cur.luma, threshold, window.scale, motion)
        if tentative.size:
            assert motion is not None
            found = np.concatenate([found, self._confirmed(
                tentative, neighbours, cur.luma, threshold, window.scale, motion)])
        if not one_side and disputed.size:
            motion = self._picture_motion(window, cur, offsets)
            moved = self._detect_along_motion(
                window, cur.luma, neighbours, threshold, window.scale, motion, disputed)
            if moved.size:
                found = np.union1d(found, self._confirmed(
                    moved, neighbours, cur.luma, threshold, window.scale, motion,
                    context=candidates, stand_out=False))
        if found.size == 0:
            return nothing
        defects = np.zeros((h, w), np.uint8)
        defects.flat[found] = 1
        solid, area = self._grown(defects, window.scale)
        motion = motion or self._picture_motion(window, cur, offsets)
        out, filled = self._fill(frame, defects, solid, _flat_nonzero(area), neighbours,
                                 cur.luma, threshold, window.index, window.scale, motion)
        mask = np.zeros((h, w), np.float32)
        mask.flat[filled] = 1.0
        return Result(out, mask)
