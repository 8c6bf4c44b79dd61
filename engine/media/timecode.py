"""SMPTE timecode strings "HH:MM:SS:FF" (";" before FF marks drop-frame), frame arithmetic.

Drop-frame applies to 30000/1001 and 60000/1001 fps only: frame numbers 0 and 1 (0-3 at
60) are skipped at the start of every minute except each tenth, so the clock tracks real
time. All other rates count frames plainly at the rounded nominal rate.
"""

from __future__ import annotations

import re
from fractions import Fraction

_TC = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")


def nominal_rate(fps: Fraction) -> int:
    """Frames counted per timecode second: the rate rounded (29.97 → 30)."""
    return max(1, round(fps))


def is_drop_frame_rate(fps: Fraction) -> bool:
    """Whether drop-frame counting exists for this rate (29.97 and 59.94 fps)."""
    return fps in (Fraction(30000, 1001), Fraction(60000, 1001))


def parse(text: str, fps: Fraction) -> tuple[int, bool]:
    """``"HH:MM:SS:FF"`` → (frame number since 00:00:00:00, drop_frame).

    Raises ValueError for malformed text or fields out of range at ``fps``.
    """
    m = _TC.match(text.strip())
    if not m:
        raise ValueError(f"timecode {text!r} is not HH:MM:SS:FF")
    hh, mm, ss, sep, ff = int(m[1]), int(m[2]), int(m[3]), m[4], int(m[5])
    base = nominal_rate(fps)
    if mm > 59 or ss > 59 or ff >= base:
        raise ValueError(f"timecode {text!r} is out of range at {float(fps):g} fps")
    drop = sep in ";," and is_drop_frame_rate(fps)
    total_minutes = 60 * hh + mm
    frames = (total_minutes * 60 + ss) * base + ff
    if drop:
        skip = 2 * base // 30
        frames -= skip * (total_minutes - total_minutes // 10)
    return frames, drop


def format_frames(frames: int, fps: Fraction, drop_frame: bool = False) -> str:
    """Frame number since 00:00:00:00 → ``"HH:MM:SS:FF"`` (wraps at 24 hours)."""
    base = nominal_rate(fps)
    drop = drop_frame and is_drop_frame_rate(fps)
    if drop:
        skip = 2 * base // 30
        per_10min = 10 * 60 * base - 9 * skip
        per_min = 60 * base - skip
        tens, rem = divmod(frames, per_10min)
        extra = 0 if rem < skip else skip * ((rem - skip) // per_min)
        frames = frames + 9 * skip * tens + extra
    day = 24 * 3600 * base
    frames %= day
    ff = frames % base
    secs = frames // base
    sep = ";" if drop else ":"
    return f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}{sep}{ff:02d}"


def add_frames(text: str, offset: int, fps: Fraction) -> str:
    """Timecode ``offset`` frames after ``text`` (same drop-frame mode)."""
    frames, drop = parse(text, fps)
    return format_frames(frames + offset, fps, drop)


def clip_timecode(index: int, fps: Fraction, start: str | None = None) -> str:
    """Timecode of frame `index` (0-based) of a clip whose frame 0 is at `start` (None:
    00:00:00:00), at `fps` frames per second. A malformed `start` counts from zero."""
    if start:
        try:
            return add_frames(start, index, fps)
        except ValueError:
            pass
    return format_frames(index, fps)
