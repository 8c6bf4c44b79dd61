"""Removing a transfer's repeated frames (`nitrate repeats`, Clip ▸ Remove repeated
frames…): the film's own frames, at the film's own rate.

A silent film shot at 16-20 fps was often transferred to video or to a 24 fps file by
repeating one frame in every few (18 fps at 24: one in 4): the motion stutters at that
rhythm, and every temporal operator sees a frame that does not move. The frame check
(`engine.qc`) finds the repeats and their cadence; this writes the other frames to a new
file (`engine.render.intermediate`: atomically, FFV1 by default, the sound kept) at the
rate that keeps the clip's duration: 48 frames at 24 fps with 10 repeats give 38 frames at
19 fps. The restoration starts from that file; a `--fps 24 --retime motion` export later
makes in-betweens where the repeats were, if a 24 fps master is wanted.

Only repeats at a regular cadence are removed: a few scattered ones are a scanner's
stutter or stand in for lost frames, and taking them out would shorten the picture
against its sound (rebuild them instead: Frame check ▸ Rebuild selected), unless forced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from engine.errors import MediaError
from engine.media import Reader, VideoReader
from engine.qc import FrameCheck, check_frames
from engine.render.export import direct_obstacle
from engine.render.intermediate import transfer, write_intermediate

RATE_STEP = Fraction(1, 1000)
"""The duration-keeping rate is rounded to this (fps): over an hour, the picture's length
then differs from the sound's by less than a tenth of a second."""


@dataclass(frozen=True)
class RepeatPlan:
    """The frames kept from a transfer with repeats: output frame k is source frame
    `frames[k]`; `removed` the repeats left out; `fps` the new rate (the duration kept)."""

    frames: tuple[int, ...]
    removed: tuple[int, ...]
    fps: Fraction
    source_frames: int
    source_fps: Fraction

    def describe(self) -> str:
        return (f"repeated frames removed: {self.source_frames} frames at "
                f"{float(self.source_fps):.3g} fps → {len(self.frames)} film frames at "
                f"{float(self.fps):.3f} fps ({len(self.removed)} repeats left out)")


def plan_repeats(check: FrameCheck, source: Path, force: bool = False,
                 rate: Fraction | None = None) -> RepeatPlan:
    """The frames of the checked range to keep: all but the repeats of its cadence
    (`FrameCheck.cadence_repeats`, those the check could not see included), at `rate`, by
    default the rate that keeps the range's duration. A MediaError naming `source`
    when there are no repeats, or when they come at no regular cadence and not `force`
    (then the repeats the check saw are left out)."""
    seen = tuple(e.frame for e in check.events if e.kind == "repeated")
    if not seen:
        raise MediaError(source, "the frame check found no repeated frames; nothing was "
                         "written")
    removed = check.cadence_repeats()
    if not removed:
        if not force:
            raise MediaError(source, f"repeated frames ({len(seen)}) but at no regular "
                             "cadence: a scanner's stutter or lost frames, to rebuild instead "
                             "(Frame check ▸ Rebuild selected); nothing was written")
        removed = seen
    gone = set(removed)
    kept = tuple(f for f in range(check.start, check.end) if f not in gone)
    total = check.end - check.start
    if rate is None:
        rate = check.fps * len(kept) / total
        rate = Fraction(round(rate / RATE_STEP)) * RATE_STEP
    return RepeatPlan(kept, removed, Fraction(rate), total, check.fps)


def _kept(reader: Reader, plan: RepeatPlan, decoded: bool
          ) -> Iterator[np.ndarray | av.VideoFrame]:
    """The kept frames: as decoded (for one conversion to the encoder's format, exact and
    fast) when `decoded`, else float RGB."""
    for index in plan.frames:
        if decoded:
            assert isinstance(reader, VideoReader)
            yield reader.decoded(index)
        else:
            yield reader.read(index)


def remove_repeats(source: Path, output: Path, codec: str | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   cancelled: Callable[[], bool] = lambda: False,
                   force: bool = False, rate: Fraction | None = None) -> RepeatPlan:
    """Check `source` and write its frames but the repeated ones to `output` (format by its
    extension, or `codec`) at `rate`, by default the rate that keeps its duration (a rate
    given instead, the film's nominal 18 fps, makes the picture a little longer or shorter
    than its sound); `progress(done, total)` counts the frames checked, then those written.
    RenderCancelled when `cancelled()` turns true (nothing is left behind); a MediaError
    when there is no regular cadence of repeats to remove (see `plan_repeats`)."""
    source, output = Path(source), Path(output)
    with transfer(source, output, codec) as (reader, fmt):
        info = reader.info
        n = info.frame_count

        def checked(done: int, _total: int) -> None:
            if progress is not None:
                progress(done, 2 * n)

        check = check_frames(reader, progress=checked, cancel=cancelled)
        plan = plan_repeats(check, source, force, rate)
        total = n + len(plan.frames)

        def written(k: int) -> None:
            if progress is not None:
                progress(n + k + 1, total)

        decoded = isinstance(reader, VideoReader) and direct_obstacle(info, fmt) is None
        write_intermediate(info, output, fmt, _kept(reader, plan, decoded), len(plan.frames),
                           plan.fps, plan.describe(), "repeat removal", written, cancelled)
    return plan
