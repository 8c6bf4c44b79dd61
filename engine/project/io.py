"""Project files (`*.nitrate`): versioned JSON, saved atomically, loaded defensively.

A project file is data only: nothing in it is executed, and paths are treated as plain
strings (resolved against the project's folder when relative).

Versions: 1 had shots and recipes; 2 adds keyframes in recipe steps and manual repairs per
clip. An older Nitrate would silently drop those (and lose them on its next save), so files
are written as version 2 and it refuses them clearly; version 1 files are still read.
3 adds protections (a repair marked `"protect": true`), which a version-2 Nitrate would
take for regions to rebuild. 4 adds tracked regions (`"track"`: the region's offset on
each of its frames), which a version-3 Nitrate would leave where they were drawn. 5 adds
the output's framing (`"framing"`: crop, size, fit), which a version-4 Nitrate would
ignore, exporting the whole frame at the scan's size. 6 adds a clip's sound sync
(`"audio_offset"`, seconds), which a version-5 Nitrate would ignore, exporting the sound
out of step again. 7 marks a project of several reels (`"clips"` always was a list, but
a version-6 Nitrate shows, renders and saves only the first, silently leaving the others
out of its exports). 8 allows the output's `"retime": "conform"` (the rate changed frame
for frame, the sound with it), which a version-7 Nitrate would refuse as an unknown method
with a less helpful message. A clip's display LUT
(`"display_lut"`) needs no new version: ignoring it changes only what is seen. Each file
is written as the oldest version that holds everything in it, so older installations keep
opening what they can read correctly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.atomic_file import atomic_write_text
from engine.errors import NitrateError, ProjectError
from engine.framing import Framing
from engine.project.model import Clip, OutputSettings, Project, Repair, Shot
from engine.project.recipe import Recipe

FORMAT = "nitrate-project"
VERSION = 8
SUFFIX = ".nitrate"
# A project is small; anything this large is not one of ours (and must not exhaust memory).
MAX_BYTES = 64 * 1024 * 1024


def _stored_path(media: str, project_path: Path) -> str:
    """Relative to the project's folder when the media sits below it, else absolute."""
    p = Path(media)
    if not p.is_absolute():
        return media
    try:
        return p.resolve().relative_to(project_path.parent.resolve()).as_posix()
    except ValueError:
        return str(p)


def _stored_lut(spec: str, project_path: Path) -> str:
    """A display LUT as stored: a bundled LUT's name as is, a file as media are."""
    return spec if not Path(spec).is_absolute() else _stored_path(spec, project_path)


def repair_to_json(repair: Repair) -> dict[str, Any]:
    data: dict[str, Any] = {
        "start": repair.start,
        "end": repair.end,
        "region": None if repair.region is None else list(repair.region),
        "note": repair.note,
    }
    if repair.protect:
        data["protect"] = True
    if repair.track:
        data["track"] = [list(offset) for offset in repair.track]
    return data


def _version_needed(project: Project) -> int:
    """The oldest project version that holds everything in `project` (module docstring)."""
    repairs = [r for c in project.clips for r in c.repairs]
    if project.output.retime == "conform":
        return 8
    if len(project.clips) > 1:
        return 7
    if any(c.audio_offset for c in project.clips):
        return 6
    if not project.output.framing.identity:
        return 5
    if any(r.track for r in repairs):
        return 4
    if any(r.protect for r in repairs):
        return 3
    return 2


def repair_from_json(data: Any, where: str) -> Repair:
    region = data.get("region") if isinstance(data, Mapping) else None
    if region is not None and not isinstance(region, list):
        raise ValueError(f"{where}.region must be [x, y, width, height] or null")
    protect = data.get("protect", False) if isinstance(data, Mapping) else False
    if not isinstance(protect, bool):
        raise ValueError(f"{where}.protect must be true or false")
    track = data.get("track", []) if isinstance(data, Mapping) else []
    if not isinstance(track, list) or not all(
            isinstance(offset, list) and len(offset) == 2 for offset in track):
        raise ValueError(f"{where}.track must be a list of [dx, dy] offsets")
    return Repair(
        start=_need(data, "start", int, where),
        end=_need(data, "end", int, where),
        region=None if region is None else tuple(region),
        note=str(data.get("note", "")),
        protect=protect,
        track=tuple((dx, dy) for dx, dy in track),
    )


def project_to_json(project: Project, project_path: Path) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": _version_needed(project),
        "clips": [
            {
                "path": _stored_path(str(project.resolve(c.path)), project_path),
                "frame_count": c.frame_count,
                "default_recipe": c.default_recipe.to_json(),
                "shots": [
                    {
                        "start": s.start,
                        "end": s.end,
                        "recipe": None if s.recipe is None else s.recipe.to_json(),
                        "reviewed": s.reviewed,
                        "note": s.note,
                    }
                    for s in c.shots
                ],
                "repairs": [repair_to_json(r) for r in c.repairs],
                # Only when set; a Nitrate that predates it ignores it, which changes only
                # how it shows the pictures, so it needs no new version.
                **({"display_lut": _stored_lut(project.display_lut(c), project_path)}
                   if c.display_lut.strip() else {}),
                **({"audio_offset": c.audio_offset} if c.audio_offset else {}),
            }
            for c in project.clips
        ],
        "output": {
            "path": project.output.path,
            "codec": project.output.codec,
            "audio": project.output.audio,
            "fps": project.output.fps,
            "retime": project.output.retime,
            # Only a framing that changes the picture: a version-4 file stays readable by
            # the Nitrate that wrote it.
            **({} if project.output.framing.identity
               else {"framing": project.output.framing.to_json()}),
        },
    }


