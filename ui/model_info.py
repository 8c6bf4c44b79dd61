"""Descriptions of model files for the Inspector, read off the GUI thread.

Describing a model imports torch (seconds, the first time) and reads the file, so it runs on
a short-lived worker thread; the result comes back through a queued Qt signal and is kept
per path, so each file is read once per session.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal, Slot

from engine.errors import NitrateError
from engine.ops import registry

READING = "Reading the model file…"


class ModelDescriptions(QObject):
    """`summary(op, path)` answers at once: the description, READING while it is being
    read (then `changed` fires), or None when no file is chosen."""

    changed = Signal()
    _described = Signal(str, str)  # path, one-line description (or the problem)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._summaries: dict[str, str] = {}
        self._reading: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._described.connect(self._store)

    def summary(self, op_id: str, path: str) -> str | None:
        if not path:
            return None
        known = self._summaries.get(path)
        if known is not None:
            return known
        if path not in self._reading:
            self._reading.add(path)
            thread = threading.Thread(target=self._describe, args=(op_id, path),
                                      name="nitrate-model-info", daemon=True)
            self._threads.append(thread)
            thread.start()
        return READING

    def wait(self, timeout_s: float = 30.0) -> None:
        """Join the reading threads (tests, and closing the window)."""
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads = [t for t in self._threads if t.is_alive()]

    def _describe(self, op_id: str, path: str) -> None:
        try:
            info = registry.create(op_id, {"path": path}).describe()  # type: ignore[attr-defined]
            text = info.summary() if info is not None else ""
        except NitrateError as exc:
            text = str(exc)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a crash
            text = f"{path}: cannot be read ({exc})"
        self._described.emit(path, text)  # queued: this runs on the worker thread

    @Slot(str, str)
    def _store(self, path: str, text: str) -> None:
        self._reading.discard(path)
        self._summaries[path] = text
        self.changed.emit()
