"""The project: clips, their shots, per-shot recipes, output settings.

Mutable dataclasses: the UI edits them through undoable commands; the engine reads
immutable snapshots (`Clip.plan()`) so a background thread never sees a half-made edit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import ProjectError
from engine.framing import Framing
from engine.media.sequence import media_exists
from engine.media.sound_sync import check_sound_offset
from engine.project.recipe import Recipe

if TYPE_CHECKING:
    from engine.pipeline.shot_plan import ShotPlan


@dataclass(frozen=True)
class Repair:
    """A manual repair: frames `start`..`end` (0-based, inclusive) marked by the restorer.

    region:  (x, y, width, height) in source pixels to rebuild, or None when the whole frame
             is destroyed (torn, burnt, missing) and is rebuilt from the nearest good frames.
    note:    the restorer's reason, kept for the processing report.
    protect: the opposite mark: the region (or the whole frame) is picture the automatic
             spot repairs (dust, scratches) must leave as scanned — water, fire, smoke,
             rain, a flash — where they would take real picture for dirt.
    track:   where the region follows the picture (a pan over water), its offset (dx, dy)
             in source pixels on each of frames start..end (engine.ops.track measures it);
             empty when it stays where it was drawn, as damage in the gate does.

    Repaired frames are rebuilt from their motion-compensated neighbours inside the shot
    (never across a cut), as the first stage of the pipeline. Protected pixels come out of
    every spot-repair stage exactly as they went in.
    """

    start: int
    end: int
    region: tuple[int, int, int, int] | None = None
    note: str = ""
    protect: bool = False
    track: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"repair {name} must be a frame index, got {value!r}")
        if not isinstance(self.protect, bool):
            raise ValueError(f"repair protect must be true or false, got {self.protect!r}")
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"repair frames {self.start}-{self.end} are not a valid range "
                             "(0-based, first <= last)")
        if self.region is not None:
            region = tuple(self.region)
            if len(region) != 4 or any(isinstance(v, bool) or not isinstance(v, int)
                                       for v in region):
                raise ValueError(f"repair region must be four whole numbers x, y, width, "
                                 f"height (pixels), got {self.region!r}")
            x, y, w, h = region
            if x < 0 or y < 0 or w < 1 or h < 1:
                raise ValueError(f"repair region {x},{y},{w},{h} needs x, y >= 0 and a "
                                 "width and height of at least 1 pixel")
            object.__setattr__(self, "region", region)
        if self.track:
            self._check_track()

    def _check_track(self) -> None:
        if self.region is None:
            raise ValueError("only a region can be tracked, not a whole frame")
        try:
            track = tuple((dx, dy) for dx, dy in self.track)
        except (TypeError, ValueError):
            track = ()
        if len(track) != len(self.frames) or any(
                isinstance(v, bool) or not isinstance(v, int) for pair in track for v in pair):
            raise ValueError(f"a tracked region needs one whole-pixel offset dx, dy for each "
                             f"of its {len(self.frames)} frames, got {len(self.track)}")
        object.__setattr__(self, "track", track)

    @classmethod
    def parse(cls, text: str, note: str = "", protect: bool = False) -> Repair:
        """A repair (or with `protect`, a protection) from its command-line form:
        FRAMES[@X,Y,W,H], FRAMES being one frame (`120`) or an inclusive range (`300-302`),
        the region in source pixels (`300-302@40,60,80,50`); no region = the whole frame.
        ValueError explains a bad one."""
        frames, at, region_text = text.strip().partition("@")
        first, dash, last = frames.partition("-")
        try:
            start = int(first)
            end = int(last) if dash else start
        except ValueError:
            raise ValueError(f"repair '{text}': frames must be N or FIRST-LAST "
                             "(0-based, inclusive)") from None
        region = None
        if at:
            try:
                values = tuple(int(v) for v in region_text.split(","))
            except ValueError:
                values = ()
            if len(values) != 4:
                raise ValueError(f"repair '{text}': the region must be X,Y,WIDTH,HEIGHT "
                                 "(whole pixels)")
            region = values
        return cls(start, end, region, note, protect)  # type: ignore[arg-type]

    @property
    def frames(self) -> range:
        return range(self.start, self.end + 1)

    @property
    def kind(self) -> str:
        """'protection' or 'repair', as the restorer reads it in messages and lists."""
        return "protection" if self.protect else "repair"

    @property
    def whole_frame(self) -> bool:
        return self.region is None

    def covers(self, frame: int) -> bool:
        return self.start <= frame <= self.end

    def region_at(self, frame: int) -> tuple[int, int, int, int] | None:
        """The region (x, y, width, height, source pixels) on `frame`, moved by its track;
        x and y may fall below 0 where the picture followed leaves the frame (the pixel
        rectangle is clipped: engine.ops.region.region_rect). None for a whole frame."""
        if self.region is None or not self.track:
            return self.region
        x, y, w, h = self.region
        dx, dy = self.track[min(max(frame, self.start), self.end) - self.start]
        return x + dx, y + dy, w, h

    def clipped(self, first: int, last: int) -> Repair | None:
        """The part of this repair inside frames first..last (a shot), or None."""
        start, end = max(self.start, first), min(self.end, last)
        if start > end:
            return None
        if (start, end) == (self.start, self.end):
            return self
        track = self.track[start - self.start:end - self.start + 1]
        return Repair(start, end, self.region, self.note, self.protect, track)

    def describe(self) -> str:
        """'frames 120-125, region 40,60 80x50 px' (for reports and the CLI), ending in
        ' protected' for a protection."""
        frames = f"frame {self.start}" if self.start == self.end else \
            f"frames {self.start}-{self.end}"
        if self.region is None:
            return f"{frames}, whole frame " + ("protected" if self.protect else "rebuilt")
        x, y, w, h = self.region
        return (f"{frames}, region {x},{y} {w}x{h} px" + (" protected" if self.protect else "")
                + (", following the picture" if self.track else ""))


def rebuilt_frames(repairs: Iterable[Repair]) -> set[int]:
    """The frames whole-frame repairs among `repairs` rebuild from their neighbours."""
    return {f for r in repairs if r.whole_frame and not r.protect for f in r.frames}

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
    """A source (video file, image-sequence folder or printf pattern) and its shots.

    display_lut: the LUT the workstation shows the clip through (a bundled LUT's name, or
    a .cube file's path, relative to the project's folder when below it); "" shows the
    frames as they are. It changes only what is seen: exports, stills and scopes use the
    frames themselves (a LUT the export should apply is a `lut` step of the recipe).
    audio_offset: seconds the clip's sound is moved later against its picture (negative:
    earlier), to put right sound scanned or transferred out of sync
    (`engine.media.sound_sync`); every export applies it.
    """

    path: str
    frame_count: int
    shots: list[Shot] = field(default_factory=list)
    default_recipe: Recipe = field(default_factory=Recipe)
    repairs: list[Repair] = field(default_factory=list)
    display_lut: str = ""
    audio_offset: float = 0.0

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

        return ShotPlan(tuple(
            PlannedShot(s.start, s.end, self.recipe_for(s), self.repairs_in(s.start, s.end))
            for s in self.shots
        ))

    def repairs_in(self, first: int, last: int) -> tuple[Repair, ...]:
        """The repairs touching frames first..last, clipped to them (a repair that spans a
        cut becomes one repair per shot, so none reads across the cut), in frame order."""
        clipped = (r.clipped(first, last) for r in self.repairs)
        return tuple(sorted((r for r in clipped if r is not None),
                            key=lambda r: (r.start, r.end)))

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
        check_sound_offset(self.audio_offset)
        for repair in self.repairs:
            if repair.end >= self.frame_count:
                raise ValueError(
                    f"{repair.kind} of {repair.describe()} of {self.path} lies beyond the clip's "
                    f"last frame {self.frame_count - 1}"
                )


@dataclass
class OutputSettings:
    """Where and how the project exports.

    path:   output file, folder or pattern; relative paths are relative to the project file.
    codec:  None follows the output's extension (see engine.media.output_format_for).
    fps:    output frame rate as text ("24", "24000/1001"); None keeps the source's rate.
    retime: how in-between frames are made when the rate changes: "motion" | "blend" |
            "nearest" (see engine.retime).
    framing: the picture area kept and the output size (see engine.framing); the default
            exports the whole frame at its size.
    """

    path: str | None = None
    codec: str | None = None
    audio: bool = True
    fps: str | None = None
    retime: str = "motion"
    framing: Framing = Framing()


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

    def display_lut(self, clip: Clip) -> str:
        """`clip`'s display LUT as `engine.lut.load_lut` takes it: a bundled LUT's name, or
        the file made absolute against the project's folder; "" for none."""
        from engine.lut import bundled_luts  # engine.lut writes files through this package

        spec = clip.display_lut.strip()
        if not spec or spec in bundled_luts():
            return spec
        return str(self.resolve(spec))

    def media(self, clip: Clip) -> Path:
        """`clip`'s media file or folder, made absolute; ProjectError naming it when it is
        not there (moved or renamed since the project was saved)."""
        source = self.resolve(clip.path)
        if not media_exists(source):
            raise ProjectError(self.path or "project",
                               f"media not found: {source} (moved? relink it)")
        return source
