"""Manual repair in the viewer: a rectangle drawn with the repair tool becomes a Repair in
source pixels (undoable), frames can be marked destroyed, repairs are listed, removable,
outlined by the "Manual repairs" overlay and saved with the project. The protect tool does
the same for protections (picture the spot repairs leave as scanned), shown apart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _ui_helpers import discard as _discard
from _ui_helpers import open_window
from PySide6.QtCore import QPointF, QRectF, QSettings, Qt
from PySide6.QtGui import QColor

from engine.project import load_project
from engine.project.model import Repair
from engine.synth.clip_file import write_frames
from ui.main_window import REPAIRS_OVERLAY, MainWindow
from ui.repair_tool import source_region


@pytest.fixture
def window(qtbot, settings: QSettings, clip: Path) -> Iterator[MainWindow]:
    win = open_window(qtbot, settings, clip)
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
    window.repair_list.list.setCurrentRow(0)  # a click on the first row
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
    window.act_protect_tool.setChecked(True)
    _drag(qtbot, window, (16, 2), (24, 8))
    saved = window.document.save(tmp_path / "film.nitrate")
    last = window.document.shots()[-1].end  # one shot: the protection covers it all
    assert load_project(saved).clip.repairs == [Repair(0, 0, (8, 8, 16, 12)),
                                                Repair(0, 0, None),
                                                Repair(0, last, (32, 4, 16, 12), protect=True)]


# --- protections ---------------------------------------------------------------------------


def _undo_text(window: MainWindow) -> str:
    return window.document.undo_stack.undoText()


def _pixel(window: MainWindow, image_point: tuple[float, float]) -> QColor:
    """The colour on screen at an image point of the After picture."""
    where = window.viewer.widget_point(QPointF(*image_point)).toPoint()
    return window.viewer.grab().toImage().pixelColor(where)


def test_drawing_in_protect_mode_adds_a_protection_and_undo_removes_it(
        qtbot, window: MainWindow) -> None:
    window.document.split_shot(2)
    window.document.split_shot(6)
    _show(qtbot, window, 3)
    window.act_protect_tool.setChecked(True)
    zoom = window.viewer.zoom
    _drag(qtbot, window, (4, 4), (12, 10))
    assert window.viewer.zoom == zoom  # the drag drew, it did not pan
    # Without in/out marks, over the whole shot shown: water lasts the shot.
    assert window.document.repairs() == [Repair(2, 5, (8, 8, 16, 12), protect=True)]
    assert _undo_text(window) == "Protect region 16×12 px"
    assert window.statusBar().currentMessage() == \
        "Added protection: frames 2-5, region 8,8 16x12 px protected"
    # The timeline marks the frames as protected, not as repaired.
    assert window.timeline.protections == [(2, 5)] and window.timeline.repairs == []
    assert window.repair_list.list.item(0).text() == "frames 2-5, region 8,8 16x12 px protected"
    window.act_undo.trigger()
    assert window.document.repairs() == []
    assert window.timeline.protections == []
    assert window.repair_list.list.count() == 0


def test_protect_and_repair_tools_exclude_each_other(qtbot, window: MainWindow) -> None:
    window.act_repair_tool.setChecked(True)
    window.act_protect_tool.setChecked(True)
    assert not window.act_repair_tool.isChecked()
    assert window.viewer.region_tool and window.repair_tool.protecting
    window.act_repair_tool.setChecked(True)
    assert not window.act_protect_tool.isChecked()
    assert window.viewer.region_tool and not window.repair_tool.protecting
    _drag(qtbot, window, (4, 4), (12, 10))  # back to repairing
    assert window.document.repairs() == [Repair(0, 0, (8, 8, 16, 12))]
    window.act_repair_tool.setChecked(False)
    assert not window.act_protect_tool.isChecked() and not window.viewer.region_tool
    _drag(qtbot, window, (4, 4), (12, 10))  # both off: a pan, nothing added
    assert len(window.document.repairs()) == 1


def test_overlay_shows_protections_apart_from_repairs(qtbot, window: MainWindow) -> None:
    window.act_repair_tool.setChecked(True)
    _drag(qtbot, window, (4, 4), (12, 10))
    window.act_protect_tool.setChecked(True)
    _drag(qtbot, window, (16, 2), (24, 8))
    window.act_protect_tool.setChecked(False)
    # Turning a tool on showed the outlines; without them the picture is plain.
    assert window.mask_combo.currentData() == REPAIRS_OVERLAY
    window.mask_combo.setCurrentIndex(window.mask_combo.findData(None))
    plain_repaired, plain_protected = _pixel(window, (8, 7)), _pixel(window, (20, 5))
    window.mask_combo.setCurrentIndex(window.mask_combo.findData(REPAIRS_OVERLAY))
    assert window.viewer.regions == [QRectF(4, 4, 8, 6)]
    assert window.viewer.protected_regions == [QRectF(16, 2, 8, 6)]
    # On screen the repair is tinted magenta (more red, less green), the protection cyan
    # (less red, more green).
    repaired, protected = _pixel(window, (8, 7)), _pixel(window, (20, 5))
    assert repaired.red() > plain_repaired.red() and repaired.green() < plain_repaired.green()
    assert protected.red() < plain_protected.red()
    assert protected.green() > plain_protected.green()
    # On the next frame the repair (of frame 0) is gone; the protection (of the shot) stays.
    _show(qtbot, window, 1)
    assert window.viewer.regions == [] and window.viewer.protected_regions == [QRectF(16, 2, 8, 6)]


def test_protect_whole_frames_over_the_in_out_range(qtbot, window: MainWindow) -> None:
    window.timeline.set_in_out(2, 5)
    window.act_protect_frame.trigger()
    assert window.document.repairs() == [Repair(2, 5, None, protect=True)]
    assert _undo_text(window) == "Protect frames 2-5"
    assert window.timeline.protections == [(2, 5)]
    assert window.repair_list.list.item(0).text() == "frames 2-5, whole frame protected"
    window.mask_combo.setCurrentIndex(window.mask_combo.findData(REPAIRS_OVERLAY))
    _show(qtbot, window, 3)
    assert window.viewer.protected_regions == [None] and window.viewer.regions == []
    _show(qtbot, window, 6)
    assert window.viewer.protected_regions == []


def test_protect_frame_button_then_remove_says_protection(qtbot, window: MainWindow) -> None:
    _show(qtbot, window, 7)
    window.repair_list.protect_button.click()
    window.act_mark_destroyed.trigger()
    assert window.document.repairs() == [Repair(7, 7, None, protect=True), Repair(7, 7, None)]
    texts = [window.repair_list.list.item(i).text() for i in range(2)]
    assert texts == ["frame 7, whole frame protected", "frame 7, whole frame rebuilt"]
    window.repair_list.list.setCurrentRow(0)  # a click on the first row
    window.repair_list.remove_button.click()
    assert window.document.repairs() == [Repair(7, 7, None)]
    assert _undo_text(window) == "Remove protection (frame 7, whole frame protected)"
    window.act_undo.trigger()
    window.repair_list.list.selectAll()
    window.repair_list.remove_button.click()
    assert window.document.repairs() == []
    assert _undo_text(window) == "Remove 1 repair and 1 protection"


def test_a_note_is_given_to_the_selected_mark_undoably(qtbot, window: MainWindow,
                                                        monkeypatch) -> None:
    from PySide6.QtWidgets import QInputDialog

    window.timeline.set_in_out(2, 5)
    window.act_protect_frame.trigger()
    window.act_mark_destroyed.trigger()
    panel = window.repair_list
    # The mark just added is selected, ready for a note or a track.
    assert panel.list.selectedItems() == [panel.list.item(1)]
    panel.list.setCurrentRow(0)  # a click on the first row
    assert panel.list.selectedItems() == [panel.list.item(0)]
    assert panel.note_button.isEnabled()
    asked: list[str] = []

    def answer(_parent, _title, label, text=""):
        asked.append(label)
        return "waves on the lake", True

    monkeypatch.setattr(QInputDialog, "getText", answer)
    panel.note_button.click()
    assert asked == ["Why this protection (frames 2-5, whole frame protected):"]
    assert window.document.repairs() == [
        Repair(2, 5, None, "waves on the lake", protect=True), Repair(2, 5, None)]
    assert panel.list.item(0).text() == "frames 2-5, whole frame protected — waves on the lake"
    assert _undo_text(window) == "Note on protection (frames 2-5, whole frame protected)"
    window.act_undo.trigger()
    assert window.document.repairs()[0].note == ""
    panel.list.selectAll()
    assert not panel.note_button.isEnabled()  # one note at a time


def test_the_after_view_shows_a_protected_frame_as_scanned(qtbot, window: MainWindow) -> None:
    import numpy as np

    from engine.project import Recipe, Step
    from ui.document import Target
    from ui.image import qimage_to_array

    def changed_pixels() -> int:
        after, before = window.viewer.after_image(), window.viewer.before_image()
        if after is None or before is None:
            return -1
        a = qimage_to_array(after).astype(np.int16)
        return int((np.abs(a - qimage_to_array(before)).max(axis=-1) > 2).sum())

    def settled_at(check) -> None:
        qtbot.waitUntil(lambda: window.bridge.wait_until_idle(0.05) and check(changed_pixels()),
                        timeout=20_000)

    # Dust takes the frame's changing index pattern for dirt and repaints part of it.
    window.document.edit_recipe(Target(0, None), Recipe.of([Step.create("dust")]), "Dust")
    _show(qtbot, window, 5)
    settled_at(lambda n: n > 20)
    window.repair_list.protect_button.click()  # frame 5, whole frame
    settled_at(lambda n: n == 0)
    window.act_undo.trigger()
    settled_at(lambda n: n > 20)


# -- tracking ----------------------------------------------------------------------------------
PAN_SIZE = (320, 180)
PAN_STEP = (3, 1)  # pixels a frame the picture moves left and up


@pytest.fixture
def pan_clip(tmp_path: Path) -> Path:
    """A lossless 10-frame pan across smooth random scenery (320x180)."""
    import cv2
    import numpy as np

    w, h = PAN_SIZE
    rng = np.random.default_rng(5)
    world = cv2.GaussianBlur(rng.random((h + 60, w + 60)).astype(np.float32), (0, 0), 2.5)
    world = (world - world.min()) / np.ptp(world)
    return write_frames(tmp_path / "pan.mkv", (
        np.repeat(world[y:y + h, x:x + w, None], 3, axis=2)
        for x, y in ((PAN_STEP[0] * i, PAN_STEP[1] * i) for i in range(10))))


def test_track_makes_the_selected_protection_follow_the_pan(qtbot, settings: QSettings,
                                                             pan_clip: Path) -> None:
    win = open_window(qtbot, settings, pan_clip)
    _show(qtbot, win, 4)
    panel = win.repair_list
    win.document.edit_repairs([Repair(0, 9, (120, 60, 60, 40), protect=True)], "Protect")
    # The new protection is selected, ready to track from the frame shown (4).
    assert panel.list.selectedItems() == [panel.list.item(0)] and panel.track_button.isEnabled()
    messages: list[str] = []
    win.repair_tool.message.connect(messages.append)
    with qtbot.waitSignal(win.repair_tool.tracker.finished, timeout=20_000):
        panel.track_button.click()
        assert panel.track_button.text() == "Stop tracking"
    assert messages[0] == "Tracking the protection over frames 0-9 from frame 4…"
    assert "Tracking… 10 of 10 frames" in messages  # progress in the status bar
    assert messages[-1] == "The protection follows the picture over frames 0-9"
    (tracked,) = win.document.repairs()
    assert tracked.region_at(4) == (120, 60, 60, 40)  # where it was placed
    for i in (0, 9):
        dx, dy = PAN_STEP[0] * (i - 4), PAN_STEP[1] * (i - 4)
        assert tracked.region_at(i) == (120 - dx, 60 - dy, 60, 40)
    assert panel.track_button.text() == "Track"
    assert panel.list.item(0).text().endswith("protected, following the picture")
    assert _undo_text(win).startswith("Track protection")
    # The overlay outlines it where the picture went (preview pixels).
    win.mask_combo.setCurrentIndex(win.mask_combo.findData(REPAIRS_OVERLAY))
    _show(qtbot, win, 9)
    k = win.viewer.before_image().width() / PAN_SIZE[0]
    assert win.viewer.protected_regions == [QRectF(105 * k, 55 * k, 60 * k, 40 * k)]
    win.act_undo.trigger()
    assert win.document.repairs() == [Repair(0, 9, (120, 60, 60, 40), protect=True)]
    _discard(win)
    win.close()


def test_track_asks_for_a_frame_of_the_region(qtbot, window: MainWindow) -> None:
    window.document.edit_repairs([Repair(2, 5, (8, 8, 16, 16), protect=True)], "Protect")
    _show(qtbot, window, 9)
    messages: list[str] = []
    window.repair_tool.message.connect(messages.append)
    window.repair_list.track_button.click()
    assert messages == ["Show one of the protection's frames (2-5) with the region on the "
                        "picture to follow, then track"]
    assert not window.repair_tool.tracker.running


# -- editing an outlined region ------------------------------------------------------------------
def test_a_region_is_moved_and_resized_by_dragging_it(qtbot, window: MainWindow) -> None:
    window.act_repair_tool.setChecked(True)
    _drag(qtbot, window, (4, 4), (12, 10))  # preview pixels: half the source
    assert window.document.repairs() == [Repair(0, 0, (8, 8, 16, 12))]
    _drag(qtbot, window, (8, 7), (10, 8))  # inside: moves it
    assert window.document.repairs() == [Repair(0, 0, (12, 10, 16, 12))]
    assert _undo_text(window) == "Move repair (frame 0, region 8,8 16x12 px)"
    assert window.viewer.regions == [QRectF(6, 5, 8, 6)]
    _drag(qtbot, window, (14, 11), (16, 15))  # its bottom-right corner: resizes it
    assert window.document.repairs() == [Repair(0, 0, (12, 10, 20, 20))]
    assert _undo_text(window).startswith("Resize repair")
    _drag(qtbot, window, (20, 18), (24, 22))  # outside it: draws another
    assert len(window.document.repairs()) == 2
    window.act_undo.trigger()
    window.act_undo.trigger()
    window.act_undo.trigger()
    assert window.document.repairs() == [Repair(0, 0, (8, 8, 16, 12))]
    assert window.viewer.regions == [QRectF(4, 4, 8, 6)]


def test_moving_a_tracked_region_moves_its_whole_path(qtbot, window: MainWindow) -> None:
    track = tuple((2 * i, 0) for i in range(6))  # 2 source px a frame to the right
    window.document.edit_repairs([Repair(0, 5, (8, 8, 16, 12), protect=True, track=track)],
                                 "Protect")
    _show(qtbot, window, 3)
    window.act_protect_tool.setChecked(True)
    assert window.viewer.protected_regions == [QRectF(7, 4, 8, 6)]  # (14, 8) on frame 3
    _drag(qtbot, window, (10, 6), (11, 8))  # one preview px right, two down
    (moved,) = window.document.repairs()
    assert moved.region_at(3) == (16, 12, 16, 12)
    assert [moved.region_at(i)[:2] for i in range(6)] == [(10 + 2 * i, 12) for i in range(6)]
    assert moved.track[3] == (0, 0)  # rebased on the frame it was moved on


def test_a_moved_region_keeps_its_size_at_any_zoom(qtbot, window: MainWindow) -> None:
    window.document.edit_repairs([Repair(0, 0, (9, 9, 15, 11))], "Repair")
    window.act_repair_tool.setChecked(True)
    window.viewer.zoom_to(3.0)  # screen pixels fall between image pixels
    for _ in range(3):
        centre = window.viewer.regions[0].center()
        _drag(qtbot, window, (centre.x(), centre.y()), (centre.x() + 2.3, centre.y() + 1.7))
    (moved,) = window.document.repairs()
    assert moved.region[2:] == (15, 11)
    assert _undo_text(window).startswith("Move repair")


def test_track_from_the_menu_needs_one_selected_region(qtbot, window: MainWindow) -> None:
    messages: list[str] = []
    window.repair_tool.message.connect(messages.append)
    window.act_track.trigger()
    assert messages == ["Select one region in the Repairs dock to track"]
    assert not window.repair_tool.tracker.running


# -- a click on a spot -----------------------------------------------------------------------------
@pytest.fixture
def spotted_clip(tmp_path: Path) -> Path:
    """10 frames (320x180) of still, smooth scenery with a dark speck of dirt (radius 4 px
    around 100,60) on frame 4."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(2)
    scenery = cv2.GaussianBlur(rng.random((180, 320)).astype(np.float32), (0, 0), 3)
    scenery = 0.5 + 0.05 * (scenery - scenery.mean()) / scenery.std()
    frames = [scenery.copy() for _ in range(10)]
    cv2.circle(frames[4], (100, 60), 4, 0.1, -1)
    return write_frames(tmp_path / "speck.mkv",
                        (np.repeat(f[..., None], 3, axis=2) for f in frames))


