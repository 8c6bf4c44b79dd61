"""A project of several reels: a reel added, chosen on the toolbar, edited on its own,
undone, saved, and every reel exported to a file of its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from _ui_helpers import discard
from PySide6.QtCore import QSettings

from engine.media import probe
from engine.project import Recipe, Step, load_project
from engine.synth.index_clip import write_index_clip
from ui.main_window import MainWindow
from ui.render_queue import RenderRequest


@pytest.fixture
def window(qtbot, settings: QSettings) -> Iterator[MainWindow]:
    win = MainWindow(settings, detect_shots=False)
    qtbot.addWidget(win, before_close_func=discard)
    win.show()
    yield win


@pytest.fixture(scope="module")
def second_reel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_index_clip(tmp_path_factory.mktemp("reel2") / "reel2.mov", "prores",
                            width=64, height=48, frames=20)


def _shown(window: MainWindow, qtbot, frames: int) -> None:
    qtbot.waitUntil(lambda: window.timeline.frame_count == frames
                    and window.viewer.shown_index == 0
                    and window.bridge.wait_until_idle(0.05), timeout=20_000)


def test_reels_are_added_chosen_edited_on_their_own_and_saved(
        qtbot, window: MainWindow, clip: Path, second_reel: Path, tmp_path: Path) -> None:
    assert window.open_path(clip)
    _shown(window, qtbot, 12)
    assert not window.reel_action.isVisible()  # one reel: no choice to make
    assert window.add_reel(second_reel)
    _shown(window, qtbot, 20)  # the new reel is shown
    assert window.reel_action.isVisible()
    assert [window.reel_combo.itemText(i) for i in range(window.reel_combo.count())] == [
        "Reel 1: tiny.mp4", "Reel 2: reel2.mov"]
    assert window.reel_combo.currentIndex() == 1
    # The inspector edits the reel shown, and only it.
    window.inspector.add_step("color")
    project = window.document.project_or_raise()
    assert [s.op for s in project.clips[1].default_recipe.steps] == ["color"]
    assert project.clips[0].default_recipe.steps == ()
    assert not window.act_next_reel.isEnabled()  # the last reel is shown
    window.act_prev_reel.trigger()  # Ctrl+PgUp
    _shown(window, qtbot, 12)
    assert window.act_next_reel.isEnabled() and not window.act_prev_reel.isEnabled()
    assert window.document.plan().shots[0].recipe.steps == ()
    assert window.reel_combo.currentIndex() == 0
    # Saved with both reels; opened again on the first.
    path = window.document.save(tmp_path / "feature.nitrate")
    # The export offered is named after the project: each reel adds its number.
    assert window.default_output() == tmp_path / "feature_restored.mov"
    assert [Path(c.path).name for c in load_project(path).clips] == ["tiny.mp4", "reel2.mov"]
    # A version-6 Nitrate would export the first reel alone: it must refuse the file.
    assert json.loads(path.read_text())["version"] == 7
    # Adding a reel is one undo step (the reel's own edits are theirs).
    stack = window.document.undo_stack
    while stack.canUndo() and stack.undoText() != "Add reel 2":
        stack.undo()
    stack.undo()
    assert len(window.document.project_or_raise().clips) == 1
    assert not window.reel_action.isVisible()


def test_every_reel_is_exported_to_a_file_of_its_own(qtbot, window: MainWindow, clip: Path,
                                                     second_reel: Path,
                                                     tmp_path: Path) -> None:
    assert window.open_path(clip)
    _shown(window, qtbot, 12)
    assert window.add_reel(second_reel)
    _shown(window, qtbot, 20)
    target = window.inspector.target()
    assert target is not None and target.clip == 1
    window.document.edit_recipe(target, Recipe.of([Step.create("color", {"exposure": 0.2})]),
                                "grade")
    finished: list[object] = []
    window.render_queue.job_finished.connect(lambda _id, outcome: finished.append(outcome))
    ids = window.queue_render(RenderRequest("reels", tmp_path / "feature.mkv", "ffv1", False))
    assert len(ids) == 2
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=60_000)
    assert all(o.state == "done" for o in finished), [o.message for o in finished]
    assert probe(tmp_path / "feature_reel1.mkv").frame_count == 12
    assert probe(tmp_path / "feature_reel2.mkv").frame_count == 20
    assert "color" in probe(tmp_path / "feature_reel2.mkv").comment
    assert "color" not in probe(tmp_path / "feature_reel1.mkv").comment


def test_a_reel_taken_out_is_one_undo_step(qtbot, window: MainWindow, clip: Path,
                                           second_reel: Path) -> None:
    assert window.open_path(clip)
    _shown(window, qtbot, 12)
    assert not window.act_remove_reel.isEnabled()  # the last reel stays
    assert window.add_reel(second_reel)
    _shown(window, qtbot, 20)
    window.remove_reel()  # the reel shown: reel 2
    _shown(window, qtbot, 12)
    project = window.document.project_or_raise()
    assert [Path(c.path).name for c in project.clips] == ["tiny.mp4"]
    assert not window.reel_action.isVisible()
    assert window.document.undo_stack.undoText() == "Remove reel 2 (reel2.mov)"
    window.document.undo_stack.undo()
    assert [Path(c.path).name for c in project.clips] == ["tiny.mp4", "reel2.mov"]
    assert window.reel_action.isVisible() and window.document.current_clip == 0
