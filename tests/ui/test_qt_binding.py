"""Guard against Qt bindings that corrupt the interpreter (see the pin in pyproject.toml)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget


class _Pinger(QObject):
    ping = Signal(bool)


def test_qt_calls_keep_python_singletons_alive(qtbot) -> None:
    widget = QWidget()
    qtbot.addWidget(widget)
    pinger = _Pinger()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(2000):
        widget.update()  # returns None
        pinger.ping.emit(True)
    # A broken binding loses one reference per call (2000 here) and later aborts Python.
    assert sys.getrefcount(None) - none_before > -100
    assert sys.getrefcount(True) - true_before > -100
