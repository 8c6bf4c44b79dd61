"""A click on a speck of dirt: how often the repair tool finds it, and how often a click on
clean picture finds something anyway.

    python -m benchmarks.spots [--frames 10,20,30]

On both film scans of `../shared/footage` (skipped when absent), the dust operator marks
the dirt of a few frames. Each detection of 12 pixels or more is "clicked" at its most
extreme pixel, as a restorer clicks a speck, and `engine.ops.region.spot_around` must box
it; then 100 clicks per frame at random places at least 10 pixels from any detection
(clean picture) should find nothing. Printed per scan: specks boxed, clean clicks boxed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import cv2
import numpy as np

from benchmarks.quality import FOOTAGE, present_footage
from engine.media import open_reader
from engine.ops.color import LUMA_WEIGHTS
from engine.ops.region import spot_around
from engine.pipeline import Evaluator, ShotPlan
from engine.project import Recipe, Step
from engine.runtime import configure_threads

SCANS = ("film_the_great_train_robbery", "film_within_our_gates")


def measure(name: str, frames: Sequence[int], seed: int = 0) -> tuple[int, int, int, int]:
    """(specks boxed, specks clicked, clean clicks boxed, clean clicks) on scan `name`."""
    rng = np.random.default_rng(seed)
    boxed = specks = false = clicks = 0
    with open_reader(FOOTAGE / name) as reader:
        evaluator = Evaluator(reader)
        plan = ShotPlan.single(reader.info.frame_count, Recipe.of([Step.create("dust")]))
        for index in frames:
            evaluated = evaluator.evaluate(index, plan)
            luma = evaluated.original @ LUMA_WEIGHTS
            dirt = (next(iter(evaluated.masks.values())) > 0.5).astype(np.uint8)
            count, labels, stats, _centres = cv2.connectedComponentsWithStats(dirt)
            for label in range(1, count):
                if stats[label, cv2.CC_STAT_AREA] < 12:
                    continue
                ys, xs = np.nonzero(labels == label)
                at = np.argmax(np.abs(luma[ys, xs] - np.median(luma)))
                specks += 1
                boxed += spot_around(luma, xs[at], ys[at]) is not None
            clean = cv2.dilate(dirt, np.ones((21, 21), np.uint8)) == 0
            ys, xs = np.nonzero(clean)
            for at in rng.choice(len(ys), 100, replace=False):
                clicks += 1
                false += spot_around(luma, xs[at], ys[at]) is not None
    return boxed, specks, false, clicks


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", default="10,20,30")
    args = ap.parse_args(argv)
    configure_threads()
    frames = [int(f) for f in args.frames.split(",")]
    print(f"Clicks on specks of dirt the dust operator found, frames {frames}")
    print(f"{'scan':<32} {'specks boxed':>14} {'clean clicks boxed':>19}")
    for name, _path in present_footage(SCANS):
        boxed, specks, false, clicks = measure(name, frames)
        print(f"{name:<32} {f'{boxed}/{specks}':>14} {f'{false}/{clicks}':>19}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
