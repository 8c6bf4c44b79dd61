"""Burn-in: timecode, frame and shot written into a review copy's picture, nowhere else."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.media import open_reader
from engine.pipeline import ShotPlan
from engine.project.recipe import Recipe
from engine.render import RenderJob, render
from engine.render.burn_in import TEXT_HEIGHT, burn_in


def test_the_text_sits_in_the_bottom_corners_on_a_dark_band() -> None:
    picture = np.full((240, 320, 3), 0.8, np.float32)
    out = burn_in(picture, "01:00:00:00  #0", "shot 1")
    assert out.dtype == np.float32 and out.shape == picture.shape
    assert 0.0 <= out.min() and out.max() <= 1.0
    changed = np.any(out != picture, axis=2)
    rows = np.flatnonzero(changed.any(axis=1))
    assert rows.min() > 240 - 5 * TEXT_HEIGHT * 240  # the bottom band only
    assert changed[:, :100].any() and changed[:, 220:].any()  # left and right
    assert not changed[:, 150:170].any()  # the middle of the band is left alone
    band = out[rows.min():, :100]
    assert band.min() < 0.4 and band.max() > 0.95  # dark band, white letters
    assert np.array_equal(picture, np.full((240, 320, 3), 0.8, np.float32))  # not in place


@pytest.fixture(scope="module")
def still_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight identical textured 320x240 frames (PNG): only a burn-in can tell them apart."""
    folder = tmp_path_factory.mktemp("still")
    rng = np.random.default_rng(4)
    picture = cv2.GaussianBlur(rng.integers(30, 220, (240, 320, 3), dtype=np.uint8), (5, 5), 1)
    for i in range(8):
        cv2.imwrite(str(folder / f"f_{i:03d}.png"), picture)
    return folder / "f_%03d.png"


def test_a_review_copy_says_where_each_frame_is(still_clip: Path, tmp_path: Path) -> None:
    plan = ShotPlan.from_cuts(8, [4], Recipe())
    plain, review = tmp_path / "plain.mkv", tmp_path / "review.mkv"
    list(render(RenderJob(still_clip, plain, plan)))
    steps = list(render(RenderJob(still_clip, review, plan, burn_in=True)))
    assert steps[-1].route == "float"
    with open_reader(plain) as a, open_reader(review) as b:
        plain_frames, review_frames = list(a.frames()), list(b.frames())
    band = 240 - round(4 * TEXT_HEIGHT * 240)
    for p, r in zip(plain_frames, review_frames, strict=True):
        assert np.array_equal(p[:band], r[:band])  # the picture above the band is untouched
        assert not np.array_equal(p[band:], r[band:])
    # Each frame's band says something else (its timecode and number), and the shot
    # number changes at the cut.
    bands = [r[band:] for r in review_frames]
    assert all(not np.array_equal(x, y) for x, y in zip(bands, bands[1:], strict=False))
    right = [r[band:, 240:] for r in review_frames]
    assert np.array_equal(right[0], right[3]) and not np.array_equal(right[3], right[4])


def test_a_source_without_timecode_is_counted_from_zero_at_the_export_s_rate() -> None:
    from fractions import Fraction
    from types import SimpleNamespace

    from engine.render.export import start_timecode

    info = SimpleNamespace(timecode=None, fps=Fraction(18))
    job = RenderJob(Path("scan"), Path("out.mov"), ShotPlan.single(40, Recipe()), start=9,
                    fps=Fraction(24))
    assert start_timecode(job, info, Fraction(24)) is None  # nothing written in the file
    # Frame 9 at 18 fps is half a second in: 00:00:00:12 on the 24 fps export's clock.
    assert start_timecode(job, info, Fraction(24), from_zero=True) == "00:00:00:12"
