"""Vertical line scratch removal: detect, confirm over time, tell scratches from picture
lines, fill from motion-compensated neighbours and along the picture's structure.

A line scratch is a narrow (1-5 px) vertical line, brighter or darker than the picture on
both of its sides, that runs over much of the frame height and stays at about the same
column from frame to frame (it drifts sideways slowly as the film runs), whatever the
picture under it does.

Detection works on a *band profile*: the luma averaged over horizontal bands (about 24 rows
each), so grain and texture average out while a vertical line keeps its full contrast. In
each band a symmetric line response (centre minus the brighter/darker of its two sides)
scores every column; a step edge of the picture scores nothing because one of its sides is
not darker/brighter. A column is a candidate where the response stands out of the band's
own texture level over a run of bands covering `min_length` of the frame height; the run
then grows through busy bands (grass, foliage) where the line is still there but the
texture hid it from the threshold. A candidate is kept when a candidate of the same
polarity lies near the same column in a neighbouring frame (scratches persist; a picture
detail rarely looks like one for long).

Picture lines (a wall's corner, a pole, a door frame) also persist, so persistence is not
enough: a picture line moves *with the content* (camera moves, the scan's weave) while a
scratch lives on the film and ignores it. The content's sideways motion beside the line is
read from the optical flow; when, in every neighbour where the line is seen, the line sits
where the content carried it (within `_TIE_PX`), and in one of them the content moved
further than a scratch drifts by itself, it is part of the picture and is left alone. Where
nothing moved that far, motion proves nothing; a line that stops short of the frame's top
or bottom is then taken for the picture (a scratch runs along the film, through the frame).
The line's own displacement is measured by matching its band profile between the frames,
which is exact to about 0.1 px even on a picture edge where a detected centre is biased.

Repair: lines close together (a bright and a dark scratch side by side) are repaired as
one, so neither is filled from the other's damaged pixels. A scratch is rarely opaque: it
lays a nearly constant level (white or black) over the picture with an opacity that varies
slowly along it, so where enough of the picture shows through, the opacity and level are
estimated and the blend is undone, which keeps the picture's own texture under the
scratch. Where the scratch hides too much, motion-compensated neighbour pixels stand in
where they agree with the current frame on the clean columns beside the scratch and are not
themselves on a scratch; elsewhere each row is interpolated between the clean columns
either side, along the direction in which the two sides match best, so an oblique edge
crossing the scratch stays straight instead of being smeared into a step.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.ops.base import Operator, Result, Window
from engine.ops.memo import Memo
from engine.ops.params import Params, param

# Rows per detection band at full scale (pixels): long enough to average grain away, short
# enough that a slightly slanted scratch stays within a column or two inside one band.
_BAND_ROWS = 24
# Rows over which the neighbours' agreement beside the scratch is averaged (pixels).
_CHECK_ROWS = 9
# Per-frame analyses and flows kept on the instance (a sequential export needs 5 and 4).
_MEMO_SIZE = 8
# Width (pixels) at which flows are estimated: they only steer where neighbours' pixels are
# sampled and measure the content's drift beside a line, which needs no fine detail.
_FLOW_WIDTH = 480
# OpenCV's DIS flow crashes (segfault) on images under about 32 pixels high; smaller frames
# go without neighbours' pixels and motion evidence.
_FLOW_MIN = 32
# A line that follows the content within this many pixels in every neighbour where it is
# seen is part of the picture (measured error of the line's position and the local flow is
# about 0.1-0.2 px; a scratch drifting against the content misses by a pixel or more).
_TIE_PX = 0.5
# ...and in one of them the content must have moved further than a scratch could have
# drifted by itself, or the match proves nothing: a scratch wanders up to ~0.5 px/frame,
# so _TIE_MOTION px plus _TIE_DRIFT px per frame apart (full-scale pixels).
_TIE_MOTION = 1.0
_TIE_DRIFT = 0.5
# Columns beside a line (full-scale pixels) where the content's motion is read: far enough
# that the flow is not dragged by the line itself, near enough to be the same object.
_TIE_INNER = 8
_TIE_OUTER = 40
# A run grows into a band where the line's response is still this share of its typical
# response along the run (one band may be skipped).
_EXTEND = 0.35
# Directional fill: the two sides are matched at vertical offsets up to this many rows each
# way (a crossing edge as shallow as ~40 degrees from horizontal over a 5 px gap), summed
# over this many rows, with a small cost per row of offset so flat areas stay straight.
_MAX_SHIFT = 4
_MATCH_ROWS = 7
_SHIFT_COST = 0.004
# Opacity (0-1) of a scratch below which its estimate is mostly texture noise (unblending).
_FAINT = 0.05
# Median opacity (0-1) of a column of the span below which it is taken for a clean rim.
_RIM = 0.04
# Lines whose damaged columns come this close (pixels) are repaired as one.
_MERGE_GAP = 4


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

    x: column (pixels); xf: sub-pixel centre (pixels); polarity: +1 bright, -1 dark;
    strength: response over threshold (1 = at threshold); bands: first and last band
    (inclusive) of its run; spans: per band (first, last) column of the damaged pixels.
    """

    x: int
    xf: float
    polarity: int
    strength: float
    bands: tuple[int, int]
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class _Source:
    """A neighbour (window position `pos`) and how to reach it from the current frame:
    `flow` to the nearer neighbour, then `onward` from there (None: `flow` reaches it).
    Flows are at the reduced flow size, in reduced pixels."""

    pos: int
    flow: np.ndarray
    onward: np.ndarray | None


