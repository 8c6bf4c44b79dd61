"""Frame-rate conversion of a sequence of (restored) frames.

`Retimer` walks a `RetimeMap` in order and produces each output frame from the source
frames around its instant: the source frame itself where the instant falls on one, else an
in-between of frames n and n + 1. Two frames of different shots are never mixed: across a
cut the nearer frame is repeated, so the cut stays a clean cut, at the right time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction

import numpy as np

from engine.pipeline.shot_plan import ShotPlan
from engine.project.recipe import Recipe
from engine.retime.interpolate import Interpolator, Motion, cross_fade
from engine.retime.timing import RetimeMap, Sample

METHODS = ("motion", "blend", "nearest")
"""motion: optical-flow in-betweens; blend: cross-fades; nearest: repeat/drop frames."""

SNAP = Fraction(1, 64)
"""Phases this close to a source frame show that frame: at 1/64 of even fast motion
(8 px/frame) the in-between differs from it by an eighth of a pixel, which no one sees,
while interpolating would cost time and a little sharpness (24000/1001 ↔ 24 conversions
have phases drifting by 1/1000 per frame, so most of their frames are snapped)."""


class Retimer:
    """Output frames of `rmap` from `source(i)`, the (restored) source frame i.

    plan:        shots of the source (absolute frame indices); None = one shot.
    method:      one of METHODS.
    interpolator: shared Interpolator (one per thread); a new one when None.
    Source frames are requested in increasing order, each at most once per run of
    consecutive outputs that need it, so `source` may be an expensive evaluator.
    """

    def __init__(
        self,
        rmap: RetimeMap,
        source: Callable[[int], np.ndarray],
        plan: ShotPlan | None = None,
        method: str = "motion",
        interpolator: Interpolator | None = None,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"retime method must be one of {', '.join(METHODS)}, got {method!r}")
        self.rmap = rmap
        self.source = source
        self.plan = plan
        self.method = method
        self._interpolator = interpolator
        self._frames: dict[int, np.ndarray] = {}
        self._motion: tuple[int, Motion] | None = None

    def _frame(self, index: int) -> np.ndarray:
        frame = self._frames.get(index)
        if frame is None:
            frame = self.source(index)
            # Only the pair around the current instant is ever needed again.
            for old in [i for i in self._frames if i < index - 1]:
                del self._frames[old]
            self._frames[index] = frame
        return frame

    def same_shot(self, a: int, b: int) -> bool:
        """Whether source frames a and b belong to the same shot."""
        if self.plan is None:
            return True
        return self.plan.shot_at(a).start == self.plan.shot_at(b).start

    def resolve(self, sample: Sample) -> tuple[int, Fraction]:
        """(source frame, phase) actually used for `sample`: phase 0 means "that frame as
        it is" (snapped, held at the range's end, or the nearer side of a cut)."""
        n, phase = sample.frame, sample.phase
        if phase <= SNAP:
            return n, Fraction(0)
        if phase >= 1 - SNAP:
            return min(n + 1, self.rmap.last), Fraction(0)
        if n + 1 > self.rmap.last:
            return n, Fraction(0)  # past the range's last frame: hold it
        if not self.same_shot(n, n + 1) or self.method == "nearest":
            # Ties go to the earlier frame, so a cut lands exactly where it was.
            return (n, Fraction(0)) if phase <= Fraction(1, 2) else (n + 1, Fraction(0))
        return n, phase

    def frame(self, sample: Sample) -> np.ndarray:
        """The output frame for `sample` (float32 (H, W, 3), levels 0-1)."""
        n, phase = self.resolve(sample)
        a = self._frame(n)
        if phase == 0:
            return a
        b = self._frame(n + 1)
        if self.method == "blend":
            return cross_fade(a, b, float(phase))
        if self._interpolator is None:
            self._interpolator = Interpolator()
        if self._motion is None or self._motion[0] != n:
            # One motion analysis per pair serves every phase between them (16 → 24 fps
            # puts two in-betweens in some pairs).
            self._motion = (n, self._interpolator.motion(a, b))
        return self._interpolator.interpolate(a, b, float(phase), self._motion[1])

    def __iter__(self) -> Iterator[tuple[Sample, np.ndarray]]:
        for sample in self.rmap:
            yield sample, self.frame(sample)


def retime_frames(
    frames: list[np.ndarray],
    in_fps: Fraction,
    out_fps: Fraction,
    *,
    cuts: tuple[int, ...] = (),
    method: str = "motion",
) -> list[np.ndarray]:
    """Convert a list of frames (a whole clip in memory) from in_fps to out_fps.

    cuts: indices of the first frame of each new shot. Handy for short clips and tests;
    exports go through `engine.render` with a Retimer over the evaluator.
    """
    if not frames:
        return []
    rmap = RetimeMap(0, len(frames) - 1, Fraction(in_fps), Fraction(out_fps))
    plan = ShotPlan.from_cuts(len(frames), list(cuts), Recipe()) if cuts else None
    return [frame for _, frame in Retimer(rmap, frames.__getitem__, plan, method)]
