"""The pipeline: windows clamped to shots, radii that add up, caching, preview scale."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from engine.errors import OperatorError
from engine.ops import registry
from engine.ops.base import Operator, Result, Window
from engine.ops.params import Params, param
from engine.pipeline import Evaluator, FrameCache, PlannedShot, ShotPlan, total_radius
from engine.project.recipe import Recipe, Step


@dataclass(frozen=True)
class NoParams(Params):
    """Parameters of the test operators below: one, unused."""

    strength: float = param(1.0, label="Strength", minimum=0, maximum=1)


class LevelSource:
    """Frame i is a flat grey of level i/100, so any mixing of frames is visible."""

    def __init__(self, count: int = 40, size: tuple[int, int] = (12, 16)) -> None:
        self.count = count
        self.size = size
        self.reads: list[int] = []

    def read(self, index: int) -> np.ndarray:
        assert 0 <= index < self.count
        self.reads.append(index)
        return np.full((*self.size, 3), index / 100, np.float32)


def level(frame: np.ndarray) -> float:
    return float(frame.mean()) * 100


def test_radius_two_at_a_shots_first_frame_never_sees_the_previous_shot() -> None:
    recipe = Recipe.of([Step.create("temporal_average", {"radius": 2})])
    plan = ShotPlan.from_cuts(40, [10], recipe)
    ev = Evaluator(LevelSource())
    # Frame 10 starts shot 2: only frames 10, 11, 12 may be averaged (mean 11).
    assert level(ev.evaluate(10, plan).restored) == pytest.approx(11.0, abs=1e-3)
    # Frame 9 ends shot 1: only 7, 8, 9 (mean 8).
    assert level(ev.evaluate(9, plan).restored) == pytest.approx(8.0, abs=1e-3)
    # Inside a shot the full window is used: 18..22 → 20.
    assert level(ev.evaluate(20, plan).restored) == pytest.approx(20.0, abs=1e-3)


def test_chained_radii_add_up_and_stay_inside_the_shot() -> None:
    recipe = Recipe.of([
        Step.create("temporal_average", {"radius": 1}),
        Step.create("temporal_average", {"radius": 2}),
    ])
    assert total_radius(recipe) == 3
    source = LevelSource()
    plan = ShotPlan.from_cuts(40, [10, 30], recipe)
    Evaluator(source).evaluate(20, plan)
    assert min(source.reads) == 17 and max(source.reads) == 23
    source.reads.clear()
    Evaluator(source).evaluate(10, plan)
    assert min(source.reads) == 10  # never frame 9, which belongs to the previous shot


def test_shot_recipes_apply_per_shot() -> None:
    brighter = Recipe.of([Step.create("color", {"exposure": 1.0})])
    plan = ShotPlan((PlannedShot(0, 9, Recipe()), PlannedShot(10, 39, brighter)))
    ev = Evaluator(LevelSource())
    assert level(ev.evaluate(9, plan).restored) == pytest.approx(9.0, abs=1e-3)
    assert level(ev.evaluate(10, plan).restored) == pytest.approx(20.0, abs=1e-3)


def test_disabled_steps_are_skipped_and_masks_keyed_by_step_position() -> None:
    recipe = Recipe.of([
        Step.create("color", {"exposure": 1.0}, enabled=False),
        Step.create("sharpen", {"amount": 1.0}),
    ])
    ev = Evaluator(LevelSource())
    out = ev.evaluate(5, ShotPlan.single(40, recipe))
    assert level(out.restored) == pytest.approx(5.0, abs=1e-3)
    assert set(out.masks) == {1}


def test_sequential_evaluation_decodes_each_frame_once() -> None:
    recipe = Recipe.of([Step.create("temporal_average", {"radius": 2})])
    source = LevelSource()
    ev = Evaluator(source)
    plan = ShotPlan.single(40, recipe)
    for i in range(40):
        ev.evaluate(i, plan)
    assert sorted(source.reads) == list(range(40))


def test_cache_respects_its_byte_budget() -> None:
    frame_bytes = 12 * 16 * 3 * 4
    cache = FrameCache(budget_bytes=5 * frame_bytes)
    ev = Evaluator(LevelSource(), cache)
    plan = ShotPlan.single(40, Recipe.from_ops(["temporal_average"]))
    for i in range(40):
        ev.evaluate(i, plan)
        assert cache.bytes_used <= cache.budget_bytes
    assert len(cache) <= 5


def test_preview_scale_processes_a_downscaled_frame() -> None:
    ev = Evaluator(LevelSource(size=(100, 200)))
    out = ev.evaluate(3, ShotPlan.single(40, Recipe.from_ops(["sharpen"])), scale=0.5)
    assert out.restored.shape == (50, 100, 3)
    assert out.original.shape == (50, 100, 3)


def test_a_failing_operator_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(Operator):
        id = "broken"
        label = "Broken"
        Params = NoParams

        def process(self, window: Window) -> Result:
            raise ZeroDivisionError("boom")

    monkeypatch.setitem(registry._BY_ID, "broken", Broken)
    plan = ShotPlan.single(40, Recipe.from_ops(["broken"]))
    with pytest.raises(OperatorError, match=r"broken: failed on frame 7: boom"):
        Evaluator(LevelSource()).evaluate(7, plan)


def test_shot_plan_rejects_gaps_and_finds_shots() -> None:
    with pytest.raises(ValueError, match="contiguous"):
        ShotPlan((PlannedShot(0, 9, Recipe()), PlannedShot(11, 20, Recipe())))
    plan = ShotPlan.from_cuts(100, [25, 60], Recipe())
    assert [(s.start, s.end) for s in plan.shots] == [(0, 24), (25, 59), (60, 99)]
    assert plan.shot_at(59).start == 25
    with pytest.raises(IndexError):
        plan.shot_at(100)


def test_analysis_frames_are_small_stay_in_the_shot_and_match_across_preview_scales(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[float, list[tuple[int, int]]] = {}

    class ShotMean(Operator):
        """Adds the mean level of the whole shot, read from analysis frames."""

        id = "shot_mean"
        label = "Shot mean"
        Params = NoParams

        def process(self, window: Window) -> Result:
            assert window.analyse is not None
            first, last = window.shot
            small = [window.analyse(i) for i in range(first, last + 1)]
            seen.setdefault(window.scale, []).extend(f.shape[:2] for f in small)
            with pytest.raises(IndexError):
                window.analyse(last + 1)
            level = float(np.mean([f.mean() for f in small]))
            return Result(window.current + np.float32(level))

    monkeypatch.setitem(registry._BY_ID, "shot_mean", ShotMean)
    plan = ShotPlan.from_cuts(40, [10], Recipe.from_ops(["shot_mean"]))
    ev = Evaluator(LevelSource(size=(540, 960)))
    full = ev.evaluate(12, plan, scale=1.0).restored
    half = ev.evaluate(12, plan, scale=0.5).restored
    # Shot 10..39 has mean level 24.5/100, whatever the preview scale.
    assert level(full) == pytest.approx(12 + 24.5, abs=1e-3)
    assert level(half) == pytest.approx(level(full), abs=1e-3)
    assert set(seen[1.0]) == {(270, 480)} and set(seen[0.5]) == {(270, 480)}


def test_survey_frames_skip_the_local_repairs_before_an_operator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A grade's shot statistics are read from survey frames: the picture before the dust
    # and grain repairs that precede it, so their temporal windows are never evaluated at
    # the analysis scale for it; a stage that changes levels is kept.
    repaired_at: list[float] = []

    class Brighten(Operator):
        id = "brighten"
        label = "Brighten"
        Params = NoParams

        def process(self, window: Window) -> Result:
            return Result(window.current + np.float32(0.1))

    class Mend(Operator):
        """A local repair with neighbours: adds a trace level so its output is visible."""

        id = "mend"
        label = "Mend"
        Params = NoParams
        local_repair = True

        @property
        def temporal_radius(self) -> int:
            return 1

        def process(self, window: Window) -> Result:
            repaired_at.append(window.scale)
            return Result(window.current + np.float32(0.001))

    class SurveyMean(Operator):
        """Replaces the frame by the mean level of the shot's survey frames."""

        id = "survey_mean"
        label = "Survey mean"
        Params = NoParams

        def process(self, window: Window) -> Result:
            assert window.survey is not None and window.analyse is not None
            assert level(window.analyse(window.index)) == pytest.approx(
                window.index + 10.2, abs=1e-3)  # the previous stage: both repairs
            first, last = window.shot
            mean = np.mean([window.survey(i).mean() for i in range(first, last + 1)])
            return Result(np.full_like(window.current, mean))

    for op in (Brighten, Mend, SurveyMean):
        monkeypatch.setitem(registry._BY_ID, op.id, op)
    plan = ShotPlan.from_cuts(40, [10], Recipe.from_ops(
        ["brighten", "mend", "mend", "survey_mean"]))
    out = Evaluator(LevelSource(size=(540, 960))).evaluate(12, plan).restored
    # Shot 10..39: mean level 24.5, + 10 from brighten, nothing from the repairs.
    assert level(out) == pytest.approx(24.5 + 10, abs=1e-3)
    # The repairs ran for frame 12 (1 + 3 frames) at full size, and at the analysis scale
    # only for the one frame `analyse` was asked for: never for the 30 survey frames.
    assert sorted(repaired_at) == [0.5] * 4 + [1.0] * 4  # analysis frames: 480 of 960 px


