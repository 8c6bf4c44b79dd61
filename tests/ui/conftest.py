"""Shared fixtures of the Qt tests: offscreen platform, isolated settings and user folders,
and a guard that fails any test leaving a thread behind."""

from __future__ import annotations

import os

# Before anything imports Qt: tests never need a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QSettings, QThreadPool  # noqa: E402

# How long a thread that is already on its way out may take to finish (seconds). A thread
# still alive after this was left running by the test, which is the bug we want to catch.
_THREAD_EXIT_GRACE_S = 2.0
# Process-wide pools that libraries create once and keep (not a widget's leak): Dask's, and
# the engine's one pool of operator threads (`engine.runtime.parallel_map`), made by the
# first temporal operator that splits a frame's work.
_LIBRARY_THREADS = ("Dask-Offload", "nitrate-ops")


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point every per-user location (QSettings, data dir with autosave recovery files,
    user presets) into the test's own temporary folder, so no test reads or writes the
    developer's real settings and tests cannot see each other's files."""
    home = tmp_path / "user"
    for sub in ("config", "data", "cache", "presets"):
        (home / sub).mkdir(parents=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("NITRATE_PRESETS", str(home / "presets"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(home / "config"))
    yield home


@pytest.fixture
def settings(isolated_user_dirs: Path) -> QSettings:
    """A QSettings file of this test alone (pass it to MainWindow)."""
    return QSettings(str(isolated_user_dirs / "config" / "nitrate.ini"),
                     QSettings.Format.IniFormat)


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """Fail the test when it leaves Python threads or Qt pool threads running: a widget
    that does background work must stop it when closed."""
    before = set(threading.enumerate())
    yield
    leftover = []
    for thread in threading.enumerate():
        if thread in before or thread is threading.current_thread():
            continue
        if thread.name.startswith(_LIBRARY_THREADS):
            continue
        thread.join(_THREAD_EXIT_GRACE_S)
        if thread.is_alive():
            leftover.append(thread.name)
    pool = QThreadPool.globalInstance()
    pool_done = pool.waitForDone(int(_THREAD_EXIT_GRACE_S * 1000))
    if leftover:
        pytest.fail(f"test left threads running: {', '.join(sorted(leftover))}")
    if not pool_done:
        pytest.fail(f"test left {pool.activeThreadCount()} QThreadPool task(s) running")


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny H.264 clip (64x48, 12 frames) whose frames encode their own index."""
    from engine.synth.index_clip import write_index_clip

    return write_index_clip(tmp_path_factory.mktemp("media") / "tiny.mp4", width=64,
                            height=48, frames=12)


@pytest.fixture
def clip_window(qtbot, settings: QSettings, clip: Path) -> Iterator[object]:
    """A shown MainWindow on the `clip` fixture, showing frame 0 (no cut detection); closed
    at the end with unsaved changes discarded."""
    from _ui_helpers import discard, open_window

    win = open_window(qtbot, settings, clip)
    yield win
    discard(win)
    win.close()
