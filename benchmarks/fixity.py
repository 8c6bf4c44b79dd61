"""Fixity: how fast Nitrate lists an export's checksums, against coreutils' `md5sum` and
`sha256sum` (the tools archives check such lists with), and what the list adds to an export.

    python -m benchmarks.fixity [--frames 48] [--big-mib 512] [--export 132]

**Throughput.** The same files checksummed by `engine.render.fixity.write_checksums` and
by coreutils, best of three each, in MB/s (10⁶ bytes), with the files in the page cache
(as they are right after an export wrote them):

- a DPX sequence: `--frames` frames of `bikes.mp4` scaled to fill 1920×1080 (10-bit DPX,
  8.3 MB each), or of a generated scene without `../shared`;
- one big file of `--big-mib` MiB (random bytes; a master is one file).

**An export.** `--export N`: N frames of `bigbuckbunny.mp4` (1280×720) to ProRes 422 HQ
with and without an MD5 list, alternating, best of two each: the list's cost in seconds
and as a share of the export.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.quality import FOOTAGE
from engine.framing import Framing
from engine.pipeline import ShotPlan
from engine.project.recipe import Recipe
from engine.render import RenderJob, render
from engine.render.fixity import write_checksums, written_files
from engine.render.modes import run_export
from engine.runtime import configure_threads

COREUTILS = {"md5": shutil.which("md5sum"), "sha256": shutil.which("sha256sum")}


def best_of(runs: int, fn: Callable[[], object]) -> float:
    """The shortest of `runs` timings of `fn()`, in seconds."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def make_sequence(folder: Path, frames: int) -> Path:
    """A 1080p 10-bit DPX sequence of `frames` frames in `folder`/dpx."""
    source = FOOTAGE / "bikes.mp4"
    if not source.is_file():
        from engine.synth.index_clip import write_index_clip

        source = write_index_clip(folder / "scene.mov", "prores", 1920, 1080, frames)
    out = folder / "dpx"
    for _ in render(RenderJob(source, out, ShotPlan.single(frames, Recipe()), end=frames - 1,
                              codec="dpx", audio=False,
                              framing=Framing(size=(1920, 1080), fit="fill"))):
        pass
    return out


def throughput_rows(name: str, output: Path, codec: str | None) -> list[str]:
    files = written_files(output, codec)
    size = sum(p.stat().st_size for p in files)
    rows = []
    for algorithm, tool in COREUTILS.items():
        ours = best_of(3, lambda a=algorithm: list(write_checksums(output, a, codec)))
        cells = [f"{size / ours / 1e6:,.0f}"]
        if tool is None:
            cells += ["skipped: coreutils absent", ""]
        else:
            theirs = best_of(3, lambda t=tool: subprocess.run(
                [t, *map(str, files)], check=True, stdout=subprocess.DEVNULL))
            cells += [f"{size / theirs / 1e6:,.0f}", f"{theirs / ours:.0%}"]
        rows.append(f"| {name} | {len(files)} | {size / 1e6:,.0f} | {algorithm} | "
                    + " | ".join(cells) + " |")
    return rows


def export_rows(count: int, folder: Path) -> list[str]:
    from engine.media import probe

    clip = FOOTAGE / "bigbuckbunny.mp4"
    if not clip.is_file():
        return [f"| skipped: {clip} absent | | |"]
    total = probe(clip).frame_count
    count = min(count, total)
    out = folder / "bunny.mov"
    jobs = {label: RenderJob(clip, out, ShotPlan.single(total, Recipe()), end=count - 1,
                             audio=False, checksum=checksum)
            for label, checksum in (("without a list", None), ("with an MD5 list", "md5"))}
    best = {label: float("inf") for label in jobs}
    for _ in range(2):
        for label, job in jobs.items():
            started = time.perf_counter()
            list(run_export(job))
            best[label] = min(best[label], time.perf_counter() - started)
    plain, listed = best.values()
    size = out.stat().st_size
    return [f"| without a list | {count / plain:.1f} | {plain:.2f} | |",
            f"| with an MD5 list | {count / listed:.1f} | {listed:.2f} | "
            f"{listed - plain:+.2f} s ({(listed - plain) / plain:+.1%}); the file is "
            f"{size / 1e6:,.0f} MB |"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--big-mib", type=int, default=512)
    parser.add_argument("--export", type=int, default=132,
                        help="frames of bigbuckbunny.mp4 exported with and without a list")
    args = parser.parse_args(argv)
    configure_threads()
    print(f"Checksums on {os.cpu_count()} cores; files in the page cache; best of 3.\n")
    with tempfile.TemporaryDirectory(prefix="nitrate-fixity-") as tmp:
        folder = Path(tmp)
        print("| files | count | MB | checksum | Nitrate MB/s | coreutils MB/s | "
              "Nitrate / coreutils |")
        print("|---|---|---|---|---|---|---|")
        sequence = make_sequence(folder, args.frames)
        for row in throughput_rows("DPX 1080p 10-bit sequence", sequence, "dpx"):
            print(row)
        shutil.rmtree(sequence)
        big = folder / "master.mov"
        with open(big, "wb") as f:
            for _ in range(args.big_mib):
                f.write(os.urandom(1 << 20))
        for row in throughput_rows("one file", big, None):
            print(row)
        big.unlink()
        if args.export:
            print("\nExport of bigbuckbunny.mp4 (720p) to ProRes 422 HQ, best of 2:\n")
            print("| export | fps | seconds | the list's cost |")
            print("|---|---|---|---|")
            for row in export_rows(args.export, folder):
                print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
