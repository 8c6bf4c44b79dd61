"""View ▸ Display LUT: the menu that chooses the LUT the viewer and timeline show a clip
through (a Cineon log scan as video, say). It changes only what is seen: exports, stills and
the scopes use the frames themselves (a LUT an export should apply is a `lut` recipe step).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from engine.lut import LutError, bundled_luts, load_lut

NONE_LABEL = "None (the frames as they are)"


def lut_label(spec: str) -> str:
    """How a display LUT is named on screen: a bundled LUT's title ("Cineon log to
    Rec.709"), another file's name; "" for none. A LUT that cannot be read is named by
    its file."""
    if not spec:
        return ""
    if spec in bundled_luts():
        try:
            return load_lut(spec).title or spec
        except LutError:
            return spec
    return Path(spec).name


class DisplayLutMenu(QMenu):
    """None, the bundled LUTs, the clip's own file when it has one, and "Other .cube
    file…" (a file chooser). `chosen(spec)` carries the choice: a bundled LUT's name, a
    file's path, or "" for none. `set_current` ticks the clip's LUT."""

    chosen = Signal(str)

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self._current = ""
        self.setToolTipsVisible(True)
        self.aboutToShow.connect(self._fill)

    def set_current(self, spec: str) -> None:
        """The LUT the clip is shown through ("" for none)."""
        self._current = spec

    def _fill(self) -> None:
        self.clear()
        group = QActionGroup(self)
        choices = [("", NONE_LABEL)] + [(name, lut_label(name)) for name in bundled_luts()]
        if self._current and self._current not in bundled_luts():
            choices.append((self._current, lut_label(self._current)))
        for spec, label in choices:
            action = QAction(label, self, checkable=True)
            action.setChecked(spec == self._current)
            action.setToolTip(spec or "Show the frames' levels as they are")
            action.triggered.connect(lambda _checked=False, s=spec: self.chosen.emit(s))
            group.addAction(action)
            self.addAction(action)
            if spec == "":
                self.addSeparator()
        self.addSeparator()
        other = self.addAction("Other .cube file…")
        other.triggered.connect(self.choose_file)

    def choose_file(self) -> None:
        """Ask for a .cube file and choose it."""
        start = str(Path(self._current).parent) if self._current not in ("", *bundled_luts()) else ""
        path, _ = QFileDialog.getOpenFileName(self.parentWidget(), "Display LUT", start,
                                              "Cube LUTs (*.cube);;All files (*)")
        if path:
            self.chosen.emit(path)
