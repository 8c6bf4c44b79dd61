"""Shot detection: precision, recall and speed on real and generated footage.

    python -m benchmarks.shots            # prints a table (results in docs/BENCHMARKS.md)

Sets:

1. `scene_cuts.mp4` (shared footage): a real clip with hard cuts. Its right half is a
   static chart that survives every cut, so only half the picture changes at a cut.
2. A generated reel (engine.synth scenes + damage): six shots, heavy flicker, regional
   flicker, dust and blotches, a scratch, grain and 3 px weave, plus things that must NOT
   be cuts (a flicker burst of ±35 % alternate frames, a white flash frame, a big
   blotch) and a fade out / fade in through black.
3. The two real old-film scans (shared footage, 48 frames each): damage but no cuts.

A detection counts when it lies within ±1 frame of a true cut (each true cut matched
once). Speeds are frames per second of the whole detect_cuts call (decode included for
files); the machine is shared, so they are noisy.

Peer: ffmpeg's `scene` score (select=gt(scene,0.3), its usual threshold) on the same
frames, fed losslessly as raw RGB through a pipe. PySceneDetect is not run: it needs the
GUI build of OpenCV, which clashes with our headless one.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.shots import detect_cuts
from engine.synth.damage import DamageSpec, apply_damage
from engine.synth.scenes import moving_scene

FOOTAGE = Path(__file__).resolve().parents[2] / "shared" / "footage"
FFMPEG = shutil.which("ffmpeg")

# True cuts of scene_cuts.mp4 (first frame of each new shot). Found by eye: every frame was
# decoded, downscaled into numbered contact sheets (50 frames per sheet) and looked at;
# the picture on the left changes completely between frames 29/30 (parking lot → man by
# cars), 75/76 (taxi roof → taxi front), 136/137 (cyclist → railings and houses), 186/187
# (railings → walking legs) and 241/242 (bicycle → steps). No dissolves or fades.
SCENE_CUTS_TRUTH = (30, 76, 137, 187, 242)
# The film scans were looked at the same way (48 frames each, one sheet): each is a single
# continuous shot; "within our gates" has a large white blotch on frame 28 and "the great
# train robbery" a large dirt blotch on frame 22; neither has a cut.
FILMS = ("film_the_great_train_robbery", "film_within_our_gates")

REEL_SIZE = (320, 180)  # pixels


class ListReader:
    """A Reader over frames in memory (info.frame_count, frames(start, stop))."""

    @dataclass(frozen=True)
    class Info:
        frame_count: int
        path: str = "generated reel"

    def __init__(self, frames: Sequence[np.ndarray]) -> None:
        self._frames = frames
        self.info = ListReader.Info(len(frames))

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        stop = len(self._frames) if stop is None else stop
        yield from self._frames[start:stop]


@dataclass(frozen=True)
class Reel:
    frames: list[np.ndarray]
    cuts: tuple[int, ...]          # every true boundary (hard and fade)
    fades: tuple[int, ...]         # those of them that are fades
    traps: dict[str, int]          # frames of non-cut events, by name


def damaged_reel(width: int = REEL_SIZE[0], height: int = REEL_SIZE[1]) -> Reel:
    """Generated multi-shot reel with heavy damage and known cuts (see module docstring)."""
    shots: list[list[np.ndarray]] = []
    cuts: list[int] = []
    fades: list[int] = []
    traps: dict[str, int] = {}
    pos = 0

    def add(frames: list[np.ndarray], kind: str | None = "hard") -> None:
        nonlocal pos
        if pos and kind == "hard":
            cuts.append(pos)
        shots.append(frames)
        pos += len(frames)

    add(moving_scene(30, width, height, seed=11, motion="pan+objects"), None)
    # A flicker burst without a cut: alternate frames 35 % brighter and darker.
    b = moving_scene(30, width, height, seed=12, motion="pan+objects")
    for k in range(10, 18):
        b[k] = np.clip(b[k] * (1.35 if k % 2 else 0.65), 0, 1).astype(np.float32)
    traps["flicker burst"] = pos + 10
    add(b)
    # A white flash frame (overexposed frame at a splice) and a large blotch, no cut.
    c = moving_scene(30, width, height, seed=13, motion="objects")
    c[12] = np.clip(c[12] * 0.2 + 0.8, 0, 1).astype(np.float32)
    traps["flash frame"] = pos + 12
    blot = c[20].copy()
    blot[height // 4:height // 4 + height // 3, width // 5:width // 5 + width // 3] = 0.05
    c[20] = blot
    traps["big blotch"] = pos + 20
    # Shot C fades out to black over 8 frames, 4 black frames, shot D fades in over 8.
    for k in range(8):
        c[-8 + k] = (c[-8 + k] * (1.0 - (k + 1) / 8.0)).astype(np.float32)
    black = [np.zeros((height, width, 3), np.float32) for _ in range(4)]
    add(c)
    shots[-1] = shots[-1] + black
    pos += len(black)
    d = moving_scene(30, width, height, seed=14, motion="pan")
    for k in range(8):
        d[k] = (d[k] * ((k + 1) / 9.0)).astype(np.float32)
    fades.append(pos)
    cuts.append(pos)
    add(d, None)
    # A dark, low-contrast shot (night scene): the cut into it and out of it are subtle.
    e = [np.clip(0.08 + 0.35 * (f - 0.5) * 0.6 + 0.1, 0, 1).astype(np.float32)
         for f in moving_scene(30, width, height, seed=15, motion="pan+objects")]
    add(e)
    add(moving_scene(30, width, height, seed=16, motion="pan+objects"))
    clean = [f for shot in shots for f in shot]
    spec = DamageSpec(flicker=0.3, local_flicker=0.1, dust=600, scratches=1, grain=0.03,
                      weave=3, seed=7)
    damaged = apply_damage(clean, spec).frames
    return Reel(damaged, tuple(cuts), tuple(fades), traps)


def match(found: Sequence[int], truth: Sequence[int], tolerance: int = 1) -> tuple[int, int, int]:
    """(true positives, false positives, missed) with each truth matched at most once."""
    left = list(truth)
    tp = 0
    for f in sorted(found):
        hit = next((t for t in left if abs(t - f) <= tolerance), None)
        if hit is not None:
            left.remove(hit)
            tp += 1
    return tp, len(found) - tp, len(left)


def ffmpeg_scene_cuts(frames: Sequence[np.ndarray], threshold: float = 0.3) -> list[int] | None:
    """Frames ffmpeg's scene score puts above `threshold` (None when ffmpeg is missing)."""
    if FFMPEG is None or not frames:
        return None
    h, w = frames[0].shape[:2]
    raw = b"".join((np.clip(f, 0, 1) * 255 + 0.5).astype(np.uint8).tobytes() for f in frames)
    cmd = [FFMPEG, "-hide_banner", "-nostats", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-r", "25", "-i", "-",
           "-vf", f"select='gt(scene,{threshold})',metadata=print", "-f", "null", "-"]
    out = subprocess.run(cmd, input=raw, capture_output=True, timeout=300, check=False)
    return [int(m) for m in re.findall(r"frame:\d+\s+pts:(\d+)", out.stderr.decode())]


