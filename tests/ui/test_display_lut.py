"""View ▸ Display LUT: a log scan shown as video on the viewer and the timeline, while the
frames, the scopes and what is exported stay as they are."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from _fixtures_core import FakeInfo, LevelReader, level_of
from PySide6.QtWidgets import QFileDialog

from engine.lut import Lut, apply_lut, load_lut, write_cube
from engine.project import load_project
from ui.engine_bridge import EngineBridge
from ui.image import qimage_to_array, to_uint8
from ui.main_window import MainWindow
from ui.timeline import Timeline


@pytest.fixture
def window(clip_window: MainWindow) -> MainWindow:
    return clip_window


def shown_pixels(window: MainWindow) -> tuple[np.ndarray, np.ndarray]:
    before, after = window.viewer.before_image(), window.viewer.after_image()
    assert before is not None and after is not None
    return qimage_to_array(before), qimage_to_array(after)


def check_the_render_dialog_offers_the_lut_for_review_copies(
        window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from ui.render_queue import OUTPUT_CHOICES, RenderDialog

    jobs: list = []
    monkeypatch.setattr(window.render_queue, "add_job", lambda job, **_: jobs.append(job))
    seen: list[tuple[str, bool]] = []

    def choose(codec: str, through: bool | None = None) -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, RenderDialog)
        dialog.format.setCurrentIndex([c.codec for c in OUTPUT_CHOICES].index(codec))
        seen.append((dialog.view_lut.text(), dialog.view_lut.isChecked()))
        if through is not None:
            dialog.view_lut.setChecked(through)
            dialog.compare.setCurrentIndex(dialog.compare.findData("split"))
        dialog.accept()

    for codec, through in (("h264", None), ("prores_hq", None), ("prores_hq", True)):
        QTimer.singleShot(0, lambda c=codec, t=through: choose(c, t))
        window.render_dialog("clip")
    label = "Through the display LUT (Rec.709 to Cineon log): a review copy"
    # On by itself for a delivery codec, off for a master, and on when asked.
    assert seen == [(label, True), (label, False), (label, False)]
    assert [job.view_lut for job in jobs] == ["rec709-to-cineon", "", "rec709-to-cineon"]
    assert [job.compare for job in jobs] == ["", "", "split"]  # before | after, when asked


def test_the_clip_is_shown_through_the_display_lut_and_nothing_else_changes(
        qtbot, window: MainWindow, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    viewer = window.viewer
    frame = viewer.before_array()
    assert frame is not None
    plain_before, _ = shown_pixels(window)
    assert window.set_display_lut("rec709-to-cineon")
    lut = load_lut("rec709-to-cineon")
    assert viewer.display_lut is lut
    before, after = shown_pixels(window)
    # Both pictures are what the LUT makes of the frame (black is lifted to code 95).
    np.testing.assert_array_equal(before, to_uint8(apply_lut(frame, lut)))
    np.testing.assert_array_equal(after, before)  # no recipe: the same frame
    assert before.min() >= 23 and plain_before.min() < 10
    # The timeline's thumbnails are made again through it.
    window.timeline.grab()
    qtbot.waitUntil(lambda: window.bridge.wait_until_idle(0.05)
                    and bool(window.timeline.thumbnails()), timeout=10_000)
    for thumb in window.timeline.thumbnails().values():
        assert qimage_to_array(thumb).min() >= 23
    # The frames themselves, and so the scopes and exports, are untouched.
    assert viewer.before_array() is frame
    assert viewer._hud_view().startswith("view: Rec.709 to Cineon log   ")  # by the zoom
    assert window.document.undo_stack.undoText() == "Display LUT: Rec.709 to Cineon log"
    # Exports keep the scan's levels unless a review copy is asked to go through it.
    check_the_render_dialog_offers_the_lut_for_review_copies(window, monkeypatch)
    # Kept by the project; undone in one step.
    path = window.document.save(tmp_path / "log.nitrate")
    assert load_project(path).clip.display_lut == "rec709-to-cineon"
    window.document.undo_stack.undo()
    assert viewer.display_lut is None
    np.testing.assert_array_equal(shown_pixels(window)[0], plain_before)
    assert "view:" not in viewer._hud_view()


def test_a_cube_file_chosen_from_the_menu_and_a_bad_one_refused(
        qtbot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inverted = tmp_path / "negative.cube"
    write_cube(Lut("negative", shaper=np.array([[1, 1, 1], [0, 0, 0]], np.float32)), inverted)
    menu = window.display_lut_menu
    menu.aboutToShow.emit()
    labels = [a.text() for a in menu.actions() if a.text()]
    assert labels[:3] == ["None (the frames as they are)", "Cineon log to Rec.709",
                          "Rec.709 to Cineon log"]
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda *_a, **_k: (str(inverted), "Cube LUTs (*.cube)"))
    next(a for a in menu.actions() if a.text() == "Other .cube file…").trigger()
    frame = window.viewer.before_array()
    assert frame is not None
    np.testing.assert_array_equal(shown_pixels(window)[0], to_uint8(1.0 - frame))
    menu.aboutToShow.emit()  # the file is now listed, ticked
    ticked = [a.text() for a in menu.actions() if a.isChecked()]
    assert ticked == ["negative.cube"]
    # A file that is not a LUT: one line naming it, and the view stays as it was.
    bad = tmp_path / "notes.cube"
    bad.write_text("hello\n")
    errors: list[str] = []
    window.show_error = lambda _title, text: errors.append(text)  # type: ignore[method-assign]
    assert not window.set_display_lut(str(bad))
    assert errors == [f"{bad}: line 1: expected 3 numbers, got 'hello'"]
    assert window.document.display_lut() == str(inverted)


def test_thumbnails_follow_the_display_lut_and_stale_ones_are_dropped(qtbot) -> None:
    reader = LevelReader(FakeInfo(frame_count=40))
    bridge = EngineBridge(cache_bytes=32 << 20, open_source=lambda _p: reader)
    timeline = Timeline(bridge=bridge)
    qtbot.addWidget(timeline)
    # Levels doubled: frame i (level i/255) is shown at 2i/255.
    double = Lut("double", shaper=np.array([[0, 0, 0], [2, 2, 2]], np.float32))

    def shown_levels() -> dict[int, float]:
        timeline.grab()  # paint asks for the visible thumbnails
        assert bridge.wait_until_idle(10)
        return {index: level_of(image) for index, image in timeline.thumbnails().items()}

    try:
        with qtbot.waitSignal(bridge.clip_opened):
            bridge.open_clip("levels.mov")
        timeline.resize(400, timeline.sizeHint().height())
        timeline.set_clip(40, Fraction(25))
        plain = shown_levels()
        assert plain and all(level == pytest.approx(i, abs=0.6) for i, level in plain.items())
        bridge.set_display_lut(double)
        timeline.refresh_thumbnails()
        assert timeline.thumbnails() == {}
        doubled = shown_levels()
        assert doubled.keys() == plain.keys()
        assert all(level == pytest.approx(2 * i, abs=0.6) for i, level in doubled.items())
        # Thumbnails made through the LUT, still on their way when it is taken off, are
        # not shown: the strip asks for them again.
        timeline.refresh_thumbnails()
        timeline.grab()
        server = bridge._server
        assert server is not None and server.wait_until_idle(10)
        bridge.set_display_lut(None)
        timeline.refresh_thumbnails()
        assert bridge.wait_until_idle(10)
        assert timeline.thumbnails() == {}
        assert shown_levels() == pytest.approx(plain)
    finally:
        bridge.close()
