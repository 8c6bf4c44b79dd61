"""Exports waiting in the render queue survive a quit: offered again at the next start, as
they were asked for, or forgotten."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from _ui_helpers import discard, open_window
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from engine.errors import RenderCancelled
from engine.render import CancelToken, Progress, RenderJob
from engine.render.pending import load_pending
from ui.main_window import MainWindow
from ui.render_queue import RenderRequest


def _held(gate: threading.Event):
    """A render that waits for `gate` before each of its 20 frames, and stops as soon as it
    is cancelled."""

    def render(job: RenderJob, cancel: CancelToken) -> Iterator[Progress]:
        for done in range(1, 21):
            while not gate.wait(0.01):  # held, but a cancel is seen at once
                if cancel.cancelled:
                    raise RenderCancelled(f"{job.output}: export cancelled")
            yield Progress(done, 20, done / 10, 10.0, 0.0, job.output, done == 20)

    return render


def _window(qtbot, settings: QSettings, clip: Path, render) -> MainWindow:
    return open_window(qtbot, settings, clip, render_fn=render)


def _answer(monkeypatch: pytest.MonkeyPatch, button: QMessageBox.StandardButton) -> list[str]:
    asked: list[str] = []

    def question(_parent, _title, text, *_args) -> QMessageBox.StandardButton:
        asked.append(text)
        return button

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


def test_waiting_exports_are_queued_again_after_a_quit(
        qtbot, settings: QSettings, clip: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    first = _window(qtbot, settings, clip, _held(gate))
    first.inspector.add_step("color")
    first.timeline.set_in_out(2, 9)
    first.in_out = (2, 9)
    ids = first.queue_render(RenderRequest("inout", tmp_path / "range.mkv", "ffv1", True))
    ids += first.queue_render(RenderRequest("clip", tmp_path / "whole.mov", "prores_hq", True,
                                            burn_in=True))
    qtbot.waitUntil(lambda: first.render_queue.state(ids[0]) == "running", timeout=5000)
    path = first.render_queue.keep_path
    assert path is not None and len(load_pending(path)) == 2
    # Edited after queueing: the kept exports are still what was asked for.
    first.inspector.add_step("sharpen")
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    discard(first)                               # the project's edits: not saved
    first.close()                                # "Stop them and quit?" Yes
    assert "offered again when Nitrate next starts" in asked[0]
    assert len(load_pending(path)) == 2           # the running one too

    second = _window(qtbot, settings, clip, _held(threading.Event()))
    assert second.offer_pending_exports() == 2
    assert asked[1].startswith("2 exports were waiting when Nitrate closed (range.mkv, "
                               "whole.mov)")
    jobs = list(second.render_queue.jobs.values())
    assert [(j.output.name, j.start, j.end) for j in jobs] == [
        ("range.mkv", 2, 9), ("whole.mov", 0, None)]
    assert jobs[0].codec == "ffv1" and jobs[1].burn_in
    assert [s.op for s in jobs[0].plan.shots[0].recipe.steps] == ["color"]  # not sharpen
    second.render_queue.close_runner()


def test_waiting_exports_can_be_forgotten(qtbot, settings: QSettings, clip: Path,
                                          tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    first = _window(qtbot, settings, clip, _held(threading.Event()))
    first.queue_render(RenderRequest("clip", tmp_path / "whole.mov", "prores_hq", True))
    path = first.render_queue.keep_path
    assert path is not None and path.is_file()
    _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    discard(first)
    first.close()
    _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    second = open_window(qtbot, settings, clip)
    assert second.offer_pending_exports() == 0
    assert not path.exists() and second.render_queue.jobs == {}
    assert second.offer_pending_exports() == 0    # nothing left to offer


def test_a_finished_or_removed_export_is_not_kept(qtbot, settings: QSettings, clip: Path,
                                                  tmp_path: Path) -> None:
    gate = threading.Event()
    window = _window(qtbot, settings, clip, _held(gate))
    [done] = window.queue_render(RenderRequest("clip", tmp_path / "a.mov", "prores_hq", True))
    [cancelled] = window.queue_render(RenderRequest("clip", tmp_path / "b.mov", "prores_hq",
                                                    True))
    path = window.render_queue.keep_path
    assert path is not None
    window.render_queue.cancel(cancelled)
    gate.set()
    qtbot.waitUntil(lambda: window.render_queue.active_count() == 0, timeout=10_000)
    assert window.render_queue.state(done) == "done"
    assert not path.exists()                     # nothing waits any more
    window.render_queue.close_runner()
