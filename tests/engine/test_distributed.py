"""Distributed rendering on a local Dask cluster: identical output, lost workers survived,
cancel leaves nothing, the CLI flags."""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import psutil
import pytest

from app.cli import run_cli
from engine.distributed import (
    ChunkResult,
    ChunkTask,
    ClusterError,
    connect,
    plan_chunks,
    render_chunk,
    render_distributed,
    require_dask,
)
from engine.errors import RenderCancelled
from engine.framing import Framing
from engine.media import Writer, open_reader, output_format_for, probe
from engine.pipeline import ShotPlan
from engine.presets import get_preset
from engine.project.recipe import Recipe
from engine.render import CancelToken, RenderJob, render
from engine.render import export as export_module
from engine.render.export import Route
from engine.synth.damage import DamageSpec, apply_damage
from engine.synth.index_clip import decode_audio, find_clicks, read_index
from engine.synth.scenes import moving_scene

distributed = pytest.importorskip("distributed")

FRAMES = 40
CUTS = [14, 27]  # three shots: 0-13, 14-26, 27-39


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """Two local worker processes for the whole module; afterwards none may be left."""
    with connect(workers=2) as c:
        yield c
        pids = set(c.run(os.getpid).values())
    alive = [p for p in pids if psutil.pid_exists(p) and
             psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"worker processes left running: {alive}"


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 frames, 64x48, three shots of moving scenes with dust, flicker, grain and weave,
    H.264 with B-frames (so workers seek into long GOPs)."""
    frames = []
    for seed, count in ((1, CUTS[0]), (2, CUTS[1] - CUTS[0]), (3, FRAMES - CUTS[1])):
        frames += moving_scene(count, 64, 48, seed=seed)
    damaged = apply_damage(frames, DamageSpec(dust=300, flicker=0.1, grain=0.02, weave=1.0))
    path = tmp_path_factory.mktemp("distributed") / "film.mov"
    with Writer(path, output_format_for(path, "h264"), 64, 48, Fraction(24)) as writer:
        for frame in damaged.frames:
            writer.write(frame)
    return path


def film_plan() -> ShotPlan:
    # The film preset: temporal windows (dust, degrain) and shot statistics (deflicker,
    # stabilize, colour) all reach across chunk boundaries inside a shot.
    return ShotPlan.from_cuts(FRAMES, CUTS, get_preset("film").recipe)


def frame_hashes(path: Path) -> list[str]:
    kwargs = {"sequence_fps": 24} if path.is_dir() else {}
    with open_reader(path, **kwargs) as reader:
        return [hashlib.sha1(f.tobytes()).hexdigest()
                for f in reader.frames(0, reader.info.frame_count)]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_chunks_are_cut_at_shots_and_bounded() -> None:
    plan = ShotPlan.from_cuts(100, [30, 90], Recipe())
    chunks = plan_chunks(plan, 5, 99, max_frames=20)
    spans = [(c.first, c.last) for c in chunks]
    # Output frames are numbered from the job's first frame (source frame 5).
    assert spans == [(0, 12), (13, 24), (25, 44), (45, 64), (65, 84), (85, 94)]
    assert [c.index for c in chunks] == list(range(len(chunks)))
    with pytest.raises(ValueError, match="at least 1"):
        plan_chunks(plan, 0, 99, max_frames=0)


@pytest.mark.parametrize(("name", "codec", "framing"), [
    ("film.mkv", None, Framing()), ("film.mov", None, Framing()), ("frames", "png", Framing()),
    ("framed.mkv", None, Framing(crop=(6, 4, 6, 4), size=(160, 90), fit="fit"))])
def test_two_workers_render_what_one_process_renders(client: Any, film: Path, tmp_path: Path,
                                                     name: str, codec: str | None,
                                                     framing: Framing) -> None:
    """FFV1, ProRes (intra, deterministic), a PNG sequence and a framed export: the same
    decoded frames, bit for bit, as the single-process export, with chunks run on both
    workers."""
    single = tmp_path / "single" / name
    single.parent.mkdir()
    list(render(RenderJob(film, single, film_plan(), codec=codec, framing=framing)))
    out = tmp_path / "dist" / name
    out.parent.mkdir()
    with distributed.get_task_stream(client) as stream:
        steps = list(render_distributed(RenderJob(film, out, film_plan(), codec=codec,
                                                  framing=framing), client, chunk_frames=6))
    assert steps[-1].finished and steps[-1].done == steps[-1].total == FRAMES
    assert [s.done for s in steps] == sorted(s.done for s in steps)
    assert len({t["worker"] for t in stream.data}) == 2, "both workers must render chunks"
    assert frame_hashes(out) == frame_hashes(single)
    assert leftovers(out.parent) == []
    if framing.size is not None:
        info = probe(out)
        assert (info.width, info.height) == framing.size
    if out.suffix:  # a video file says how it was made, as the single process's does
        with av.open(str(out)) as joined, av.open(str(single)) as alone:
            ours = {k.lower(): v for k, v in joined.metadata.items()}
            theirs = {k.lower(): v for k, v in alone.metadata.items()}
        assert ours["comment"] == theirs["comment"]
        assert ours["comment"].startswith("Exported by Nitrate")


def test_untouched_frames_take_the_direct_path_on_the_workers(
        client: Any, film: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An identity export on workers: the direct path (decoded frames to ProRes without
    float), the same frames as a single process's direct export, which the float path's
    are not (so the workers did not fall back to it)."""
    plan = ShotPlan.from_cuts(FRAMES, CUTS, Recipe())
    single = tmp_path / "single.mov"
    assert {s.route for s in render(RenderJob(film, single, plan))} == {"direct"}
    out = tmp_path / "dist.mov"
    steps = list(render_distributed(RenderJob(film, out, plan), client, chunk_frames=6))
    assert {s.route for s in steps} == {"direct"}
    assert frame_hashes(out) == frame_hashes(single)
    monkeypatch.setattr(export_module, "choose_route", lambda *args: Route("float", "test"))
    via_float = tmp_path / "float.mov"
    list(render(RenderJob(film, via_float, plan)))
    assert frame_hashes(via_float) != frame_hashes(single)


def test_video_chunks_joined_in_order_with_audio_in_sync(client: Any, index_clip: Any,
                                                         tmp_path: Path) -> None:
    source = index_clip("dist.mov", codec="h264", frames=FRAMES, gop=12, bframes=2,
                        audio=True, click_frames=(12, 30))
    out = tmp_path / "joined.mov"
    plan = ShotPlan.from_cuts(FRAMES, CUTS, Recipe())
    # The sound moved a frame later (put back in sync) while it is joined.
    list(render_distributed(RenderJob(source, out, plan, start=4, end=35, audio_offset=0.04),
                            client, chunk_frames=5))
    with open_reader(out) as reader:
        assert reader.info.frame_count == 32
        assert [read_index(f) for f in reader.frames(0, 32)] == list(range(4, 36))
    samples, rate = decode_audio(out)
    assert abs(samples.shape[1] / rate - 32 / 25) <= 1 / 25
    assert [round(s * 25 / rate) for s in find_clicks(samples, rate)] == [13 - 4, 31 - 4]




def _kill_once(task: ChunkTask) -> ChunkResult:
    """Chunk 1's first attempt kills its own worker process (SIGKILL, as the OOM killer
    or a pulled cable would) as soon as its partial file exists: mid-chunk."""
    marker = task.work.parent / "killed-once"
    if task.chunk.index == 1 and not marker.exists():
        marker.write_text(str(os.getpid()))

        def watch() -> None:
            while not any(task.work.glob("chunk_00001.part-*")):
                time.sleep(0.001)
            os.kill(os.getpid(), signal.SIGKILL)

        threading.Thread(target=watch, daemon=True).start()
        render_chunk(task)
        os.kill(os.getpid(), signal.SIGKILL)  # the watcher missed it: still lose the chunk
    return render_chunk(task)


def test_a_worker_killed_mid_chunk_is_survived(client: Any, film: Path,
                                               tmp_path: Path) -> None:
    import cloudpickle

    # The workers cannot import this test module: send the wrapper by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        single = tmp_path / "single.mkv"
        list(render(RenderJob(film, single, film_plan())))
        out = tmp_path / "dist.mkv"
        steps = list(render_distributed(RenderJob(film, out, film_plan()), client,
                                        chunk_frames=8, task=_kill_once))
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    killed = int((tmp_path / "killed-once").read_text())
    assert not psutil.pid_exists(killed) or \
        psutil.Process(killed).status() == psutil.STATUS_ZOMBIE
    assert steps[-1].finished
    assert frame_hashes(out) == frame_hashes(single)
    assert leftovers(tmp_path) == []


def test_cancel_stops_every_worker_and_leaves_nothing(client: Any, film: Path,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "cancelled.mov"
    cancel = CancelToken()
    seen = []
    with pytest.raises(RenderCancelled, match="cancelled"):
        for step in render_distributed(RenderJob(film, out, film_plan()), client, cancel,
                                       chunk_frames=4):
            seen.append(step.done)
            if step.done > 0:
                cancel.cancel()
    assert seen[-1] < FRAMES
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    # No worker is still busy with a chunk of the cancelled job.
    assert not any(client.processing().values())


def test_cli_renders_on_local_workers(index_clip: Any, tmp_path: Path) -> None:
    source = index_clip("cli.mkv", codec="ffv1", frames=24, gop=1, bframes=0)
    out = tmp_path / "out.mkv"
    assert run_cli(["restore", str(source), "-o", str(out), "--workers", "2",
                    "--chunk-frames", "5"]) == 0
    with open_reader(out) as reader:
        assert [read_index(f) for f in reader.frames(0, 24)] == list(range(24))
    assert leftovers(tmp_path) == []


def test_cli_refuses_bad_cluster_options(index_clip: Any, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    source = str(index_clip("cli.mkv", codec="ffv1", frames=24, gop=1, bframes=0))
    out = str(tmp_path / "out.mkv")
    assert run_cli(["restore", source, "-o", out, "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
    assert run_cli(["restore", source, "-o", out, "--workers", "2", "--resume"]) == 2
    assert "--resume cannot be combined" in capsys.readouterr().err
    assert run_cli(["restore", source, "-o", out, "--chunk-frames", "9"]) == 2
    assert "--chunk-frames needs --workers" in capsys.readouterr().err
    monkeypatch.setattr("engine.distributed.cluster.CONNECT_SECONDS", 1)
    # A scheduler nobody runs: one line naming it, exit 1, nothing written.
    assert run_cli(["restore", source, "-o", out, "--cluster", "tcp://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tcp://127.0.0.1:9" in err[0] and "cannot reach" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_missing_dask_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ClusterError, match=r"pip install 'nitrate\[cluster\]'"):
        require_dask()


def test_frames_are_real_pictures(film: Path) -> None:
    # Guards the fixture: identical hashes of blank frames would prove nothing.
    with open_reader(film) as reader:
        a, b = reader.read(0), reader.read(20)
    assert a.std() > 0.05 and np.abs(a - b).mean() > 0.02


def test_a_node_with_another_build_is_refused(film: Path, tmp_path: Path) -> None:
    """A worker whose Nitrate or OpenCV differs from the client's would render other
    frames: it refuses the chunk with one line instead (here called without a cluster)."""
    from engine.distributed.chunks import Chunk

    job = RenderJob(film, tmp_path / "out.mkv", film_plan())
    fmt = output_format_for(job.output)
    task = ChunkTask(job, Chunk(0, 0, 3), tmp_path, fmt, FRAMES - 1, Fraction(24))
    assert render_chunk(task).error is None
    assert (tmp_path / "chunk_00000.mkv").exists()
    refused = render_chunk(ChunkTask(job, Chunk(1, 4, 7), tmp_path, fmt, FRAMES - 1,
                                     Fraction(24), build="0" * 16))
    assert refused.error is not None and "another build" in refused.error
    assert "\n" not in refused.error
    assert not (tmp_path / "chunk_00001.mkv").exists()
