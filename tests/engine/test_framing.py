"""Framing: the picture area kept and fitted to a delivery size, on every export and still;
the scan's surround found automatically."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import MediaError, ProjectError
from engine.framing import Framing, apply_framing, detect_crop
from engine.framing.picture_area import MARGIN
from engine.media import open_reader, probe
from engine.pipeline import ShotPlan
from engine.project import load_project, new_project, save_project
from engine.project.recipe import Recipe
from engine.render import RenderJob, render
from engine.render.still import still_picture


def ramp(width: int, height: int) -> np.ndarray:
    """A float RGB frame whose red is x/width and green y/height: each pixel says where
    it came from."""
    x = (np.arange(width, dtype=np.float32) + 0.5) / width
    y = (np.arange(height, dtype=np.float32) + 0.5) / height
    frame = np.zeros((height, width, 3), np.float32)
    frame[..., 0] = x[None, :]
    frame[..., 1] = y[:, None]
    frame[..., 2] = 0.5
    return frame


def test_a_crop_keeps_exactly_the_pixels_inside_it() -> None:
    frame = ramp(64, 48)
    out = apply_framing(frame, Framing(crop=(5, 3, 7, 2)))
    assert out.shape == (43, 52, 3)
    assert np.array_equal(out, frame[3:46, 5:57])


def test_fit_pillarboxes_a_4_3_picture_in_a_16_9_frame() -> None:
    frame = ramp(400, 300)
    out = apply_framing(frame, Framing(size=(320, 180), fit="fit"))
    assert out.shape == (180, 320, 3)
    # 4:3 at 180 px high is 240 px wide: 40 px black bars each side.
    assert np.all(out[:, :40] == 0) and np.all(out[:, 280:] == 0)
    picture = out[:, 40:280]
    assert picture.min() > 0
    # The whole picture is there, squeezed by nothing: its corners hold the scan's corners.
    assert picture[0, 0, 0] < 0.01 and picture[0, -1, 0] > 0.99
    assert picture[0, 0, 1] < 0.01 and picture[-1, 0, 1] > 0.99


def test_fill_cuts_the_excess_equally_from_both_sides() -> None:
    frame = ramp(400, 300)
    out = apply_framing(frame, Framing(size=(320, 180), fit="fill"))
    assert out.shape == (180, 320, 3) and out.min() > 0
    # 400 px wide kept whole; 225 of the 300 rows kept, 37.5 cut from top and bottom.
    assert out[0, 0, 0] < 0.01 and out[0, -1, 0] > 0.99
    assert out[0, 0, 1] == pytest.approx(37.5 / 300, abs=0.01)
    assert out[-1, 0, 1] == pytest.approx(262.5 / 300, abs=0.01)


def test_stretch_desqueezes_to_the_size() -> None:
    frame = ramp(200, 200)
    out = apply_framing(frame, Framing(size=(400, 200), fit="stretch"))
    assert out.shape == (200, 400, 3) and out.min() > 0
    assert out[100, 200, 0] == pytest.approx(0.5, abs=0.01)


def test_scaling_down_averages_fine_detail_instead_of_aliasing() -> None:
    frame = np.zeros((200, 200, 3), np.float32)
    frame[:, ::2] = 1.0  # one-pixel vertical lines
    out = apply_framing(frame, Framing(size=(60, 60), fit="stretch"))
    # Sampling would give stripes (beats) of black and white; averaging, greys near the
    # mean (each output pixel covers 3.3 lines: 0.4 to 0.6).
    assert out.min() > 0.35 and out.max() < 0.65
    assert out.mean() == pytest.approx(0.5, abs=0.01)


def test_scaling_up_stays_within_the_levels() -> None:
    frame = np.zeros((20, 20, 3), np.float32)
    frame[:, 10:] = 1.0  # a hard edge makes bicubic overshoot
    out = apply_framing(frame, Framing(size=(80, 80), fit="stretch"))
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_an_upscaled_frame_is_cropped_at_the_same_place() -> None:
    source = ramp(64, 48)
    big = cv2.resize(source, (128, 96), interpolation=cv2.INTER_LINEAR)
    framing = Framing(crop=(8, 4, 8, 4))
    small_out = apply_framing(source, framing)
    big_out = apply_framing(big, framing, source_size=(64, 48))
    assert big_out.shape == (80, 96, 3) and small_out.shape == (40, 48, 3)
    shrunk = cv2.resize(big_out, (48, 40), interpolation=cv2.INTER_AREA)
    assert np.abs(shrunk - small_out).max() < 0.02


def test_framing_problems_are_named() -> None:
    assert Framing().identity and Framing().problem(64, 48) is None
    assert "leaves less than" in Framing(crop=(30, 0, 30, 0)).problem(64, 48)
    assert "output size" in Framing(size=(8, 8)).invalid()
    assert "fit" in Framing(size=(64, 64), fit="squash").invalid()
    assert "crop" in Framing(crop=(-1, 0, 0, 0)).invalid()  # type: ignore[arg-type]


def test_source_box_and_picture_box_say_what_reaches_the_output() -> None:
    fill = Framing(crop=(10, 0, 10, 0), size=(100, 100), fit="fill")
    assert fill.source_box(220, 100) == (60.0, 0.0, 100.0, 100.0)
    fit = Framing(size=(200, 100), fit="fit")
    assert fit.picture_box(100, 100) == (50.0, 0.0, 100.0, 100.0)


# --- the surround of a scan -------------------------------------------------------------

def gate_scan(count: int, seed: int = 3) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
    """`count` 280x200 frames: a textured picture 240x160 inside a dark gate, a clear frame
    line across the top, weave of up to 2 px, grain and a few dust specks on the surround.
    Returns the frames and each picture's (x, y) corner."""
    rng = np.random.default_rng(seed)
    frames, corners = [], []
    for _ in range(count):
        frame = np.full((200, 280, 3), 0.05, np.float32)
        frame[:6] = 0.93  # clear frame line
        dx, dy = (int(v) for v in rng.integers(-2, 3, 2))
        x, y = 20 + dx, 20 + dy
        texture = cv2.GaussianBlur(rng.random((160, 240, 3), np.float32), (7, 7), 2)
        frame[y:y + 160, x:x + 240] = 0.2 + 0.6 * texture
        frame += rng.normal(0, 0.01, frame.shape).astype(np.float32)  # grain
        for _ in range(3):  # dust on the surround
            sx, sy = int(rng.integers(2, 15)), int(rng.integers(20, 180))
            frame[sy:sy + 2, sx:sx + 2] = 0.9
        frames.append(np.clip(frame, 0, 1))
        corners.append((x, y))
    return frames, corners


