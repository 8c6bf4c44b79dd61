"""Cutting an export into chunks at shot boundaries.

A chunk is a run of consecutive output frames inside one shot, at most ``max_frames``
long. Chunks never straddle a cut, so a worker that renders one reads source frames of a
single shot only; long shots are cut into equal pieces (not K, K, …, remainder) so the
last piece of a shot is not a tiny straggler.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.pipeline import ShotPlan
from engine.retime import RetimeMap

DEFAULT_CHUNK_FRAMES = 144
"""Frames per chunk at most (6 s at 24 fps): long enough that a chunk's start-up (opening
the source, warming the temporal windows of its first frames) costs a few per cent, short
enough that a lost chunk costs little and a film has hundreds to spread over the nodes."""


@dataclass(frozen=True)
class Chunk:
    """Output frames `first`..`last` (inclusive, 0-based output numbers: 0 is the job's
    first frame) rendered as one task; `index` orders the chunks in the output."""

    index: int
    first: int
    last: int

    @property
    def frames(self) -> int:
        return self.last - self.first + 1


def _even_pieces(first: int, last: int, max_frames: int) -> list[tuple[int, int]]:
    """first..last (inclusive) cut into the fewest pieces of at most max_frames, sizes
    differing by at most one frame."""
    length = last - first + 1
    count = -(-length // max_frames)
    base, extra = divmod(length, count)
    pieces = []
    at = first
    for i in range(count):
        size = base + (1 if i < extra else 0)
        pieces.append((at, at + size - 1))
        at += size
    return pieces


def plan_chunks(plan: ShotPlan, start: int, end: int, max_frames: int = DEFAULT_CHUNK_FRAMES,
                rmap: RetimeMap | None = None) -> list[Chunk]:
    """The chunks of the export of source frames start..end (inclusive) under `plan`.

    With `rmap` (a frame-rate conversion) the chunks cover its output frames, grouped by
    the shot of the source frame each one starts from (an in-between never mixes two
    shots: the retimer repeats the nearer frame at a cut). Raises ValueError for
    max_frames < 1 or a range outside the plan.
    """
    if max_frames < 1:
        raise ValueError(f"chunk length must be at least 1 frame, got {max_frames}")
    if not plan.first <= start <= end <= plan.last:
        raise ValueError(f"frames {start}-{end} are outside the shots ({plan.first}-"
                         f"{plan.last})")
    runs: list[tuple[int, int]] = []  # (first, last) output frames of each shot's part
    if rmap is None:
        for shot in plan.shots:
            a, b = max(shot.start, start), min(shot.end, end)
            if a <= b:
                runs.append((a - start, b - start))
    else:
        run_start, run_shot = 0, plan.shot_at(rmap.sample(0).frame)
        for k in range(1, rmap.count):
            shot = plan.shot_at(rmap.sample(k).frame)
            if shot is not run_shot:
                runs.append((run_start, k - 1))
                run_start, run_shot = k, shot
        runs.append((run_start, rmap.count - 1))
    chunks = []
    for a, b in runs:
        for first, last in _even_pieces(a, b, max_frames):
            chunks.append(Chunk(len(chunks), first, last))
    return chunks
