"""Test helpers for the viewer, timeline and playback tests (gui-core): a fake clip whose
frame i is a flat grey of level i/255, so any displayed pixel tells which frame it is."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from engine.pipeline import ShotPlan
from engine.project.recipe import Recipe, Step


@dataclass(frozen=True)
class FakeInfo:
    """The MediaInfo fields the GUI reads."""

    width: int = 64
    height: int = 48
    fps: Fraction = Fraction(25)
    frame_count: int = 60
    timecode: str | None = "01:00:00:00"
    bit_depth: int = 8


class LevelReader:
    """Frame i: flat grey of level i/255 (float32 (H, W, 3)). While `gate` is set to an
    unset Event, reads block until it is set (to hold the worker busy in a test)."""

    def __init__(self, info: FakeInfo | None = None, gate: threading.Event | None = None) -> None:
        self.info = info or FakeInfo()
        self.gate = gate
        self.started = threading.Event()
        self.reads: list[int] = []

    def read(self, index: int) -> np.ndarray:
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(10), "test gate never opened"
        self.reads.append(index)
        return np.full((self.info.height, self.info.width, 3), index / 255.0, np.float32)

    def close(self) -> None:
        pass


def exposure_plan(frame_count: int, stops: float = 1.0, cuts: tuple[int, ...] = ()) -> ShotPlan:
    """Every shot brightened by `stops` (1 stop doubles each level)."""
    recipe = Recipe.of([Step.create("color", {"exposure": stops})])
    return ShotPlan.from_cuts(frame_count, list(cuts), recipe)


def level_of(image) -> float:
    """Mean 8-bit level of a QImage (0-255)."""
    from ui.image import qimage_to_array

    return float(qimage_to_array(image).mean())
