"""File ▸ Export frame…: the frame shown as a full-resolution still, exactly as rendered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from _ui_helpers import discard as _discard
from _ui_helpers import open_window
from PySide6.QtCore import QSettings

from engine.media import open_reader
from engine.pipeline import Evaluator
from engine.project import Recipe, Step
from engine.render.still import SIDE_BY_SIDE_GAP
from ui.document import Target
from ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, settings: QSettings, clip: Path) -> Iterator[MainWindow]:
    win = open_window(qtbot, settings, clip)
    # A visible change, so the still must be the restored frame and not the scan.
    win.document.edit_recipe(Target(0, None), Recipe.of(
        [Step.create("color", {"exposure": 0.6})]), "Brighter")
    win.playback.seek(5)
    qtbot.waitUntil(lambda: win.viewer.shown_index == 5, timeout=20_000)
    yield win
    _discard(win)
    win.close()


def _rendered(window: MainWindow, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame `index` as an export renders it: (scan, restored), 8-bit RGB."""
    with open_reader(window.document.media_path()) as reader:
        evaluated = Evaluator(reader).evaluate(index, window.document.plan())
    return tuple(np.round(np.clip(f, 0, 1) * 255).astype(np.uint8)  # type: ignore[return-value]
                 for f in (evaluated.original, evaluated.restored))


def _export(qtbot, window: MainWindow, monkeypatch, path: Path, compare: bool) -> list[str]:
    from PySide6.QtWidgets import QFileDialog

    asked: list[str] = []

    def answer(_parent, _title, suggestion, _filter):
        asked.append(suggestion)
        return str(path), "PNG (*.png)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", answer)
    action = window.act_export_compare if compare else window.act_export_frame
    with qtbot.waitSignal(window.still_exporter.finished, timeout=30_000):
        action.trigger()
    return asked


def test_export_frame_writes_the_restored_frame_at_full_size(qtbot, window: MainWindow,
                                                             monkeypatch, tmp_path: Path) -> None:
    assert window.viewer.before_image().width() == 32  # the viewer shows a half-size preview
    path = tmp_path / "still.png"
    asked = _export(qtbot, window, monkeypatch, path, compare=False)
    assert Path(asked[0]).name == "tiny_f000005.png"
    still = cv2.imread(str(path))[..., ::-1]
    scan, restored = _rendered(window, 5)
    assert still.shape == (48, 64, 3)
    assert np.abs(still.astype(int) - restored).max() <= 1
    assert np.abs(still.astype(int) - scan).mean() > 20  # brighter than the scan
    assert window.statusBar().currentMessage() == f"Frame written to {path}"


def test_export_before_after_puts_the_scan_beside_the_restored_frame(
        qtbot, window: MainWindow, monkeypatch, tmp_path: Path) -> None:
    path = tmp_path / "compare.png"
    _export(qtbot, window, monkeypatch, path, compare=True)
    still = cv2.imread(str(path))[..., ::-1].astype(int)
    scan, restored = _rendered(window, 5)
    assert still.shape == (48, 2 * 64 + SIDE_BY_SIDE_GAP, 3)
    assert np.abs(still[:, :64] - scan).max() <= 1
    assert not still[:, 64:64 + SIDE_BY_SIDE_GAP].any()
    assert np.abs(still[:, 64 + SIDE_BY_SIDE_GAP:] - restored).max() <= 1


def test_export_into_a_missing_folder_is_a_one_line_error(qtbot, window: MainWindow,
                                                          monkeypatch, tmp_path: Path) -> None:
    errors: list[str] = []
    monkeypatch.setattr(window, "show_error", lambda _title, text: errors.append(text))
    path = tmp_path / "nowhere" / "still.png"
    _export(qtbot, window, monkeypatch, path, compare=False)
    assert errors == [f"{path}: the folder {path.parent} does not exist"]
    assert not path.parent.exists()
