"""Quality metrics behave as a restorer would expect them to."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.metrics import (
    align_shift,
    align_to,
    camera_motion_lost,
    collateral_fraction,
    psnr,
    repaired_fraction,
    residual_flicker,
    residual_jitter,
    shift_frame,
    ssim,
)
from engine.synth.damage import DamageSpec, apply_damage
from engine.synth.scenes import moving_scene, static_scene

W, H = 128, 96


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return static_scene(1, W, H, seed=2)[0]


def test_psnr_identical_is_infinite_and_known_noise_gives_known_db(frame: np.ndarray) -> None:
    assert psnr(frame, frame) == math.inf
    noisy = frame + np.float32(0.01)  # mse 1e-4 -> 40 dB
    assert psnr(noisy, frame) == pytest.approx(40.0, abs=1e-3)
    assert psnr([noisy, noisy], [frame, frame]) == pytest.approx(40.0, abs=1e-3)


def test_psnr_mask_counts_only_masked_pixels(frame: np.ndarray) -> None:
    out = frame.copy()
    mask = np.zeros((H, W), bool)
    mask[:10] = True
    out[:10] += 0.1
    assert psnr(out, frame, mask) == pytest.approx(20.0, abs=1e-3)
    assert psnr(out, frame, ~mask) == math.inf
    assert psnr(out, frame) > 25.0
    assert math.isnan(psnr(out, frame, np.zeros((H, W), bool)))


def test_ssim_orders_damage(frame: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    light = frame + rng.normal(0, 0.01, frame.shape).astype(np.float32)
    heavy = frame + rng.normal(0, 0.08, frame.shape).astype(np.float32)
    assert ssim(frame, frame) == pytest.approx(1.0, abs=1e-9)
    assert 1.0 > ssim(light, frame) > ssim(heavy, frame) > 0.0
    # Luma SSIM ignores a pure hue swap that keeps luma, but not a blur.
    import cv2
    assert ssim(cv2.GaussianBlur(frame, (0, 0), 2.0), frame) < 0.9


def test_align_shift_recovers_a_known_shift(frame: np.ndarray) -> None:
    for dx, dy in [(3.0, -2.0), (0.5, 1.25), (-7.0, 0.0)]:
        moved = shift_frame(frame, dx, dy)
        ex, ey = align_shift(moved, frame)
        assert ex == pytest.approx(dx, abs=0.05) and ey == pytest.approx(dy, abs=0.05)


def test_align_to_undoes_a_shift_before_psnr(frame: np.ndarray) -> None:
    moved = shift_frame(frame, 2.0, -1.0)
    assert psnr(moved, frame) < 30
    aligned, ref, (dx, dy) = align_to(moved, frame)
    assert (dx, dy) == pytest.approx((2.0, -1.0), abs=0.15)
    assert aligned.shape == ref.shape and aligned.shape[0] < H
    assert psnr(aligned, ref) > 38
    same, ref2, shift = align_to(frame, frame)
    assert shift == (0.0, 0.0) and same is frame and ref2 is frame


def test_repaired_and_collateral_fractions(frame: np.ndarray) -> None:
    clean = frame
    damaged = apply_damage([clean], DamageSpec(dust=3000, seed=1))
    inp = damaged.frames[0]
    mask = damaged.masks["dust"][0]
    assert mask.any()
    # Doing nothing repairs nothing and harms nothing.
    assert repaired_fraction(inp, clean, mask, 0.02) == 0.0
    assert collateral_fraction(inp, inp, ~mask, 0.02) == 0.0
    # Perfect repair: every damaged pixel back, no other pixel touched.
    assert repaired_fraction(clean, clean, mask, 0.02) == 1.0
    assert collateral_fraction(clean, inp, ~mask, 0.02) == 0.0
    # Repair half the damage and blur the rest of the picture.
    half = inp.copy()
    ys, xs = np.nonzero(mask)
    keep = slice(0, len(ys) // 2)
    half[ys[keep], xs[keep]] = clean[ys[keep], xs[keep]]
    assert repaired_fraction(half, clean, mask, 0.02) == pytest.approx(0.5, abs=0.01)
    import cv2
    blurred = cv2.GaussianBlur(inp, (0, 0), 1.5)
    assert collateral_fraction(blurred, inp, ~mask, 0.02) > 0.2
    assert math.isnan(repaired_fraction(inp, clean, np.zeros((H, W), bool), 0.02))


def test_residual_flicker_is_zero_for_steady_and_tracks_pumping() -> None:
    clean = static_scene(12, W, H, seed=3)
    assert residual_flicker(clean, clean) == 0.0
    # A steady grade is not flicker.
    assert residual_flicker([f * 0.9 for f in clean], clean) < 1e-6
    flick = apply_damage(clean, DamageSpec(flicker=0.1, seed=1))
    r = residual_flicker(flick.frames, clean)
    assert r > 0.01
    half = [c + (f - c) * 0.5 for f, c in zip(flick.frames, clean, strict=True)]
    assert residual_flicker(half, clean) == pytest.approx(r / 2, rel=0.05)


def test_residual_flicker_ignores_slow_drift_unless_asked() -> None:
    clean = static_scene(24, W, H, seed=3)
    drift = [f * np.float32(1.0 + 0.004 * i) for i, f in enumerate(clean)]  # slow fade-up
    assert residual_flicker(drift, clean) < 0.001
    assert residual_flicker(drift, clean, smooth_frames=None) > 0.01


def test_align_shift_survives_grain_flicker_and_dirt() -> None:
    clean = moving_scene(6, 400, 240, seed=8, motion="pan")
    spec = DamageSpec(weave=2.0, grain=0.04, flicker=0.15, local_flicker=0.08, dust=300,
                      fade=0.5, seed=5)
    damaged = apply_damage(clean, spec)
    for out, ref, (dx, dy, _) in zip(damaged.frames, clean, damaged.offsets, strict=True):
        ex, ey = align_shift(out, ref)
        assert ex == pytest.approx(dx, abs=0.2) and ey == pytest.approx(dy, abs=0.2)


def test_residual_jitter_measures_weave_but_not_camera_motion() -> None:
    clean = moving_scene(24, W, H, seed=1, motion="pan")
    assert residual_jitter(clean, clean) < 0.05
    woven = apply_damage(clean, DamageSpec(weave=2.0, seed=2))
    truth = np.array([(dx, dy) for dx, dy, _ in woven.offsets])
    jitter = residual_jitter(woven.frames, clean)
    assert jitter > 0.5
    # It is the high-pass RMS of the true weave, within estimation error.
    from engine.metrics import _smooth
    expected = float(np.sqrt(np.mean(np.sum((truth - _smooth(truth, 3.0)) ** 2, axis=1))))
    assert jitter == pytest.approx(expected, abs=0.15)
    # A steady output that froze the pan (lost camera motion) shows no jitter but is flagged.
    frozen = [shift_frame(clean[0], 0.0, 0.0)] * len(clean)
    assert camera_motion_lost(frozen, clean) > 5.0
    assert camera_motion_lost(clean, clean) < 0.1


def test_mismatched_inputs_raise_clear_errors(frame: np.ndarray) -> None:
    with pytest.raises(ValueError, match="psnr: 2 frames against 1"):
        psnr([frame, frame], [frame])
    with pytest.raises(ValueError, match="frame sizes differ"):
        ssim(frame, frame[:10])
