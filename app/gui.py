"""Launching the workstation: `nitrate [PATH]` (app/main.py calls `run_gui`)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

APP_NAME = "Nitrate"


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with Nitrate's identity (QSettings location) and dark theme."""
    from ui.theme import apply_theme

    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else [sys.argv[0]])
    app.setOrganizationName(APP_NAME)
    app.setOrganizationDomain("nitrate.film")
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    apply_theme(app)  # type: ignore[arg-type]
    return app  # type: ignore[return-value]


def default_path() -> Path | None:
    """The bundled sample reel, when it is installed."""
    try:
        from engine.synth.sample_reel import sample_reel_path

        path = sample_reel_path()
    except (ImportError, OSError):
        return None
    return path if path.exists() else None


def run_gui(path: str | None) -> int:
    """Open the workstation on `path` (footage or a .nitrate project), else on the sample
    reel (after offering to recover work lost in a crash); then offer to queue again the
    exports left waiting when it last closed. Returns the exit status."""
    app = make_application()
    from engine.runtime import configure_threads
    from ui.main_window import MainWindow

    configure_threads()
    window = MainWindow()
    window.show()

    def start() -> None:
        # After the event loop runs, so the window is on screen behind any question.
        if path is not None:
            window.open_path(path)
        elif not window.offer_recovery():
            sample = default_path()
            if sample is not None and window.open_path(sample):
                # The demo shows restoration at once: the reel starts with the film preset
                # as its clip default (undoable), without counting as an unsaved change.
                window.inspector.apply_preset("film")
                window.document.undo_stack.setClean()
        window.offer_pending_exports()  # exports left waiting when it last closed

    QTimer.singleShot(0, start)
    return int(app.exec())
