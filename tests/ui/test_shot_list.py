"""The shot list dock: rows with range, duration and operators; the reviewed tick (undoable,
saved); clicks seek; multi-selection receives recipes and presets. Also the processing
report written from the File menu."""

from __future__ import annotations

import json
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
from _ui_helpers import discard as _discard
from _ui_helpers import two_shot_window
from PySide6.QtCore import QSettings, Qt

from engine.presets import get_preset
from engine.project import Clip, Project, Recipe, Shot, Step, load_project
from ui.document import Document, Target
from ui.inspector import op_label
from ui.main_window import MainWindow
from ui.shot_list import COL_DURATION, COL_FRAMES, COL_OPS, COL_REVIEWED, COL_SHOT, ShotList

SHARPEN = Recipe.of([Step.create("sharpen")])
COLOR = Recipe.of([Step.create("color", {"exposure": 0.5})])


@pytest.fixture
def doc(qtbot, tmp_path: Path, isolated_user_dirs: Path) -> Iterator[Document]:
    document = Document(recovery_dir=isolated_user_dirs / "data" / "recovery")
    media = tmp_path / "reel.mp4"
    media.write_bytes(b"x")
    shots = [Shot(0, 9), Shot(10, 34, SHARPEN), Shot(35, 39)]
    document.set_project(Project(clips=[Clip(str(media), 40, shots)]))
    yield document
    document.shutdown()


@pytest.fixture
def shot_list(qtbot, doc: Document) -> ShotList:
    widget = ShotList(doc, lambda: COLOR)
    qtbot.addWidget(widget)
    widget.resize(520, 300)
    widget.set_fps(Fraction(25))
    widget.show()
    return widget


def _action(menu, prefix: str):
    return next(a for a in menu.actions() if a.text().startswith(prefix))


def test_rows_show_range_duration_and_operators(shot_list: ShotList) -> None:
    assert shot_list.tree.topLevelItemCount() == 3
    second = shot_list.item(1)
    assert second.text(COL_SHOT) == "2"
    assert second.text(COL_FRAMES) == "10–34"
    assert second.text(COL_DURATION) == "25 f · 01:00"  # 25 frames at 25 fps: 1 s 0 f
    assert second.text(COL_OPS) == "own: Sharpen"
    assert shot_list.item(0).text(COL_OPS) == "default: no operators"
    assert shot_list.summary.text() == "3 shots · 0 reviewed"


def test_reviewed_tick_is_undoable_and_saved(shot_list: ShotList, doc: Document,
                                             tmp_path: Path) -> None:
    shot_list.item(1).setCheckState(COL_REVIEWED, Qt.CheckState.Checked)
    assert [s.reviewed for s in doc.shots()] == [False, True, False]
    assert shot_list.summary.text() == "3 shots · 1 reviewed"
    assert doc.undo_stack.undoText() == "Mark shot 2 reviewed"
    doc.undo_stack.undo()
    assert not doc.shots()[1].reviewed
    assert shot_list.item(1).checkState(COL_REVIEWED) == Qt.CheckState.Unchecked
    doc.undo_stack.redo()
    assert shot_list.item(1).checkState(COL_REVIEWED) == Qt.CheckState.Checked
    saved = doc.save(tmp_path / "film.nitrate")
    assert [s["reviewed"] for s in json.loads(saved.read_text())["clips"][0]["shots"]] == \
        [False, True, False]
    assert [s.reviewed for s in load_project(saved).clip.shots] == [False, True, False]


def test_ticking_one_of_a_selection_ticks_them_all(shot_list: ShotList, doc: Document) -> None:
    shot_list.select([0, 2])
    shot_list.item(2).setCheckState(COL_REVIEWED, Qt.CheckState.Checked)
    assert [s.reviewed for s in doc.shots()] == [True, False, True]
    doc.undo_stack.undo()  # one step for both
    assert [s.reviewed for s in doc.shots()] == [False, False, False]


def test_a_click_asks_to_seek_to_the_shot(qtbot, shot_list: ShotList) -> None:
    rect = shot_list.tree.visualItemRect(shot_list.item(2))
    with qtbot.waitSignal(shot_list.seek_requested) as sig:
        qtbot.mouseClick(shot_list.tree.viewport(), Qt.MouseButton.LeftButton,
                         pos=rect.center())
    assert sig.args == [35]
    assert shot_list.selected_positions() == [2]