def _decode_all(path: Path) -> list[np.ndarray]:
    from engine.media.reader import open_reader

    with open_reader(path) as r:
        return list(r.frames(0, r.info.frame_count))


@dataclass
class Row:
    name: str
    truth: int
    tp: int
    fp: int
    missed: int
    fps: float | None
    peer: str
    note: str = ""

    def cells(self) -> list[str]:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        recall = self.tp / self.truth if self.truth else 1.0
        fps = f"{self.fps:.0f}" if self.fps else "-"
        return [self.name, str(self.truth), str(self.tp), str(self.fp), str(self.missed),
                f"{precision:.2f}", f"{recall:.2f}", fps, self.peer, self.note]


def _peer_cell(frames: Sequence[np.ndarray], truth: Sequence[int]) -> str:
    peer = ffmpeg_scene_cuts(frames)
    if peer is None:
        return "ffmpeg missing"
    tp, fp, missed = match(peer, truth)
    return f"{tp} found, {fp} false, {missed} missed"


def run() -> list[Row]:
    rows: list[Row] = []
    reel = damaged_reel()
    reader = ListReader(reel.frames)
    t = time.perf_counter()
    cuts = detect_cuts(reader)
    fps = len(reel.frames) / (time.perf_counter() - t)
    found = [c.frame for c in cuts]
    tp, fp, missed = match(found, reel.cuts)
    kinds = ", ".join(f"{c.frame} {c.kind} {c.confidence:.2f}" for c in cuts)
    fade_ok = all(any(c.frame == f and c.kind == "fade" for c in cuts) for f in reel.fades)
    traps_hit = [name for name, at in reel.traps.items()
                 if any(abs(c.frame - at) <= 2 for c in cuts)]
    note = (f"found: {kinds}; truth {list(reel.cuts)}; fade labelled: {fade_ok}; "
            f"traps cut: {traps_hit or 'none'}")
    rows.append(Row(f"damaged reel {REEL_SIZE[0]}x{REEL_SIZE[1]}, {len(reel.frames)} fr",
                    len(reel.cuts), tp, fp, missed, fps,
                    _peer_cell(reel.frames, reel.cuts), note))

    path = FOOTAGE / "scene_cuts.mp4"
    if path.is_file():
        from engine.media.reader import open_reader

        with open_reader(path) as r:
            t = time.perf_counter()
            cuts = detect_cuts(r)
            fps = r.info.frame_count / (time.perf_counter() - t)
        found = [c.frame for c in cuts]
        tp, fp, missed = match(found, SCENE_CUTS_TRUTH)
        rows.append(Row("scene_cuts.mp4 1280x272 (decode incl.)", len(SCENE_CUTS_TRUTH), tp,
                        fp, missed, fps, _peer_cell(_decode_all(path), SCENE_CUTS_TRUTH),
                        f"found {found}, truth {list(SCENE_CUTS_TRUTH)}"))
    else:
        print(f"skipped scene_cuts.mp4: {path} not present")
    for film in FILMS:
        folder = FOOTAGE / film
        if not folder.is_dir():
            print(f"skipped {film}: {folder} not present")
            continue
        from engine.media.reader import open_reader

        with open_reader(folder) as r:
            t = time.perf_counter()
            cuts = detect_cuts(r)
            fps = r.info.frame_count / (time.perf_counter() - t)
        rows.append(Row(f"{film} 480x368 PNG (decode incl.)", 0, 0, len(cuts), 0, fps,
                        _peer_cell(_decode_all(folder), ()),
                        f"found {[c.frame for c in cuts]}, truth: no cut"))
    return rows


