"""Frame interpolation: rebuild dropped frames, Nitrate against ffmpeg's interpolators.

    python -m benchmarks.retime [--frames 48] [--sources generated,bikes,bunny] [--quick]

Every other frame of clean footage is dropped (the clip is halved to half its rate), the
kept frames are converted back to the full rate, and each rebuilt in-between is compared
with the frame that was dropped: PSNR in dB over all in-betweens (peak 1.0, all channels).
Sources: a generated moving scene (engine.synth.scenes: textured pan with objects at 1-8
px/frame), and /work/shared/footage/bikes.mp4 and bigbuckbunny.mp4 at their own size,
decoded with PyAV (skipped when absent).

Candidates:
  nitrate motion      engine.retime Retimer, motion-compensated (quality "high"), with the
                      cuts found by engine.shots in the kept frames (as `nitrate restore
                      --fps` does; bikes.mp4 has cuts at frames 30 and 76), timed together
  nitrate motion fast the same with DIS's fast preset
  nitrate blend       engine.retime cross-fades
  ffmpeg mci          minterpolate=mi_mode=mci (its defaults otherwise)
  ffmpeg mci best     minterpolate mci with mc_mode=aobmc:me_mode=bidir:vsbmc=1
  ffmpeg blend        minterpolate=mi_mode=blend
  ffmpeg framerate    framerate (blending)
ffmpeg gets the kept frames losslessly (raw rgb48le through a pipe) and gives them back the
same way (benchmarks.peers); its filters convert to the formats they work in, which is part
of what a user of them gets (minterpolate also detects scene changes itself). fps = output
frames (kept and rebuilt) per wall second of the whole conversion, pipes included for
ffmpeg. minterpolate stops one in-between short of the end, so every PSNR is taken over
the in-betweens all candidates gave.

Target (per source): Nitrate motion above `ffmpeg mci` PSNR at no less than its fps.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from benchmarks import peers
from benchmarks.shots import ListReader
from engine import metrics
from engine.pipeline import ShotPlan
from engine.project.recipe import Recipe
from engine.retime import Interpolator, RetimeMap, Retimer
from engine.shots import detect_cuts
from engine.synth.scenes import moving_scene

ROOT = Path(__file__).resolve().parent.parent
FOOTAGE = ROOT.parent / "shared" / "footage"
FULL_FPS = Fraction(24)
SEED = 2024

FFMPEG_PEERS: dict[str, str] = {
    "ffmpeg mci": "minterpolate=fps={fps}:mi_mode=mci",
    "ffmpeg mci best": "minterpolate=fps={fps}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1",
    "ffmpeg blend": "minterpolate=fps={fps}:mi_mode=blend",
    "ffmpeg framerate": "framerate=fps={fps}",
}
NEEDS = {"ffmpeg framerate": ("framerate",)}


def decode(path: Path, count: int, start: int = 0) -> list[np.ndarray]:
    """`count` frames from `start` of a video file at its own size, float32 RGB 0-1."""
    frames: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i < start:
                continue
            frames.append(frame.to_ndarray(format="rgb24").astype(np.float32) / np.float32(255))
            if len(frames) == count:
                break
    return frames


@dataclass(frozen=True)
class Source:
    name: str
    load: Callable[[int], list[np.ndarray]]
    missing: str | None = None


def sources(names: Sequence[str]) -> list[Source]:
    out = []
    for name in names:
        if name == "generated":
            out.append(Source("generated 640x272",
                              lambda n: moving_scene(n, 640, 272, seed=SEED)))
        elif name in ("bikes", "bunny"):
            file, start = {"bikes": ("bikes.mp4", 0), "bunny": ("bigbuckbunny.mp4", 40)}[name]
            path = FOOTAGE / file
            why = None if path.is_file() else f"{path} absent"
            out.append(Source(file, lambda n, p=path, s=start: decode(p, n, s), why))
        else:
            raise SystemExit(f"unknown source {name!r} (generated, bikes, bunny)")
    return out


@dataclass
class Row:
    source: str
    method: str
    psnr: float = float("nan")
    fps: float = float("nan")
    note: str = ""


def inbetweens(output: Sequence[np.ndarray], kept: int) -> list[np.ndarray]:
    """The rebuilt frames of a 2x conversion of `kept` frames (odd outputs), as far as the
    output goes (minterpolate stops short of the last in-between)."""
    return [output[2 * j + 1] for j in range(kept - 1) if 2 * j + 1 < len(output)]


def run_nitrate(kept: Sequence[np.ndarray], method: str, quality: str = "high"
                ) -> tuple[list[np.ndarray], float]:
    """Convert the kept frames to twice their rate through the engine; (frames, seconds)."""
    rmap = RetimeMap(0, len(kept) - 1, FULL_FPS / 2, FULL_FPS)
    start = time.perf_counter()
    cuts = [c.frame for c in detect_cuts(ListReader(kept))]  # type: ignore[arg-type]
    plan = ShotPlan.from_cuts(len(kept), cuts, Recipe())
    retimer = Retimer(rmap, kept.__getitem__, plan, method, Interpolator(quality))
    out = [frame for _, frame in retimer]
    return out, time.perf_counter() - start


def run_ffmpeg(graph: str, kept: Sequence[np.ndarray]) -> tuple[list[np.ndarray], float]:
    """The kept frames through an ffmpeg filter graph, lossless both ways."""
    h, w = kept[0].shape[:2]
    args = ["-f", "rawvideo", "-pix_fmt", "rgb48le", "-s", f"{w}x{h}",
            "-r", str(FULL_FPS / 2), "-i", "pipe:0", "-vf", graph.format(fps=FULL_FPS),
            "-f", "rawvideo", "-pix_fmt", "rgb48le", "pipe:1"]
    start = time.perf_counter()
    raw = peers._ffmpeg(args, peers._to_rgb48(kept))
    seconds = time.perf_counter() - start
    arr = np.frombuffer(raw, dtype="<u2").reshape(-1, h, w, 3)
    return list(arr.astype(np.float32) / np.float32(65535)), seconds


def measure(source: str, frames: list[np.ndarray], quick: bool) -> list[Row]:
    kept = frames[0::2]
    truth = frames[1::2][: len(kept) - 1]
    rows = []
    candidates: list[tuple[str, Callable[[], tuple[list[np.ndarray], float]]]] = [
        ("nitrate motion", lambda: run_nitrate(kept, "motion")),
        ("nitrate motion fast", lambda: run_nitrate(kept, "motion", "fast")),
        ("nitrate blend", lambda: run_nitrate(kept, "blend")),
    ]
    for name, graph in FFMPEG_PEERS.items():
        if quick and name == "ffmpeg mci best":
            continue
        candidates.append((name, lambda g=graph: run_ffmpeg(g, kept)))
    rebuilt: dict[str, list[np.ndarray]] = {}
    for name, run in candidates:
        row = Row(source, name)
        rows.append(row)
        if name.startswith("ffmpeg"):
            why = peers.missing(peers.Peer(name, "", NEEDS.get(name, ("minterpolate",))))
            if why:
                row.note = why
                continue
        out, seconds = run()
        rebuilt[name] = inbetweens(out, len(kept))
        row.fps = len(out) / seconds if seconds > 0 else float("inf")
        print(f"  {source:20s} {name:20s} {row.fps:6.1f} fps", file=sys.stderr, flush=True)
    common = min(len(got) for got in rebuilt.values())
    for row in rows:
        if row.method in rebuilt:
            row.psnr = metrics.psnr(rebuilt[row.method][:common], truth[:common])
            if common < len(truth):
                row.note = f"first {common} of {len(truth)} in-betweens"
    return rows


def verdicts(rows: list[Row]) -> list[tuple[str, str, str]]:
    out = []
    for source in dict.fromkeys(r.source for r in rows):
        mine = next(r for r in rows if r.source == source and r.method == "nitrate motion")
        peer = next((r for r in rows if r.source == source and r.method == "ffmpeg mci"), None)
        if peer is None or np.isnan(peer.psnr):
            out.append((source, "SKIP", "ffmpeg minterpolate not available"))
            continue
        ok = mine.psnr > peer.psnr and mine.fps >= peer.fps
        out.append((source, "PASS" if ok else "FAIL",
                    f"PSNR {mine.psnr:.2f} vs {peer.psnr:.2f} dB, "
                    f"{mine.fps:.1f} vs {peer.fps:.1f} fps"))
    return out


def table(rows: list[Row]) -> str:
    lines = ["| source | method | PSNR of in-betweens dB | fps | note |",
             "|---|---|---|---|---|"]
    for r in rows:
        psnr = "–" if np.isnan(r.psnr) else f"{r.psnr:.2f}"
        fps = "–" if np.isnan(r.fps) else f"{r.fps:.1f}"
        lines.append(f"| {r.source} | {r.method} | {psnr} | {fps} | {r.note} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=48, help="source frames per clip")
    parser.add_argument("--sources", default="generated,bikes,bunny")
    parser.add_argument("--quick", action="store_true",
                        help="24 frames, no bigbuckbunny, no 'mci best' peer")
    opt = parser.parse_args(argv)
    from engine.runtime import configure_threads

    configure_threads()
    names = opt.sources.split(",")
    count = opt.frames
    if opt.quick:
        count = min(count, 24)
        names = [n for n in names if n != "bunny"]
    if peers.FFMPEG is None:
        print("ffmpeg CLI not found: peers skipped (apt-get install ffmpeg).")
    rows: list[Row] = []
    started = time.perf_counter()
    for src in sources(names):
        if src.missing:
            print(f"skipping {src.name}: {src.missing}")
            continue
        frames = src.load(count)
        if len(frames) < 5:
            print(f"skipping {src.name}: only {len(frames)} frames decoded")
            continue
        h, w = frames[0].shape[:2]
        rows += measure(f"{src.name} {w}x{h}" if "x" not in src.name else src.name,
                        frames, opt.quick)
    print(f"\nEvery other frame dropped ({count} frames → {count // 2} at {FULL_FPS / 2} fps), "
          f"rebuilt at {FULL_FPS} fps.\n")
    print(table(rows))
    print("\nTarget: nitrate motion above ffmpeg mci PSNR at no less fps.\n")
    print("| source | verdict | detail |\n|---|---|---|")
    for source, verdict, detail in verdicts(rows):
        print(f"| {source} | {verdict} | {detail} |")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"\n(total {time.perf_counter() - started:.0f} s on {cores} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
