"""Distributed export speed: one process vs 1 and 2 local Dask workers, and the cost of a
chunk (its start-up) and of the final join.

    python -m benchmarks.distributed [--frames 48] [--size 720p] [--preset film]
                                     [--shots 3] [--chunk-frames 8] [--output .mov]

The clip is `benchmarks.film_speed`'s damaged H.264 clip (cached in the temp folder), cut
into `--shots` equal shots. Rows:

- single process: `engine.render.render`, as `nitrate restore` without flags.
- N workers: `render_distributed` on a LocalCluster of N processes (one task thread each,
  cores / N OpenCV threads), wall clock from the first submit to the renamed output; the
  cluster's start-up (seconds, paid once per command) is listed apart.
- chunk start-up: every chunk rendered one after the other in this process
  (`render_chunk`, no cluster), minus the single-process time, per chunk: what opening
  the source and re-evaluating the temporal margins of a chunk's first frames cost.
- join: remuxing the chunk files into the output (`join_files`), seconds.

On one machine N workers share its cores with each other, so the speed-up over the
single process (which already overlaps encoding and OpenCV's threads on both cores) is
small; across nodes the work scales with the node count until the join (seconds) and the
shared storage's bandwidth dominate. The machine is shared: report the load beside the
figures.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.film_speed import SIZES, load, make_clip


def _plan(frames: int, shots: int, preset: str):  # -> ShotPlan
    from engine import presets
    from engine.pipeline import ShotPlan

    recipe = presets.get_preset(preset).recipe
    cuts = [round(frames * k / shots) for k in range(1, shots)]
    return ShotPlan.from_cuts(frames, cuts, recipe)


def single_seconds(job) -> float:  # job: RenderJob
    from engine.render import render

    start = time.perf_counter()
    for _ in render(job):
        pass
    return time.perf_counter() - start


def cluster_seconds(job, workers: int, chunk_frames: int) -> tuple[float, float]:
    """(cluster start-up seconds, render seconds) of `job` on `workers` local workers."""
    from engine.distributed import connect, render_distributed

    start = time.perf_counter()
    with connect(workers=workers) as client:
        client.wait_for_workers(workers)
        up = time.perf_counter() - start
        start = time.perf_counter()
        for _ in render_distributed(job, client, chunk_frames=chunk_frames):
            pass
        return up, time.perf_counter() - start


def chunk_costs(job, chunk_frames: int, folder: Path) -> tuple[int, float, float]:
    """(chunks, seconds rendering them one by one without a cluster, join seconds)."""
    from engine.distributed import ChunkTask, plan_chunks, render_chunk
    from engine.media import output_format_for, probe
    from engine.render.resume import join_files

    info = probe(job.source)
    end = info.frame_count - 1
    fmt = output_format_for(job.output, job.codec, info.bit_depth)
    chunks = plan_chunks(job.plan, 0, end, chunk_frames)
    work = folder / "chunks"
    work.mkdir()
    start = time.perf_counter()
    parts = []
    for chunk in chunks:
        result = render_chunk(ChunkTask(job, chunk, work, fmt, end, info.fps))
        assert result.error is None and result.path is not None, result.error
        parts.append((result.path, chunk.frames))
    rendered = time.perf_counter() - start
    start = time.perf_counter()
    join_files(parts, fmt, info.fps, folder / f"joined{job.output.suffix}", None, None)
    return len(chunks), rendered, time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", default="720p", choices=sorted(SIZES))
    parser.add_argument("--preset", default="film")
    parser.add_argument("--shots", type=int, default=3)
    parser.add_argument("--chunk-frames", type=int, default=8)
    parser.add_argument("--output", default=".mov", help=".mov (ProRes) or .mkv (FFV1)")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    args = parser.parse_args(argv)

    from engine.render import RenderJob
    from engine.runtime import configure_threads

    configure_threads()
    width, height = SIZES[args.size]
    cache = Path(tempfile.gettempdir()) / "nitrate-bench"
    cache.mkdir(exist_ok=True)
    clip = make_clip(cache / f"film_{args.size}_{args.frames}f.mp4", width, height,
                     args.frames)
    plan = _plan(args.frames, args.shots, args.preset)
    rows: list[tuple[str, float, str]] = []
    folder = Path(tempfile.mkdtemp(prefix="nitrate-dist-bench-"))
    try:
        def job(name: str) -> RenderJob:
            return RenderJob(clip, folder / f"{name}{args.output}", plan, audio=False)

        single = single_seconds(job("single"))
        rows.append(("single process", single, "1.00"))
        print(f"single process: {single:.1f} s", flush=True)
        for workers in (int(w) for w in args.workers.split(",")):
            up, seconds = cluster_seconds(job(f"w{workers}"), workers, args.chunk_frames)
            rows.append((f"{workers} worker{'s' if workers > 1 else ''} "
                         f"(+{up:.1f} s cluster start)", seconds, f"{single / seconds:.2f}"))
            print(f"{workers} workers: {seconds:.1f} s (cluster start {up:.1f} s)", flush=True)
        count, rendered, join = chunk_costs(job("chunks"), args.chunk_frames, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\n{args.preset} preset, {args.size}, {args.frames} frames in {args.shots} shots, "
          f"{count} chunks of at most {args.chunk_frames} frames, output {args.output}, "
          f"load average {load()}")
    print("| render | seconds | fps | speed-up |")
    print("| --- | --- | --- | --- |")
    for name, seconds, speedup in rows:
        print(f"| {name} | {seconds:.1f} | {args.frames / seconds:.2f} | {speedup} |")
    print(f"\n| per chunk | seconds |\n| --- | --- |\n"
          f"| start-up (opening the source, re-evaluating the margins) | "
          f"{(rendered - single) / count:.2f} |\n"
          f"| join of all {count} chunks (remux) | {join:.2f} |")


if __name__ == "__main__":
    main()
