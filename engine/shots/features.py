"""Per-frame analysis images and a damage-tolerant distance between two frames.

Each decoded frame is reduced once to a small blurred luma image laid out as a grid of
square blocks (`Analysis`). Two frames are compared block by block with the
contrast-structure term of SSIM, the part that ignores each block's mean level:

    cs = (2 cov(x, y) + C) / (var(x) + var(y) + C)

- Flicker (global and regional brightness changes) moves block means, which cs ignores;
  the global gain part of flicker (contrast pumping) is divided out per pair of frames.
- Gate weave and small motion: each block keeps its best match over a ±1 analysis-pixel
  shift search (about ±3 pixels of a 320-pixel-wide frame).
- Grain: averaged away by the downscale and a light blur; the constant C makes two flat,
  grainy blocks count as alike.
- Dust and blotches change only the blocks they cover and only in one frame; the detector
  deals with them by comparing several pairs across a candidate cut (see detect.py).

A block whose picture is replaced by unrelated picture gets cs near 0, distance near 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Rec. 709 luma weights (levels 0-1 in, levels 0-1 out).
LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)

BLOCK = 12
"""Side of one analysis block (analysis pixels)."""
COLUMNS = 10
"""Blocks across the frame, whatever its width: 120 analysis pixels wide."""
MIN_ROWS, MAX_ROWS = 3, 10
"""Blocks down the frame: by aspect ratio, at least 3 (scope) and at most 10 (portrait)."""
BLUR_SIGMA = 0.8
"""Gaussian blur on the analysis image (analysis pixels): takes what grain survives."""
SHIFT = 1
"""Shift search radius (analysis pixels) that absorbs weave and slow motion."""
C_STRUCT = 0.02**2
"""SSIM constant (levels²): blocks with less contrast than ~0.02 count as flat."""
GAIN_RANGE = (0.5, 2.0)
"""Global contrast ratio between two frames that is compensated (flicker, not a cut)."""
GAIN_MIN_STD = 0.02
"""Blocks with a standard deviation below this (levels) do not vote on the gain."""


def grid_for(width: int, height: int) -> tuple[int, int]:
    """Analysis grid (columns, rows) in blocks for a frame of width × height pixels."""
    rows = round(COLUMNS * height / max(width, 1))
    return COLUMNS, int(min(MAX_ROWS, max(MIN_ROWS, rows)))


@dataclass(frozen=True)
class Analysis:
    """One frame reduced for cut detection.

    luma:   (rows·BLOCK, cols·BLOCK) float32 blurred luma, levels 0-1
    padded: luma with a SHIFT-pixel replicated border, for the shift search
    mean:   (rows, cols) block means of luma (levels)
    var:    (rows, cols) block variances of luma (levels²)
    shifted_mean, shifted_var: (shifts, rows, cols) the same for every searched shift
    level:  mean luma of the frame (levels 0-1), for fade detection
    peak:   90th percentile of the block means (levels 0-1), for fade detection: a few
            bright dust specks on a black frame do not make it bright
    """

    luma: np.ndarray
    padded: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    shifted_mean: np.ndarray
    shifted_var: np.ndarray
    level: float
    peak: float


_SHIFTS = [(dy, dx) for dy in range(-SHIFT, SHIFT + 1) for dx in range(-SHIFT, SHIFT + 1)]


def _block_means(img: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    # INTER_AREA with an integer factor is an exact block average, and much faster than a
    # numpy reshape-sum on these small images.
    return cv2.resize(img, grid, interpolation=cv2.INTER_AREA)


def analyse(frame: np.ndarray, grid: tuple[int, int]) -> Analysis:
    """Reduce one float32 (H, W, 3) RGB frame (levels 0-1) to its `Analysis` on `grid`."""
    cols, rows = grid
    size = (cols * BLOCK, rows * BLOCK)
    small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    if small.ndim == 3:
        small = small @ LUMA
    # A frame with NaN or infinities (a broken decode) must not poison every comparison.
    small = np.nan_to_num(small, nan=0.0, posinf=1.0, neginf=0.0).astype(np.float32)
    luma = cv2.GaussianBlur(small, (0, 0), BLUR_SIGMA)
    padded = cv2.copyMakeBorder(luma, SHIFT, SHIFT, SHIFT, SHIFT, cv2.BORDER_REPLICATE)
    h, w = luma.shape
    sm, sv = [], []
    for dy, dx in _SHIFTS:
        view = padded[SHIFT + dy:SHIFT + dy + h, SHIFT + dx:SHIFT + dx + w]
        m = _block_means(view, grid)
        sm.append(m)
        sv.append(np.maximum(_block_means(view * view, grid) - m * m, 0.0))
    centre = len(_SHIFTS) // 2
    mean = sm[centre]
    return Analysis(
        luma=luma,
        padded=padded,
        mean=mean,
        var=sv[centre],
        shifted_mean=np.stack(sm),
        shifted_var=np.stack(sv),
        level=float(luma.mean()),
        peak=float(np.percentile(mean, 90)),
    )


def block_distance(a: Analysis, c: Analysis, grid: tuple[int, int]) -> np.ndarray:
    """Distance 0-1 per block (rows, cols) between an earlier frame `a` and a later `c`.

    0: same picture (up to flicker, grain, weave); about 1: unrelated picture.
    """
    # Global gain (contrast flicker) between the two frames, from textured blocks only: a
    # median, so the few blocks a blotch covers cannot move it.
    sa, sc = np.sqrt(a.var), np.sqrt(c.var)
    textured = (sa > GAIN_MIN_STD) & (sc > GAIN_MIN_STD)
    gain = 1.0
    if textured.sum() >= max(3, textured.size // 4):
        gain = float(np.clip(np.median(sc[textured] / sa[textured]), *GAIN_RANGE))
    x = a.luma
    h, w = x.shape
    best = np.full(a.mean.shape, -1.0, np.float32)
    g2 = gain * gain
    for k, (dy, dx) in enumerate(_SHIFTS):
        y = c.padded[SHIFT + dy:SHIFT + dy + h, SHIFT + dx:SHIFT + dx + w]
        cov = _block_means(x * y, grid) - a.mean * c.shifted_mean[k]
        cs = (2.0 * cov / gain + C_STRUCT) / (a.var + c.shifted_var[k] / g2 + C_STRUCT)
        np.maximum(best, cs, out=best)
    return np.clip(1.0 - best, 0.0, 1.0)
