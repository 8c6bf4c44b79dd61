"""Colour registration: how exactly misregistered colour records are brought back, and how
fast, against what ffmpeg offers.

    python -m benchmarks.registration [--frames 24] [--sources generated,bikes,bunny]
                                      [--size 1280x720]

Clean frames of each source (`benchmarks.quality.sources`) get their red and blue records
moved by a known amount, resampled bicubically:

- "separations": red by (3.4, -2.2) px, blue by (-2.6, 1.7) px, the same on every frame
  (misregistered separations or a bipack print);
- "drifting": the same plus a slow drift of up to 1.5 px over the clip and 0.3 px of
  frame-to-frame jitter (a printer whose registration pins wore);
- "lens": red magnified 0.6 % and blue reduced 0.5 % about the centre (lateral chromatic
  aberration: fringes growing towards the edges), restored with the `scale` model.

Printed per source and case: the error left (px: where a pixel of each record lies against
green, largest over the frame's corners and centre, mean and worst over the clip), PSNR
against the clean frames (a 16 px border left out: the warps fill it) for the input,
Nitrate's `registration` and the peer, and frames per second (the engine's evaluator, one
shot, analysis included).

The peer: ffmpeg has no filter that measures registration. A user would measure the
shift by eye and type it into `rgbashift`, which moves records by whole pixels only: the
peer is given the true shift rounded to whole pixels (better than by eye), and cannot
follow a drift or a magnification. The ffmpeg CLI comes from `apt-get install ffmpeg`;
without it the peer is skipped.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import cv2
import numpy as np

from benchmarks.peers import Peer, missing, run_peer
from benchmarks.quality import run_recipe, sources
from engine.metrics import psnr
from engine.ops.base import ANALYSIS_WIDTH, Window
from engine.ops.color import analysis_frame
from engine.ops.registry import create
from engine.project import Recipe, Step
from engine.runtime import configure_threads

BORDER = 16  # px left out of the PSNR: the warps fill it


def _case_motion(case: str, n: int, seed: int = 7) -> np.ndarray:
    """(n, 2, 3): per frame, (scale, dx, dy) of red and of blue."""
    motion = np.zeros((n, 2, 3))
    motion[..., 0] = 1.0
    if case == "lens":
        motion[:, 0, 0], motion[:, 1, 0] = 1.006, 0.995
        return motion
    motion[:, 0, 1:] = (3.4, -2.2)
    motion[:, 1, 1:] = (-2.6, 1.7)
    if case == "drifting":
        rng = np.random.default_rng(seed)
        drift = np.linspace(0.0, 1.5, n)[:, None] * np.array([1.0, -0.6])
        for r in range(2):
            motion[:, r, 1:] += drift + rng.normal(0.0, 0.3, (n, 2))
    return motion


def _move(plane: np.ndarray, s: float, dx: float, dy: float) -> np.ndarray:
    h, w = plane.shape
    cx, cy = (w - 1) / 2, (h - 1) / 2
    m = np.float32([[s, 0, (1 - s) * cx + dx], [0, s, (1 - s) * cy + dy]])
    return cv2.warpAffine(plane, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def misregister(frames: Sequence[np.ndarray], motion: np.ndarray) -> list[np.ndarray]:
    return [np.dstack([_move(f[..., 0], *motion[i, 0]), f[..., 1], _move(f[..., 2], *motion[i, 1])])
            .astype(np.float32) for i, f in enumerate(frames)]


def _error(found: np.ndarray, true: np.ndarray, w: int, h: int) -> float:
    """Largest distance (px) between where two (scale, dx, dy) put the frame's corners and
    centre."""
    cx, cy = (w - 1) / 2, (h - 1) / 2
    points = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1], [cx, cy]], float)

    def place(m: np.ndarray) -> np.ndarray:
        s, dx, dy = m
        return s * (points - (cx, cy)) + (cx, cy) + (dx, dy)

    return float(np.linalg.norm(place(found) - place(true), axis=1).max())


def _inner(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [f[BORDER:-BORDER, BORDER:-BORDER] for f in frames]


def _corrections(frames: list[np.ndarray], model: str) -> np.ndarray:
    """(n, 2, 3) corrections the operator applies to each frame (frame pixels)."""
    op = create("registration", {"model": model})
    n = len(frames)

    def analyse(j: int) -> np.ndarray:
        return analysis_frame(Window((frames[j],), (j,), 0, (j, j)), j)

    scale = min(1.0, ANALYSIS_WIDTH / frames[0].shape[1])
    return np.stack([op.correction(Window((frames[i],), (i,), 0, (0, n - 1), key="bench",
                                          analyse=analyse, analysis_scale=scale,
                                          analysis_key="bench@analysis"))
                     for i in range(n)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--sources", default="generated,bikes,bunny")
    parser.add_argument("--size", default="1280x720")
    args = parser.parse_args(argv)
    configure_threads()
    width, height = (int(v) for v in args.size.split("x"))
    why_not = missing(Peer("rgbashift", "", ("rgbashift",)))
    print(f"Colour registration, {args.frames} frames at {width}x{height}; error in px, "
          f"PSNR in dB against the clean frames")
    if why_not:
        print(f"peer skipped: {why_not}")
    print(f"{'source':<10}{'case':<13}{'error mean':>11}{'worst':>7}{'PSNR in':>9}"
          f"{'Nitrate':>9}{'rgbashift':>11}{'fps':>7}")
    for source in sources(args.sources.split(",")):
        if source.missing:
            print(f"{source.name:<10}skipped: {source.missing}")
            continue
        clean = source.load(args.frames, width, height)
        for case in ("separations", "drifting", "lens"):
            motion = _case_motion(case, len(clean))
            damaged = misregister(clean, motion)
            model = "scale" if case == "lens" else "shift"
            recipe = Recipe.of([Step.create("registration", {"model": model})])
            out, seconds = run_recipe(recipe, damaged)
            found = _corrections(damaged, model)
            errors = [max(_error(found[i, r], motion[i, r], width, height) for r in range(2))
                      for i in range(len(clean))]
            peer_psnr = "—"
            if not why_not:
                rounded = np.rint(motion[:, :, 1:].mean(axis=0)).astype(int)
                # rgbashift moves a record by +h/+v: undo the displacement.
                graph = (f"rgbashift=rh={-rounded[0, 0]}:rv={-rounded[0, 1]}:"
                         f"bh={-rounded[1, 0]}:bv={-rounded[1, 1]}:edge=smear")
                peer_out, _ = run_peer(Peer("rgbashift", graph, ("rgbashift",)), damaged)
                peer_psnr = f"{psnr(_inner(peer_out), _inner(clean)):.2f}"
            print(f"{source.name:<10}{case:<13}{np.mean(errors):>11.2f}{max(errors):>7.2f}"
                  f"{psnr(_inner(damaged), _inner(clean)):>9.2f}"
                  f"{psnr(_inner(out), _inner(clean)):>9.2f}{peer_psnr:>11}"
                  f"{len(clean) / seconds:>7.1f}")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
