"""Helpers shared by the window tests (imported by bare name, like _fixtures_core)."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from ui.main_window import MainWindow

FRAMES = 12
"""Frames in the tiny clip of the `clip` fixture (tests/ui/conftest.py)."""


def discard(window: MainWindow) -> None:
    """Answer "Discard" to the unsaved-changes question (pytest-qt closes the window)."""
    window._ask_unsaved = lambda: QMessageBox.StandardButton.Discard  # type: ignore[method-assign]
