"""Frame check: the frames of a reel a restorer must look at before anything else.

A scan or a transfer can hold whole frames that no per-pixel operator deals with:

- **repeated**: the same picture as the frame before, inside a shot that moves. A scanner
  that stuttered, or a transfer that filled a missing frame by repeating its neighbour.
  Motion stops for one frame and jumps on the next.
- **flash**: one frame much brighter or darker than both its neighbours, which agree with
  each other (a light leak, a frame printed at the wrong light, a lamp failing).
- **damaged**: a large part of the frame stands out from both neighbours while they agree
  with each other (a tear, a burn, a splice's tape, a blotch too large for dust repair, a
  frame replaced by unrelated picture).
- **blank**: one or two uniform frames (black, white, grey) between pictures: a frame lost
  and replaced by a blank at the scan.

One sequential pass reads each frame reduced in the colour conversion
(`Reader.read_scaled`, `WIDTH` pixels wide), so a reel's check costs about what its decode
does. Only the five frames around the one judged are kept. Each frame is judged against its own
surroundings (the median of `CONTEXT` frames each side), so grain, flicker and ordinary
motion set the bar rather than a fixed number. A frame is compared with a pair of frames
of its own shot: its two neighbours, or at a cut the two frames on its side of it, so a
shot's first and last frames (where splices and their damage lie) are checked too.

The check finds; it changes nothing. What mends each kind:
- damaged, blank: a whole-frame repair (`Repair`, `engine.ops.repair`) rebuilds the frame
  from its motion-compensated neighbours;
- flash: `deflicker` evens out its brightness (a frame printed 50 % too light comes back
  within a few percent); rebuild it only where its highlights or shadows clipped;
- repeated: rebuilt too when it stands in for a lost frame; a cadence of repeats (a film
  stretched to a higher rate) is removed by `engine.render.repeats`, which keeps the
  duration.

Speed: about 100 frames a second of 720p, 55-60 % of the decode alone
(benchmarks/frame_check.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np

from engine.errors import MediaError, RenderCancelled
from engine.media.reader import Reader
from engine.media.timecode import clip_timecode
from engine.metrics import LUMA

WIDTH = 256
"""Width (pixels) frames are reduced to: grain averages out, a tear or a blank does not."""
BLUR_SIGMA = 0.8
"""Gaussian blur (reduced pixels) on top of the reduction: what grain survives it goes."""
CONTEXT = 12
"""Frames each side whose measures set a frame's surroundings (medians)."""
PROGRESS_EVERY = 25
"""Frames between progress callbacks (and cancel polls)."""

# Repeated frames.
REPEAT_RATIO = 0.25
"""A frame repeats the one before when it differs from it by less than this fraction of
the usual frame-to-frame change around it."""
REPEAT_MOTION = 0.003
"""Usual frame-to-frame change (mean absolute luma difference, levels 0-1) below which a
shot is too still for a repeat to show or matter: a held title, digital video with no grain."""
HELD_RUN = 3
"""This many repeats in a row are a held picture (a freeze frame, a title), not a fault."""

CADENCE_REPEATS = 4
"""Repeats at regular intervals through the range that make a cadence (`repeat_cadence`)."""
CADENCE_SEEN = 0.75
"""Share of a cadence's repeats that must be seen (a repeat in a still moment is not)."""

# Flashes.
FLASH_MIN = 0.15
"""Smallest jump of the mean luma, as a fraction of the neighbours', reported as a flash
however steady the shot (15 %: about a fifth of a stop)."""
FLASH_FLICKER = 4.0
"""A flash's jump must also exceed this many times the shot's usual flicker (the median
frame-to-frame step of the log of the mean luma around it)."""
FLASH_AGREE = 0.5
"""The neighbours' levels must agree within this fraction of the jump (else: a cut, a fade)."""

