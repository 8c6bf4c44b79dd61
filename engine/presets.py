"""Presets: named recipes stored as JSON data.

Built-in presets live in resources/presets/*.json; user presets in the user's config folder
(~/.config/nitrate/presets, or $NITRATE_PRESETS). A preset file:
`{"name": "film", "description": "...", "steps": [{"op": "dust", "params": {...}}, ...]}`.
Loading never executes anything.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from engine.atomic_file import atomic_write_text
from engine.errors import NitrateError
from engine.project.recipe import Recipe

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "resources" / "presets"


class PresetError(NitrateError):
    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"preset '{name}': {problem}")


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    recipe: Recipe
    builtin: bool
    path: Path


def user_dir() -> Path:
    env = os.environ.get("NITRATE_PRESETS")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "nitrate" / "presets"


def _load(path: Path, builtin: bool) -> Preset:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Preset(
            name=str(data["name"]),
            description=str(data.get("description", "")),
            recipe=Recipe.from_json(data["steps"]),
            builtin=builtin,
            path=path,
        )
    except NitrateError as exc:
        raise PresetError(path.stem, str(exc)) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PresetError(path.stem, f"{path} is not a valid preset ({exc})") from None


def list_presets() -> list[Preset]:
    """Built-in presets first, then the user's (a user preset may not shadow a built-in)."""
    presets: dict[str, Preset] = {}
    for folder, builtin in ((BUILTIN_DIR, True), (user_dir(), False)):
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                preset = _load(path, builtin)
                presets.setdefault(preset.name, preset)
    return list(presets.values())


def get_preset(name: str) -> Preset:
    for preset in list_presets():
        if preset.name == name:
            return preset
    known = ", ".join(p.name for p in list_presets()) or "none"
    raise PresetError(name, f"no such preset (presets: {known})")


def save_user_preset(name: str, recipe: Recipe, description: str = "") -> Path:
    """Save `recipe` as a user preset (atomically); returns the file written."""
    if not re.fullmatch(r"[\w .-]{1,64}", name):
        raise PresetError(name, "use letters, digits, spaces, '.', '-' or '_' (at most 64)")
    if any(p.builtin and p.name == name for p in list_presets()):
        raise PresetError(name, "a built-in preset has this name")
    folder = user_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^\w.-]", "_", name)
    path = folder / f"{stem}.json"
    data = {"name": name, "description": description, "steps": recipe.to_json()}
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    return path
