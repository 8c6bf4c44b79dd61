"""CompareViewer: modes, zoom/pan, pixel exactness, deep-source display, mask overlay."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent

from ui.compare_viewer import MODES, CompareViewer
from ui.image import frame_to_qimage, qimage_to_array


@pytest.fixture
def viewer(qtbot):
    v = CompareViewer()
    qtbot.addWidget(v)
    v.resize(400, 300)
    v.show()
    qtbot.waitExposed(v)
    return v


def pattern(h: int = 48, w: int = 64, seed: int = 1) -> np.ndarray:
    """Random exact 8-bit levels, so any smoothing or offset changes pixels."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (h, w, 3)) / 255.0).astype(np.float32)


def screen(v: CompareViewer) -> np.ndarray:
    return qimage_to_array(v.grab().toImage())


def test_shows_frame_index_timecode_and_the_after_picture(viewer) -> None:
    before = np.full((48, 64, 3), 10 / 255, np.float32)
    after = np.full((48, 64, 3), 200 / 255, np.float32)
    viewer.show_frames(before, after, 17, "01:00:00:17", {})
    assert viewer.shown_index == 17 and viewer.timecode == "01:00:00:17"
    assert np.all(qimage_to_array(viewer.after_image()) == 200)
    assert np.all(qimage_to_array(viewer.before_image()) == 10)


def test_modes_switch_and_unknown_mode_is_refused(viewer, qtbot) -> None:
    viewer.show_frames(pattern(), pattern(seed=2), 0)
    for mode in MODES:
        with qtbot.waitSignal(viewer.mode_changed) if mode != viewer.mode else _nothing():
            viewer.set_mode(mode)
        assert viewer.mode == mode
        viewer.grab()  # paints without error in every mode
    with pytest.raises(ValueError, match="unknown compare mode 'wipe'"):
        viewer.set_mode("wipe")


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("zoom", [1.0, 2.0])
def test_integer_zoom_is_pixel_exact(viewer, zoom: float) -> None:
    frame = pattern()
    viewer.set_mode("toggle")
    viewer.show_frames(frame, frame, 0)
    viewer.zoom_to(zoom)
    shot = screen(viewer)
    expected = np.repeat(np.repeat(qimage_to_array(frame_to_qimage(frame)), int(zoom), 0), int(zoom), 1)
    origin = viewer.image_point_at(QPointF(0, 0))
    x0, y0 = round(-origin.x() * zoom), round(-origin.y() * zoom)
    h, w = expected.shape[:2]
    assert np.array_equal(shot[y0 : y0 + h, x0 : x0 + w], expected)


def test_side_by_side_panes_stay_in_step_when_zooming_and_panning(viewer) -> None:
    frame = pattern(96, 128)
    viewer.show_frames(frame, frame.copy(), 0)  # identical halves: the panes must match
    viewer.zoom_to(2.0)
    viewer.pan_by(-37, 21)
    shot = screen(viewer)
    half = (viewer.width() - 2) // 2
    left, right = shot[:, :half], shot[:, viewer.width() - half :]
    # Compare below the labels/HUD text rows.
    assert np.array_equal(left[40:-30], right[40:-30])
    assert viewer.image_point_at(QPointF(10, 100)) == viewer.image_point_at(QPointF(10 + viewer.width() - half, 100))


def test_wheel_zoom_keeps_the_point_under_the_cursor(viewer) -> None:
    viewer.set_mode("split")
    viewer.show_frames(pattern(), pattern(), 0)
    cursor = QPointF(150, 120)
    before = viewer.image_point_at(cursor)
    event = QWheelEvent(
        cursor, viewer.mapToGlobal(cursor), QPoint(), QPoint(0, 120), Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False,
    )
    old_zoom = viewer.zoom
    viewer.wheelEvent(event)
    assert viewer.zoom > old_zoom
    after = viewer.image_point_at(cursor)
    assert abs(after.x() - before.x()) < 1 / viewer.zoom + 1e-6
    assert abs(after.y() - before.y()) < 1 / viewer.zoom + 1e-6


