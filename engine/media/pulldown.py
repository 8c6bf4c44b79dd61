"""Removing 3:2 pulldown: the film's own frames back from a telecined video transfer.

Film shot at 24 frames a second and transferred to NTSC video (29.97 frames a second) was
"telecined": every four film frames A B C D became ten fields, five video frames, each
frame two interlaced fields (its even rows, the top field, and its odd rows, the bottom
field):

    video frames    AA  BB  BC  CD  DD      (top field, bottom field)

Two in five video frames mix two film frames and show combing on motion; one film frame
is shown twice. Dust and grain removal, stabilisation and retiming need the film frames:
every operator that compares neighbouring frames is misled by a combed frame or a repeated
one. Archives hold many such transfers (Betacam, U-matic, DV, D2 tapes of films).

Inverse telecine, as the ffmpeg filters `fieldmatch` and `decimate` do it:

1. **Field matching.** Each video frame keeps its top field, and is given the bottom field,
   from the previous, the same or the next video frame, that weaves with it into the least
   combed picture (`comb_score`: rows standing out from both rows around them, on the
   luma). Above: AA BB B(B) C(C) DD, every frame a whole film frame.
2. **Decimation.** Each five consecutive matched frames now hold one film frame twice: in
   each cycle of five, the frame least different from the one before it is dropped.

29.97 becomes 23.976 frames a second (× 4/5) and the duration, and so the sound's sync,
is kept. The fields are woven as decoded: nothing is interpolated, so a film frame comes
back with the pixels the transfer gave it.

The top field anchors each match, whichever field the transfer put first: with the
bottom field first (NTSC DV), the mixed frames hold the later film frame in the top field,
and match the next frame's bottom field instead of the previous one's (tested both ways).

Cadence breaks (a video edit after the transfer) leave orphan fields, which are matched
with the least combed partner there is; a cycle that holds no repeat (a cut into a new
cadence) still loses one frame. `analyse_pulldown` says whether a clip is telecined at
all, from how its frames match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np

from engine.media.reader import Reader

CYCLE = 5
"""Video frames in one cycle of 3:2 pulldown (four film frames)."""

_COMB_THRESHOLD = 0.0004
"""Squared level step (levels 0-1) below which a row standing out is grain, not combing."""

_METRIC_WIDTH = 360
"""Width (pixels) the luma is reduced to for the combing and difference measures: combing
is vertical, so the rows are kept whole and only the columns are thinned."""


def luma(frame: np.ndarray) -> np.ndarray:
    """Rec. 709 luma of a float RGB frame, thinned to at most `_METRIC_WIDTH` columns (all
    rows kept)."""
    y = frame @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    h, w = y.shape
    if w > _METRIC_WIDTH:
        y = cv2.resize(y, (_METRIC_WIDTH, h), interpolation=cv2.INTER_AREA)
    return y


def weave(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """The frame made of `top`'s even rows (its top field) and `bottom`'s odd rows."""
    out = top.copy()
    out[1::2] = bottom[1::2]
    return out


def comb_score(y: np.ndarray) -> float:
    """How combed a luma picture is: the mean, over its inner rows, of the product of a
    row's differences from the rows above and below where both have the same sign (the row
    stands out from both: the two fields show different moments) and exceed grain."""
    mid, above, below = y[1:-1], y[:-2], y[2:]
    product = (mid - above) * (mid - below)
    return float(np.mean(np.where(product > _COMB_THRESHOLD, product, 0.0)))


@dataclass(frozen=True)
class Match:
    """Video frame `index`'s top field woven with the bottom field of frame `bottom`:
    `comb` is how combed that picture is, `change` how much it differs from the previous
    frame's (mean absolute luma difference; infinite for the first frame)."""

    index: int
    bottom: int
    comb: float
    change: float = float("inf")


@dataclass(frozen=True)
class PulldownPlan:
    """The film frames a telecined clip holds: output frame k is the top field of video
    frame `frames[k][0]` woven with the bottom field of video frame `frames[k][1]`."""

    frames: tuple[tuple[int, int], ...]
    fps: Fraction
    source_frames: int

    def describe(self) -> str:
        return (f"3:2 pulldown removed: {self.source_frames} video frames → "
                f"{len(self.frames)} film frames at {float(self.fps):.3f} fps")


