"""Timeline: seeking by click and drag, shots, zoom/scroll, in/out, lazy thumbnails."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from fractions import Fraction

import pytest
from _fixtures_core import FakeInfo, LevelReader, level_of
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent

from engine.media.timecode import clip_timecode
from ui.engine_bridge import EngineBridge
from ui.timeline import LEVELS_PX, RULER_PX, THUMB_PX, Timeline

ROW_SCRUB = RULER_PX // 2
ROW_SHOTS = RULER_PX + THUMB_PX + 8


@pytest.fixture
def timeline(qtbot):
    t = Timeline()
    qtbot.addWidget(t)
    t.resize(600, t.sizeHint().height())
    t.set_clip(300, Fraction(25), "01:00:00:00")
    t.show()
    qtbot.waitExposed(t)
    return t


def wheel(widget, x: float, notches: int, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    pos = QPointF(x, ROW_SCRUB)
    widget.wheelEvent(
        QWheelEvent(pos, widget.mapToGlobal(pos), QPoint(), QPoint(0, 120 * notches),
                    Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    )


def test_click_seeks_to_the_frame_under_the_cursor(timeline, qtbot) -> None:
    assert timeline.pixels_per_frame == pytest.approx(2.0)  # 300 frames fit in 600 px
    with qtbot.waitSignal(timeline.seek_requested) as sig:
        qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=QPoint(201, ROW_SCRUB))
    assert sig.args == [100]


def test_drag_scrubs_through_frames(timeline, qtbot) -> None:
    seen: list[int] = []
    timeline.seek_requested.connect(seen.append)
    qtbot.mousePress(timeline, Qt.MouseButton.LeftButton, pos=QPoint(10, ROW_SCRUB))
    for x in (50, 90, 130):
        qtbot.mouseMove(timeline, QPoint(x, ROW_SCRUB))
    qtbot.mouseRelease(timeline, Qt.MouseButton.LeftButton, pos=QPoint(130, ROW_SCRUB))
    assert seen[:4] == [5, 25, 45, 65] and set(seen[4:]) <= {65}


def test_shots_are_clickable_and_the_playhead_shot_is_selected(timeline, qtbot) -> None:
    timeline.set_shots([(0, 99), (100, 199), (200, 299)])
    with qtbot.waitSignal(timeline.shot_clicked) as sig:
        qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=QPoint(450, ROW_SHOTS))
    assert sig.args == [2]
    timeline.set_playhead(150)
    assert timeline.selected_shot == 1 and timeline.playhead == 150


def test_ctrl_wheel_zooms_about_the_cursor_and_wheel_scrolls(timeline) -> None:
    anchor_frame = timeline.frame_at(300)
    wheel(timeline, 300, 3, Qt.KeyboardModifier.ControlModifier)
    assert timeline.pixels_per_frame == pytest.approx(2.0 * 1.25**3)
    assert timeline.frame_at(300) == anchor_frame
    first = timeline.first_visible
    wheel(timeline, 300, -1)
    assert timeline.first_visible > first
    timeline.fit_all()
    assert timeline.first_visible == 0 and timeline.pixels_per_frame == pytest.approx(2.0)


def test_playhead_leaving_the_view_scrolls_it_back_in(timeline) -> None:
    timeline.zoom_by(10.0, 0)
    timeline.set_playhead(250)
    x = timeline.x_for_frame(250)
    assert 0 <= x < timeline.width()


def test_in_out_marks_are_signalled(timeline, qtbot) -> None:
    with qtbot.waitSignal(timeline.in_out_changed) as sig:
        timeline.set_in_out(20, 80)
    assert sig.args == [20, 80] and timeline.in_out == (20, 80)
    timeline.grab()  # paints the marks


def test_timecode_follows_the_clip_start() -> None:
    assert clip_timecode(25, Fraction(25), "01:00:00:00") == "01:00:01:00"
    assert clip_timecode(30, Fraction(24)) == "00:00:01:06"


def test_thumbnails_are_built_lazily_for_what_is_visible(qtbot) -> None:
    reader = LevelReader(FakeInfo(frame_count=200))
    bridge = EngineBridge(cache_bytes=32 << 20, open_source=lambda _p: reader)
    timeline = Timeline(bridge=bridge)
    qtbot.addWidget(timeline)
    try:
        with qtbot.waitSignal(bridge.clip_opened):
            bridge.open_clip("levels.mov")
        timeline.resize(400, timeline.sizeHint().height())
        timeline.set_clip(200, Fraction(25))
        timeline.zoom_by(8.0, 0)  # frames 0..~25 visible
        timeline.grab()  # paint asks for the visible thumbnails
        assert bridge.wait_until_idle(10)
        thumbs = timeline.thumbnails()
        visible = timeline.visible_thumbnail_frames()
        assert thumbs and set(thumbs) == set(visible)
        assert max(thumbs) < 40, "nothing off-screen is decoded"
        for index, image in thumbs.items():
            assert image.height() == THUMB_PX
            assert level_of(image) == pytest.approx(index, abs=0.6)
    finally:
        bridge.close()


def _trace_pixels(t: Timeline, x0: int, x1: int) -> list[int]:
    """Rows of the levels graph where columns x0…x1 hold the pale trace."""
    import numpy as np

    from ui.image import qimage_to_array
    top = t._levels_top()
    pixels = qimage_to_array(t.grab().toImage())[top:top + LEVELS_PX, x0:x1 + 1]
    trace = (pixels[..., 0] > 150) & (pixels[..., 2] > 100) & (pixels[..., 2] < 200)
    return sorted(set(np.nonzero(trace)[0].tolist()))


def test_the_levels_graph_shows_each_frame_s_brightness(timeline, qtbot) -> None:
    import numpy as np
    with pytest.raises(ValueError, match="300 frames"):
        timeline.set_levels(np.zeros(10, np.float32))
    levels = np.full(300, 0.40, np.float32)
    levels[100:110] = 0.55                        # a flash in the middle
    levels[200:300] = np.linspace(0.40, 0.10, 100)  # a fade at the end
    timeline.set_levels(levels)
    assert timeline.levels_range() == pytest.approx((0.10, 0.55))
    # Brighter is higher; the steady part lies between the flash and the fade's end.
    assert timeline.level_y(0.55) < timeline.level_y(0.40) < timeline.level_y(0.10)
    flash = _trace_pixels(timeline, 2 * 100 + 2, 2 * 108)
    steady = _trace_pixels(timeline, 2 * 30, 2 * 60)
    faded = _trace_pixels(timeline, 2 * 295, 2 * 298)
    assert flash and steady and faded
    assert max(flash) < min(steady) and max(steady) < min(faded)
    # Zoomed out to several frames a pixel, a one-frame dip still shows.
    levels[150] = 0.10
    timeline.set_levels(levels)
    timeline.resize(120, timeline.height())     # 2.5 frames a pixel
    assert max(_trace_pixels(timeline, 59, 61)) >= timeline.level_y(0.12) - timeline._levels_top()


def test_a_click_on_the_levels_graph_seeks(timeline, qtbot) -> None:
    with qtbot.waitSignal(timeline.seek_requested) as sig:
        qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton,
                         pos=QPoint(101, timeline._levels_top() + LEVELS_PX // 2))
    assert sig.args == [50]
