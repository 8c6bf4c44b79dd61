"""Helpers shared by the window tests (imported by bare name, like _fixtures_core)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from engine.project import Clip, Project, Recipe, Shot, Step, save_project
from ui.main_window import MainWindow

FRAMES = 12
"""Frames in the tiny clip of the `clip` fixture (tests/ui/conftest.py)."""


def discard(window: MainWindow) -> None:
    """Answer "Discard" to the unsaved-changes question (pytest-qt closes the window)."""
    window._ask_unsaved = lambda: QMessageBox.StandardButton.Discard  # type: ignore[method-assign]


def open_window(qtbot, settings: QSettings, path: Path, **options: Any) -> MainWindow:
    """A shown window (no cut detection; closed by pytest-qt, unsaved changes discarded)
    on footage or a project at `path`, showing its frame 0. `options` go to MainWindow
    (a `render_fn`, say)."""
    win = MainWindow(settings, detect_shots=False, **options)
    qtbot.addWidget(win, before_close_func=discard)
    win.show()
    assert win.open_path(path)
    qtbot.waitUntil(lambda: win.bridge.wait_until_idle(0.05) and win.viewer.shown_index == 0,
                    timeout=20_000)
    return win


def two_shot_window(qtbot, settings: QSettings, clip: Path, tmp_path: Path) -> MainWindow:
    """A window on a saved project of `clip` in two shots, 0-5 on the clip default and
    6-11 with its own `sharpen` recipe, showing frame 0."""
    sharpen = Recipe.of([Step.create("sharpen")])
    project = Project(clips=[Clip(str(clip), FRAMES, [Shot(0, 5), Shot(6, FRAMES - 1, sharpen)])])
    return open_window(qtbot, settings, save_project(project, tmp_path / "film.nitrate"))
