"""The levels graph's data: every frame's mean luma, from its own pass or from cut detection."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from engine.errors import RenderCancelled
from engine.media import open_reader
from engine.media.levels import cached_levels, frame_levels, store_levels
from engine.shots import analyse_cuts, detect_cuts
from engine.synth.clip_file import write_frames
from engine.synth.damage import DamageSpec, apply_damage
from engine.synth.scenes import moving_scene

N, W, H = 30, 192, 108


@pytest.fixture(scope="module")
def flickering(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A clip with ±25 % flicker and a cut at frame 15; its frames' true mean luma."""
    scene = moving_scene(15, W, H, seed=2) + moving_scene(15, W, H, seed=9)
    frames = apply_damage(scene, DamageSpec(flicker=0.25, seed=4)).frames
    path = write_frames(tmp_path_factory.mktemp("levels") / "flicker.mkv", frames)
    luma = np.float32([0.2126, 0.7152, 0.0722])
    with open_reader(path) as reader:   # the levels as decoded (8-bit, as written)
        truth = np.array([np.clip(reader.read(i) @ luma, 0, 1).mean() for i in range(N)],
                         np.float32)
    return path, truth


def test_every_frame_s_mean_luma_is_measured(flickering) -> None:
    path, truth = flickering
    seen: list[tuple[int, int]] = []
    with open_reader(path) as reader:
        levels = frame_levels(reader, progress=lambda d, t: seen.append((d, t)))
    assert levels.shape == (N,) and levels.dtype == np.float32
    assert np.abs(levels - truth).max() < 0.002
    # The flicker is there to see: frame-to-frame jumps of several percent of full scale.
    assert np.abs(np.diff(levels)).max() > 0.03
    assert seen[-1] == (N, N)


def test_cut_detection_measures_the_same_levels_on_its_own_pass(flickering) -> None:
    path, _ = flickering
    with open_reader(path) as reader:
        levels = frame_levels(reader)
        analysis = analyse_cuts(reader)
        assert [c.frame for c in analysis.cuts] == [c.frame for c in detect_cuts(reader)]
    assert [c.frame for c in analysis.cuts] == [15]
    assert analysis.level.shape == (N,)
    assert np.abs(analysis.level - levels).max() < 0.01


def test_a_one_frame_clip_has_its_level(tmp_path: Path) -> None:
    path = write_frames(tmp_path / "one.mkv", [np.full((36, 64, 3), 0.4, np.float32)])
    with open_reader(path) as reader:
        assert analyse_cuts(reader).level == pytest.approx([0.4], abs=0.003)
        assert frame_levels(reader) == pytest.approx([0.4], abs=0.003)


def test_cancel_stops_the_pass(flickering) -> None:
    path, _ = flickering
    with open_reader(path) as reader, pytest.raises(RenderCancelled):
        frame_levels(reader, cancel=lambda: True)


def test_a_video_file_s_levels_are_kept_until_the_file_changes(flickering,
                                                               tmp_path: Path) -> None:
    path, truth = flickering
    copy = tmp_path / "copy.mkv"
    copy.write_bytes(path.read_bytes())
    cache = tmp_path / "cache"
    assert cached_levels(copy, N, cache) is None
    store_levels(copy, truth, cache)
    assert np.array_equal(cached_levels(copy, N, cache), truth)
    assert cached_levels(copy, N + 1, cache) is None          # another length: not these
    stat = copy.stat()
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # the file was replaced
    assert cached_levels(copy, N, cache) is None


def test_sequences_and_unwritable_caches_are_measured_each_time(tmp_path: Path) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    store_levels(folder, np.zeros(3, np.float32), tmp_path / "cache")
    assert cached_levels(folder, 3, tmp_path / "cache") is None
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    clip = write_frames(tmp_path / "c.mkv", [np.full((36, 64, 3), 0.4, np.float32)])
    store_levels(clip, np.zeros(1, np.float32), blocker / "cache")   # logged, not raised
    assert cached_levels(clip, 1, blocker / "cache") is None
