"""Keyframed parameters: interpolation, per-frame evaluation, shared operator memos, files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import OperatorError, ProjectError
from engine.ops.base import Operator, Result, Window
from engine.ops.motion import FlowEstimator
from engine.ops.params import Params, param
from engine.pipeline import Evaluator, ShotPlan
from engine.pipeline.evaluator import total_radius
from engine.project import Clip, Project, Recipe, Shot, Step, load_project, save_project
from engine.project.model import Repair
from engine.project.recipe import Keyframe, value_at
from engine.synth.scenes import moving_scene


class LevelSource:
    """Frame i is a flat grey of level i/100."""

    def read(self, index: int) -> np.ndarray:
        return np.full((8, 12, 3), index / 100, np.float32)


class FrameList:
    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames = frames

    def read(self, index: int) -> np.ndarray:
        return self.frames[index]


def exposure_ramp(interpolation: str = "linear") -> Step:
    return (Step.create("color")
            .with_keyframe("exposure", 10, 0.0, interpolation)
            .with_keyframe("exposure", 20, 1.0, interpolation))


# -- interpolation ---------------------------------------------------------------------------
def test_linear_keys_interpolate_and_clamp_outside() -> None:
    step = exposure_ramp()
    assert step.params_at(15).exposure == pytest.approx(0.5)
    assert step.params_at(12).exposure == pytest.approx(0.2)
    assert step.params_at(0).exposure == 0.0  # before the first key: the first value
    assert step.params_at(99).exposure == 1.0  # after the last: the last value
    assert step.params.exposure == 0.0  # the static value is untouched


def test_hold_keeps_the_value_until_the_next_key() -> None:
    step = exposure_ramp("hold")
    assert [step.params_at(f).exposure for f in (10, 15, 19, 20, 25)] == [0, 0, 0, 1, 1]


def test_smooth_eases_in_and_out_and_never_overshoots() -> None:
    step = (Step.create("color")
            .with_keyframe("exposure", 0, 0.0, "smooth")
            .with_keyframe("exposure", 10, 1.0, "smooth")
            .with_keyframe("exposure", 20, 1.0, "smooth")
            .with_keyframe("exposure", 30, -1.0, "smooth"))
    values = [step.params_at(f).exposure for f in range(31)]
    # A plateau between equal keys stays flat: a Catmull-Rom spline would bulge above 1.
    assert values[10:21] == pytest.approx([1.0] * 11)
    assert min(values) == pytest.approx(-1.0) and max(values) == pytest.approx(1.0)
    assert np.all(np.diff(values[:11]) >= 0) and np.all(np.diff(values[20:]) <= 0)
    # It eases: slower than linear near a key, faster in the middle.
    assert values[1] < 0.1 and values[5] == pytest.approx(0.5)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.floats(-3, 3)), min_size=2, max_size=6,
                unique_by=lambda kv: kv[0]))
def test_smooth_segments_stay_between_their_keys(keys: list[tuple[int, float]]) -> None:
    track = tuple(Keyframe(f, v, "smooth") for f, v in sorted(keys))
    for a, b in zip(track, track[1:], strict=False):
        lo, hi = min(a.value, b.value), max(a.value, b.value)
        for f in np.linspace(a.frame, b.frame, 9):
            assert lo - 1e-9 <= value_at(track, float(f)) <= hi + 1e-9


def test_integer_parameters_are_rounded_and_radius_reach_covers_the_keys() -> None:
    step = (Step.create("temporal_average", {"radius": 1})
            .with_keyframe("radius", 0, 1).with_keyframe("radius", 10, 4))
    assert step.params_at(5).radius == 2 or step.params_at(5).radius == 3
    assert isinstance(step.params_at(5).radius, int)
    # The evaluator plans windows with the largest radius the keys reach.
    assert total_radius(Recipe.of([step])) == 4


@pytest.mark.parametrize(
    ("op", "name", "value", "interpolation", "message"),
    [
        ("color", "auto_levels", 1, "linear", "not numeric"),
        ("color", "brightness", 1, "linear", "unknown parameter"),
        ("color", "exposure", 99, "linear", "exposure must be at most"),
        ("color", "exposure", 1, "bounce", "interpolation must be one of"),
    ],
)
def test_bad_keyframes_are_refused_naming_the_operator(op, name, value, interpolation,
                                                       message) -> None:
    with pytest.raises(OperatorError, match=message) as info:
        Step.create(op).with_keyframe(name, 3, value, interpolation)
    assert str(info.value).startswith(f"{op}:")


def test_removing_keys_and_editing_static_values_keeps_the_rest() -> None:
    step = exposure_ramp().with_values(contrast=1.2)
    assert step.keyframes_for("exposure")  # with_values keeps keyframes
    assert step.params.contrast == pytest.approx(1.2)
    step = step.with_keyframe("exposure", 20, 0.5)  # replaces the key at that frame
    assert [k.value for k in step.keyframes_for("exposure")] == [0.0, 0.5]
    step = step.without_keyframe("exposure", 10).without_keyframe("exposure", 20)
    assert step.keyframes == () and step.params_at(15).exposure == 0.0


# -- evaluation ------------------------------------------------------------------------------
def test_a_keyframed_exposure_ramp_gives_the_right_level_at_each_frame() -> None:
    step = exposure_ramp()
    plan = ShotPlan.single(40, Recipe.of([step]))
    ev = Evaluator(LevelSource())
    for i in (5, 10, 13, 15, 20, 30):
        stops = min(max((i - 10) / 10, 0.0), 1.0)
        expected = i / 100 * 2 ** stops
        assert float(ev.evaluate(i, plan).restored.mean()) == pytest.approx(expected, rel=1e-4)


def test_editing_a_key_changes_the_frames_it_affects() -> None:
    ev = Evaluator(LevelSource())
    plan = ShotPlan.single(40, Recipe.of([exposure_ramp()]))
    before = float(ev.evaluate(15, plan).restored.mean())
    edited = ShotPlan.single(40, Recipe.of([exposure_ramp().with_keyframe("exposure", 20, 0.0)]))
    assert float(ev.evaluate(15, edited).restored.mean()) == pytest.approx(0.15)
    assert before == pytest.approx(0.15 * 2 ** 0.5, rel=1e-4)  # the stage key saw the keys


def test_keyframed_steps_share_the_operator_memo_across_frames(monkeypatch) -> None:
    """An export through a shot with moving parameters computes each flow once, as a shot
    with fixed parameters does (the operator instance and its memos survive)."""
    frames = moving_scene(10, 64, 48, seed=1)
    calls = {"n": 0}
    original = FlowEstimator.flow

    def counting(self, a, b):
        calls["n"] += 1
        return original(self, a, b)

    monkeypatch.setattr(FlowEstimator, "flow", counting)

    def flows(step: Step) -> int:
        calls["n"] = 0
        ev = Evaluator(FrameList(frames))
        plan = ShotPlan.single(10, Recipe.of([step]))
        for i in range(10):
            ev.evaluate(i, plan)
        return calls["n"]

    fixed = flows(Step.create("dust", {"sensitivity": 0.5}))
    keyed = flows(Step.create("dust").with_keyframe("sensitivity", 0, 0.2)
                  .with_keyframe("sensitivity", 9, 0.9))
    assert fixed > 0 and keyed == fixed


@dataclass(frozen=True)
class _TileParams(Params):
    tile: int = param(64, label="Tile", minimum=8, maximum=512)
    gain: float = param(1.0, label="Gain", minimum=0.0, maximum=4.0)


class _Tiled(Operator):
    id = "tiled_test"
    label = "Tiled"
    Params = _TileParams
    rebuild_params = frozenset({"tile"})

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        self.memo: dict[int, int] = {}

    def process(self, window: Window) -> Result:
        return Result(window.current)


def test_operator_at_shares_memos_unless_a_rebuild_parameter_changes() -> None:
    op = _Tiled()
    assert op.at(_TileParams()) is op
    bound = op.at(_TileParams(gain=2.0))
    assert bound is not op and bound.memo is op.memo and bound.params.gain == 2.0
    assert op.params.gain == 1.0  # the shared instance keeps its own parameters
    rebuilt = op.at(_TileParams(tile=128))
    assert rebuilt.memo is not op.memo and rebuilt.params.tile == 128


# -- files -----------------------------------------------------------------------------------
def test_project_round_trip_keeps_keyframes_and_repairs(tmp_path: Path) -> None:
    recipe = Recipe.of([exposure_ramp("smooth"), Step.create("dust")])
    clip = Clip(path=str(tmp_path / "reel.mov"), frame_count=100,
                shots=[Shot(0, 39), Shot(40, 99, recipe=recipe)],
                repairs=[Repair(12, 12, note="torn"), Repair(50, 53, (10, 20, 30, 40), "blotch")])
    saved = save_project(Project(clips=[clip]), tmp_path / "p.nitrate")
    data = json.loads(saved.read_text())
    assert data["version"] == 2  # keyframes and repairs: version 2 (3 only with protections)
    loaded = load_project(saved).clip
    assert loaded.shots[1].recipe == recipe
    assert loaded.shots[1].recipe.steps[0].params_at(15).exposure == pytest.approx(0.5)
    assert loaded.repairs == clip.repairs
    plan = loaded.plan()
    assert plan.shot_at(12).repairs == (Repair(12, 12, note="torn"),)
    assert plan.shot_at(50).repairs[0].region == (10, 20, 30, 40)


def test_version_1_files_still_load(tmp_path: Path) -> None:
    path = tmp_path / "old.nitrate"
    path.write_text(json.dumps({
        "format": "nitrate-project", "version": 1,
        "clips": [{"path": "a.mov", "frame_count": 10, "default_recipe": [
            {"op": "color", "params": {"exposure": 0.5}, "enabled": True}],
            "shots": [{"start": 0, "end": 9}]}],
    }))
    clip = load_project(path).clip
    assert clip.repairs == [] and clip.default_recipe.steps[0].keyframes == ()


@pytest.mark.parametrize(
    ("keyframes", "message"),
    [
        ({"exposure": [{"frame": 3}]}, "lacks its frame or value"),
        ({"exposure": [{"frame": -1, "value": 0.5}]}, "frame index"),
        ({"auto_levels": [{"frame": 1, "value": 1}]}, "not numeric"),
        ({"exposure": 3}, "must be a list"),
    ],
)
def test_bad_keyframes_in_a_file_are_one_line_errors(tmp_path: Path, keyframes, message) -> None:
    path = tmp_path / "bad.nitrate"
    path.write_text(json.dumps({
        "format": "nitrate-project", "version": 2,
        "clips": [{"path": "a.mov", "frame_count": 10, "default_recipe": [
            {"op": "color", "params": {}, "keyframes": keyframes}],
            "shots": [{"start": 0, "end": 9}]}],
    }))
    with pytest.raises(ProjectError, match=message) as info:
        load_project(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
