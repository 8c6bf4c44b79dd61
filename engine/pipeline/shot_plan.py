"""ShotPlan: an immutable snapshot of one clip's shots and their effective recipes."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from engine.project.model import Repair
from engine.project.recipe import Recipe


@dataclass(frozen=True)
class PlannedShot:
    """Frames `start`..`end` (inclusive, 0-based) processed with `recipe`.

    repairs: the manual repairs inside the shot (clipped to it, in frame order): those
             that rebuild picture run as a first stage before the recipe; protections keep
             their regions out of the recipe's spot repairs (dust, scratches).
    """

    start: int
    end: int
    recipe: Recipe
    repairs: tuple[Repair, ...] = ()

    @property
    def rebuilds(self) -> tuple[Repair, ...]:
        """The repairs that rebuild frames or regions (not protections)."""
        return tuple(r for r in self.repairs if not r.protect)

    @property
    def protections(self) -> tuple[Repair, ...]:
        """The regions (or whole frames) protected from the spot repairs."""
        return tuple(r for r in self.repairs if r.protect)

    @property
    def length(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class ShotPlan:
    """Contiguous shots covering a clip, in order. Built from a Project, or directly."""

    shots: tuple[PlannedShot, ...]

    def __post_init__(self) -> None:
        if not self.shots:
            raise ValueError("a shot plan needs at least one shot")
        for a, b in zip(self.shots, self.shots[1:], strict=False):
            if b.start != a.end + 1:
                raise ValueError(f"shots must be contiguous: {a.start}-{a.end} then {b.start}-{b.end}")
        object.__setattr__(self, "_starts", [s.start for s in self.shots])

    @classmethod
    def single(cls, frame_count: int, recipe: Recipe) -> ShotPlan:
        """One shot over the whole clip."""
        return cls((PlannedShot(0, frame_count - 1, recipe),))

    @classmethod
    def from_cuts(cls, frame_count: int, cuts: list[int], recipe: Recipe) -> ShotPlan:
        """Shots starting at 0 and at each cut frame (the first frame of a new shot)."""
        starts = [0] + sorted(c for c in set(cuts) if 0 < c < frame_count)
        ends = [s - 1 for s in starts[1:]] + [frame_count - 1]
        return cls(tuple(PlannedShot(s, e, recipe) for s, e in zip(starts, ends, strict=True)))

    @property
    def first(self) -> int:
        return self.shots[0].start

    @property
    def last(self) -> int:
        return self.shots[-1].end

    def shot_at(self, index: int) -> PlannedShot:
        """The shot containing frame `index`; IndexError outside the plan."""
        if not self.first <= index <= self.last:
            raise IndexError(f"frame {index} is outside {self.first}-{self.last}")
        pos = bisect.bisect_right(self._starts, index) - 1  # type: ignore[attr-defined]
        return self.shots[pos]

    def with_recipe(self, recipe: Recipe) -> ShotPlan:
        """Same shots (and repairs), every one with `recipe`."""
        return ShotPlan(tuple(PlannedShot(s.start, s.end, recipe, s.repairs)
                              for s in self.shots))

    def with_repairs(self, repairs: Iterable[Repair]) -> ShotPlan:
        """Same shots and recipes, with `repairs` added, each clipped to the shots it touches
        (so a repair never reads across a cut)."""
        repairs = tuple(repairs)
        out = []
        for s in self.shots:
            clipped = [c for r in repairs if (c := r.clipped(s.start, s.end)) is not None]
            merged = tuple(sorted((*s.repairs, *clipped), key=lambda r: (r.start, r.end)))
            out.append(PlannedShot(s.start, s.end, s.recipe, merged))
        return ShotPlan(tuple(out))

    def max_radius(self) -> int:
        """Largest total temporal radius over all shots (frames each side)."""
        from engine.pipeline.evaluator import total_radius

        return max(total_radius(s.recipe) for s in self.shots)
