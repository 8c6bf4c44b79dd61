"""Stabilise: remove gate weave and jitter while keeping the camera's own motion.

How it works, and why:

- For each pair of consecutive frames the camera's motion (translation, rotation, scale: a
  similarity) is estimated on the small `Window.analyse` luma images, in two steps. First a
  vote: the picture is cut into a grid of blocks, each block's shift is measured by phase
  correlation, and the shift most blocks agree on (the outer ring counting double) is the
  background's; a large object moving through the middle (a passing bus) is outvoted
  instead of dragging a global estimate. Then a precise fit: the textured pixels of the
  agreeing blocks, the same number from each, are aligned by robust Gauss-Newton (Tukey
  weights; blocks that still disagree are dropped), which gives the rotation and a few
  hundredths of a pixel of accuracy under grain and leftover flicker. A pair is "unknown"
  when too few blocks agree, the fit slides away from the vote, or the aligned pixels do
  not correlate; the path is not extended across it, and a frame with no trusted path is
  left as it is (never made worse). Pair motions are memoised, so an export estimates each
  once; the pipeline keeps no full-size neighbours for this stage (`temporal_radius` 0).
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

from dataclasses import dataclass

import cv2
import numpy as np

from engine.ops.base import Operator, Result, Window
from engine.ops.color import LUMA_WEIGHTS, analysis_frame, analysis_span
from engine.ops.deflicker import tricube
from engine.ops.memo import Memo, measure_pairs
from engine.ops.params import Params, param
from engine.ops.warp import BORDERS, about_centre, warp_frame

# The picture is cut into a grid of blocks about this size (analysis px, at most _GRID
# columns and rows), and each block's shift is measured on its own: every part of the
# picture votes, so a large moving object (a passing vehicle) is outvoted by the background
# around it instead of dragging a global estimate. Smaller blocks hold too little texture
# for a clear phase-correlation peak.
_BLOCK_PX = 45
_GRID = (10, 6)
# Blocks whose phase-correlation peak is weaker than this (0-1) have too little texture
# (sky, a flat wall) or changed too much (an object moving through) to vote.
_MIN_RESPONSE = 0.1
# Blocks agreeing with a candidate shift to within this (analysis px) support it: weave is
# a rigid move, so background blocks differ only by the small rotation's share.
_AGREE_PX = 1.0
# Blocks on the picture's outer ring count this many times in the vote: the subject of a
# shot, and what moves through it, is mostly framed in the middle, the scenery around it.
_RING_WEIGHT = 2.0
# A motion is trusted only when this share of the voting blocks, and at least _MIN_BLOCKS,
# support it; otherwise the pair is "unknown" and the path is not extended across it.
_MIN_SHARE = 0.35
_MIN_BLOCKS = 6
# Grain is per frame and would add noise to every block's peak; blurring by this sigma
# (analysis px) keeps the picture's own texture.
_BLUR = 1.0
# Precise alignment: at most this many pixels, this many Gauss-Newton steps.
_MAX_PIXELS = 16000
_ALIGN_ITERATIONS = 8
# Rounds of fitting; after each, blocks whose mean residual exceeds this many times the
# median block's are dropped.
_ALIGN_ROUNDS = 3
_BLOCK_OUTLIER = 1.3
# Pair motions kept per operator (4x3 floats each): a long shot's worth.
_PAIR_MEMO = 20_000
# The precise alignment may move this far (analysis px) from the blocks' vote: windowed
# phase correlation underestimates shifts of a few pixels, but another object's motion
# lies much further away.
_SLIDE_PX = 2.0
# Tukey biweight constant (in robust residual sigmas) of the precise alignment.
_TUKEY = 4.685
# Correlation (0-1) the aligned textured pixels of two frames must reach for the motion to
# be trusted.
_MIN_CORRELATION = 0.5


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


def _grid(shape: tuple[int, int]) -> tuple[int, int]:
    """(columns, rows) of the block grid for an analysis image of `shape` (h, w)."""
    h, w = shape
    return (int(np.clip(w // _BLOCK_PX, 2, _GRID[0])), int(np.clip(h // _BLOCK_PX, 2, _GRID[1])))


def _block_shifts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(blocks, 6) rows [centre x, centre y, shift x, shift y, response, vote weight] of
    each grid block of luma `a` found in `b` by phase correlation (analysis pixels)."""
    h, w = a.shape
    cols, rows = _grid(a.shape)
    bw, bh = w // cols, h // rows
    hann = cv2.createHanningWindow((bw, bh), cv2.CV_32F)
    out = np.empty((cols * rows, 6))
    for r in range(rows):
        for c in range(cols):
            y0, x0 = r * bh + (h - rows * bh) // 2, c * bw + (w - cols * bw) // 2
            # Copies: OpenCV 5's phaseCorrelate writes into its inputs.
            pa = a[y0:y0 + bh, x0:x0 + bw].copy()
            pb = b[y0:y0 + bh, x0:x0 + bw].copy()
            (dx, dy), resp = cv2.phaseCorrelate(pa, pb, hann)
            ring = r in (0, rows - 1) or c in (0, cols - 1)
            out[r * cols + c] = (x0 + (bw - 1) / 2.0, y0 + (bh - 1) / 2.0, dx, dy, resp,
                                 _RING_WEIGHT if ring else 1.0)
    return out


