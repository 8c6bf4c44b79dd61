"""Region tracking: how closely a protection follows a pan over water, and how fast.

    python -m benchmarks.track [--frames 48] [--sources generated,bikes,bunny]
                               [--sizes 1280x720,1920x1080]

A still picture of each source (its first frame, decoded larger than the output) is filmed
by a camera that pans 2.7 px a frame to the right and 0.8 px up with a gate weave of 1.5 px
on top (sub-pixel, resampled bilinearly), with fresh grain on every frame. A patch of
"water" (ripples new on every frame, 15 % of the frame's width and height) moves with the
picture. `engine.ops.track.track_region` follows the patch from the middle frame to both
ends; its offsets are compared with the camera's true path, rounded to whole pixels as the
tracker's are.

Printed per source and size: mean and largest error (source pixels) over all frames,
frames unmeasured (placed between measured ones), and frames tracked per second (frames in memory, so
decoding is left out; `nitrate repair --track` adds the reader's decode time).

Real motion has no true path, so a second table closes the loop on real footage
(`../shared/footage`: both film scans, with their weave, and bigbuckbunny.mp4, whose
picture drifts about 25 px over its first 48 frames; bikes.mp4 is left out: its first
shot is a bus roof passing under the camera, so a region on it leaves the frame):
a region in the middle of frame 0 (a fifth of the frame each way) is tracked to the last
frame, then from where it ended back to frame 0, reading the file as `nitrate repair
--track` does; the loop error is how far from its start it comes back (source pixels), and
fps includes decoding.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from benchmarks.quality import present_footage, sources
from engine.media import open_reader
from engine.ops.track import track_region
from engine.runtime import configure_threads

PAN = (2.7, -0.8)  # the camera's motion, px a frame
WEAVE = 1.5  # px
GRAIN = 0.02  # levels (std)


class _Frames:
    def __init__(self, frames: list[np.ndarray]) -> None:
        self._frames = frames
        h, w = frames[0].shape[:2]

        class Info:
            width, height, frame_count = w, h, len(frames)

        self.info = Info()

    def frames(self, start: int, stop: int | None = None):
        yield from self._frames[start:stop]


def camera_path(n: int) -> np.ndarray:
    """(n, 2) where the camera's window lies on the still picture, px."""
    t = np.arange(n, dtype=np.float64)
    weave = WEAVE * np.stack([np.sin(t * 1.7), np.cos(t * 2.3)], axis=1)
    return np.stack([PAN[0] * t, PAN[1] * t], axis=1) + weave


def film(still: np.ndarray, n: int, size: tuple[int, int], margin: int,
         water: tuple[int, int, int, int], key: int, seed: int = 7) -> list[np.ndarray]:
    """`n` frames of `size` (w, h) panning over `still` with `water` (x, y, w, h on frame
    `key`) moving with the picture."""
    rng = np.random.default_rng(seed)
    path = camera_path(n)
    w, h = size
    x, y, ww, wh = water
    # The water's place on the still picture (moves with it).
    sx, sy = x + margin + path[key][0], y + margin + path[key][1] + 0.0
    frames = []
    for i in range(n):
        cx, cy = margin + path[i][0], margin + path[i][1]
        m = np.float32([[1, 0, cx], [0, 1, cy]])
        frame = cv2.warpAffine(still, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        ripples = cv2.GaussianBlur(rng.standard_normal((wh, ww)).astype(np.float32), (0, 0), 1.5)
        ripples = 0.4 + 0.1 * ripples / ripples.std()
        fx, fy = int(round(sx - cx)), int(round(sy - cy))
        x0, y0, x1, y1 = max(0, fx), max(0, fy), min(w, fx + ww), min(h, fy + wh)
        if x1 > x0 and y1 > y0:
            frame[y0:y1, x0:x1] = (ripples[y0 - fy:y1 - fy, x0 - fx:x1 - fx, None]
                                   * np.float32([0.6, 0.8, 1.0]))
        frame += rng.normal(0, GRAIN, frame.shape).astype(np.float32)
        frames.append(np.clip(frame, 0, 1))
    return frames


def measure(still: np.ndarray, n: int, size: tuple[int, int], margin: int
            ) -> tuple[float, int, int, float]:
    """(mean error px, largest error px, frames held, fps) of one run."""
    w, h = size
    key = n // 2
    water = (int(w * 0.55), int(h * 0.5), int(w * 0.15), int(h * 0.15))
    frames = film(still, n, size, margin, water, key)
    t0 = time.perf_counter()
    track = track_region(_Frames(frames), water, 0, n - 1, key)
    seconds = time.perf_counter() - t0
    path = camera_path(n)
    truth = np.round(-(path - path[key]))  # the picture moves against the camera
    error = np.abs(np.asarray(track.offsets, np.float64) - truth).max(axis=1)
    return float(error.mean()), int(error.max()), len(track.unmeasured), n / seconds


def loop(path: Path, n: int) -> tuple[int, int, int, float]:
    """(width, loop error px, frames held, fps) of a region tracked over the first `n`
    frames of `path` and back."""
    with open_reader(path) as reader:
        w, h = reader.info.width, reader.info.height
        n = min(n, reader.info.frame_count)
        region = (w * 2 // 5, h * 2 // 5, w // 5, h // 5)
        t0 = time.perf_counter()
        there = track_region(reader, region, 0, n - 1, 0)
        x, y = region[0] + there.offsets[-1][0], region[1] + there.offsets[-1][1]
        back = track_region(reader, (x, y, region[2], region[3]), 0, n - 1, n - 1)
        seconds = time.perf_counter() - t0
    home = np.add((x, y), back.offsets[0])
    error = int(np.abs(home - region[:2]).max())
    return w, error, len(set(there.unmeasured) | set(back.unmeasured)), 2 * n / seconds


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--sources", default="generated,bikes,bunny")
    ap.add_argument("--sizes", default="1280x720,1920x1080")
    args = ap.parse_args(argv)
    configure_threads()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    n = args.frames
    print(f"Region tracking over {n} frames, key frame {n // 2}: pan {PAN} px/frame, weave "
          f"{WEAVE} px, grain {GRAIN}; water patch 15 % x 15 % of the frame")
    print(f"{'source':<10} {'size':<10} {'mean err px':>11} {'max err px':>10} "
          f"{'unmeas':>6} {'fps':>7}")
    for source in sources(args.sources.split(",")):
        if source.missing:
            print(f"{source.name:<10} skipped: {source.missing}")
            continue
        for w, h in sizes:
            margin = int(abs(PAN[0]) * n + 4 * WEAVE + 8)
            still = source.load(1, w + 2 * margin, h + 2 * margin)[0]
            mean, worst, held, fps = measure(still, n, (w, h), margin)
            print(f"{source.name:<10} {f'{w}x{h}':<10} {mean:>11.2f} {worst:>10d} "
                  f"{held:>6d} {fps:>7.1f}")
    print()
    print(f"Real footage, {n} frames there and back:")
    print(f"{'footage':<32} {'width':>5} {'loop err px':>11} {'unmeas':>6} {'fps':>7}")
    for name, path in present_footage(("film_the_great_train_robbery", "film_within_our_gates",
                                       "bigbuckbunny.mp4")):
        width, error, held, fps = loop(path, n)
        print(f"{name:<32} {width:>5d} {error:>11d} {held:>6d} {fps:>7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