def test_fit_and_zoom_steps(viewer) -> None:
    viewer.show_frames(pattern(), pattern(), 0)
    viewer.set_mode("toggle")
    viewer.fit()
    assert viewer.fitted and viewer.zoom == pytest.approx(min(400 / 64, 300 / 48))
    viewer.zoom_to(1.0)
    assert viewer.zoom == 1.0 and not viewer.fitted
    viewer.zoom_step(1)
    assert viewer.zoom == 1.5


def test_split_divider_drags_and_shows_before_left_after_right(viewer, qtbot) -> None:
    black = np.zeros((48, 64, 3), np.float32)
    white = np.ones((48, 64, 3), np.float32)
    viewer.set_mode("split")
    viewer.show_frames(black, white, 0)
    qtbot.mousePress(viewer, Qt.MouseButton.LeftButton, pos=QPoint(200, 150))
    qtbot.mouseMove(viewer, QPoint(100, 150))
    qtbot.mouseRelease(viewer, Qt.MouseButton.LeftButton, pos=QPoint(100, 150))
    assert viewer.split == pytest.approx(0.25)
    shot = screen(viewer)
    assert shot[150, 90].max() == 0 and shot[150, 110].min() == 255


def test_toggle_holds_before_while_b_is_down_and_click_flips(viewer, qtbot) -> None:
    viewer.set_mode("toggle")
    viewer.show_frames(np.zeros((48, 64, 3), np.float32), np.ones((48, 64, 3), np.float32), 0)
    assert screen(viewer)[150, 200].min() == 255
    qtbot.keyPress(viewer, Qt.Key.Key_B)
    assert viewer.showing_before and screen(viewer)[150, 200].max() == 0
    qtbot.keyRelease(viewer, Qt.Key.Key_B)
    assert not viewer.showing_before
    qtbot.mouseClick(viewer, Qt.MouseButton.LeftButton, pos=QPoint(200, 150))
    assert viewer.showing_before


def test_difference_is_grey_where_unchanged_and_signed(viewer) -> None:
    before = np.full((48, 64, 3), 0.5, np.float32)
    after = before.copy()
    after[:, 32:] += 0.05  # brightened on the right half only
    viewer.set_mode("difference")
    viewer.show_frames(before, after, 3)
    diff = qimage_to_array(viewer.difference_image())
    # Mid-grey is 127.5 on an 8-bit screen: dithered between 127 and 128.
    assert set(np.unique(diff[:, :32]).tolist()) <= {127, 128}
    assert diff[:, :32].mean() == pytest.approx(127.5, abs=0.1)
    assert diff[:, 32:].mean() == pytest.approx((0.5 + 4 * 0.05) * 255, abs=0.1)


def test_deep_source_is_dithered_not_banded(viewer) -> None:
    # A 16-bit level a quarter of the way between two 8-bit steps.
    level = (100 + 0.25) / 255
    viewer.show_frames(np.full((48, 64, 3), level, np.float32), np.full((48, 64, 3), level, np.float32), 0)
    shown = qimage_to_array(viewer.after_image())
    assert set(np.unique(shown).tolist()) == {100, 101}
    assert shown.mean() == pytest.approx(100.25, abs=0.02)


def test_mask_overlay_tints_only_the_masked_pixels(viewer) -> None:
    grey = np.full((48, 64, 3), 128 / 255, np.float32)
    mask = np.zeros((48, 64), np.float32)
    mask[10:20, 10:20] = 1.0
    viewer.show_frames(grey, grey.copy(), 0, masks={2: mask})
    viewer.set_mask_step(2)
    shown = qimage_to_array(viewer.after_image())
    assert shown[15, 15, 1] < 100 and shown[15, 15, 0] > 200  # magenta
    assert np.all(shown[30:, 30:] == 128)
    viewer.set_mask_step(None)
    assert np.all(qimage_to_array(viewer.after_image()) == 128)


