"""Vertical line scratch removal: detect, confirm over time, fill from the sides and from
motion-compensated neighbours.

A line scratch is a narrow (1-5 px) vertical line, brighter or darker than the picture on
both of its sides, that runs over much of the frame height and stays at about the same
column from frame to frame (it drifts sideways slowly as the film runs).

Detection works on a *band profile*: the luma averaged over horizontal bands (about 24 rows
each), so grain and texture average out while a vertical line keeps its full contrast. In
each band a symmetric line response (centre minus the brighter/darker of its two sides)
scores every column; a step edge of the picture scores nothing because one of its sides is
not darker/brighter. A column is a candidate where the response stands out of the band's
own texture level over a run of bands covering `min_length` of the frame height. A
candidate is kept when a candidate of the same polarity lies near the same column in a
neighbouring frame (scratches persist; a picture detail rarely looks like one for long).

Repair: across the scratch width each row is interpolated between the clean columns either
side (keeps that row's texture and level); where the picture moves relative to the scratch,
the neighbours' content under it is known, so motion-compensated neighbour pixels replace
the interpolation where they agree with the current frame on the clean columns beside the
scratch and are not themselves on a scratch.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from engine.ops.base import Operator, Result, Window
from engine.ops.motion import FlowEstimator, luma8
from engine.ops.params import Params, param

# Rows per detection band at full scale (pixels): long enough to average grain away, short
# enough that a slightly slanted scratch stays within a column or two inside one band.
_BAND_ROWS = 24
# Rows over which the neighbours' agreement beside the scratch is averaged (pixels).
_CHECK_ROWS = 9
# Per-frame analyses and flows kept on the instance (a sequential export needs 3 and 4).
_MEMO_SIZE = 8


@dataclass(frozen=True)
class ScratchParams(Params):
    sensitivity: float = param(
        0.5, label="Sensitivity", minimum=0.0, maximum=1.0, step=0.05,
        help="Higher finds fainter scratches but may take picture lines for scratches")
    max_width: int = param(
        5, label="Max width", unit="px", minimum=1, maximum=15, step=1,
        help="Widest scratch to look for, in source pixels")
    polarity: str = param(
        "both", label="Scratch type", choices=("both", "bright", "dark"),
        help="Bright scratches (on the negative) or dark ones (on the print)")
    min_length: float = param(
        0.7, label="Min length", minimum=0.05, maximum=1.0, step=0.05,
        help="Shortest scratch, as a share of the frame height (0-1)")


@dataclass(frozen=True)
class _Candidate:
    """A vertical line found in one frame.

    x: column (pixels); polarity: +1 bright, -1 dark; strength: response over threshold
    (1 = at threshold); bands: first and last band (inclusive) of its run; spans: per band
    (first, last) column of the damaged pixels, or (-1, -1) where the band is not covered.
    """

    x: int
    polarity: int
    strength: float
    bands: tuple[int, int]
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class _Source:
    """A neighbour (window position `pos`) and how to reach it from the current frame:
    `flow` to the nearer neighbour, then `onward` from there (None: `flow` reaches it)."""

    pos: int
    flow: np.ndarray
    onward: np.ndarray | None


@dataclass(frozen=True)
class _Analysis:
    candidates: tuple[_Candidate, ...]
    band_rows: int
    mask: np.ndarray  # float32 (H, W): 1 on every candidate's span (confirmed or not)


def _box_means(cs: np.ndarray, pad: int, width: int, lo: int, hi: int) -> np.ndarray:
    """Mean of the padded profile over columns x+lo..x+hi for every x (cs: cumulative sum)."""
    return (cs[:, pad + hi + 1:pad + hi + 1 + width] - cs[:, pad + lo:pad + lo + width]) / (
        hi - lo + 1
    )


def _longest_runs(active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column of a bool (B, W) array, the longest run of True along B and its last row."""
    best = np.zeros(active.shape[1], np.int32)
    end = np.zeros(active.shape[1], np.int32)
    run = np.zeros(active.shape[1], np.int32)
    for b in range(active.shape[0]):
        run = np.where(active[b], run + 1, 0)
        longer = run > best
        best = np.where(longer, run, best)
        end = np.where(longer, b, end)
    return best, end


