"""Motion-compensated in-between frames.

An in-between at phase p (0 = frame a, 1 = frame b) is built in four steps:

1. Bidirectional optical flow a → b and b → a (DIS, `engine.ops.motion`), and from their
   forward–backward disagreement a soft occlusion map for each frame: 1 where that frame's
   pixel has no match in the other (it is being covered, or has just been revealed).
2. The motion is carried to the in-between instant by *forward splatting*: every pixel of
   a moves p of its way, every pixel of b moves 1 − p of its way back, and each drops its
   velocity where it lands. Where several land on one spot, consistent pixels outweigh
   occluded ones, so a moving object's own motion wins over the background it covers.
   Spots where nothing landed are filled from the coarser neighbourhood.
3. Both frames are warped to the in-between along that motion.
4. They are blended, by phase, except where one side cannot see the pixel: where b's
   sample was just revealed (a shows the occluder there), only b counts, and vice versa.
   Where the flow fails over most of the frame (a flash, a blur too fast to follow), the
   result falls back to a plain cross-fade, which never tears the picture.

Frames are float32 (H, W, 3) RGB, levels 0-1; flows are float32 (H, W, 2) in pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from engine.ops.motion import FlowEstimator, consistency_error, luma8

QUALITIES = ("fast", "high")

# Forward–backward error (pixels) below which a match is fully trusted, and the width of
# the soft ramp above it; the tolerance grows a little with speed because fast motion is
# estimated less precisely without being wrong.
_OCCLUSION_TOLERANCE = 0.75
_OCCLUSION_RAMP = 1.5
_OCCLUSION_SPEED_SHARE = 0.05
# Splat weight of an occluded pixel against a consistent one landing on the same spot.
_OCCLUDED_WEIGHT = 1e-3
# Share of pixels occluded in both directions above which the flow is deemed to have
# failed, and the in-between becomes a cross-fade.
_FAILED_SHARE = 0.35


@dataclass(frozen=True)
class Motion:
    """Bidirectional motion between frames a and b (same size).

    forward:    float32 (H, W, 2) px, a → b.    backward: float32 (H, W, 2) px, b → a.
    occluded_a: float32 (H, W) 0-1, a's pixels with no match in b (about to be covered).
    occluded_b: float32 (H, W) 0-1, b's pixels with no match in a (just revealed).
    failed:     True when the flow is unreliable over much of the frame.
    """

    forward: np.ndarray
    backward: np.ndarray
    occluded_a: np.ndarray
    occluded_b: np.ndarray
    failed: bool


def _occlusion(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Soft occlusion map (H, W) 0-1 of the reference frame of `forward`."""
    error = consistency_error(forward, backward)
    speed = cv2.magnitude(forward[..., 0], forward[..., 1])
    tolerance = _OCCLUSION_TOLERANCE + _OCCLUSION_SPEED_SHARE * speed
    return np.clip((error - tolerance) / _OCCLUSION_RAMP, 0.0, 1.0).astype(np.float32)


