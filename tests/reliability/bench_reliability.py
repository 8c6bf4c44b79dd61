"""Reliability benchmarks (not tests: they take minutes and their figures depend on the
machine). Results go into docs/RELIABILITY.md.

    python tests/reliability/bench_reliability.py [long-film] [proxy] [memory] [join]

long-film  a feature-length clip (170,000 frames, 32x24 H.264 MP4 and FFV1 MKV at
           24 fps, generated once into $TMPDIR/nitrate-bench): probe time, and the
           workstation's time from open_path to the first frame on screen (offscreen Qt),
           with cut detection started in the background; then how fast it cancels.
proxy      random seeks into a long-GOP 640x360 H.264 (GOP 250) with and without a proxy.
memory     peak RSS of `nitrate restore --ops dust,degrain` for 1x and 10x the frames,
           each in its own process (flat in clip length = the export streams).
join       the cost of crash-safe segments: plain export vs `--resume` (segments + join).
"""

from __future__ import annotations

import inspect
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import numpy as np  # noqa: E402

from engine.synth.index_clip import index_frame, write_index_clip  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "nitrate-bench"
FEATURE_FRAMES = 170_000


def _long_film(name: str, encoder: str, pix_fmt: str) -> Path:
    """A 170,000-frame 32x24 clip (about two hours at 24 fps), generated once."""
    path = CACHE / name
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    temp = path.with_name("." + path.name)
    # 64 distinct pictures cycled: generating 170,000 numpy frames would dominate the time.
    pictures = []
    for i in range(64):
        rgb = np.rint(index_frame(i, 32, 24) * 255).astype(np.uint8)
        pictures.append(av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt))
    options = {"x264-params": "keyint=240:scenecut=0", "preset": "ultrafast"} \
        if encoder == "libx264" else {}
    with av.open(str(temp), "w") as out:
        stream = out.add_stream(encoder, rate=24, options=options)
        stream.width, stream.height, stream.pix_fmt = 32, 24, pix_fmt
        for n in range(FEATURE_FRAMES):
            frame = pictures[n % 64]
            frame.pts = n
            frame.time_base = Fraction(1, 24)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    os.replace(temp, path)
    return path


def bench_long_film() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from engine.media import probe
    from ui.main_window import MainWindow

    started = time.perf_counter()
    films = [_long_film("feature.mp4", "libx264", "yuv420p"),
             _long_film("feature.mkv", "ffv1", "bgr0")]
    print(f"(generated/found the clips in {time.perf_counter() - started:.1f} s)")
    app = QApplication.instance() or QApplication([])
    print("| clip | frames | probe (s) | open → first frame shown (s) | cut detection "
          "progress after 2 s | cancel (s) |")
    print("| --- | ---: | ---: | ---: | --- | ---: |")
    for film in films:
        t0 = time.perf_counter()
        info = probe(film)
        t_probe = time.perf_counter() - t0
        settings = QSettings(str(CACHE / "bench.ini"), QSettings.Format.IniFormat)
        win = MainWindow(settings, detect_shots=True)
        win.show()
        seen: list[tuple[int, int]] = []
        win.detector.progress.connect(lambda d, t, seen=seen: seen.append((d, t)))
        t0 = time.perf_counter()
        win.open_path(film)
        while win.viewer.shown_index != 0 and time.perf_counter() - t0 < 60:
            app.processEvents()
            time.sleep(0.001)
        t_open = time.perf_counter() - t0
        t1 = time.perf_counter()
        while time.perf_counter() - t1 < 2.0:
            app.processEvents()
            time.sleep(0.005)
        progress = f"{seen[-1][0]}/{seen[-1][1]} frames" if seen else "none yet"
        t0 = time.perf_counter()
        win.detector.cancel()
        win._ask_unsaved = lambda: None  # type: ignore[method-assign, assignment, return-value]
        win.document.close()
        win.close()
        app.processEvents()
        t_cancel = time.perf_counter() - t0
        print(f"| {film.name} | {info.frame_count} | {t_probe:.2f} | {t_open:.2f} | "
              f"{progress} | {t_cancel:.2f} |")