# Damaged frames.
STANDOUT = 0.1
"""Luma difference (levels 0-1) by which a pixel of the frame stands out from each frame of
its pair (their levels matched to the frame's, moved onto it along their motion), the two
agreeing within half of it."""
SOLID = 5
"""Side (reduced pixels, about 2 % of the frame's width) of the smallest patch that counts."""
MATCH_QUANTILES = np.linspace(0.05, 0.9, 18)
"""Quantiles of the levels matched between frames (`_Reduced.matched_to`): not the ends,
where a tear or a blotch lies."""
_RISE = np.arange(len(MATCH_QUANTILES), dtype=np.float32) * 1e-6

SAME_SHOT = 0.5
"""Share of the picture over which two frames must agree to be taken as of the same shot."""
DAMAGED_SHARE = 0.02
"""Share of the picture one patch standing out must cover for the frame to be reported
damaged: about a square of 1/7 of the frame's width. Dust and hairs stay well under it."""

# Blank frames.
BLANK_SPREAD = 0.08
"""Spread of the reduced luma (levels 0-1, 95th percentile less 5th) below which a frame is
uniform: black or white leader with its grain, specks and uneven light is, a picture is not."""
BLANK_RUN = 2
"""Longest run of uniform frames reported as blank; longer runs are fades or leader."""

KINDS = ("blank", "damaged", "flash", "repeated")
"""Event kinds, most specific first: a frame gets only the first that applies."""


@dataclass(frozen=True)
class FrameEvent:
    """One frame to look at.

    frame:   frame number in the clip (from 0)
    kind:    one of KINDS
    measure: how strongly.
             - damaged: the share of the picture (0-1) its largest patch standing out covers;
             - flash: how much brighter (> 0) or darker (< 0) than its neighbours, as a
               fraction of their mean luma;
             - blank: the frame's level (0-1);
             - repeated: its difference from the frame before, as a fraction of the usual
               change around it.
    """

    frame: int
    kind: str
    measure: float

    def describe(self) -> str:
        """One line for a list: what was found, in words a restorer uses."""
        if self.kind == "damaged":
            return (f"damaged: a patch of {self.measure:.0%} of the picture stands out from "
                    "the frames around it")
        if self.kind == "flash":
            way = "brighter" if self.measure > 0 else "darker"
            return f"flash: {abs(self.measure):.0%} {way} than both neighbours"
        if self.kind == "blank":
            shade = "black" if self.measure < 0.15 else "white" if self.measure > 0.85 else "grey"
            return f"blank: a uniform {shade} frame"
        return f"repeated: the same picture as frame {self.frame - 1}"


