"""Render ▸ Cache for playback: a range kept restored, marked on the timeline, played
from memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _ui_helpers import discard as _discard
from _ui_helpers import open_window
from PySide6.QtCore import QSettings

from engine.project import Recipe, Step
from ui.document import Target
from ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, settings: QSettings, clip: Path) -> Iterator[MainWindow]:
    win = open_window(qtbot, settings, clip)
    win.document.edit_recipe(Target(0, None), Recipe.of(
        [Step.create("color", {"exposure": 0.5}), Step.create("sharpen")]), "Grade")
    yield win
    _discard(win)
    win.close()


def _cache(qtbot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.bridge.render_progress, timeout=30_000,
                          check_params_cb=lambda done, total, _e: done == total):
        assert window.cache_for_playback()


def test_the_in_out_range_is_cached_marked_and_played_from_memory(qtbot,
                                                                  window: MainWindow) -> None:
    window.timeline.set_in_out(2, 7)
    _cache(qtbot, window)
    assert window.timeline.cached == [(2, 7)]
    assert window.statusBar().currentMessage() == ("Frames 2-7 cached: they play at the "
                                                   "clip's rate")
    assert not window.cache_task.isVisible()
    # The evaluator's own cache forgets everything: only the playback cache can answer.
    window.bridge._server.cache.clear()
    answers = []
    window.bridge.frame_ready.connect(answers.append)
    for index in range(2, 8):
        window.playback.seek(index)
        qtbot.waitUntil(lambda i=index: window.viewer.shown_index == i
                        and not window.viewer.showing_draft, timeout=20_000)
    finals = [a for a in answers if not a.draft]
    assert [a.index for a in finals] == list(range(2, 8))
    assert all(a.from_cache for a in finals), "every frame came from the playback cache"
    # An edit gives other pictures: nothing of the range is kept for them.
    window.document.edit_recipe(Target(0, None), Recipe.of(
        [Step.create("color", {"exposure": 0.2})]), "Regrade")
    assert window.timeline.cached == []
    window.document.undo_stack.undo()
    assert window.timeline.cached == [(2, 7)]  # the frames for the first grade are still kept
    window.act_clear_cache.trigger()
    assert window.timeline.cached == []


def test_without_in_out_the_shot_is_cached_and_a_long_range_is_cut(qtbot,
                                                                   window: MainWindow) -> None:
    _cache(qtbot, window)
    assert window.timeline.cached == [(0, 11)]  # the clip's one shot
    # A cache too small for the range: what fits is cached, and the message says so.
    frame = 32 * 24 * (4 * 6 + 2)  # the bridge's estimate at half scale, two steps
    window.bridge.set_cache_budget(4 * (frame + 1024))  # three quarters of it hold three
    window.timeline.set_in_out(1, 10)
    _cache(qtbot, window)
    assert window.timeline.cached == [(1, 3)]
    messages: list[str] = []
    window.statusBar().messageChanged.connect(messages.append)
    window.timeline.set_in_out(1, 10)
    _cache(qtbot, window)
    assert messages[0].startswith("Caching frames 1-3 of 1-10: the rest does not fit")


def test_an_edit_while_caching_stops_it(qtbot, window: MainWindow) -> None:
    window.timeline.set_in_out(0, 11)
    assert window.cache_for_playback()
    # The worker finishes the range, but its news wait in the event loop, unhandled.
    assert window.bridge._server.wait_until_idle(20)
    assert window.cache_task.isVisible()
    window.document.edit_recipe(Target(0, None), Recipe.of(
        [Step.create("color", {"exposure": 0.2})]), "Regrade")
    assert not window.cache_task.isVisible()
    assert window.statusBar().currentMessage().startswith(
        "Caching for playback stopped: the recipe changed")
    window.bridge.wait_until_idle(20)  # the stopped render's last news arrive: ignored
    assert not window.cache_task.isVisible()
    assert window.statusBar().currentMessage().startswith("Caching for playback stopped")
    assert window.timeline.cached == []  # nothing kept for the new recipe