def test_busy_indicator_and_message(viewer) -> None:
    viewer.set_busy(True)
    assert viewer.busy
    viewer.show_message("color: failed on frame 3")
    viewer.grab()
    viewer.set_busy(False)
    assert not viewer.busy


def test_an_upscaled_after_is_compared_with_the_enlarged_original(viewer) -> None:
    small = pattern(24, 32)
    big = np.repeat(np.repeat(small, 2, axis=0), 2, axis=1)
    viewer.show_frames(small, big, 3, masks={0: np.ones((24, 32), np.float32)})
    assert viewer.before_image().size() == viewer.after_image().size()
    assert (viewer.before_image().width(), viewer.before_image().height()) == (64, 48)
    viewer.set_mode("difference")
    assert viewer.difference_image() is not None
    viewer.set_mask_step(0)  # a mask of the small size is drawn at the large size
    viewer.repaint()


def test_clipped_pixels_are_marked_on_both_pictures_on_request(viewer) -> None:
    from ui.image import CLIPPED_BLACK, CLIPPED_WHITE
    before = np.full((48, 64, 3), 0.5, np.float32)
    before[:, :8] = (0.2, 0.0, 0.3)         # one channel crushed to black in the scan
    after = before.copy()
    after[:, :8] = (0.25, 0.05, 0.35)       # lifted by the recipe: no longer clipped
    after[40:, 32:] = (1.0, 0.9, 0.8)       # a highlight the recipe blew out
    viewer.show_frames(before, after, 0)
    plain_before = qimage_to_array(viewer.before_image()).copy()
    plain_after = qimage_to_array(viewer.after_image()).copy()
    viewer.set_show_clipping(True)
    marked_before = qimage_to_array(viewer.before_image())
    marked_after = qimage_to_array(viewer.after_image())
    assert np.all(marked_before[:, :8] == CLIPPED_BLACK)
    assert np.all(marked_before[:, 8:] == plain_before[:, 8:])
    assert np.all(marked_after[40:, 32:] == CLIPPED_WHITE)
    assert np.all(marked_after[:, :8] == plain_after[:, :8])   # lifted: not marked
    assert np.all(marked_after[:40][:, 8:] == plain_after[:40][:, 8:])
    # The screen shows the marks; off again, the plain pictures.
    assert (screen(viewer) == CLIPPED_WHITE).all(axis=2).sum() > 0
    viewer.set_show_clipping(False)
    assert np.all(qimage_to_array(viewer.after_image()) == plain_after)


def test_a_reference_still_takes_the_before_place_on_request(viewer) -> None:
    before, after = pattern(seed=3), pattern(seed=4)
    viewer.show_frames(before, after, 9)
    reference = np.full((24, 32, 3), 60 / 255, np.float32)   # grabbed at a smaller preview
    viewer.set_reference(reference, "frame 2")
    assert viewer.left_label == "Before"                     # kept, not yet compared
    assert np.array_equal(qimage_to_array(viewer.before_image()),
                          qimage_to_array(frame_to_qimage(before)))
    viewer.set_compare_reference(True)
    assert viewer.comparing_reference and viewer.left_label == "Reference: frame 2"
    assert viewer.left_array().shape == after.shape          # shown at the After's size
    assert np.all(qimage_to_array(viewer.before_image()) == 60)
    assert np.array_equal(viewer.before_array(), before)     # the tools still read the scan
    viewer.set_mode("toggle")
    viewer.set_showing_before(True)
    assert np.all(screen(viewer)[viewer.height() // 2, viewer.width() // 2] == 60)
    viewer.set_compare_reference(False)
    assert viewer.left_label == "Before"
    assert np.array_equal(qimage_to_array(viewer.before_image()),
                          qimage_to_array(frame_to_qimage(before)))
