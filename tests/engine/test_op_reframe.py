"""Reframe: the picture moved, enlarged and turned by exactly what was asked, the frame's
size kept, the uncovered strip filled and masked, values keyframed into a pan and scan."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import OperatorError
from engine.ops.base import Window
from engine.ops.registry import create
from engine.pipeline import Evaluator, ShotPlan
from engine.project import Recipe, Step


def target(width: int = 160, height: int = 120) -> np.ndarray:
    """A frame with a smooth pattern and a bright square at (70-89, 50-69)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    frame = np.stack([0.3 + 0.1 * np.sin(x / 9), 0.3 + 0.1 * np.cos(y / 7),
                      np.full_like(x, 0.3)], axis=-1)
    frame[50:70, 70:90] = 0.9
    return frame


def square_centre(frame: np.ndarray) -> tuple[float, float]:
    """(x, y) of the bright square's centre of mass, in pixels."""
    bright = frame[..., 2] > 0.6
    ys, xs = np.nonzero(bright)
    return float(xs.mean()), float(ys.mean())


def run(values: dict, frame: np.ndarray, scale: float = 1.0):
    op = create("reframe", values)
    return op.process(Window((frame,), (0,), 0, (0, 0), scale=scale))


def test_the_defaults_pass_the_frame_on_untouched() -> None:
    frame = target()
    result = run({}, frame)
    assert result.frame is frame and not result.mask.any()


def test_the_picture_moves_by_the_pixels_asked_and_the_strip_is_filled_black() -> None:
    frame = target()
    result = run({"pan_x": 12.0, "pan_y": -7.5}, frame)
    assert result.frame.shape == frame.shape
    x, y = square_centre(result.frame)
    assert (x, y) == pytest.approx((79.5 + 12.0, 59.5 - 7.5), abs=0.05)
    # The left 12 columns and the bottom 7.5 rows are uncovered: black, and masked.
    assert np.all(result.frame[:, :11] == 0.0) and np.all(result.frame[-6:] == 0.0)
    assert result.mask[:, :11].all() and result.mask[-7:].all()
    assert not result.mask[20:100, 20:140].any()
    # At a half-size preview the same move is half as many of its pixels.
    half = target(80, 60)
    half[:] = 0.3
    half[25:35, 35:45] = 0.9
    moved = run({"pan_x": 12.0}, half, scale=0.5).frame
    assert square_centre(moved)[0] == pytest.approx(39.5 + 6.0, abs=0.05)


def test_size_and_rotation_turn_about_the_frame_centre() -> None:
    frame = target()
    centre = np.array([79.5, 59.5])
    enlarged = run({"zoom": 200.0}, frame).frame
    # The square, 20 px from the centre's x... now twice as far, and twice as wide.
    x, _y = square_centre(enlarged)
    assert x == pytest.approx(centre[0] + 2 * (79.5 - centre[0]), abs=0.1)
    assert (enlarged[..., 2] > 0.6).sum() == pytest.approx(4 * 400, rel=0.05)
    # A square off-centre turned 90° anticlockwise on screen: right of centre → above it.
    frame = target()
    frame[:] = 0.3
    frame[55:65, 110:120] = 0.9  # 35 px right of the centre
    turned = run({"rotate": 45.0}, run({"rotate": 45.0}, frame).frame).frame
    x, y = square_centre(turned)
    assert (x, y) == pytest.approx((centre[0], centre[1] - 35.0), abs=0.3)
    assert run({"rotate": 5.0}, target()).mask[0, 0] == 1.0  # the corners uncovered


def test_borders_can_be_mirrored_instead() -> None:
    frame = target()
    result = run({"pan_x": 10.0, "border": "reflect"}, frame)
    np.testing.assert_allclose(result.frame[:, 9], frame[:, 1], atol=1e-5)  # the mirror
    assert result.mask[:, :10].all()  # still not picture: masked


def test_keyframed_values_make_a_pan_and_scan() -> None:
    frames = [target() for _ in range(11)]
    step = (Step.create("reframe", {"zoom": 150.0})
            .with_keyframe("pan_x", 0, -20.0).with_keyframe("pan_x", 10, 20.0))
    evaluator = Evaluator(_Frames(frames))
    plan = ShotPlan.single(11, Recipe.of([step]))
    xs = [square_centre(evaluator.evaluate(i, plan).restored)[0] for i in (0, 5, 10)]
    # Enlarged 1.5× about the centre, then moved: −20, 0, +20 px across the shot.
    assert xs == pytest.approx([79.5 - 20, 79.5, 79.5 + 20], abs=0.1)


def test_bad_values_name_the_operator() -> None:
    with pytest.raises(OperatorError, match="reframe"):
        create("reframe", {"zoom": 10.0})
    with pytest.raises(OperatorError, match="reframe"):
        create("reframe", {"border": "smear"})


class _Frames:
    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames = frames

    def read(self, index: int) -> np.ndarray:
        return self.frames[index]
