"""Shot analysis ahead of the restorer (Evaluator.prepare, the FrameServer's background job),
drafts at the analysis scale, and the cache's protected share for analysis frames."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pytest

from engine.pipeline import Evaluator, FrameCache, ShotPlan
from engine.pipeline.cache import PROTECTED_SHARE
from engine.project.recipe import Recipe, Step
from engine.server import VIEWER, FrameRequest, FrameResponse, FrameServer
from engine.synth.damage import DamageSpec, apply_damage
from engine.synth.scenes import moving_scene

W, H, N = 640, 360, 24  # wider than the analysis width (480), so analysis frames are smaller

RECIPE = Recipe.of([
    Step.create("deflicker", {"radius": 8}),
    Step.create("stabilize", {"smoothing": 6}),
    Step.create("color", {"auto_levels": True, "auto_balance": True}),
])


@dataclass(frozen=True)
class Info:
    width: int = W
    height: int = H
    fps: Fraction = Fraction(24)
    frame_count: int = N
    timecode: str | None = None
    bit_depth: int = 8


class DamagedClip:
    """A flickering, weaving moving scene that counts what is read of it: `reads` full-size
    frame indices, `scaled_reads` indices read reduced (analysis frames)."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        clean = moving_scene(N, W, H, seed=3)
        self.frames = apply_damage(clean, DamageSpec(flicker=0.1, weave=2.0, seed=2)).frames
        self.info = Info()
        self.reads: list[int] = []
        self.scaled_reads: list[int] = []
        self.gate = gate
        self.started = threading.Event()

    def read(self, index: int) -> np.ndarray:
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(10), "test gate never opened"
        self.reads.append(index)
        return self.frames[index]

    def read_scaled(self, index: int, size: tuple[int, int]) -> np.ndarray:
        import cv2

        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(10), "test gate never opened"
        self.scaled_reads.append(index)
        return cv2.resize(self.frames[index], size, interpolation=cv2.INTER_AREA)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def clip() -> DamagedClip:
    return DamagedClip()


def test_a_prepared_shot_restores_exactly_the_same_frames(clip: DamagedClip) -> None:
    plan = ShotPlan.from_cuts(N, [12], RECIPE)
    cold = Evaluator(clip)
    prepared = Evaluator(clip)
    for i in range(N):
        prepared.prepare(i, plan, 0.5)
    for index in (3, 11, 12, 20):
        for scale in (1.0, 0.5):
            a = cold.evaluate(index, plan, scale).restored
            b = prepared.evaluate(index, plan, scale).restored
            assert np.array_equal(a, b), (index, scale)


def test_after_preparing_a_seek_decodes_only_the_frame_itself(clip: DamagedClip) -> None:
    plan = ShotPlan.single(N, RECIPE)
    ev = Evaluator(clip, FrameCache(1 << 30))
    for i in range(N):
        ev.prepare(i, plan, 1.0)
    clip.reads.clear()
    clip.scaled_reads.clear()
    ev.evaluate(15, plan, 1.0)
    # The three operators need no full-size neighbours; their flicker, weave and colour
    # analyses are done, and the analysis frames are cached: one frame is decoded.
    assert clip.reads == [15] and clip.scaled_reads == []
    # Without the preparation the same seek reads the analysis frames around it.
    cold = Evaluator(clip, FrameCache(1 << 30))
    clip.scaled_reads.clear()
    cold.evaluate(15, plan, 1.0)
    assert len(set(clip.scaled_reads)) > 10


def test_analysis_frames_survive_a_run_of_large_frames() -> None:
    cache = FrameCache(budget_bytes=1000)
    small = np.zeros(25, np.float32)  # 100 bytes each
    big = np.zeros(100, np.float32)  # 400 bytes each
    for i in range(2):
        cache.put(("small", i), small, protected=True)
    for i in range(20):
        cache.put(("big", i), big)
    assert ("small", 0) in cache and ("small", 1) in cache
    assert cache.bytes_used <= 1000
    # Beyond their share, the oldest protected entries go first.
    for i in range(2, 2 + int(PROTECTED_SHARE * 1000 / 100) + 3):
        cache.put(("small", i), small, protected=True)
    assert ("small", 0) not in cache
    assert cache.bytes_used <= 1000


class Collector:
    def __init__(self) -> None:
        self.responses: list[FrameResponse] = []
        self.prepared: list[tuple[int, int, str | None]] = []
        self.lock = threading.Lock()

    def __call__(self, response: FrameResponse) -> None:
        with self.lock:
            self.responses.append(response)

    def on_prepared(self, done: int, total: int, error: str | None) -> None:
        with self.lock:
            self.prepared.append((done, total, error))


def test_a_cold_frame_is_answered_by_a_draft_then_the_final_frame(clip: DamagedClip) -> None:
    plan = ShotPlan.single(N, RECIPE)
    got = Collector()
    server = FrameServer("clip.mov", 1 << 30, got, open_source=lambda _p: clip)
    try:
        server.submit(FrameRequest(1, 10, plan, 1.0, VIEWER, draft=True))
        assert server.wait_until_idle(60)
        draft, final = got.responses
        assert draft.draft and not final.draft and draft.error is None and final.error is None
        # The draft is enlarged to the final frame's size and shows the same picture,
        # softer.
        assert draft.restored.shape == final.restored.shape == (H, W, 3)
        assert np.abs(draft.restored - final.restored).mean() < 0.03
        # Once computed, the frame comes straight from the cache: no draft.
        server.submit(FrameRequest(2, 10, plan, 1.0, VIEWER, draft=True))
        # At the analysis scale itself there is nothing smaller to show first.
        server.submit(FrameRequest(3, 5, plan, 480 / W, VIEWER, draft=True))
        assert server.wait_until_idle(60)
        assert [r.request_id for r in got.responses[2:]] in ([2, 3], [3])
        assert not any(r.draft for r in got.responses[2:])
    finally:
        server.close()


def test_background_analysis_yields_to_the_viewer_and_reports_progress() -> None:
    gate = threading.Event()
    clip = DamagedClip(gate)
    plan = ShotPlan.single(N, RECIPE)
    got = Collector()
    seen_left: list[int] = []
    server: FrameServer | None = None

    def on_response(response: FrameResponse) -> None:
        assert server is not None
        seen_left.append(server.analysis_left)
        got(response)

    server = FrameServer("clip.mov", 1 << 30, on_response, open_source=lambda _p: clip,
                         on_prepared=got.on_prepared)
    try:
        server.prepare(plan, 0.5)
        assert clip.started.wait(10)  # the worker is inside the first frame's analysis
        server.submit(FrameRequest(1, 20, plan, 0.5, VIEWER))
        gate.set()
        assert server.wait_until_idle(120)
        # The viewer's frame was served right after the frame being analysed, before the
        # rest of the shot.
        assert got.responses[0].error is None and seen_left == [N - 1]
        assert [d for d, _t, _e in got.prepared] == list(range(1, N + 1))
        assert all(t == N and e is None for _d, t, e in got.prepared)
        assert server.analysis_left == 0
    finally:
        server.close()