class PrefetchingSource(LevelSource):
    """A LevelSource that records the ranges it is told will be read (`Reader.prefetch`)."""

    def __init__(self, count: int) -> None:
        super().__init__(count, size=(36, 64))
        self.prefetched: list[tuple[int, int]] = []

    def prefetch(self, start: int, stop: int) -> None:
        self.prefetched.append((start, stop))


def test_a_cold_frame_of_a_prepared_shot_prefetches_only_its_windows() -> None:
    # Deflicker reads the analysis frames of 30 frames each side, stabilise 15, dust its
    # neighbours at full size. Once the shot is prepared, its analyses are memoised, so a
    # cold frame needs only the dust's window decoded, even where the cache has let the
    # analysis frames go (a long shot).
    count = 120
    source = PrefetchingSource(count)
    recipe = Recipe.of([Step.create("deflicker"), Step.create("stabilize"),
                        Step.create("dust")])
    plan = ShotPlan.single(count, recipe)
    ev = Evaluator(source, FrameCache(64 << 20))
    ev.evaluate(60, plan)                      # unprepared: the whole reach
    assert source.prefetched[-1][1] - source.prefetched[-1][0] > 60
    for i in range(count):
        ev.prepare(i, plan)
    ev.cache.clear()                            # as a long shot's analysis frames go
    ev.evaluate(30, plan)
    start, stop = source.prefetched[-1]
    assert start >= 30 - 2 and stop <= 30 + 3   # dust's neighbours only
    fresh = Evaluator(PrefetchingSource(count))  # the same frame, the long way round
    assert np.array_equal(ev.evaluate(30, plan).restored, fresh.evaluate(30, plan).restored)