@dataclass(frozen=True)
class _Analysis:
    candidates: tuple[_Candidate, ...]
    band_rows: int
    mask: np.ndarray  # float32 (H, W): 1 on every candidate's span (confirmed or not)
    small: np.ndarray  # uint8 luma at the flow size, for the flow estimator
    profile: np.ndarray  # float32 (bands, W): mean luma of each band of rows


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


def _extend(raw: np.ndarray, x: int, b0: int, b1: int) -> tuple[int, int]:
    """Grow the run b0..b1 (bands) of the line at column x through bands where its raw
    response (raw: (B, W) levels) is still a good share of its typical value, one band at a
    time (one band may be skipped), then to the frame's edge where the rest of the way
    still responds that much on average (a scratch through busy texture: grass, foliage).
    """
    col = raw[:, x - 1:x + 2].max(axis=1)
    typical = float(np.median(col[b0:b1 + 1]))
    if typical <= 0.0:
        return b0, b1
    need = _EXTEND * typical
    present = col >= need
    last = raw.shape[0] - 1
    while True:
        if b0 >= 1 and present[b0 - 1]:
            b0 -= 1
        elif b0 >= 2 and present[b0 - 2]:
            b0 -= 2
        else:
            break
    while True:
        if b1 <= last - 1 and present[b1 + 1]:
            b1 += 1
        elif b1 <= last - 2 and present[b1 + 2]:
            b1 += 2
        else:
            break
    if b0 > 0 and float(col[:b0].mean()) >= need:
        b0 = 0
    if b1 < last and float(col[b1 + 1:].mean()) >= need:
        b1 = last
    return b0, b1


def _band_rows(band: int, bands: tuple[int, int], hb: int, h: int) -> tuple[int, int]:
    """Rows [start, stop) of `band`; the last band of a run reaching the frame's edge band
    extends to the edge (rows left over below the last full band included)."""
    start = band * hb
    stop = (band + 1) * hb
    if band == bands[1] and stop + hb > h:
        stop = h
    return start, stop


def _clusters(cands: list[_Candidate]) -> list[list[_Candidate]]:
    """Group lines whose damaged columns come within _MERGE_GAP pixels of each other."""
    ordered = sorted(cands, key=lambda c: min(a for a, _ in c.spans))
    groups: list[list[_Candidate]] = []
    right = 0
    for cand in ordered:
        lo = min(a for a, _ in cand.spans)
        hi = max(z for _, z in cand.spans)
        if groups and lo - right <= _MERGE_GAP:
            groups[-1].append(cand)
            right = max(right, hi)
        else:
            groups.append([cand])
            right = hi
    return groups


