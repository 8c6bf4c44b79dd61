"""Grain and noise reduction: motion-compensated temporal filtering plus a light spatial pass.

Each neighbour within ±radius frames is warped onto the current frame with dense optical
flow, then averaged in with a per-pixel weight: high where the warped patch matches the
current one as well as grain alone allows, falling to zero where it differs by more (an
occlusion, a flow failure, fast motion), and zero where forward and backward flows disagree
or point outside the frame. So moving things are not ghosted or smeared: where no neighbour
can be trusted the pixel keeps only the spatial pass.

The spatial pass is a self-guided filter whose smoothing follows the grain that the
temporal average left behind (less where several neighbours were averaged in, more where
none could be), so detail is kept where the temporal filter already did the work.

`keep_grain` blends back a share of what was removed: restored film should still look like
film. The grain level is measured on every frame (from its differences with the
compensated neighbours), so `strength` 1 is right for light and heavy grain alike.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from engine.ops.base import Operator, Result, Window
from engine.ops.motion import FlowEstimator, luma8
from engine.ops.params import Params, param
from engine.runtime import parallel_map, row_bands

# Side (pixels) of the square patch compared between the current and a warped neighbour.
_PATCH = 5
# Forward-backward flow error (pixels) at which a neighbour's weight has fallen to ~1/e.
_FLOW_TRUST_PX = 1.0
# Flow is computed on a reduced frame: grain averages out and DIS runs much faster.
_FLOW_WIDTH = 640
# Below this grain level (levels 0-1) a frame is treated as clean.
_MIN_SIGMA = 0.002


@dataclass(frozen=True)
class DegrainParams(Params):
    strength: float = param(
        1.0, label="Strength", minimum=0.0, maximum=3.0, step=0.05,
        help="How much grain to remove: 1 suits the measured grain, above is stronger")
    radius: int = param(
        1, label="Temporal radius", unit="frames", minimum=1, maximum=3, step=1,
        help="Frames compared on each side of the current one (more is smoother, slower)")
    keep_grain: float = param(
        0.15, label="Keep grain", minimum=0.0, maximum=1.0, step=0.05,
        help="Share of the removed grain put back so the picture still looks like film")
    spatial: float = param(
        1.0, label="Spatial smoothing", minimum=0.0, maximum=3.0, step=0.05,
        help="Strength of the spatial pass on the grain the temporal pass leaves (0 = off)")


def _guided_coefficients(img: np.ndarray, eps: np.ndarray, size: tuple[int, int]
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Full-size coefficients (a, b), each (H, W, 3), of the self-guided filter (He et al.)
    of an (H, W, 3) image: the filtered image is a * img + b. They are computed at `size`
    (width, height) and upsampled (He & Sun's fast guided filter). `eps` (h, w) at `size`
    is the variance (levels²) below which local variation is smoothed away."""
    h, w = img.shape[:2]
    small = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    k = (3, 3)
    mean = cv2.boxFilter(small, -1, k, borderType=cv2.BORDER_REFLECT)
    mean_sq = cv2.boxFilter(small * small, -1, k, borderType=cv2.BORDER_REFLECT)
    var = np.maximum(mean_sq - mean * mean, 0.0)
    # eps spread over the three channels: numpy broadcasts a last axis of one slowly.
    a = var / (var + cv2.cvtColor(eps, cv2.COLOR_GRAY2RGB))
    b = mean - a * mean
    a = cv2.resize(cv2.boxFilter(a, -1, k, borderType=cv2.BORDER_REFLECT), (w, h),
                   interpolation=cv2.INTER_LINEAR)
    b = cv2.resize(cv2.boxFilter(b, -1, k, borderType=cv2.BORDER_REFLECT), (w, h),
                   interpolation=cv2.INTER_LINEAR)
    return a, b


