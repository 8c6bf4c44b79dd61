"""Pipeline work and memory: an export computes every stage's frame once, analysis
read-ahead included and with two threads evaluating, and a preview keeps only
preview-sized frames."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from engine.ops import registry
from engine.ops.base import Operator, Result, Window
from engine.ops.params import Params, param
from engine.pipeline import Evaluator, FrameCache, ShotPlan
from engine.project.recipe import Recipe, Step
from engine.render.export import RenderJob, _cache_budget


class LevelSource:
    """Frame i is a flat grey of level i/100; counts reads per index."""

    def __init__(self, count: int, size: tuple[int, int]) -> None:
        self.count = count
        self.size = size
        self.reads: Counter[int] = Counter()

    def read(self, index: int) -> np.ndarray:
        assert 0 <= index < self.count
        self.reads[index] += 1
        return np.full((*self.size, 3), index / 100, np.float32)


@dataclass(frozen=True)
class ReachParams(Params):
    reach: int = param(6, label="Reach", minimum=0, maximum=30)


def _register(monkeypatch: pytest.MonkeyPatch, calls: Counter) -> None:
    class LookAhead(Operator):
        """Brightens by the mean of analysis frames within `reach` (like deflicker)."""

        id = "look_ahead"
        label = "Look ahead"
        Params = ReachParams

        @property
        def analysis_radius(self) -> int:
            return self.params.reach

        def process(self, window: Window) -> Result:
            calls[(self.id, self.params.reach, window.scale, window.index)] += 1
            assert window.analyse is not None
            first, last = window.shot
            lo, hi = max(first, window.index - self.params.reach), min(
                last, window.index + self.params.reach)
            level = np.mean([window.analyse(i).mean() for i in range(lo, hi + 1)])
            return Result(window.current + np.float32(level * 0.01))

    class Blend(Operator):
        """Mean of the window (temporal radius `reach`), like a temporal denoiser."""

        id = "blend"
        label = "Blend"
        Params = ReachParams

        @property
        def temporal_radius(self) -> int:
            return self.params.reach

        def process(self, window: Window) -> Result:
            calls[(self.id, self.params.reach, window.scale, window.index)] += 1
            return Result(np.mean(window.frames, axis=0).astype(np.float32),
                          np.zeros(window.current.shape[:2], np.float32))

    monkeypatch.setitem(registry._BY_ID, "look_ahead", LookAhead)
    monkeypatch.setitem(registry._BY_ID, "blend", Blend)


def test_export_computes_each_stage_frame_once_with_analysis_read_ahead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: Counter = Counter()
    _register(monkeypatch, calls)
    recipe = Recipe.of([Step.create("look_ahead", {"reach": 8}), Step.create("blend", {"reach": 2}),
                        Step.create("look_ahead", {"reach": 5}), Step.create("blend", {"reach": 1})])
    count, size = 40, (27, 960)  # wider than ANALYSIS_WIDTH: analysis runs at half scale
    plan = ShotPlan.single(count, recipe)
    job = RenderJob(source=Path("clip.mov"), output=Path("out.mkv"), plan=plan)
    source = LevelSource(count, size)
    ev = Evaluator(source, FrameCache(_cache_budget(job, size[1], size[0])))
    for i in range(count):
        ev.evaluate(i, plan)
    assert max(calls.values()) == 1  # nothing was evicted and computed again
    full = Counter(op for op, _, scale, _ in calls if scale == 1.0)
    assert full == {"look_ahead": 2 * count, "blend": 2 * count}
    # Each frame is decoded once for the analysis chain and once at full size (the Reader's
    # store of decoded frames makes the second a conversion); never more.
    assert set(source.reads) == set(range(count)) and max(source.reads.values()) <= 2


def test_half_resolution_preview_keeps_only_preview_sized_frames(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: Counter = Counter()
    _register(monkeypatch, calls)
    size = (100, 200)
    cache = FrameCache()
    ev = Evaluator(LevelSource(20, size), cache)
    plan = ShotPlan.single(20, Recipe.of([Step.create("blend", {"reach": 1})]))
    for i in range(10):
        ev.evaluate(i, plan, scale=0.5)
    half_frame, half_mask = 50 * 100 * 3 * 4, 50 * 100 * 4
    # Source and restored frames plus masks at half size for frames 0..10; a full-size
    # source frame (4 half frames) would not fit in this.
    assert cache.bytes_used <= 11 * (2 * half_frame + half_mask)
    # Seen again: a cache hit, nothing computed.
    before = sum(calls.values())
    again = ev.evaluate(4, plan, scale=0.5)
    assert sum(calls.values()) == before
    assert again.restored.shape == (50, 100, 3)


def test_a_cold_frame_decodes_its_whole_reach_with_one_seek(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from engine.media.reader import VideoReader
    from engine.synth.index_clip import write_index_clip

    calls: Counter = Counter()
    _register(monkeypatch, calls)
    clip = write_index_clip(tmp_path / "gop.mp4", "h264", frames=80, gop=40, bframes=2)
    # Blend's window first (53..57 around 55), then the analysis frames 43..67 of its output,
    # whose windows reach 41..69: back before the first read, after the keyframe at 40.
    recipe = Recipe.of([Step.create("blend", {"reach": 2}), Step.create("look_ahead", {"reach": 12})])
    plan = ShotPlan.single(80, recipe)
    with VideoReader(clip) as reader:
        seeks: list[int] = []
        seek = reader._seek
        monkeypatch.setattr(reader, "_seek", lambda pts: (seeks.append(pts), seek(pts)))
        out = Evaluator(reader).evaluate(55, plan)
        assert len(seeks) == 1
    assert out.restored.shape == out.original.shape


def test_two_threads_make_the_same_frames_each_stage_once_one_frame_per_operator_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An export evaluates consecutive frames on two threads (engine.render.export); its
    # operators keep memos that two frames at once would corrupt.
    calls: Counter = Counter()
    _register(monkeypatch, calls)
    busy: Counter = Counter()
    overlaps: list[str] = []
    guard = threading.Lock()
    for op_id in ("look_ahead", "blend"):
        cls = registry.operator_class(op_id)
        process = cls.process

        def watched(self: Operator, window: Window, _process=process) -> Result:  # type: ignore[no-untyped-def]
            key = f"{self.id}/{self.params.reach}"
            with guard:
                busy[key] += 1
                if busy[key] > 1:
                    overlaps.append(key)
            try:
                # Enough work per frame for the two threads' calls to meet without a lock.
                np.sort(np.random.default_rng(0).random(200_000))
                return _process(self, window)
            finally:
                with guard:
                    busy[key] -= 1

        monkeypatch.setattr(cls, "process", watched)
    recipe = Recipe.of([Step.create("look_ahead", {"reach": 4}), Step.create("blend", {"reach": 2}),
                        Step.create("look_ahead", {"reach": 3}), Step.create("blend", {"reach": 1})])
    count, size = 30, (27, 960)
    plan = ShotPlan.single(count, recipe)
    job = RenderJob(source=Path("clip.mov"), output=Path("out.mkv"), plan=plan)
    serial = [Evaluator(LevelSource(count, size)).evaluate(i, plan).restored for i in range(count)]
    calls.clear()

    ev = Evaluator(LevelSource(count, size), FrameCache(_cache_budget(job, size[1], size[0])))
    with ThreadPoolExecutor(2) as pool:
        together = [r.restored for r in pool.map(lambda i: ev.evaluate(i, plan), range(count))]
    assert overlaps == []
    assert max(calls.values()) == 1  # no stage frame computed by both threads
    for a, b in zip(serial, together, strict=True):
        np.testing.assert_array_equal(a, b)


def test_pair_analyses_measure_only_what_the_memo_lacks_with_each_frame_fetched_once() -> None:
    from engine.ops.memo import Memo, measure_pairs

    memo: Memo[float] = Memo(64)
    memo.put(("pair", 3), -1.0)  # measured earlier
    fetched: Counter = Counter()
    fetcher = threading.current_thread()

    def frame(i: int) -> np.ndarray:
        assert threading.current_thread() is fetcher  # never on a pool thread
        fetched[i] += 1
        return np.full((2, 2), float(i), np.float32)

    measure_pairs(memo, lambda i: ("pair", i), frame,
                  lambda a, b: float(b.mean() - a.mean()) + 10 * float(a.mean()), 0, 6)
    assert [memo.get(("pair", i)) for i in range(6)] == [1.0, 11.0, 21.0, -1.0, 41.0, 51.0]
    assert sorted(fetched) == [0, 1, 2, 3, 4, 5, 6] and max(fetched.values()) == 1