@dataclass(frozen=True)
class FrameCheck:
    """What a check found over frames start … end-1 of a clip.

    events:   the frames to look at, in frame order
    level:    (end-start,) float32 mean luma of each frame (levels 0-1)
    change:   (end-start,) float32 mean absolute luma difference from the frame before
              (levels 0-1; 0 for the first frame of the range)
    standout: (end-start,) float32 share of each frame standing out from a pair of frames
              of its own shot (0-1; 0 where no such pair was found, see `standout`)
    fps:      the clip's rate (frames per second), for its cadence and timecodes
    timecode: the timecode of the clip's frame 0, or None
    """

    start: int
    end: int
    events: tuple[FrameEvent, ...]
    level: np.ndarray
    change: np.ndarray
    standout: np.ndarray
    fps: Fraction = Fraction(24)
    timecode: str | None = None

    def counts(self) -> dict[str, int]:
        """Events of each kind, every kind listed (0 when none)."""
        return {kind: sum(1 for e in self.events if e.kind == kind) for kind in KINDS}

    def describe_counts(self) -> str:
        """The events in words: "1 blank, 2 repeated", or "nothing to look at"."""
        counts = ", ".join(f"{n} {kind}" for kind, n in self.counts().items() if n)
        return counts or "nothing to look at"

    def timecode_of(self, frame: int) -> str:
        """The timecode of clip frame `frame`."""
        return clip_timecode(frame, self.fps, self.timecode)

    def repeat_cadence(self) -> float | None:
        """Frames per repeated frame when the repeats come regularly through the range (a
        transfer that repeated frames to raise the frame rate: 18 fps film at 24 repeats one
        frame in 4, 24 fps at 25 one in 25), else None. A repeat the check could not see
        (in a still moment) leaves a gap of twice the cadence, which still counts."""
        frames = [e.frame for e in self.events if e.kind == "repeated"]
        if len(frames) < CADENCE_REPEATS:
            return None
        gaps = np.diff(frames)
        base = float(gaps.min())
        steps = np.maximum(1, np.round(gaps / base))
        if base < 2 or np.abs(gaps - steps * base).max() > 1 + 0.1 * base:
            return None
        cadence = (frames[-1] - frames[0]) / float(steps.sum())
        found = len(frames) / (steps.sum() + 1)  # the share of the expected repeats seen
        ends = frames[0] - self.start < 2 * cadence and self.end - 1 - frames[-1] < 2 * cadence
        return float(cadence) if found >= CADENCE_SEEN and ends else None

    def cadence_repeats(self) -> tuple[int, ...]:
        """Every repeated frame of a cadence (`repeat_cadence`), the ones the check could not
        see included: where the cadence puts a repeat the check did not report (a still
        moment, where a repeat hardly differs from a new frame), the frame within a frame
        of that place that changed least, if it changed less than REPEAT_RATIO of the
        frames within three of it. Empty without a cadence."""
        cadence = self.repeat_cadence()
        if cadence is None:
            return ()
        seen = [e.frame for e in self.events if e.kind == "repeated"]
        change = self.change
        found = set(seen)
        # Places the cadence puts a repeat: between the ones seen, and beyond them to the
        # range's ends.
        places: list[float] = []
        for a, b in zip(seen, seen[1:], strict=False):
            steps = max(1, round((b - a) / cadence))
            places += [a + (b - a) * j / steps for j in range(1, steps)]
        k = seen[0] - cadence
        while k > self.start:
            places.append(k)
            k -= cadence
        k = seen[-1] + cadence
        while k < self.end:
            places.append(k)
            k += cadence
        for place in places:
            near = [f for f in range(round(place) - 1, round(place) + 2)
                    if self.start < f < self.end and f not in found]
            if not near:
                continue
            best = min(near, key=lambda f: change[f - self.start])
            # Against the frames right around it: the moment is still, so the change
            # further off (motion) says nothing about a repeat here.
            around = np.array([change[f - self.start] for f in range(best - 3, best + 4)
                               if self.start < f < self.end and f != best and f not in found])
            if around.size and change[best - self.start] < REPEAT_RATIO * np.median(around):
                found.add(best)
        return tuple(sorted(found))

    def describe_cadence(self) -> str | None:
        """One line on regular repeats (`repeat_cadence`), else None."""
        cadence = self.repeat_cadence()
        if cadence is None:
            return None
        return (f"one frame in {cadence:.3g} repeats the one before, regularly: a transfer "
                f"that repeated frames to raise the rate (the film ran at about "
                f"{float(self.fps) * (cadence - 1) / cadence:.1f} fps)")


