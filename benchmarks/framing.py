"""Framing: how well the picture area of a scan is found, and how its crop and resize
compare with ffmpeg's.

    python -m benchmarks.framing [--frames 24] [--sources generated,bikes,bunny]

**Finding the picture area.** Clean frames of each source (`benchmarks.quality.sources`),
1280×960 (a 4:3 picture), are put in a scan's surround: a dark gate 36-48 px wide that
weaves by up to 2 px a frame, a clear frame line across the top, grain and dust specks on
the surround. `engine.framing.detect_crop` is given 9 of the frames. Printed: the crop
found and, per side, how much surround it leaves in some frame (px, should be 0) and how
much picture it cuts beyond the widest surround (px, the margin). The two real film scans
(`../shared/footage/film_*`, cropped at the picture already) must come out uncropped.

**Resize against ffmpeg.** What a restorer delivers from that picture, made by
`engine.framing.apply_framing` and by the ffmpeg filters a user would type (`scale,pad`;
a crop is a slice in both, exact by construction):

- "HD fit": the 4:3 picture fitted into 1920×1080 (enlarged 1.125× bicubic, black bars
  of 240 px; ffmpeg `scale=flags=bicubic,pad`). No exact answer exists for a 1.125×
  enlargement: only the agreement with ffmpeg is printed;
- "half": the picture reduced to 640×480 (pixel-area averaging; ffmpeg `flags=area`),
  against the exact mean of each 2×2 block;
- "2x": that reduction enlarged back to 1280×960 (bicubic; ffmpeg `flags=bicubic`),
  against the original frames: the detail an enlargement can give back.

Printed: PSNR against the exact answer where there is one, PSNR between Nitrate and
ffmpeg (do the two agree on where pixels go?), and milliseconds per frame (Nitrate in
process; ffmpeg's whole run through pipes, per frame, as a user waits).
The ffmpeg CLI comes from `apt-get install ffmpeg`; without it the peer is skipped.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import cv2
import numpy as np

from benchmarks.peers import Peer, missing, run_peer
from benchmarks.quality import FOOTAGE, sources
from engine.framing import Framing, apply_framing, detect_crop
from engine.framing.picture_area import SAMPLES
from engine.metrics import psnr
from engine.runtime import configure_threads

PICTURE = (1280, 960)
"""The clean picture's (width, height) in pixels: 4:3."""
GATE = (48, 40, 36, 44)
"""The surround's (left, top, right, bottom) width in pixels before weave."""
WEAVE = 2
FRAME_LINE = 12
"""Rows of clear frame line at the top of the surround."""


def in_gate(pictures: Sequence[np.ndarray], seed: int = 5
            ) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
    """`pictures` in a weaving dark gate with a clear frame line, grain and dust; the
    scans and each picture's (x, y) corner in them."""
    rng = np.random.default_rng(seed)
    pw, ph = PICTURE
    left, top, right, bottom = GATE
    width, height = left + pw + right, top + ph + bottom
    scans, corners = [], []
    for picture in pictures:
        scan = np.full((height, width, 3), 0.05, np.float32)
        scan[:FRAME_LINE] = 0.92
        dx, dy = (int(v) for v in rng.integers(-WEAVE, WEAVE + 1, 2))
        x, y = left + dx, top + dy
        scan[y:y + ph, x:x + pw] = picture
        scan += rng.normal(0.0, 0.012, scan.shape).astype(np.float32)
        for _ in range(6):  # dust on the surround, on the left band
            sx, sy = int(rng.integers(4, left - 8)), int(rng.integers(top, top + ph))
            scan[sy:sy + 3, sx:sx + 3] = 0.85
        scans.append(np.clip(scan, 0.0, 1.0))
        corners.append((x, y))
    return scans, corners


