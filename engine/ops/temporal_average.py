"""Plain temporal average over ±radius frames (inside the shot). A simple noise reducer
that also serves as the reference temporal operator of the pipeline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.ops.base import Operator, Result, Window
from engine.ops.params import Params, param


@dataclass(frozen=True)
class TemporalAverageParams(Params):
    radius: int = param(1, label="Radius", unit="frames", minimum=1, maximum=10, step=1,
                        help="Frames averaged on each side of the current one")


class TemporalAverageOperator(Operator):
    id = "temporal_average"
    label = "Temporal average"
    description = "Mean of the frames within ±radius of the current one, never across a cut."
    Params = TemporalAverageParams

    @property
    def temporal_radius(self) -> int:
        return self.params.radius

    def process(self, window: Window) -> Result:
        stack = np.stack(window.frames, axis=0)
        return Result(stack.mean(axis=0, dtype=np.float32))