def match_fields(read: Callable[[int], np.ndarray], n: int,
                 progress: Callable[[int, int], None] | None = None,
                 cancelled: Callable[[], bool] = lambda: False) -> list[Match]:
    """Each of video frames 0..n-1's best bottom field (previous, same or next frame), in
    order; `read(i)` gives frame i (float RGB). InterruptedError when `cancelled()`."""
    lumas: dict[int, np.ndarray] = {}

    def y(i: int) -> np.ndarray:
        if i not in lumas:
            lumas[i] = luma(read(i))
        return lumas[i]

    matches = []
    previous: np.ndarray | None = None  # the last frame's woven luma
    for i in range(n):
        if cancelled():
            raise InterruptedError
        candidates = [j for j in (i, i - 1, i + 1) if 0 <= j < n]
        woven = {j: weave(y(i), y(j)) for j in candidates}
        scored = [(comb_score(picture), j) for j, picture in woven.items()]
        # The same frame wins ties: a still picture is progressive whichever is chosen.
        comb, bottom = min(scored, key=lambda s: (s[0], s[1] != i))
        change = (float(np.mean(np.abs(woven[bottom] - previous))) if previous is not None
                  else float("inf"))
        matches.append(Match(i, bottom, comb, change))
        previous = woven[bottom]
        lumas.pop(i - 2, None)
        if progress is not None:
            progress(i + 1, n)
    return matches


def decimate(matches: list[Match]) -> list[Match]:
    """`matches` less one frame in every cycle of five: the one that changed least from
    the frame before it (the film frame shown twice). A last, shorter cycle loses a frame
    only when it is whole."""
    kept: list[Match] = []
    for start in range(0, len(matches), CYCLE):
        cycle = matches[start:start + CYCLE]
        if len(cycle) < CYCLE:
            kept += cycle
            break
        drop = int(np.argmin([m.change for m in cycle]))
        kept += [m for k, m in enumerate(cycle) if k != drop]
    return kept


def plan_pulldown(reader: Reader, progress: Callable[[int, int], None] | None = None,
                  cancelled: Callable[[], bool] = lambda: False) -> PulldownPlan:
    """The film frames of the telecined clip `reader` reads (see the module docstring),
    in one pass over its frames."""
    matches = match_fields(reader.read, reader.info.frame_count, progress, cancelled)
    kept = decimate(matches)
    fps = Fraction(reader.info.fps) * Fraction(4, 5)
    return PulldownPlan(tuple((m.index, m.bottom) for m in kept), fps,
                        reader.info.frame_count)


def film_frames(reader: Reader, plan: PulldownPlan) -> Iterator[np.ndarray]:
    """The film frames of `plan`, in order (float32 RGB, as the reader gives frames)."""
    for top, bottom in plan.frames:
        frame = reader.read(top)
        yield frame if bottom == top else weave(frame, reader.read(bottom))


@dataclass(frozen=True)
class PulldownReport:
    """What `analyse_pulldown` found in a clip's first frames: `telecined` when about two
    in five frames needed another frame's bottom field and the matches leave little
    combing; `moved` is that share; `combed` the share combed as they are."""

    telecined: bool
    moved: float
    combed: float
    frames: int

    def describe(self) -> str:
        if self.telecined:
            return (f"telecined (3:2 pulldown): {self.moved:.0%} of {self.frames} frames "
                    "take the next or previous frame's field")
        return (f"not telecined: {self.moved:.0%} of {self.frames} frames match another "
                f"frame's field, {self.combed:.0%} are combed as they are")


def analyse_pulldown(reader: Reader, frames: int = 60) -> PulldownReport:
    """Whether the clip `reader` reads shows 3:2 pulldown, judged on its first `frames`
    frames."""
    count = min(frames, reader.info.frame_count)
    matches = match_fields(reader.read, count)
    moved = sum(1 for m in matches if m.bottom != m.index) / max(1, len(matches))
    own = [comb_score(luma(reader.read(m.index))) for m in matches]
    floor = float(np.median([m.comb for m in matches])) if matches else 0.0
    combed = sum(1 for c in own if c > 4 * floor + 1e-6) / max(1, len(own))
    # 3:2 pulldown moves two frames in five (40 %); progressive film moves none.
    return PulldownReport(0.25 <= moved <= 0.55, moved, combed, len(matches))
