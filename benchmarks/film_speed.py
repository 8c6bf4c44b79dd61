"""Film preset export speed: the whole `nitrate restore --preset film` path, decode to encode.

    python -m benchmarks.film_speed [--frames 48] [--sizes 720p,1080p] [--outputs .mov,.mkv]
                                     [--profile]

Generates (once, cached in the temp folder) a damaged clip per size: a moving textured
scene (`engine.synth.scenes.moving_scene`) with every kind of synthetic damage (dust,
scratches, flicker, grain, weave, fade), stored as H.264 High (crf 14, GOP 24, 2 B-frames)
like a scan proxy. It then exports it with the `film` preset exactly as the CLI does
(`engine.render.render` of a one-shot plan, thread settings from
`engine.runtime.configure_threads`) to each output type (.mov = ProRes 422 HQ, .mkv =
FFV1) and prints frames per second of the whole export (wall clock, first frame to the
renamed file) with the time per frame, the cores kept busy (CPU time of all threads over
wall time) and the process's peak resident memory during that export (Linux; reset before
each export, so a later export's figure includes what the allocator kept from the earlier
ones). `--profile` also prints the 25 most expensive functions (cProfile, cumulative) of the
first export.

Targets on the 2-core development CPU: ≥ 4 fps at 720p, ≥ 1.5 fps at 1080p. The machine
is shared: report the load (`uptime`) beside the figures.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from benchmarks.memory import peak_rss_mib, reset_peak_rss

FPS = Fraction(24)
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
TARGETS = {"720p": 4.0, "1080p": 1.5}


def make_clip(path: Path, width: int, height: int, frames: int) -> Path:
    """A damaged H.264 clip of `frames` frames at width x height pixels (made once)."""
    if path.exists():
        return path
    from engine.synth.damage import DamageSpec, apply_damage
    from engine.synth.scenes import moving_scene

    spec = DamageSpec(dust=60, scratches=2, flicker=0.1, local_flicker=0.03, grain=0.025,
                      weave=2.0, fade=0.4, seed=11)
    damaged = apply_damage(moving_scene(frames, width, height, seed=11), spec).frames
    partial = path.with_name(f".{path.name}.partial.mp4")
    with av.open(str(partial), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={
            "preset": "veryfast", "crf": "14",
            "x264-params": "keyint=24:min-keyint=24:bframes=2:scenecut=0"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for frame in damaged:
            rgb = (np.clip(frame, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
            vf = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            for packet in stream.encode(vf.reformat(format="yuv420p", dst_colorspace="ITU709")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    partial.replace(path)
    return path


def export_times(clip: Path, output: Path, profile: bool = False
                 ) -> tuple[float, float, int, float]:
    """Wall-clock and CPU seconds (all threads) to export `clip` with the film preset to
    `output`, the frame count, and the peak resident memory meanwhile (MiB)."""
    from engine import presets
    from engine.media import probe
    from engine.pipeline import ShotPlan
    from engine.render import RenderJob, render

    recipe = presets.get_preset("film").recipe
    count = probe(clip).frame_count
    job = RenderJob(source=clip, output=output, plan=ShotPlan.single(count, recipe),
                    audio=False)
    profiler = cProfile.Profile() if profile else None
    reset_peak_rss()
    cpu = time.process_time()
    start = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    for _ in render(job):
        pass
    if profiler is not None:
        profiler.disable()
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return seconds, cpu, count, peak_rss_mib()


def load() -> str:
    try:
        return ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=48, help="frames per clip")
    parser.add_argument("--sizes", default="720p,1080p", help="comma-separated: 720p, 1080p")
    parser.add_argument("--outputs", default=".mov,.mkv", help="comma-separated extensions")
    parser.add_argument("--profile", action="store_true", help="cProfile the first export")
    args = parser.parse_args(argv)

    from engine.runtime import configure_threads

    configure_threads()
    import cv2

    folder = Path(tempfile.gettempdir()) / "nitrate-bench"
    folder.mkdir(exist_ok=True)
    rows = []
    profile = args.profile
    for size in args.sizes.split(","):
        width, height = SIZES[size]
        clip = make_clip(folder / f"film_{size}_{args.frames}f.mp4", width, height, args.frames)
        for ext in args.outputs.split(","):
            with tempfile.TemporaryDirectory(prefix="nitrate-film-") as tmp:
                seconds, cpu, count, peak = export_times(clip, Path(tmp) / f"out{ext}", profile)
            profile = False
            fps = count / seconds
            rows.append((size, ext, count, seconds, fps, cpu / seconds, peak, TARGETS[size]))
            print(f"{size} -> {ext}: {fps:.2f} fps ({seconds:.1f} s)", flush=True)
    print(f"\nfilm preset export, H.264 source, cv2 threads {cv2.getNumThreads()}, "
          f"load average {load()}")
    print("| size | output | frames | seconds | fps | ms/frame | cores busy | peak RSS MiB "
          "| target |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for size, ext, count, seconds, fps, busy, peak, target in rows:
        verdict = "met" if fps >= target else "**not met**"
        print(f"| {size} | {ext} | {count} | {seconds:.1f} | {fps:.2f} | "
              f"{1000 * seconds / count:.0f} | {busy:.2f} | {peak:.0f} | "
              f"≥ {target:g} fps: {verdict} |")


if __name__ == "__main__":
    main()
