"""Restoration quality metrics: how close a restored clip is to the clean truth.

Frames are float32 (H, W, 3) RGB, levels 0-1; masks are bool (H, W). Functions that take
"frames" accept one frame or a sequence of frames; counts are pooled over all frames (a
frame with more damage weighs more, as it does for the viewer).

Used by the quality benchmark and by operator tests against `engine.synth.damage` ground
truth. numpy and OpenCV only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

# Rec. 709 luma weights, as everywhere in Nitrate.
LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)

Frames = np.ndarray | Sequence[np.ndarray]


def _as_list(frames: Frames) -> list[np.ndarray]:
    if isinstance(frames, np.ndarray) and frames.ndim in (2, 3) and (
        frames.ndim == 2 or frames.shape[-1] in (1, 3)
    ):
        return [frames]
    return list(frames)


def _pairs(a: Frames, b: Frames, what: str) -> list[tuple[np.ndarray, np.ndarray]]:
    la, lb = _as_list(a), _as_list(b)
    if len(la) != len(lb):
        raise ValueError(f"{what}: {len(la)} frames against {len(lb)}")
    for x, y in zip(la, lb, strict=True):
        if x.shape[:2] != y.shape[:2]:
            raise ValueError(f"{what}: frame sizes differ, {x.shape} against {y.shape}")
    return list(zip(la, lb, strict=True))


def luma(frame: np.ndarray) -> np.ndarray:
    """Rec. 709 luma (H, W) float32 of an RGB frame; a (H, W) array is returned as is."""
    if frame.ndim == 2:
        return frame.astype(np.float32, copy=False)
    return (frame.astype(np.float32, copy=False) @ LUMA).astype(np.float32)


def _max_channel_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = cv2.absdiff(a.astype(np.float32, copy=False), b.astype(np.float32, copy=False))
    if d.ndim == 2:
        return d
    return np.maximum(np.maximum(d[..., 0], d[..., 1]), d[..., 2])


# --- fidelity -----------------------------------------------------------------------------

def psnr(a: Frames, b: Frames, mask: Frames | None = None) -> float:
    """Peak signal-to-noise ratio in dB (peak 1.0) over all channels and frames.

    With `mask` (bool (H, W) per frame) only those pixels count. Identical inputs give
    `math.inf`; an empty mask gives `math.nan`.
    """
    pairs = _pairs(a, b, "psnr")
    masks = _as_list(mask) if mask is not None else [None] * len(pairs)
    if len(masks) != len(pairs):
        raise ValueError(f"psnr: {len(masks)} masks for {len(pairs)} frames")
    total, count = 0.0, 0
    for (x, y), m in zip(pairs, masks, strict=True):
        d = x.astype(np.float64) - y.astype(np.float64)
        if m is not None:
            d = d[m.astype(bool)]
        total += float(np.sum(d * d))
        count += d.size
    if count == 0:
        return math.nan
    mse = total / count
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def ssim(a: Frames, b: Frames) -> float:
    """Structural similarity (Wang et al. 2004) on luma, mean over pixels and frames, 0-1.

    Gaussian window sigma 1.5 px (11 x 11), K1 = 0.01, K2 = 0.03, dynamic range 1.0. The
    5-pixel border, where the window leaves the frame, is not counted.
    """
    c1, c2 = 0.01**2, 0.03**2
    values = []
    for x, y in _pairs(a, b, "ssim"):
        lx, ly = luma(x).astype(np.float64), luma(y).astype(np.float64)

        def blur(img: np.ndarray) -> np.ndarray:
            return cv2.GaussianBlur(img, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

        mx, my = blur(lx), blur(ly)
        sxx = blur(lx * lx) - mx * mx
        syy = blur(ly * ly) - my * my
        sxy = blur(lx * ly) - mx * my
        smap = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
        if smap.shape[0] > 10 and smap.shape[1] > 10:
            smap = smap[5:-5, 5:-5]
        values.append(float(smap.mean()))
    return float(np.mean(values)) if values else math.nan


# --- global shift -------------------------------------------------------------------------

def _gauss_newton_shift(ref: np.ndarray, test: np.ndarray, est: np.ndarray) -> np.ndarray | None:
    """Refine translation `est` (pixels) of luma `test` against luma `ref` by Lucas-Kanade
    steps over the whole frame; None when the picture cannot pin a shift down."""
    h, w = ref.shape
    margin = int(math.ceil(np.abs(est).max())) + 4
    if h <= 2 * margin + 8 or w <= 2 * margin + 8:
        return None
    inner = (slice(margin, h - margin), slice(margin, w - margin))
    # A light blur makes the linearisation valid over the remaining pixel or so.
    r = cv2.GaussianBlur(ref, (0, 0), 1.0)
    gx = (cv2.Sobel(r, cv2.CV_32F, 1, 0, ksize=3) / 8.0)[inner]
    gy = (cv2.Sobel(r, cv2.CV_32F, 0, 1, ksize=3) / 8.0)[inner]
    est = est.astype(np.float64).copy()
    for _ in range(8):
        moved = cv2.GaussianBlur(shift_frame(test, -est[0], -est[1]), (0, 0), 1.0)
        diff = (moved - r)[inner]
        # Robust: pixels far off the typical residual belong to something else (moving
        # objects, dust), not to the global shift.
        keep = np.abs(diff) <= max(0.01, 3.0 * float(np.median(np.abs(diff))))
        kx, ky, kd = gx[keep], gy[keep], diff[keep]
        a = np.array([[np.dot(kx, kx), np.dot(kx, ky)], [np.dot(kx, ky), np.dot(ky, ky)]],
                     dtype=np.float64)
        if not np.isfinite(a).all() or np.linalg.cond(a) > 1e6:
            return None  # flat or one-directional picture
        step = np.linalg.solve(a, np.array([np.dot(kx, kd), np.dot(ky, kd)], np.float64))
        est -= step
        if np.abs(step).max() < 1e-3:
            break
    return est


def _downscale(img: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return img
    h, w = img.shape[:2]
    return cv2.resize(img, (max(1, w // factor), max(1, h // factor)),
                      interpolation=cv2.INTER_AREA)


def _detail(img: np.ndarray) -> np.ndarray:
    """Luma minus its local mean (sigma 8 px): the texture, without the brightness.

    Flicker, regional flicker and fading change the brightness of broad areas between the
    two frames; matching on detail keeps those from pulling the shift estimate.
    """
    return img - cv2.GaussianBlur(img, (0, 0), 8.0)


def align_shift(test: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """Global translation (dx, dy) in pixels (subpixel) of `test` relative to `ref`.

    Positive dx: `test`'s content sits further right than `ref`'s. Coarse to fine: phase
    correlation (Hann window) on a copy downscaled to ~180 px high, where film grain, which
    phase correlation's whitened spectrum would otherwise weigh as much as the picture, is
    averaged away; then Gauss-Newton (Lucas-Kanade) refinement on the whole frame at each
    finer scale, ignoring pixels that disagree strongly (moving objects, dust). Phase
    correlation alone is biased by up to 0.3 px near half-pixel shifts; the refinement is
    good to a few hundredths of a pixel on textured footage. Used before PSNR when an
    operator or peer shifts the picture, and to measure weave.
    """
    if test.shape[:2] != ref.shape[:2]:
        raise ValueError(f"align_shift: frame sizes differ, {test.shape} against {ref.shape}")
    h, w = ref.shape[:2]
    lr, lt = luma(ref), luma(test)
    factor = 1
    while min(h, w) // (factor * 2) >= 180:
        factor *= 2
    sr, st = _detail(_downscale(lr, factor)), _detail(_downscale(lt, factor))
    window = cv2.createHanningWindow((sr.shape[1], sr.shape[0]), cv2.CV_32F)
    # Copies: OpenCV 5's phaseCorrelate multiplies its inputs by the window in place.
    (dx, dy), _ = cv2.phaseCorrelate(sr.copy(), st.copy(), window)
    est = np.array([dx, dy], dtype=np.float64) * factor
    best = est.copy()
    while True:
        refined = _gauss_newton_shift(_detail(_downscale(lr, factor)),
                                      _detail(_downscale(lt, factor)), est / factor)
        if refined is not None and np.abs(refined * factor - est).max() <= 1.5 * factor:
            est = refined * factor
            best = est.copy()
        if factor == 1:
            break
        factor //= 2
    return float(best[0]), float(best[1])


def shift_frame(frame: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """`frame` moved right by dx and down by dy pixels (subpixel, bicubic, edges replicated)."""
    h, w = frame.shape[:2]
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REPLICATE)


def align_to(test: np.ndarray, ref: np.ndarray, max_shift: float = 32.0
             ) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """`test` moved onto `ref`, both cropped to the part valid after the move.

    Returns (aligned test, cropped ref, (dx, dy) removed). A shift under 0.05 px is left
    alone (phase correlation noise; resampling would blur); one over `max_shift` pixels is
    treated as a failed estimate and ignored. The crop is ceil(|shift|) + 1 pixels on every
    side, so comparisons stay like for like across operators.
    """
    dx, dy = align_shift(test, ref)
    if math.hypot(dx, dy) < 0.05 or math.hypot(dx, dy) > max_shift:
        return test, ref, (0.0, 0.0)
    moved = shift_frame(test, -dx, -dy)
    m = int(math.ceil(max(abs(dx), abs(dy)))) + 1
    h, w = ref.shape[:2]
    return moved[m:h - m, m:w - m], ref[m:h - m, m:w - m], (dx, dy)


# --- repair and collateral ------------------------------------------------------------------

def repaired_fraction(out: Frames, clean: Frames, damaged_mask: Frames, tol: float) -> float:
    """Share (0-1) of damaged pixels that are now within `tol` (levels, every channel) of
    the clean frame. `nan` when nothing was damaged."""
    pairs = _pairs(out, clean, "repaired_fraction")
    masks = _as_list(damaged_mask)
    if len(masks) != len(pairs):
        raise ValueError(f"repaired_fraction: {len(masks)} masks for {len(pairs)} frames")
    good = total = 0
    for (o, c), m in zip(pairs, masks, strict=True):
        m = m.astype(bool)
        total += int(m.sum())
        good += int((_max_channel_diff(o, c)[m] <= tol).sum())
    return good / total if total else math.nan


def collateral_fraction(out: Frames, inp: Frames, undamaged_mask: Frames, tol: float) -> float:
    """Share (0-1) of undamaged pixels that the operator changed by more than `tol` levels
    (in some channel) from its input: the harm done where there was nothing to repair."""
    pairs = _pairs(out, inp, "collateral_fraction")
    masks = _as_list(undamaged_mask)
    if len(masks) != len(pairs):
        raise ValueError(f"collateral_fraction: {len(masks)} masks for {len(pairs)} frames")
    bad = total = 0
    for (o, i), m in zip(pairs, masks, strict=True):
        m = m.astype(bool)
        total += int(m.sum())
        bad += int((_max_channel_diff(o, i)[m] > tol).sum())
    return bad / total if total else math.nan


# --- temporal stability -------------------------------------------------------------------

# Brightness changes slower than this (Gaussian sigma, frames; ~0.3 s at 24 fps) are not
# counted as flicker: no deflicker can tell a slow drift from an intended exposure change
# without the clean reference, and the eye sees pumping, not a gentle drift.
FLICKER_SMOOTH_FRAMES = 3.0


def residual_flicker(out_frames: Sequence[np.ndarray], clean_frames: Sequence[np.ndarray],
                     smooth_frames: float | None = FLICKER_SMOOTH_FRAMES) -> float:
    """Residual flicker (levels 0-1): std over time of each frame's mean-luma error against
    the clean frame's.

    A constant offset (a different but steady grade) does not count; frame-to-frame pumping
    does. With `smooth_frames` (default), the error's slow part (a Gaussian moving average
    of that sigma, frames) is removed first, so only flicker faster than ~0.3 s counts;
    `smooth_frames=None` gives the plain std of the error, drift included.
    """
    pairs = _pairs(out_frames, clean_frames, "residual_flicker")
    err = np.array([float(luma(o).mean() - luma(c).mean()) for o, c in pairs])
    if len(err) == 0:
        return math.nan
    if smooth_frames is not None and len(err) >= 3:
        err = err - _smooth(err[:, None], smooth_frames)[:, 0]
        return float(np.sqrt(np.mean(err * err)))
    return float(np.std(err))


def _smooth(series: np.ndarray, sigma: float) -> np.ndarray:
    """Slow part of `series` (frames along axis 0): Gaussian-weighted local linear fit.

    A local line rather than a plain moving average, so a steady trend (a pan, a fade-up)
    is followed right to the first and last frames instead of lagging there.
    """
    n = len(series)
    r = int(math.ceil(3 * sigma))
    out = np.empty(series.shape, dtype=np.float64)
    for i in range(n):
        lo, hi = max(0, i - r), min(n, i + r + 1)
        t = np.arange(lo, hi, dtype=np.float64) - i
        w = np.exp(-0.5 * (t / sigma) ** 2)
        if len(t) < 2:
            out[i] = series[i]
            continue
        # Weighted least squares for a + b t; the value at t = 0 is a.
        sw, st, stt = w.sum(), (w * t).sum(), (w * t * t).sum()
        y = series[lo:hi].astype(np.float64)
        swy, sty = (w[:, None] * y).sum(axis=0), ((w * t)[:, None] * y).sum(axis=0)
        det = sw * stt - st * st
        out[i] = (stt * swy - st * sty) / det if det > 1e-12 else swy / sw
    return out


def offset_track(out_frames: Sequence[np.ndarray], reference_frames: Sequence[np.ndarray]
                 ) -> np.ndarray:
    """Per-frame global offset (n, 2) = (dx, dy) pixels of each output frame against the
    reference frame of the same index (see `align_shift`)."""
    pairs = _pairs(out_frames, reference_frames, "offset_track")
    return np.array([align_shift(o, r) for o, r in pairs], dtype=np.float64).reshape(-1, 2)


# Smooth motion is what survives a Gaussian of this many frames: at 24 fps, changes slower
# than ~0.3 s. Gate weave and jitter are faster; a camera move or a stabiliser's gentle
# path smoothing is slower.
JITTER_SMOOTH_FRAMES = 3.0


def residual_jitter(out_frames: Sequence[np.ndarray], reference_frames: Sequence[np.ndarray]
                    ) -> float:
    """Residual gate weave in pixels (RMS) of `out_frames` against steady reference frames.

    Definition: for every frame t, s_t = global translation (dx, dy) of the output frame
    against the reference frame t (phase correlation; the reference is the clean footage,
    camera motion included). A stabiliser that removed the weave exactly and kept the
    camera's motion gives s_t = 0; one that also crops or gently smooths the path gives a
    slowly varying s_t, which is not jitter. So the slow part, a Gaussian moving average of
    s over JITTER_SMOOTH_FRAMES frames (sigma), is removed and the jitter is
    sqrt(mean_t |s_t - smooth(s)_t|^2). For the woven input itself it is about the weave's
    high-frequency amplitude. Fewer than 3 frames give nan.
    """
    s = offset_track(out_frames, reference_frames)
    if len(s) < 3:
        return math.nan
    resid = s - _smooth(s, JITTER_SMOOTH_FRAMES)
    return float(np.sqrt(np.mean(np.sum(resid * resid, axis=1))))


def camera_motion_lost(out_frames: Sequence[np.ndarray], reference_frames: Sequence[np.ndarray]
                       ) -> float:
    """How far (pixels, max over frames) the output's slow path wandered from the reference
    camera path: the smooth part of the offset track, relative to its first frame. A
    stabiliser that locks a panning shot in place scores about the pan's length; one that
    keeps the camera's motion scores near 0."""
    s = offset_track(out_frames, reference_frames)
    if len(s) < 2:
        return math.nan
    slow = _smooth(s, JITTER_SMOOTH_FRAMES)
    return float(np.max(np.hypot(*(slow - slow[0]).T)))