@dataclass(frozen=True)
class _Reduced:
    """One frame reduced for the check: blurred luma (levels 0-1), its levels at the
    MATCH_QUANTILES (for matching another frame's levels to it), and its spread (the 95th
    percentile less the 5th, levels: how far from uniform it is)."""

    luma: np.ndarray
    quantiles: np.ndarray
    spread: float

    @classmethod
    def of(cls, frame: np.ndarray) -> _Reduced:
        luma = np.nan_to_num(frame.astype(np.float32, copy=False) @ LUMA, nan=0.0, posinf=1.0,
                             neginf=0.0)
        luma = cv2.GaussianBlur(np.clip(luma, 0.0, 1.0), (0, 0), BLUR_SIGMA)
        quantiles = np.quantile(luma, [*MATCH_QUANTILES, 0.95]).astype(np.float32)
        return cls(luma, quantiles[:-1], float(quantiles[-1] - quantiles[0]))

    def matched_to(self, other: _Reduced) -> np.ndarray:
        """This frame's luma with the levels of `other`: each of its MATCH_QUANTILES mapped
        to `other`'s, straight lines between them and beyond the ends, clipped to 0-1.

        Flicker, a flash and the highlights it clipped are not damage. The darkest and
        brightest few percent are left out of the fit, so a tear (white) or a blotch
        (black) over part of one frame does not move the levels of the rest."""
        src = np.maximum.accumulate(self.quantiles + _RISE)  # strictly rising, for interp
        dst = other.quantiles
        out = np.interp(self.luma, src, dst)
        low, high = self.luma < src[0], self.luma > src[-1]
        out[low] = dst[0] + (self.luma[low] - src[0]) * _slope(src[:4], dst[:4])
        out[high] = dst[-1] + (self.luma[high] - src[-1]) * _slope(src[-4:], dst[-4:])
        return np.clip(out, 0.0, 1.0).astype(np.float32)


def _slope(src: np.ndarray, dst: np.ndarray) -> float:
    """Gain of the levels mapping over the given stretch (1 where the stretch is flat)."""
    run = float(src[-1] - src[0])
    return float(np.clip((dst[-1] - dst[0]) / run, 0.25, 4.0)) if run > 1e-3 else 1.0


_SOLID = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (SOLID, SOLID))


@dataclass(frozen=True)
class Standout:
    """How a frame compares with a pair of frames of its own shot (`standout`).

    share: share (0-1) of the frame in its largest solid patch standing out from both
    pair:  the two frames' offsets from it ((-1, 1), (1, 2) or (-1, -2)); None: no pair
           of its shot was found (a one-frame shot, very fast motion), share 0
    """

    share: float
    pair: tuple[int, int] | None