class ScratchOperator(Operator):
    id = "scratch"
    label = "Line scratches"
    description = (
        "Finds vertical line scratches that persist over frames but do not move with the "
        "picture; keeps what shows through a partly transparent scratch and fills the rest "
        "from motion-compensated neighbours and along the picture's structure."
    )
    Params = ScratchParams
    local_repair = True
    spot_repair = True

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        self._analyses: Memo[_Analysis] = Memo(_MEMO_SIZE)
        self._flows: Memo[np.ndarray] = Memo(_MEMO_SIZE)
        # Flow only steers where neighbours' pixels are sampled and measures the content's
        # drift; DIS ultrafast on a reduced frame is plenty for that.
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)

    @property
    def temporal_radius(self) -> int:
        return 2

    # --- detection ----------------------------------------------------------------------

    def _analyse(self, window: Window, pos: int) -> _Analysis:
        frame = window.frames[pos]
        # The detection depends on the parameters (keyframed ones change per frame).
        memo_key = (window.key, window.scale, frame.shape, window.indices[pos], self.params)
        return self._analyses.get_or_compute(memo_key, lambda: self._detect(frame, window.scale))

    def _detect(self, frame: np.ndarray, scale: float) -> _Analysis:
        p = self.params
        h, w = frame.shape[:2]
        hb = int(np.clip(round(_BAND_ROWS * scale), 4, max(4, h // 8)))
        nb = max(1, h // hb)
        luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        factor = min(1.0, _FLOW_WIDTH / w)
        size = (max(8, round(w * factor)), max(8, round(h * factor)))
        small_f = luma
        step = int(1.0 / factor)
        if step >= 2:
            # INTER_AREA by a whole factor is several times faster than by a fractional one;
            # the small remainder is taken bilinearly.
            small_f = cv2.resize(luma, (w // step, h // step), interpolation=cv2.INTER_AREA)
        if small_f.shape[1] != size[0] or small_f.shape[0] != size[1]:
            small_f = cv2.resize(small_f, size, interpolation=cv2.INTER_LINEAR)
        small = cv2.convertScaleAbs(small_f, alpha=255.0)
        # INTER_AREA over a whole number of rows is the exact band mean, several times
        # faster than a numpy reshape-mean.
        prof = cv2.resize(luma[: nb * hb], (w, nb), interpolation=cv2.INTER_AREA)
        prof = prof.astype(np.float64)
        mask = np.zeros((h, w), np.float32)
        hmax = max(0, (max(1, round(p.max_width * scale)) - 1) // 2)
        pad = hmax + 5
        if w <= 2 * pad + 2:
            return _Analysis((), hb, mask, small, prof.astype(np.float32))
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
        factor_t = 9.0 - 6.0 * p.sensitivity
        thr = np.maximum(factor_t * spread, 0.004)[:, None]
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
            raw = np.where(np.isfinite(score[k]), score[k], 0.0)
            raw[:, :pad] = 0.0
            raw[:, w - pad:] = 0.0
            groups = np.split(cols, np.flatnonzero(np.diff(cols) > 1) + 1)
            for group in groups:
                strengths = [
                    float(smooth[ends[x] - runs[x] + 1:ends[x] + 1, x].mean()) for x in group
                ]
                best = int(np.argmax(strengths))
                x = int(group[best])
                b1 = int(ends[x])
                b0 = b1 - int(runs[x]) + 1
                b0, b1 = _extend(raw, x, b0, b1)
                spans, xf = self._shape(padded, pad, ratio[k], best_h[k], x, pol, b0, b1, w)
                cand = _Candidate(x, xf, pol, strengths[best], (b0, b1), spans)
                candidates.append(cand)
                self._paint(mask, cand, hb)
        return _Analysis(tuple(candidates), hb, mask, small, prof.astype(np.float32))

    @staticmethod
    def _shape(padded: np.ndarray, pad: int, ratio: np.ndarray, best_h: np.ndarray, x: int,
               pol: int, b0: int, b1: int, w: int
               ) -> tuple[tuple[tuple[int, int], ...], float]:
        """Per band, the columns the line visibly alters (its core plus soft edges); and
        the line's sub-pixel centre (pixels), the median over bands of its centroid."""
        bands = np.arange(b0, b1 + 1)
        ar = np.arange(bands.size)
        # The line's own column in each band (a slanted or subpixel line shifts by one).
        xb = x - 1 + np.argmax(ratio[bands, x - 1:x + 2], axis=1)
        hw = best_h[bands, xb].astype(np.int64)
        rows = padded[bands]

        def at(offset: np.ndarray | int) -> np.ndarray:
            return rows[ar, pad + xb + offset]

        base = 0.25 * (at(-hw - 4) + at(-hw - 3) + at(hw + 3) + at(hw + 4))
        peak = np.maximum(pol * (at(0) - base), 1e-6)
        # The core and one column either side (a scratch's soft edges) are always taken;
        # one more column where it is still visibly altered.
        more_left = pol * (at(-hw - 2) - base) > 0.08 * peak
        more_right = pol * (at(hw + 2) - base) > 0.08 * peak
        a = np.maximum(xb - hw - 1 - more_left, 1)
        z = np.minimum(xb + hw + 1 + more_right, w - 2)
        # Centroid of the line's contrast over its core and soft edges, per band.
        hmax = int(hw.max())
        offsets = np.arange(-hmax - 1, hmax + 2)
        weights = np.stack([np.maximum(pol * (at(o) - base), 0.0) for o in offsets], axis=1)
        weights *= np.abs(offsets)[None, :] <= (hw + 1)[:, None]
        total = weights.sum(axis=1)
        ok = total > 0
        centres = xb[ok] + (weights[ok] @ offsets) / total[ok]
        xf = float(np.median(centres)) if centres.size else float(x)
        return tuple((int(i), int(j)) for i, j in zip(a, z, strict=True)), xf

    @staticmethod
    def _paint(mask: np.ndarray, cand: _Candidate, hb: int) -> None:
        h = mask.shape[0]
        for i, (a, z) in enumerate(cand.spans):
            r0, r1 = _band_rows(cand.bands[0] + i, cand.bands, hb, h)
            mask[r0:r1, a:z + 1] = 1.0

    # --- temporal confirmation ----------------------------------------------------------

    def _persistent(self, window: Window, current: _Analysis) -> list[_Candidate]:
        """Candidates seen near the same column in a neighbouring frame."""
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
        return kept

    def _tied_to_picture(self, window: Window, current: _Analysis, cand: _Candidate,
                         sources: list[_Source], fs: float) -> bool:
        """True when the line belongs to the picture rather than to the film.

        In every neighbour where the line is seen it must sit where the content beside it
        carried it (within _TIE_PX), and in at least one the content must have moved far
        enough that a scratch could not have followed it by drifting. When nothing moved
        that far, motion cannot tell: a line that stops short of the frame's top or bottom
        is then taken for the picture (a scratch runs along the film, through the frame).
        """
        h = window.current.shape[0]
        hb = current.band_rows
        r0 = _band_rows(cand.bands[0], cand.bands, hb, h)[0]
        r1 = _band_rows(cand.bands[1], cand.bands, hb, h)[1]
        near = 2 + max(1, round(self.params.max_width * window.scale))
        moved = False
        for src in sources:
            shift = _content_shift(src.flow, fs, cand.xf, r0, r1, 0.0, 0.0, window.scale)
            if shift is None:
                continue
            if src.onward is not None:
                onward = _content_shift(src.onward, fs, cand.xf + shift[0], r0, r1, shift[0],
                                        shift[1], window.scale)
                if onward is None:
                    continue
                shift = (shift[0] + onward[0], shift[1] + onward[1])
            expected = cand.xf + shift[0]
            other = self._analyse(window, src.pos)
            if not any(o.polarity == cand.polarity
                       and min(abs(o.xf - expected), abs(o.xf - cand.xf)) <= near
                       for o in other.candidates):
                continue  # not seen there: no evidence either way
            moved_by = _line_shift(current.profile, other.profile, cand, shift[0],
                                   self.params.max_width * window.scale)
            if abs(moved_by - shift[0]) > _TIE_PX:
                return False  # the line kept its own course while the content moved
            apart = abs(src.pos - window.center)
            moved = moved or abs(shift[0]) >= (_TIE_MOTION + _TIE_DRIFT * apart) * window.scale
        if moved:
            return True
        last_band = h // hb - 1
        return cand.bands[0] > 0 or cand.bands[1] < last_band

    # --- flows --------------------------------------------------------------------------

    def _flow(self, window: Window, src: int, dst: int) -> np.ndarray:
        """Flow (h, w, 2) at the reduced flow size, in reduced pixels, from window frame
        `src` to window frame `dst`, memoised so a sequential export computes each pair
        once."""
        frames = window.frames
        memo_key = (window.key, window.scale, frames[src].shape, window.indices[src],
                    window.indices[dst])

        def compute() -> np.ndarray:
            a = self._analyse(window, src).small
            b = self._analyse(window, dst).small
            return self._dis.calc(a, b, None)

        return self._flows.get_or_compute(memo_key, compute)

    def _sources(self, window: Window) -> list[_Source]:
        """Neighbours that may show the picture under the scratch, nearest first.

        Frames two away are reached through the one between (n -> n+1 -> n+2): that pair's
        flow is the one the next frame needs anyway, so a sequential export computes two
        flows per frame rather than four.
        """
        c = window.center
        n = len(window.frames)
        out: list[_Source] = []
        if min(self._analyse(window, c).small.shape) < _FLOW_MIN:
            return out
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

    # --- repair -------------------------------------------------------------------------

    def process(self, window: Window) -> Result:
        frame = window.current
        h, w = frame.shape[:2]
        mask = np.zeros((h, w), np.float32)
        current = self._analyse(window, window.center)
        kept = self._persistent(window, current)
        if not kept:
            return Result(frame, mask)
        sources = self._sources(window)
        fs = current.small.shape[1] / w
        hb = current.band_rows
        kept = [c for c in kept if not self._tied_to_picture(window, current, c, sources, fs)]
        if not kept:
            return Result(frame, mask)
        out = frame.copy()
        for group in _clusters(kept):
            self._repair(window, group, hb, out, mask, sources, fs)
        return Result(out, mask)

    def _repair(self, window: Window, group: list[_Candidate], hb: int, out: np.ndarray,
                mask: np.ndarray, sources: list[_Source], fs: float) -> None:
        frame = window.current
        h, w = frame.shape[:2]
        r0 = min(_band_rows(c.bands[0], c.bands, hb, h)[0] for c in group)
        r1 = max(_band_rows(c.bands[1], c.bands, hb, h)[1] for c in group)
        # Per row, the union of the group's damaged columns (one interval: lines this close
        # leave no clean column worth keeping between them).
        a = np.full(r1 - r0, w, np.int64)
        z = np.full(r1 - r0, -1, np.int64)
        for cand in group:
            for i, (ca, cz) in enumerate(cand.spans):
                s, e = _band_rows(cand.bands[0] + i, cand.bands, hb, h)
                a[s - r0:e - r0] = np.minimum(a[s - r0:e - r0], ca)
                z[s - r0:e - r0] = np.maximum(z[s - r0:e - r0], cz)
        covered = z >= 0
        a = np.where(covered, a, int(a[covered].min()))
        z = np.where(covered, z, a - 1)  # empty interval on uncovered rows
        x0 = max(int(a.min()) - 2, 0)
        x1 = min(int(z.max()) + 3, w)
        strip = frame[r0:r1, x0:x1]
        cols = np.arange(x1 - x0)[None, :]
        a_rel = (a - x0)[:, None]
        z_rel = (z - x0)[:, None]
        inside = (cols >= a_rel) & (cols <= z_rel)

        fill = self._directional_fill(frame, r0, r1, x0, x1 - x0, a, z)

        # What is left of the picture under a partly transparent scratch is kept (unblended);
        # where the scratch hides too much of it, neighbours' pixels or the fill stand in.
        under, keep = _unblend(strip, fill, inside)
        stand_in = fill
        hidden = (inside & (keep[..., 0] < 1.0)).any(axis=1)
        if sources and hidden.any():
            # Only rows near those that need it (the agreement check looks at a few rows).
            near = cv2.dilate(hidden.astype(np.uint8)[:, None],
                              np.ones((_CHECK_ROWS, 1), np.uint8))[:, 0] > 0
            sel = np.flatnonzero(near)
            temporal, found = self._from_neighbours(window, sources, fs, r0 + sel, x0, x1,
                                                    a_rel[sel], z_rel[sel])
            stand_in = fill.copy()
            stand_in[sel] = np.where(found[..., None], temporal, fill[sel])
        repaired = under * keep + stand_in * (1.0 - keep)
        region = out[r0:r1, x0:x1]
        region[inside] = repaired[inside]
        mask[r0:r1, x0:x1][inside] = 1.0

    def _from_neighbours(self, window: Window, sources: list[_Source], fs: float,
                         rows: np.ndarray, x0: int, x1: int, a_rel: np.ndarray,
                         z_rel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Motion-compensated neighbours' pixels for frame rows `rows` (full-size pixels),
        columns x0..x1, averaged over the neighbours that agree with the current frame on
        the clean columns beside the scratch (a_rel - 2.., z_rel + 1.., per row, relative
        to x0) and are not on a scratch themselves there. Returns the pixels (R, C, 3) and
        where any neighbour contributed (R, C)."""
        frame = window.current
        h, w = frame.shape[:2]
        strip = frame[rows, x0:x1]
        n = rows.size
        ridx = np.arange(n)[:, None]
        side_cols = np.clip(np.concatenate([a_rel - 2, a_rel - 1, z_rel + 1, z_rel + 2],
                                           axis=1), 0, x1 - x0 - 1)
        cur_side = strip[ridx, side_cols].mean(axis=2)
        ys = rows.astype(np.float32)[:, None]
        xs = np.arange(x0, x1, dtype=np.float32)[None, :]
        shape = (n, x1 - x0)
        # Where the pixels fall on the reduced flow grid.
        gx = np.ascontiguousarray(np.broadcast_to((xs + 0.5) * fs - 0.5, shape), np.float32)
        gy = np.ascontiguousarray(np.broadcast_to((ys + 0.5) * fs - 0.5, shape), np.float32)
        total = np.zeros(shape, np.float32)
        acc = np.zeros(strip.shape, np.float32)
        inv = np.float32(1.0 / fs)
        for src in sources:
            step = cv2.remap(src.flow, gx, gy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            mx = xs + step[..., 0] * inv
            my = ys + step[..., 1] * inv
            if src.onward is not None:
                step = cv2.remap(src.onward, (mx + 0.5) * fs - 0.5, (my + 0.5) * fs - 0.5,
                                 cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                mx = mx + step[..., 0] * inv
                my = my + step[..., 1] * inv
            warped = cv2.remap(window.frames[src.pos], mx, my, cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
            theirs = self._analyse(window, src.pos).mask
            on_scratch = cv2.remap(theirs, mx, my, cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_CONSTANT, borderValue=1.0) > 0.01
            outside = (mx < 0) | (mx > w - 1) | (my < 0) | (my > h - 1)
            err = np.abs(warped[ridx, side_cols].mean(axis=2) - cur_side).mean(axis=1)
            err = cv2.blur(err[:, None].astype(np.float32), (1, _CHECK_ROWS))[:, 0]
            # Tolerance follows the grain: twice the typical disagreement along the line,
            # kept within sensible limits so a misaligned neighbour cannot loosen it.
            tol = float(np.clip(2.0 * np.median(err), 0.015, 0.05))
            good = (err < tol)[:, None] & ~on_scratch & ~outside
            acc += warped * good[..., None]
            total += good
        return acc / np.maximum(total, 1.0)[..., None], total > 0

    @staticmethod
    def _directional_fill(frame: np.ndarray, r0: int, r1: int, x0: int, width: int,
                          a: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Interpolate rows r0..r1 of columns a..z (per row, inclusive) between the clean
        columns a-1 and z+1, along the direction in which the two sides match best.

        Returns the fill for the strip frame[r0:r1, x0:x0 + width] (columns outside each
        row's interval are meaningless). Side pixels are taken at vertical offsets of up
        to _MAX_SHIFT rows in opposite directions; the offset whose pairs differ least over
        _MATCH_ROWS rows (plus a small cost per row of offset) wins, and each pixel blends
        the two side pixels on the straight line through it with that slope.
        """
        h = frame.shape[0]
        y = np.arange(r0, r1)
        left_col = a - 1
        right_col = z + 1
        shifts = np.arange(-_MAX_SHIFT, _MAX_SHIFT + 1)
        yl = np.clip(y[None, :] - shifts[:, None], 0, h - 1)
        yr = np.clip(y[None, :] + shifts[:, None], 0, h - 1)
        d = np.abs(frame[yl, left_col[None, :]] - frame[yr, right_col[None, :]]).sum(axis=2)
        # Summed over _MATCH_ROWS rows (a box filter along each shift's row of costs).
        cost = cv2.blur(np.ascontiguousarray(d, np.float32), (_MATCH_ROWS, 1),
                        borderType=cv2.BORDER_REPLICATE)
        cost += _SHIFT_COST * _MATCH_ROWS * np.abs(shifts)[:, None].astype(np.float32)
        best = shifts[np.argmin(cost, axis=0)].astype(np.float32)[:, None]
        cols = np.arange(x0, x0 + width)[None, :]
        t = ((cols - left_col[:, None]) / (right_col - left_col)[:, None]).astype(np.float32)
        t = np.clip(t, 0.0, 1.0)
        yl = y[:, None] - 2.0 * best * t
        yr = y[:, None] + 2.0 * best * (1.0 - t)

        def sample(rows_f: np.ndarray, col: np.ndarray) -> np.ndarray:
            rows_f = np.clip(rows_f, 0, h - 1)
            lo = np.floor(rows_f).astype(np.int64)
            hi = np.minimum(lo + 1, h - 1)
            f = (rows_f - lo)[..., None].astype(np.float32)
            c = np.broadcast_to(col[:, None], rows_f.shape)
            return frame[lo, c] * (1.0 - f) + frame[hi, c] * f

        left = sample(yl, left_col)
        right = sample(yr, right_col)
        return left * (1.0 - t[..., None]) + right * t[..., None]


def _content_shift(flow: np.ndarray, fs: float, x: float, r0: int, r1: int, dx: float,
                   dy: float, scale: float) -> tuple[float, float] | None:
    """Median motion (dx, dy) in full-size pixels of the content beside column x (full-size
    pixels) over rows r0..r1 shifted by (dx, dy), from a reduced flow (scale fs); None when
    those columns fall outside the frame."""
    hs, ws = flow.shape[:2]
    inner = _TIE_INNER * scale
    outer = _TIE_OUTER * scale
    y0 = int(np.clip(np.floor((r0 + dy) * fs), 0, hs - 1))
    y1 = int(np.clip(np.ceil((r1 + dy) * fs), y0 + 1, hs))
    blocks = []
    for lo, hi in ((x - outer, x - inner), (x + inner, x + outer)):
        c0 = int(np.clip(np.floor((lo + dx) * fs), 0, ws))
        c1 = int(np.clip(np.ceil((hi + dx) * fs), 0, ws))
        if c1 > c0:
            blocks.append(flow[y0:y1, c0:c1].reshape(-1, 2))
    if not blocks:
        return None
    vals = np.concatenate(blocks)
    return float(np.median(vals[:, 0])) / fs, float(np.median(vals[:, 1])) / fs


def _line_shift(mine: np.ndarray, theirs: np.ndarray, cand: _Candidate, content: float,
                max_width: float) -> float:
    """How far (pixels, sub-pixel) the line moved between two frames' band profiles
    (mine, theirs: (bands, W) mean luma), found by matching the profile around the line
    over its run of bands; the search spans both "stayed put" and "moved with the
    content" (`content`, pixels) with a margin."""
    w = mine.shape[1]
    b0, b1 = cand.bands
    half = int(np.ceil(max_width / 2)) + 3
    lo = min(0.0, content) - 2.0
    hi = max(0.0, content) + 2.0
    x0 = int(np.floor(cand.xf)) - half
    x1 = int(np.ceil(cand.xf)) + half + 1
    if x0 + int(np.floor(lo)) < 0 or x1 + int(np.ceil(hi)) + 1 > w:
        return content  # too near the frame's edge to tell: no evidence against a tie
    ref = mine[b0:b1 + 1, x0:x1].mean(axis=0)
    other = theirs[b0:b1 + 1].mean(axis=0)
    steps = np.arange(lo, hi + 1e-6, 0.05)
    pos = np.arange(x0, x1)[None, :] + steps[:, None]
    base = np.floor(pos).astype(np.int64)
    frac = pos - base
    moved = other[base] * (1.0 - frac) + other[base + 1] * frac
    # Levels differ between frames (flicker): compare shapes, not offsets.
    diff = (moved - moved.mean(axis=1, keepdims=True)) - (ref - ref.mean())
    return float(steps[int(np.argmin((diff * diff).sum(axis=1)))])


def _unblend(strip: np.ndarray, fill: np.ndarray, inside: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """The picture under a partly transparent scratch, and how far to trust it.

    A scratch lays a nearly constant level V (white where the emulsion of the negative
    was scraped off, black on the print) over the picture with an opacity a that varies
    slowly along it: seen = (1 - a) * picture + a * V. With the side fill standing for the
    picture's slow variation, a (per pixel, least squares over the three channels and
    _CHECK_ROWS rows) and V (per polarity, the median over the strip) follow, and the
    picture is (seen - a * V) / (1 - a), texture included. Returns that estimate (H, W, 3)
    and its weight (H, W, 1): 1 up to a = 0.6, falling to 0 at a = 0.85 where too little of
    the picture is left and dividing by 1 - a would amplify grain.
    """
    diff = strip - fill
    bright = diff.sum(axis=2) > 0
    ones = (1, _CHECK_ROWS)
    # Level of each polarity's scratch: fit diff_c = p - a * fill_c per pixel (p = a * V),
    # then V = p / a where the fit is well conditioned and the scratch clearly present.
    sf = cv2.blur(fill.sum(axis=2), ones)
    sff = cv2.blur((fill * fill).sum(axis=2), ones)
    sd = cv2.blur(diff.sum(axis=2), ones)
    sdf = cv2.blur((diff * fill).sum(axis=2), ones)
    det = 3.0 * sff - sf * sf
    ok = det > 1e-3
    det = np.where(ok, det, 1.0)
    offset = (sff * sd - sf * sdf) / det
    opacity = (sf * sd - 3.0 * sdf) / det
    usable = ok & inside & (opacity > 0.12)
    levels = []
    for sel, default, lo, hi in ((usable & bright, 1.0, 0.75, 1.1),
                                 (usable & ~bright, 0.0, -0.05, 0.25)):
        if int(sel.sum()) >= 30:
            levels.append(float(np.clip(np.median(offset[sel] / opacity[sel]), lo, hi)))
        else:
            levels.append(default)
    level = np.where(bright, np.float32(levels[0]), np.float32(levels[1]))[..., None]
    # With V known, the opacity per pixel (least squares over channels and rows).
    span = level - fill
    num = cv2.blur((diff * span).sum(axis=2), ones)
    den = cv2.blur((span * span).sum(axis=2), ones)
    alpha = np.clip(num / np.maximum(den, 1e-6), 0.0, 1.0)
    # A scratch keeps its cross profile down the frame: a column whose typical opacity is
    # nil is a clean rim column (the span's margin) where any opacity read is texture.
    # (Lower median of each column over its inside rows: outside rows sort first as -1.)
    n = alpha.shape[0]
    count = inside.sum(axis=0)
    ordered = np.sort(np.where(inside, alpha, -1.0), axis=0)
    typical = ordered[np.clip(n - count + (count - 1) // 2, 0, n - 1), np.arange(alpha.shape[1])]
    alpha *= np.clip((typical - _RIM) / _RIM, 0.0, 1.0)[None, :]
    # Texture the side fill cannot predict reads as a faint opacity; below _FAINT the
    # estimate is mostly that noise, so it is faded out rather than "corrected" away.
    alpha = (alpha * np.clip((alpha - _FAINT) / _FAINT, 0.0, 1.0))[..., None]
    under = (strip - alpha * level) / np.maximum(1.0 - alpha, 1e-3)
    keep = np.clip((0.85 - alpha) / 0.25, 0.0, 1.0)
    return under.astype(np.float32), keep.astype(np.float32)
