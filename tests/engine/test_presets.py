"""Presets are data: built-ins load, user presets round-trip, bad ones give clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.presets import PresetError, get_preset, list_presets, save_user_preset
from engine.project.recipe import Recipe


@pytest.fixture(autouse=True)
def user_presets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "presets"
    monkeypatch.setenv("NITRATE_PRESETS", str(folder))
    return folder


def test_builtin_presets_are_valid_recipes() -> None:
    names = {p.name for p in list_presets()}
    assert {"film", "light clean", "heavy damage"} <= names
    film = get_preset("film").recipe
    assert [s.op for s in film.steps] == ["deflicker", "stabilize", "dust", "scratch",
                                         "degrain", "color"]


def test_user_preset_round_trip(user_presets: Path) -> None:
    recipe = Recipe.from_ops(["dust", "color"]).with_values("color", exposure=0.25)
    path = save_user_preset("my reel 3", recipe, "for the nitrate reels")
    assert path.parent == user_presets
    preset = get_preset("my reel 3")
    assert preset.recipe == recipe and not preset.builtin


def test_a_user_preset_cannot_replace_a_builtin() -> None:
    with pytest.raises(PresetError, match="built-in"):
        save_user_preset("film", Recipe())


def test_a_broken_user_preset_names_itself(user_presets: Path) -> None:
    user_presets.mkdir()
    (user_presets / "bad.json").write_text('{"name": "bad", "steps": [{"op": "nope"}]}')
    with pytest.raises(PresetError, match="preset 'bad'.*nope"):
        list_presets()
