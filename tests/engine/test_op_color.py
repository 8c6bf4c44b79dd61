"""Colour: manual grade unchanged by default; automatic faded-colour restoration per shot."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import OperatorError
from engine.ops.base import Window
from engine.ops.color import LUMA_WEIGHTS, ColorParams, apply_grade, match_grade
from engine.ops.registry import create
from engine.synth.damage import fade_frame
from engine.synth.scenes import moving_scene

FOOTAGE = Path(__file__).resolve().parents[3] / "shared" / "footage"
AUTO = {"auto_levels": True, "auto_balance": True}


def window_at(frames: list[np.ndarray], i: int, first: int = 0, key: str = "clip") -> Window:
    """A radius-0 window on frame i of a shot starting at `first`, fetching only inside it."""
    last = first + len(frames) - 1

    def fetch(j: int) -> np.ndarray:
        if not first <= j <= last:
            raise IndexError(f"frame {j} outside shot {first}-{last}")
        return frames[j - first]

    return Window(frames=(frames[i],), indices=(first + i,), center=0, shot=(first, last),
                  key=key, fetch=fetch)


def cast_error(frame: np.ndarray, ref: np.ndarray) -> float:
    """Colour cast (levels) of `frame` relative to `ref`: difference of their channel-mean
    balances (each channel mean minus the average of the three)."""
    a, b = frame.reshape(-1, 3).mean(axis=0), ref.reshape(-1, 3).mean(axis=0)
    return float(np.abs((a - a.mean()) - (b - b.mean())).max())


def colour_error(frames: list[np.ndarray], ref: list[np.ndarray]) -> float:
    """Mean absolute error (levels) after the best single gain and offset for all channels."""
    x, y = np.stack(frames).ravel(), np.stack(ref).ravel()
    gain, offset = np.polyfit(x, y, 1)
    return float(np.abs(gain * x + offset - y).mean())


@pytest.fixture(scope="module")
def clean() -> list[np.ndarray]:
    return moving_scene(16, 128, 80, seed=11)


def test_defaults_are_identity(clean):
    out = create("color").process(window_at(clean, 3)).frame
    np.testing.assert_array_equal(out, clean[3])


def test_manual_grade_still_works(clean):
    out = create("color", {"exposure": 1.0}).process(window_at(clean, 0)).frame
    np.testing.assert_allclose(out, clean[0] * 2, rtol=1e-6)
    assert np.array_equal(apply_grade(clean[0], ColorParams()), clean[0])


def test_faded_shot_is_restored(clean):
    faded = [fade_frame(f, 0.7) for f in clean]
    op = create("color", AUTO)
    out = [op.process(window_at(faded, i)).frame for i in range(len(faded))]
    # Levels and balance cannot know how saturated the print once was, so the reference is
    # the clean picture with the fade's loss of saturation only.
    ref = []
    for f in clean:
        luma = (f @ LUMA_WEIGHTS)[..., None]
        ref.append(luma + (f - luma) * np.float32(1.0 - 0.7 * 0.7))
    # How far the result sits to its best contrast setting (one gain and offset for all
    # channels) is colour error; the overall levels are the restorer's choice.
    err_before, err_after = colour_error(faded, ref), colour_error(out, ref)
    assert err_after < err_before / 3, (err_before, err_after)
    # Most of the pink cast is gone (channel balance towards the reference's; part of a
    # channel difference may be the scene's own colour, so it is not forced all the way)
    # and the raised blacks are lower again.
    assert cast_error(out[0], ref[0]) < cast_error(faded[0], ref[0]) / 2
    assert np.percentile(out[0] @ LUMA_WEIGHTS, 1) < np.percentile(faded[0] @ LUMA_WEIGHTS, 1) - 0.05


def psnr(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    mse = float(np.mean((np.stack(a) - np.stack(b)) ** 2))
    return 10.0 * np.log10(1.0 / max(mse, 1e-12))


@pytest.mark.parametrize("amount", [0.3, 0.5])
def test_faded_shot_gets_closer_to_the_clean_one(clean, amount):
    faded = [fade_frame(f, amount) for f in clean]
    op = create("color", AUTO)
    out = [op.process(window_at(faded, i)).frame for i in range(len(faded))]
    assert psnr(out, clean) > psnr(faded, clean) + 1.0, (psnr(faded, clean), psnr(out, clean))


def test_unfaded_shot_with_true_blacks_is_nearly_untouched(clean):
    # A well-exposed shot: full-range blacks and whites, its own colours (a blue sky).
    graded = [np.clip((f - 0.06) / 0.88 * np.array([0.9, 0.95, 1.0], np.float32), 0, 1)
              for f in clean]
    op = create("color", AUTO)
    out = [op.process(window_at(graded, i)).frame for i in range(len(graded))]
    assert psnr(out, graded) > 40.0, psnr(out, graded)


def test_correction_is_constant_over_the_shot(clean):
    faded = [fade_frame(f, 0.5) * np.float32(0.9 + 0.02 * i) for i, f in enumerate(clean)]
    op = create("color", AUTO)
    probe = np.array([[[0.2, 0.5, 0.8]]], np.float32)
    # Pixel-for-pixel the same map on every frame: a fixed probe colour maps identically.
    maps = set()
    for i in range(len(faded)):
        w = window_at(faded, i)
        frame = w.frames[0].copy()
        frame[0, 0] = probe[0, 0]
        w = Window(frames=(frame,), indices=w.indices, center=0, shot=w.shot, key=w.key,
                   fetch=w.fetch)
        maps.add(tuple(np.round(op.process(w).frame[0, 0], 6)))
    assert len(maps) == 1, maps


def test_strength_and_manual_controls_apply_after_auto(clean):
    faded = [fade_frame(f, 0.6) for f in clean]
    full = create("color", AUTO).process(window_at(faded, 2)).frame
    none = create("color", {**AUTO, "auto_strength": 0.0}).process(window_at(faded, 2)).frame
    half = create("color", {**AUTO, "auto_strength": 0.5}).process(window_at(faded, 2)).frame
    np.testing.assert_array_equal(none, faded[2])
    np.testing.assert_allclose(half, (full + faded[2]) / 2, atol=1e-5)
    darker = create("color", {**AUTO, "exposure": -1.0}).process(window_at(faded, 2)).frame
    np.testing.assert_allclose(darker, full / 2, rtol=1e-5, atol=1e-6)


def test_statistics_come_from_the_analysis_frames(clean):
    # The pipeline gives small analysis frames of the whole shot and no full-size ones
    # beyond the current frame: the shot statistics are the same as from full-size frames.
    faded = [fade_frame(f, 0.5) for f in clean]
    w = window_at(faded, 4)
    small = Window(frames=w.frames, indices=w.indices, center=0, shot=w.shot, key="small",
                   analyse=w.fetch)
    np.testing.assert_allclose(create("color", AUTO).process(small).frame,
                               create("color", AUTO).process(w).frame, atol=1e-6)
    assert create("color", AUTO).temporal_radius == 0


def test_statistics_come_from_the_survey_frames_when_the_pipeline_gives_them(clean):
    # In a pipeline the shot is surveyed before the dust and grain repairs: a correction
    # measured on the survey's faded frames, even where `analyse` would show other ones.
    faded = [fade_frame(f, 0.5) for f in clean]
    w = window_at(faded, 4)
    surveyed = Window(frames=w.frames, indices=w.indices, center=0, shot=w.shot, key="s",
                      analyse=lambda i: clean[i], survey=w.fetch)
    np.testing.assert_allclose(create("color", AUTO).process(surveyed).frame,
                               create("color", AUTO).process(w).frame, atol=1e-6)
    assert not np.allclose(create("color", AUTO).process(surveyed).frame, faded[4], atol=0.02)


def test_statistics_stay_inside_the_shot(clean):
    bright = [np.clip(f * 1.5, 0, 1) for f in clean[:8]]
    faded = [fade_frame(f, 0.7) for f in clean[8:]]
    op = create("color", AUTO)
    op.process(window_at(bright, 0, first=0, key="a"))
    # Shot b's fetch refuses every frame of shot a, so a leak would raise here.
    after_cut = op.process(window_at(faded, 0, first=8, key="b")).frame
    alone = create("color", AUTO).process(window_at(faded, 0, first=8, key="b")).frame
    np.testing.assert_array_equal(after_cut, alone)


@pytest.mark.parametrize("values", [{"auto_strength": 2}, {"auto_levels": "often"},
                                    {"exposure": 9}])
def test_invalid_parameters_name_the_operator(values):
    with pytest.raises(OperatorError, match="^color: "):
        create("color", values)


@pytest.mark.footage
@pytest.mark.skipif(not FOOTAGE.is_dir(), reason="shared footage not present")
def test_real_scan_gets_full_range():
    paths = sorted((FOOTAGE / "film_within_our_gates").glob("*.png"))[:12]
    frames = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB).astype(np.float32) / 255
              for p in paths]
    out = create("color", AUTO).process(window_at(frames, 5)).frame
    luma = out @ LUMA_WEIGHTS
    lo, hi = np.percentile(luma, [0.5, 99.5])
    assert lo < 0.06 and hi > 0.9, (lo, hi)


def _black_white(frame: np.ndarray) -> np.ndarray:
    return np.stack([np.percentile(frame[..., c], (2, 98)) for c in range(3)])


@pytest.mark.parametrize("present", [{}, {"lift_b": 0.05, "gain_b": 1.2, "gain_r": 0.9}])
def test_a_shot_is_matched_to_a_reference_through_its_own_grade(present) -> None:
    reference = moving_scene(1, 160, 90, seed=3)[0]
    # Another print of the same scene: warmer, its blacks raised.
    scan = np.clip(reference * np.float32([1.08, 0.97, 0.82]) + np.float32([0.06, 0.03, 0.0]),
                   0, 1)
    params = ColorParams(**present)
    values = match_grade(apply_grade(scan, params), reference, params)
    matched = apply_grade(scan, dataclasses.replace(params, **values))
    assert np.abs(_black_white(matched) - _black_white(reference)).max() < 0.005
    assert np.abs(_black_white(apply_grade(scan, params))
                  - _black_white(reference)).max() > 0.05
