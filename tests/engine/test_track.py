"""Tracked regions: a protection (or repair) that follows the picture through a pan."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import ProjectError, RenderCancelled
from engine.media import open_reader
from engine.ops.track import track_region
from engine.pipeline import Evaluator, ShotPlan
from engine.project import Clip, Project, Recipe, Step, load_project, save_project
from engine.project.model import Repair
from engine.synth.clip_file import write_frames

W, H = 320, 180
N = 10
PAN = (3.4, 1.3)  # the camera's motion, pixels a frame: the picture moves by minus this
WATER = (150, 70, 80, 50)  # x, y, width, height of the water on frame 0 (pixels)


class Frames:
    """A reader over frames in memory (engine.media.Reader's `info` and `frames`)."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        self._frames = frames

        class Info:
            width, height, frame_count = W, H, len(frames)

        self.info = Info()

    def frames(self, start: int, stop: int | None = None):
        yield from self._frames[start:stop]

    def read(self, index: int) -> np.ndarray:
        return self._frames[index]


def camera(i: int) -> tuple[int, int]:
    """Where the picture of frame 0 lies on frame `i`, whole pixels."""
    return -round(PAN[0] * i), -round(PAN[1] * i)


def pan_over_water(seed: int = 3, change_at: int | None = None) -> list[np.ndarray]:
    """A pan across textured scenery with a patch of water whose ripples are new on every
    frame; the water moves with the scenery. From frame `change_at` on, the scenery is
    other scenery, panning the same way."""
    rng = np.random.default_rng(seed)
    world = cv2.GaussianBlur(rng.random((H + 120, W + 120)).astype(np.float32), (0, 0), 2.5)
    world = (world - world.min()) / np.ptp(world)
    x, y, w, h = WATER
    frames = []
    for i in range(N):
        if i == change_at:
            world = np.ascontiguousarray(world[::-1, ::-1])  # turned half round
        dx, dy = camera(i)
        picture = world[-dy:-dy + H, -dx:-dx + W].copy()
        ripples = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 1.2)
        picture[y + dy:y + dy + h, x + dx:x + dx + w] = 0.45 + 0.12 * ripples / ripples.std()
        frame = picture[..., None] * np.float32([0.9, 1.0, 1.1])
        frames.append(np.clip(frame, 0, 1).astype(np.float32))
    return frames


def water_on(i: int) -> np.ndarray:
    x, y, w, h = WATER
    dx, dy = camera(i)
    mask = np.zeros((H, W), bool)
    mask[y + dy:y + dy + h, x + dx:x + dx + w] = True
    return mask


@pytest.mark.parametrize("key", [0, 6])
def test_a_region_follows_the_pan_from_its_key_frame(key: int) -> None:
    frames = pan_over_water()
    x, y, w, h = WATER
    kx, ky = camera(key)
    done: list[int] = []
    track = track_region(Frames(frames), (x + kx, y + ky, w, h), 0, N - 1, key,
                         progress=lambda d, _t: done.append(d))
    truth = [(cx - kx, cy - ky) for cx, cy in map(camera, range(N))]
    assert track.offsets[key] == (0, 0)
    assert np.abs(np.subtract(track.offsets, truth)).max() <= 1  # within a pixel
    assert track.unmeasured == ()
    assert done[-1] == N


def test_a_flash_frame_in_a_pan_is_placed_between_its_neighbours() -> None:
    frames = pan_over_water()
    frames[5] = np.ones_like(frames[5])  # a white flash: nothing to measure
    track = track_region(Frames(frames), WATER, 0, N - 1, 0)
    assert track.unmeasured == (5,)
    # Where the pan would have taken it, and every other frame followed as before.
    truth = [camera(i) for i in range(N)]
    assert np.abs(np.subtract(track.offsets, truth)).max() <= 1


