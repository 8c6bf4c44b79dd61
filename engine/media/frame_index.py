"""Frame index ↔ presentation timestamp (pts) of a video stream: the one place that maps them.

Frames are numbered 0, 1, 2 … in presentation order (B-frame reordering does not matter).
Two ways to build the map, the cheapest that is trustworthy:

1. **Constant rate, from the container's own sample index** (MP4/MOV, AVI, …): when the
   stream's index entries (read from the header, no packet data touched) count exactly
   the announced frames and their timestamps advance by one frame duration each, frame i
   has pts ``first_pts + i * step``. Cost: one pass over the entries in numpy, about
   0.1 s for 170,000 frames. The Reader verifies every decoded pts against the formula and
   rebuilds the map by scanning (2.) if one ever disagrees.
2. **Packet scan** (Matroska, variable frame rate, no header index): demux every packet of
   the video stream without decoding it and sort their pts. Reads the whole file once.

A variable-frame-rate stream is indexed the same way (by presentation order) and its fps
reported as the average.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from engine.errors import MediaError

log = logging.getLogger(__name__)


@dataclass
class FrameIndex:
    """Presentation timestamps (in the stream's time_base) of every frame, in order.

    ``step`` is set for a constant-rate map (pts = first + i * step); otherwise ``pts``
    holds every frame's timestamp explicitly. ``keyframes`` (frame indices), when known,
    lets the Reader decide whether decoding forward beats seeking.
    """

    count: int
    first: int
    step: int | None
    pts: np.ndarray | None = None
    keyframes: np.ndarray | None = None
    variable_rate: bool = False
    method: str = "scan"
    _lookup: dict[int, int] = field(default_factory=dict, repr=False)

    def pts_of(self, index: int) -> int:
        """pts (stream time_base units) of frame ``index`` (0-based)."""
        if self.step is not None:
            return self.first + index * self.step
        assert self.pts is not None
        return int(self.pts[index])

    def index_of(self, pts: int) -> int | None:
        """Frame index whose pts is exactly ``pts``; None when no frame has it."""
        if self.step is not None:
            offset = pts - self.first
            if offset % self.step:
                return None
            i = offset // self.step
            return i if 0 <= i < self.count else None
        if not self._lookup:
            assert self.pts is not None
            self._lookup = {int(p): i for i, p in enumerate(self.pts.tolist())}
        return self._lookup.get(pts)

    def keyframe_at_or_before(self, index: int) -> int | None:
        """Index of the last keyframe at or before ``index``, when keyframes are known."""
        if self.keyframes is None or len(self.keyframes) == 0:
            return None
        k = int(np.searchsorted(self.keyframes, index, "right")) - 1
        return int(self.keyframes[k]) if k >= 0 else None


def _step_for(stream: av.video.stream.VideoStream) -> int | None:
    rate = stream.average_rate or stream.guessed_rate
    tb = stream.time_base
    if not rate or not tb:
        return None
    step = 1 / (Fraction(rate) * Fraction(tb))
    return int(step) if step.denominator == 1 and step > 0 else None


def from_container_index(stream: av.video.stream.VideoStream, file_size: int) -> FrameIndex | None:
    """Constant-rate map from the header's sample index, or None when it is not usable
    (no such index, count mismatch, uneven timestamps). MediaError "truncated" when the
    index points past the end of the file."""
    announced = stream.frames
    entries = stream.index_entries
    if announced <= 1 or len(entries) != announced:
        return None
    step = _step_for(stream)
    if step is None:
        return None
    if any(e.is_discard for e in entries):
        return None  # an edit list hides some samples: count what is really presented
    ts = np.fromiter((e.timestamp for e in entries), dtype=np.int64, count=announced)
    diffs = np.diff(ts)
    if not np.all(diffs == step):
        return None
    last = entries[announced - 1]
    if last.pos + last.size > file_size:
        have = int(np.searchsorted(
            np.fromiter((e.pos + e.size for e in entries), dtype=np.int64, count=announced),
            file_size, "right"))
        raise MediaError(
            stream.container.name,
            f"truncated: the header lists {announced} frames but the data ends after "
            f"about {have}",
        )
    first = stream.start_time if stream.start_time is not None else int(ts[0])
    keys = np.fromiter((i for i, e in enumerate(entries) if e.is_keyframe), dtype=np.int64)
    # Timestamps in the index are decode times; with B-frames a keyframe's display
    # position can differ by a few frames, so keyframes are only a hint here.
    return FrameIndex(announced, int(first), step, keyframes=keys, method="container index")


def by_packet_scan(container: av.container.InputContainer,
                   stream: av.video.stream.VideoStream, path: Path) -> FrameIndex:
    """Map built by demuxing every packet of ``stream`` (no decoding)."""
    pts_list: list[int] = []
    key_pts: list[int] = []
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_discard:
                continue
            p = packet.pts if packet.pts is not None else packet.dts
            if p is None:
                continue
            pts_list.append(p)
            if packet.is_keyframe:
                key_pts.append(p)
    except av.FFmpegError as exc:
        log.warning("%s: index scan stopped early (%s); later frames are unreachable",
                    path, exc)
    if not pts_list:
        raise MediaError(path, "no video frames (0-frame file)")
    pts = np.unique(np.asarray(pts_list, dtype=np.int64))
    if len(pts) != len(pts_list):
        log.warning("%s: %d packets share a timestamp; duplicates dropped",
                    path, len(pts_list) - len(pts))
    keys = np.searchsorted(pts, np.asarray(sorted(key_pts), dtype=np.int64))
    diffs = np.diff(pts)
    step = _step_for(stream)
    uniform = len(diffs) == 0 or bool(np.all(diffs == diffs[0]))
    variable = not uniform and len(diffs) > 0 and int(diffs.max()) - int(diffs.min()) > 1
    idx = FrameIndex(len(pts), int(pts[0]), None, pts=pts, keyframes=keys.astype(np.int64),
                     variable_rate=variable, method="packet scan")
    if uniform and len(diffs) and step is not None and int(diffs[0]) == step:
        idx.step = step
    return idx
