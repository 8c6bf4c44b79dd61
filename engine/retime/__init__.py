"""Frame-rate conversion and in-between frames (motion-compensated interpolation)."""

from engine.retime.convert import METHODS, Retimer, retime_frames
from engine.retime.interpolate import (
    Interpolator,
    Motion,
    cross_fade,
    interpolate_frame,
    rebuild_frame,
)
from engine.retime.timing import RetimeMap, Sample, parse_fps, retime_timecode

__all__ = [
    "METHODS",
    "Interpolator",
    "Motion",
    "RetimeMap",
    "Retimer",
    "Sample",
    "cross_fade",
    "interpolate_frame",
    "parse_fps",
    "rebuild_frame",
    "retime_frames",
    "retime_timecode",
]
