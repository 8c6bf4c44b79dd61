"""Motion utilities: flow direction, and no crash on the tiny frames of small previews."""

from __future__ import annotations

import numpy as np
import pytest

from engine.ops.motion import FlowEstimator, compensate
from engine.pipeline import Evaluator, ShotPlan
from engine.presets import get_preset
from engine.synth.scenes import moving_scene


def test_flow_points_to_where_the_content_went() -> None:
    rng = np.random.default_rng(0)
    base = rng.random((140, 200, 3)).astype(np.float32)
    import cv2

    base = cv2.GaussianBlur(base, (0, 0), 2)
    a, b = base[10:110, 10:170], base[13:113, 15:175]  # content moved 5 px left, 3 px up
    flow = FlowEstimator().flow(a, b)
    assert np.median(flow[..., 0]) == pytest.approx(-5, abs=0.3)
    assert np.median(flow[..., 1]) == pytest.approx(-3, abs=0.3)
    warped, trusted = compensate(a, b, FlowEstimator())
    assert trusted.mean() > 0.8 and np.abs(warped - a)[trusted].mean() < 0.01


@pytest.mark.parametrize("shape", [(12, 16), (20, 100), (31, 31)])
def test_tiny_frames_do_not_crash_the_flow(shape: tuple[int, int]) -> None:
    a = np.random.default_rng(1).random((*shape, 3)).astype(np.float32)
    assert FlowEstimator().flow(a, np.roll(a, 1, axis=1)).shape == (*shape, 2)


def test_the_film_preset_runs_on_a_quarter_scale_preview_of_a_small_clip() -> None:
    frames = moving_scene(8, 64, 48, seed=3)

    class Frames:
        def read(self, index: int) -> np.ndarray:
            return frames[index]

    plan = ShotPlan.single(len(frames), get_preset("film").recipe)
    out = Evaluator(Frames()).evaluate(4, plan, scale=0.25)
    assert out.restored.shape == (12, 16, 3) and np.isfinite(out.restored).all()


def test_one_estimator_serves_two_threads_with_the_flows_it_gives_one() -> None:
    """Temporal operators compute their neighbours' flows side by side (parallel_map): each
    thread gets its own DIS state, so the flows are exactly those computed one by one, in
    order, and a nested call (from a pool thread) runs inline instead of deadlocking."""
    from engine.runtime import parallel_map

    frames = moving_scene(5, 160, 96, seed=4)
    pairs = [(frames[i], frames[i + 1]) for i in range(4)] + [(frames[3], frames[0])]
    one_by_one = [FlowEstimator().flow(a, b) for a, b in pairs]
    shared = FlowEstimator()
    side_by_side = parallel_map(lambda p: shared.flow(*p), pairs)
    assert all(np.array_equal(x, y) for x, y in zip(one_by_one, side_by_side, strict=True))
    nested = parallel_map(lambda k: parallel_map(lambda j: j * k, range(3)), range(4))
    assert nested == [[0, 0, 0], [0, 1, 2], [0, 2, 4], [0, 3, 6]]
    with pytest.raises(ZeroDivisionError):
        parallel_map(lambda k: 1 // k, [2, 1, 0])


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_a_forked_process_gets_a_pool_of_its_own() -> None:
    """A child forked after the pool has run inherits none of its threads: its operators
    must still get their work done (a process pool of render workers may fork)."""
    import os
    import threading
    import time

    from engine.runtime import cpu_count, parallel_map

    if cpu_count() < 2:
        pytest.skip("one core: parallel_map runs inline, there is no pool")
    together = threading.Barrier(2, timeout=10)

    def meet(k: int) -> int:  # both tasks at once: the parent's pool has both its threads
        together.wait()
        return k + 1

    assert parallel_map(meet, [1, 2]) == [2, 3]
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the pool answers
        ok = parallel_map(lambda k: k * 2, [1, 2, 3]) == [2, 4, 6]
        os._exit(0 if ok else 1)
    deadline = time.monotonic() + 20.0
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)  # polling the child, not hiding a race
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the forked child's parallel_map never finished")


def test_side_by_side_threads_keep_their_pieces_while_all_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An export's two evaluating threads keep the cores busy: their operators' pieces run
    inline. While one of them waits (for the other's shot analysis, say), the other's
    pieces go to the pool and use the waiting thread's core."""
    import threading

    from engine import runtime
    from engine.runtime import parallel_map, side_by_side, waiting

    monkeypatch.setattr(runtime, "cpu_count", lambda: 2)  # two threads fill two cores

    def where() -> set[str]:
        return set(parallel_map(lambda _: threading.current_thread().name, range(4)))

    both_working = threading.Barrier(2, timeout=10)
    one_waits = threading.Event()
    seen: dict[str, set[str]] = {}

    def first() -> None:
        both_working.wait()
        seen["both working"] = where()
        both_working.wait()  # the second has looked too
        with waiting():
            one_waits.set()
            both_working.wait()  # until the first has looked alone

    def second() -> None:
        both_working.wait()
        seen["both working, second"] = where()
        both_working.wait()
        one_waits.wait(10)
        seen["other waits"] = where()
        both_working.wait()

    threads = [threading.Thread(target=side_by_side(first), name="first"),
               threading.Thread(target=side_by_side(second), name="second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen["both working"] == {"first"} and seen["both working, second"] == {"second"}
    assert all(name.startswith("nitrate-ops") for name in seen["other waits"])
