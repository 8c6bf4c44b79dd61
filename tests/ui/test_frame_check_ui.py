"""The Frame check dock: Clip ▸ Check frames lists the frames to look at, marks them on the
timeline, shows one on a double click and rebuilds the selected ones (undoable), reel by
reel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _ui_helpers import discard, open_window
from PySide6.QtCore import QCoreApplication, QSettings

from engine.synth.clip_file import write_frames
from engine.synth.scenes import moving_scene
from ui.main_window import MainWindow
from ui.shot_list import COL_FLAGGED


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 frames of a moving scene with frame 8 repeating frame 7 and frame 20 blank."""
    frames = moving_scene(30, 160, 96, seed=4)
    frames[8] = frames[7].copy()
    frames[20] = np.full_like(frames[20], 0.97)
    return write_frames(tmp_path_factory.mktemp("scan") / "scan.mkv", frames)


@pytest.fixture
def window(qtbot, settings: QSettings, scan: Path) -> Iterator[MainWindow]:
    win = open_window(qtbot, settings, scan)
    yield win
    discard(win)
    win.close()


def _checked(qtbot, window: MainWindow) -> None:
    window.check_dock.hide()                  # Check frames shows the dock
    window.act_check_frames.trigger()
    qtbot.waitUntil(lambda: not window.frame_check.running
                    and window.frame_check.result() is not None, timeout=20_000)


def _rows(window: MainWindow) -> list[str]:
    panel = window.frame_check
    return [panel.list.item(i).text() for i in range(panel.list.count())]


def test_the_check_lists_and_marks_the_frames_to_look_at(qtbot, window: MainWindow) -> None:
    _checked(qtbot, window)
    assert window.check_dock.isVisible()
    assert _rows(window) == ["8  00:00:00:08  repeated: the same picture as frame 7",
                             "20  00:00:00:20  blank: a uniform white frame"]
    assert window.timeline.flagged == [8, 20]
    assert "Frames 0-29 checked: 1 blank, 1 repeated." == window.frame_check.summary.text()
    # The Shots dock counts them per shot.
    tree = window.shot_list.tree
    assert tree.topLevelItem(0).text(COL_FLAGGED) == "2"
    window.split_shot_at(10)
    assert [tree.topLevelItem(i).text(COL_FLAGGED) for i in range(2)] == ["1", "1"]
    window.split_shot_at(25)
    assert tree.topLevelItem(2).text(COL_FLAGGED) == ""
    # A double click shows the frame.
    item = window.frame_check.list.item(1)
    window.frame_check.list.itemDoubleClicked.emit(item)
    qtbot.waitUntil(lambda: window.viewer.shown_index == 20, timeout=20_000)


def test_rebuild_selected_marks_the_frames_destroyed_in_one_undo_step(
        qtbot, window: MainWindow) -> None:
    _checked(qtbot, window)
    panel = window.frame_check
    assert not panel.rebuild_button.isEnabled()        # nothing selected yet
    panel.list.item(1).setSelected(True)
    panel.rebuild_button.click()
    repairs = window.document.repairs()
    assert [(r.start, r.end, r.region) for r in repairs] == [(20, 20, None)]
    assert repairs[0].note == "frame check: blank: a uniform white frame"
    assert _rows(window)[1].endswith("— rebuilt") and not _rows(window)[0].endswith("rebuilt")
    assert not panel.list.item(1).icon().isNull() and panel.list.item(0).icon().isNull()
    assert window.timeline.repairs == [(20, 20)]
    panel.rebuild_button.click()                      # already rebuilt: nothing more
    assert len(window.document.repairs()) == 1
    window.document.undo_stack.undo()
    assert window.document.repairs() == [] and not _rows(window)[1].endswith("rebuilt")


def test_each_reel_keeps_its_own_findings(qtbot, window: MainWindow, tmp_path: Path) -> None:
    _checked(qtbot, window)
    other = write_frames(tmp_path / "other.mkv", moving_scene(16, 160, 96, seed=9))
    assert window.add_reel(other)
    qtbot.waitUntil(lambda: window.timeline.frame_count == 16
                    and window.bridge.wait_until_idle(0.05), timeout=20_000)
    assert _rows(window) == [] and window.timeline.flagged == []
    assert window.frame_check.summary.text().startswith("Check the reel")
    _checked(qtbot, window)
    assert window.frame_check.summary.text() == "Frames 0-15 checked: nothing to look at."
    window.act_prev_reel.trigger()
    qtbot.waitUntil(lambda: window.timeline.frame_count == 30, timeout=20_000)
    assert window.timeline.flagged == [8, 20] and len(_rows(window)) == 2