def test_the_gate_surround_is_found_and_no_picture_is_lost() -> None:
    frames, corners = gate_scan(9)
    left, top, right, bottom = detect_crop(frames)
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    # Every frame's surround is cut, however it weaves…
    assert left >= max(xs) and top >= max(ys)
    assert right >= 280 - (min(xs) + 240) and bottom >= 200 - (min(ys) + 160)
    # …and no more picture than the weave and the margin.
    assert left <= max(xs) + MARGIN and top <= max(ys) + MARGIN
    assert right <= 280 - (min(xs) + 240) + MARGIN
    assert bottom <= 200 - (min(ys) + 160) + MARGIN


def test_a_steady_gate_is_cut_with_a_margin_for_its_soft_edge() -> None:
    rng = np.random.default_rng(9)
    frame = np.full((120, 160, 3), 0.04, np.float32)
    frame[10:110, 14:150] = 0.2 + 0.6 * cv2.GaussianBlur(
        rng.random((100, 136, 3), np.float32), (7, 7), 2)
    assert detect_crop([frame]) == (14 + MARGIN, 10 + MARGIN, 10 + MARGIN, 10 + MARGIN)


def test_a_fade_to_black_says_nothing_about_the_gate() -> None:
    frames, _ = gate_scan(4)
    black = np.full_like(frames[0], 0.02)
    assert detect_crop([*frames, black]) == detect_crop(frames)
    assert detect_crop([black]) == (0, 0, 0, 0)