def _moved(first: np.ndarray, second: np.ndarray, first_luma: np.ndarray,
           second_luma: np.ndarray, steps: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """`first` and `second` (two frames' luma, levels matched to the frame they are compared
    with) moved onto that frame along the optical flow F from first to second: first by
    steps[0]·F, second by steps[1]·F.

    - Two frames on one side of it, nearer first: steps (1, 2), the motion between them
      carried on (a pan or a moving object goes on as it went).
    - Its two neighbours, earlier first: steps (-0.5, 0.5), each moved halfway to the other.

    The frame itself is not used, so its damage cannot be explained away by the flow."""
    flow = _dis().calc(_bytes(first_luma), _bytes(second_luma), None)
    h, w = first.shape
    x, y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    fx, fy = flow[..., 0], flow[..., 1]
    border = cv2.BORDER_REPLICATE
    return tuple(cv2.remap(picture, x + k * fx, y + k * fy, cv2.INTER_LINEAR,
                           borderMode=border)
                 for picture, k in ((first, steps[0]), (second, steps[1])))  # type: ignore[return-value]


def _bytes(luma: np.ndarray) -> np.ndarray:
    return (luma * 255.0 + 0.5).astype(np.uint8)


_flows = threading.local()


def _dis() -> cv2.DISOpticalFlow:
    # One per thread: an OpenCV flow object keeps state between calls.
    if not hasattr(_flows, "dis"):
        _flows.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    return _flows.dis


def _standout_from(frame: _Reduced, a: _Reduced, b: _Reduced,
                   steps: tuple[float, float]) -> tuple[float, float, float]:
    """(share of the largest patch standing out, share where a and b agree, share where
    the frame agrees with both), a and b first moved onto the frame (`_moved`, `steps`)."""
    c = frame.luma
    p, n = _moved(a.matched_to(frame), b.matched_to(frame), a.luma, b.luma, steps)
    dp, dn = c - p, c - n
    agree = np.abs(p - n) < STANDOUT / 2
    out = ((np.abs(dp) > STANDOUT) & (np.abs(dn) > STANDOUT) & (np.sign(dp) == np.sign(dn))
           & agree)
    # Solid patches only: the thin slivers where a fast, blurred edge happens to match in
    # both neighbours go, a tear or a blotch stays.
    solid = cv2.morphologyEx(out.astype(np.uint8), cv2.MORPH_OPEN, _SOLID)
    # The largest patch: a frame scattered with dirt is dust's work, one large patch is not.
    count, _, stats, _ = cv2.connectedComponentsWithStats(solid, connectivity=8)
    largest = int(stats[1:, cv2.CC_STAT_AREA].max()) if count > 1 else 0
    fits = (np.abs(dp) <= STANDOUT) & (np.abs(dn) <= STANDOUT)
    return largest / solid.size, float(agree.mean()), float(fits.mean())


def standout(frames: dict[int, _Reduced], i: int) -> Standout:
    """How frame `i` stands out from a pair of frames of its own shot, in `frames`.

    A pixel stands out when it is brighter than both frames of the pair, or darker than
    both, by more than STANDOUT, where the two agree within STANDOUT / 2: their levels
    matched to the frame's (`_Reduced.matched_to`) and both moved onto it along the motion
    between them (`_moved`). Picture the motion does not explain fails the agreement, so
    damage counts, not motion.

    The pair is the frame's two neighbours when they agree over at least SAME_SHOT of the
    picture, so even a frame destroyed entirely is judged. Where they do not (a cut or a
    blank next to the frame, or motion the flow cannot follow), the two frames after it or
    the two before it, carried on by their motion, if the frame itself agrees with them
    over SAME_SHOT of the picture: a shot's first and last frames, where splices and their
    damage lie, are checked too.
    """
    frame = frames[i]
    if i - 1 in frames and i + 1 in frames:
        share, agree, _ = _standout_from(frame, frames[i - 1], frames[i + 1], (-0.5, 0.5))
        if agree >= SAME_SHOT:
            return Standout(share, (-1, 1))
    best: Standout | None = None
    best_fit = SAME_SHOT
    for pair in ((1, 2), (-1, -2)):
        if i + pair[0] in frames and i + pair[1] in frames:
            share, _, fit = _standout_from(frame, frames[i + pair[0]], frames[i + pair[1]],
                                           (1, 2))
            if fit >= best_fit:
                best, best_fit = Standout(share, pair), fit
    return best or Standout(0.0, None)


def _window_median(values: np.ndarray, i: int) -> float:
    """Median of `values` within CONTEXT of index i, i itself and NaNs left out (0: none)."""
    lo, hi = max(0, i - CONTEXT), min(len(values), i + CONTEXT + 1)
    around = np.concatenate([values[lo:i], values[i + 1:hi]])
    around = around[~np.isnan(around)]
    return float(np.median(around)) if around.size else 0.0


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each run of True in `flags`."""
    runs: list[tuple[int, int]] = []
    first = None
    for i, on in enumerate(flags):
        if on and first is None:
            first = i
        elif not on and first is not None:
            runs.append((first, i - 1))
            first = None
    if first is not None:
        runs.append((first, len(flags) - 1))
    return runs


def _events(level: np.ndarray, spread: np.ndarray, change: np.ndarray,
            standouts: list[Standout], offset: int) -> list[FrameEvent]:
    n = len(level)
    found: dict[int, FrameEvent] = {}

    def add(i: int, kind: str, measure: float) -> None:
        old = found.get(i)
        if old is None or KINDS.index(kind) < KINDS.index(old.kind):
            found[i] = FrameEvent(offset + i, kind, measure)

    blank = spread < BLANK_SPREAD
    for first, last in _runs(blank):
        # A run touching the range's ends is leader or a fade out: nothing to rebuild from.
        if first > 0 and last < n - 1 and last - first + 1 <= BLANK_RUN:
            for i in range(first, last + 1):
                add(i, "blank", float(level[i]))
    repeats = np.zeros(n, bool)
    ratio = np.zeros(n, np.float32)
    # The usual change between pictures: steps into or out of a blank frame say nothing.
    between = change.astype(np.float64)
    between[0] = np.nan
    between[1:][blank[1:] | blank[:-1]] = np.nan
    for i in range(1, n):
        usual = _window_median(between, i)
        if usual >= REPEAT_MOTION and change[i] < REPEAT_RATIO * usual:
            repeats[i] = True
            ratio[i] = change[i] / usual
    # Brightness in logs: a flash and flicker are gains, the same at any exposure.
    logs = np.log(np.maximum(level, 0.02))
    # The usual frame-to-frame flicker, steps into repeated frames left out (they are 0).
    steps = np.abs(np.diff(logs))[~repeats[1:]]
    for i, out in enumerate(standouts):
        if out.pair is None or blank[i]:
            continue
        if out.share >= DAMAGED_SHARE:
            add(i, "damaged", out.share)
        if (i > 0 and blank[i - 1]) or (i < n - 1 and blank[i + 1]):
            continue  # next to black: a fade's ramp, whose steps are no flash
        a, b = (i + k for k in out.pair)
        jump = float(logs[i] - (logs[a] + logs[b]) / 2)
        agree = abs(float(logs[a] - logs[b]))
        flicker = _window_median(steps, min(i, len(steps) - 1)) if steps.size else 0.0
        least = max(np.log1p(FLASH_MIN), FLASH_FLICKER * flicker)
        if abs(jump) > least and agree < FLASH_AGREE * abs(jump):
            add(i, "flash", float(np.expm1(jump)))
    for first, last in _runs(repeats):
        if last - first + 1 < HELD_RUN:
            for i in range(first, last + 1):
                if not blank[i]:
                    add(i, "repeated", float(ratio[i]))
    return [found[i] for i in sorted(found)]


def check_frames(
    reader: Reader,
    start: int = 0,
    end: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> FrameCheck:
    """Check frames start … end-1 (end defaults to the clip's end) of `reader`'s clip, in
    one sequential pass (see the module's docstring). `progress(done, total)` every
    PROGRESS_EVERY frames and at the end; `cancel()` polled as often, True stops by raising
    RenderCancelled. A range outside the clip raises MediaError."""
    info = reader.info
    count = int(info.frame_count)
    end = count if end is None else end
    if not 0 <= start < end <= count:
        raise MediaError(info.path, f"frame range {start}-{end - 1} is outside 0-{count - 1}")
    total = end - start
    w = max(1, min(WIDTH, info.width))
    size = (w, max(1, round(info.height * w / max(1, info.width))))
    level = np.zeros(total, np.float32)
    spread = np.zeros(total, np.float32)
    change = np.zeros(total, np.float32)
    standouts: list[Standout] = []
    recent: dict[int, _Reduced] = {}  # the last five frames: a frame and two each side
    for k in range(total):
        if k % PROGRESS_EVERY == 0:
            if cancel is not None and cancel():
                raise RenderCancelled(f"frame check cancelled at frame {start + k}")
            if progress is not None:
                progress(k, total)
        frame = _Reduced.of(reader.read_scaled(start + k, size))
        level[k] = float(frame.luma.mean())
        spread[k] = frame.spread
        if k - 1 in recent:
            change[k] = float(np.abs(frame.luma - recent[k - 1].luma).mean())
        recent[k] = frame
        recent.pop(k - 5, None)
        if k >= 2:
            standouts.append(standout(recent, k - 2))
    for i in range(max(0, total - 2), total):  # the last two: no frames after them to wait for
        standouts.append(standout(recent, i))
    if progress is not None:
        progress(total, total)
    events = _events(level, spread, change, standouts, start)
    shares = np.array([out.share for out in standouts], np.float32)
    return FrameCheck(start, end, tuple(events), level, change, shares, Fraction(info.fps),
                      info.timecode)