def estimate_motion(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """2x3 similarity taking luma `a`'s pixel coordinates to `b`'s (float32 levels, analysis
    frames), or None when no motion is shared by enough of the picture.

    The background is taken to be the shift most blocks agree on (those on the outer ring
    counting double); a similarity (so the
    weave's small rotation too) is then fitted to those blocks' centres and shifts.
    """
    a = cv2.GaussianBlur(a, (0, 0), _BLUR)
    b = cv2.GaussianBlur(b, (0, 0), _BLUR)
    blocks = _block_shifts(a, b)
    voting = blocks[blocks[:, 4] >= _MIN_RESPONSE]
    if len(voting) < _MIN_BLOCKS:
        return None
    shifts = voting[:, 2:4]
    agree = np.abs(shifts[:, None, :] - shifts[None, :, :]).max(axis=2) <= _AGREE_PX
    # Most supporters; among equals, the strongest peaks.
    votes = voting[:, 5]
    score = agree @ votes + agree @ voting[:, 4] / (len(voting) + 1.0)
    members = agree[int(np.argmax(score))]
    if members.sum() < _MIN_BLOCKS or votes[members].sum() < _MIN_SHARE * votes.sum():
        return None
    # Block peaks are coarse (phase correlation's sub-pixel peak leans towards whole
    # pixels): the supporting blocks' pixels are aligned precisely, starting from the vote.
    cols, rows = _grid(a.shape)
    bw, bh = a.shape[1] // cols, a.shape[0] // rows
    rects = [(int(round(cx - (bw - 1) / 2.0)), int(round(cy - (bh - 1) / 2.0)), bw, bh)
             for cx, cy in voting[members, :2]]
    vote = np.median(shifts[members], axis=0)
    m = _align(a, b, rects, vote)
    if m is None:
        return None
    # An alignment that slid away from the vote has locked onto something else.
    h, w = a.shape
    centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    if np.abs(m[:, :2] @ centre + m[:, 2] - centre - vote).max() > _SLIDE_PX:
        return None
    return m


def _align(a: np.ndarray, b: np.ndarray, rects: list[tuple[int, int, int, int]],
           shift: np.ndarray) -> np.ndarray | None:
    """2x3 similarity taking `a`'s pixel coordinates to `b`'s, fitted by robust Gauss-Newton
    over the best-textured pixels of each block `rects` (x, y, w, h), from the translation
    `shift` (analysis px).

    Every block contributes the same number of pixels, so one block holding a sharp moving
    object cannot outweigh the softer background; Tukey weights drop single pixels that
    disagree (dust, a scratch), and blocks that still disagree as a whole after the first
    fit (part of a moving object that voted with the background) are dropped for the
    second.
    """
    h, w = a.shape
    gx = cv2.Sobel(a, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
    gy = cv2.Sobel(a, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
    energy = gx * gx + gy * gy
    per_block = max(16, _MAX_PIXELS // max(1, len(rects)))
    picks_y, picks_x, labels = [], [], []
    for k, (x0, y0, rw, rh) in enumerate(rects):
        block = energy[y0:y0 + rh, x0:x0 + rw].ravel()
        top = np.argpartition(block, -per_block)[-per_block:] if block.size > per_block \
            else np.arange(block.size)
        picks_y.append(y0 + top // rw)
        picks_x.append(x0 + top % rw)
        labels.append(np.full(len(top), k))
    ys, xs, lab = np.concatenate(picks_y), np.concatenate(picks_x), np.concatenate(labels)
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    px, py = (xs - cx).astype(np.float64), (ys - cy).astype(np.float64)
    ga, gb = gx[ys, xs].astype(np.float64), gy[ys, xs].astype(np.float64)
    base = a[ys, xs].astype(np.float64)
    # Jacobian of the residual b(x') - (1 + g) a(x) - o for similarity parameters (a, b,
    # tx, ty) about the centre, x' = (1 + a) x - b y + tx, y' = b x + (1 + a) y + ty, and a
    # level change (g, o): flicker left between the frames must not read as motion.
    jac = np.stack([ga * px + gb * py, gb * px - ga * py, ga, gb, -base, -np.ones_like(base)],
                   axis=1)
    params = np.array([0.0, 0.0, float(shift[0]), float(shift[1]), 0.0, 0.0])
    use = np.ones(len(xs), bool)
    good_blocks = np.ones(len(rects), bool)
    resid = np.zeros(len(xs))
    for rnd in range(_ALIGN_ROUNDS):
        for _ in range(_ALIGN_ITERATIONS):
            s, r = 1.0 + params[0], params[1]
            mx = (s * px - r * py + params[2] + cx).astype(np.float32).reshape(-1, 1)
            my = (r * px + s * py + params[3] + cy).astype(np.float32).reshape(-1, 1)
            sampled = cv2.remap(b, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            resid = sampled[:, 0].astype(np.float64) - (1.0 + params[4]) * base - params[5]
            scale = _TUKEY * 1.4826 * float(np.median(np.abs(resid[use]))) + 1e-6
            weight = np.clip(1.0 - (resid / scale) ** 2, 0.0, 1.0) ** 2 * use
            wj = jac * weight[:, None]
            try:
                step = -np.linalg.solve(jac.T @ wj, wj.T @ resid)
            except np.linalg.LinAlgError:
                return None
            params += step
            if np.abs(step[2:4]).max() < 1e-3:
                break
        if rnd < _ALIGN_ROUNDS - 1:
            # Blocks whose typical residual is far above the others' moved differently.
            err = np.bincount(lab, np.abs(resid), len(rects)) / np.maximum(
                np.bincount(lab, minlength=len(rects)), 1)
            good = (err <= _BLOCK_OUTLIER * np.median(err[good_blocks])) & good_blocks
            if (good == good_blocks).all() or good.sum() < _MIN_BLOCKS:
                break
            good_blocks = good
            use = good[lab]
    # The aligned pictures must actually look alike: unrelated frames (a flash, pure noise)
    # still give some "alignment", but their pixels do not correlate.
    # A blank frame (a white flash, black leader) has no variance: no correlation at all.
    kept = use & (weight > 0)
    if kept.sum() < 100 or min(np.std(sampled[kept, 0]), np.std(base[kept])) < 1e-6:
        return None
    if not np.corrcoef(sampled[kept, 0], base[kept])[0, 1] >= _MIN_CORRELATION:
        return None
    s, r = 1.0 + params[0], params[1]
    return np.array([[s, -r, params[2] + cx - s * cx + r * cy],
                     [r, s, params[3] + cy - r * cx - s * cy]])


def _pair_motion(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """3x3 motion mapping analysis luma `a`'s centred coordinates (analysis pixels) to the
    next frame's, `b`, with row 3 holding the analysis width; a 0x0 array when the motion
    could not be trusted."""
    m = estimate_motion(a, b)
    if m is None:
        return np.zeros((0, 0))
    # About the analysis centre rather than the corner: the same matrix then holds at any
    # frame size once the translation is rescaled.
    out = np.eye(3)
    out[:2, :2] = m[:, :2]
    h, w = a.shape
    centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    out[:2, 2] = m[:, :2] @ centre + m[:, 2] - centre
    return np.vstack([out, [[float(w), 0.0, 0.0]]])  # row 3: analysis width


class StabilizeOperator(Operator):
    id = "stabilize"
    label = "Stabilise"
    description = ("Removes gate weave and jitter (shift, small rotation and scale) while "
                   "keeping the camera's own pans and tilts.")
    Params = StabilizeParams
    MEASURES = {"moved_px": ("weave removed: picture moved", "px")}

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        self._grays: Memo[np.ndarray] = Memo(2 * self.params.smoothing + 8)
        # Pair motions (a 3x3 matrix each): a whole shot's are kept, so a shot prepared in
        # the background serves any later seek. None (unknown) is stored as a 0x0 array so
        # the memo keeps it.
        self._pairs: Memo[np.ndarray] = Memo(_PAIR_MEMO)

    @property
    def analysis_radius(self) -> int:
        return self.params.smoothing

    def _gray(self, window: Window, index: int) -> np.ndarray:
        """Analysis luma of frame `index` (float32, levels 0-1)."""
        def compute() -> np.ndarray:
            return np.ascontiguousarray(analysis_frame(window, index) @ LUMA_WEIGHTS,
                                        dtype=np.float32)

        return self._grays.get_or_compute((window.analysis_memo_key, index), compute)

    @staticmethod
    def _pair_key(window: Window, index: int) -> tuple:
        return (window.analysis_memo_key, index)

    def _analysis_pair(self, window: Window, index: int) -> np.ndarray:
        """3x3 motion mapping frame `index`'s centred coordinates in analysis pixels to
        frame `index + 1`'s (memoised, the same at every scale), or a 0x0 array when it could
        not be trusted."""
        return self._pairs.get_or_compute(
            self._pair_key(window, index),
            lambda: _pair_motion(self._gray(window, index), self._gray(window, index + 1)))

    def _pair(self, window: Window, index: int) -> np.ndarray | None:
        """3x3 motion mapping frame `index`'s centred pixel coordinates (pixels of the
        current frame) to frame `index + 1`'s, or None when it could not be trusted."""
        hit = self._analysis_pair(window, index)
        if hit.size == 0:
            return None
        factor = hit[3, 0] / window.current.shape[1]  # analysis pixels per frame pixel
        out = hit[:3].copy()
        out[:2, 2] /= factor
        return out

    def prepare(self, window: Window) -> None:
        """Measure the pair motion (index, index + 1), the shot's weave analysis for one
        frame."""
        if window.index < window.shot[1]:
            self._analysis_pair(window, window.index)

    def correction(self, window: Window) -> np.ndarray:
        """3x3 matrix (centred coordinates) taking output pixels to where they are sampled in
        the current frame (before zoom and the cap)."""
        lo, hi = analysis_span(window, self.params.smoothing)
        c = window.index
        measure_pairs(self._pairs, lambda i: self._pair_key(window, i),
                      lambda i: self._gray(window, i), _pair_motion, lo, hi)
        # paths[j]: current frame's coordinates -> frame j's, for the frames reachable
        # through trusted pair motions only; an unknown pair ends the path on that side.
        paths = {c: np.eye(3)}
        for j in range(c + 1, hi + 1):
            m = self._pair(window, j - 1)
            if m is None:
                break
            paths[j] = m @ paths[j - 1]
        for j in range(c - 1, lo - 1, -1):
            m = self._pair(window, j)
            if m is None:
                break
            paths[j] = np.linalg.inv(m) @ paths[j + 1]
        if len(paths) < 3:
            # Unsure about the motion around this frame: leave it as it is.
            return np.eye(3)
        times = np.array(sorted(paths))
        series = np.stack([_params(paths[int(j)]) for j in times])
        smooth = smooth_path(series, times - c, reach=self.params.smoothing + 1.0)
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
        m = about_centre(corr @ zoom, w, h)[:2].astype(np.float64)
        moved = {"moved_px": shift / window.scale}
        if np.allclose(m, [[1, 0, 0], [0, 1, 0]], atol=1e-6):
            return Result(frame, np.zeros((h, w), np.float32), moved)
        out, inside = warp_frame(frame, m, p.border)
        # Mask: uncovered borders (filled, not picture) at 1; inside, how hard the frame was
        # pushed relative to the cap.
        pushed = np.float32(min(1.0, shift / max(limit, 1e-6)))
        mask = np.where(inside, pushed, np.float32(1.0))
        return Result(out, mask.astype(np.float32, copy=False), moved)