class ScratchOperator(Operator):
    id = "scratch"
    label = "Line scratches"
    description = (
        "Finds vertical line scratches that persist over frames and fills them from the "
        "sides and from motion-compensated neighbours."
    )
    Params = ScratchParams

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        self._analyses: OrderedDict[tuple, _Analysis] = OrderedDict()
        self._flows: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lumas: OrderedDict[tuple, np.ndarray] = OrderedDict()
        # Flow only steers where neighbours' pixels are sampled; ultrafast on a reduced
        # frame is plenty for that and keeps the operator within its time budget.
        self._estimator = FlowEstimator(preset="ultrafast", max_width=640)

    @property
    def temporal_radius(self) -> int:
        return 2

    # --- detection ----------------------------------------------------------------------

    def _analyse(self, window: Window, pos: int) -> _Analysis:
        frame = window.frames[pos]
        # The detection depends on the parameters (keyframed ones change per frame).
        memo_key = (window.key, window.scale, frame.shape, window.indices[pos], self.params)
        found = self._analyses.get(memo_key)
        if found is not None:
            self._analyses.move_to_end(memo_key)
            return found
        found = self._detect(frame, window.scale)
        self._analyses[memo_key] = found
        while len(self._analyses) > _MEMO_SIZE:
            self._analyses.popitem(last=False)
        return found

    def _detect(self, frame: np.ndarray, scale: float) -> _Analysis:
        p = self.params
        h, w = frame.shape[:2]
        hb = int(np.clip(round(_BAND_ROWS * scale), 4, max(4, h // 8)))
        nb = max(1, h // hb)
        luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        prof = luma[: nb * hb].reshape(nb, hb, w).mean(axis=1)
        mask = np.zeros((h, w), np.float32)
        hmax = max(0, (max(1, round(p.max_width * scale)) - 1) // 2)
        pad = hmax + 5
        if w <= 2 * pad + 2:
            return _Analysis((), hb, mask)
        padded = np.pad(prof, ((0, 0), (pad, pad)), mode="edge")
        cs = np.concatenate([np.zeros((nb, 1), np.float64), np.cumsum(padded, axis=1)], axis=1)

        # Symmetric line response for each half-width: the centre must differ from *both*
        # sides in the same direction, so picture step edges score nothing.
        polarities = {"both": (1, -1), "bright": (1,), "dark": (-1,)}[p.polarity]
        score = np.full((len(polarities), nb, w), -np.inf)
        best_h = np.zeros((len(polarities), nb, w), np.int8)
        for hw in range(hmax + 1):
            centre = _box_means(cs, pad, w, -hw, hw)
            left = _box_means(cs, pad, w, -hw - 3, -hw - 2)
            right = _box_means(cs, pad, w, hw + 2, hw + 3)
            for k, pol in enumerate(polarities):
                if pol > 0:
                    resp = centre - np.maximum(left, right)
                else:
                    resp = np.minimum(left, right) - centre
                better = resp > score[k]
                score[k] = np.where(better, resp, score[k])
                best_h[k] = np.where(better, hw, best_h[k])
        # Texture level of each band: robust spread of the narrowest second difference.
        c0 = _box_means(cs, pad, w, 0, 0)
        sides = 0.5 * (_box_means(cs, pad, w, -3, -2) + _box_means(cs, pad, w, 2, 3))
        # (every third column is plenty for a median and three times faster)
        spread = np.median(np.abs(c0 - sides)[:, ::3], axis=1) / 0.6745
        factor = 9.0 - 6.0 * p.sensitivity
        thr = np.maximum(factor * spread, 0.004)[:, None]
        ratio = score / thr
        ratio[:, :, :pad] = 0.0
        ratio[:, :, w - pad:] = 0.0

        min_bands = max(1, int(np.ceil(p.min_length * nb - 1e-6)))
        candidates: list[_Candidate] = []
        for k, pol in enumerate(polarities):
            weak = ratio[k] > 0.6
            # A line a fraction of a pixel off-centre peaks in a neighbouring column in
            # some bands; and a scratch fades here and there, so single-band gaps close.
            wide = weak.copy()
            wide[:, 1:] |= weak[:, :-1]
            wide[:, :-1] |= weak[:, 1:]
            if nb > 2:
                wide[1:-1] |= wide[:-2] & wide[2:]
            runs, ends = _longest_runs(wide)
            cols = np.flatnonzero(runs >= min_bands)
            if cols.size == 0:
                continue
            smooth = np.maximum(ratio[k], 0.0)
            smooth = np.maximum(smooth, np.maximum(np.roll(smooth, 1, 1), np.roll(smooth, -1, 1)))
            groups = np.split(cols, np.flatnonzero(np.diff(cols) > 1) + 1)
            for group in groups:
                strengths = [
                    float(smooth[ends[x] - runs[x] + 1:ends[x] + 1, x].mean()) for x in group
                ]
                best = int(np.argmax(strengths))
                x = int(group[best])
                b1 = int(ends[x])
                b0 = b1 - int(runs[x]) + 1
                spans = self._spans(padded, pad, ratio[k], best_h[k], x, pol, b0, b1, w)
                cand = _Candidate(x, pol, strengths[best], (b0, b1), spans)
                candidates.append(cand)
                self._paint(mask, cand, hb)
        return _Analysis(tuple(candidates), hb, mask)

    @staticmethod
    def _spans(padded: np.ndarray, pad: int, ratio: np.ndarray, best_h: np.ndarray, x: int,
               pol: int, b0: int, b1: int, w: int) -> tuple[tuple[int, int], ...]:
        """Per band, the columns the line visibly alters (its core plus soft edges)."""
        bands = np.arange(b0, b1 + 1)
        ar = np.arange(bands.size)
        # The line's own column in each band (a slanted or subpixel line shifts by one).
        xb = x - 1 + np.argmax(ratio[bands, x - 1:x + 2], axis=1)
        hw = best_h[bands, xb].astype(np.int64)
        rows = padded[bands]

        def at(offset: np.ndarray) -> np.ndarray:
            return rows[ar, pad + xb + offset]

        base = 0.25 * (at(-hw - 4) + at(-hw - 3) + at(hw + 3) + at(hw + 4))
        peak = np.maximum(pol * (at(np.zeros_like(hw)) - base), 1e-6)
        # The core and one column either side (a scratch's soft edges) are always taken;
        # one more column where it is still visibly altered.
        more_left = pol * (at(-hw - 2) - base) > 0.08 * peak
        more_right = pol * (at(hw + 2) - base) > 0.08 * peak
        a = np.maximum(xb - hw - 1 - more_left, 1)
        z = np.minimum(xb + hw + 1 + more_right, w - 2)
        return tuple((int(i), int(j)) for i, j in zip(a, z, strict=True))

    @staticmethod
    def _paint(mask: np.ndarray, cand: _Candidate, hb: int) -> None:
        h = mask.shape[0]
        for i, (a, z) in enumerate(cand.spans):
            r0, r1 = _band_rows(cand.bands[0] + i, cand.bands, hb, h)
            mask[r0:r1, a:z + 1] = 1.0

    # --- temporal confirmation and repair ----------------------------------------------

    def _confirmed(self, window: Window) -> tuple[_Analysis, list[_Candidate]]:
        current = self._analyse(window, window.center)
        others = [pos for pos in (window.center - 1, window.center + 1)
                  if 0 <= pos < len(window.frames)]
        near = 2 + max(1, round(self.params.max_width * window.scale))
        kept: list[_Candidate] = []
        for cand in current.candidates:
            if not others:
                # A one-frame shot offers nothing to confirm with; trust strong lines.
                if cand.strength >= 1.0:
                    kept.append(cand)
                continue
            support = 0.0
            for pos in others:
                for o in self._analyse(window, pos).candidates:
                    if o.polarity == cand.polarity and abs(o.x - cand.x) <= near:
                        support = max(support, o.strength)
            # Hysteresis: a faint line is kept when a neighbour shows it clearly.
            if (cand.strength >= 1.0 and support > 0) or support >= 1.0:
                kept.append(cand)
        return current, kept

    def _flow(self, window: Window, src: int, dst: int) -> np.ndarray:
        """Flow (H, W, 2) px from window frame `src` to window frame `dst`, memoised so a
        sequential export computes each pair once."""
        frames = window.frames
        memo_key = (window.key, window.scale, frames[src].shape, window.indices[src],
                    window.indices[dst])
        flow = self._flows.get(memo_key)
        if flow is None:
            flow = self._estimator.flow(self._luma8(window, src), self._luma8(window, dst))
            self._flows[memo_key] = flow
            while len(self._flows) > _MEMO_SIZE:
                self._flows.popitem(last=False)
        else:
            self._flows.move_to_end(memo_key)
        return flow

    def _luma8(self, window: Window, pos: int) -> np.ndarray:
        """8-bit luma of window frame `pos` for the flow estimator, memoised (each frame
        takes part in up to four flows)."""
        frame = window.frames[pos]
        memo_key = (window.key, window.scale, frame.shape, window.indices[pos])
        found = self._lumas.get(memo_key)
        if found is None:
            found = luma8(frame)
            self._lumas[memo_key] = found
            while len(self._lumas) > _MEMO_SIZE:
                self._lumas.popitem(last=False)
        return found

    def _sources(self, window: Window) -> list[_Source]:
        """Neighbours that may show the picture under the scratch, nearest first.

        Frames two away are reached through the one between (n -> n+1 -> n+2): that pair's
        flow is the one the next frame needs anyway, so a sequential export computes two
        flows per frame rather than four.
        """
        c = window.center
        n = len(window.frames)
        out: list[_Source] = []
        for d in (-1, 1):
            near = c + d
            if not 0 <= near < n:
                continue
            first = self._flow(window, c, near)
            out.append(_Source(near, first, None))
            far = c + 2 * d
            if 0 <= far < n:
                out.append(_Source(far, first, self._flow(window, near, far)))
        return out

    def process(self, window: Window) -> Result:
        frame = window.current
        h, w = frame.shape[:2]
        current, kept = self._confirmed(window)
        mask = np.zeros((h, w), np.float32)
        if not kept:
            return Result(frame, mask)
        out = frame.copy()
        sources = self._sources(window)
        for cand in kept:
            self._repair(window, cand, current.band_rows, out, mask, sources)
        return Result(out, mask)

    def _repair(self, window: Window, cand: _Candidate, hb: int, out: np.ndarray,
                mask: np.ndarray, sources: list[_Source]) -> None:
        frame = window.current
        h, w = frame.shape[:2]
        r0 = _band_rows(cand.bands[0], cand.bands, hb, h)[0]
        r1 = _band_rows(cand.bands[1], cand.bands, hb, h)[1]
        band_of_row = np.minimum(np.arange(r0, r1) // hb, cand.bands[1]) - cand.bands[0]
        a = np.array([s[0] for s in cand.spans])[band_of_row]
        z = np.array([s[1] for s in cand.spans])[band_of_row]
        x0 = max(int(a.min()) - 3, 0)
        x1 = min(int(z.max()) + 4, w)
        strip = frame[r0:r1, x0:x1]
        rows = np.arange(r1 - r0)
        cols = np.arange(x1 - x0)[None, :]
        a_rel = (a - x0)[:, None]
        z_rel = (z - x0)[:, None]
        inside = (cols >= a_rel) & (cols <= z_rel)

        # From the sides: per row, a straight blend between the clean pixels either side.
        left = strip[rows, a_rel[:, 0] - 1]
        right = strip[rows, z_rel[:, 0] + 1]
        t = ((cols - a_rel + 1) / (z_rel - a_rel + 2)).astype(np.float32)[..., None]
        fill = left[:, None, :] + t * (right - left)[:, None, :]

        # From the neighbours, where motion brings clean picture under the scratch.
        side_cols = np.concatenate([a_rel - 2, a_rel - 1, z_rel + 1, z_rel + 2], axis=1)
        side_cols = np.clip(side_cols, 0, x1 - x0 - 1)
        cur_side = strip[rows[:, None], side_cols].mean(axis=2)
        ys = np.arange(r0, r1, dtype=np.float32)[:, None]
        xs = np.arange(x0, x1, dtype=np.float32)[None, :]
        total = np.zeros(inside.shape, np.float32)
        acc = np.zeros(strip.shape, np.float32)
        for src in sources:
            pos = src.pos
            mx = xs + src.flow[r0:r1, x0:x1, 0]
            my = ys + src.flow[r0:r1, x0:x1, 1]
            if src.onward is not None:
                step = cv2.remap(src.onward, mx, my, cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
                mx = mx + step[..., 0]
                my = my + step[..., 1]
            warped = cv2.remap(window.frames[pos], mx, my, cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
            theirs = self._analyse(window, pos).mask
            on_scratch = cv2.remap(theirs, mx, my, cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_CONSTANT, borderValue=1.0) > 0.01
            outside = (mx < 0) | (mx > w - 1) | (my < 0) | (my > h - 1)
            err = np.abs(warped[rows[:, None], side_cols].mean(axis=2) - cur_side).mean(axis=1)
            err = cv2.blur(err[:, None].astype(np.float32), (1, _CHECK_ROWS))[:, 0]
            # Tolerance follows the grain: twice the typical disagreement along the line,
            # kept within sensible limits so a misaligned neighbour cannot loosen it.
            tol = float(np.clip(2.0 * np.median(err), 0.015, 0.05))
            good = (err < tol)[:, None] & ~on_scratch & ~outside
            acc += warped * good[..., None]
            total += good
        temporal = acc / np.maximum(total, 1.0)[..., None]
        repaired = np.where((total > 0)[..., None], temporal, fill)
        region = out[r0:r1, x0:x1]
        region[inside] = repaired[inside]
        mask[r0:r1, x0:x1][inside] = 1.0


def _band_rows(band: int, bands: tuple[int, int], hb: int, h: int) -> tuple[int, int]:
    """Rows [start, stop) of `band`; the first/last band of a run reaching the frame's
    edge band extends to the edge (rows left over below the last full band included)."""
    start = band * hb
    stop = (band + 1) * hb
    if band == bands[1] and stop + hb > h:
        stop = h
    return start, stop
