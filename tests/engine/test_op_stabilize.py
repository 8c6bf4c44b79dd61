"""Stabilise: weave removed, the camera's own pan kept, frame size kept, shots respected."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.errors import OperatorError
from engine.ops.base import Operator, Window
from engine.ops.color import analysis_frame
from engine.ops.registry import create
from engine.pipeline import Evaluator, ShotPlan
from engine.project import Recipe, Step
from engine.synth.damage import DamageSpec, apply_damage
from engine.synth.scenes import moving_scene


def run(op: Operator, frames: list[np.ndarray], first: int = 0, key: str = "clip"):
    """Process every frame of one shot the way the pipeline does (windows clamped to it,
    small analysis frames of the whole shot)."""
    n, r = len(frames), op.temporal_radius

    def analyse(j: int) -> np.ndarray:
        if not first <= j < first + n:
            raise IndexError(f"frame {j} outside shot {first}-{first + n - 1}")
        return analysis_frame(Window(frames=(frames[j - first],), indices=(j,), center=0,
                                     shot=(j, j)), j)

    results = []
    for i in range(n):
        lo, hi = max(0, i - r), min(n - 1, i + r)
        window = Window(frames=tuple(frames[lo:hi + 1]),
                        indices=tuple(range(first + lo, first + hi + 1)), center=i - lo,
                        shot=(first, first + n - 1), key=key, analyse=analyse)
        results.append(op.process(window))
    return results


def offsets(frames: list[np.ndarray], reference: list[np.ndarray], margin: int = 16) -> np.ndarray:
    """(frames, 2) shift in pixels of each frame against its reference (phase correlation,
    borders left out)."""
    out = []
    for f, r in zip(frames, reference, strict=True):
        a = r.mean(axis=2)[margin:-margin, margin:-margin]
        b = f.mean(axis=2)[margin:-margin, margin:-margin]
        win = cv2.createHanningWindow(a.shape[::-1], cv2.CV_32F)
        (dx, dy), _ = cv2.phaseCorrelate(np.ascontiguousarray(a), np.ascontiguousarray(b), win)
        out.append((dx, dy))
    return np.array(out)


def jitter(frames: list[np.ndarray], reference: list[np.ndarray]) -> float:
    """Frame-to-frame jitter (px) of `frames` against the steady reference."""
    d = offsets(frames, reference)
    return float(np.sqrt(np.diff(d, axis=0).var(axis=0).sum() / 2))


@pytest.fixture(scope="module")
def pan() -> list[np.ndarray]:
    return moving_scene(32, 256, 144, seed=5, motion="pan")


def test_weave_is_removed_and_the_pan_kept(pan):
    damaged = apply_damage(pan, DamageSpec(weave=2.0, seed=4)).frames
    out = [r.frame for r in run(create("stabilize"), damaged)]
    before, after = jitter(damaged, pan), jitter(out, pan)
    assert after <= 0.3 and after < before / 4, (before, after)
    # The camera still pans: the output stays on the clean picture's path, never locked.
    drift = offsets(out, pan)
    assert np.abs(drift - drift.mean(axis=0)).max() < 1.5, drift
    travel = offsets([pan[-1]], [pan[0]])[0]
    assert np.hypot(*travel) > 10


def test_a_large_moving_object_does_not_move_the_frame():
    # A static camera over a soft, low-contrast background (a street); a big, sharp,
    # high-contrast slab (a bus seen from above: a third of the width, full height) slides
    # down 15 px a frame through the middle. The slab has the strongest corners, so an
    # estimate that trusts the best features follows it and throws the street about.
    w, h, n = 480, 270, 24
    background = cv2.GaussianBlur(moving_scene(1, w, h, seed=21, motion="none")[0], (0, 0), 1.5)
    background = np.float32(0.5) + (background - np.float32(0.5)) * np.float32(0.4)
    slab = moving_scene(1, 160, 3 * h, seed=22, motion="none")[0]
    slab = np.clip(np.float32(0.5) + (slab - np.float32(0.5)) * np.float32(2.0), 0, 1)
    clean = []
    for i in range(n):
        f = background.copy()
        y0 = (15 * i) % h
        f[:, 160:320] = slab[y0:y0 + h]
        clean.append(f)
    damaged = apply_damage(clean, DamageSpec(weave=2.0, seed=12)).frames
    out = [r.frame for r in run(create("stabilize"), damaged)]
    # Measured on the street either side of the slab.
    sides = lambda fr: [np.ascontiguousarray(np.concatenate([f[:, :128], f[:, -128:]], axis=1))  # noqa: E731
                        for f in fr]
    before, after = jitter(sides(damaged), sides(clean)), jitter(sides(out), sides(clean))
    assert after <= 0.35 and after < before / 2, (before, after)
    # It never follows the slab: the street stays within the weave's own slow sway.
    assert np.abs(offsets(sides(out), sides(clean))).max() < 1.5


def test_unsure_motion_leaves_the_frames_alone():
    # Frames with nothing in common (a different random picture each time): no motion can
    # be trusted, so nothing is moved.
    rng = np.random.default_rng(3)
    frames = [cv2.GaussianBlur(rng.random((96, 160, 3), dtype=np.float32), (0, 0), 2.0)
              for _ in range(12)]
    results = run(create("stabilize"), frames)
    for r, f in zip(results, frames, strict=True):
        np.testing.assert_array_equal(r.frame, f)


def test_no_motion_is_measured_against_a_blank_frame(pan):
    from engine.ops.stabilize import estimate_motion

    # A white flash (or black leader) has nothing to align with; its correlation with the
    # picture is undefined, which must read as "unknown", not as a motion.
    picture = pan[0].mean(axis=2)
    assert estimate_motion(picture, pan[1].mean(axis=2)) is not None
    assert estimate_motion(picture, np.ones_like(picture)) is None
    assert estimate_motion(np.zeros_like(picture), picture) is None


def test_uses_small_analysis_frames_not_full_size_neighbours():
    op = create("stabilize")
    assert op.temporal_radius == 0 and op.analysis_radius == op.params.smoothing


def test_clean_moving_footage_is_untouched():
    clean = moving_scene(24, 160, 96, seed=3)
    out = [r.frame for r in run(create("stabilize"), clean)]
    mse = float(np.mean((np.stack(out) - np.stack(clean))[:, 4:-4, 4:-4] ** 2))
    assert 10 * np.log10(1 / max(mse, 1e-12)) >= 45


@pytest.mark.parametrize("border", ["reflect", "replicate", "black", "zoom"])
def test_borders_are_filled_and_size_kept(pan, border):
    damaged = apply_damage(pan, DamageSpec(weave=3.0, seed=7)).frames[:12]
    values = {"zoom": 3.0} if border == "zoom" else {"border": border}
    results = run(create("stabilize", values), damaged)
    for r, src in zip(results, damaged, strict=True):
        assert r.frame.shape == src.shape and r.frame.dtype == np.float32
        assert r.mask is not None and r.mask.shape == src.shape[:2]
        edges = np.concatenate([r.frame[0], r.frame[-1], r.frame[:, 0], r.frame[:, -1]])
        if border == "black":
            continue
        # No black strips: the border is picture (reflected, replicated or zoomed past).
        assert edges.mean(axis=-1).min() > 0.03
    if border == "black":
        assert max(float(r.mask.max()) for r in results) == 1.0


def test_never_reads_across_a_cut():
    a = apply_damage(moving_scene(10, 128, 80, seed=8, motion="pan"),
                     DamageSpec(weave=2.0, seed=1)).frames
    b = apply_damage(moving_scene(14, 128, 80, seed=9, motion="pan"),
                     DamageSpec(weave=2.0, seed=2)).frames
    op = create("stabilize")
    run(op, a, first=0, key="shot-a")
    after_cut = run(op, b, first=10, key="shot-b")
    alone = run(create("stabilize"), b, first=10, key="shot-b")
    for x, y in zip(after_cut, alone, strict=True):
        np.testing.assert_array_equal(x.frame, y.frame)


@pytest.mark.parametrize("values", [{"smoothing": 0}, {"max_correction": -1},
                                    {"border": "wobble"}, {"zoom": 50}])
def test_invalid_parameters_name_the_operator(values):
    with pytest.raises(OperatorError, match="^stabilize: "):
        create("stabilize", values)


def test_the_correction_is_reported_in_source_pixels_at_any_scale() -> None:
    class Frames:
        def __init__(self, frames: list[np.ndarray]) -> None:
            self.frames = frames

        def read(self, index: int) -> np.ndarray:
            return self.frames[index]

    woven = apply_damage(moving_scene(24, 320, 180, seed=3, motion="pan"),
                         DamageSpec(weave=2.0, seed=5)).frames
    plan = ShotPlan.single(24, Recipe.of([Step.create("stabilize")]))
    moved = {}
    for scale in (1.0, 0.5):
        ev = Evaluator(Frames(woven))
        ev.stage_outputs(12, plan, scale)
        moved[scale] = ev.stage_measures(12, plan, scale)[0]["moved_px"]
    # 2 px of weave: the frame moves about a pixel; half a preview reports the same.
    assert moved[1.0] > 0.5
    assert moved[0.5] == pytest.approx(moved[1.0], rel=0.1)
