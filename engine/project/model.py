"""The project: clips, their shots, per-shot recipes, output settings.

Mutable dataclasses: the UI edits them through undoable commands; the engine reads
immutable snapshots (`Clip.plan()`) so a background thread never sees a half-made edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine.project.recipe import Recipe

if TYPE_CHECKING:
    from engine.pipeline.shot_plan import ShotPlan


@dataclass
class Shot:
    """Frames `start`..`end` of a clip (0-based, inclusive).

    recipe:   this shot's own recipe, or None to use the clip's default.
    reviewed: the restorer ticked it as checked.
    """

    start: int
    end: int
    recipe: Recipe | None = None
    reviewed: bool = False
    note: str = ""

    @property
    def length(self) -> int:
        return self.end - self.start + 1


@dataclass
class Clip:
    """A source (video file, image-sequence folder or printf pattern) and its shots."""

    path: str
    frame_count: int
    shots: list[Shot] = field(default_factory=list)
    default_recipe: Recipe = field(default_factory=Recipe)

    def __post_init__(self) -> None:
        if not self.shots and self.frame_count > 0:
            self.shots = [Shot(0, self.frame_count - 1)]

    def recipe_for(self, shot: Shot) -> Recipe:
        return shot.recipe if shot.recipe is not None else self.default_recipe

    def shot_index_at(self, frame: int) -> int:
        for i, shot in enumerate(self.shots):
            if shot.start <= frame <= shot.end:
                return i
        raise IndexError(f"frame {frame} is outside the clip (0-{self.frame_count - 1})")

    def plan(self) -> ShotPlan:
        """Immutable snapshot of shots and effective recipes for the engine."""
        # Imported here: the pipeline imports project.recipe, so a top-level import cycles.
        from engine.pipeline.shot_plan import PlannedShot, ShotPlan

        return ShotPlan(
            tuple(PlannedShot(s.start, s.end, self.recipe_for(s)) for s in self.shots)
        )

    def validate(self) -> None:
        """Raise ValueError unless shots are contiguous and cover the whole clip."""
        if self.frame_count <= 0:
            raise ValueError(f"clip {self.path} has no frames")
        if not self.shots:
            raise ValueError(f"clip {self.path} has no shots")
        expected = 0
        for shot in self.shots:
            if shot.start != expected or shot.end < shot.start:
                raise ValueError(
                    f"shots of {self.path} must be contiguous and ordered "
                    f"(shot {shot.start}-{shot.end} after frame {expected - 1})"
                )
            expected = shot.end + 1
        if expected != self.frame_count:
            raise ValueError(
                f"shots of {self.path} end at frame {expected - 1}, "
                f"but the clip has {self.frame_count} frames"
            )


@dataclass
class OutputSettings:
    """Where and how the project exports.

    path:  output file, folder or pattern; relative paths are relative to the project file.
    codec: None follows the output's extension (see engine.media.output_format_for).
    """

    path: str | None = None
    codec: str | None = None
    audio: bool = True


@dataclass
class Project:
    """Everything a restorer saves. `path` is where it was loaded from / saved to."""

    clips: list[Clip] = field(default_factory=list)
    output: OutputSettings = field(default_factory=OutputSettings)
    path: Path | None = None

    @property
    def clip(self) -> Clip:
        """The first (main) clip."""
        if not self.clips:
            raise IndexError("the project has no clip")
        return self.clips[0]

    def resolve(self, path: str) -> Path:
        """A path stored in the project, made absolute against the project's folder."""
        p = Path(path).expanduser()
        if p.is_absolute() or self.path is None:
            return p
        return (self.path.parent / p).resolve()
