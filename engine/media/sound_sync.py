"""Sound sync: how far a clip's sound is moved against its picture, as a restorer types it
and reads it.

Sound scanned or transferred apart from the picture is often out of step: a print's
sound runs ahead of its picture by the sound advance (35 mm optical 21 frames, 16 mm
optical 26 and magnetic 28, Super 8 magnetic 18 and optical 22), so a soundtrack read from
the scanned frames must be moved that much later; a separate magnetic track starts where
it was laced; a transfer drifts by a frame. Nitrate keeps one offset per clip, in seconds (positive: the sound is moved
later), applied by every export and shown by the timeline's waveform.
"""

from __future__ import annotations

import re
from fractions import Fraction

MAX_OFFSET_S = 60.0
"""The largest offset accepted either way (seconds): more is no sync fault but a wrong file."""

_OFFSET = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*(ms|s|f|frames?)?\s*$", re.IGNORECASE)


def parse_sound_offset(text: str, fps: Fraction) -> float:
    """`text` ("40ms", "40" (milliseconds), "-2f", "-2 frames", "0.5s") at the clip's rate
    `fps` → seconds; ValueError with a one-line reason otherwise."""
    match = _OFFSET.match(text)
    if match is None:
        raise ValueError(f"sound offset '{text}' is not a number of ms, s or frames "
                         "(e.g. 40ms, -2f, 0.5s)")
    value, unit = float(match.group(1)), (match.group(2) or "ms").lower()
    seconds = value / 1000.0 if unit == "ms" else value if unit == "s" else value / float(fps)
    check_sound_offset(seconds)
    return seconds


def check_sound_offset(seconds: float) -> None:
    """ValueError unless `seconds` is a usable offset (finite, within MAX_OFFSET_S)."""
    if not abs(seconds) <= MAX_OFFSET_S:
        raise ValueError(f"sound offset {seconds:g} s is beyond ±{MAX_OFFSET_S:g} s")


def describe_sound_offset(seconds: float, fps: Fraction) -> str:
    """"sound 83 ms (2 frames) later", "sound 40 ms (0.96 frames) earlier", "sound in sync"."""
    if seconds == 0:
        return "sound in sync"
    frames = abs(seconds) * float(fps)
    count = f"{frames:.0f}" if abs(frames - round(frames)) < 0.005 else f"{frames:.2f}"
    unit = "frame" if count == "1" else "frames"
    way = "later" if seconds > 0 else "earlier"
    return f"sound {abs(seconds) * 1000:.0f} ms ({count} {unit}) {way}"