class DegrainOperator(Operator):
    id = "degrain"
    label = "Degrain"
    description = (
        "Motion-compensated temporal grain reduction with a light spatial pass; keeps a "
        "share of the grain so the film still looks like film."
    )
    Params = DegrainParams
    local_repair = True

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        self._estimator = FlowEstimator(preset="fast", max_width=_FLOW_WIDTH)
        self._flows: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lumas: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._grid: tuple[np.ndarray, np.ndarray] | None = None
        self._grid_full: np.ndarray | None = None

    @property
    def temporal_radius(self) -> int:
        return self.params.radius

    # --- memoised per-frame work ---------------------------------------------------------

    def _memo_limit(self) -> int:
        # A sequential export needs every ordered pair within the window once: 4·radius
        # flows around the current frame, plus room for the next frame's.
        return 6 * self.params.radius + 2

    def _luma8(self, window: Window, pos: int) -> np.ndarray:
        frame = window.frames[pos]
        memo_key = (window.key, window.scale, frame.shape, window.indices[pos])
        found = self._lumas.get(memo_key)
        if found is None:
            found = luma8(frame)
            self._lumas[memo_key] = found
            while len(self._lumas) > 2 * self.params.radius + 2:
                self._lumas.popitem(last=False)
        return found

    @staticmethod
    def _flow_key(window: Window, src: int, dst: int) -> tuple:
        return (window.key, window.scale, window.frames[src].shape, window.indices[src],
                window.indices[dst])

    def _flows_ready(self, window: Window, pairs: list[tuple[int, int]]) -> None:
        """Compute, side by side, the flows between the window frames `pairs` (src, dst)
        that are not memoised yet (in an export, those to the frame just entering the
        window)."""
        todo = [(a, b) for a, b in pairs if self._flow_key(window, a, b) not in self._flows]
        lumas = {pos: self._luma8(window, pos) for pair in todo for pos in pair}
        flows = parallel_map(lambda t: self._estimator.flow(lumas[t[0]], lumas[t[1]]), todo)
        for (a, b), flow in zip(todo, flows, strict=True):
            self._flows[self._flow_key(window, a, b)] = flow
            while len(self._flows) > self._memo_limit():
                self._flows.popitem(last=False)

    def _flow(self, window: Window, src: int, dst: int) -> np.ndarray:
        """Flow (H, W, 2) px from window frame `src` to `dst`, each pair computed once."""
        self._flows_ready(window, [(src, dst)])
        memo_key = self._flow_key(window, src, dst)
        self._flows.move_to_end(memo_key)
        return self._flows[memo_key]

    def _pixel_grid(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        if self._grid is None or self._grid[0].shape != (h, w):
            xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            self._grid = (xs, ys)
        return self._grid

    # --- the filter ----------------------------------------------------------------------

    def _small(self, window: Window, pos: int, size: tuple[int, int]) -> np.ndarray:
        """Half-resolution luma of window frame `pos` (weights are computed at this size)."""
        frame = window.frames[pos]
        memo_key = ("small", window.key, window.scale, frame.shape, window.indices[pos])
        found = self._lumas.get(memo_key)
        if found is None:
            found = cv2.cvtColor(cv2.resize(frame, size, interpolation=cv2.INTER_AREA),
                                 cv2.COLOR_RGB2GRAY)
            self._lumas[memo_key] = found
            while len(self._lumas) > 4 * self.params.radius + 4:
                self._lumas.popitem(last=False)
        return found

    def process(self, window: Window) -> Result:
        p = self.params
        cur = window.current
        h, w = cur.shape[:2]
        c = window.center
        # Weights, trust and the grain level are smooth or statistical: half resolution is
        # enough for them and four times cheaper. Only the warps and the sums are full size.
        f = 2 if min(w, h) >= 64 else 1
        size = (w // f, h // f)
        ycur_s = self._small(window, c, size)
        xs_s, ys_s = self._pixel_grid(size[1], size[0])

        neighbours: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        around = [pos for d in range(1, p.radius + 1) for pos in (c - d, c + d)
                  if 0 <= pos < len(window.frames)]
        self._flows_ready(window, [pair for pos in around for pair in ((c, pos), (pos, c))])
        for pos in around:
            fwd = self._flow(window, c, pos)
            bwd = self._flow(window, pos, c)
            fwd_s = cv2.resize(fwd, size, interpolation=cv2.INTER_LINEAR) / np.float32(f)
            bwd_s = cv2.resize(bwd, size, interpolation=cv2.INTER_LINEAR) / np.float32(f)
            mx = xs_s + fwd_s[..., 0]
            my = ys_s + fwd_s[..., 1]
            ywarp = cv2.remap(self._small(window, pos, size), mx, my, cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
            trust = self._flow_trust(fwd_s, bwd_s, mx, my, size[0], size[1], f)
            neighbours.append((pos, fwd, ywarp - ycur_s, trust))

        sigma = self._grain_level(ycur_s, [(dy, trust) for _, _, dy, trust in neighbours])
        if sigma < _MIN_SIGMA / f or p.strength == 0.0:
            return Result(cur, np.zeros((h, w), np.float32))
        s = np.float32(max(p.strength, 1e-3))

        # Noise alone makes the mean squared luma difference of two frames 2σ²; only the
        # excess over that is structure that differs, and it must switch the weight off.
        norm = np.float32(1.0 / (2.0 * (s * sigma) ** 2))
        patch = max(3, _PATCH // f | 1)
        wsum_s = np.ones(size[::-1], np.float32)
        w2sum_s = np.ones(size[::-1], np.float32)
        weighted: list[tuple[int, np.ndarray, np.ndarray]] = []
        for pos, fwd, dy, trust in neighbours:
            ssd = cv2.boxFilter(dy * dy, -1, (patch, patch), borderType=cv2.BORDER_REFLECT)
            excess = np.maximum(ssd * norm - 1.0, 0.0)
            weight_s = np.exp(-1.5 * excess) * trust
            wsum_s += weight_s
            w2sum_s += weight_s * weight_s
            weighted.append((pos, fwd, cv2.resize(weight_s, (w, h),
                                                   interpolation=cv2.INTER_LINEAR)))
        grid = self._full_grid(h, w)
        temporal = np.empty_like(cur)

        # The full-size, per-pixel work runs on bands of rows side by side (numpy's
        # arithmetic uses one core); each pixel's result is the same as in one piece.
        # OpenCV's arithmetic on a weight spread over three channels is 3-4 times faster
        # than numpy's broadcasting of it, with the same roundings.
        def average(rows: slice) -> None:
            acc = cur[rows].copy()
            wsum = np.ones(acc.shape[:2], np.float32)
            for pos, fwd, weight in weighted:
                warped = cv2.remap(window.frames[pos], grid[rows] + fwd[rows], None,
                                   cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                cv2.multiply(warped, cv2.cvtColor(weight[rows], cv2.COLOR_GRAY2RGB), dst=warped)
                cv2.add(acc, warped, dst=acc)
                wsum += weight[rows]
            cv2.divide(acc, cv2.cvtColor(wsum, cv2.COLOR_GRAY2RGB), dst=temporal[rows])

        bands = row_bands(h)
        parallel_map(average, bands)
        coefficients = None
        if p.spatial > 0:
            # Grain variance left after a weighted average of independent samples, at the
            # half resolution where the guided filter's coefficients are computed.
            residual_var = (sigma * s) ** 2 * w2sum_s / (wsum_s * wsum_s)
            eps = np.float32(p.spatial) ** 2 * residual_var
            coefficients = _guided_coefficients(temporal, eps, size)
        out = np.empty_like(cur)
        mask = np.empty((h, w), np.float32)
        keep = np.float32(p.keep_grain)
        mask_full = np.float32(2.0 * sigma * f + 1e-6)

        def finish(rows: slice) -> None:
            # In place in the output band: a * temporal + b, then the grain kept back.
            smooth, here = out[rows], cur[rows]
            if coefficients is not None:
                a, b = coefficients
                np.multiply(a[rows], temporal[rows], out=smooth)
                smooth += b[rows]
            else:
                smooth[...] = temporal[rows]
            if p.keep_grain > 0:
                kept = here - smooth
                kept *= keep
                smooth += kept
            change = np.abs(cv2.cvtColor(smooth - here, cv2.COLOR_RGB2GRAY))
            mask[rows] = np.clip(change / mask_full, 0.0, 1.0)

        parallel_map(finish, bands)
        return Result(out, mask)

    def _full_grid(self, h: int, w: int) -> np.ndarray:
        """(h, w, 2) float32 pixel coordinates (x, y): plus a flow, a remap's map."""
        if self._grid_full is None or self._grid_full.shape[:2] != (h, w):
            xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            self._grid_full = np.dstack([xs, ys])
        return self._grid_full

    @staticmethod
    def _flow_trust(fwd: np.ndarray, bwd: np.ndarray, mx: np.ndarray, my: np.ndarray,
                    w: int, h: int, f: int) -> np.ndarray:
        """0-1 trust per pixel: forward-backward consistency (flows in pixels of this
        size, `f` times smaller than the frame's), and inside the frame."""
        back = cv2.remap(bwd, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        ex = fwd[..., 0] + back[..., 0]
        ey = fwd[..., 1] + back[..., 1]
        err2 = (ex * ex + ey * ey) * np.float32(f * f)
        trust = np.exp(err2 * np.float32(-1.0 / _FLOW_TRUST_PX**2))
        inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
        return (trust * inside).astype(np.float32)

    @staticmethod
    def _grain_level(luma: np.ndarray, diffs: list[tuple[np.ndarray, np.ndarray]]) -> float:
        """Grain std (levels 0-1) of `luma` (the half-resolution luma of this frame).

        With a neighbour: from the luma difference with the compensated neighbour where the
        flow is trusted (grain is the only thing that differs there; two frames' grain adds,
        so the difference has twice the variance). Without one: from the finest spatial
        detail, which overestimates on textured pictures, so it is reduced.
        """
        if diffs:
            dy, trust = max(diffs, key=lambda t: float(t[1][::16, ::16].mean()))
            ok = trust[::2, ::2] > 0.5
            if ok.sum() > 100:
                # Median of |x| is 0.6745σ for Gaussian x; divide by √2 for one frame.
                return float(np.median(np.abs(dy[::2, ::2][ok])) / (0.6745 * np.sqrt(2.0)))
        sub = luma
        lap = sub[1:-1, 1:-1] * 4 - sub[:-2, 1:-1] - sub[2:, 1:-1] - sub[1:-1, :-2] - sub[1:-1, 2:]
        return float(np.median(np.abs(lap)) / (0.6745 * np.sqrt(20.0))) * 0.7
