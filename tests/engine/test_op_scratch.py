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
from engine.synth.scenes import moving_scene, texture

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


def weaving_scene(offsets: list[int], width: int = 200, height: int = 120,
                  line_x: int | None = None) -> list[np.ndarray]:
    """Crops of one textured picture shifted sideways by `offsets` (pixels per frame), like a
    static shot whose scan weaves; with `line_x`, a dark vertical line of the *picture*
    (a pole, a wall's corner) over the full height at that column of the first frame."""
    margin = max(abs(o) for o in offsets) + 2
    canvas = texture(np.random.default_rng(5), width + 2 * margin, height).astype(np.float32)
    if line_x is not None:
        canvas[:, margin + line_x:margin + line_x + 2] *= 0.35
    return [np.ascontiguousarray(canvas[:, margin + o:margin + o + width]) for o in offsets]


def test_picture_line_moving_with_the_picture_is_kept() -> None:
    # A full-height dark line that weaves with the picture belongs to it; a scratch on
    # the same frames stays put while the picture moves, and is repaired.
    offsets = [0, 2, -1, 3, 0, -2, 1]
    clean = weaving_scene(offsets, line_x=70)
    frames = [f.copy() for f in clean]
    for f in frames:
        f[:, 140:142] = 0.5 * f[:, 140:142] + 0.5 * 0.03
    out = run(create("scratch"), frames)
    for (_f, mask), o in zip(out, offsets, strict=True):
        assert float(mask[:, 60:80].max()) == 0.0, f"picture line at offset {o} was taken"
        assert mask[:, 140:142].mean() > 0.9
    # The picture line is exactly as it was.
    np.testing.assert_array_equal(out[3][0][:, 60:80], frames[3][:, 60:80])


def test_side_by_side_bright_and_dark_scratches_are_both_repaired() -> None:
    # Two scratches touching each other: neither may be filled from the other's pixels.
    clean = moving_scene(6, 240, 136, seed=11, motion="pan")
    frames = [f.copy() for f in clean]
    for f in frames:
        f[:, 100:102] = 0.55 * f[:, 100:102] + 0.45 * 0.97
        f[:, 102:105] = 0.3 * f[:, 102:105] + 0.7 * 0.04
    damaged = [np.zeros(f.shape[:2], bool) for f in frames]
    for d in damaged:
        d[:, 100:105] = True
    out = [f for f, _ in run(create("scratch"), frames)]
    assert metrics.repaired_fraction(frames, clean, damaged, 0.05) < 0.2
    # (Repaired one after the other, each from the other's pixels, about 6% came back.)
    assert metrics.repaired_fraction(out, clean, damaged, 0.05) > 0.6
    assert metrics.psnr(out, clean, damaged) > metrics.psnr(frames, clean, damaged) + 10.0


def test_texture_under_a_faint_scratch_survives() -> None:
    # A static shot: the neighbours show the same damaged pixels, so what is left of the
    # picture under a half-transparent scratch is all there is to keep.
    clean = moving_scene(5, 240, 136, seed=6, motion="none")
    frames = [f.copy() for f in clean]
    for f in frames:
        f[:, 120:123] = 0.5 * f[:, 120:123] + 0.5 * 0.04
    out = [f for f, _ in run(create("scratch"), frames)]
    err = [np.abs(o - c)[:, 120:123].max(axis=2) for o, c in zip(out, clean, strict=True)]
    assert float(np.mean([(e < 0.05).mean() for e in err])) > 0.9


@pytest.mark.parametrize("width, height", [(100, 20), (40, 12), (200, 24)])
def test_thin_strips_are_repaired_without_crashing(width: int, height: int) -> None:
    # OpenCV's optical flow crashes the process on frames under ~32 px high; such strips
    # (thumbnails, a cropped letterbox) must still be repaired from the sides.
    rng = np.random.default_rng(3)
    frames = [(0.4 + 0.2 * rng.random((height, width, 3))).astype(np.float32)
              for _ in range(5)]
    for f in frames:
        f[:, width // 2] = 0.97
    for out, mask in run(create("scratch"), frames):
        assert mask[:, width // 2].mean() > 0.9
        assert float(np.abs(out[:, width // 2] - 0.5).max()) < 0.2


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


@pytest.mark.footage
def test_real_picture_line_is_not_a_scratch() -> None:
    # The Great Train Robbery: a wall's corner (a dark vertical line at x ~ 176 px over ~80%
    # of the height) in a static shot whose scan weaves; it is part of the picture.
    folder = FOOTAGE / "film_the_great_train_robbery"
    files = sorted(folder.glob("*.png"))[:8] if folder.is_dir() else []
    if not files:
        pytest.skip(f"footage not available at {folder}")
    frames = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB).astype(np.float32) / 255
              for p in files]
    for _f, mask in run(create("scratch"), frames):
        assert float(mask[:, 165:190].max()) == 0.0