def test_apply_edited_recipe_to_selected_shots_is_one_undo_step(shot_list: ShotList,
                                                                doc: Document) -> None:
    shot_list.select([0, 2])
    shot_list.fill_apply_menu(shot_list.apply_menu)
    _action(shot_list.apply_menu, "Apply edited recipe to selected shots (2)").trigger()
    assert [s.recipe for s in doc.shots()] == [COLOR, SHARPEN, COLOR]
    assert shot_list.item(2).text(COL_OPS) == f"own: {op_label('color')}"
    doc.undo_stack.undo()
    assert [s.recipe for s in doc.shots()] == [None, SHARPEN, None]


def test_apply_to_all_makes_it_the_default_for_every_shot(shot_list: ShotList,
                                                          doc: Document) -> None:
    shot_list.fill_apply_menu(shot_list.apply_menu)
    _action(shot_list.apply_menu, "Apply edited recipe to all shots").trigger()
    assert doc.recipe(Target(0, None)) == COLOR
    assert [s.recipe for s in doc.shots()] == [None, None, None]
    assert all(doc.recipe(Target(0, p)) == COLOR for p in range(3))
    doc.undo_stack.undo()
    assert doc.recipe(Target(0, None)) == Recipe() and doc.shots()[1].recipe == SHARPEN


def test_preset_to_selected_shots(shot_list: ShotList, doc: Document) -> None:
    shot_list.select([1])
    shot_list.fill_apply_menu(shot_list.apply_menu)
    presets = _action(shot_list.apply_menu, "Preset to selected shots").menu()
    _action(presets, "light clean").trigger()
    assert doc.shots()[1].recipe == get_preset("light clean").recipe
    assert doc.shots()[0].recipe is None


# --- in the window ---------------------------------------------------------------------





@pytest.fixture
def window(qtbot, settings: QSettings, clip: Path, tmp_path: Path) -> Iterator[MainWindow]:
    win = two_shot_window(qtbot, settings, clip, tmp_path)
    yield win
    _discard(win)
    win.close()


def test_window_shot_list_seeks_selects_and_gets_thumbnails(qtbot, window: MainWindow) -> None:
    shots = window.shot_list
    assert window.shots_dock.widget() is shots and shots.tree.topLevelItemCount() == 2
    rect = shots.tree.visualItemRect(shots.item(1))
    qtbot.mouseClick(shots.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: window.viewer.shown_index == 6, timeout=20_000)
    assert window.selected_shots == [1]
    assert window.inspector.current_shot == 1
    qtbot.waitUntil(lambda: not shots.item(0).icon(0).isNull()
                    and not shots.item(1).icon(0).isNull(), timeout=20_000)
    window.playback.seek(8)
    qtbot.waitUntil(lambda: window.viewer.shown_index == 8, timeout=20_000)
    window.act_split.trigger()  # the list follows shot edits
    assert [shots.item(p).text(COL_FRAMES) for p in range(3)] == ["0–5", "6–7", "8–11"]


def test_processing_report_is_written_where_the_user_chose(qtbot, window: MainWindow,
                                                           tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    target = tmp_path / "out" / "film report.html"
    target.parent.mkdir()
    asked: list[str] = []

    def choose(_parent, _title, suggestion, _filter):
        asked.append(suggestion)
        return str(target), ""

    monkeypatch.setattr("ui.main_window.QFileDialog.getSaveFileName", choose)
    file_menu = window.menuBar().actions()[0].menu()
    assert window.act_report in file_menu.actions()
    with qtbot.waitSignal(window.report_writer.finished, timeout=60_000) as blocker:
        window.act_report.trigger()
    path, error = blocker.args
    assert error == "" and Path(path) == target
    assert asked and asked[0].endswith("film_report.html")
    html = target.read_text(encoding="utf-8")
    assert "Sharpen" in html or "sharpen" in html  # shot 2's recipe is documented
    assert str(target) in window.statusBar().currentMessage()
    assert not window.report_task.isVisible()
    window.report_box.close()
