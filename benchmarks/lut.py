"""LUTs: how exactly and how fast Nitrate applies a .cube, against ffmpeg's `lut3d` and
`lut1d` filters.

    python -m benchmarks.lut [--frames 24] [--sources generated,bikes,bunny] [--export 132]

**Accuracy.** Two LUTs, each sampled from a formula, so the exact answer is known:

- "look 33³": a 3D grade with the channels mixed (saturation 1.3 about Rec. 709 luma, a
  warm balance) and a contrast S-curve, sampled at 33 points a side: a look as a grading
  tool exports it;
- "Cineon → 709": the bundled `cineon-to-rec709` (1D, 1024 points), the source's levels
  read as Cineon log codes.

Each source's frames (1920×1080, `benchmarks.quality.sources`) go through Nitrate
(`engine.lut.apply_lut`, tetrahedral) and through ffmpeg (`lut3d=interp=tetrahedral`,
`lut1d=interp=linear`), both given the same 16-bit RGB pictures. Printed: PSNR against the
formula applied to those pictures in float64 (what the table approximates), PSNR between
the two, and milliseconds per frame (Nitrate in process; ffmpeg's whole run through pipes,
and the same run with no filter, which is its pipes' share).

**An export.** `--export N`: N frames of `bigbuckbunny.mp4` (1280×720) to ProRes 422 HQ
through the look (Nitrate's export path, `engine.render`, in process) against the ffmpeg
CLI doing the same (`-vf lut3d … -c:v prores_ks`), best of two runs each, in frames per
second.
The ffmpeg CLI comes from `apt-get install ffmpeg`; without it the peer is skipped.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from benchmarks.peers import FFMPEG, Peer, missing, run_peer
from benchmarks.quality import FOOTAGE, sources
from engine.lut import Lut, apply_lut, load_lut, resolve_lut, write_cube
from engine.lut.film_log import cineon_to_linear, rec709_encode
from engine.metrics import psnr
from engine.runtime import configure_threads

SIZE = (1920, 1080)
"""The frames' (width, height) in pixels."""

LOOK_POINTS = 33
_LUMA = np.array([0.2126, 0.7152, 0.0722])
_WARM = np.array([1.06, 1.0, 0.9])


def look(rgb: np.ndarray) -> np.ndarray:
    """The "look 33³" grade, exactly (float64 (…, 3) levels 0-1 → levels 0-1)."""
    x = np.asarray(rgb, np.float64)
    luma = x @ _LUMA
    mixed = np.clip((luma[..., None] + 1.3 * (x - luma[..., None])) * _WARM, 0.0, 1.0)
    return mixed + 0.35 * mixed * (1.0 - mixed) * (2.0 * mixed - 1.0)  # an S about 0.5


def cineon_view(rgb: np.ndarray) -> np.ndarray:
    """The bundled Cineon → Rec. 709 conversion, exactly."""
    return rec709_encode(cineon_to_linear(np.asarray(rgb, np.float64)))


def look_lut() -> Lut:
    axis = np.linspace(0.0, 1.0, LOOK_POINTS)
    b, g, r = np.meshgrid(axis, axis, axis, indexing="ij")
    table = look(np.stack([r, g, b], axis=-1)).astype(np.float32)
    return Lut("look", cube=np.ascontiguousarray(table))


