"""The dark theme: Fusion style, a neutral dark palette and a small style sheet.

Grading and restoration tools keep their chrome dim and colourless so that the eye adapts to
the picture; the palette is neutral grey (no tint) with one muted blue accent for selection.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

QSS_PATH = Path(__file__).resolve().parent.parent / "resources" / "theme" / "nitrate.qss"

# Neutral greys (R = G = B) keep the surround from biasing colour judgement.
_WINDOW = QColor(40, 40, 43)
_BASE = QColor(30, 30, 33)
_ALT_BASE = QColor(36, 36, 39)
_TEXT = QColor(222, 222, 226)
_DISABLED_TEXT = QColor(118, 118, 124)
_BUTTON = QColor(50, 50, 54)
_ACCENT = QColor(79, 124, 172)


def dark_palette() -> QPalette:
    """The palette of the dark theme (also used by screenshots and tests)."""
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: _WINDOW,
        QPalette.ColorRole.WindowText: _TEXT,
        QPalette.ColorRole.Base: _BASE,
        QPalette.ColorRole.AlternateBase: _ALT_BASE,
        QPalette.ColorRole.ToolTipBase: QColor(20, 20, 22),
        QPalette.ColorRole.ToolTipText: _TEXT,
        QPalette.ColorRole.PlaceholderText: _DISABLED_TEXT,
        QPalette.ColorRole.Text: _TEXT,
        QPalette.ColorRole.Button: _BUTTON,
        QPalette.ColorRole.ButtonText: _TEXT,
        QPalette.ColorRole.BrightText: QColor(255, 90, 90),
        QPalette.ColorRole.Link: _ACCENT.lighter(130),
        QPalette.ColorRole.Highlight: _ACCENT,
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.Light: QColor(70, 70, 75),
        QPalette.ColorRole.Midlight: QColor(58, 58, 62),
        QPalette.ColorRole.Mid: QColor(45, 45, 48),
        QPalette.ColorRole.Dark: QColor(24, 24, 26),
        QPalette.ColorRole.Shadow: QColor(10, 10, 10),
    }
    for role, colour in roles.items():
        pal.setColor(role, colour)
    disabled = QPalette.ColorGroup.Disabled
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.ButtonText):
        pal.setColor(disabled, role, _DISABLED_TEXT)
    pal.setColor(disabled, QPalette.ColorRole.Highlight, QColor(70, 70, 75))
    return pal


def style_sheet() -> str:
    """The theme's style sheet; empty (Fusion + palette only) if the file is missing."""
    try:
        return QSS_PATH.read_text(encoding="utf-8")
    except OSError:
        return ""


def apply_theme(app: QApplication) -> None:
    """Fusion style + dark palette + the style sheet, on the whole application."""
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.setStyleSheet(style_sheet())
