"""The shots as a CMX 3600 edit decision list, to bring Nitrate's cuts into an editing or
grading system (Resolve, Avid, Premiere import EDLs) or to conform the restored master.

One event per shot, a straight cut, video only, reel "AX" (a file, not a tape) with the
clip's name in a ``* FROM CLIP NAME:`` line, as editing systems write for files. Source
and record timecodes are the same: an export keeps the source's start timecode, so the
restored master lines up with the list as the scan does. Out points are exclusive (the
first frame after the shot), as CMX 3600 counts them. A shot's note becomes a
``* COMMENT:`` line, and a reviewed shot says so. Drop-frame timecode (29.97 and 59.94 fps
sources whose timecode says so) is written with ";" and ``FCM: DROP FRAME``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from engine.atomic_file import atomic_write_text
from engine.errors import NitrateError
from engine.media import timecode as tc

REEL = "AX"
"""CMX 3600 reel name of a file-based source."""
MAX_EVENTS = 999
"""Events a CMX 3600 list can number (three digits)."""


@dataclass(frozen=True)
class ListedShot:
    """A shot for the list: frames `start`..`end` (inclusive, 0-based), its note and
    reviewed tick."""

    start: int
    end: int
    note: str = ""
    reviewed: bool = False


def edl_text(shots: Sequence[ListedShot], fps: Fraction, clip_name: str, title: str,
             start_timecode: str | None = None) -> str:
    """The CMX 3600 list of `shots` of a clip at `fps` frames per second whose frame 0 is
    at `start_timecode` (None: 00:00:00:00). Raises ValueError beyond MAX_EVENTS shots or
    for a malformed timecode."""
    if len(shots) > MAX_EVENTS:
        raise ValueError(f"{len(shots)} shots: a CMX 3600 list holds at most {MAX_EVENTS}")
    origin, drop = tc.parse(start_timecode, fps) if start_timecode else (0, False)

    def code(frame: int) -> str:
        return tc.format_frames(origin + frame, fps, drop)

    lines = [f"TITLE: {_one_line(title)}",
             f"FCM: {'DROP FRAME' if drop else 'NON-DROP FRAME'}", ""]
    for number, shot in enumerate(shots, start=1):
        start, end = code(shot.start), code(shot.end + 1)
        lines.append(f"{number:03d}  {REEL:<8} V     C        {start} {end} {start} {end}")
        lines.append(f"* FROM CLIP NAME: {_one_line(clip_name)}")
        if shot.note.strip():
            lines.append(f"* COMMENT: {_one_line(shot.note)}")
        if shot.reviewed:
            lines.append("* COMMENT: REVIEWED IN NITRATE")
        lines.append("")
    return "\n".join(lines)


def _one_line(text: str) -> str:
    """`text` on one line: an EDL is read line by line."""
    return " ".join(text.split())


def write_edl(path: str | Path, text: str) -> Path:
    """Write `text` to `path` atomically; NitrateError naming the file when it cannot be."""
    path = Path(path)
    if not path.parent.is_dir():
        raise NitrateError(f"{path}: the folder {path.parent} does not exist")
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise NitrateError(f"{path}: cannot be written ({exc.strerror or exc})") from None
    return path
