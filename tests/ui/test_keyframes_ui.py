"""Keyframes: the inspector's key buttons, the diamonds on the timeline (drag, delete,
interpolation), every edit undoable, and the after view following the keyed value."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from _ui_helpers import FRAMES
from _ui_helpers import discard as _discard
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QImage

from engine.project import Clip, Project, Shot
from ui.document import Document, Target
from ui.inspector import Inspector
from ui.keyframes import KeyframeController
from ui.main_window import MainWindow
from ui.timeline import Timeline


@pytest.fixture
def doc(qtbot, tmp_path: Path, isolated_user_dirs: Path) -> Iterator[Document]:
    document = Document(recovery_dir=isolated_user_dirs / "data" / "recovery")
    media = tmp_path / "reel.mp4"
    media.write_bytes(b"x")
    document.set_project(Project(clips=[Clip(str(media), 40, [Shot(0, 19), Shot(20, 39)])]))
    yield document
    document.shutdown()


@pytest.fixture
def parts(qtbot, doc: Document) -> tuple[Inspector, Timeline, KeyframeController]:
    inspector = Inspector(doc)
    timeline = Timeline()
    for widget in (inspector, timeline):
        qtbot.addWidget(widget)
    timeline.resize(400, timeline.sizeHint().height())  # 10 px per frame
    timeline.set_clip(40, Fraction(25))
    timeline.set_shots([(0, 19), (20, 39)])
    timeline.show()
    controller = KeyframeController(doc, inspector, timeline)
    inspector.add_step("color")
    return inspector, timeline, controller


def _exposure_keys(doc: Document) -> list[tuple[int, float, str]]:
    step = doc.recipe(Target(0, None)).steps[0]
    return [(k.frame, k.value, k.interpolation) for k in step.keyframes_for("exposure")]


def _ramp(inspector: Inspector) -> None:
    """Exposure keyed 0 at frame 2 and 1 at frame 8 through the inspector's controls."""
    control = inspector.cards[0].controls["exposure"]
    inspector.set_frame(2)
    control.key_button.click()
    inspector.set_frame(8)
    control.spin.setValue(1.0)  # an animated parameter: the edit keys frame 8


def test_key_button_adds_and_removes_a_key_at_the_playhead(parts, doc: Document) -> None:
    inspector, _timeline, _ = parts
    control = inspector.cards[0].controls["exposure"]
    assert control.key_button.isVisibleTo(inspector)
    # Only numbers can move within a shot: a check box has no key button.
    assert not hasattr(inspector.cards[0].controls["auto_levels"], "key_button")
    _ramp(inspector)
    assert _exposure_keys(doc) == [(2, 0.0, "linear"), (8, 1.0, "linear")]
    control = inspector.cards[0].controls["exposure"]
    assert control.key_state == "keyed" and control.key_button.text() == "◆"
    inspector.set_frame(5)  # half-way: the control shows the interpolated value
    assert control.value() == pytest.approx(0.5)
    assert control.key_state == "animated"
    inspector.set_frame(8)
    control.key_button.click()
    assert _exposure_keys(doc) == [(2, 0.0, "linear")]
    doc.undo_stack.undo()
    assert _exposure_keys(doc) == [(2, 0.0, "linear"), (8, 1.0, "linear")]
    assert inspector.cards[0].controls["exposure"].value() == pytest.approx(1.0)


def test_editing_at_a_key_changes_that_key_only(parts, doc: Document) -> None:
    inspector, _timeline, _ = parts
    _ramp(inspector)
    inspector.set_frame(2)
    inspector.cards[0].controls["exposure"].spin.setValue(-0.5)
    assert _exposure_keys(doc) == [(2, -0.5, "linear"), (8, 1.0, "linear")]
    assert doc.recipe(Target(0, None)).steps[0].params.exposure == 0.0  # static untouched


def test_timeline_shows_the_selected_steps_keys_as_diamonds(parts) -> None:
    inspector, timeline, controller = parts
    assert timeline.keyframes == []
    _ramp(inspector)
    assert controller.selected_step == 0
    assert timeline.keyframes == [(2, "linear"), (8, "linear")]