def quantised(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The frames as the 16-bit pictures both are given (ffmpeg's pipe is rgb48)."""
    return [(np.round(np.clip(f, 0, 1) * 65535) / 65535).astype(np.float32) for f in frames]


def mean_psnr(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    return float(np.mean([psnr(np.float32(x), np.float32(y)) for x, y in zip(a, b, strict=True)]))


def accuracy_rows(names: Sequence[str], count: int, folder: Path) -> list[str]:
    look_file = folder / "look.cube"
    write_cube(look_lut(), look_file)
    cineon = load_lut("cineon-to-rec709")
    cases: list[tuple[str, Lut, Callable[[np.ndarray], np.ndarray], str, str]] = [
        ("look 33³", load_lut(look_file), look,
         f"lut3d=file={look_file}:interp=tetrahedral", "lut3d"),
        ("Cineon → 709", cineon, cineon_view,
         f"lut1d=file={resolve_lut('cineon-to-rec709')}:interp=linear", "lut1d"),
    ]
    rows = []
    for source in sources(names):
        if source.missing:
            rows.append(f"| {source.name} | skipped: {source.missing} | | | | | | |")
            continue
        frames = quantised(source.load(count, *SIZE))
        for name, lut, formula, graph, needs in cases:
            truth = [formula(f) for f in frames]
            started = time.perf_counter()
            ours = [apply_lut(f, lut) for f in frames]
            ours_ms = 1000 * (time.perf_counter() - started) / len(frames)
            peer = Peer(f"ffmpeg {needs}", graph, (needs,))
            why = missing(peer)
            if why is None:
                theirs, seconds = run_peer(peer, frames)
                _, piped = run_peer(Peer("ffmpeg null", "null", ("null",)), frames)
                cells = (f"{mean_psnr(theirs, truth):.2f} | {mean_psnr(ours, theirs):.2f} | "
                         f"{1000 * seconds / len(frames):.0f} ({1000 * piped / len(frames):.0f})")
            else:
                cells = f"skipped: {why} | | "
            rows.append(f"| {source.name} | {name} | {mean_psnr(ours, truth):.2f} | {cells} | "
                        f"{ours_ms:.0f} |")
    return rows


def export_rows(count: int, folder: Path) -> list[str]:
    from engine.media import probe
    from engine.pipeline import ShotPlan
    from engine.project.recipe import Recipe, Step
    from engine.render import RenderJob, render

    clip = FOOTAGE / "bigbuckbunny.mp4"
    if not clip.is_file():
        return [f"| skipped: {clip} absent | | |"]
    look_file = folder / "look.cube"
    recipe = Recipe.of([Step.create("lut", {"file": str(look_file)})])
    ours_out, theirs_out = folder / "nitrate.mov", folder / "ffmpeg.mov"
    total = probe(clip).frame_count
    count = min(count, total)
    job = RenderJob(clip, ours_out, ShotPlan.single(total, recipe), start=0, end=count - 1,
                    audio=False)
    cmd = [str(FFMPEG), "-y", "-loglevel", "error", "-nostdin", "-i", str(clip), "-frames:v",
           str(count), "-an", "-vf", f"lut3d=file={look_file}:interp=tetrahedral",
           "-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le", str(theirs_out)]
    runs: dict[str, Callable[[], object]] = {"Nitrate": lambda: list(render(job))}
    if FFMPEG is not None:
        runs["ffmpeg CLI"] = lambda: subprocess.run(cmd, check=True)
    best: dict[str, float] = {}
    for _ in range(2):
        for name, fn in runs.items():
            started = time.perf_counter()
            fn()
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - started)
    rows = [f"| {name} | {count / seconds:.1f} | {seconds:.1f} |" for name, seconds in best.items()]
    if "ffmpeg CLI" in best:
        rows.append(f"| Nitrate / ffmpeg | {best['ffmpeg CLI'] / best['Nitrate']:.0%} | |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--sources", default="generated,bikes,bunny")
    parser.add_argument("--export", type=int, default=132,
                        help="frames of bigbuckbunny.mp4 exported through the look (0: none)")
    args = parser.parse_args(argv)
    configure_threads()
    names = [n.strip() for n in args.sources.split(",") if n.strip()]
    with tempfile.TemporaryDirectory(prefix="nitrate-lut-") as tmp:
        folder = Path(tmp)
        print(f"LUT accuracy against the formula each LUT samples ({SIZE[0]}x{SIZE[1]}, "
              f"{args.frames} frames; PSNR dB):\n")
        print("| source | LUT | Nitrate | ffmpeg | Nitrate vs ffmpeg | ffmpeg ms/frame "
              "(its pipes alone) | Nitrate ms/frame |")
        print("|---|---|---|---|---|---|---|")
        for row in accuracy_rows(names, args.frames, folder):
            print(row)
        if args.export:
            print("\nExport through the look: bigbuckbunny.mp4 (720p) to ProRes 422 HQ, "
                  "best of 2:\n")
            print("| who | fps | seconds |")
            print("|---|---|---|")
            for row in export_rows(args.export, folder):
                print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