def test_a_region_follows_on_when_the_picture_around_it_changes() -> None:
    # From frame 5 the scenery is other scenery (panning alike): frame 5 cannot be matched
    # with frame 4; from frame 6 on the region follows the new picture.
    track = track_region(Frames(pan_over_water(change_at=5)), WATER, 0, N - 1, 0)
    assert track.unmeasured == (5,)
    truth = [camera(i) for i in range(N)]
    assert np.abs(np.subtract(track.offsets[:5], truth[:5])).max() <= 1
    moved = np.subtract(track.offsets[6:], track.offsets[6])
    assert np.abs(moved - np.subtract(truth[6:], truth[6])).max() <= 1


def test_picture_that_cannot_be_followed_leaves_the_region_and_says_where() -> None:
    rng = np.random.default_rng(0)
    # Fresh noise on every frame: there is no motion to follow anywhere.
    frames = [np.repeat(rng.random((H, W, 1), np.float32), 3, axis=2) for _ in range(5)]
    track = track_region(Frames(frames), WATER, 0, 4, 2)
    assert track.offsets == ((0, 0),) * 5  # only the key frame is measured
    assert track.unmeasured == (0, 1, 3, 4)


def test_tracking_can_be_cancelled() -> None:
    with pytest.raises(RenderCancelled):
        track_region(Frames(pan_over_water()), WATER, 0, N - 1, 0, cancel=lambda: True)


def test_a_tracked_protection_keeps_the_moving_water_as_scanned() -> None:
    frames = pan_over_water()
    dust = ShotPlan.single(N, Recipe.of([Step.create("dust")]))
    track = track_region(Frames(frames), WATER, 0, N - 1, 0)
    still = dust.with_repairs([Repair(0, N - 1, WATER, protect=True)])
    moving = dust.with_repairs([Repair(0, N - 1, WATER, protect=True, track=track.offsets)])
    evaluator = Evaluator(Frames(frames))  # one cache: a track must count as an edit
    for i in (4, 7):
        water = water_on(i)
        # Protected where it was drawn, the water that moved out of the rectangle is
        # repainted by dust as if it were dirt ...
        out = evaluator.evaluate(i, still).restored
        assert (np.abs(out - frames[i]).max(axis=2) > 0.02)[water].sum() > 100
        # ... followed, it is left exactly as scanned.
        out = evaluator.evaluate(i, moving).restored
        assert np.array_equal(out[water], frames[i][water])


def test_a_tracked_repair_rebuilds_where_the_region_has_moved_to() -> None:
    from engine.pipeline.evaluator import REPAIR_MASK_KEY

    frames = pan_over_water()
    offsets = tuple(camera(i) for i in range(2, 6))
    plan = ShotPlan.single(N, Recipe.of([])).with_repairs(
        [Repair(2, 5, WATER, track=offsets)])
    mask = Evaluator(Frames(frames)).evaluate(5, plan).masks[REPAIR_MASK_KEY] > 0
    assert np.array_equal(mask, water_on(5))


def test_region_at_moves_the_region_and_clipping_keeps_the_frames_offsets() -> None:
    r = Repair(10, 13, (50, 40, 20, 10), protect=True, track=((0, 0), (-3, 1), (-60, 2), (4, 4)))
    assert r.region_at(11) == (47, 41, 20, 10)
    assert r.region_at(12) == (-10, 42, 20, 10)  # partly off the frame: clipped when used
    assert r.clipped(12, 20) == Repair(12, 13, (50, 40, 20, 10), protect=True,
                                       track=((-60, 2), (4, 4)))
    assert r.describe() == "frames 10-13, region 50,40 20x10 px protected, following the picture"
    assert Repair(10, 13, (50, 40, 20, 10)).region_at(12) == (50, 40, 20, 10)


def test_a_track_must_fit_its_frames_and_needs_a_region() -> None:
    with pytest.raises(ValueError, match="offset dx, dy for each of its 3 frames, got 2"):
        Repair(1, 3, (0, 0, 5, 5), track=((0, 0), (1, 1)))
    with pytest.raises(ValueError, match="only a region can be tracked"):
        Repair(1, 1, None, track=((0, 0),))


