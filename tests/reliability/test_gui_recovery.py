"""The workstation after a crash or with moved media: a Nitrate killed with SIGKILL loses
at most the edits of the last autosave interval (30 s) and the next start offers them back;
a project whose media moved offers to relink it."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

import json  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QFileDialog, QMessageBox  # noqa: E402
from relhelp import ROOT  # noqa: E402

from engine.project import Recipe, Step, new_project, save_project  # noqa: E402
from engine.synth.index_clip import write_index_clip  # noqa: E402
from ui.document import AUTOSAVE_INTERVAL_MS, Document, Target  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402


@pytest.fixture
def user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings, recovery files and presets of this test alone."""
    home = tmp_path / "user"
    for sub in ("config", "data", "cache", "presets"):
        (home / sub).mkdir(parents=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("NITRATE_PRESETS", str(home / "presets"))
    return home


def _window(qtbot, home: Path) -> MainWindow:
    settings = QSettings(str(home / "config" / "nitrate.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings, detect_shots=False)

    def discard(w: MainWindow) -> None:
        w._ask_unsaved = lambda: QMessageBox.StandardButton.Discard  # type: ignore[method-assign]

    qtbot.addWidget(win, before_close_func=discard)
    return win


_CRASHING_SESSION = """
import os, sys
from pathlib import Path
from PySide6.QtWidgets import QApplication
from engine.project import Recipe, Step, load_project
from ui.document import Document, Target
app = QApplication([])
doc = Document(recovery_dir=Path(sys.argv[1]), autosave_interval_ms=50)
doc.open(sys.argv[2])
doc.edit_recipe(Target(0, None), Recipe.of([Step.create("color", {"exposure": 1.5})]), "edit")
app.exec()  # runs until it is killed; the autosave timer fires meanwhile
"""


def test_kill_9_of_the_app_then_recovery_is_offered(qtbot, user_dirs: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert AUTOSAVE_INTERVAL_MS <= 30_000  # what a crash can lose at most
    clip = write_index_clip(tmp_path / "reel.mov", "prores", frames=3)
    project = save_project(new_project(clip), tmp_path / "work.nitrate")
    recovery_dir = user_dirs / "data" / "Nitrate" / "recovery"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_CRASHING_SESSION),
                             str(recovery_dir), str(project)], cwd=ROOT, env=env,
                            stderr=subprocess.PIPE, text=True)
    autosave = recovery_dir / f"autosave-{proc.pid}.nitrate"
    deadline = time.monotonic() + 60
    while not autosave.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "no autosave was written"
        time.sleep(0.01)  # polling interval
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert json.loads(project.read_text())["clips"][0]["default_recipe"] == []  # untouched

    win = _window(qtbot, user_dirs)
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda _p, _t, text, *a, **k: asked.append(text) or QMessageBox.StandardButton.Yes))
    assert win.offer_recovery()
    assert "work.nitrate" in asked[0]
    doc = win.document
    assert doc.is_dirty and doc.path == project
    assert doc.project_or_raise().clips[0].default_recipe.steps[0].params.exposure == 1.5
    assert not autosave.exists()  # the crashed session's file is taken over, not duplicated
    doc.shutdown()


def test_clean_exit_leaves_nothing_to_recover(qtbot, user_dirs: Path, tmp_path: Path) -> None:
    clip = write_index_clip(tmp_path / "reel.mov", "prores", frames=3)
    doc = Document(recovery_dir=tmp_path / "rec", autosave_interval_ms=10)
    doc.open(clip)
    doc.edit_recipe(Target(0, None), Recipe.of([Step.create("color", {"exposure": 1.5})]),
                    "edit")
    assert doc.autosave_now() is not None
    doc.shutdown()
    assert Document(recovery_dir=tmp_path / "rec").find_recoveries() == []


def _moved_project(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "old").mkdir()
    clip = write_index_clip(tmp_path / "old" / "reel.mov", "prores", frames=3)
    project = save_project(new_project(clip), tmp_path / "work.nitrate")
    (tmp_path / "new").mkdir()
    moved = clip.rename(tmp_path / "new" / "reel.mov")
    return project, moved


def test_moved_media_is_relinked_through_a_file_dialog(qtbot, user_dirs: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    project, moved = _moved_project(tmp_path)
    asked: list[str] = []

    def pick(_parent, caption, *args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(caption)
        return str(moved), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(pick))
    win = _window(qtbot, user_dirs)
    assert win.open_path(project)
    assert asked == ["reel.mov has moved: locate it"]
    assert win.document.media_path() == moved
    assert win.document.is_dirty  # save to keep the new location
    win.document.shutdown()


def test_relink_cancelled_names_the_missing_media(qtbot, user_dirs: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    project, _ = _moved_project(tmp_path)
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: ("", "")))
    win = _window(qtbot, user_dirs)
    errors: list[str] = []
    monkeypatch.setattr(win, "show_error", lambda title, text: errors.append(text))
    assert not win.open_path(project)
    assert len(errors) == 1 and "media not found" in errors[0]
    assert str(tmp_path / "old" / "reel.mov") in errors[0]
    assert not win.document.is_open
