"""What ``probe`` reports about a video file or an image sequence."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

MAX_SIDE = 16384
"""Largest accepted width or height, in pixels (beyond 16K scans nothing sane is filmed)."""
MAX_PIXELS = 2**28
"""Largest accepted frame area, in pixels (268 Mpx: one float32 RGB frame is 3 GiB)."""


@dataclass(frozen=True)
class AudioStreamInfo:
    """One audio stream: its container index, codec, rate (Hz), channels, length (s)."""

    index: int
    codec: str
    sample_rate: int
    channels: int
    duration: float | None


@dataclass(frozen=True)
class MediaInfo:
    """A video file (``kind == "video"``) or an image sequence (``kind == "sequence"``).

    ``width``/``height`` in pixels; ``fps`` frames per second as an exact Fraction (for a
    variable-frame-rate file: the average, with ``variable_frame_rate`` set);
    ``frame_count`` frames; ``duration`` seconds (frame_count / fps); ``bit_depth`` bits
    per component of the stored pixels; colour tags are FFmpeg's names ("bt709", "tv",
    "unknown", …); ``timecode`` "HH:MM:SS:FF" of frame 0 (";" before FF when drop-frame)
    or None; ``rotation`` degrees counter-clockwise from the display-matrix metadata
    (reported, not applied by the Reader); ``field_order`` "progressive", "tt"/"bb"
    (interlaced, top/bottom field first, coded in that order), "tb"/"bt" (coded in the
    other order) or "unknown" -- reported only: frames are processed as progressive
    pictures (both fields together), never deinterlaced; ``first_number`` is the number in the first
    file's name for sequences (0 for video files); ``comment`` the container's comment tag
    ("" when none: a Nitrate export's provenance is there). For sequences ``path`` is the folder or
    the printf pattern that was opened and ``codec`` the image format ("dpx", "png", …).
    """

    path: Path
    kind: str
    width: int
    height: int
    fps: Fraction
    frame_count: int
    duration: float
    pix_fmt: str
    bit_depth: int
    codec: str
    color_range: str
    color_space: str
    color_primaries: str
    color_trc: str
    timecode: str | None
    audio: tuple[AudioStreamInfo, ...]
    variable_frame_rate: bool
    rotation: int
    first_number: int
    field_order: str = "progressive"
    comment: str = ""
