"""What the detector returns (`Cut`) and how cuts become shots."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.errors import NitrateError

KINDS = ("hard", "dissolve", "fade")


@dataclass(frozen=True)
class Cut:
    """A shot boundary.

    frame:      first frame of the new shot (0-based index into the clip)
    kind:       "hard" (from one frame to the next), "fade" (through black; `frame` is
                the first frame after the black, where the fade-in starts, ±1 frame as the
                first fade-in frame may itself be nearly black) or "dissolve" (a gradual
                mix; reserved: the detector does not find dissolves yet)
    confidence: 0-1; 0.5 is the detection threshold at the sensitivity used, 1 is a
                boundary no setting would miss
    """

    frame: int
    kind: str
    confidence: float


class ShotError(NitrateError):
    """Shot detection was asked something impossible (bad range, bad cut list)."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"shot detection: {problem}")


def shots_from_cuts(frame_count: int, cuts: Sequence[Cut | int]) -> list[tuple[int, int]]:
    """Shots as (first_frame, last_frame) pairs, both inclusive, covering 0 … frame_count-1.

    `cuts` are `Cut`s or plain frame indices (the first frame of each new shot), in any
    order; duplicates and a cut at frame 0 are harmless. A cut at or beyond `frame_count`
    or below 0 raises ShotError: it belongs to another clip.
    """
    if frame_count < 0:
        raise ShotError(f"frame count must be at least 0, got {frame_count}")
    starts: set[int] = set()
    for c in cuts:
        frame = c.frame if isinstance(c, Cut) else int(c)
        if not 0 <= frame < max(frame_count, 1):
            raise ShotError(f"cut at frame {frame} is outside the clip (0-{frame_count - 1})")
        if frame > 0:
            starts.add(frame)
    if frame_count == 0:
        return []
    bounds = [0, *sorted(starts), frame_count]
    return [(a, b - 1) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