def test_a_click_repairs_the_speck_under_it(qtbot, settings: QSettings,
                                           spotted_clip: Path) -> None:
    win = open_window(qtbot, settings, spotted_clip)
    _show(qtbot, win, 4)
    win.act_repair_tool.setChecked(True)
    k = win.viewer.before_image().width() / 320  # preview pixels per source pixel
    messages: list[str] = []
    win.repair_tool.message.connect(messages.append)
    where = win.viewer.widget_point(QPointF(100.5 * k, 60.5 * k)).toPoint()
    qtbot.mouseClick(win.viewer, Qt.MouseButton.LeftButton, pos=where)
    (repair,) = win.document.repairs()
    x, y, w, h = repair.region
    assert (repair.start, repair.end) == (4, 4)
    assert x <= 96 and y <= 56 and x + w >= 105 and y + h >= 65  # the whole speck
    assert w <= 24 and h <= 24  # and little else
    # On plain picture a click finds nothing to repair, and says so.
    where = win.viewer.widget_point(QPointF(250 * k, 130 * k)).toPoint()
    qtbot.mouseClick(win.viewer, Qt.MouseButton.LeftButton, pos=where)
    assert len(win.document.repairs()) == 1
    assert messages[-1].startswith("No spot of dirt stands out at")


def test_stop_tracking_applies_nothing_and_never_waits_for_the_worker(
        qtbot, window: MainWindow, monkeypatch) -> None:
    import threading

    import engine.ops.track
    from engine.errors import RenderCancelled

    started, release = threading.Event(), threading.Event()

    def slow_track(_reader, _region, _start, _end, _key, progress=None, cancel=None):
        started.set()
        release.wait(20)  # holds the worker past the click, as a long shot would
        assert cancel is not None and cancel()
        raise RenderCancelled("tracking cancelled")

    monkeypatch.setattr(engine.ops.track, "track_region", slow_track)
    marked = Repair(0, 5, (8, 8, 16, 16), protect=True)
    window.document.edit_repairs([marked], "Protect")
    panel = window.repair_list
    panel.track_button.click()
    qtbot.waitUntil(started.is_set, timeout=5_000)
    assert panel.track_button.text() == "Stop tracking"
    messages: list[str] = []
    window.repair_tool.message.connect(messages.append)
    panel.track_button.click()  # returns at once although the worker is still busy
    assert window.repair_tool.tracker.running
    assert panel.track_button.text() == "Track" and messages == ["Tracking cancelled"]
    release.set()
    qtbot.waitUntil(lambda: not window.repair_tool.tracker.running, timeout=5_000)
    assert window.document.repairs() == [marked]