def _splat(
    x: np.ndarray, y: np.ndarray, values: np.ndarray, weights: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Forward splat onto the nearest pixel.

    x, y: float (N,) landing positions (pixels); values (N, C); weights (N,).
    Returns (weighted sums (H, W, C), weight mass (H, W)); landings outside are dropped.
    Nearest-pixel landing is four times cheaper than bilinear, and the landing is off by
    at most half a pixel: the velocities splatted are smooth, so that is invisible, and
    points from both frames land, so few spots stay empty (those are filled afterwards).
    """
    h, w = shape
    xi = np.rint(x).astype(np.int32)
    yi = np.rint(y).astype(np.int32)
    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
    # Outside landings go to one spare bin past the end instead of being masked out
    # (a boolean gather over every array costs more than the extra bin).
    idx = np.where(inside, yi * w + xi, h * w)
    size = h * w + 1
    mass = np.bincount(idx, weights, size)[:-1]
    sums = np.stack(
        [np.bincount(idx, weights * values[:, c], size)[:-1] for c in range(values.shape[1])],
        axis=-1,
    )
    return (sums.reshape(h, w, -1).astype(np.float32), mass.reshape(h, w).astype(np.float32))


def _fill_holes(sums: np.ndarray, mass: np.ndarray, min_mass: float = 0.05) -> np.ndarray:
    """Normalised field sums / mass, with spots of too little mass filled from a pyramid of
    coarser averages (so holes take the motion of their surroundings)."""
    levels = [(sums, mass)]
    while min(levels[-1][1].shape) > 4 and float(levels[-1][1].min()) < min_mass:
        s, m = levels[-1]
        size = (max(1, s.shape[1] // 2), max(1, s.shape[0] // 2))
        levels.append((cv2.resize(s, size, interpolation=cv2.INTER_AREA),
                       cv2.resize(m, size, interpolation=cv2.INTER_AREA)))
    field: np.ndarray | None = None
    for s, m in reversed(levels):
        here = s / np.maximum(m, 1e-6)[..., None]
        if field is None:
            field = here
            continue
        up = cv2.resize(field, (s.shape[1], s.shape[0]), interpolation=cv2.INTER_LINEAR)
        # Confidence rises with mass: a spot barely touched leans on its surroundings.
        trust = np.clip(m / min_mass, 0.0, 1.0)[..., None]
        field = trust * here + (1.0 - trust) * up
    assert field is not None
    return field.astype(np.float32)


class Interpolator:
    """Builds in-between frames; keeps one DIS instance, so use one per thread.

    quality:   "high" (DIS medium preset, variational refinement) or "fast" (DIS fast).
    max_width: frames wider than this (pixels) are downscaled for flow estimation.
    """

    def __init__(self, quality: str = "high", max_width: int = 960) -> None:
        if quality not in QUALITIES:
            raise ValueError(f"interpolation quality must be one of {', '.join(QUALITIES)}, "
                             f"got {quality!r}")
        self.quality = quality
        self._flow = FlowEstimator("medium" if quality == "high" else "fast", max_width)
        self._grid: tuple[np.ndarray, np.ndarray] | None = None

    def _coords(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        if self._grid is None or self._grid[0].shape != (h, w):
            xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            self._grid = (xs, ys)
        return self._grid

    def motion(self, a: np.ndarray, b: np.ndarray) -> Motion:
        """Flows and occlusions between frames a and b (reuse it for several phases)."""
        if a.shape != b.shape:
            raise ValueError(f"frames differ in size: {a.shape} and {b.shape}")
        la, lb = luma8(a), luma8(b)
        forward = self._flow.flow(la, lb)
        backward = self._flow.flow(lb, la)
        occ_a = _occlusion(forward, backward)
        occ_b = _occlusion(backward, forward)
        both = np.minimum(occ_a, occ_b)
        failed = float(np.mean(both > 0.5)) > _FAILED_SHARE
        return Motion(forward, backward, occ_a, occ_b, failed)

    def _motion_at(self, motion: Motion, phase: float) -> np.ndarray:
        """Velocity field (H, W, 2) px per a → b interval, as seen at the in-between."""
        h, w = motion.forward.shape[:2]
        xs, ys = self._coords(h, w)
        fa, fb = motion.forward, motion.backward
        # Pixels of a move `phase` of their motion; pixels of b move back 1 − phase of theirs
        # (b's velocity in the a → b direction is −backward).
        x = np.concatenate([(xs + phase * fa[..., 0]).ravel(),
                            (xs + (1.0 - phase) * fb[..., 0]).ravel()])
        y = np.concatenate([(ys + phase * fa[..., 1]).ravel(),
                            (ys + (1.0 - phase) * fb[..., 1]).ravel()])
        velocity = np.concatenate([fa.reshape(-1, 2), -fb.reshape(-1, 2)])
        occluded = np.concatenate([motion.occluded_a.ravel(), motion.occluded_b.ravel()])
        # The nearer frame's pixels are a little more trustworthy at the in-between.
        near = np.concatenate([np.full(h * w, 1.0 - phase, np.float32),
                               np.full(h * w, phase, np.float32)])
        weights = (1.0 - occluded) * (0.5 + near) + _OCCLUDED_WEIGHT
        sums, mass = _splat(x, y, velocity, weights, (h, w))
        return _fill_holes(sums, mass)

    def interpolate(
        self, a: np.ndarray, b: np.ndarray, phase: float = 0.5, motion: Motion | None = None
    ) -> np.ndarray:
        """The frame `phase` (0-1) of the way from frame a to frame b."""
        phase = float(phase)
        if not 0.0 <= phase <= 1.0:
            raise ValueError(f"phase must be within 0-1, got {phase}")
        if phase == 0.0:
            return a.copy()
        if phase == 1.0:
            return b.copy()
        motion = motion if motion is not None else self.motion(a, b)
        if motion.failed:
            return cross_fade(a, b, phase)
        h, w = a.shape[:2]
        xs, ys = self._coords(h, w)
        v = self._motion_at(motion, phase)
        ax, ay = xs - phase * v[..., 0], ys - phase * v[..., 1]
        bx, by = xs + (1.0 - phase) * v[..., 0], ys + (1.0 - phase) * v[..., 1]
        from_a = cv2.remap(a, ax, ay, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        from_b = cv2.remap(b, bx, by, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        occ_a = cv2.remap(motion.occluded_a, ax, ay, cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
        occ_b = cv2.remap(motion.occluded_b, bx, by, cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
        # A sample from outside the frame is as good as occluded.
        out_a = ((ax < 0) | (ax > w - 1) | (ay < 0) | (ay > h - 1)).astype(np.float32)
        out_b = ((bx < 0) | (bx > w - 1) | (by < 0) | (by > h - 1)).astype(np.float32)
        occ_a = np.maximum(occ_a, out_a)
        occ_b = np.maximum(occ_b, out_b)
        # b's sample was revealed (and a's was not lost): a shows the occluder, skip it.
        trust_a = 1.0 - occ_b * (1.0 - occ_a)
        trust_b = 1.0 - occ_a * (1.0 - occ_b)
        wa = (1.0 - phase) * trust_a + 1e-4
        wb = phase * trust_b + 1e-4
        share_b = (wb / (wa + wb))[..., None]
        return (from_a + share_b * (from_b - from_a)).astype(np.float32)


def cross_fade(a: np.ndarray, b: np.ndarray, phase: float) -> np.ndarray:
    """Plain blend (1 − phase)·a + phase·b: no motion, no tearing."""
    return cv2.addWeighted(a, 1.0 - float(phase), b, float(phase), 0.0)


def interpolate_frame(
    prev: np.ndarray, next: np.ndarray, phase: float = 0.5, *, quality: str = "high"
) -> np.ndarray:
    """The in-between frame `phase` (0-1) of the way from `prev` to `next`.

    Used to repair a single missing or destroyed frame from its neighbours (phase 0.5)
    and by frame-rate conversion. Frames: float32 (H, W, 3) RGB, levels 0-1, same size.
    """
    return Interpolator(quality).interpolate(prev, next, phase)


def rebuild_frame(
    read: Callable[[int], np.ndarray], index: int, first: int, last: int, *, quality: str = "high"
) -> np.ndarray:
    """Frame `index` rebuilt from its neighbours index − 1 and index + 1.

    `read(i)` returns frame i (float32 (H, W, 3), levels 0-1); first..last (inclusive
    frame indices) bound the shot the frame belongs to, so the repair never mixes two
    shots: at a shot's first or last frame the one neighbour inside it is repeated.
    """
    if not first <= index <= last:
        raise ValueError(f"frame {index} is outside its shot {first}-{last}")
    if first == last:
        raise ValueError(f"frame {index} is a one-frame shot: no neighbour to rebuild it from")
    if index == first:
        return read(index + 1).copy()
    if index == last:
        return read(index - 1).copy()
    return interpolate_frame(read(index - 1), read(index + 1), 0.5, quality=quality)