def _film_frames(name: str, count: int) -> list[np.ndarray] | None:
    files = sorted((FOOTAGE / name).glob("*.png"))
    if not files:
        return None
    step = max(1, len(files) // count)
    return [cv2.imread(str(f))[..., ::-1].astype(np.float32) / 255.0 for f in files[::step]]


def detection_rows(names: Sequence[str], count: int) -> list[str]:
    rows = []
    for source in sources(names):
        if source.missing:
            rows.append(f"| {source.name} | skipped: {source.missing} | | |")
            continue
        scans, corners = in_gate(source.load(count, *PICTURE))
        height, width = scans[0].shape[:2]
        picked = np.linspace(0, len(scans) - 1, min(SAMPLES, len(scans))).round().astype(int)
        started = time.perf_counter()
        crop = detect_crop([scans[i] for i in picked])
        ms = 1000 * (time.perf_counter() - started)
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        # The widest surround of any frame, each side.
        widest = (max(xs), max(ys), width - min(xs) - PICTURE[0], height - min(ys) - PICTURE[1])
        left_over = [max(0, w - c) for w, c in zip(widest, crop, strict=True)]
        cut = [max(0, c - w) for w, c in zip(widest, crop, strict=True)]
        rows.append(f"| {source.name} | {','.join(map(str, crop))} | "
                    f"{','.join(map(str, widest))} | {','.join(map(str, left_over))} | "
                    f"{','.join(map(str, cut))} | {ms:.0f} |")
    for film in ("film_the_great_train_robbery", "film_within_our_gates"):
        frames = _film_frames(film, SAMPLES)
        if frames is None:
            rows.append(f"| {film} | skipped: {FOOTAGE / film} absent | | | | |")
            continue
        crop = detect_crop(frames)
        rows.append(f"| {film} (real, no surround) | {','.join(map(str, crop))} | 0,0,0,0 | "
                    f"0,0,0,0 | {','.join(map(str, crop))} | |")
    return rows


def _box_half(picture: np.ndarray) -> np.ndarray:
    """The exact mean of each 2×2 block (float64, no resampler involved)."""
    h, w = picture.shape[:2]
    blocks = picture.astype(np.float64).reshape(h // 2, 2, w // 2, 2, 3)
    return blocks.mean(axis=(1, 3)).astype(np.float32)


def _mean_psnr(a: Sequence[np.ndarray], b: Sequence[np.ndarray] | None) -> str:
    if b is None:
        return "—"
    return f"{np.mean([psnr(x, y) for x, y in zip(a, b, strict=True)]):.2f}"


def resize_rows(names: Sequence[str], count: int) -> list[str]:
    rows = []
    pw, ph = PICTURE
    for source in sources(names):
        if source.missing:
            continue
        pictures = source.load(count, pw, ph)
        small = [_box_half(p) for p in pictures]
        bars = (1920 - 1440) // 2
        cases = [
            ("HD fit", pictures, Framing(size=(1920, 1080), fit="fit"), None,
             f"scale=1440:1080:flags=bicubic,pad=1920:1080:{bars}:0", (1920, 1080)),
            ("half", pictures, Framing(size=(pw // 2, ph // 2), fit="fit"), small,
             f"scale={pw // 2}:{ph // 2}:flags=area", (pw // 2, ph // 2)),
            ("2x", small, Framing(size=(pw, ph), fit="fit"), pictures,
             f"scale={pw}:{ph}:flags=bicubic", (pw, ph)),
        ]
        for name, inputs, framing, truth, graph, size in cases:
            started = time.perf_counter()
            ours = [apply_framing(f, framing) for f in inputs]
            ours_ms = 1000 * (time.perf_counter() - started) / len(inputs)
            peer = Peer(f"ffmpeg {graph}", graph, ("scale", "pad"))
            why = missing(peer)
            if why is None:
                theirs, seconds = run_peer(peer, inputs, size=size)
                peer_cells = (f"{_mean_psnr(theirs, truth)} | {_mean_psnr(ours, theirs)} | "
                              f"{1000 * seconds / len(inputs):.1f}")
            else:
                peer_cells = f"skipped: {why} | | "
            rows.append(f"| {source.name} | {name} | {_mean_psnr(ours, truth)} | "
                        f"{peer_cells} | {ours_ms:.1f} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--sources", default="generated,bikes,bunny")
    args = parser.parse_args(argv)
    configure_threads()
    names = [n.strip() for n in args.sources.split(",") if n.strip()]
    print(f"Picture area found in a weaving gate ({PICTURE[0]}x{PICTURE[1]} picture, gate "
          f"{','.join(map(str, GATE))} px ±{WEAVE}), {args.frames} frames, "
          f"{SAMPLES} looked at:\n")
    print("| source | crop found (l,t,r,b px) | widest surround | surround left | "
          "picture cut | ms |")
    print("|---|---|---|---|---|---|")
    for row in detection_rows(names, args.frames):
        print(row)
    print("\nResize, against the exact answer (PSNR dB) and against ffmpeg:\n")
    print("| source | case | Nitrate PSNR | ffmpeg PSNR | Nitrate vs ffmpeg | "
          "ffmpeg ms/frame | Nitrate ms/frame |")
    print("|---|---|---|---|---|---|---|")
    for row in resize_rows(names, args.frames):
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())

