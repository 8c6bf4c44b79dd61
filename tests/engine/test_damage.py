"""The synthetic damage generator and generated scenes: deterministic, and each class of
damage does what its ground truth says."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.synth.damage import LUMA, VISIBLE, DamageSpec, apply_damage
from engine.synth.scenes import moving_scene, static_scene

W, H = 160, 96


@pytest.fixture(scope="module")
def moving() -> list[np.ndarray]:
    return moving_scene(12, W, H, seed=4)


@pytest.fixture(scope="module")
def still() -> list[np.ndarray]:
    return static_scene(8, W, H, seed=5)


def _luma(f: np.ndarray) -> np.ndarray:
    return f @ LUMA


def test_scenes_are_deterministic_textured_and_moving(moving: list[np.ndarray]) -> None:
    again = moving_scene(12, W, H, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(moving, again, strict=True))
    assert not np.array_equal(moving[0], moving_scene(1, W, H, seed=5)[0])
    f = moving[0]
    assert f.dtype == np.float32 and f.shape == (H, W, 3)
    assert 0.0 <= f.min() and f.max() <= 1.0
    # Real texture: strong local gradients, not flat colour.
    gx = np.abs(np.diff(_luma(f), axis=1))
    assert np.median(gx) > 0.004 and np.percentile(gx, 99) > 0.08
    # Things move: consecutive frames differ, and some part moves fast.
    diffs = [np.abs(b - a).mean() for a, b in zip(moving, moving[1:], strict=False)]
    assert min(diffs) > 0.005


def test_static_scene_does_not_move(still: list[np.ndarray]) -> None:
    assert all(np.array_equal(still[0], f) for f in still[1:])


def test_damage_is_deterministic_by_seed(moving: list[np.ndarray]) -> None:
    spec = DamageSpec(dust=500, scratches=2, flicker=0.1, grain=0.02, weave=1.5, fade=0.3,
                      local_flicker=0.05, seed=7)
    a, b = apply_damage(moving, spec), apply_damage(moving, spec)
    assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames, strict=True))
    assert all(np.array_equal(x, y) for x, y in zip(a.masks["dust"], b.masks["dust"], strict=True))
    assert a.gains == b.gains and a.offsets == b.offsets
    c = apply_damage(moving, DamageSpec(dust=500, scratches=2, flicker=0.1, grain=0.02,
                                        weave=1.5, fade=0.3, local_flicker=0.05, seed=8))
    assert not np.array_equal(a.frames[0], c.frames[0])


def test_classes_draw_from_independent_streams(moving: list[np.ndarray]) -> None:
    # Switching grain and flicker on must not move the dust: a benchmark relies on this to
    # build its "everything but dust" reference.
    only = apply_damage(moving, DamageSpec(dust=600, seed=3))
    more = apply_damage(moving, DamageSpec(dust=600, grain=0.02, scratches=1, seed=3))
    ref = apply_damage(moving, DamageSpec(grain=0.02, scratches=1, seed=3))
    for m1, m2 in zip(only.masks["dust"], more.masks["dust"], strict=True):
        inter = np.logical_and(m1, m2).sum()
        assert inter >= 0.9 * m1.sum()
    assert ref.masks["scratch"][0].sum() == more.masks["scratch"][0].sum()
    assert apply_damage(moving, DamageSpec(flicker=0.1, seed=3)).gains == \
        apply_damage(moving, DamageSpec(flicker=0.1, dust=100, seed=3)).gains


def test_dust_masks_are_exactly_the_altered_pixels(moving: list[np.ndarray]) -> None:
    d = apply_damage(moving, DamageSpec(dust=1500, seed=1))
    for clean, out, mask in zip(moving, d.frames, d.masks["dust"], strict=True):
        changed = np.abs(out - clean).max(axis=2) > VISIBLE
        assert mask.dtype == bool and mask.shape == (H, W)
        assert np.array_equal(changed, mask)
        assert mask.any()
    assert not any(m.any() for m in d.masks["scratch"])


def test_dust_is_dark_and_bright_and_never_repeats(still: list[np.ndarray]) -> None:
    d = apply_damage(still, DamageSpec(dust=600, seed=2))
    darker = brighter = 0
    for clean, out, mask in zip(still, d.frames, d.masks["dust"], strict=True):
        delta = _luma(out)[mask] - _luma(clean)[mask]
        darker += int((delta < -VISIBLE).sum())
        brighter += int((delta > VISIBLE).sum())
    assert darker > 0 and brighter > 0
    # Each defect lives in one frame: on a static scene the masks of neighbours barely meet.
    for m1, m2 in zip(d.masks["dust"], d.masks["dust"][1:], strict=False):
        overlap = np.logical_and(m1, m2).sum() / max(1, np.logical_or(m1, m2).sum())
        assert overlap < 0.1


def test_dust_count_scales_with_density(still: list[np.ndarray]) -> None:
    few = sum(m.sum() for m in apply_damage(still, DamageSpec(dust=200, seed=1)).masks["dust"])
    many = sum(m.sum() for m in apply_damage(still, DamageSpec(dust=2000, seed=1)).masks["dust"])
    assert many > 4 * few > 0


def test_scratch_is_thin_persistent_and_drifts_slowly() -> None:
    clean = static_scene(30, W, H, seed=6)
    d = apply_damage(clean, DamageSpec(scratches=1, seed=11))
    centres = []
    for clean_f, out, mask in zip(clean, d.frames, d.masks["scratch"], strict=True):
        assert np.array_equal(np.abs(out - clean_f).max(axis=2) > VISIBLE, mask)
        if not mask.any():
            continue
        cols = np.flatnonzero(mask.any(axis=0))
        assert cols.max() - cols.min() <= 5  # 1-3 px plus soft edges
        assert mask.any(axis=1).mean() > 0.5  # runs down most of the frame
        centres.append(float(np.average(np.arange(W), weights=mask.sum(axis=0))))
    assert len(centres) >= 20  # persists over tens of frames
    assert np.max(np.abs(np.diff(centres))) < 1.5  # drifts, does not jump
    assert not any(m.any() for m in d.masks["dust"])


def test_scratch_is_partially_transparent(still: list[np.ndarray]) -> None:
    d = apply_damage(still, DamageSpec(scratches=3, seed=2))
    # The picture shows through: damaged pixels still correlate with the clean picture.
    for clean, out, mask in zip(still, d.frames, d.masks["scratch"], strict=True):
        if mask.sum() < 50:
            continue
        c, o = _luma(clean)[mask], _luma(out)[mask]
        assert np.abs(o - c).max() < 0.95
        assert np.corrcoef(c, o)[0, 1] > 0.2


def test_flicker_changes_mean_luma_by_recorded_gain(still: list[np.ndarray]) -> None:
    d = apply_damage(still, DamageSpec(flicker=0.15, seed=9))
    gains = np.array([g for g, _ in d.gains])
    assert gains.std() > 0.03 and np.all(np.abs(gains - 1) <= 0.15 + 1e-9)
    for clean, out, (gain, offset) in zip(still, d.frames, d.gains, strict=True):
        expected = np.clip(clean * gain + offset, 0, 1).mean()
        assert out.mean() == pytest.approx(expected, abs=1e-4)
        assert np.allclose(out, np.clip(clean * gain + offset, 0, 1), atol=1e-5)


def test_local_flicker_varies_across_the_frame(still: list[np.ndarray]) -> None:
    d = apply_damage(still, DamageSpec(local_flicker=0.2, seed=1))
    ratio = _luma(d.frames[0]) / _luma(still[0])
    assert ratio.std() > 0.03  # not one global gain
    # ...but smooth: neighbouring pixels get nearly the same gain.
    assert np.abs(np.diff(ratio, axis=1)).mean() < 0.01


def test_weave_shifts_by_recorded_offset(still: list[np.ndarray]) -> None:
    d = apply_damage(still, DamageSpec(weave=3.0, seed=4))
    window = cv2.createHanningWindow((W, H), cv2.CV_32F)
    ref = _luma(still[0]).astype(np.float32)
    moved = 0
    for out, (dx, dy, angle) in zip(d.frames, d.offsets, strict=True):
        assert abs(angle) < 0.5
        # Copies: OpenCV 5's phaseCorrelate windows its inputs in place.
        (sx, sy), _ = cv2.phaseCorrelate(ref.copy(), _luma(out).astype(np.float32), window)
        # Phase correlation's subpixel estimate is biased by up to ~0.3 px.
        assert sx == pytest.approx(dx, abs=0.35) and sy == pytest.approx(dy, abs=0.35)
        moved += abs(dx) > 0.5
    assert moved >= 2


def test_grain_is_luminance_dependent_and_correlated() -> None:
    levels = np.linspace(0.05, 0.95, W, dtype=np.float32)
    ramp = np.repeat(np.repeat(levels[None, :, None], H, axis=0), 3, axis=2)
    d = apply_damage([ramp], DamageSpec(grain=0.03, seed=1))
    noise = _luma(d.frames[0] - ramp)
    mid = noise[:, W // 2 - 10:W // 2 + 10].std()
    dark = noise[:, :10].std()
    assert mid == pytest.approx(0.03 * 0.93, rel=0.2)  # luma of correlated RGB grain
    assert dark < 0.8 * mid
    assert abs(noise.mean()) < 0.003
    # Spatially correlated: neighbours are alike (white noise would give ~0).
    n = noise[:, W // 3:2 * W // 3]
    corr = np.corrcoef(n[:, :-1].ravel(), n[:, 1:].ravel())[0, 1]
    assert corr > 0.3


def test_fade_desaturates_casts_and_raises_blacks(still: list[np.ndarray]) -> None:
    d = apply_damage(still[:1], DamageSpec(fade=0.8, seed=0))
    clean, out = still[0], d.frames[0]
    # Colours vary less from pixel to pixel (a uniform cast is not saturation).
    def chroma_spread(f: np.ndarray) -> float:
        return float((f - _luma(f)[..., None]).std(axis=(0, 1)).mean())

    assert chroma_spread(out) < 0.6 * chroma_spread(clean)
    assert out[..., 0].mean() > out[..., 2].mean() + 0.05  # red-magenta cast
    assert out.min() > clean.min() + 0.05


def test_ground_truth_is_neutral_without_damage(moving: list[np.ndarray]) -> None:
    d = apply_damage(moving, DamageSpec())
    assert all(np.array_equal(a, b) for a, b in zip(moving, d.frames, strict=True))
    assert d.gains == [(1.0, 0.0)] * len(moving)
    assert d.offsets == [(0.0, 0.0, 0.0)] * len(moving)
    assert apply_damage([], DamageSpec()).frames == []


def test_bad_spec_and_frames_are_rejected() -> None:
    with pytest.raises(ValueError, match="dust must be"):
        DamageSpec(dust=-1)
    with pytest.raises(ValueError, match="fade must be at most 1"):
        DamageSpec(fade=2)
    with pytest.raises(ValueError, match="frame 1 has shape"):
        apply_damage([np.zeros((8, 8, 3), np.float32), np.zeros((8, 9, 3), np.float32)],
                     DamageSpec())


def test_committed_sample_reel_plays_with_its_shots_and_sound() -> None:
    import json

    import av

    from engine.synth.sample_reel import sample_reel_cuts_path, sample_reel_path

    path = sample_reel_path()
    assert path.is_file(), f"{path} missing: run python -m engine.synth.sample_reel {path}"
    assert path.stat().st_size < 2_000_000
    info = json.loads(sample_reel_cuts_path().read_text())
    assert len(info["shots"]) >= 4
    with av.open(str(path)) as container:
        assert container.streams.audio, "the reel has no soundtrack"
        assert container.streams.audio[0].codec_context.name == "aac"
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 640, 360)
        small = [cv2.resize(f.to_ndarray(format="rgb24"), (80, 45), interpolation=cv2.INTER_AREA)
                 .astype(np.float32) / 255.0 for f in container.decode(stream)]
    assert len(small) == info["frame_count"]
    assert 6.0 <= len(small) / info["fps"] <= 8.0
    # The true cuts are where the picture changes abruptly, and only there.
    diffs = np.array([np.abs(b - a).mean() for a, b in zip(small, small[1:], strict=False)])
    cut_diffs = diffs[np.array(info["cuts"]) - 1]
    within = np.delete(diffs, np.array(info["cuts"]) - 1)
    assert cut_diffs.min() > 2.0 * within.max()
