"""Frame-rate conversion and in-between frames: exact timing, sharp in-betweens, no ghosts,
no mixing across cuts, exports that keep their duration and audio sync."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli import run_cli
from engine.errors import MediaError
from engine.media import open_reader, probe
from engine.metrics import psnr
from engine.pipeline import ShotPlan
from engine.project.recipe import Recipe
from engine.render import RenderJob, render
from engine.retime import (
    RetimeMap,
    cross_fade,
    interpolate_frame,
    parse_fps,
    rebuild_frame,
    retime_frames,
    retime_timecode,
)
from engine.synth.index_clip import decode_audio, find_clicks, read_index, write_index_clip
from engine.synth.scenes import texture

W, H = 160, 96
EDGE = 12  # pixels left out of comparisons: content entering the frame cannot be guessed


def inner(frame: np.ndarray) -> np.ndarray:
    return frame[EDGE:-EDGE, EDGE:-EDGE]


def pan(canvas: np.ndarray, x: int, y: int) -> np.ndarray:
    """The W x H view of `canvas` at offset (x, y) pixels: the picture moves by −(x, y)."""
    return np.ascontiguousarray(canvas[y : y + H, x : x + W])


@pytest.fixture(scope="module")
def canvas() -> np.ndarray:
    return texture(np.random.default_rng(7), W + 64, H + 64)


# -- timing -------------------------------------------------------------------------------

def test_16_to_24_is_exact_over_a_second_and_does_not_drift() -> None:
    second = RetimeMap(0, 15, Fraction(16), Fraction(24))
    samples = list(second)
    assert len(samples) == 24
    # Every third output frame is a source frame as it is; the others sit at 1/3 and 2/3.
    assert [(s.frame, s.phase) for s in samples[:4]] == [
        (0, 0), (0, Fraction(2, 3)), (1, Fraction(1, 3)), (2, 0)]
    assert [s.frame for s in samples if s.exact] == list(range(0, 16, 2))
    # An hour of 16 fps film: still exactly 24 output frames per 16 source frames.
    hour = RetimeMap(100, 100 + 16 * 3600 - 1, Fraction(16), Fraction(24))
    assert len(hour) == 24 * 3600
    last = hour.sample(24 * 3600 - 3)
    assert (last.frame, last.phase) == (100 + 16 * 3600 - 2, 0)


def test_ntsc_rates_and_odd_ratios() -> None:
    assert parse_fps("23.976") == parse_fps("24000/1001") == Fraction(24000, 1001)
    assert parse_fps("48") == 48 and parse_fps("12.5") == Fraction(25, 2)
    for bad in ("", "fast", "0", "24/0", "-24", "5000"):
        with pytest.raises(ValueError):
            parse_fps(bad)
    # 18 → 24: four output frames per three source frames, the duration kept.
    rmap = RetimeMap(0, 17, Fraction(18), Fraction(24))
    assert len(rmap) == 24 and rmap.duration == 1
    # 24 → 23.976 slows nothing down: same duration, one frame fewer per 1001.
    slow = RetimeMap(0, 1000, Fraction(24), Fraction(24000, 1001))
    assert len(slow) == 1000
    assert retime_timecode("01:00:00:12", Fraction(25), Fraction(50)) == "01:00:00:24"


# -- in-betweens --------------------------------------------------------------------------

def test_inbetween_of_a_translating_pattern_matches_the_true_middle(canvas: np.ndarray) -> None:
    a, b = pan(canvas, 10, 20), pan(canvas, 16, 24)  # 6 px right, 4 px down
    middle = pan(canvas, 13, 22)
    out = interpolate_frame(a, b, 0.5)
    assert out.shape == a.shape and out.dtype == np.float32
    sharp = psnr(inner(out), inner(middle))
    blurred = psnr(inner(cross_fade(a, b, 0.5)), inner(middle))
    assert sharp > 36.0, f"in-between only {sharp:.1f} dB from the true middle frame"
    assert sharp > blurred + 10.0
    # Off-centre phases too (16 → 24 fps needs thirds): 9 px right, a third is 3 px.
    c = pan(canvas, 19, 20)
    third = pan(canvas, 13, 20)
    assert psnr(inner(interpolate_frame(a, c, 1 / 3)), inner(third)) > 34.0


def test_a_moving_object_does_not_leave_a_ghost(canvas: np.ndarray) -> None:
    """A textured square crossing a textured background: the background it uncovers and
    covers must come from the frame that sees it, not be blended with the square."""
    background = pan(canvas, 20, 20)
    patch = texture(np.random.default_rng(3), 36, 36) * np.float32(0.6) + np.float32(0.35)

    def frame(x: int) -> np.ndarray:
        f = background.copy()
        f[30:66, x : x + 36] = patch
        return f

    a, b, middle = frame(40), frame(56), frame(48)  # 16 px per frame
    out = interpolate_frame(a, b, 0.5)
    blend = cross_fade(a, b, 0.5)
    band = (slice(26, 70), slice(34, 98))  # the square's path and its surroundings

    def share_off(frame: np.ndarray, by: float) -> float:
        return float(np.mean(np.abs(frame[band] - middle[band]).max(axis=-1) > by))

    # A cross-fade shows the square twice at half strength: a ghost over its whole path.
    assert share_off(blend, 0.25) > 0.1 and share_off(blend, 0.1) > 0.4
    # The in-between may miss a few pixels at the strips being covered and uncovered
    # (optical flow is soft at motion edges) but shows no double image.
    assert share_off(out, 0.25) < 0.04, "the square leaves a ghost"
    assert share_off(out, 0.1) < 0.2
    assert psnr(out[band], middle[band]) > psnr(blend[band], middle[band]) + 4.0


def test_a_frame_rebuilt_from_its_neighbours(canvas: np.ndarray) -> None:
    clip = [pan(canvas, 4 * i, 2 * i) for i in range(6)]
    repaired = rebuild_frame(clip.__getitem__, 3, 0, 5)
    assert psnr(inner(repaired), inner(clip[3])) > 36.0
    # At a shot's edge the one neighbour inside the shot is repeated, never the other shot.
    assert np.array_equal(rebuild_frame(clip.__getitem__, 0, 0, 5), clip[1])
    assert np.array_equal(rebuild_frame(clip.__getitem__, 2, 1, 2), clip[1])
    with pytest.raises(ValueError):
        rebuild_frame(clip.__getitem__, 4, 4, 4)


def test_no_interpolation_across_a_cut(canvas: np.ndarray) -> None:
    other = texture(np.random.default_rng(11), W + 64, H + 64)
    shot_a = [pan(canvas, 4 * i, 0) for i in range(4)]
    shot_b = [pan(other, 3 * i, 0) for i in range(4)]
    frames = shot_a + shot_b
    out = retime_frames(frames, Fraction(25), Fraction(50), cuts=(4,))
    assert len(out) == 16
    # Output 7 sits halfway between frame 3 (shot A) and 4 (shot B): frame 3 repeated,
    # so the cut falls exactly where it did (output 8 = frame 4).
    assert np.array_equal(out[7], frames[3]) and np.array_equal(out[8], frames[4])
    # Inside the shots the in-betweens are real in-betweens.
    assert psnr(inner(out[5]), inner(pan(canvas, 10, 0))) > 34.0
    # Without the cut the same output would mix the two shots (the check can fail).
    mixed = retime_frames(frames, Fraction(25), Fraction(50))[7]
    assert not np.array_equal(mixed, frames[3]) and not np.array_equal(mixed, frames[4])


# -- export and command line ------------------------------------------------------------



@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 frames at 25 fps, 64x48, with clicks on frames 12 and 30."""
    path = tmp_path_factory.mktemp("retime") / "source.mov"
    return write_index_clip(path, "h264", frames=48, audio=True, click_frames=(12, 30))