def test_drag_a_diamond_moves_the_key_and_undo_puts_it_back(qtbot, parts,
                                                            doc: Document) -> None:
    inspector, timeline, _ = parts
    _ramp(inspector)
    y = timeline.keys_row_y()
    x8 = round(timeline.x_for_frame(8) + timeline.pixels_per_frame / 2)
    x12 = round(timeline.x_for_frame(12) + timeline.pixels_per_frame / 2)
    qtbot.mousePress(timeline, Qt.MouseButton.LeftButton, pos=QPoint(x8, y))
    qtbot.mouseMove(timeline, QPoint(x8 + 20, y))
    qtbot.mouseMove(timeline, QPoint(x12, y))
    qtbot.mouseRelease(timeline, Qt.MouseButton.LeftButton, pos=QPoint(x12, y))
    assert _exposure_keys(doc) == [(2, 0.0, "linear"), (12, 1.0, "linear")]
    assert timeline.keyframes == [(2, "linear"), (12, "linear")]
    doc.undo_stack.undo()
    assert _exposure_keys(doc) == [(2, 0.0, "linear"), (8, 1.0, "linear")]
    assert timeline.keyframes == [(2, "linear"), (8, "linear")]


def test_a_shot_recipes_keys_stay_inside_the_shot(parts, doc: Document) -> None:
    inspector, _timeline, controller = parts
    inspector.set_current_shot(0)
    inspector.set_scope(Inspector.SCOPE_SHOT)
    inspector.set_frame(4)
    inspector.cards[0].controls["exposure"].key_button.click()
    controller.move_key(4, 30)  # beyond the shot's last frame 19
    step = doc.recipe(Target(0, 0)).steps[0]
    assert [k.frame for k in step.keyframes_for("exposure")] == [19]


def test_context_menu_deletes_and_changes_interpolation(parts, doc: Document) -> None:
    inspector, timeline, _ = parts
    _ramp(inspector)
    menu = timeline.keyframe_menu(2)
    actions = {a.text(): a for a in menu.actions()}
    assert actions["Linear"].isChecked()
    actions["Hold"].trigger()
    assert _exposure_keys(doc)[0] == (2, 0.0, "hold")
    inspector.set_frame(7)  # held at the first key's value until the next key
    assert inspector.cards[0].controls["exposure"].value() == pytest.approx(0.0)
    timeline.keyframe_menu(2)
    {a.text(): a for a in timeline.keyframe_menu(2).actions()}["Smooth"].trigger()
    inspector.set_frame(3)
    smooth = inspector.cards[0].controls["exposure"].value()
    assert 0.0 < smooth < 1 / 6  # eases out of the key: below the straight line
    {a.text(): a for a in timeline.keyframe_menu(8).actions()}[
        "Delete key at frame 8"].trigger()
    assert _exposure_keys(doc) == [(2, 0.0, "smooth")]
    doc.undo_stack.undo()
    assert [k[0] for k in _exposure_keys(doc)] == [2, 8]


# --- the after view --------------------------------------------------------------------




@pytest.fixture
def window(qtbot, settings: QSettings, clip: Path) -> Iterator[MainWindow]:
    win = MainWindow(settings, detect_shots=False)
    qtbot.addWidget(win, before_close_func=_discard)
    win.show()
    assert win.open_path(clip)
    yield win
    _discard(win)
    win.close()


def _mean(image: QImage) -> float:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    data = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
    return float(data.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3].mean())


def _show(qtbot, window: MainWindow, frame: int) -> tuple[float, float]:
    """Seek to `frame`, wait for the restored picture; (before, after) mean 8-bit levels."""
    window.playback.seek(frame)
    qtbot.waitUntil(lambda: window.bridge.wait_until_idle(0.05)
                    and not window._preview_timer.isActive()
                    and window.viewer.shown_index == frame, timeout=20_000)
    return _mean(window.viewer.before_image()), _mean(window.viewer.after_image())


def test_after_view_follows_the_keyed_value_at_two_frames(qtbot, window: MainWindow) -> None:
    _show(qtbot, window, 0)
    window.inspector.add_step("color")
    control = window.inspector.cards[0].controls["exposure"]
    control.key_button.click()  # exposure 0 keyed at frame 0
    _show(qtbot, window, FRAMES - 1)
    assert window.inspector.frame == FRAMES - 1
    window.inspector.cards[0].controls["exposure"].spin.setValue(1.0)  # keys the last frame
    before, after = _show(qtbot, window, FRAMES - 1)
    assert after > before * 1.5  # one stop brighter (clipped highlights keep it under 2×)
    assert window.timeline.keyframes == [(0, "linear"), (FRAMES - 1, "linear")]
    before, after = _show(qtbot, window, 0)
    assert after == pytest.approx(before, abs=1.0)  # untouched at the first key
    assert window.inspector.cards[0].controls["exposure"].value() == 0.0
    window.act_undo.trigger()  # the key at the last frame goes: exposure 0 everywhere
    before, after = _show(qtbot, window, FRAMES - 1)
    assert after == pytest.approx(before, abs=1.0)
