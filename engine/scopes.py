"""Video scopes: the waveform, RGB parade, histogram and vectorscope of a frame.

A restorer judges levels and colour on scopes, not by eye: whether blacks were crushed or
highlights clipped, whether a faded print's cast is gone, whether deflicker or colour
changed the levels of a shot. These functions turn a frame into the scope's picture as
data, for the viewer's Scopes dock (and for tests, which can read a level off them).

Frames are float32 (H, W, 3) RGB, levels 0-1 (values outside are counted at the nearest
end: scopes show what an export would write, which clips there). Luma and colour
difference follow Rec. 709, as everywhere in Nitrate. The traces are densities: each
returned array holds, per bin, the share of the pixels counted that fall in it.

Scopes are computed on the viewer's preview picture, thinned to at most `MAX_SAMPLES`
pixels by taking every n-th row and column (every pixel a real value: averaging would hide
the isolated clipped pixels a scope exists to show). numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.metrics import LUMA

CB_SCALE = 1.8556
CR_SCALE = 1.5748
"""Rec. 709 colour difference: Cb = (B − Y) / 1.8556, Cr = (R − Y) / 1.5748, each −0.5…0.5."""

MAX_SAMPLES = 100_000
"""Most pixels a scope reads (about 420 × 240; a half-size 1080p preview gives 320 × 180, still
hundreds of samples in each of a trace's columns): a scope then costs a millisecond or two,
so scopes can follow playback. Rows and columns are thinned evenly beyond it."""

CLIP_MARGIN = 0.5 / 255.0
"""A channel within half an 8-bit step of 0 (1) counts as clipped black (white)."""

TRACE_ROWS = 205
"""Levels a waveform resolves by default: each row spans 1.25 8-bit codes. Video decoded from
limited range (16-235) to full uses only 220 of the 256 codes; with a row per code (or more
rows than codes) the unused ones would stripe the trace with empty rows."""

KINDS: tuple[str, ...] = ("waveform", "parade", "histogram", "vectorscope")
"""The scopes a viewer can show."""


@dataclass(frozen=True)
class Levels:
    """What the scopes' headers report about one frame. Shares are fractions 0-1 of pixels."""

    black_clipped: float   # pixels with any channel at or below black (0)
    white_clipped: float   # pixels with any channel at or above full scale (1)
    luma_low: float        # 0.5th percentile of luma, levels 0-1 (the picture's black)
    luma_high: float       # 99.5th percentile of luma, levels 0-1 (its white)
    mean_rgb: tuple[float, float, float]  # mean of each channel, levels 0-1 (a cast shows)


def thinned(frame: np.ndarray, max_samples: int = MAX_SAMPLES) -> np.ndarray:
    """`frame` with every n-th row and column kept, n the smallest step that leaves at most
    `max_samples` pixels (the frame itself when it is small enough). A view, no copy."""
    h, w = frame.shape[:2]
    step = 1
    while (-(-h // step)) * (-(-w // step)) > max_samples:
        step += 1
    return frame[::step, ::step] if step > 1 else frame


def _levels_to_rows(values: np.ndarray, rows: int) -> np.ndarray:
    """Levels 0-1 → nearest row index, row 0 at full scale (the top of the scope), clamped."""
    r = np.rint((1.0 - values) * (rows - 1))
    np.clip(r, 0, rows - 1, out=r)
    return r.astype(np.intp)


def _column_traces(channels: np.ndarray, columns: int, rows: int) -> np.ndarray:
    """Density of (column, level) for each channel: `channels` float (C, h, w) levels 0-1 →
    float32 (C, rows, columns), each column of each trace summing to 1.

    Each pixel is shared between the two rows its level lies between, in proportion to its
    distance from each (as a scope's trace has width): video's levels are steps of 1/219 or
    1/255, and nearest-row counting would leave every few rows empty, striping the trace."""
    count, h, w = channels.shape
    col = (np.arange(w) * columns // w).astype(np.intp)
    per_column = np.bincount(col, minlength=columns).astype(np.float32) * h
    out = np.empty((count, rows, columns), np.float32)
    for c in range(count):
        pos = np.clip((1.0 - channels[c]) * (rows - 1), 0.0, rows - 1.0)
        upper = np.minimum(pos.astype(np.intp), rows - 2)  # the row above the level
        below = (pos - upper).astype(np.float32)             # its share for the row below
        idx = upper * columns + col[None, :]
        hist = np.bincount(idx.ravel(), weights=(1.0 - below).ravel(), minlength=rows * columns)
        hist += np.bincount((idx + columns).ravel(), weights=below.ravel(),
                            minlength=rows * columns)
        out[c] = hist.reshape(rows, columns) / np.maximum(per_column, 1.0)[None, :]
    return out


def _checked(frame: np.ndarray, columns: int, rows: int) -> np.ndarray:
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"scopes: expected an (H, W, 3) frame, got shape {frame.shape}")
    if columns < 1 or rows < 2:
        raise ValueError(f"scopes: a scope needs at least 1 column and 2 rows, "
                         f"got {columns} × {rows}")
    # One contiguous copy of the few pixels read: reductions over a strided view of a
    # large frame cost several times more.
    small = np.ascontiguousarray(thinned(frame), dtype=np.float32)
    if not np.isfinite(small).all():
        # NaN is written as black, as the Writer does; ±inf as the end it lies beyond.
        small = np.nan_to_num(small, nan=0.0, posinf=1.0, neginf=0.0)
    return small


def luma(frame: np.ndarray) -> np.ndarray:
    """Rec. 709 luma of a float (H, W, 3) RGB frame: float32 (H, W), levels 0-1."""
    return frame.astype(np.float32, copy=False) @ LUMA


def waveform(frame: np.ndarray, columns: int = 256, rows: int = TRACE_ROWS) -> np.ndarray:
    """Luma waveform: float32 (rows, columns). Column x holds the frame's pixels from the
    x-th of `columns` vertical strips, row r the level 1 − r / (rows − 1); each column sums
    to 1 (the share of its strip's pixels at each level)."""
    small = _checked(frame, columns, rows)
    return _column_traces(luma(small)[None], columns, rows)[0]


def parade(frame: np.ndarray, columns: int = 256, rows: int = TRACE_ROWS) -> np.ndarray:
    """RGB parade: float32 (3, rows, columns), the waveform of R, G and B in turn."""
    small = _checked(frame, columns, rows)
    return _column_traces(np.moveaxis(small, 2, 0), columns, rows)


def histogram(frame: np.ndarray, bins: int = 256) -> np.ndarray:
    """float32 (4, bins): the share of pixels at each level of R, G, B and luma, bin k
    holding levels around k / (bins − 1) (0 and 1 in the end bins, with what lies beyond)."""
    if bins < 2:
        raise ValueError(f"scopes: a histogram needs at least 2 bins, got {bins}")
    small = _checked(frame, 1, 2)
    planes = [small[..., 0], small[..., 1], small[..., 2], luma(small)]
    out = np.empty((4, bins), np.float32)
    for k, plane in enumerate(planes):
        # The rows helper counts from the top; a histogram counts from black.
        idx = (bins - 1) - _levels_to_rows(plane, bins)
        out[k] = np.bincount(idx.ravel(), minlength=bins) / plane.size
    return out


def chroma(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rec. 709 colour difference (Cb, Cr) of float RGB (..., 3), each −0.5…0.5 for levels
    within 0-1."""
    rgb = np.asarray(rgb, np.float32)
    y = rgb @ LUMA
    return (rgb[..., 2] - y) / CB_SCALE, (rgb[..., 0] - y) / CR_SCALE


def vectorscope_point(rgb: tuple[float, float, float], size: int) -> tuple[float, float]:
    """Where colour `rgb` (levels 0-1) falls on a `size`-pixel vectorscope: (x, y) in
    pixels from its top-left corner, x growing with Cb, y growing downwards as Cr falls."""
    cb, cr = chroma(np.array(rgb, np.float32))
    half = (size - 1) / 2.0
    return half + float(cb) * 2.0 * half, half - float(cr) * 2.0 * half


def vectorscope(frame: np.ndarray, size: int = 256) -> np.ndarray:
    """Vectorscope: float32 (size, size), the share of pixels at each (Cb, Cr), Cb across
    and Cr up, the centre neutral grey and the edge ±0.5 (fully saturated)."""
    small = _checked(frame, 1, 2)
    if size < 3:
        raise ValueError(f"scopes: a vectorscope needs at least 3 pixels, got {size}")
    small = np.clip(small, 0.0, 1.0)
    cb, cr = chroma(small)
    half = (size - 1) / 2.0
    x = np.clip(np.rint(half + cb * 2.0 * half), 0, size - 1).astype(np.intp)
    y = np.clip(np.rint(half - cr * 2.0 * half), 0, size - 1).astype(np.intp)
    counts = np.bincount((y * size + x).ravel(), minlength=size * size).astype(np.float32)
    return counts.reshape(size, size) / x.size


def clipped(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """bool (H, W) masks of `frame`'s pixels with a channel at black and with a channel at
    full scale (within CLIP_MARGIN; NaN is neither), as `levels` counts them and the viewer
    marks them."""
    r, g, b = frame[..., 0], frame[..., 1], frame[..., 2]
    # Channel by channel: numpy's reductions over a 3-long last axis are slow.
    black = np.minimum(np.minimum(r, g), b) <= CLIP_MARGIN
    white = np.maximum(np.maximum(r, g), b) >= 1.0 - CLIP_MARGIN
    return black, white


def levels(frame: np.ndarray) -> Levels:
    """Clipping, black and white points and mean colour of `frame` (see `Levels`)."""
    # As an export writes the frame: levels beyond 0-1 at the nearest end.
    small = np.clip(_checked(frame, 1, 2), 0.0, 1.0)
    pixels = small.shape[0] * small.shape[1]
    black_mask, white_mask = clipped(small)
    black = np.count_nonzero(black_mask) / pixels
    white = np.count_nonzero(white_mask) / pixels
    # Percentiles from a fine histogram: np.percentile's sort costs ten times more.
    bins = 1024
    y = np.clip(luma(small), 0.0, 1.0)
    cumulative = np.cumsum(np.bincount(np.rint(y * (bins - 1)).astype(np.intp).ravel(),
                                       minlength=bins)) / y.size
    low, high = (np.searchsorted(cumulative, q) / (bins - 1) for q in (0.005, 0.995))
    mean = np.ones(pixels, np.float32) @ small.reshape(-1, 3) / pixels
    return Levels(float(black), float(white), float(low), float(high),
                  (float(mean[0]), float(mean[1]), float(mean[2])))


def mean_levels(measured: Sequence[Levels]) -> Levels:
    """The mean of several frames' `Levels`, field by field (a shot's, from its samples)."""
    if not measured:
        raise ValueError("scopes: no levels to average")
    n = len(measured)
    return Levels(
        sum(m.black_clipped for m in measured) / n,
        sum(m.white_clipped for m in measured) / n,
        sum(m.luma_low for m in measured) / n,
        sum(m.luma_high for m in measured) / n,
        tuple(sum(m.mean_rgb[c] for m in measured) / n for c in range(3)),  # type: ignore[arg-type]
    )