def test_25_to_50_export_doubles_frames_and_keeps_duration_and_sync(
    clip: Path, tmp_path: Path
) -> None:
    out = tmp_path / "double.mov"
    job = RenderJob(clip, out, ShotPlan.single(48, Recipe()), fps=Fraction(50))
    progress = list(render(job))
    assert progress[-1].finished and progress[-1].total == 96 and progress[-1].done == 96
    assert [p.done for p in progress[:-1]] == list(range(1, 97))
    info = probe(out)
    assert info.frame_count == 96 and info.fps == 50
    assert abs(info.duration - 48 / 25) <= 1 / 50
    with open_reader(out) as reader:
        frames = list(reader.frames(0, 96))
    assert [read_index(f) for f in frames[::2]] == list(range(48))  # originals in place
    samples, rate = decode_audio(out)
    assert abs(samples.shape[1] / rate - 48 / 25) <= 1 / 25
    clicks = [round(s * 50 / rate) for s in find_clicks(samples, rate)]
    assert clicks == [24, 60]  # frames 12 and 30 of 25 fps are output frames 24 and 60
    assert read_index(frames[24]) == 12 and read_index(frames[60]) == 30


def test_ranged_16_to_24_export(tmp_path: Path) -> None:
    source = write_index_clip(tmp_path / "silent16.mkv", "ffv1", frames=40, fps=Fraction(16))
    out = tmp_path / "at24.mkv"
    progress = list(render(RenderJob(source, out, ShotPlan.single(40, Recipe()), start=8,
                                     end=23, fps=Fraction(24), retime="nearest")))
    assert progress[-1].total == 24
    with open_reader(out) as reader:
        assert reader.info.frame_count == 24 and reader.info.fps == 24
        shown = [read_index(f) for f in reader.frames(0, 24)]
    # Nearest frame: source k·2/3 rounded half down, from frame 8 on.
    assert shown[:6] == [8, 9, 9, 10, 11, 11] and shown[-1] == 23


def test_bad_retime_settings_are_one_line_errors(clip: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    plan = ShotPlan.single(48, Recipe())
    with pytest.raises(MediaError, match="frame rate must be positive"):
        list(render(RenderJob(clip, tmp_path / "x.mkv", plan, fps=Fraction(0))))
    with pytest.raises(MediaError, match="retime method"):
        list(render(RenderJob(clip, tmp_path / "x.mkv", plan, fps=Fraction(50), retime="warp")))
    assert run_cli(["restore", str(clip), "-o", str(tmp_path / "y.mkv"), "--fps", "fast"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--fps" in err and "fast" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_cli_restore_with_fps(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.mkv"
    assert run_cli(["restore", str(clip), "-o", str(out), "--fps", "50", "--end", "9"]) == 0
    info = probe(out)
    assert info.frame_count == 20 and info.fps == 50


def test_a_same_rate_job_is_the_plain_export(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "same.mkv"
    list(render(RenderJob(clip, out, ShotPlan.single(48, Recipe()), end=9, fps=Fraction(25))))
    with open_reader(out) as reader:
        assert [read_index(f) for f in reader.frames(0, 10)] == list(range(10))


def test_flow_failure_falls_back_to_a_cross_fade() -> None:
    rng = np.random.default_rng(5)
    a = rng.random((48, 64, 3), dtype=np.float32)  # unrelated noise: no motion to find
    b = rng.random((48, 64, 3), dtype=np.float32)
    out = interpolate_frame(a, b, 0.25)
    assert np.allclose(out, cross_fade(a, b, 0.25), atol=1e-5)
    assert cv2.absdiff(out, a).mean() > 0.05  # really in between, not a repeat