def test_picture_to_the_edge_is_not_cropped() -> None:
    rng = np.random.default_rng(5)
    textured = cv2.GaussianBlur(rng.random((120, 160, 3), np.float32), (7, 7), 2)
    grey_sky = textured.copy()
    grey_sky[:30] = 0.55  # a flat mid-grey sky at the top: picture, not a gate
    assert detect_crop([textured, grey_sky]) == (0, 0, 0, 0)


def test_real_scans_cropped_at_the_picture_are_left_whole(footage: Path) -> None:
    frames = []
    for film in ("film_the_great_train_robbery", "film_within_our_gates"):
        files = sorted((footage / film).glob("*.png"))[::8]
        frames = [cv2.imread(str(f))[..., ::-1].astype(np.float32) / 255 for f in files]
        assert detect_crop(frames) == (0, 0, 0, 0), film


# --- exports, stills and projects -------------------------------------------------------

@pytest.fixture(scope="module")
def gate_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gate scan as a 16-bit PNG sequence of 12 frames."""
    folder = tmp_path_factory.mktemp("gate")
    frames, _ = gate_scan(12)
    for i, frame in enumerate(frames):
        data = (np.clip(frame, 0, 1) * 65535 + 0.5).astype(np.uint16)[..., ::-1]
        cv2.imwrite(str(folder / f"scan_{i:04d}.png"), data)
    return folder / "scan_%04d.png"


def test_an_export_is_framed_to_the_delivery_size(gate_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "framed.mkv"
    framing = Framing(crop=(24, 24, 24, 24), size=(320, 180), fit="fit")
    progress = list(render(RenderJob(gate_clip, out, ShotPlan.single(12, Recipe()),
                                     framing=framing)))
    assert progress[-1].route == "float"
    info = probe(out)
    assert (info.width, info.height) == (320, 180) and info.frame_count == 12
    with open_reader(out) as reader, open_reader(gate_clip) as source:
        written, scan = reader.read(5), source.read(5)
    expected = apply_framing(scan, framing)
    # 232x152 fitted into 320x180: 180 rows high, bars of 22-23 px each side.
    assert written[:, :20].max() < 0.01 and written[:, 300:].max() < 0.01
    assert np.abs(written - expected).max() < 2 / 255  # FFV1 at the source's depth


def test_a_framing_the_source_cannot_take_is_refused_before_writing(
        gate_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "bad.mov"
    job = RenderJob(gate_clip, out, ShotPlan.single(12, Recipe()),
                    framing=Framing(crop=(140, 0, 140, 0)))
    with pytest.raises(MediaError, match="bad.mov: cannot frame the 280x200 source"):
        list(render(job))
    assert list(tmp_path.iterdir()) == []


def test_a_before_after_still_frames_both_sides_alike() -> None:
    frames, _ = gate_scan(1)
    restored = np.clip(frames[0] * 1.1, 0, 1)
    still = still_picture(frames[0], restored, Framing(crop=(22, 22, 22, 22)), compare=True)
    assert still.shape[0] == 156 and still.shape[1] == 2 * 236 + 4
    upscaled = cv2.resize(restored, (560, 400))
    still = still_picture(frames[0], upscaled, Framing(crop=(22, 22, 22, 22)), compare=True)
    assert still.shape == (312, 2 * 472 + 4, 3)


def test_a_project_keeps_its_framing(gate_clip: Path, tmp_path: Path) -> None:
    project = new_project(gate_clip)
    path = save_project(project, tmp_path / "plain.nitrate")
    assert json.loads(path.read_text())["version"] <= 4  # nothing an older Nitrate lacks
    project.output.framing = Framing(crop=(20, 18, 20, 18), size=(1920, 1080), fit="fill")
    path = save_project(project, tmp_path / "framed.nitrate")
    data = json.loads(path.read_text())
    assert data["version"] == 5
    assert load_project(path).output.framing == project.output.framing


def test_a_malformed_framing_names_the_project(tmp_path: Path, gate_clip: Path) -> None:
    project = new_project(gate_clip)
    project.output.framing = Framing(size=(640, 480))
    path = save_project(project, tmp_path / "broken.nitrate")
    data = json.loads(path.read_text())
    data["output"]["framing"]["size"] = [640, 2]
    path.write_text(json.dumps(data))
    with pytest.raises(ProjectError, match="broken.nitrate.*output.framing: the output size"):
        load_project(path)
