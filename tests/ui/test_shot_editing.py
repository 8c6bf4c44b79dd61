"""Shot editing on the timeline and in the Clip menu: split at the playhead, merge, drag a
boundary; every edit one undo step, and the timeline shows the result."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
from _ui_helpers import FRAMES, two_shot_window
from _ui_helpers import discard as _discard
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QKeySequence

from ui.main_window import MainWindow
from ui.timeline import Timeline


@pytest.fixture
def window(qtbot, settings: QSettings, clip: Path, tmp_path: Path) -> Iterator[MainWindow]:
    win = two_shot_window(qtbot, settings, clip, tmp_path)
    yield win
    _discard(win)
    win.close()


def _bounds(window: MainWindow) -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in window.document.shots()]


def _seek(qtbot, window: MainWindow, frame: int) -> None:
    window.playback.seek(frame)
    qtbot.waitUntil(lambda: window.viewer.shown_index == frame, timeout=20_000)


def test_split_at_playhead_then_undo_and_redo(qtbot, window: MainWindow) -> None:
    _seek(qtbot, window, 3)
    window.act_split.trigger()
    assert _bounds(window) == [(0, 2), (3, 5), (6, 11)]
    assert window.timeline.shots == [(0, 2), (3, 5), (6, 11)]  # the timeline follows
    assert window.document.is_dirty
    assert "Split" in window.document.undo_stack.undoText()
    window.act_undo.trigger()
    assert _bounds(window) == [(0, 5), (6, 11)]
    assert window.timeline.shots == [(0, 5), (6, 11)]
    window.act_redo.trigger()
    assert _bounds(window) == [(0, 2), (3, 5), (6, 11)]


def test_split_keeps_the_shots_recipe_in_both_halves(qtbot, window: MainWindow) -> None:
    _seek(qtbot, window, 9)
    window.act_split.trigger()
    shots = window.document.shots()
    assert _bounds(window) == [(0, 5), (6, 8), (9, 11)]
    assert shots[1].recipe is not None and shots[1].recipe == shots[2].recipe


def test_split_has_ctrl_b_and_s(window: MainWindow) -> None:
    keys = {k.toString() for k in window.act_split.shortcuts()}
    assert {QKeySequence("Ctrl+B").toString(), "S"} <= keys
    assert window.act_split in window.menuBar().actions()[3].menu().actions()


def test_split_where_a_shot_starts_says_so_and_changes_nothing(qtbot, window: MainWindow) -> None:
    _seek(qtbot, window, 6)
    window.act_split.trigger()
    assert _bounds(window) == [(0, 5), (6, 11)]
    assert "already starts a shot" in window.statusBar().currentMessage()
    assert not window.document.undo_stack.canUndo()


def test_merge_with_next_and_previous_keep_the_first_recipe(qtbot, window: MainWindow) -> None:
    _seek(qtbot, window, 8)  # in the second shot (own recipe)
    window.act_merge_prev.trigger()
    assert _bounds(window) == [(0, 11)]
    assert window.document.shots()[0].recipe is None  # the first shot's (clip default)
    window.act_undo.trigger()
    assert _bounds(window) == [(0, 5), (6, 11)]
    assert window.document.shots()[1].recipe is not None
    _seek(qtbot, window, 2)
    window.act_join.trigger()
    assert _bounds(window) == [(0, 11)]
    edits = window.document.undo_stack.count()
    window.act_join.trigger()  # nothing after the only shot: a message, no edit
    assert "no next shot" in window.statusBar().currentMessage()
    assert window.document.undo_stack.count() == edits


def test_drag_boundary_on_the_timeline_moves_the_cut(qtbot, window: MainWindow) -> None:
    timeline = window.timeline
    timeline.resize(240, timeline.height())  # 20 px per frame
    timeline.fit_all()
    y = timeline.shots_row_y()
    x_cut = round(timeline.x_for_frame(6))
    qtbot.mousePress(timeline, Qt.MouseButton.LeftButton, pos=QPoint(x_cut, y))
    qtbot.mouseMove(timeline, QPoint(x_cut - 30, y))
    qtbot.mouseMove(timeline, QPoint(round(timeline.x_for_frame(4)), y))
    qtbot.mouseRelease(timeline, Qt.MouseButton.LeftButton,
                       pos=QPoint(round(timeline.x_for_frame(4)), y))
    assert _bounds(window) == [(0, 3), (4, 11)]
    assert timeline.shots == [(0, 3), (4, 11)]
    window.act_undo.trigger()
    assert _bounds(window) == [(0, 5), (6, 11)]


def test_boundary_drag_stops_one_frame_short_of_the_neighbour(qtbot) -> None:
    timeline = Timeline()
    qtbot.addWidget(timeline)
    timeline.resize(300, timeline.sizeHint().height())
    timeline.set_clip(30, Fraction(25))
    timeline.set_shots([(0, 9), (10, 19), (20, 29)])
    timeline.show()
    moved: list[tuple[int, int]] = []
    timeline.boundary_moved.connect(lambda p, f: moved.append((p, f)))
    y = timeline.shots_row_y()
    x = round(timeline.x_for_frame(10))
    qtbot.mousePress(timeline, Qt.MouseButton.LeftButton, pos=QPoint(x, y))
    qtbot.mouseMove(timeline, QPoint(x - 60, y))
    qtbot.mouseMove(timeline, QPoint(2, y))  # far past the first shot's start
    qtbot.mouseRelease(timeline, Qt.MouseButton.LeftButton, pos=QPoint(2, y))
    assert moved == [(1, 1)]  # the first shot keeps frame 0
    # A click in the middle of a shot is still a shot click, not a boundary drag.
    clicked: list[int] = []
    timeline.shot_clicked.connect(clicked.append)
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton,
                     pos=QPoint(round(timeline.x_for_frame(25)), y))
    assert clicked == [2] and moved == [(1, 1)]


def test_shot_row_context_menu_splits_and_merges(qtbot, window: MainWindow) -> None:
    menu = window.timeline.shot_menu(9)
    actions = {a.text(): a for a in menu.actions()}
    assert not actions["Merge with next shot"].isEnabled()  # the last shot
    actions["Split shot at frame 9"].trigger()
    assert _bounds(window) == [(0, 5), (6, 8), (9, 11)]
    menu = window.timeline.shot_menu(7)
    {a.text(): a for a in menu.actions()}["Merge with previous shot"].trigger()
    assert _bounds(window) == [(0, 8), (9, 11)]
    assert window.document.undo_stack.count() == 2


def test_cut_detection_shows_progress_and_can_be_cancelled(
        qtbot, settings: QSettings, clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import engine.shots
    from engine.errors import RenderCancelled

    halfway = threading.Event()

    def slow_detect(reader, *, progress=None, cancel=None, **_kwargs):
        # Reports a quarter done, then works until the user cancels (as a long clip would).
        progress(3, FRAMES)
        halfway.set()
        while not cancel():
            halfway.wait(0.01)
        raise RenderCancelled("shot detection cancelled")

    monkeypatch.setattr(engine.shots, "analyse_cuts", slow_detect)
    win = MainWindow(settings, detect_shots=True)
    qtbot.addWidget(win, before_close_func=_discard)
    win.show()
    finished: list[object] = []
    win.detector.finished.connect(lambda *args: finished.append(args))
    assert win.open_path(clip)
    task = win.detect_task
    qtbot.waitUntil(lambda: task.isVisible() and task.bar.value() == 25, timeout=20_000)
    assert "Detecting shots" in task.label.text()
    qtbot.mouseClick(task.cancel_button, Qt.MouseButton.LeftButton)
    assert not task.isVisible()
    assert "cancelled" in win.statusBar().currentMessage()
    win.detector.cancel()  # joins the worker: it saw the cancel and stopped
    qtbot.wait(0)  # deliver anything it might have queued
    assert not win.detector.running and finished == []
    assert [(s.start, s.end) for s in win.document.shots()] == [(0, FRAMES - 1)]
    _discard(win)
    win.close()
