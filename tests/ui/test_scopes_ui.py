"""The Scopes dock: scopes of the frame shown, before and after, without slowing playback."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from _ui_helpers import discard as _discard
from _ui_helpers import two_shot_window
from PySide6.QtCore import QPointF, QSettings, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QToolButton

from engine import scopes
from engine.project import Recipe, Step
from ui.document import Target
from ui.main_window import MainWindow
from ui.scopes import ScopesPanel, levels_text, pixel_readout


@pytest.fixture
def window(clip_window: MainWindow) -> MainWindow:
    return clip_window


def _white_clipped(text: str) -> list[float]:
    """The white-clipping percentages in the levels line, in order (Before, After)."""
    return [float(v) for v in re.findall(r"white ([0-9.]+) %", text)]


def _levels_line(frame: np.ndarray) -> str:
    """The levels line the dock shows for `frame` alone."""
    return levels_text(scopes.levels(frame))


def _shown(qtbot, win: MainWindow, index: int) -> None:
    qtbot.waitUntil(lambda: win.bridge.wait_until_idle(0.05) and win.viewer.shown_index == index
                    and not win.viewer.showing_draft, timeout=20_000)


def test_scopes_read_the_frame_shown_and_the_recipe_s_clipping(qtbot, window: MainWindow) -> None:
    window.act_scopes.trigger()
    assert window.scopes.active
    window.scopes.set_source("both")
    qtbot.waitUntil(lambda: window.scopes.levels_label.text().count("Clipped") == 2,
                    timeout=5_000)
    before, after = _white_clipped(window.scopes.levels_label.text())
    assert before == after  # no recipe yet: the restored frame is the scan
    # Three stops brighter: much of the restored frame clips, the scan does not change.
    window.document.edit_recipe(Target(0, None), Recipe.of(
        [Step.create("color", {"exposure": 3.0})]), "Too bright")
    qtbot.waitUntil(lambda: _white_clipped(window.scopes.levels_label.text())[1] > before + 20,
                    timeout=20_000)
    assert _white_clipped(window.scopes.levels_label.text())[0] == before
    # The numbers are those of the pictures on the viewer.
    shown = scopes.levels(window.viewer.after_array())
    assert _white_clipped(window.scopes.levels_label.text())[1] == pytest.approx(
        100 * shown.white_clipped, abs=0.06)


def test_scopes_follow_the_playhead(qtbot, window: MainWindow) -> None:
    window.act_scopes.trigger()
    window.scopes.set_kind("waveform")
    qtbot.waitUntil(lambda: window.scopes.refreshes > 0, timeout=5_000)
    first = window.scopes.levels_label.text()
    window.playback.seek(7)
    _shown(qtbot, window, 7)
    # The test clip's frames differ (their index is encoded in them): so do their levels.
    qtbot.waitUntil(lambda: window.scopes.levels_label.text() != first, timeout=5_000)
    assert window.scopes.levels_label.text() == _levels_line(window.viewer.after_array())


def test_closed_scopes_cost_nothing_while_frames_change(qtbot, window: MainWindow) -> None:
    assert not window.scopes.active  # closed until asked for
    for index in (3, 6, 9):
        window.playback.seek(index)
        _shown(qtbot, window, index)
    assert window.scopes.refreshes == 0
    window.activateWindow()
    qtbot.waitActive(window)
    ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(window, Qt.Key.Key_W, ctrl_shift)  # shown: drawn for the frame shown now
    qtbot.waitUntil(lambda: window.scopes.refreshes == 1, timeout=5_000)
    assert window.scopes.levels_label.text() == _levels_line(window.viewer.after_array())
    qtbot.keyClick(window, Qt.Key.Key_W, ctrl_shift)  # in front already: closed again
    assert not window.scopes.active and window.scopes_dock.isHidden()


def test_frames_arriving_together_are_drawn_once(qtbot) -> None:
    panel = ScopesPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.set_active(True)
    qtbot.waitUntil(lambda: panel.refreshes == 1, timeout=5_000)
    frames = [np.full((40, 60, 3), v, np.float32) for v in (0.2, 0.4, 0.6)]
    for frame in frames:  # as fast as playback can deliver them: one event-loop turn
        panel.set_frames(frame, frame)
    qtbot.waitUntil(lambda: panel.refreshes == 2, timeout=5_000)
    qtbot.wait(50)
    assert panel.refreshes == 2
    assert "luma 60–60 %" in panel.levels_label.text()  # the latest frame's


@pytest.mark.parametrize("kind", scopes.KINDS)
def test_each_scope_draws_its_trace(qtbot, kind: str) -> None:
    panel = ScopesPanel()
    qtbot.addWidget(panel)
    panel.resize(640, 360)
    panel.show()
    panel.set_active(True)
    # Red rising across the picture, blue down it: levels and colours spread over the scope.
    frame = np.zeros((90, 160, 3), np.float32)
    frame[..., 0] = np.linspace(0.0, 1.0, 160)[None, :]
    frame[..., 1] = 0.4
    frame[..., 2] = np.linspace(1.0, 0.0, 90)[:, None]
    panel.set_kind(kind)
    panel.set_frames(frame, frame)
    qtbot.waitUntil(lambda: panel.refreshes >= 1, timeout=5_000)
    panel.refresh()
    empty = ScopesPanel()
    qtbot.addWidget(empty)
    empty.resize(640, 360)
    empty.show()
    empty.set_kind(kind)
    empty.refresh()  # no frame: the graticule alone
    drawn = _pixels(panel.after_view.grab().toImage())
    blank = _pixels(empty.after_view.grab().toImage())
    assert drawn.shape == blank.shape
    # The trace adds bright pixels to the graticule.
    assert (drawn.max(axis=2) > 150).sum() > (blank.max(axis=2) > 150).sum() + 50


def _pixels(image: QImage) -> np.ndarray:
    """A QImage's pixels, uint8 (H, W, 3) RGB."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    ptr = image.constBits()
    rows = np.frombuffer(ptr, np.uint8, count=image.sizeInBytes()).reshape(
        image.height(), image.bytesPerLine())
    return rows[:, :image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def test_the_scopes_dock_and_the_view_menu_share_the_clipping_marks(qtbot,
                                                                    window: MainWindow) -> None:
    window.act_scopes.trigger()
    button = window.scopes.findChild(QToolButton)
    assert button is not None and button.defaultAction() is window.act_clipping
    button.click()
    assert window.viewer.show_clipping and window.act_clipping.isChecked()
    window.act_clipping.trigger()
    assert not window.viewer.show_clipping and not button.isChecked()


def test_the_status_bar_reads_the_levels_under_the_pointer(qtbot, window: MainWindow) -> None:
    window.document.edit_recipe(Target(0, None), Recipe.of(
        [Step.create("color", {"exposure": 1.0})]), "Brighter")
    viewer = window.viewer
    qtbot.waitUntil(lambda: not viewer.showing_draft
                    and viewer.after_array().mean() > viewer.before_array().mean() + 0.05,
                    timeout=20_000)
    before, after = viewer.before_array(), viewer.after_array()
    x, y = 20, 13  # a preview pixel (the preview is half the source's size)
    qtbot.mouseMove(viewer, viewer.widget_point(QPointF(x + 0.5, y + 0.5), pane=1).toPoint())
    assert window.pixel_label.text() == pixel_readout((2 * x, 2 * y), before[y, x],
                                                      after[y, x], 8)
    scan, restored = window.pixel_label.text().split("R G B ")[1].split(" (")[0].split(" → ")
    assert scan != restored  # the recipe's change, read at that pixel
    qtbot.mouseMove(viewer, viewer.widget_point(QPointF(-4, -4), pane=1).toPoint())
    assert window.pixel_label.text() == ""


def test_a_reference_still_is_compared_on_the_viewer_and_the_scopes(qtbot,
                                                                    window: MainWindow) -> None:
    assert not window.act_reference.isEnabled()   # nothing grabbed yet
    window.playback.seek(2)
    _shown(qtbot, window, 2)
    grabbed = window.viewer.after_array().copy()
    window.act_grab_reference.trigger()
    assert window.act_reference.isChecked()
    window.playback.seek(9)
    _shown(qtbot, window, 9)
    # Frame 9's restored picture beside frame 2's, by eye and on the scopes.
    assert window.viewer.left_label == "Reference: frame 2, shot 1"
    assert np.array_equal(window.viewer.left_array(), grabbed)
    window.act_scopes.trigger()
    window.scopes.set_source("both")
    qtbot.waitUntil(lambda: window.scopes.levels_label.text().startswith(
        "Reference: frame 2, shot 1: " + _levels_line(grabbed)), timeout=5_000)
    assert window.scopes.before_view.caption == "Reference: frame 2, shot 1"
    window.act_reference.trigger()                # Ctrl+G: back to the scan
    qtbot.waitUntil(lambda: window.scopes.levels_label.text().startswith("Before: "),
                    timeout=5_000)
    assert np.array_equal(window.viewer.left_array(), window.viewer.before_array())
    window.close_project()
    assert not window.act_reference.isEnabled() and window.viewer.reference_label == ""


def test_pixel_readout_gives_code_values_at_the_source_depth() -> None:
    text = pixel_readout((812, 430), np.array([np.nan, 0.5, 2.0]), np.array([0.1, 0.2, 0.3]),
                         10)
    assert text == "x 812 y 430 · R G B 0 512 1023 → 102 205 307 (10-bit)"


def _points(frame: np.ndarray) -> np.ndarray:
    """(3, 2): each channel's black and white points (2nd and 98th percentiles)."""
    return np.stack([np.percentile(frame[..., c], (2, 98)) for c in range(3)])


def test_a_shot_is_graded_to_match_the_reference(qtbot, settings: QSettings, clip: Path,
                                                 tmp_path: Path) -> None:
    win = two_shot_window(qtbot, settings, clip, tmp_path)
    try:
        _shown(qtbot, win, 0)
        win.act_grab_reference.trigger()          # shot 1 as it is
        reference = win.viewer.reference_array().copy()
        # Shot 2 printed on another stock: bluer and flatter.
        cast = Recipe.of([Step.create("sharpen"),
                          Step.create("color", {"gain_b": 1.4, "lift_r": 0.1})])
        win.document.edit_recipe(Target(0, 1), cast, "A cast")
        win.playback.seek(6)
        qtbot.waitUntil(lambda: win.viewer.shown_index == 6 and not win.viewer.showing_draft
                        and win.viewer.after_array()[..., 2].mean()
                        > win.viewer.before_array()[..., 2].mean() + 0.02, timeout=20_000)
        before = np.abs(_points(win.viewer.after_array()) - _points(reference)).max()
        win.act_match.trigger()
        matched = win.document.recipe(Target(0, 1))
        colour = [s for s in matched.steps if s.op == "color"]
        assert len(colour) == 1 and colour[0].params.gain_b < 1.2   # the cast undone
        assert [s.op for s in matched.steps] == ["sharpen", "color"]
        qtbot.waitUntil(lambda: win.viewer.shown_index == 6 and not win.viewer.showing_draft
                        and np.abs(_points(win.viewer.after_array())
                                   - _points(reference)).max() < before / 3, timeout=20_000)
        # Shot 1 keeps the clip's recipe; one undo takes the match back.
        assert win.document.own_recipe(Target(0, 0)) is None
        win.document.undo_stack.undo()
        assert win.document.recipe(Target(0, 1)) == cast
    finally:
        _discard(win)
        win.close()
