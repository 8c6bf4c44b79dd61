"""The open project: undo/redo, merged drags, save/load, dirty flag, autosave, recovery."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.errors import ProjectError
from engine.project import Clip, Project, Recipe, Shot, Step, load_project
from ui.document import Document, Target


def _project(tmp_path: Path, frames: int = 48) -> Project:
    media = tmp_path / "reel.mp4"
    media.write_bytes(b"not decoded by these tests")
    shots = [Shot(0, 11), Shot(12, 29), Shot(30, frames - 1)]
    return Project(clips=[Clip(path=str(media), frame_count=frames, shots=shots)])


@pytest.fixture
def doc(qtbot, tmp_path: Path, isolated_user_dirs: Path) -> Document:
    document = Document(recovery_dir=isolated_user_dirs / "data" / "recovery")
    document.set_project(_project(tmp_path))
    yield document
    document.shutdown()


def test_recipe_edit_undo_redo_restore_exact_recipes(doc: Document) -> None:
    default = Target(0, None)
    colour = Recipe.of([Step.create("color", {"exposure": 1.0})])
    doc.edit_recipe(default, colour, "Add colour")
    assert doc.recipe(default) == colour
    assert doc.is_dirty
    doc.undo_stack.undo()
    assert doc.recipe(default) == Recipe()
    assert not doc.is_dirty
    doc.undo_stack.redo()
    assert doc.recipe(default) == colour
    # The plan the engine gets follows every edit.
    assert doc.plan().shot_at(20).recipe == colour


def test_shot_own_recipe_and_back_to_default(doc: Document) -> None:
    shot = Target(0, 1)
    sharpen = Recipe.of([Step.create("sharpen")])
    doc.edit_recipe(shot, sharpen, "own")
    assert doc.plan().shot_at(12).recipe == sharpen
    assert doc.plan().shot_at(0).recipe == Recipe()
    doc.edit_recipe(shot, None, "follow default")
    assert doc.own_recipe(shot) is None
    doc.undo_stack.undo()
    assert doc.own_recipe(shot) == sharpen


def test_merged_drag_is_one_undo_step(doc: Document) -> None:
    default = Target(0, None)
    doc.edit_recipe(default, Recipe.of([Step.create("color")]), "Add colour")
    base = doc.recipe(default)
    for value in (0.1, 0.2, 0.3, 0.4):
        doc.edit_recipe(default, base.with_values("color", exposure=value), "drag",
                        merge_key=("drag", 1))
    assert doc.undo_stack.count() == 2
    doc.undo_stack.undo()
    assert doc.recipe(default) == base
    # A new gesture (another key) is its own step.
    doc.undo_stack.redo()
    doc.edit_recipe(default, base.with_values("color", exposure=0.9), "drag",
                    merge_key=("drag", 2))
    assert doc.undo_stack.count() == 3


def test_save_load_round_trip(doc: Document, tmp_path: Path) -> None:
    doc.edit_recipe(Target(0, 2), Recipe.of([Step.create("sharpen", {"amount": 1.5})]), "own")
    doc.edit_recipe(Target(0, None), Recipe.of([Step.create("color", {"saturation": 0.5})]), "d")
    saved = doc.save(tmp_path / "film")
    assert saved == tmp_path / "film.nitrate"
    assert not doc.is_dirty
    loaded = load_project(saved)
    assert loaded.clip.shots[2].recipe == doc.project.clip.shots[2].recipe
    assert loaded.clip.default_recipe == doc.project.clip.default_recipe
    assert [(s.start, s.end) for s in loaded.clip.shots] == [(0, 11), (12, 29), (30, 47)]
    # Reopen through the Document: a fresh, clean history.
    other = Document(recovery_dir=doc.recovery_dir)
    other.open(saved)
    assert other.project.clip.shots[2].recipe.steps[0].params.amount == 1.5
    assert not other.is_dirty and other.undo_stack.count() == 0


def test_save_without_a_path_is_a_clear_error(doc: Document) -> None:
    with pytest.raises(ProjectError, match="choose a file name"):
        doc.save()


def test_open_missing_file_keeps_current_project(doc: Document, tmp_path: Path) -> None:
    before = doc.project
    with pytest.raises(ProjectError, match="missing.nitrate: file not found"):
        doc.open(tmp_path / "missing.nitrate")
    assert doc.project is before


def test_shot_edits_validate_and_undo(doc: Document) -> None:
    shots = [Shot(0, 29), Shot(30, 47)]
    doc.edit_shots(shots, "Join")
    assert [(s.start, s.end) for s in doc.shots()] == [(0, 29), (30, 47)]
    with pytest.raises(ProjectError, match="contiguous"):
        doc.edit_shots([Shot(0, 10), Shot(20, 47)], "bad")
    doc.undo_stack.undo()
    assert len(doc.shots()) == 3


def test_autosave_writes_recovery_not_user_file(doc: Document, tmp_path: Path) -> None:
    saved = doc.save(tmp_path / "film.nitrate")
    before = saved.read_bytes()
    assert doc.autosave_now() is None  # nothing unsaved: nothing written
    doc.edit_recipe(Target(0, None), Recipe.of([Step.create("color")]), "Add colour")
    written = doc.autosave_now()
    assert written is not None and written.parent == doc.recovery_dir
    assert saved.read_bytes() == before  # never over the user's file
    data = json.loads(written.read_text())
    assert data["nitrate_recovery"]["original"] == str(saved)
    # Saving removes the recovery file: nothing to recover after a clean save.
    doc.save()
    assert not written.exists()


def test_autosave_timer_fires_when_dirty(qtbot, tmp_path: Path, isolated_user_dirs: Path) -> None:
    document = Document(recovery_dir=isolated_user_dirs / "rec", autosave_interval_ms=20)
    document.set_project(_project(tmp_path))
    document.edit_recipe(Target(0, None), Recipe.of([Step.create("sharpen")]), "Add")
    qtbot.waitUntil(document.recovery_path.exists, timeout=3000)
    document.shutdown()
    assert not document.recovery_path.exists()


def _crashed_autosave(doc: Document, tmp_path: Path) -> Path:
    """An autosave as a crashed process (a pid that no longer runs) would leave it."""
    doc.save(tmp_path / "film.nitrate")
    doc.edit_recipe(Target(0, None), Recipe.of([Step.create("color", {"exposure": 2.0})]), "e")
    written = doc.autosave_now()
    data = json.loads(written.read_text())
    dead_pid = 2**22 + 12345  # above Linux's pid_max default: never a live process
    data["nitrate_recovery"]["pid"] = dead_pid
    crashed = doc.recovery_dir / f"autosave-{dead_pid}.nitrate"
    crashed.write_text(json.dumps(data))
    written.unlink()
    return crashed


def test_recovery_offered_and_restores_unsaved_edits(doc: Document, tmp_path: Path) -> None:
    crashed = _crashed_autosave(doc, tmp_path)
    doc.shutdown()
    nxt = Document(recovery_dir=doc.recovery_dir)
    found = nxt.find_recoveries()
    assert [r.path for r in found] == [crashed]
    assert found[0].original == tmp_path / "film.nitrate"
    assert "film.nitrate" in found[0].describe()
    nxt.recover(found[0])
    assert nxt.is_dirty
    assert nxt.path == tmp_path / "film.nitrate"
    assert nxt.recipe(Target(0, None)).steps[0].params.exposure == 2.0
    assert not crashed.exists()
    nxt.shutdown()


def test_own_running_autosave_is_not_offered(doc: Document) -> None:
    doc.edit_recipe(Target(0, None), Recipe.of([Step.create("color")]), "e")
    doc.autosave_now()
    other = Document(recovery_dir=doc.recovery_dir)
    # Same directory, our own pid is alive: the running session owns its autosave.
    assert doc.recovery_path.name == f"autosave-{os.getpid()}.nitrate"
    assert other.find_recoveries() == []