def save_project(project: Project, path: str | Path) -> Path:
    """Save atomically to `path` (suffix .nitrate added when missing); sets project.path."""
    path = Path(path)
    if path.suffix != SUFFIX:
        path = path.with_name(path.name + SUFFIX)
    if not path.parent.is_dir():
        raise ProjectError(path, "the folder does not exist")
    for clip in project.clips:
        try:
            clip.validate()
        except ValueError as exc:
            raise ProjectError(path, str(exc)) from None
    text = json.dumps(project_to_json(project, path), indent=2) + "\n"
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise ProjectError(path, f"cannot save: {exc.strerror or exc}") from None
    project.path = path
    return path


def _need(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(data, Mapping) or key not in data:
        raise ValueError(f"{where} lacks '{key}'")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{where}.{key} has the wrong type")
    return value


def _recipe(data: Any, where: str) -> Recipe:
    if not isinstance(data, list):
        raise ValueError(f"{where} must be a list of steps")
    return Recipe.from_json(data)


def project_from_json(data: Any, path: Path) -> Project:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError("not a Nitrate project (no 'format': 'nitrate-project')")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError("the project has no valid 'version'")
    if version > VERSION:
        raise ValueError(
            f"made by a newer Nitrate (project version {version}, this Nitrate reads up to "
            f"{VERSION}); update Nitrate to open it"
        )
    clips = []
    for i, c in enumerate(_need(data, "clips", list, "project")):
        where = f"clips[{i}]"
        shots = []
        for j, s in enumerate(_need(c, "shots", list, where)):
            sw = f"{where}.shots[{j}]"
            recipe = s.get("recipe") if isinstance(s, dict) else None
            shots.append(
                Shot(
                    start=_need(s, "start", int, sw),
                    end=_need(s, "end", int, sw),
                    recipe=None if recipe is None else _recipe(recipe, f"{sw}.recipe"),
                    reviewed=bool(s.get("reviewed", False)),
                    note=str(s.get("note", "")),
                )
            )
        repairs = c.get("repairs", [])  # absent in version 1
        if not isinstance(repairs, list):
            raise ValueError(f"{where}.repairs must be a list")
        display_lut = c.get("display_lut", "")
        if not isinstance(display_lut, str):
            raise ValueError(f"{where}.display_lut must be a LUT's name or path")
        audio_offset = c.get("audio_offset", 0.0)  # absent before version 6
        if isinstance(audio_offset, bool) or not isinstance(audio_offset, int | float):
            raise ValueError(f"{where}.audio_offset must be a number of seconds")
        clip = Clip(
            path=_need(c, "path", str, where),
            frame_count=_need(c, "frame_count", int, where),
            shots=shots,
            default_recipe=_recipe(c.get("default_recipe", []), f"{where}.default_recipe"),
            repairs=[repair_from_json(r, f"{where}.repairs[{k}]") for k, r in enumerate(repairs)],
            display_lut=display_lut,
            audio_offset=float(audio_offset),
        )
        clip.validate()
        clips.append(clip)
    out = data.get("output") or {}
    if not isinstance(out, dict):
        raise ValueError("output must be an object")
    output = OutputSettings(
        path=out.get("path") if isinstance(out.get("path"), str) else None,
        codec=out.get("codec") if isinstance(out.get("codec"), str) else None,
        audio=bool(out.get("audio", True)),
        fps=_output_fps(out.get("fps")),
        retime=_output_retime(out.get("retime", "motion")),
        framing=_framing_from_json(out.get("framing")),
    )
    return Project(clips=clips, output=output, path=path)


def _framing_from_json(value: Any) -> Framing:
    """The output's framing (absent: the whole frame)."""
    if value is None:
        return Framing()
    try:
        return Framing.from_json(value)
    except ValueError as exc:
        raise ValueError(f"output.framing: {exc}") from None


def _output_fps(value: Any) -> str | None:
    if value is None:
        return None
    from engine.retime import parse_fps

    parse_fps(str(value))  # ValueError → "malformed project (...)"
    return str(value)


def _output_retime(value: Any) -> str:
    if value not in ("motion", "blend", "nearest", "conform"):
        raise ValueError(f"output.retime must be motion, blend, nearest or conform, got "
                         f"{value!r}")
    return str(value)


def load_project(path: str | Path) -> Project:
    """Load a project; any problem raises ProjectError(path, one-line problem)."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ProjectError(path, "file not found") from None
    except OSError as exc:
        raise ProjectError(path, f"cannot read: {exc.strerror or exc}") from None
    if size == 0:
        raise ProjectError(path, "file is empty (0 bytes)")
    if size > MAX_BYTES:
        raise ProjectError(path, f"file is too large to be a project ({size} bytes)")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except UnicodeDecodeError:
        raise ProjectError(path, "not a Nitrate project (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise ProjectError(path, f"malformed project (JSON error at line {exc.lineno})") from None
    except OSError as exc:
        raise ProjectError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        return project_from_json(data, path.resolve())
    except NitrateError as exc:  # e.g. an unknown operator in a recipe
        raise ProjectError(path, str(exc)) from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ProjectError(path, f"malformed project ({exc})") from None


def new_project(media_path: str | Path, recipe: Recipe | None = None) -> Project:
    """A project over one clip with one shot, its media probed for the frame count."""
    from engine.media import probe

    info = probe(media_path)
    clip = Clip(path=str(Path(media_path).resolve()), frame_count=info.frame_count,
                default_recipe=recipe or Recipe())
    return Project(clips=[clip])
