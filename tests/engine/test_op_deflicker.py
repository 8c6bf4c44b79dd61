"""Deflicker: flicker gone, real light changes and clean footage kept, shots respected."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import OperatorError
from engine.metrics import residual_flicker
from engine.ops.base import Operator, Window
from engine.ops.color import analysis_frame
from engine.ops.registry import create
from engine.synth.damage import DamageSpec, apply_damage
from engine.synth.scenes import moving_scene

FOOTAGE = Path(__file__).resolve().parents[3] / "shared" / "footage"


def window_at(frames: list[np.ndarray], i: int, r: int, first: int = 0, key: str = "clip"
              ) -> Window:
    """The pipeline's window on frame i of a shot starting at `first`: full-size neighbours
    within r, and small analysis frames of the whole shot."""
    n = len(frames)
    lo, hi = max(0, i - r), min(n - 1, i + r)

    def analyse(j: int) -> np.ndarray:
        if not first <= j < first + n:
            raise IndexError(f"frame {j} outside shot {first}-{first + n - 1}")
        return analysis_frame(Window(frames=(frames[j - first],), indices=(j,), center=0,
                                     shot=(j, j)), j)

    return Window(frames=tuple(frames[lo:hi + 1]), indices=tuple(range(first + lo, first + hi + 1)),
                  center=i - lo, shot=(first, first + n - 1), key=key, analyse=analyse)


def run(op: Operator, frames: list[np.ndarray], first: int = 0, key: str = "clip") -> list[np.ndarray]:
    """Process every frame of one shot the way the pipeline does (windows clamped to it)."""
    return [op.process(window_at(frames, i, op.temporal_radius, first, key)).frame
            for i in range(len(frames))]


def region_means(frames: list[np.ndarray], grid: tuple[int, int] = (1, 1)) -> np.ndarray:
    """(frames, regions) mean level of each region of a rows x cols grid."""
    rows, cols = grid
    out = []
    for f in frames:
        y = f.mean(axis=2)
        h, w = y.shape
        y = y[: h // rows * rows, : w // cols * cols]
        out.append(y.reshape(rows, h // rows, cols, w // cols).mean(axis=(1, 3)).ravel())
    return np.array(out)


def flicker(frames: list[np.ndarray], clean: list[np.ndarray], grid=(1, 1)) -> float:
    """Frame-to-frame flicker left (levels): RMS change of the regional error between frames."""
    err = region_means(frames, grid) - region_means(clean, grid)
    return float(np.sqrt(np.mean(np.diff(err, axis=0) ** 2)))


def psnr(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    mse = float(np.mean((np.stack(a) - np.stack(b)) ** 2))
    return 10.0 * np.log10(1.0 / max(mse, 1e-12))


@pytest.fixture(scope="module")
def clean() -> list[np.ndarray]:
    return moving_scene(36, 160, 96, seed=3)


def test_global_flicker_is_removed(clean):
    damaged = apply_damage(clean, DamageSpec(flicker=0.12, seed=1)).frames
    out = run(create("deflicker"), damaged)
    before, after = flicker(damaged, clean), flicker(out, clean)
    assert after < before / 5, (before, after)


def test_local_flicker_is_removed_by_region(clean):
    damaged = apply_damage(clean, DamageSpec(local_flicker=0.12, seed=2)).frames
    before = flicker(damaged, clean, (3, 4))
    local = flicker(run(create("deflicker"), damaged), clean, (3, 4))
    whole = flicker(run(create("deflicker", {"local": False}), damaged), clean, (3, 4))
    assert local < before / 2.5, (before, local)
    # Uneven flicker is what the local mode is for: the global-only mode cannot fix it.
    assert local < 0.7 * whole, (whole, local)


def test_slow_breathing_flicker_is_removed_too():
    # Flicker that swings over several frames (a correlated series, as film exposure
    # "breathes") rather than jumping every frame: a short target window mistakes part of it
    # for real light, so it needs the long one that small analysis frames make cheap.
    clean = moving_scene(48, 160, 96, seed=3)
    rng = np.random.default_rng(5)
    state, swings = 0.0, []
    for _ in clean:
        state = 0.8 * state + 0.6 * rng.standard_normal()
        swings.append(state)
    gains = 1.0 + 0.04 * np.clip(np.array(swings), -2.0, 2.0)
    damaged = [f * np.float32(g) for f, g in zip(clean, gains, strict=True)]
    out = run(create("deflicker"), damaged)
    before, after = residual_flicker(damaged, clean), residual_flicker(out, clean)
    assert after < before / 12, (before, after)


def test_reads_small_analysis_frames_not_full_size_neighbours():
    op = create("deflicker")
    assert op.temporal_radius == 0 and op.analysis_radius == op.params.radius


def test_clean_moving_footage_is_untouched(clean):
    out = run(create("deflicker"), clean)
    assert psnr(out, clean) >= 45.0


def test_fade_and_lamp_are_kept():
    base = moving_scene(40, 160, 96, seed=4, motion="pan")
    light = np.linspace(1.0, 0.6, 40) * np.where(np.arange(40) < 22, 1.0, 1.5)
    lit = [f * np.float32(g) for f, g in zip(base, light, strict=True)]
    out = run(create("deflicker"), lit)
    ratio = region_means(out)[:, 0] / region_means(lit)[:, 0]
    # The fade and the lamp switched on at frame 22 survive: every frame within 3 %.
    assert np.all(np.abs(ratio - 1.0) < 0.03), np.round(ratio, 3)


def test_never_reads_across_a_cut():
    bright = [f * np.float32(1.4) for f in moving_scene(12, 96, 64, seed=5)]
    dark = apply_damage(moving_scene(20, 96, 64, seed=6), DamageSpec(flicker=0.1, seed=3)).frames
    op = create("deflicker")
    run(op, bright, first=0, key="shot-a")  # memoised analyses of the first shot
    after_cut = run(op, dark, first=12, key="shot-b")
    alone = run(create("deflicker"), dark, first=12, key="shot-b")
    # The second shot comes out exactly as if the first had never been seen.
    for a, b in zip(after_cut, alone, strict=True):
        np.testing.assert_array_equal(a, b)
    assert abs(float(after_cut[0].mean()) - float(dark[0].mean())) < 0.05


def test_mask_shows_where_it_corrected(clean):
    damaged = apply_damage(clean, DamageSpec(flicker=0.15, seed=1)).frames
    op = create("deflicker")
    result = op.process(window_at(damaged, 0, op.temporal_radius, key="m"))
    assert result.mask is not None and result.mask.shape == damaged[0].shape[:2]
    assert result.mask.dtype == np.float32 and 0.0 <= result.mask.min() <= result.mask.max() <= 1.0
    # Frame 0 is far off the shot's steady level: the mask says it was corrected.
    assert result.mask.mean() > 0.2


@pytest.mark.parametrize("values", [{"radius": 0}, {"strength": 2}, {"regions": 1},
                                    {"local": "maybe"}, {"speed": 1}])
def test_invalid_parameters_name_the_operator(values):
    with pytest.raises(OperatorError, match="^deflicker: "):
        create("deflicker", values)


@pytest.mark.footage
@pytest.mark.skipif(not FOOTAGE.is_dir(), reason="shared footage not present")
def test_real_film_flicker_is_reduced():
    paths = sorted((FOOTAGE / "film_the_great_train_robbery").glob("*.png"))[:24]
    frames = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB).astype(np.float32) / 255
              for p in paths]
    out = run(create("deflicker"), frames)
    jumps = lambda fr: np.abs(np.diff(region_means(fr, (2, 2)), axis=0)).mean()  # noqa: E731
    assert jumps(out) < 0.6 * jumps(frames), (jumps(frames), jumps(out))