def bench_proxy() -> None:
    from engine.media import VideoReader, probe
    from engine.media.proxy import make_proxy, open_proxy

    source = CACHE / "gop250.mp4"
    if not source.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        write_index_clip(source, "h264", width=640, height=360, frames=500, gop=250, bframes=2)
    folder = CACHE / "proxies"
    t0 = time.perf_counter()
    make_proxy(source, folder)
    t_make = time.perf_counter() - t0
    rng = random.Random(4)
    targets = [rng.randrange(500) for _ in range(25)]
    info = probe(source)

    def seeks(reader) -> list[float]:  # type: ignore[no-untyped-def]
        out = []
        for i in targets:
            t = time.perf_counter()
            reader.read(i)
            out.append((time.perf_counter() - t) * 1000)
        return out

    def uncached(path: Path) -> VideoReader:
        # The Reader keeps recently decoded frames; a seek benchmark must not hit them.
        if "recent_frames_bytes" in inspect.signature(VideoReader).parameters:
            return VideoReader(path, recent_frames_bytes=0)  # type: ignore[call-arg]
        return VideoReader(path)

    proxy = open_proxy(source, 0.5, info, folder)
    assert proxy is not None
    proxy_file = proxy._reader._path  # type: ignore[attr-defined]
    proxy.close()
    with uncached(source) as full:
        direct = seeks(full)
    with uncached(proxy_file) as small:
        cached = seeks(small)
    print(f"proxy of {source.name} (500 frames 640x360, GOP 250) made in {t_make:.1f} s")
    print("| reader | median seek (ms) | max seek (ms) |")
    print("| --- | ---: | ---: |")
    print(f"| source (H.264) | {statistics.median(direct):.1f} | {max(direct):.1f} |")
    print(f"| proxy (MJPEG 320x180) | {statistics.median(cached):.1f} | {max(cached):.1f} |")


_RSS_CHILD = """
import resource, sys
from app.cli import run_cli
if sys.argv[1] == "no-reader-cache":
    # Attribution: the VideoReader's cache of recently decoded frames switched off.
    import engine.media.reader as reader
    reader.VideoReader.__init__.__defaults__ = (0,)
code = run_cli(sys.argv[2:])
print("maxrss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, code)
"""


def bench_memory() -> None:
    source = CACHE / "mem_1000.mkv"
    if not source.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        write_index_clip(source, "ffv1", width=320, height=180, frames=1000)
    print("| frames exported (320x180, dust+degrain, FFV1) | reader cache | peak RSS (MiB) "
          "| time (s) |")
    print("| ---: | --- | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for frames, cache in ((100, "default"), (1000, "default"), (100, "no-reader-cache"),
                              (1000, "no-reader-cache")):
            out = Path(tmp) / f"out_{frames}_{cache}.mkv"
            t0 = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-c", _RSS_CHILD, cache, "restore", str(source), "-o", str(out),
                 "--ops", "dust,degrain", "--shots", "none", "--end", str(frames - 1)],
                capture_output=True, text=True, cwd=ROOT, timeout=900)
            elapsed = time.perf_counter() - t0
            line = [s for s in result.stdout.splitlines() if s.startswith("maxrss_kb")]
            if not line:
                print(result.stderr)
                continue
            kb = int(line[0].split()[1])
            print(f"| {frames} | {cache} | {kb / 1024:.0f} | {elapsed:.1f} |")


def bench_join() -> None:
    from engine.pipeline import ShotPlan
    from engine.project.recipe import Recipe
    from engine.render import RenderJob, render
    from engine.render.resume import render_resumable

    source = CACHE / "join_src.mp4"
    if not source.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        write_index_clip(source, "h264", width=1280, height=720, frames=240, gop=24, audio=True)
    plan = ShotPlan.single(240, Recipe())
    print("| output (240 frames 1280x720 + audio) | plain export (s) | segmented + join (s) "
          "| overhead |")
    print("| --- | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("out.mov", "out.mp4", "out.mkv"):
            a, b = Path(tmp) / f"a_{name}", Path(tmp) / f"b_{name}"
            t0 = time.perf_counter()
            for _ in render(RenderJob(source, a, plan)):
                pass
            t_plain = time.perf_counter() - t0
            t0 = time.perf_counter()
            for _ in render_resumable(RenderJob(source, b, plan)):
                pass
            t_seg = time.perf_counter() - t0
            print(f"| {name} | {t_plain:.2f} | {t_seg:.2f} | {100 * (t_seg / t_plain - 1):+.0f}% |")


BENCHES = {"long-film": bench_long_film, "proxy": bench_proxy, "memory": bench_memory,
           "join": bench_join}

if __name__ == "__main__":
    chosen = sys.argv[1:] or list(BENCHES)
    for name in chosen:
        print(f"\n## {name}\n")
        BENCHES[name]()
