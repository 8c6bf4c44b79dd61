"""What the restoration did to each shot, measured on a few sample frames.

For the processing report: each shot is evaluated on a handful of frames spread over it (and
the first frame of each manual repair), at a reduced scale, and for every stage the share of
pixels it changed is averaged. A stage's own mask says what it detected or replaced (dust,
scratches, repairs); for a stage without a mask the change is measured directly, as the
pixels whose level moved by more than CHANGE_LEVEL. The levels of the scan and of the result
(clipping, black and white points, mean colour: `engine.scopes.levels`) are averaged over
the same samples, so the report can say where a recipe clipped what the scan kept.
Thumbnails (before/after) are JPEG bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from engine.errors import RenderCancelled
from engine.pipeline.evaluator import Evaluator
from engine.pipeline.shot_plan import PlannedShot, ShotPlan
from engine.scopes import Levels, levels, mean_levels

MASK_LEVEL = 0.05
"""A mask value above this counts as a changed pixel."""
CHANGE_LEVEL = 0.01
"""Without a mask, a pixel whose level (0-1) moved more than this counts as changed."""
THUMB_WIDTH = 240
"""Width of report thumbnails (pixels)."""


@dataclass(frozen=True)
class StageChange:
    """position: the step's position in the recipe (REPAIR_MASK_KEY for repairs);
    share: fraction 0-1 of pixels changed, averaged over the samples (None when the stage
    changes the frame size, where a share means nothing); from_mask: measured by the
    operator's own mask (else by the level difference); measures: see below."""

    position: int
    share: float | None
    from_mask: bool
    measures: tuple[tuple[str, float, float], ...] = ()
    """What the operator measured and applied (`Result.measures`): (name, mean over the
    samples, largest), names as in the operator's `MEASURES`."""


@dataclass(frozen=True)
class Thumbnail:
    """Before/after JPEGs (bytes) of clip frame `frame`."""

    frame: int
    before: bytes
    after: bytes


@dataclass(frozen=True)
class ShotMeasure:
    """The measured effect of one shot's recipe and repairs."""

    samples: tuple[int, ...]
    changes: tuple[StageChange, ...]
    thumbnail: Thumbnail | None
    repair_thumbnails: tuple[Thumbnail, ...]
    levels_before: Levels  # the scan's, averaged over the samples
    levels_after: Levels   # the result's (recipe and repairs), averaged over the samples


def sample_frames(shot: PlannedShot, count: int) -> tuple[int, ...]:
    """Up to `count` frames spread evenly over the shot (first, middle, last …)."""
    n = min(count, shot.length)
    return tuple(int(i) for i in np.unique(np.linspace(shot.start, shot.end, n).round()))


def measured_frames(shot: PlannedShot, samples: int, repairs: int = 3) -> tuple[int, ...]:
    """The frames a shot is evaluated on: `samples` spread over it and the first frame of
    each of its first `repairs` manual repairs."""
    repaired = [r.start for r in shot.rebuilds[:repairs]]
    return tuple(sorted({*sample_frames(shot, samples), *repaired}))


def jpeg(frame: np.ndarray, width: int = THUMB_WIDTH, quality: int = 85) -> bytes:
    """JPEG bytes of an RGB float frame (levels 0-1), resized to `width` pixels."""
    h, w = frame.shape[:2]
    size = (width, max(1, round(h * width / w)))
    small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA if w > width
                       else cv2.INTER_LINEAR)
    bgr = cv2.cvtColor(np.clip(small * 255.0 + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid 8-bit image
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()


def _changed_share(before: np.ndarray, after: np.ndarray, mask: np.ndarray | None) -> float | None:
    if mask is not None:
        return float(np.mean(mask > MASK_LEVEL))
    if before.shape != after.shape:
        return None
    return float(np.mean(np.abs(after - before).max(axis=2) > CHANGE_LEVEL))


class ShotMeasurer:
    """Measures shots of one clip through one Evaluator (so cached frames are shared)."""

    def __init__(self, evaluator: Evaluator, plan: ShotPlan, *, scale: float = 0.5,
                 samples: int = 3, max_repair_thumbnails: int = 3) -> None:
        self.evaluator = evaluator
        self.plan = plan
        self.scale = scale
        self.samples = samples
        self.max_repair_thumbnails = max_repair_thumbnails

    def frames_for(self, shot: PlannedShot) -> tuple[int, ...]:
        return measured_frames(shot, self.samples, self.max_repair_thumbnails)

    def measure(self, shot: PlannedShot, tick: Callable[[], None] | None = None,
                cancel: Callable[[], bool] | None = None) -> ShotMeasure:
        """Evaluate the shot's sample frames; `tick()` after each, `cancel()` polled before
        each (True raises RenderCancelled)."""
        spread = set(sample_frames(shot, self.samples))
        repaired = {r.start for r in shot.rebuilds[: self.max_repair_thumbnails]}
        totals: dict[int, list[float]] = {}
        measured: dict[int, dict[str, list[float]]] = {}
        masked: dict[int, bool] = {}
        sized: set[int] = set()
        thumbs: dict[int, Thumbnail] = {}
        before_levels: list[Levels] = []
        after_levels: list[Levels] = []
        middle = sorted(spread)[len(spread) // 2]

        def touched(i: int) -> bool:
            return any(r.start <= i <= r.end for r in shot.rebuilds)

        for index in self.frames_for(shot):
            if cancel is not None and cancel():
                raise RenderCancelled("report cancelled")
            original = self.evaluator.original(index, self.scale)
            previous = original
            for position, frame, mask in self.evaluator.stage_outputs(index, self.plan,
                                                                      self.scale):
                # Repairs are measured on the frames they touch only: averaged over spread
                # samples they would mostly read as zero.
                if (index in spread) if position >= 0 else touched(index):
                    share = _changed_share(previous, frame, mask)
                    if share is None:
                        sized.add(position)
                    else:
                        totals.setdefault(position, []).append(share)
                    masked[position] = masked.get(position, False) or mask is not None
                previous = frame
            if index in spread:
                for position, values in self.evaluator.stage_measures(
                        index, self.plan, self.scale).items():
                    for name, value in values.items():
                        measured.setdefault(position, {}).setdefault(name, []).append(value)
                before_levels.append(levels(original))
                after_levels.append(levels(previous))
            if index == middle or index in repaired:
                thumbs[index] = Thumbnail(index, jpeg(original), jpeg(previous))
            if tick is not None:
                tick()
        positions = sorted(set(totals) | sized)
        changes = tuple(
            StageChange(p, None if p in sized else float(np.mean(totals[p])),
                        masked.get(p, False),
                        tuple((name, float(np.mean(v)), float(np.max(v)))
                              for name, v in measured.get(p, {}).items()))
            for p in positions
        )
        return ShotMeasure(
            samples=tuple(sorted(spread)),
            changes=changes,
            thumbnail=thumbs.get(middle),
            repair_thumbnails=tuple(thumbs[i] for i in sorted(repaired) if i in thumbs),
            levels_before=mean_levels(before_levels),
            levels_after=mean_levels(after_levels),
        )
