"""Exact frame-rate arithmetic: which source instant each output frame shows.

Rates are `fractions.Fraction` frames per second, so 24000/1001 is exact and a 16 → 24 fps
conversion repeats its pattern every 16 source frames without drift, however long the
clip. Output frame k of a conversion sits at time k / out_fps seconds after the range's
first frame; at the source rate that is position k · in_fps / out_fps (in source frames):
its whole part n is the source frame at or before that instant, its fractional part the
phase between frames n and n + 1 (0 = exactly frame n).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

from engine.media import timecode as tc

# The NTSC-family rates people type as decimals; each means the exact x000/1001 rate.
_NTSC = {
    "23.976": Fraction(24000, 1001),
    "23.98": Fraction(24000, 1001),
    "29.97": Fraction(30000, 1001),
    "47.952": Fraction(48000, 1001),
    "59.94": Fraction(60000, 1001),
    "119.88": Fraction(120000, 1001),
}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(\d+(?:\.\d+)?)\s*)?$")
MAX_FPS = Fraction(1000)


def parse_fps(text: str) -> Fraction:
    """A frame rate typed by a user ("24", "23.976", "24000/1001", "48") as an exact Fraction.

    Raises ValueError (with a one-line reason) for anything else, zero, or above 1000 fps.
    """
    text = str(text).strip()
    if text in _NTSC:
        return _NTSC[text]
    m = _RATE.match(text)
    if not m:
        raise ValueError(f"frame rate must be a number or a ratio like 24000/1001, got {text!r}")
    num = Fraction(m[1])
    den = Fraction(m[2]) if m[2] is not None else Fraction(1)
    if den == 0 or num == 0:
        raise ValueError(f"frame rate must be positive, got {text!r}")
    fps = num / den
    if fps > MAX_FPS:
        raise ValueError(f"frame rate {float(fps):g} is above {int(MAX_FPS)} fps")
    return fps


@dataclass(frozen=True)
class Sample:
    """What output frame `output` shows: source frame `frame` (an absolute index) moved on
    by `phase` (0 <= phase < 1) of the way towards frame + 1."""

    output: int
    frame: int
    phase: Fraction

    @property
    def exact(self) -> bool:
        """True when the output is a source frame as it is (no in-between needed)."""
        return self.phase == 0


@dataclass(frozen=True)
class RetimeMap:
    """The output frames of source frames first..last (inclusive) converted in_fps → out_fps.

    The duration stays the same ((last − first + 1) / in_fps seconds), so audio of the
    same range stays in sync: the output has ceil(frames · out_fps / in_fps) frames, the
    last of which starts before the range ends.
    """

    first: int
    last: int
    in_fps: Fraction
    out_fps: Fraction

    def __post_init__(self) -> None:
        if self.in_fps <= 0 or self.out_fps <= 0:
            raise ValueError(f"frame rates must be positive, got {self.in_fps} → {self.out_fps}")
        if self.last < self.first:
            raise ValueError(f"empty frame range {self.first}-{self.last}")

    @property
    def source_frames(self) -> int:
        return self.last - self.first + 1

    @property
    def step(self) -> Fraction:
        """Source frames advanced per output frame."""
        return self.in_fps / self.out_fps

    @property
    def count(self) -> int:
        """Number of output frames."""
        return math.ceil(self.source_frames / self.step)

    @property
    def duration(self) -> Fraction:
        """Seconds covered (the same for source and output)."""
        return self.source_frames / self.in_fps

    def sample(self, k: int) -> Sample:
        """Output frame k (0-based) → source frame and phase."""
        if not 0 <= k < self.count:
            raise IndexError(f"output frame {k} is outside 0-{self.count - 1}")
        position = k * self.step
        whole = math.floor(position)
        return Sample(k, self.first + whole, position - whole)

    def __iter__(self) -> Iterator[Sample]:
        return (self.sample(k) for k in range(self.count))

    def __len__(self) -> int:
        return self.count


def retime_timecode(text: str, in_fps: Fraction, out_fps: Fraction) -> str:
    """The same start timecode counted at `out_fps`: hours, minutes and seconds are kept and
    the frame field rescaled (frames of the nominal rates; drop-frame only where the new
    rate has it)."""
    frames, drop = tc.parse(text, in_fps)
    seconds = Fraction(frames, tc.nominal_rate(in_fps))
    out_frames = math.floor(seconds * tc.nominal_rate(out_fps) + Fraction(1, 2))
    return tc.format_frames(out_frames, out_fps, drop and tc.is_drop_frame_rate(out_fps))
