"""FrameServer: the background worker behind the viewer (headless, no Qt)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine.errors import MediaError
from engine.ops.color import ColorOperator
from engine.pipeline import ShotPlan
from engine.project.recipe import Recipe, Step
from engine.server import (
    CANCELLED,
    PREFETCH,
    SUPERSEDED,
    THUMBNAIL,
    VIEWER,
    FrameRequest,
    FrameResponse,
    FrameServer,
)

W, H, N = 32, 24, 40


@dataclass(frozen=True)
class FakeInfo:
    width: int = W
    height: int = H
    fps: Fraction = Fraction(25)
    frame_count: int = N
    timecode: str | None = None
    bit_depth: int = 8


class LevelReader:
    """Frame i is a flat grey of level i/255; `gate` (when set) blocks reads until opened."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.info = FakeInfo()
        self.gate = gate
        self.reads: list[int] = []
        self.closed = False
        self.started = threading.Event()

    def read(self, index: int) -> np.ndarray:
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(10), "test gate never opened"
        self.reads.append(index)
        return np.full((H, W, 3), index / 255.0, dtype=np.float32)

    def close(self) -> None:
        self.closed = True


class Collector:
    def __init__(self) -> None:
        self.responses: list[FrameResponse] = []
        self.lock = threading.Lock()

    def __call__(self, response: FrameResponse) -> None:
        with self.lock:
            self.responses.append(response)

    def by_id(self) -> dict[int, FrameResponse]:
        return {r.request_id: r for r in self.responses}


BRIGHT = Recipe.of([Step.create("color", {"exposure": 1.0})])  # doubles every level
PLAN = ShotPlan.single(N, BRIGHT)


def make_server(reader: LevelReader, collector: Collector, **kw) -> FrameServer:
    return FrameServer("fake.mov", 64 << 20, collector, open_source=lambda _p: reader, **kw)


def test_viewer_request_returns_that_frame_restored() -> None:
    reader, got = LevelReader(), Collector()
    server = make_server(reader, got)
    try:
        server.submit(FrameRequest(1, 17, PLAN, 1.0, VIEWER))
        assert server.wait_until_idle(10)
    finally:
        server.close()
    (r,) = got.responses
    assert r.error is None and r.request_id == 1 and r.index == 17
    assert r.original is not None and r.restored is not None
    np.testing.assert_allclose(r.original, 17 / 255, atol=1e-6)
    np.testing.assert_allclose(r.restored, 2 * 17 / 255, atol=1e-5)
    assert r.shot == (0, N - 1)
    assert reader.closed, "close() must close the worker's reader"


