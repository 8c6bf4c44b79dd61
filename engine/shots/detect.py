"""Cut detection that old-film damage does not fool.

One sequential decode; every frame is reduced to a small blurred luma block grid
(features.py) and compared with the three frames before it. Three ideas keep flicker,
dust, blotches, scratches, grain and weave from looking like cuts:

1. **A damage-tolerant distance** per block (features.py): mean-free and gain-compensated
   (flicker), best of a ±1 px shift search (weave), blurred and regularised (grain).
2. **A cut separates everything before from everything after.** The score of a cut
   before frame n is, block by block, the *smallest* distance over the four pairs
   (n-1, n), (n-2, n), (n-1, n+1), (n-2, n+1). A blotch, a flash or a torn frame spoils
   one frame, and at least one of the four pairs does not contain it; a real cut
   changes all four. The frame score is the mean over blocks, so it says how much of
   the picture changed (a static title or a letterbox bar that survives the cut only
   lowers it, it does not hide it).
3. **A cut is a spike against its neighbourhood.** The score must clear an absolute
   threshold and the median of the surrounding scores (fast motion, a whip pan or a long
   burst of damage raise that median), and be the largest within the minimum shot length.

Fades through black are found from the frame level: a run of black frames entered or left
gradually. Dissolves are not detected (see docs/BENCHMARKS.md): a mix changes little from
one frame to the next, which is what the damage tolerance lets through.

Speed: about 1 ms per 320x180 frame and 3 ms per 1080p frame (mostly the downscale), so
the decoder sets the pace (see benchmarks/shots.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from engine.errors import MediaError, RenderCancelled
from engine.shots.cuts import Cut, ShotError
from engine.shots.features import Analysis, analyse, block_distance, grid_for

MIN_SHOT = 4
"""Shortest shot reported (frames); of two boundaries closer than this the weaker goes."""
CONTEXT = 12
"""Frames each side whose scores form the local background level of a candidate."""
PROGRESS_EVERY = 25
"""Frames between progress callbacks (and cancel polls)."""

# Fades: a frame is black when its mean luma and its bright blocks are this dark (0-1).
BLACK_LEVEL = 0.08
BLACK_PEAK = 0.15
FADE_ZONE = 0.5
"""Next to a fade's black, frames darker than this fraction of the shot's level are the
fade's ramp: mostly grain, no hard cut is called there."""
FADE_REFERENCE = 25
"""Frames each side of the black whose brighter part gives the shot's level."""
FADE_FRAMES = 3
"""Frames next to the black whose level must ramp for the black to count as a fade."""


class FrameSource(Protocol):
    """What detect_cuts needs of an engine.media Reader."""

    info: Any

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]: ...


@dataclass(frozen=True)
class Scores:
    """Per-frame measurements over an analysed range (index 0 = the range's first frame).

    cut:   cross-boundary score 0-1 of a cut just before each frame (0 for the first)
    level: mean luma of each frame (levels 0-1)
    peak:  bright-block level of each frame (levels 0-1, see features.Analysis)
    """

    cut: np.ndarray
    level: np.ndarray
    peak: np.ndarray


def thresholds(sensitivity: float) -> tuple[float, float]:
    """(absolute, above-background) score thresholds for a sensitivity 0-1.

    Sensitivity 0.5 is the calibrated default; 1 finds the subtlest cuts at the risk of
    false ones, 0 only the most obvious.
    """
    t_abs = 0.39 - 0.28 * sensitivity
    t_rel = 0.25 - 0.20 * sensitivity
    return t_abs, t_rel


def _path_of(reader: FrameSource) -> str:
    return str(getattr(reader.info, "path", "clip"))


