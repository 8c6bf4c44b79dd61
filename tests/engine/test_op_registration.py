"""Colour registration: colour records moved back onto the reference, nothing else moved."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import OperatorError
from engine.media import open_reader
from engine.metrics import psnr
from engine.ops.base import ANALYSIS_WIDTH, Operator, Window
from engine.ops.color import analysis_frame
from engine.ops.registry import create
from engine.synth.scenes import moving_scene

N, W, H = 12, 640, 360


def misregister(frames: list[np.ndarray], red: tuple[float, float, float],
                blue: tuple[float, float, float]) -> list[np.ndarray]:
    """`frames` with the red and blue records moved by (scale, dx, dy) about the centre."""
    cx, cy = (W - 1) / 2, (H - 1) / 2

    def move(plane: np.ndarray, s: float, dx: float, dy: float) -> np.ndarray:
        m = np.float32([[s, 0, (1 - s) * cx + dx], [0, s, (1 - s) * cy + dy]])
        return cv2.warpAffine(plane, m, (W, H), flags=cv2.INTER_CUBIC,
                              borderMode=cv2.BORDER_REFLECT)

    return [np.dstack([move(f[..., 0], *red), f[..., 1], move(f[..., 2], *blue)])
            .astype(np.float32) for f in frames]


def windows(frames: list[np.ndarray], first: int = 0,
            shot: tuple[int, int] | None = None) -> list[Window]:
    """The windows the pipeline gives the operator for each frame of `shot` (clip frames
    first…): small analysis frames of the whole shot, the same at every scale."""
    shot = shot or (first, first + len(frames) - 1)

    def analyse(j: int) -> np.ndarray:
        if not shot[0] <= j <= shot[1]:
            raise IndexError(f"frame {j} outside shot {shot}")
        f = frames[j - first]
        return analysis_frame(Window(frames=(f,), indices=(j,), center=0, shot=(j, j)), j)

    return [Window(frames=(frames[i],), indices=(first + i,), center=0, shot=shot,
                   key="clip", analyse=analyse,
                   analysis_scale=min(1.0, ANALYSIS_WIDTH / frames[0].shape[1]),
                   analysis_key="clip@analysis")
            for i in range(shot[0] - first, shot[1] - first + 1)]


def run(op: Operator, frames: list[np.ndarray], first: int = 0,
        shot: tuple[int, int] | None = None) -> list[np.ndarray]:
    """Every frame of `shot` through `op`."""
    return [op.process(w).frame for w in windows(frames, first, shot)]


def inner(frame: np.ndarray) -> np.ndarray:
    return frame[16:-16, 16:-16]  # the warps' borders are filled, not picture


@pytest.fixture(scope="module")
def scene() -> list[np.ndarray]:
    return moving_scene(N, W, H, seed=4)


def test_misregistered_records_are_brought_back(scene) -> None:
    damaged = misregister(scene, (1.0, 3.4, -2.2), (1.0, -2.6, 1.7))
    op = create("registration")
    for window in windows(damaged)[::5]:
        (_, rx, ry), (_, bx, by) = op.correction(window)
        assert np.hypot(rx - 3.4, ry + 2.2) < 0.2 and np.hypot(bx + 2.6, by - 1.7) < 0.2
    restored = run(op, damaged)
    before = psnr([inner(f) for f in damaged], [inner(f) for f in scene])
    after = psnr([inner(f) for f in restored], [inner(f) for f in scene])
    assert after > before + 10, (before, after)


def test_lens_fringes_that_grow_to_the_edges_need_the_scale_model(scene) -> None:
    damaged = misregister(scene, (1.006, 0.0, 0.0), (0.995, 0.0, 0.0))
    clean = [inner(f) for f in scene]
    shifted = psnr([inner(f) for f in run(create("registration"), damaged)], clean)
    scaled = psnr([inner(f) for f in run(create("registration", {"model": "scale"}),
                                         damaged)], clean)
    assert scaled > psnr([inner(f) for f in damaged], clean) + 10
    assert scaled > shifted + 5


def test_registered_footage_is_left_essentially_as_it_was(scene) -> None:
    restored = run(create("registration"), scene)
    assert psnr(restored, scene) >= 45


def test_a_black_and_white_scan_is_passed_through_untouched() -> None:
    grey = [np.repeat(f.mean(axis=2, keepdims=True), 3, axis=2)
            for f in moving_scene(6, W, H, seed=2)]
    op = create("registration")
    for window in windows(grey):
        result = op.process(window)
        assert result.frame is window.current and not result.mask.any()


def test_the_registration_is_measured_inside_the_shot_only(scene) -> None:
    # Two shots, registered differently (two reels spliced): each is corrected by its own.
    frames = (misregister(scene[:6], (1.0, 3.0, 0.0), (1.0, 0.0, 0.0))
              + misregister(scene[6:], (1.0, -3.0, 0.0), (1.0, 0.0, 0.0)))
    op = create("registration", {"smoothing": 12})
    last_of_first = op.correction(windows(frames, shot=(0, 5))[-1])
    first_of_second = op.correction(windows(frames, shot=(6, 11))[0])
    assert last_of_first[0][1] == pytest.approx(3.0, abs=0.2)
    assert first_of_second[0][1] == pytest.approx(-3.0, abs=0.2)


@pytest.mark.parametrize("values", [{"reference": "yellow"}, {"max_shift": 0},
                                    {"model": "warp"}, {"smoothing": -1}])
def test_invalid_parameters_name_the_operator(values) -> None:
    with pytest.raises(OperatorError, match="registration"):
        create("registration", values)


FOOTAGE = Path(__file__).resolve().parents[3] / "shared" / "footage"


@pytest.mark.skipif(not (FOOTAGE / "bigbuckbunny.mp4").exists(), reason="needs ../shared")
def test_real_registered_footage_is_left_as_it_was() -> None:
    with open_reader(FOOTAGE / "bigbuckbunny.mp4") as reader:
        frames = [reader.read(i) for i in range(0, 48, 2)]
    assert psnr(run(create("registration"), frames), frames) >= 45