def speed_1080p(frames: Sequence[np.ndarray], count: int = 60) -> float:
    """detect_cuts frames/s on 1920x1080 frames already in memory (no decoding)."""
    import cv2

    big = [cv2.resize(f, (1920, 1080), interpolation=cv2.INTER_LINEAR)
           for f in frames[:count]]
    t = time.perf_counter()
    detect_cuts(ListReader(big))
    return len(big) / (time.perf_counter() - t)


def decode_speed(path: Path) -> float:
    """Frames/s of the Reader alone decoding `path` sequentially (the floor for files)."""
    from engine.media.reader import open_reader

    with open_reader(path) as r:
        t = time.perf_counter()
        for _ in r.frames(0, r.info.frame_count):
            pass
        return r.info.frame_count / (time.perf_counter() - t)


def main() -> None:
    header = ["set", "cuts", "found", "false", "missed", "precision", "recall", "frames/s",
              "ffmpeg scene>0.3", "notes"]
    rows = [header] + [r.cells() for r in run()]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows[1:]:
        print("| " + " | ".join(r) + " |")
    print()
    print(f"analysis alone, 1920x1080 frames in memory: "
          f"{speed_1080p(damaged_reel().frames):.0f} frames/s")
    path = FOOTAGE / "scene_cuts.mp4"
    if path.is_file():
        print(f"decoding alone, scene_cuts.mp4 (Reader.frames): {decode_speed(path):.0f} frames/s")


if __name__ == "__main__":
    main()
