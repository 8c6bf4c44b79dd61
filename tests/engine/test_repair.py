"""Manual repairs: destroyed frames and damaged regions rebuilt from their neighbours."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.cli import run_cli
from engine.errors import ProjectError
from engine.media import open_reader
from engine.pipeline import Evaluator, ShotPlan
from engine.pipeline.evaluator import REPAIR_MASK_KEY
from engine.project import Clip, Project, Recipe, Shot, Step, load_project, save_project
from engine.project.model import Repair
from engine.synth.clip_file import write_frames
from engine.synth.scenes import moving_scene, texture

W, H = 160, 96


class FrameList:
    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames = frames

    def read(self, index: int) -> np.ndarray:
        return self.frames[index]


class LevelSource:
    """Frame i is a flat grey of level i/100 (frame `broken` is garbage)."""

    def __init__(self, broken: int | None = None) -> None:
        self.broken = broken

    def read(self, index: int) -> np.ndarray:
        value = 0.9 if index == self.broken else index / 100
        return np.full((12, 16, 3), value, np.float32)


def panning(n: int = 12, speed: int = 3) -> list[np.ndarray]:
    """A texture panning `speed` px/frame to the left: easy to predict, hard to cross-fade."""
    canvas = texture(np.random.default_rng(1), W + speed * n, H)
    return [np.ascontiguousarray(canvas[:, speed * i:speed * i + W]) for i in range(n)]


def noise(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((H, W, 3)).astype(np.float32)


def test_destroyed_frames_are_rebuilt_close_to_the_true_frames() -> None:
    clean = panning()
    damaged = list(clean)
    damaged[6], damaged[7] = noise(0), noise(1)  # two torn frames in a row
    plan = ShotPlan.single(12, Recipe()).with_repairs([Repair(6, 7)])
    ev = Evaluator(FrameList(damaged))
    inner = (slice(8, -8), slice(8, -8))  # the pan brings new pixels in at one edge
    for i in (6, 7):
        out = ev.evaluate(i, plan)
        error = float(np.abs(out.restored - clean[i])[inner].mean())
        phase = (i - 5) / 3
        fade = (1 - phase) * clean[5] + phase * clean[8]
        fade_error = float(np.abs(fade - clean[i])[inner].mean())
        assert error < 0.01 and error < 0.2 * fade_error, (i, error, fade_error)
        assert np.all(out.masks[REPAIR_MASK_KEY] == 1.0)
    # Frames without repairs pass through the stage untouched.
    assert np.array_equal(ev.evaluate(4, plan).restored, damaged[4])


def test_a_repaired_region_changes_only_that_region() -> None:
    clean = moving_scene(12, W, H, seed=3)
    damaged = [f.copy() for f in clean]
    x, y, w, h = 50, 30, 40, 30
    damaged[8][y + 4:y + h - 4, x + 4:x + w - 4] = 0.02  # a dark blotch inside the region
    damaged[8][y:y + h, x:x + 3] = 0.95  # and a bright edge right on its border
    plan = ShotPlan.single(12, Recipe()).with_repairs([Repair(8, 8, (x, y, w, h))])
    out = Evaluator(FrameList(damaged)).evaluate(8, plan)
    inside = np.zeros((H, W), bool)
    inside[y:y + h, x:x + w] = True
    assert np.array_equal(out.restored[~inside], damaged[8][~inside])  # bit for bit
    before = float(np.abs(damaged[8] - clean[8])[inside].mean())
    after = float(np.abs(out.restored - clean[8])[inside].mean())
    assert after < 0.03 and after < 0.1 * before, (before, after)
    mask = out.masks[REPAIR_MASK_KEY]
    assert np.all(mask[inside] == 1.0) and np.all(mask[~inside] == 0.0)


def test_a_region_is_filled_spatially_with_grain_when_motion_fails() -> None:
    rng = np.random.default_rng(5)
    grey = (0.5 + 0.02 * rng.standard_normal((H, W, 1))).astype(np.float32).repeat(3, axis=2)
    damaged = [noise(10), grey.copy(), noise(11)]  # the neighbours show something else
    damaged[1][40:60, 70:100] = 0.0
    plan = ShotPlan.single(3, Recipe()).with_repairs([Repair(1, 1, (70, 40, 30, 20))])
    out = Evaluator(FrameList(damaged)).evaluate(1, plan).restored
    region = out[40:60, 70:100]
    assert abs(float(region.mean()) - 0.5) < 0.02  # the grey around it, not the neighbours
    assert 0.005 < float(region[..., 0].std()) < 0.05  # grain, not a flat smudge
    outside = np.ones((H, W), bool)
    outside[40:60, 70:100] = False
    assert np.array_equal(out[outside], damaged[1][outside])


def test_repairs_never_read_across_a_cut() -> None:
    clip = Clip(path="reel.mov", frame_count=20, shots=[Shot(0, 9), Shot(10, 19)],
                repairs=[Repair(8, 11), Repair(5, 5)])
    plan = clip.plan()
    assert plan.shot_at(9).repairs == (Repair(5, 5), Repair(8, 9))  # split at the cut
    ev = Evaluator(LevelSource())

    def level(i: int) -> float:
        return float(ev.evaluate(i, plan).restored.mean()) * 100

    # 8 and 9 end their shot: only frame 7 is good on their side of the cut.
    assert level(8) == pytest.approx(7.0, abs=1e-3) and level(9) == pytest.approx(7.0, abs=1e-3)
    # 10 and 11 open the next shot: rebuilt from 12, never from 9.
    assert level(10) == pytest.approx(12.0, abs=1e-3) and level(11) == pytest.approx(12.0, abs=1e-3)
    assert level(5) == pytest.approx(5.0, abs=1e-2)  # between 4 and 6


def test_repair_is_the_first_stage_and_its_mask_has_its_own_key() -> None:
    recipe = Recipe.of([Step.create("color", {"exposure": 1.0})])
    plan = ShotPlan.single(20, recipe).with_repairs([Repair(5, 5)])
    out = Evaluator(LevelSource(broken=5)).evaluate(5, plan)
    # Rebuilt from frames 4 and 6 (level 5), then one stop brighter: the colour step never
    # saw the broken frame.
    assert float(out.restored.mean()) == pytest.approx(0.10, abs=1e-3)
    assert set(out.masks) == {REPAIR_MASK_KEY, 0} or set(out.masks) == {REPAIR_MASK_KEY}


def test_region_follows_the_preview_scale() -> None:
    clean = moving_scene(6, W, H, seed=4)
    damaged = [f.copy() for f in clean]
    damaged[3][20:40, 20:60] = 1.0
    plan = ShotPlan.single(6, Recipe()).with_repairs([Repair(3, 3, (20, 20, 40, 20))])
    ev = Evaluator(FrameList(damaged))
    out = ev.evaluate(3, plan, scale=0.5)
    mask = out.masks[REPAIR_MASK_KEY]
    assert mask.shape == (H // 2, W // 2)
    assert mask[10:20, 10:30].min() == 1.0 and mask.sum() == 10 * 20
    assert np.array_equal(out.restored[mask == 0], out.original[mask == 0])
    assert float(out.restored[10:20, 10:30].mean()) < 0.9  # the white patch is gone


@pytest.mark.parametrize(("repair", "message"), [
    ({"start": 3, "end": 1}, "not a valid range"),
    ({"start": 1, "end": 2, "region": [1, 2, 3]}, "four whole numbers"),
    ({"start": 1, "end": 99}, "beyond the clip"),
    ({"end": 2}, "lacks 'start'"),
])
def test_bad_repairs_in_a_file_are_one_line_errors(tmp_path: Path, repair, message) -> None:
    path = tmp_path / "bad.nitrate"
    path.write_text(json.dumps({
        "format": "nitrate-project", "version": 2,
        "clips": [{"path": "a.mov", "frame_count": 10, "shots": [{"start": 0, "end": 9}],
                   "repairs": [repair]}],
    }))
    with pytest.raises(ProjectError, match=message) as info:
        load_project(path)
    assert "\n" not in str(info.value)


def test_repair_syntax() -> None:
    assert Repair.parse("120") == Repair(120, 120)
    assert Repair.parse("300-302@40,60,80,50", "torn") == Repair(300, 302, (40, 60, 80, 50),
                                                                  "torn")
    for bad in ("x", "5-3", "1@1,2,3", "1@0,0,0,5", "-4", "2@a,b,c,d"):
        with pytest.raises(ValueError):
            Repair.parse(bad)


# -- command line ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def torn_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    """A lossless 12-frame pan whose frame 6 is torn (noise); returns it and the clean frames."""
    clean = panning()
    torn = [noise(0) if i == 6 else frame for i, frame in enumerate(clean)]
    return write_frames(tmp_path_factory.mktemp("repair") / "torn.mkv", torn), clean


def test_cli_restore_repairs_a_torn_frame(torn_clip, tmp_path: Path) -> None:
    path, clean = torn_clip
    out = tmp_path / "fixed.mkv"
    assert run_cli(["restore", str(path), "-o", str(out), "--repair", "6"]) == 0
    with open_reader(out) as reader:
        fixed = reader.read(6)
    assert float(np.abs(fixed - clean[6])[8:-8, 8:-8].mean()) < 0.015


def test_cli_repair_adds_to_the_project(torn_clip, tmp_path: Path, capsys) -> None:
    path, _ = torn_clip
    project = save_project(Project(clips=[Clip(str(path), 12)]), tmp_path / "p.nitrate")
    assert run_cli(["repair", str(project), "--frames", "6"]) == 0
    assert run_cli(["repair", str(project), "--frames", "8", "--to", "9", "--region", "1,2,30,40",
                    "--note", "blotch"]) == 0
    assert load_project(project).clip.repairs == [Repair(6, 6), Repair(8, 9, (1, 2, 30, 40),
                                                                         "blotch")]
    capsys.readouterr()
    assert run_cli(["repair", str(project), "--list"]) == 0
    listing = capsys.readouterr().out
    assert "frame 6, whole frame" in listing and "blotch" in listing
    before = project.read_text()
    assert run_cli(["repair", str(project), "--frames", "40"]) == 1  # beyond the clip
    assert run_cli(["repair", str(project), "--frames", "3", "--region", "1,2"]) == 2
    assert run_cli(["restore", str(path), "-o", str(tmp_path / "x.mkv"), "--repair", "5-"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "last frame 11" in err[0] and "X,Y,WIDTH,HEIGHT" in err[1]
    assert project.read_text() == before  # refused edits leave the project as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.nitrate"]


def test_cut_detection_does_not_see_a_destroyed_frame() -> None:
    from engine.ops.repair import WithoutDestroyed
    from engine.shots import detect_cuts

    frames = panning()
    frames[6] = noise(0)

    class Reader:
        info = type("Info", (), {"frame_count": 12, "path": "pan"})()

        def frames(self, start: int, stop: int):
            return iter(frames[start:stop])

    assert detect_cuts(Reader()) != []  # the torn frame reads as a cut …
    hidden = WithoutDestroyed(Reader(), [Repair(6, 6)])
    assert detect_cuts(hidden) == []  # … but not once the restorer has marked it
    seen = list(hidden.frames(0, 12))
    assert len(seen) == 12 and np.allclose(seen[6], (frames[5] + frames[7]) / 2, atol=1e-6)


def test_a_region_on_a_shots_last_frame_is_filled_from_the_one_neighbour_inside() -> None:
    clean = panning()
    damaged = [f.copy() for f in clean]
    damaged[5][30:60, 40:90] = 0.0
    damaged[6] = noise(3)  # the next shot: must not be used
    clip = Clip(path="pan", frame_count=12, shots=[Shot(0, 5), Shot(6, 11)],
                repairs=[Repair(5, 5, (40, 30, 50, 30))])
    out = Evaluator(FrameList(damaged)).evaluate(5, clip.plan()).restored
    error = float(np.abs(out - clean[5])[30:60, 40:90].mean())
    assert error < 0.02, error
    outside = np.ones((H, W), bool)
    outside[30:60, 40:90] = False
    assert np.array_equal(out[outside], damaged[5][outside])
