"""Clip ▸ Framing…: the picture area and delivery size set, previewed on the viewer, kept
by the project, used by stills and exports."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QFileDialog

from engine.framing import Framing
from engine.project import load_project
from ui.framing_dialog import FramingDialog
from ui.main_window import MainWindow


@pytest.fixture
def window(clip_window: MainWindow) -> MainWindow:
    return clip_window


@pytest.fixture(scope="module")
def gate_sequence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight 160x120 frames: textured picture inside a dark gate of 12 px left and right
    and 10 px top and bottom."""
    folder = tmp_path_factory.mktemp("gate")
    rng = np.random.default_rng(2)
    for i in range(8):
        frame = np.full((120, 160, 3), 10, np.uint8)
        picture = cv2.GaussianBlur(rng.integers(40, 220, (100, 136, 3), dtype=np.uint8),
                                   (5, 5), 1.5)
        frame[10:110, 12:148] = picture
        cv2.imwrite(str(folder / f"gate_{i:03d}.png"), frame)
    return folder


def test_the_dialog_sets_crop_size_and_fit_and_refuses_too_much(qtbot) -> None:
    dialog = FramingDialog(Framing(), (400, 300), None)
    qtbot.addWidget(dialog)
    seen: list[Framing] = []
    dialog.preview.connect(seen.append)
    dialog.crop["left"].setValue(20)
    dialog.crop["right"].setValue(20)
    dialog.size_combo.setCurrentIndex(1)  # HD 1920 x 1080
    assert dialog.framing() == Framing(crop=(20, 0, 20, 0), size=(1920, 1080), fit="fit")
    assert seen[-1] == dialog.framing()
    # 360x300 fitted into 1920x1080: 1296 wide, bars of 312 px.
    assert dialog.summary.text() == ("Exports 1920 × 1080 px: the picture 1296 × 1080 px, "
                                     "black bars of 312 px left and right.")
    dialog.fit_combo.setCurrentIndex(1)  # fill
    assert "filled" in dialog.summary.text() and dialog.framing().fit == "fill"
    dialog.crop["left"].setValue(280)  # 400 - 280 - 20 leaves 100 px: fine
    assert dialog.ok_button.isEnabled()
    dialog.crop["right"].setValue(284)  # the spin allows it, the sum does not
    assert not dialog.ok_button.isEnabled()
    assert "leaves less than 16x16" in dialog.summary.text()


def test_a_custom_size_and_the_whole_frame(qtbot) -> None:
    framing = Framing(crop=(4, 4, 4, 4), size=(1000, 500), fit="stretch")
    dialog = FramingDialog(framing, (400, 300), None)
    qtbot.addWidget(dialog)
    assert dialog.framing() == framing  # shown as it was set: "Custom", its fit
    assert dialog.size_combo.currentText() == "Custom" and dialog.width_spin.isEnabled()
    dialog.size_combo.setCurrentIndex(0)  # the cropped picture's size
    assert dialog.framing() == Framing(crop=(4, 4, 4, 4), fit="stretch")
    assert (dialog.width_spin.value(), dialog.height_spin.value()) == (392, 292)
    assert not dialog.fit_combo.isEnabled()
    dialog.set_framing(Framing())
    assert dialog.framing().identity
    assert dialog.summary.text() == "Exports the whole frame, 400 × 300 px."


def test_detect_picture_area_finds_the_gate(qtbot, gate_sequence: Path) -> None:
    dialog = FramingDialog(Framing(), (160, 120), gate_sequence)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.finder.finished, timeout=20_000):
        dialog.detect_button.click()
    crop = dialog.framing().crop
    assert 12 <= crop[0] <= 14 and 12 <= crop[2] <= 14  # the gate and the margin
    assert 10 <= crop[1] <= 12 and 10 <= crop[3] <= 12
    assert dialog.detect_label.text().startswith("Found:")