def test_original_only_request_and_half_scale() -> None:
    reader, got = LevelReader(), Collector()
    server = make_server(reader, got)
    try:
        server.submit(FrameRequest(1, 5, None, 0.5, VIEWER))
        assert server.wait_until_idle(10)
    finally:
        server.close()
    (r,) = got.responses
    assert r.error is None and r.restored is r.original and r.masks == {}
    assert r.original.shape == (H // 2, W // 2, 3)
    np.testing.assert_allclose(r.original, 5 / 255, atol=1e-6)


def test_latest_viewer_request_wins_and_every_request_is_answered_once() -> None:
    gate = threading.Event()
    reader, got = LevelReader(gate), Collector()
    server = make_server(reader, got)
    try:
        server.submit(FrameRequest(0, 0, PLAN, 1.0, VIEWER))
        assert reader.started.wait(10)  # the worker is now stuck inside frame 0
        for rid in range(1, 21):
            server.submit(FrameRequest(rid, rid, PLAN, 1.0, VIEWER))
        gate.set()
        assert server.wait_until_idle(10)
    finally:
        server.close()
    by_id = got.by_id()
    assert len(got.responses) == 21 and sorted(by_id) == list(range(21))
    assert by_id[0].error is None  # already running: finished, not lost
    assert by_id[20].error is None and by_id[20].index == 20
    assert all(by_id[i].error == SUPERSEDED for i in range(1, 20))
    assert reader.reads == [0, 20], "superseded frames must never be decoded"


def test_viewer_before_prefetch_before_thumbnail() -> None:
    gate = threading.Event()
    reader, got = LevelReader(gate), Collector()
    server = make_server(reader, got)
    try:
        server.submit(FrameRequest(0, 0, None, 1.0, VIEWER))
        assert reader.started.wait(10)
        server.submit(FrameRequest(1, 1, None, 0.25, THUMBNAIL))
        server.submit(FrameRequest(2, 2, PLAN, 1.0, PREFETCH))
        server.submit(FrameRequest(3, 3, PLAN, 1.0, PREFETCH))
        server.submit(FrameRequest(4, 4, PLAN, 1.0, VIEWER))
        gate.set()
        assert server.wait_until_idle(10)
    finally:
        server.close()
    assert [r.request_id for r in got.responses] == [0, 4, 2, 3, 1]
    assert all(r.error is None for r in got.responses)


def test_errors_become_responses_and_the_worker_keeps_serving(monkeypatch) -> None:
    def broken(self, window):
        raise RuntimeError("kaboom")

    reader, got = LevelReader(), Collector()
    server = make_server(reader, got)
    try:
        server.submit(FrameRequest(1, N + 5, PLAN, 1.0, VIEWER))
        assert server.wait_until_idle(10)
        monkeypatch.setattr(ColorOperator, "process", broken)
        server.submit(FrameRequest(2, 3, PLAN, 1.0, VIEWER))
        assert server.wait_until_idle(10)
        monkeypatch.undo()
        server.submit(FrameRequest(3, 4, PLAN, 1.0, VIEWER))
        assert server.wait_until_idle(10)
    finally:
        server.close()
    r1, r2, r3 = got.responses
    assert r1.restored is None and f"frame {N + 5} does not exist" in r1.error
    assert r2.restored is None and r2.error.startswith("color:") and "kaboom" in r2.error
    assert "\n" not in r2.error
    assert r3.error is None and r3.index == 4


def test_unopenable_clip_is_reported_and_requests_fail_cleanly() -> None:
    opened: list[tuple[object, str | None]] = []
    got = Collector()

    def refuse(path: str):
        raise MediaError(path, "not a video file")

    server = FrameServer(
        "broken.mov", 1 << 20, got, open_source=refuse, on_open=lambda i, e: opened.append((i, e))
    )
    try:
        server.submit(FrameRequest(1, 0, PLAN, 1.0, VIEWER))
        assert server.wait_until_idle(10)
    finally:
        server.close()
    assert opened == [(None, "broken.mov: not a video file")]
    (r,) = got.responses
    assert r.error == "broken.mov: not a video file"


def test_real_media_reader_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    got, opened = Collector(), []
    server = FrameServer(tmp_path / "nope.mp4", 1 << 20, got, on_open=lambda i, e: opened.append(e))
    try:
        server.submit(FrameRequest(1, 0, None, 1.0, VIEWER))
        assert server.wait_until_idle(10)
    finally:
        server.close()
    (error,) = opened
    assert error and "nope.mp4" in error and "\n" not in error
    assert got.responses[0].error == error


def test_second_request_for_a_frame_comes_from_the_cache() -> None:
    reader, got = LevelReader(), Collector()
    server = make_server(reader, got)
    try:
        server.submit(FrameRequest(1, 9, PLAN, 0.5, VIEWER))
        assert server.wait_until_idle(10)
        server.submit(FrameRequest(2, 9, PLAN, 0.5, VIEWER))
        assert server.wait_until_idle(10)
    finally:
        server.close()
    first, second = got.responses
    assert not first.from_cache and second.from_cache
    assert reader.reads == [9]
    assert second.restored is first.restored


def test_cancel_pending_and_close_answer_what_never_ran() -> None:
    gate = threading.Event()
    reader, got = LevelReader(gate), Collector()
    server = make_server(reader, got)
    server.submit(FrameRequest(0, 0, None, 1.0, VIEWER))
    assert reader.started.wait(10)
    for rid in range(1, 4):
        server.submit(FrameRequest(rid, rid, PLAN, 1.0, PREFETCH))
    server.submit(FrameRequest(4, 4, None, 0.25, THUMBNAIL))
    assert server.cancel_pending(PREFETCH) == 3
    assert server.pending() == 1
    server.submit(FrameRequest(5, 5, PLAN, 1.0, VIEWER))
    gate.set()
    server.close()
    by_id = got.by_id()
    assert len(got.responses) == 6
    assert [by_id[i].error for i in (1, 2, 3)] == [CANCELLED] * 3
    assert by_id[0].error is None
    # Closing raced the worker for 4 and 5: each ran or was cancelled, never lost.
    assert all(by_id[i].error in (None, CANCELLED) for i in (4, 5))
    with pytest.raises(RuntimeError):
        server.submit(FrameRequest(9, 0, None, 1.0, VIEWER))


def test_cache_budget_bounds_memory() -> None:
    reader, got = LevelReader(), Collector()
    server = make_server(reader, got)
    try:
        for i in range(10):
            server.submit(FrameRequest(i, i, PLAN, 1.0, PREFETCH))
        assert server.wait_until_idle(10)
        frame_bytes = H * W * 3 * 4
        assert server.cache.bytes_used >= 10 * frame_bytes
        server.set_cache_budget(3 * frame_bytes)
        assert server.cache.bytes_used <= 3 * frame_bytes
    finally:
        server.close()
    assert all(r.error is None for r in got.responses)


def test_scrubbing_reads_originals_from_the_proxy_and_restored_frames_from_the_source(
    tmp_path: Path,
) -> None:
    from engine.media.proxy import make_proxy
    from engine.synth.index_clip import read_index, write_index_clip

    clip = write_index_clip(tmp_path / "long_gop.mp4", "h264", width=128, height=96,
                            frames=24, gop=24)
    proxy = make_proxy(clip, folder=tmp_path / "proxies")
    assert proxy is not None
    got = Collector()
    server = FrameServer(clip, 64 << 20, got)
    try:
        server.set_proxy(proxy)
        reads = []
        server.submit(FrameRequest(1, 17, None, 0.5, VIEWER))
        assert server.wait_until_idle(30)
        reads.append(server._proxy is not None)
        server.submit(FrameRequest(2, 17, PLAN, 0.5, VIEWER))  # restored: the source
        server.submit(FrameRequest(3, 9, None, 1.0, PREFETCH))  # full size: the source
        assert server.wait_until_idle(30)
    finally:
        server.close()
    answers = got.by_id()
    assert reads == [True]
    for rid in (1, 2, 3):
        assert answers[rid].error is None
    assert answers[1].original.shape == (48, 64, 3)
    assert read_index(answers[1].original) == 17


# -- the playback render -----------------------------------------------------------------

FRAME_BYTES = 2 * W * H * 3 * 4  # original and restored, float32


def test_a_playback_render_keeps_the_range_and_playback_reads_it() -> None:
    reader, collector = LevelReader(), Collector()
    progress: list[tuple[int, int, str | None]] = []
    server = make_server(reader, collector, on_rendered=lambda *a: progress.append(a))
    try:
        assert server.render_for_playback(PLAN, 1.0, 5, 14, FRAME_BYTES) == (5, 14)
        assert server.wait_until_idle(10)
        assert progress[-1] == (10, 10, None)
        assert server.rendered_frames(PLAN, 1.0, 0, N - 1) == list(range(5, 15))
        server.cache.clear()  # the evaluator's cache forgets: the playback store does not
        reads = len(reader.reads)
        for i in range(5, 15):
            server.submit(FrameRequest(100 + i, i, PLAN, 1.0, VIEWER))
            assert server.wait_until_idle(10)
        answers = [r for r in collector.responses if r.request_id >= 100]
        assert [r.index for r in answers] == list(range(5, 15))
        assert all(r.from_cache and r.error is None for r in answers)
        assert len(reader.reads) == reads  # nothing decoded or computed again
        # The pictures are those a plain request computes.
        assert np.allclose(answers[3].restored, 2 * 8 / 255.0)
        assert np.allclose(answers[3].original, 8 / 255.0)
        # Another recipe gives other pictures: none of them is kept.
        other = ShotPlan.single(N, Recipe.of([Step.create("color", {"exposure": 0.5})]))
        built: list[object] = []
        evaluator = server._evaluator
        original_build = evaluator._build_stages
        evaluator._build_stages = lambda shot, scale: built.append(shot) or original_build(
            shot, scale)
        assert server.rendered_frames(other, 1.0, 0, N - 1) == []
        assert built == []  # asked from the GUI: no operator of the new recipe is built there
        assert server.rendered_frames(PLAN, 0.5, 0, N - 1) == []
    finally:
        server.close()


def test_a_playback_render_fits_its_share_of_the_budget_and_gives_it_back() -> None:
    reader, collector = LevelReader(), Collector()
    budget = 8 * (FRAME_BYTES + 1024)  # eight kept frames, each with its kilobyte
    server = FrameServer("fake.mov", budget, collector, open_source=lambda _p: reader)
    try:
        # Three quarters of a budget of eight frames hold six.
        assert server.render_for_playback(PLAN, 1.0, 0, 30, FRAME_BYTES) == (0, 5)
        assert server.cache.budget_bytes == budget // 4
        assert server.wait_until_idle(10)
        assert server.rendered_frames(PLAN, 1.0, 0, N - 1) == [0, 1, 2, 3, 4, 5]
        server.stop_render(forget=True)
        assert server.rendered_frames(PLAN, 1.0, 0, N - 1) == []
        assert server.cache.budget_bytes == budget
    finally:
        server.close()


def test_viewer_requests_go_before_the_playback_render() -> None:
    gate = threading.Event()
    reader, collector = LevelReader(gate), Collector()
    server = make_server(reader, collector)
    try:
        server.render_for_playback(PLAN, 1.0, 0, 9, FRAME_BYTES)
        assert reader.started.wait(10)  # the render's first frame is being read
        server.submit(FrameRequest(1, 30, PLAN, 1.0, VIEWER))
        gate.set()
        assert server.wait_until_idle(10)
        # Frame 30 was read right after the render's first frame, before the rest of it.
        assert reader.reads.index(30) <= 2
        assert collector.by_id()[1].index == 30
    finally:
        server.close()
