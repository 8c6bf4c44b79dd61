"""Protections: regions (or whole frames) the restorer marks for the spot repairs to leave
as scanned — water, fire, smoke, where the dust detector takes real picture for dirt."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import ProjectError
from engine.ops.repair import WithoutDestroyed
from engine.pipeline import Evaluator, ShotPlan
from engine.pipeline.evaluator import REPAIR_MASK_KEY
from engine.project import Clip, Project, Recipe, Shot, Step, load_project, save_project
from engine.project.model import Repair
from engine.synth.clip_file import write_frames
from engine.synth.damage import DamageSpec, apply_damage
from engine.synth.scenes import moving_scene

W, H = 320, 180
N = 8
WATER = (100, 60, 120, 70)  # x, y, width, height (pixels): the patch of "water"


class FrameList:
    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames = frames

    def read(self, index: int) -> np.ndarray:
        return self.frames[index]


CLEAN = moving_scene(N, W, H, seed=8, motion="pan")
DAMAGED = apply_damage(CLEAN, DamageSpec(dust=400, seed=5))


def water_scene() -> list[np.ndarray]:
    """A slow pan with a patch whose fine texture is new on every frame (water, fire), and
    dust over the whole picture."""
    background = DAMAGED.frames
    rng = np.random.default_rng(1)
    x, y, w, h = WATER
    frames = []
    for base in background:
        frame = base.copy()
        ripples = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 1.5)
        ripples /= ripples.std()
        frame[y:y + h, x:x + w] = (0.45 + 0.15 * ripples)[..., None] * np.float32([0.5, 0.7, 0.9])
        frames.append(np.clip(frame, 0, 1).astype(np.float32))
    return frames


def inside(region: tuple[int, int, int, int], scale: float = 1.0) -> np.ndarray:
    x, y, w, h = region
    mask = np.zeros((round(H * scale), round(W * scale)), bool)
    mask[int(y * scale):int(np.ceil((y + h) * scale)), int(x * scale):int(np.ceil((x + w) * scale))] = True
    return mask


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b).max(axis=2) > 0.02


DUST = Recipe.of([Step.create("dust")])


def test_dust_leaves_a_protected_region_as_scanned_and_repairs_the_rest() -> None:
    frames = water_scene()
    water = inside(WATER)
    free = Evaluator(FrameList(frames))
    protected = Evaluator(FrameList(frames))
    plan = ShotPlan.single(N, DUST)
    guarded = plan.with_repairs([Repair(1, 4, WATER, protect=True)])
    for i in (2, 3):
        before = free.evaluate(i, plan)
        # Unprotected, dust repaints the ever-new texture of the water.
        assert changed(before.restored, frames[i])[water].sum() > 300
        after = protected.evaluate(i, guarded)
        assert np.array_equal(after.restored[water], frames[i][water])
        assert not after.masks[0][water].any()  # the mask overlay shows nothing there
        # Outside the region the dust is repaired as before.
        assert np.array_equal(after.restored[~water], before.restored[~water])
        dirt = DAMAGED.masks["dust"][i] & ~water & (np.abs(frames[i] - CLEAN[i]).max(axis=2) > 0.1)
        repaired = np.abs(after.restored - CLEAN[i]).max(axis=2) <= 0.05
        assert dirt.sum() > 500 and repaired[dirt].mean() > 0.5
    # Frames outside the protection's range are not protected.
    assert changed(protected.evaluate(5, guarded).restored, frames[5])[water].sum() > 300


def test_a_protected_whole_frame_passes_every_spot_repair_untouched() -> None:
    frames = water_scene()
    recipe = Recipe.of([Step.create("dust"), Step.create("scratch")])
    plan = ShotPlan.single(N, recipe).with_repairs([Repair(3, 3, None, protect=True)])
    ev = Evaluator(FrameList(frames))
    out = ev.evaluate(3, plan)
    assert np.array_equal(out.restored, frames[3])
    assert all(not mask.any() for mask in out.masks.values())
    # A whole-frame protection is no destroyed frame: no repair stage, nothing rebuilt.
    assert REPAIR_MASK_KEY not in out.masks
    assert changed(ev.evaluate(2, plan).restored, frames[2]).sum() > 50


def test_operators_that_are_not_spot_repairs_still_change_the_protected_region() -> None:
    frames = water_scene()
    recipe = Recipe.of([Step.create("dust"), Step.create("color", {"exposure": 0.5})])
    plan = ShotPlan.single(N, recipe).with_repairs([Repair(0, N - 1, WATER, protect=True)])
    ev = Evaluator(FrameList(frames))
    out = ev.evaluate(2, plan)
    stages = ev.stage_outputs(2, plan)
    after_dust = stages[0][1]
    water = inside(WATER)
    assert np.array_equal(after_dust[water], frames[2][water])
    # The grade brightens the water like the rest of the picture.
    assert out.restored[water].mean() > frames[2][water].mean() + 0.05


def test_a_protection_follows_the_preview_scale() -> None:
    frames = water_scene()
    plan = ShotPlan.single(N, DUST).with_repairs([Repair(0, N - 1, WATER, protect=True)])
    out = Evaluator(FrameList(frames)).evaluate(2, plan, scale=0.5)
    water = inside(WATER, 0.5)
    assert np.array_equal(out.restored[water], out.original[water])
    assert not out.masks[0][water].any()


def test_editing_a_protection_changes_the_frames_it_covers() -> None:
    frames = water_scene()
    ev = Evaluator(FrameList(frames))
    plan = ShotPlan.single(N, DUST)
    first = ev.evaluate(2, plan.with_repairs([Repair(2, 2, WATER, protect=True)])).restored
    moved = (0, 0, 60, 40)
    second = ev.evaluate(2, plan.with_repairs([Repair(2, 2, moved, protect=True)])).restored
    # Not a stale cached frame: the water is repainted again, the new corner left alone.
    assert changed(second, frames[2])[inside(WATER)].sum() > 300
    assert np.array_equal(second[inside(moved)], frames[2][inside(moved)])
    assert not np.array_equal(first, second)


def test_a_whole_frame_protection_is_not_hidden_from_cut_detection() -> None:
    frames = [np.full((4, 4, 3), i / 10, np.float32) for i in range(5)]

    class Reader:
        info = object()

        def frames(self, start: int, stop: int | None = None):
            yield from frames[start:stop]

    read = list(WithoutDestroyed(Reader(), [Repair(2, 2, None, protect=True)]).frames(0, 5))
    assert np.array_equal(read[2], frames[2])


def test_protections_survive_a_save_and_keep_older_files_readable(tmp_path: Path) -> None:
    clip = Clip(path=str(tmp_path / "reel.mov"), frame_count=50, shots=[Shot(0, 49)],
                repairs=[Repair(3, 9, (10, 20, 30, 40), "sea", protect=True), Repair(12, 12)])
    path = save_project(Project(clips=[clip]), tmp_path / "p.nitrate")
    data = json.loads(path.read_text())
    # An older Nitrate would rebuild a protected region: it must refuse this file.
    assert data["version"] == 3
    loaded = load_project(path).clip.repairs
    assert loaded == clip.repairs
    assert loaded[0].describe() == "frames 3-9, region 10,20 30x40 px protected"
    # Without protections the file stays readable by the previous version.
    clip.repairs = [Repair(12, 12)]
    path = save_project(Project(clips=[clip]), tmp_path / "q.nitrate")
    assert json.loads(path.read_text())["version"] == 2


def test_a_bad_protect_value_in_a_file_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.nitrate"
    path.write_text(json.dumps({
        "format": "nitrate-project", "version": 3,
        "clips": [{"path": "a.mov", "frame_count": 10, "shots": [{"start": 0, "end": 9}],
                   "repairs": [{"start": 1, "end": 2, "region": None, "protect": "yes"}]}]}))
    with pytest.raises(ProjectError, match=r"bad\.nitrate.*protect must be true or false"):
        load_project(path)


# -- command line ----------------------------------------------------------------------------
def test_cli_restore_leaves_a_protected_region_as_scanned(tmp_path: Path) -> None:

    from app.cli import run_cli
    from engine.media import open_reader

    path = write_frames(tmp_path / "sea.mkv", water_scene())
    x, y, w, h = WATER
    plain, guarded = tmp_path / "plain.mkv", tmp_path / "guarded.mkv"
    assert run_cli(["restore", str(path), "-o", str(plain), "--ops", "dust"]) == 0
    assert run_cli(["restore", str(path), "-o", str(guarded), "--ops", "dust",
                    "--protect", f"1-6@{x},{y},{w},{h}"]) == 0
    water = inside(WATER)
    with open_reader(path) as src, open_reader(plain) as a, open_reader(guarded) as b:
        for i in (2, 5):
            scanned = src.read(i)
            assert changed(a.read(i), scanned)[water].sum() > 300
            assert np.abs(b.read(i) - scanned)[water].max() < 1e-3  # lossless: as scanned


def test_cli_repair_protect_adds_a_protection_to_the_project(tmp_path: Path, capsys) -> None:
    from app.cli import run_cli

    project = save_project(Project(clips=[Clip(str(tmp_path / "sea.mkv"), 12)]),
                           tmp_path / "p.nitrate")
    assert run_cli(["repair", str(project), "--frames", "2", "--to", "9", "--region",
                    "100,60,120,70", "--note", "waves", "--protect"]) == 0
    assert load_project(project).clip.repairs == [
        Repair(2, 9, (100, 60, 120, 70), "waves", protect=True)]
    assert "added protection of frames 2-9" in capsys.readouterr().out
    assert run_cli(["repair", str(project), "--list"]) == 0
    assert "protect   1: frames 2-9, region 100,60 120x70 px protected  (waves)" in \
        capsys.readouterr().out
    before = project.read_text()
    assert run_cli(["repair", str(project), "--frames", "30", "--protect"]) == 1
    assert "protection of frame 30, whole frame protected lies beyond" in capsys.readouterr().err
    assert project.read_text() == before
