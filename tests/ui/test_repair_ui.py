"""Manual repair in the viewer: a rectangle drawn with the repair tool becomes a Repair in
source pixels (undoable), frames can be marked destroyed, repairs are listed, removable,
outlined by the "Manual repairs" overlay and saved with the project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _ui_helpers import discard as _discard
from PySide6.QtCore import QPointF, QRectF, QSettings, Qt

from engine.project import load_project
from engine.project.model import Repair
from ui.main_window import REPAIRS_OVERLAY, MainWindow
from ui.repair_tool import source_region


@pytest.fixture
def window(qtbot, settings: QSettings, clip: Path) -> Iterator[MainWindow]:
    win = MainWindow(settings, detect_shots=False)
    qtbot.addWidget(win, before_close_func=_discard)
    win.show()
    assert win.open_path(clip)
    _show(qtbot, win, 0)
    # An integer zoom puts every image pixel on whole screen pixels, so the mouse positions
    # below land exactly on the image points they are computed from.
    win.viewer.zoom_to(8.0)
    yield win
    _discard(win)
    win.close()


def _show(qtbot, window: MainWindow, frame: int) -> None:
    window.playback.seek(frame)
    qtbot.waitUntil(lambda: window.bridge.wait_until_idle(0.05)
                    and window.viewer.shown_index == frame, timeout=20_000)


def _drag(qtbot, window: MainWindow, a: tuple[float, float], b: tuple[float, float]) -> None:
    """Drag on the After picture from image point `a` to `b` (preview pixels)."""
    viewer = window.viewer
    start = viewer.widget_point(QPointF(*a)).toPoint()
    end = viewer.widget_point(QPointF(*b)).toPoint()
    qtbot.mousePress(viewer, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(viewer, (start + end) / 2)
    qtbot.mouseMove(viewer, end)
    qtbot.mouseRelease(viewer, Qt.MouseButton.LeftButton, pos=end)


def test_source_region_scales_grows_to_whole_pixels_and_clips() -> None:
    assert source_region(QRectF(4, 4, 8, 6), (32, 24), (64, 48)) == (8, 8, 16, 12)
    assert source_region(QRectF(1.2, 0.6, 2.0, 2.0), (32, 24), (64, 48)) == (2, 1, 5, 5)
    assert source_region(QRectF(30, 20, 10, 10), (32, 24), (64, 48)) == (60, 40, 4, 8)
    assert source_region(QRectF(40, 30, 5, 5), (32, 24), (64, 48)) is None


def test_drawing_a_region_adds_a_repair_and_undo_removes_it(qtbot, window: MainWindow) -> None:
    _show(qtbot, window, 3)
    assert window.viewer.before_image().width() == 32  # half-resolution preview of 64×48
    window.act_repair_tool.setChecked(True)
    zoom = window.viewer.zoom
    _drag(qtbot, window, (4, 4), (12, 10))
    assert window.viewer.zoom == zoom  # the drag drew, it did not pan
    assert window.document.repairs() == [Repair(3, 3, (8, 8, 16, 12))]
    assert window.timeline._repairs == [(3, 3)]
    assert window.repair_list.list.count() == 1
    assert "region 8,8 16x12" in window.repair_list.list.item(0).text()
    assert window.document.is_dirty
    window.act_undo.trigger()
    assert window.document.repairs() == []
    assert window.repair_list.list.count() == 0
    window.act_repair_tool.setChecked(False)
    _drag(qtbot, window, (4, 4), (12, 10))  # tool off: a pan, no repair
    assert window.document.repairs() == []


def test_a_region_covers_the_in_out_range_when_set(qtbot, window: MainWindow) -> None:
    window.timeline.set_in_out(2, 5)
    window.act_repair_tool.setChecked(True)
    _drag(qtbot, window, (0, 0), (8, 8))
    assert window.document.repairs() == [Repair(2, 5, (0, 0, 16, 16))]


def test_mark_destroyed_then_remove_from_the_list(qtbot, window: MainWindow) -> None:
    _show(qtbot, window, 7)
    window.act_mark_destroyed.trigger()
    assert window.document.repairs() == [Repair(7, 7, None)]
    assert "whole frame rebuilt" in window.repair_list.list.item(0).text()
    window.repair_list.list.item(0).setSelected(True)
    window.repair_list.remove_button.click()
    assert window.document.repairs() == []
    window.act_undo.trigger()
    assert window.document.repairs() == [Repair(7, 7, None)]


def test_manual_repairs_overlay_outlines_the_frames_regions(qtbot, window: MainWindow) -> None:
    window.act_repair_tool.setChecked(True)
    _drag(qtbot, window, (4, 4), (12, 10))
    window.mask_combo.setCurrentIndex(window.mask_combo.findData(REPAIRS_OVERLAY))
    assert window.repair_tool.overlay
    assert window.viewer.regions == [QRectF(4, 4, 8, 6)]  # back at preview scale
    _show(qtbot, window, 1)
    assert window.viewer.regions == []  # no repair on frame 1
    window.mask_combo.setCurrentIndex(window.mask_combo.findData(None))
    _show(qtbot, window, 0)
    assert not window.repair_tool.overlay and window.viewer.regions == []


def test_repairs_are_saved_with_the_project(qtbot, window: MainWindow, tmp_path: Path) -> None:
    window.act_repair_tool.setChecked(True)
    _drag(qtbot, window, (4, 4), (12, 10))
    window.act_mark_destroyed.trigger()
    saved = window.document.save(tmp_path / "film.nitrate")
    assert load_project(saved).clip.repairs == [Repair(0, 0, (8, 8, 16, 12)),
                                                Repair(0, 0, None)]
