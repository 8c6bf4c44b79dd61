"""Frame check: does it find the frames to look at, and only those?

    python -m benchmarks.frame_check [--frames 96] [--sources generated,bikes,bunny]

Each source's first `--frames` frames (`benchmarks.quality.sources`, 1280×720) get the
whole film damage of the quality benchmark (dust, scratches, flicker, grain, weave), then
eight faults at known frames: two repeated frames (the frame before, again), two flashes
(one printed 60 % brighter, one 45 % darker), two damaged frames (a torn-off corner, white;
a dark blotch of about 6 % of the picture) and two blanks (black, white). The clip is
stored as ProRes 422 HQ, as a transfer reaches the archive.

Printed for each source: the faults found at the right frame with the right kind, the
frames reported that hold no fault, and the check's speed against the decode alone
(`Reader.read_scaled` at the same size). The ffmpeg filters a user would pick instead are
run on the same file: `mpdecimate` (the frames it would drop as repeats) and `blackframe`
(black frames, 98 % of pixels under 32). Without the ffmpeg CLI they are skipped.

Then the repeats' removal: the sources' frames (damaged the same way) as 18 fps film
stretched to 24 by repeating every third frame, stored as ProRes; the repeats `nitrate
repeats` leaves out against those ffmpeg's `mpdecimate` drops, and the speed of the whole
conversion (Nitrate: check and FFV1 write; ffmpeg: `mpdecimate` and FFV1).

Then the real footage of `../shared/footage`, no fault added: the two scans (1903 and
1920, with their own dust, flicker and damage), `bikes.mp4` and `bigbuckbunny.mp4` (clean)
and `scene_cuts.mp4` (hard cuts): every frame reported is listed, to be looked at.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from benchmarks.peers import FFMPEG
from benchmarks.quality import sources
from engine.media import open_reader
from engine.qc import check_frames
from engine.qc.frame_check import WIDTH
from engine.render.repeats import remove_repeats
from engine.runtime import configure_threads
from engine.synth.damage import DamageSpec, apply_damage

SIZE = (1280, 720)
FPS = Fraction(24)
FOOTAGE = Path(__file__).resolve().parents[1].parent / "shared" / "footage"
DAMAGE = DamageSpec(dust=60, scratches=2, flicker=0.1, local_flicker=0.03, grain=0.025,
                    weave=2.0, seed=7)


def _tear(frame: np.ndarray) -> np.ndarray:
    """A corner torn off: white where the film is missing (about 7 % of the picture)."""
    h, w = frame.shape[:2]
    out = frame.copy()
    corner = np.int32([[w, 0], [w, int(h * 0.45)], [int(w * 0.82), int(h * 0.3)],
                       [int(w * 0.7), 0]])
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [corner], 255)
    out[mask > 0] = 0.97
    return out


def _blotch(frame: np.ndarray) -> np.ndarray:
    """A dark soft-edged blotch over about 6 % of the picture."""
    h, w = frame.shape[:2]
    alpha = np.zeros((h, w), np.float32)
    cv2.ellipse(alpha, (int(w * 0.35), int(h * 0.6)), (int(w * 0.14), int(h * 0.14)), 20, 0,
                360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 6)[..., None]
    return frame * (1 - alpha) + 0.06 * alpha


FAULTS: dict[int, tuple[str, object]] = {
    10: ("repeated", None),
    55: ("repeated", None),
    20: ("flash", 1.6),
    65: ("flash", 0.55),
    30: ("damaged", _tear),
    75: ("damaged", _blotch),
    40: ("blank", 0.02),
    85: ("blank", 0.95),
}
"""Frame → (kind, how it is made), for clips of at least 90 frames."""


def add_faults(frames: list[np.ndarray]) -> dict[int, str]:
    """Put FAULTS into `frames` (in place); the faults that fit, frame → kind."""
    truth = {}
    for index, (kind, how) in sorted(FAULTS.items()):
        if index >= len(frames) - 1:
            continue
        if kind == "repeated":
            frames[index] = frames[index - 1].copy()
        elif kind == "flash":
            frames[index] = np.clip(frames[index] * float(how), 0, 1)
        elif kind == "damaged":
            frames[index] = np.clip(how(frames[index]), 0, 1)
        else:
            frames[index] = np.full_like(frames[index], float(how))
        truth[index] = kind
    return truth


def write_prores(path: Path, frames: list[np.ndarray]) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("prores_ks", rate=FPS, options={"profile": "3"})
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv422p10le"
        for i, frame in enumerate(frames):
            rgb = (np.clip(frame, 0, 1) * 65535 + 0.5).astype(np.uint16)
            picture = av.VideoFrame.from_ndarray(rgb, format="rgb48le").reformat(
                format="yuv422p10le")
            picture.pts = i
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def decode_seconds(path: Path) -> float:
    """Seconds to read every frame reduced as the check reads them (no check)."""
    with open_reader(path) as reader:
        info = reader.info
        size = (WIDTH, round(info.height * WIDTH / info.width))
        started = time.perf_counter()
        for i in range(info.frame_count):
            reader.read_scaled(i, size)
        return time.perf_counter() - started


def ffmpeg_log(path: Path, filters: str) -> tuple[str, float]:
    """What an ffmpeg filter chain run over `path` logs (stderr), and the seconds taken."""
    started = time.perf_counter()
    run = subprocess.run([str(FFMPEG), "-nostdin", "-hide_banner", "-i", str(path), "-vf",
                          filters, "-f", "null", "-"], capture_output=True, text=True,
                         check=True)
    return run.stderr, time.perf_counter() - started


def ffmpeg_frames(path: Path, filters: str, pattern: str) -> tuple[set[int], float]:
    """Frame numbers an ffmpeg filter chain reports (`pattern`'s first group), seconds."""
    log, seconds = ffmpeg_log(path, filters)
    return {int(m) for m in re.findall(pattern, log)}, seconds


def mpdecimate_drops(path: Path, count: int) -> tuple[set[int], float]:
    """Frames `mpdecimate` would drop as repeats of the frame before (those `showinfo`
    after it does not list), seconds."""
    log, seconds = ffmpeg_log(path, "mpdecimate,showinfo")
    kept = {round(float(t) * FPS) for t in re.findall(r"pts_time:\s*([\d.]+)", log)}
    return set(range(count)) - kept, seconds


def score(found: dict[int, str], truth: dict[int, str]) -> tuple[dict[str, int], int]:
    """(faults found at the right frame with the right kind, per kind; frames reported
    that hold no fault)."""
    right = {kind: 0 for kind in set(truth.values())}
    for frame, kind in truth.items():
        right[kind] += found.get(frame) == kind
    return right, sum(1 for frame in found if frame not in truth)


def synthetic_rows(names: list[str], count: int, folder: Path) -> list[str]:
    out = []
    for source in sources(names):
        if source.missing:
            out.append(f"| {source.name} | skipped: {source.missing} | | | | | | |")
            continue
        frames = apply_damage(source.load(count, *SIZE), DAMAGE).frames
        truth = add_faults(frames)
        path = folder / f"{source.name}.mov"
        write_prores(path, frames)
        started = time.perf_counter()
        with open_reader(path) as reader:
            result = check_frames(reader)
        seconds = time.perf_counter() - started
        decode = decode_seconds(path)
        right, wrong = score({e.frame: e.kind for e in result.events}, truth)
        per_kind = " / ".join(f"{right.get(k, 0)}" for k in ("repeated", "flash", "damaged",
                                                              "blank"))
        n = len(frames)
        out.append(f"| {source.name} | Nitrate frame check | {per_kind} (of 2 each) | "
                   f"{wrong} | {n / seconds:.0f} | {n / decode:.0f} |")
        if FFMPEG is None:
            out.append(f"| {source.name} | ffmpeg | skipped: ffmpeg CLI absent | | | |")
            continue
        drops, seconds = mpdecimate_drops(path, n)
        repeats = {f for f, k in truth.items() if k == "repeated"}
        out.append(f"| {source.name} | ffmpeg `mpdecimate` | {len(drops & repeats)} / - / - / "
                   f"- | {len(drops - repeats)} | {n / seconds:.0f} | |")
        black, seconds = ffmpeg_frames(path, "blackframe=amount=98:threshold=32",
                                       r"frame:(\d+)")
        blanks = {f for f, k in truth.items() if k == "blank"}
        out.append(f"| {source.name} | ffmpeg `blackframe` | - / - / - / {len(black & blanks)} "
                   f"| {len(black - blanks)} | {n / seconds:.0f} | |")
    return out


def stretch_rows(names: list[str], count: int, folder: Path) -> list[str]:
    """Each source's first `count` frames, damaged, as 18 fps film stretched to 24 by
    repeating every third frame; the repeats removed by Nitrate and by ffmpeg `mpdecimate`
    (what it drops), against the truth."""
    out = []
    for source in sources(names):
        if source.missing:
            out.append(f"| {source.name} | skipped: {source.missing} | | | |")
            continue
        film = apply_damage(source.load(count, *SIZE), DAMAGE).frames
        video = [f for k, f in enumerate(film) for _ in range(2 if k % 3 == 2 else 1)]
        truth = {k for k in range(len(video)) if k % 4 == 3}
        path = folder / f"{source.name}_stretched.mov"
        write_prores(path, video)
        started = time.perf_counter()
        plan = remove_repeats(path, folder / f"{source.name}_film.mkv")
        seconds = time.perf_counter() - started
        removed = set(plan.removed)
        n = len(video)
        out.append(f"| {source.name} | Nitrate `repeats` | {len(removed & truth)} / "
                   f"{len(truth)} | {len(removed - truth)} | {float(plan.fps):.3f} | "
                   f"{n / seconds:.0f} |")
        if FFMPEG is None:
            out.append(f"| {source.name} | ffmpeg | skipped: ffmpeg CLI absent | | | |")
            continue
        started = time.perf_counter()
        subprocess.run([str(FFMPEG), "-y", "-loglevel", "error", "-nostdin", "-i", str(path),
                        "-vf", "mpdecimate,setpts=N/FRAME_RATE/TB", "-c:v", "ffv1",
                        str(folder / f"{source.name}_ffmpeg.mkv")], check=True)
        seconds = time.perf_counter() - started
        drops, _ = mpdecimate_drops(path, n)
        out.append(f"| {source.name} | ffmpeg `mpdecimate` | {len(drops & truth)} / "
                   f"{len(truth)} | {len(drops - truth)} | - | {n / seconds:.0f} |")
    return out


def real_rows() -> list[str]:
    out = []
    for name in ("film_the_great_train_robbery", "film_within_our_gates", "bikes.mp4",
                 "bigbuckbunny.mp4", "scene_cuts.mp4"):
        if not (FOOTAGE / name).exists():
            out.append(f"| {name} | skipped: ../shared/footage absent | |")
            continue
        with open_reader(FOOTAGE / name) as reader:
            result = check_frames(reader)
            count = reader.info.frame_count
        cadence = result.describe_cadence()
        events = [e for e in result.events if not (cadence and e.kind == "repeated")]
        listed = [f"{e.frame}: {e.describe()}" for e in events]
        if cadence:
            repeats = [str(e.frame) for e in result.events if e.kind == "repeated"]
            listed.append(f"repeated frames {', '.join(repeats)}: {cadence}")
        out.append(f"| {name} | {count} | {'; '.join(listed) or 'none'} |")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=96, help="frames a source (≥ 90)")
    parser.add_argument("--sources", default="generated,bikes,bunny")
    args = parser.parse_args(argv)
    configure_threads()
    names = [n.strip() for n in args.sources.split(",") if n.strip()]
    print(f"Frame check on {SIZE[0]}x{SIZE[1]} ProRes clips of {args.frames} damaged frames "
          "with 8 faults each:\n")
    print("| source | who | found: repeated / flash / damaged / blank | frames wrongly "
          "reported | frames/s | decode alone frames/s |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="nitrate-frame-check-") as tmp:
        for row in synthetic_rows(names, args.frames, Path(tmp)):
            print(row, flush=True)
    print("\nRemoving repeated frames: 18 fps film stretched to 24 (every third frame "
          "repeated), ProRes, damaged as above:\n")
    print("| source | who | repeats removed | frames wrongly removed | film rate fps | "
          "video frames/s (whole conversion) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="nitrate-repeats-") as tmp:
        for row in stretch_rows(names, args.frames * 3 // 4, Path(tmp)):
            print(row, flush=True)
    print("\nReal footage, no fault added (every frame reported):\n")
    print("| footage | frames | reported |")
    print("|---|---|---|")
    for row in real_rows():
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