def test_tracks_survive_a_save_as_version_4(tmp_path: Path) -> None:
    tracked = Repair(3, 5, (10, 20, 30, 40), "sea", protect=True, track=((0, 0), (2, -1), (4, -2)))
    clip = Clip(path=str(tmp_path / "reel.mov"), frame_count=50, repairs=[tracked])
    path = save_project(Project(clips=[clip]), tmp_path / "p.nitrate")
    data = json.loads(path.read_text())
    # A version-3 Nitrate would leave the region where it was drawn: it must refuse this.
    assert data["version"] == 4
    assert data["clips"][0]["repairs"][0]["track"] == [[0, 0], [2, -1], [4, -2]]
    assert load_project(path).clip.repairs == [tracked]
    data["clips"][0]["repairs"][0]["track"] = [[0, 0], [2, -1]]
    path.write_text(json.dumps(data))
    with pytest.raises(ProjectError, match=r"p\.nitrate.*for each of its 3 frames"):
        load_project(path)


def test_cli_repair_track_makes_the_region_follow_the_picture(tmp_path: Path, capsys) -> None:
    from app.cli import run_cli

    media = write_frames(tmp_path / "lake.mkv", pan_over_water())
    project = save_project(Project(clips=[Clip(str(media), N)]), tmp_path / "p.nitrate")
    x, y, w, h = WATER
    kx, ky = camera(4)
    assert run_cli(["repair", str(project), "--frames", f"0-{N - 1}", "--region",
                    f"{x + kx},{y + ky},{w},{h}", "--protect", "--track", "4"]) == 0
    assert "following the picture" in capsys.readouterr().out
    (repair,) = load_project(project).clip.repairs
    for i in range(N):
        cx, cy = camera(i)
        assert np.abs(np.subtract(repair.region_at(i)[:2], (x + cx, y + cy))).max() <= 1
    with open_reader(media) as reader:
        assert reader.info.frame_count == N
    assert run_cli(["repair", str(project), "--frames", "2-3", "--track"]) == 2
    assert "--track needs a --region" in capsys.readouterr().err
    assert run_cli(["repair", str(project), "--frames", "2-3", "--region", "0,0,9,9",
                    "--track", "7"]) == 2
    assert "key frame must lie within frames 2-3" in capsys.readouterr().err


def test_cli_restore_track_keeps_the_moving_water_as_scanned(tmp_path: Path, capsys) -> None:
    from app.cli import run_cli

    media = write_frames(tmp_path / "lake.mkv", pan_over_water())
    x, y, w, h = WATER
    still, moving = tmp_path / "still.mkv", tmp_path / "moving.mkv"
    protect = ["--ops", "dust", "--shots", "none", "--protect", f"0-{N - 1}@{x},{y},{w},{h}"]
    assert run_cli(["restore", str(media), "-o", str(still), *protect]) == 0
    assert run_cli(["restore", str(media), "-o", str(moving), *protect, "--track"]) == 0
    with open_reader(media) as src, open_reader(still) as a, open_reader(moving) as b:
        for i in (4, 7):
            water, scanned = water_on(i), src.read(i)
            assert (np.abs(a.read(i) - scanned).max(axis=2) > 0.02)[water].sum() > 100
            assert np.abs(b.read(i) - scanned)[water].max() < 1e-3  # lossless: as scanned
    assert run_cli(["restore", str(media), "-o", str(tmp_path / "x.mkv"), "--protect", "3",
                    "--track"]) == 2
    assert "--track: no --repair or --protect region to follow" in capsys.readouterr().err


def test_a_region_followed_out_of_the_picture_is_clipped_there() -> None:
    frames = pan_over_water()
    dust = ShotPlan.single(N, Recipe.of([Step.create("dust")]))
    # Half out on frame 3, wholly out (left of the frame) on frame 4.
    track = tuple((0, 0) if i < 3 else (-190, 0) if i == 3 else (-400, 0) for i in range(N))
    plan = dust.with_repairs([Repair(0, N - 1, WATER, protect=True, track=track)])
    evaluator = Evaluator(Frames(frames))
    plain = Evaluator(Frames(frames)).evaluate(4, dust).restored
    assert np.array_equal(evaluator.evaluate(4, plan).restored, plain)
    out = evaluator.evaluate(3, plan).restored
    assert np.array_equal(out[70:120, :40], frames[3][70:120, :40])  # the part still in it
