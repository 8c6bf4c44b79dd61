"""Removing 3:2 pulldown: Nitrate against the ffmpeg filters a user would pick instead
(`fieldmatch,decimate`), on telecined transfers whose film frames are known.

    python -m benchmarks.pulldown [--frames 80] [--sources generated,bikes,bunny]

Each source's first `--frames` frames (`benchmarks.quality.sources`, fitted to NTSC's
720×480) are the film. `engine.synth.telecine` makes them 29.97 fps video (AA BB BC CD DD),
stored two ways:
- ProRes 422 HQ, 10-bit 4:2:2, as a tape is captured;
- H.264, 8-bit 4:2:0, CRF 16, as a transfer is often delivered.

Both tools write FFV1. Printed for each: the film frames out (the right count is the
film's), the share that are the right film frame (the film frame they are closest to, of
the five around, is the one at their place), their mean PSNR against the film frames, and
the whole conversion's speed in video frames a second. The ffmpeg CLI comes from
`apt-get install ffmpeg`; without it the peer is skipped.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from benchmarks.peers import FFMPEG
from benchmarks.quality import sources
from engine.media import open_reader
from engine.metrics import psnr
from engine.render.pulldown import remove_pulldown
from engine.runtime import configure_threads
from engine.synth.telecine import telecine

NTSC = Fraction(30000, 1001)
SIZE = (720, 480)
STORAGES = {
    "ProRes 10-bit 4:2:2": ("prores", "yuv422p10le", {"profile": "3"}, ".mov"),
    "H.264 8-bit 4:2:0": ("libx264", "yuv420p", {"crf": "16", "preset": "fast"}, ".mp4"),
}


def write_video(path: Path, frames: list[np.ndarray], encoder: str, pix_fmt: str,
                options: dict[str, str]) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream(encoder, rate=NTSC, options=options)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], pix_fmt
        for i, frame in enumerate(frames):
            rgb = (np.clip(frame, 0, 1) * 255 + 0.5).astype(np.uint8)
            picture = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
            picture.pts = i
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def score(path: Path, film: list[np.ndarray]) -> tuple[int, float, float]:
    """(frames out, share of the right film frames, their mean PSNR dB)."""
    with open_reader(path) as reader:
        got = [reader.read(i) for i in range(reader.info.frame_count)]
    right, values = 0, []
    for k, frame in enumerate(got):
        near = range(max(0, k - 2), min(len(film), k + 3))
        if not near:
            continue
        best = max(near, key=lambda j: psnr(frame, film[j]))
        right += best == k
        if k < len(film):
            values.append(psnr(frame, film[k]))
    return len(got), right / max(1, len(film)), float(np.mean(values)) if values else 0.0


def rows(names: list[str], count: int, folder: Path) -> list[str]:
    out = []
    for source in sources(names):
        name = source.name
        if source.missing:
            out.append(f"| {name} | skipped: {source.missing} | | | | | |")
            continue
        film = source.load(count, SIZE[0], SIZE[1])
        video = telecine(film)
        for storage, (encoder, pix_fmt, options, suffix) in STORAGES.items():
            transfer = folder / f"{name}_{encoder}{suffix}"
            write_video(transfer, video, encoder, pix_fmt, options)
            ours = folder / f"{name}_{encoder}_nitrate.mkv"
            started = time.perf_counter()
            remove_pulldown(transfer, ours)
            seconds = time.perf_counter() - started
            n, right, mean = score(ours, film)
            out.append(f"| {name} | {storage} | Nitrate | {n} / {len(film)} | {right:.1%} | "
                       f"{mean:.2f} | {len(video) / seconds:.0f} |")
            if FFMPEG is None:
                out.append(f"| {name} | {storage} | ffmpeg | skipped: ffmpeg CLI absent | | | |")
                continue
            theirs = folder / f"{name}_{encoder}_ffmpeg.mkv"
            started = time.perf_counter()
            subprocess.run([str(FFMPEG), "-y", "-loglevel", "error", "-nostdin", "-i",
                            str(transfer), "-vf", "fieldmatch=order=tff,decimate", "-c:v",
                            "ffv1", str(theirs)], check=True)
            seconds = time.perf_counter() - started
            n, right, mean = score(theirs, film)
            out.append(f"| {name} | {storage} | ffmpeg `fieldmatch,decimate` | {n} / "
                       f"{len(film)} | {right:.1%} | {mean:.2f} | {len(video) / seconds:.0f} |")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=80, help="film frames a source")
    parser.add_argument("--sources", default="generated,bikes,bunny")
    args = parser.parse_args(argv)
    configure_threads()
    names = [n.strip() for n in args.sources.split(",") if n.strip()]
    print(f"3:2 pulldown removed from telecined {SIZE[0]}x{SIZE[1]} transfers of "
          f"{args.frames} film frames:\n")
    print("| source | transfer | who | film frames out | right frame | PSNR dB | "
          "video frames/s |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="nitrate-pulldown-") as tmp:
        for row in rows(names, args.frames, Path(tmp)):
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
