"""I/O benchmark: random access, sequential decode, export speed, memory, open time.

Run ``python -m benchmarks.io`` (``--quick`` for a smoke run with fewer frames, ``--only
export,sequential`` for some parts: random, sequential, export, memory, open). Clips are
generated in a temporary folder; the ffmpeg CLI, when on PATH, is the peer for accurate
seeking. Prints a Markdown table for docs/BENCHMARKS.md. Figures on a shared machine are
noisy: compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from benchmarks.memory import peak_rss_mib
from engine.media import Writer, open_reader, output_format_for
from engine.media.reader import DECODER_THREADS, VideoReader
from engine.media.writer import ENCODER_THREADS
from engine.synth.index_clip import index_frame, write_index_clip

W, H = 1920, 1080
FPS = Fraction(25)
PARTS = ("random", "sequential", "export", "memory", "open")
"""What ``--only`` can pick."""


def textured_frames(count: int, width: int = W, height: int = H) -> list[np.ndarray]:
    """Index frames with a moving sine texture and fixed grain, so codecs have real work."""
    rng = np.random.default_rng(5)
    grain = rng.normal(0.0, 0.03, (height, width, 1)).astype(np.float32)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = []
    for i in range(count):
        texture = 0.08 * np.sin((x + 7 * i) / 23.0) * np.cos((y - 3 * i) / 31.0)
        frame = index_frame(i, width, height) + texture[..., None] + grain
        frames.append(np.clip(frame, 0.0, 1.0, out=frame))
    return frames


def write_h264(path: Path, frames: list[np.ndarray], gop: int = 48, bframes: int = 3) -> None:
    """Long-GOP H.264 (veryfast, crf 20) with B-frames from float frames."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={
            "preset": "veryfast", "crf": "20",
            "x264-params": f"keyint={gop}:min-keyint={gop}:bframes={bframes}:scenecut=0"})
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for f in frames:
            vf = av.VideoFrame.from_ndarray((f * 255 + 0.5).astype(np.uint8), format="rgb24")
            for packet in stream.encode(vf.reformat(format="yuv420p", dst_colorspace="ITU709")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_random_access(clip: Path, count: int, reads: int) -> dict[str, float]:
    """Seek cost (p50/p95 s) with the Reader's store of decoded frames off, so every read
    of this short clip really seeks and decodes; and the same reads with the store on
    (the default), where frames decoded by earlier seeks are re-read without decoding."""
    rng = random.Random(11)
    order = [rng.randrange(count) for _ in range(reads)]
    times = []
    with VideoReader(clip, recent_frames_bytes=0) as reader:
        for i in order:
            times.append(timed(lambda i=i: reader.read(i)))
    result = {"p50": percentile(times, 0.5), "p95": percentile(times, 0.95)}
    stored = []
    with open_reader(clip) as reader:
        for i in order:
            stored.append(timed(lambda i=i: reader.read(i)))
    result["stored_p50"] = percentile(stored, 0.5)
    result["stored_p95"] = percentile(stored, 0.95)
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:
        peer = []
        for i in order[: max(5, reads // 3)]:
            t = float(Fraction(i) / FPS)
            cmd = [ffmpeg, "-v", "error", "-threads", str(DECODER_THREADS), "-ss", f"{t:.6f}",
                   "-i", str(clip), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
            peer.append(timed(lambda cmd=cmd: subprocess.run(cmd, check=True,
                                                             stdout=subprocess.DEVNULL)))
        result["ffmpeg_p50"] = percentile(peer, 0.5)
        result["ffmpeg_p95"] = percentile(peer, 0.95)
    return result


def bench_sequential(clip: Path) -> dict[str, float]:
    """Frames per second through the Reader and through bare PyAV: best of two runs each,
    interleaved, since the machine is shared and a single run's noise swamps the ratio."""
    def ours_once() -> float:
        with open_reader(clip) as reader:
            return timed(lambda: [None for _ in reader.frames()])

    n = probe_count(clip)

    def raw() -> None:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_type = "AUTO"
            stream.codec_context.thread_count = DECODER_THREADS
            for frame in container.decode(stream):
                frame.to_ndarray(format="rgb24")

    ours, raw_t = ours_once(), timed(raw)
    ours, raw_t = min(ours, ours_once()), min(raw_t, timed(raw))
    return {"ours_fps": n / ours, "raw_fps": n / raw_t}


def probe_count(clip: Path) -> int:
    with open_reader(clip) as reader:
        return reader.info.frame_count


def cpu_seconds(who: int) -> float:
    """User + system CPU time (s) of this process (all threads) or its finished children."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def bench_export(clip: Path, count: int, tmp: Path, codec: str, suffix: str,
                 rounds: int = 3) -> dict[str, float | str]:
    """Identity export of the first `count` frames of `clip` through the real export path
    (`engine.render.render`: decode, the render loop with its writer thread, encode; an
    identity recipe takes the direct path, no float frames), against the bare encoder fed
    the same pictures already in its pixel format and the ffmpeg CLI. The three run in
    turn, `rounds` times, and each keeps its best: on a shared machine, a load that comes
    and goes then hits all three alike. `route` says which path the export took (from
    its Progress); `*_cpu_ms` are CPU milliseconds per frame (all threads), which load
    from elsewhere disturbs less than wall time."""
    from engine.pipeline import ShotPlan
    from engine.project.recipe import Recipe
    from engine.render import RenderJob, render

    out = tmp / f"export_{codec}{suffix}"
    fmt = output_format_for(out, codec, 8)
    with open_reader(clip) as reader:
        frames = [reader.read(i) for i in range(count)]
        total = reader.info.frame_count
    job = RenderJob(clip, out, ShotPlan.single(total, Recipe()), start=0, end=count - 1,
                    codec=codec, audio=False)
    routes = set()

    def ours() -> None:
        for progress in render(job):
            routes.add(progress.route)

    # Peer: the same encoder fed frames already in its pixel format (conversion excluded).
    pre = []
    for f in frames:
        if fmt.pix_fmt.startswith("gbrp") or fmt.pix_fmt == "bgr0":
            vf = av.VideoFrame.from_ndarray((f * 255 + 0.5).astype(np.uint8), format="rgb24")
            pre.append(vf.reformat(format=fmt.pix_fmt))
        else:
            vf = av.VideoFrame.from_ndarray((f * 65535 + 0.5).astype(np.uint16), format="rgb48le")
            pre.append(vf.reformat(format=fmt.pix_fmt, dst_colorspace="ITU709"))

    def raw() -> None:
        with av.open(str(out), "w") as container:
            options = {k: v for k, v in fmt.options.items() if k != "color_range"}
            stream = container.add_stream(fmt.encoder, rate=FPS, options=options)
            stream.width, stream.height, stream.pix_fmt = W, H, fmt.pix_fmt
            stream.codec_context.thread_count = ENCODER_THREADS
            stream.codec_context.thread_type = "AUTO"  # as the Writer: frame threads for ProRes
            for k, vf in enumerate(pre):
                vf.pts = k
                for packet in stream.encode(vf):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)

    # The peer a user would run: the ffmpeg CLI doing the same identity transcode with
    # the same encoder and pixel format (decode, conversion and encode, like ours).
    ffmpeg = shutil.which("ffmpeg")
    opts = [a for k, v in fmt.options.items() if k != "color_range" for a in (f"-{k}", str(v))]
    cmd = [str(ffmpeg), "-y", "-loglevel", "error", "-i", str(clip), "-frames:v", str(count),
           "-an", "-c:v", fmt.encoder, *opts, "-pix_fmt", fmt.pix_fmt, str(out)]

    def cli() -> None:
        subprocess.run(cmd, check=True)

    runs: dict[str, tuple[Callable[[], object], int]] = {
        "ours": (ours, resource.RUSAGE_SELF), "raw": (raw, resource.RUSAGE_SELF)}
    if ffmpeg:
        runs["ffmpeg"] = (cli, resource.RUSAGE_CHILDREN)
    best: dict[str, tuple[float, float]] = {}  # name → (wall s, CPU s) of the fastest run
    for _ in range(rounds):
        for name, (fn, who) in runs.items():
            cpu = cpu_seconds(who)
            wall = timed(fn)
            cpu = cpu_seconds(who) - cpu
            out.unlink()
            if name not in best or wall < best[name][0]:
                best[name] = (wall, cpu)
    result: dict[str, float | str] = {"route": "/".join(sorted(routes))}
    for name, (wall, cpu) in best.items():
        result[f"{name}_fps"] = len(frames) / wall
        result[f"{name}_cpu_ms"] = cpu * 1000 / len(frames)
    return result


def memory_child(count: int, out: str) -> None:
    """Export ``count`` 1080p frames (H.264 ultrafast) and print peak RSS in MiB."""
    frames = textured_frames(4)
    fmt = output_format_for(out, "h264", 8)
    fmt = dataclasses.replace(fmt, options={**fmt.options, "preset": "ultrafast"})
    with Writer(out, fmt, W, H, FPS) as writer:
        for i in range(count):
            writer.write(frames[i % len(frames)])
    print(peak_rss_mib())


def bench_memory(tmp: Path, small: int, large: int) -> dict[str, float]:
    result = {}
    for count in (small, large):
        out = tmp / f"mem_{count}.mp4"
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "benchmarks.io", "--memory-child",
                               str(count), str(out)], check=True, capture_output=True, text=True)
        result[f"peak_{count}"] = float(proc.stdout.strip().splitlines()[-1])
        result[f"time_{count}"] = time.perf_counter() - start
        out.unlink(missing_ok=True)
    return result


def bench_open(tmp: Path, frames: int) -> dict[str, float]:
    result = {}
    for name, codec in (("mp4", "h264"), ("mkv", "ffv1")):
        path = write_index_clip(tmp / f"long.{name}", codec, 32, 24, frames, gop=48,
                                bframes=2 if codec == "h264" else 0)
        seconds = min(timed(lambda p=path: open_reader(p).close()) for _ in range(3))
        result[name] = seconds
    return result


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{cpu}, {os.cpu_count()} CPU cores, {mem:.0f} GiB RAM; Python "
            f"{platform.python_version()}, PyAV {av.__version__}, FFmpeg libs "
            f"{'.'.join(map(str, av.library_versions['libavcodec']))} (libavcodec)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer frames (smoke run)")
    parser.add_argument("--only", default=",".join(PARTS), metavar="PARTS",
                        help=f"comma-separated parts to run (default all: {','.join(PARTS)})")
    parser.add_argument("--memory-child", nargs=2, metavar=("FRAMES", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(int(args.memory_child[0]), args.memory_child[1])
        return
    only = {part.strip() for part in args.only.split(",") if part.strip()}
    if not only or only - set(PARTS):
        parser.error(f"--only takes parts among {', '.join(PARTS)}")
    clip_frames = 48 if args.quick else 96
    export_frames = 8 if args.quick else 24
    mem_small, mem_large = (20, 200) if args.quick else (200, 2000)
    long_frames = 2000 if args.quick else 20000
    with tempfile.TemporaryDirectory(prefix="nitrate-bench-io-") as tmp_name:
        tmp = Path(tmp_name)
        print(f"machine: {machine()}", flush=True)
        rows: list[tuple[str, str, str, str]] = []
        if only & {"random", "sequential", "export"}:
            clip = tmp / "h264_1080p.mp4"
            write_h264(clip, textured_frames(clip_frames))
        if "random" in only:
            ra = bench_random_access(clip, clip_frames, 12 if args.quick else 40)
            rows += [
                ("H.264 1080p GOP 48 B=3, random read p50 / p95 (every read seeks)",
                 f"{ra['p50'] * 1000:.0f} / {ra['p95'] * 1000:.0f} ms",
                 (f"ffmpeg CLI -ss (accurate, incl. process start): "
                  f"{ra['ffmpeg_p50'] * 1000:.0f} / {ra['ffmpeg_p95'] * 1000:.0f} ms")
                 if "ffmpeg_p50" in ra else "ffmpeg CLI absent", "p50 ≤ 150 ms"),
                ("same reads with the Reader's store of decoded frames (default)",
                 f"{ra['stored_p50'] * 1000:.0f} / {ra['stored_p95'] * 1000:.0f} ms",
                 f"frames decoded by earlier seeks of this {clip_frames}-frame clip are "
                 "re-read without decoding", ""),
            ]
        if "sequential" in only:
            seq = bench_sequential(clip)
            rows.append(("H.264 1080p sequential decode (float32 RGB out)",
                         f"{seq['ours_fps']:.1f} fps",
                         f"raw PyAV to uint8 numpy: {seq['raw_fps']:.1f} fps "
                         f"(ratio {seq['ours_fps'] / seq['raw_fps']:.0%})", "≥ 90 %"))
        if "export" in only:
            for codec, suffix in (("prores_hq", ".mov"), ("dnxhr_hqx", ".mov"), ("dnxhr_hqx", ".mxf"),
                                  ("ffv1", ".mkv")):
                r = bench_export(clip, export_frames, tmp, codec, suffix)
                ours, raw = float(r["ours_fps"]), float(r["raw_fps"])
                cli = ""
                if "ffmpeg_fps" in r:
                    peer = float(r["ffmpeg_fps"])
                    cli = (f"ffmpeg CLI, same transcode and encoder: {peer:.1f} fps (ratio "
                           f"{ours / peer:.0%}; CPU {float(r['ours_cpu_ms']):.0f} against "
                           f"{float(r['ffmpeg_cpu_ms']):.0f} ms a frame); ")
                rows.append((f"identity export 1080p H.264 → {codec} {suffix} ({export_frames} "
                             f"frames, {r['route']} path: decode + render loop + encode)",
                             f"{ours:.1f} fps",
                             f"{cli}bare encoder fed pre-converted frames (both cores, "
                             f"nothing else to do): {raw:.1f} fps (ratio {ours / raw:.0%})",
                             "≥ 90 % of the CLI"))
        if "memory" in only:
            mem = bench_memory(tmp, mem_small, mem_large)
            ratio = mem[f"peak_{mem_large}"] / mem[f"peak_{mem_small}"]
            rows.append((f"peak RSS exporting 1080p H.264 (ultrafast): {mem_small} vs "
                         f"{mem_large} frames", f"{mem[f'peak_{mem_small}']:.0f} / "
                         f"{mem[f'peak_{mem_large}']:.0f} MiB", f"ratio {ratio:.2f}", "≤ 1.15"))
        if "open" in only:
            for name, seconds in bench_open(tmp, long_frames).items():
                method = "container index" if name == "mp4" else "packet scan"
                rows.append((f"open (probe + index) {long_frames}-frame .{name} ({method})",
                             f"{seconds * 1000:.0f} ms", f"→ 170,000 frames ≈ "
                             f"{seconds * 170000 / long_frames:.1f} s (linear)", ""))
    print()
    print("| measurement | Nitrate | peer / derived | target |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