def compute_scores(
    reader: FrameSource,
    start: int,
    end: int,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Scores:
    """Decode frames start … end-1 once, in order, and measure them (see `Scores`)."""
    total = end - start
    cut = np.zeros(total, np.float32)
    level = np.zeros(total, np.float32)
    peak = np.zeros(total, np.float32)
    grid: tuple[int, int] | None = None
    shape: tuple[int, ...] | None = None
    recent: list[Analysis] = []  # the last up to 3 frames, oldest first
    # Block distances of the previous frame to the 1 and 2 frames before it.
    prev_d1: np.ndarray | None = None
    prev_d2: np.ndarray | None = None
    done = 0
    for i, frame in enumerate(reader.frames(start, end)):
        if i >= total:
            break
        if i % PROGRESS_EVERY == 0:
            if cancel is not None and cancel():
                raise RenderCancelled(f"shot detection cancelled at frame {start + i}")
            if progress is not None:
                progress(i, total)
        arr = np.asarray(frame)
        if shape is None:
            if arr.ndim not in (2, 3) or arr.shape[0] < 1 or arr.shape[1] < 1:
                raise MediaError(_path_of(reader), f"frame {start} has shape {arr.shape}, "
                                 "expected (height, width, 3)")
            shape = arr.shape
            grid = grid_for(arr.shape[1], arr.shape[0])
        elif arr.shape != shape:
            raise MediaError(_path_of(reader), f"frame {start + i} has shape {arr.shape}, "
                             f"the clip's first frame {shape}")
        assert grid is not None
        cur = analyse(arr.astype(np.float32, copy=False), grid)
        level[i], peak[i] = cur.level, cur.peak
        # Distances of this frame to the 1, 2 and 3 frames before it.
        d = [block_distance(recent[-k], cur, grid) if len(recent) >= k else None
             for k in (1, 2, 3)]
        # Frame i-1's cut score can now be completed: pairs across the boundary before i-1.
        if i >= 2:
            pairs = [p for p in (prev_d1, prev_d2, d[1], d[2]) if p is not None]
            cut[i - 1] = float(np.min(np.stack(pairs), axis=0).mean())
        prev_d1, prev_d2 = d[0], d[1]
        recent.append(cur)
        del recent[:-3]
        done = i + 1
    if done != total:
        raise MediaError(_path_of(reader), f"the clip ended at frame {start + done}, "
                         f"expected {end} frames")
    if total >= 2 and prev_d1 is not None:
        # The last frame has no successor: judge it on the pairs it has.
        pairs = [p for p in (prev_d1, prev_d2) if p is not None]
        cut[total - 1] = float(np.min(np.stack(pairs), axis=0).mean())
    if progress is not None:
        progress(total, total)
    return Scores(cut, level, peak)


def _background(score: np.ndarray, i: int) -> float:
    """Median of the scores around i, leaving out i and its direct neighbours."""
    lo, hi = max(1, i - CONTEXT), min(len(score), i + CONTEXT + 1)
    around = np.concatenate([score[lo:max(lo, i - 1)], score[min(hi, i + 2):hi]])
    return float(np.median(around)) if around.size else 0.0


def hard_cuts(scores: Scores, sensitivity: float) -> list[tuple[int, float]]:
    """(range-relative frame, confidence) of every spike in the cut score that is a cut.

    Within MIN_SHOT frames of the range's ends no cut is called: there the score rests on
    fewer pairs of frames (none before the first), so one damaged frame could fake it,
    and a shot that short at a reel's end is leader or a splice, not a shot.
    """
    t_abs, t_rel = thresholds(sensitivity)
    score = scores.cut
    found = []
    for i in range(MIN_SHOT, len(score) - MIN_SHOT + 1):
        s = float(score[i])
        if s < t_abs:
            continue
        lo, hi = max(1, i - MIN_SHOT + 1), min(len(score), i + MIN_SHOT)
        if s < float(score[lo:hi].max()):
            continue
        bg = _background(score, i)
        if s < bg + t_rel:
            continue
        need = max(t_abs, bg + t_rel)
        confidence = 0.5 + 0.5 * (s - need) / max(1e-6, 1.0 - need)
        found.append((i, float(np.clip(confidence, 0.0, 1.0))))
    return found


def _ramp(level: np.ndarray, edge: int, step: int) -> int:
    """Last frame of a fade's ramp, walking from the black frame `edge` by `step` (±1)."""
    n = len(level)
    side = level[max(0, edge - FADE_REFERENCE):edge] if step < 0 else \
        level[edge + 1:edge + 1 + FADE_REFERENCE]
    # The shot's own level: its brighter frames (the ramp and flicker pull the rest down).
    bright = float(np.percentile(side, 75)) if side.size else 0.0
    k = edge
    while 0 <= k + step < n and level[k + step] < FADE_ZONE * bright:
        k += step
    return k


def black_runs(scores: Scores) -> tuple[list[tuple[int, str, float]], list[tuple[int, int]]]:
    """Boundaries at runs of black frames, and the fade zones where no hard cut may be.

    Boundaries are (range-relative frame, kind, confidence); zones (first, last) frames.

    A run entered or left gradually is a fade: one boundary, "fade", at the first frame
    after the black. A run with abrupt edges on both sides is black leader or a cut to
    black and back: "hard" boundaries where it starts and where it ends. Black at the
    range's start or end is the first shot fading in or the last fading out, not a
    boundary.
    """
    level = scores.level
    n = len(level)
    black = (level < BLACK_LEVEL) & (scores.peak < BLACK_PEAK)
    found: list[tuple[int, str, float]] = []
    zones: list[tuple[int, int]] = []
    i = 0
    while i < n:
        if not black[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and black[j + 1]:
            j += 1
        if i > 0 and j < n - 1:
            before = level[max(0, i - FADE_FRAMES - 1):i]
            after = level[j + 1:j + 2 + FADE_FRAMES]
            # Gradual: the frame next to the black is well below the level a few frames
            # further out (a fade), not already at it (a cut).
            out_ramp = len(before) >= 2 and before[-1] < 0.6 * before.max()
            in_ramp = len(after) >= 2 and after[0] < 0.6 * after.max()
            if out_ramp or in_ramp:
                confidence = 0.75 if (out_ramp and in_ramp) else 0.6
                found.append((j + 1, "fade", confidence))
                zones.append((_ramp(level, i, -1), _ramp(level, j, 1) + 1))
            else:
                found += [(i, "hard", 0.6), (j + 1, "hard", 0.6)]
        i = j + 1
    return found, zones


def _merge(candidates: list[tuple[int, str, float]]) -> list[tuple[int, str, float]]:
    """Keep the strongest boundaries so that no two are closer than MIN_SHOT frames."""
    kept: list[tuple[int, str, float]] = []
    # Fades first: near black, the hard-cut score of a dim frame says less than the ramp.
    order = sorted(candidates, key=lambda c: (c[1] != "fade", -c[2], c[0]))
    for cand in order:
        if all(abs(cand[0] - k[0]) >= MIN_SHOT for k in kept):
            kept.append(cand)
    return sorted(kept)


@dataclass(frozen=True)
class CutAnalysis:
    """cuts: the shot boundaries found (see `analyse_cuts`); level: float32 mean luma
    (levels 0-1) of each analysed frame, index 0 the range's first frame."""

    cuts: list[Cut]
    level: np.ndarray


def analyse_cuts(
    reader: FrameSource,
    *,
    start: int = 0,
    end: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    sensitivity: float = 0.5,
) -> CutAnalysis:
    """Shot boundaries in frames start … end-1 of `reader` (end exclusive, default: all),
    and the mean luma of each of those frames (measured on the way: the timeline's levels
    graph, see engine.media.levels).

    Frames are decoded once, in order, with `reader.frames(start, end)`. Returned cuts are
    sorted, in clip frame numbers, each the first frame of a new shot; `start` itself is
    never reported. `progress(done, total)` (frames) is called every PROGRESS_EVERY frames
    and once at the end; `cancel()` is polled as often and, when it returns True,
    detection stops by raising engine.errors.RenderCancelled (nothing partial is
    returned: a half-analysed clip would look like a clip without cuts in its second half).
    `sensitivity` 0-1: higher finds subtler cuts and risks false ones.

    Raises ShotError for a bad range or sensitivity, MediaError when the reader's frames
    are not what its info promised.
    """
    count = int(reader.info.frame_count)
    end = count if end is None else end
    if not 0 <= start <= end <= count:
        raise ShotError(f"frame range {start}-{end} is outside the clip (0-{count})")
    if not 0.0 <= sensitivity <= 1.0:
        raise ShotError(f"sensitivity must be between 0 and 1, got {sensitivity}")
    if end - start < 2:
        if progress is not None:
            progress(end - start, end - start)
        if end == start:
            return CutAnalysis([], np.zeros(0, np.float32))
        return CutAnalysis([], compute_scores(reader, start, end, None, cancel).level)
    scores = compute_scores(reader, start, end, progress, cancel)
    candidates, zones = black_runs(scores)
    candidates += [(i, "hard", c) for i, c in hard_cuts(scores, sensitivity)
                   if not any(lo <= i <= hi for lo, hi in zones)]
    cuts = [Cut(start + i, kind, round(conf, 3)) for i, kind, conf in _merge(candidates)]
    return CutAnalysis(cuts, scores.level)


def detect_cuts(
    reader: FrameSource,
    *,
    start: int = 0,
    end: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    sensitivity: float = 0.5,
) -> list[Cut]:
    """The cuts of `analyse_cuts` (same arguments, errors and progress)."""
    return analyse_cuts(reader, start=start, end=end, progress=progress, cancel=cancel,
                        sensitivity=sensitivity).cuts
