"""Degrain: grain reduced without ghosts, clean footage kept, shots respected, bad params."""

from __future__ import annotations

import numpy as np
import pytest

from engine import metrics
from engine.errors import OperatorError
from engine.ops.base import Operator, Window
from engine.ops.registry import create
from engine.synth.damage import DamageSpec, apply_damage
from engine.synth.scenes import moving_scene


def run(op: Operator, frames: list[np.ndarray], first: int = 0, key: str = "clip"
        ) -> list[np.ndarray]:
    """Process every frame of one shot the way the pipeline does (windows clamped to it)."""
    n, r = len(frames), op.temporal_radius
    out = []
    for i in range(n):
        lo, hi = max(0, i - r), min(n - 1, i + r)
        window = Window(frames=tuple(frames[lo:hi + 1]),
                        indices=tuple(range(first + lo, first + hi + 1)), center=i - lo,
                        shot=(first, first + n - 1), key=key)
        out.append(op.process(window).frame)
    return out


def test_grain_is_reduced() -> None:
    clean = moving_scene(6, 320, 180, seed=5)
    grainy = apply_damage(clean, DamageSpec(grain=0.04, seed=5)).frames
    out = run(create("degrain", {"keep_grain": 0.0}), grainy)
    assert metrics.psnr(out, clean) > metrics.psnr(grainy, clean) + 3.0


def test_no_ghost_of_a_fast_object() -> None:
    # A bright square jumps 12 px per frame over a dark grainy ground: averaging without
    # motion compensation would leave faint copies of it at its neighbours' positions.
    rng = np.random.default_rng(0)
    frames, clean = [], []
    for i in range(5):
        f = np.full((96, 160, 3), 0.2, np.float32)
        f[30:60, 20 + 12 * i:50 + 12 * i] = 0.8
        clean.append(f.copy())
        frames.append(f + rng.normal(0, 0.02, f.shape).astype(np.float32))
    out = run(create("degrain", {"keep_grain": 0.0, "radius": 2}), frames)
    square = np.zeros((96, 160), bool)
    square[30:60, 20 + 24:50 + 24] = True
    ring = np.zeros((96, 160), bool)
    ring[26:64, 0:140] = True
    ring &= ~square
    # Where the ground was (outside the square at frame 2), no trace of the square.
    err = np.abs(out[2] - clean[2]).max(axis=2)
    assert float(np.percentile(err[ring], 99.5)) < 0.1
    assert float(np.abs(out[2] - clean[2])[square].mean()) < 0.02


def test_clean_moving_footage_is_unchanged() -> None:
    frames = moving_scene(5, 320, 180, seed=8)
    out = run(create("degrain"), frames)
    assert metrics.psnr(out, frames) >= 45.0


def _fine_detail(frame: np.ndarray) -> float:
    """Std (levels) of the pixel-to-pixel differences: what the eye reads as grain."""
    return float(np.std(np.diff(frame, axis=1)))


def test_keep_grain_puts_grain_back() -> None:
    clean = moving_scene(4, 160, 96, seed=3, motion="pan")
    grainy = apply_damage(clean, DamageSpec(grain=0.04, seed=3)).frames
    smooth = run(create("degrain", {"keep_grain": 0.0}), grainy)
    filmic = run(create("degrain", {"keep_grain": 0.5}), grainy)
    for s, f, g in zip(smooth, filmic, grainy, strict=True):
        assert _fine_detail(s) < _fine_detail(f) < _fine_detail(g)


def test_window_never_sees_the_previous_shot() -> None:
    # Shot A (frames 16-19) is bright; shot B starts at frame 20. B's first frame, made by
    # an instance that has just processed A (memoised flows and grain levels), must be
    # exactly what a fresh instance makes from B's own frames, and must be degrained.
    a = [np.clip(f + 0.3, 0, 1) for f in moving_scene(4, 160, 96, seed=1, motion="pan")]
    clean_b = moving_scene(4, 160, 96, seed=6, motion="pan")
    b = apply_damage(clean_b, DamageSpec(grain=0.04, seed=6)).frames
    used = create("degrain", {"radius": 2})
    run(used, a, first=16, key="shot-a")
    window = Window(frames=tuple(b[:3]), indices=(20, 21, 22), center=0, shot=(20, 23),
                    key="shot-b")
    res = used.process(window)
    fresh = create("degrain", {"radius": 2}).process(window)
    np.testing.assert_array_equal(res.frame, fresh.frame)
    assert metrics.psnr(res.frame, clean_b[0]) > metrics.psnr(b[0], clean_b[0]) + 2.0
    assert res.mask is not None and res.mask.shape == (96, 160)


@pytest.mark.parametrize("values, word", [
    ({"strength": -1}, "strength"),
    ({"radius": 4}, "radius"),
    ({"keep_grain": 1.5}, "keep_grain"),
    ({"spatial": "a lot"}, "spatial"),
])
def test_invalid_parameters_name_the_operator(values: dict, word: str) -> None:
    with pytest.raises(OperatorError) as err:
        create("degrain", values)
    assert str(err.value).startswith("degrain:")
    assert word in str(err.value)