def test_framing_is_one_undo_step_shown_on_the_viewer(qtbot, window: MainWindow,
                                                      tmp_path: Path) -> None:
    assert window.viewer.framing_guide is None  # no framing: no guide
    shown = window.viewer.before_image()
    scale = shown.width() / 64  # the viewer shows a preview
    assert window.set_output_framing(Framing(crop=(8, 4, 8, 4), size=(96, 80), fit="fit"))
    guide = window.viewer.framing_guide
    assert guide is not None
    assert (guide.x(), guide.y(), guide.width(), guide.height()) == pytest.approx(
        (8 * scale, 4 * scale, 48 * scale, 40 * scale))
    assert window.document.undo_stack.undoText() == "Framing"
    # Hidden on request, back when asked.
    window.act_show_framing.setChecked(False)
    assert window.viewer.framing_guide is None
    window.act_show_framing.setChecked(True)
    assert window.viewer.framing_guide is not None
    # Saved with the project, gone on undo.
    path = window.document.save(tmp_path / "framed.nitrate")
    assert load_project(path).output.framing.size == (96, 80)
    window.document.undo_stack.undo()
    assert window.viewer.framing_guide is None
    assert window.document.project_or_raise().output.framing.identity
    # A framing the clip cannot take is refused with a message, not stored.
    errors: list[str] = []
    window.show_error = lambda _title, text: errors.append(text)  # type: ignore[method-assign]
    assert not window.set_output_framing(Framing(crop=(30, 0, 30, 0)))
    assert "leaves less than" in errors[0]


def test_the_dialog_previews_on_the_viewer_and_ok_applies(qtbot, window: MainWindow) -> None:
    guides: list[object] = []

    def operate() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, FramingDialog)
        dialog.crop["top"].setValue(6)
        dialog.crop["bottom"].setValue(6)
        guides.append(window.viewer.framing_guide)  # previewed before OK
        dialog.accept()

    QTimer.singleShot(0, operate)
    window.act_framing.trigger()
    assert guides and guides[0] is not None
    assert window.document.project_or_raise().output.framing == Framing(crop=(0, 6, 0, 6))

    def cancel() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, FramingDialog)
        dialog.crop["top"].setValue(12)
        dialog.reject()

    QTimer.singleShot(0, cancel)
    window.act_framing.trigger()
    # Cancelled: the project's framing stays, and the viewer shows it again.
    assert window.document.project_or_raise().output.framing == Framing(crop=(0, 6, 0, 6))
    guide = window.viewer.framing_guide
    scale = window.viewer.before_image().height() / 48
    assert guide is not None and guide.height() == pytest.approx(36 * scale)


def test_an_exported_still_is_framed_like_the_export(qtbot, window: MainWindow, monkeypatch,
                                                     tmp_path: Path) -> None:
    window.set_output_framing(Framing(crop=(8, 0, 8, 0), size=(100, 60), fit="fit"))
    path = tmp_path / "framed.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *_args: (str(path), "PNG (*.png)"))
    with qtbot.waitSignal(window.still_exporter.finished, timeout=30_000):
        window.act_export_frame.trigger()
    still = cv2.imread(str(path))
    assert still.shape == (60, 100, 3)
    # 48x48 of picture at 60 px high: 60 wide, bars of 20 px each side.
    assert still[:, :18].max() <= 2 and still[:, 82:].max() <= 2
    assert still[:, 25:75].max() > 60


def test_the_render_dialog_says_how_the_export_is_framed(qtbot, window: MainWindow) -> None:
    from ui.render_queue import RenderDialog

    window.set_output_framing(Framing(crop=(2, 0, 2, 0), size=(1920, 1080), fit="fill"))
    shown: list[str] = []

    def read() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, RenderDialog)
        shown.append(dialog.picture.text())
        dialog.reject()

    QTimer.singleShot(0, read)
    window.render_dialog("clip")
    assert shown == ["crop 2,0,2,0 px → 1920x1080 (fill); the source's frame rate "
                     "(Clip ▸ Framing…, Output frame rate…, Sound sync…)"]
    window.document.undo_stack.undo()
    assert window._export_picture().startswith("the whole frame, 64 × 48 px;")