def test_a_stopped_check_delivers_nothing(qtbot, window: MainWindow) -> None:
    panel = window.frame_check
    panel.start()
    assert panel.check_button.text() == "Stop"
    panel.check_button.click()                          # Stop, before the result arrives
    panel.checker.cancel()                              # wait for the worker to end
    QCoreApplication.processEvents()                    # deliver a result it had sent
    assert panel.result() is None and _rows(window) == []
    assert panel.check_button.text() == "Check clip"


def test_a_stretched_transfer_is_named_and_its_repeats_removed(
        qtbot, window: MainWindow, tmp_path: Path) -> None:
    film = moving_scene(24, 160, 96, seed=3)
    # 18 fps film at 24: every third film frame shown twice.
    stretched = [f for k, f in enumerate(film) for _ in range(2 if k % 3 == 2 else 1)]
    assert window.open_path(write_frames(tmp_path / "stretched.mkv", stretched))
    qtbot.waitUntil(lambda: window.timeline.frame_count == 32
                    and window.bridge.wait_until_idle(0.05), timeout=20_000)
    _checked(qtbot, window)
    assert window.frame_check.summary.text() == (
        "Frames 0-31 checked: 8 repeated. One frame in 4 repeats the one before, regularly: "
        "a transfer that repeated frames to raise the rate (the film ran at about 18.0 fps): "
        "Clip ▸ Remove repeated frames… gives back the film's own frames.")
    out = tmp_path / "film.mkv"
    with qtbot.waitSignal(window.film_frames_writer.finished, timeout=30_000):
        window.remove_repeats(out)
    qtbot.waitUntil(lambda: window.document.media_path() == out, timeout=10_000)
    assert window.document.project_or_raise().clip.frame_count == 24
    assert window.statusBar().currentMessage() == (
        "film.mkv: repeated frames removed: 32 frames at 24 fps → 24 film frames at "
        "18.000 fps (8 repeats left out)")


def test_flagged_frames_are_stepped_through_dismissed_and_kept_for_next_time(
        qtbot, window: MainWindow, scan: Path, settings: QSettings) -> None:
    _checked(qtbot, window)
    window.act_next_flagged.trigger()                        # from frame 0: to 8
    qtbot.waitUntil(lambda: window.viewer.shown_index == 8, timeout=20_000)
    window.act_next_flagged.trigger()
    qtbot.waitUntil(lambda: window.viewer.shown_index == 20, timeout=20_000)
    window.act_next_flagged.trigger()                        # none after 20: stays
    assert window.statusBar().currentMessage() == "No flagged frame after this one"
    window.playback.seek(29)
    qtbot.waitUntil(lambda: window.viewer.shown_index == 29, timeout=20_000)
    window.act_prev_flagged.trigger()
    qtbot.waitUntil(lambda: window.viewer.shown_index == 20, timeout=20_000)
    window.act_prev_flagged.trigger()
    qtbot.waitUntil(lambda: window.viewer.shown_index == 8, timeout=20_000)
    # Not a fault: off the list, the timeline and the kept check.
    panel = window.frame_check
    panel.list.item(0).setSelected(True)
    panel.dismiss_button.click()
    assert _rows(window) == ["20  00:00:00:20  blank: a uniform white frame"]
    assert window.timeline.flagged == [20]
    # The same footage opened again, in a new window, shows the check as it was left.
    other = open_window(qtbot, settings, scan)
    assert [other.frame_check.list.item(i).text()
            for i in range(other.frame_check.list.count())] == _rows(window)
    assert other.timeline.flagged == [20]
    discard(other)
    other.close()


def test_every_reel_is_checked_in_turn_whichever_is_shown(
        qtbot, window: MainWindow, tmp_path: Path) -> None:
    other = moving_scene(16, 160, 96, seed=9)
    other[5] = np.zeros_like(other[5])                     # blank
    assert window.add_reel(write_frames(tmp_path / "other.mkv", other))
    qtbot.waitUntil(lambda: window.timeline.frame_count == 16
                    and window.bridge.wait_until_idle(0.05), timeout=20_000)
    window.act_check_reels.trigger()
    panel = window.frame_check
    qtbot.waitUntil(lambda: not panel.running, timeout=30_000)
    assert _rows(window) == ["5  00:00:00:05  blank: a uniform black frame"]  # reel 2 shown
    window.act_prev_reel.trigger()                         # reel 1: checked already
    qtbot.waitUntil(lambda: window.timeline.frame_count == 30, timeout=20_000)
    assert window.timeline.flagged == [8, 20] and not panel.running
    window.act_check_reels.trigger()
    assert window.statusBar().currentMessage() == "Frame check: every reel is checked"


def test_a_flagged_frame_s_mark_says_what_was_found(qtbot, window: MainWindow) -> None:
    _checked(qtbot, window)
    timeline = window.timeline
    x = timeline.x_for_frame(20.5)
    assert timeline.flag_note_at(x) == "frame 20 (00:00:00:20): blank: a uniform white frame"
    assert timeline.flag_note_at(timeline.x_for_frame(14.5)) is None   # nothing there
