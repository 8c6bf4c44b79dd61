"""Line scratches: found and filled, clean footage untouched, shots respected, bad params."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from engine import metrics
from engine.errors import OperatorError
from engine.ops.base import Operator, Window
from engine.ops.registry import create
from engine.synth.damage import DamageSpec, apply_damage
from engine.synth.scenes import moving_scene

FOOTAGE = Path(__file__).resolve().parents[3] / "shared" / "footage"


def run(op: Operator, frames: list[np.ndarray], first: int = 0, key: str = "clip"
        ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Process every frame of one shot the way the pipeline does (windows clamped to it)."""
    n, r = len(frames), op.temporal_radius
    out = []
    for i in range(n):
        lo, hi = max(0, i - r), min(n - 1, i + r)
        window = Window(frames=tuple(frames[lo:hi + 1]),
                        indices=tuple(range(first + lo, first + hi + 1)), center=i - lo,
                        shot=(first, first + n - 1), key=key)
        res = op.process(window)
        out.append((res.frame, res.mask))
    return out


def test_scratches_are_found_and_filled() -> None:
    clean = moving_scene(10, 320, 180, seed=4)
    dmg = apply_damage(clean, DamageSpec(scratches=3, seed=4))
    masks = dmg.masks["scratch"]
    assert sum(int(m.sum()) for m in masks) > 500  # the clip really is scratched
    out = run(create("scratch"), dmg.frames)
    frames = [f for f, _ in out]
    # The viewer's mask covers the scratches...
    covered = np.mean([(mk > 0)[m].mean() for (_, mk), m in zip(out, masks, strict=True)
                       if m.any()])
    assert covered > 0.85
    # ...the scratched pixels come much closer to the clean picture...
    before = metrics.psnr(dmg.frames, clean, masks)
    after = metrics.psnr(frames, clean, masks)
    assert after > before + 8.0
    assert metrics.repaired_fraction(frames, clean, masks, 0.06) > 0.7
    # ...and little else was touched.
    assert metrics.collateral_fraction(frames, dmg.frames, [~m for m in masks], 0.02) < 0.005


def test_bright_only_leaves_dark_scratches() -> None:
    clean = moving_scene(6, 160, 96, seed=1, motion="pan")
    frames = [f.copy() for f in clean]
    for f in frames:
        f[:, 50] = 0.03   # dark, one pixel wide, full height
        f[:, 110] = 0.97  # bright
    out = run(create("scratch", {"polarity": "bright"}), frames)
    for f, mask in out:
        assert mask[:, 110].mean() > 0.9
        assert mask[:, 50].mean() == 0.0
        assert np.abs(f[:, 110] - clean[0][:, 110]).mean() < 0.1


def test_clean_moving_footage_is_unchanged() -> None:
    frames = moving_scene(6, 320, 180, seed=7)
    out = run(create("scratch"), frames)
    assert metrics.psnr([f for f, _ in out], frames) >= 45.0


def test_short_lines_are_not_scratches() -> None:
    # A narrow vertical picture line over half the frame height (a pole, a rope) is
    # not a scratch at the default minimum length.
    frames = moving_scene(5, 160, 96, seed=2, motion="none")
    for f in frames:
        f[20:70, 80] = 0.95
    out = run(create("scratch"), frames)
    assert all(float(mask.max()) == 0.0 for _, mask in out)


def test_window_never_sees_the_previous_shot() -> None:
    # Shot A (frames 6-9) is scratched at x=40; shot B (from frame 10) is clean. An
    # instance that has just processed A (memoised detections and flows) must neither
    # find A's scratch in B's first frame nor pull A's pixels in.
    a = moving_scene(4, 160, 96, seed=3, motion="pan")
    for f in a:
        f[:, 40] = 0.97
    b = moving_scene(4, 160, 96, seed=9, motion="pan")
    op = create("scratch")
    assert any(float(m[:, 40].mean()) > 0.9 for _, m in run(op, a, first=6, key="shot-a"))
    window = Window(frames=tuple(b[:3]), indices=(10, 11, 12), center=0, shot=(10, 13),
                    key="shot-b")
    res = op.process(window)
    assert float(res.mask.max()) == 0.0
    np.testing.assert_array_equal(res.frame, b[0])


@pytest.mark.parametrize("values, word", [
    ({"sensitivity": 2.0}, "sensitivity"),
    ({"max_width": 0}, "max_width"),
    ({"polarity": "grey"}, "polarity"),
    ({"min_length": 0.0}, "min_length"),
    ({"speed": 1}, "speed"),
])
def test_invalid_parameters_name_the_operator(values: dict, word: str) -> None:
    with pytest.raises(OperatorError) as err:
        create("scratch", values)
    assert str(err.value).startswith("scratch:")
    assert word in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.footage
def test_real_film_is_barely_touched() -> None:
    folder = FOOTAGE / "film_within_our_gates"
    files = sorted(folder.glob("*.png"))[:5] if folder.is_dir() else []
    if not files:
        pytest.skip(f"footage not available at {folder}")
    frames = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB).astype(np.float32) / 255
              for p in files]
    out = run(create("scratch"), frames)
    # This reel has no line scratches: at most a sliver of the picture may be changed.
    changed = np.mean([(m > 0).mean() for _, m in out])
    assert changed < 0.005
