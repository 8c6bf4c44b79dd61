"""Playback + bridge + viewer + timeline together: the frame on screen is the one asked for.

The fake clip's frame i is a flat grey of level i/255 and the recipe doubles levels
(exposure +1 stop), so the 'after' picture of frame i must show level 2i exactly.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
from fractions import Fraction

import numpy as np
import pytest
from _fixtures_core import FakeInfo, LevelReader, exposure_plan, level_of
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from engine.ops.color import ColorOperator
from ui.compare_viewer import CompareViewer
from ui.engine_bridge import EngineBridge
from ui.playback import PlaybackController
from ui.timeline import RULER_PX, Timeline

N = 60


class Rig:
    """Bridge, viewer, timeline and playback in one window, on a fake level clip."""

    def __init__(self, qtbot, reader: LevelReader | None = None, cuts: tuple[int, ...] = ()):
        self.reader = reader or LevelReader(FakeInfo(frame_count=N))
        self.plan = exposure_plan(self.reader.info.frame_count, 1.0, cuts)
        self.bridge = EngineBridge(cache_bytes=64 << 20, open_source=lambda _p: self.reader)
        self.window = QWidget()
        qtbot.addWidget(self.window)
        layout = QVBoxLayout(self.window)
        self.viewer = CompareViewer()
        self.timeline = Timeline()
        layout.addWidget(self.viewer)
        layout.addWidget(self.timeline)
        self.window.resize(640, 480)
        self.playback = PlaybackController(
            self.bridge, self.viewer, self.timeline, lambda: self.plan
        )
        self.playback.set_preview_scale(1.0)
        self.shown: list[int] = []
        self.playback.frame_shown.connect(self.shown.append)
        self.window.show()
        qtbot.waitExposed(self.window)
        with qtbot.waitSignal(self.bridge.clip_opened, timeout=10000):
            self.bridge.open_clip("levels.mov")
        self.settle()

    def settle(self) -> None:
        assert self.bridge.wait_until_idle(10), "engine did not go idle"

    def after_level(self) -> float:
        return level_of(self.viewer.after_image())

    def before_level(self) -> float:
        return level_of(self.viewer.before_image())

    def close(self) -> None:
        self.playback.pause()
        self.bridge.close()


@pytest.fixture
def rig(qtbot):
    r = Rig(qtbot)
    yield r
    r.close()


def test_opening_shows_frame_zero_with_timecode(rig) -> None:
    assert rig.viewer.shown_index == 0 and rig.viewer.timecode == "01:00:00:00"
    assert rig.timeline.frame_count == N


def test_scrub_shows_the_processed_frame_of_exactly_that_index(rig, qtbot) -> None:
    y = RULER_PX // 2
    ppf = rig.timeline.pixels_per_frame
    def x_of(frame: int) -> int:
        return int(rig.timeline.x_for_frame(frame) + ppf / 2)

    qtbot.mousePress(rig.timeline, Qt.MouseButton.LeftButton, pos=QPoint(x_of(2), y))
    for f in range(3, 45, 4):
        qtbot.mouseMove(rig.timeline, QPoint(x_of(f), y))
    target = 41
    qtbot.mouseRelease(rig.timeline, Qt.MouseButton.LeftButton, pos=QPoint(x_of(target), y))
    rig.settle()
    assert rig.playback.playhead == target
    assert rig.viewer.shown_index == target
    assert rig.before_level() == pytest.approx(target, abs=0.01)
    assert rig.after_level() == pytest.approx(2 * target, abs=0.01)


def test_slow_recipe_scrubs_originals_then_shows_the_restored_frame(rig, qtbot, monkeypatch) -> None:
    import ui.playback

    monkeypatch.setattr(ui.playback, "SCRUB_RESTORED_BUDGET_MS", -1.0)  # every recipe "slow"
    rig.playback.seek(3)
    rig.settle()
    y, ppf = RULER_PX // 2, rig.timeline.pixels_per_frame
    qtbot.mousePress(rig.timeline, Qt.MouseButton.LeftButton, pos=QPoint(int(10.5 * ppf), y))
    qtbot.mouseMove(rig.timeline, QPoint(int(20.5 * ppf), y))
    rig.settle()
    assert rig.viewer.shown_index == 20 and rig.after_level() == pytest.approx(20, abs=0.01)
    qtbot.mouseRelease(rig.timeline, Qt.MouseButton.LeftButton, pos=QPoint(int(20.5 * ppf), y))
    rig.settle()
    assert rig.viewer.shown_index == 20 and rig.after_level() == pytest.approx(40, abs=0.01)


def test_latest_request_wins_while_the_engine_is_busy(qtbot) -> None:
    gate = threading.Event()
    reader = LevelReader(FakeInfo(frame_count=N), gate=gate)
    gate.set()
    r = Rig(qtbot, reader)
    try:
        gate.clear()
        reader.started.clear()
        r.shown.clear()
        r.playback.seek(50)  # far from frame 0 and what was prefetched after it
        assert reader.started.wait(10)  # the worker is stuck decoding frame 50
        for i in range(2, 31):
            r.playback.seek(i)
        gate.set()
        r.settle()
        assert r.shown == [30], "only the last request may reach the screen"
        assert r.viewer.shown_index == 30 and r.after_level() == pytest.approx(60, abs=0.01)
        assert 15 not in reader.reads, "superseded frames are never decoded"
    finally:
        gate.set()
        r.close()


def test_parameter_change_and_refresh_update_the_after_view(rig) -> None:
    rig.playback.seek(20)
    rig.settle()
    assert rig.after_level() == pytest.approx(40, abs=0.01)
    rig.plan = exposure_plan(N, 2.0)  # what the inspector's edit produces
    rig.playback.refresh()
    rig.settle()
    assert rig.after_level() == pytest.approx(80, abs=0.01)
    assert rig.before_level() == pytest.approx(20, abs=0.01)


def test_show_restored_off_and_preview_scale(rig) -> None:
    rig.playback.seek(10)
    rig.playback.show_restored(False)
    rig.settle()
    assert rig.after_level() == pytest.approx(10, abs=0.01)
    rig.playback.set_preview_scale(0.25)
    rig.settle()
    assert rig.viewer.after_image().width() == FakeInfo().width // 4
    with pytest.raises(ValueError):
        rig.playback.set_preview_scale(0.3)


def test_operator_error_is_signalled_and_the_window_survives(rig, qtbot, monkeypatch) -> None:
    def broken(self, window):
        raise RuntimeError("matrix not invertible")

    monkeypatch.setattr(ColorOperator, "process", broken)
    with qtbot.waitSignal(rig.bridge.error, timeout=10000) as sig:
        rig.playback.seek(7)
    rig.settle()
    assert sig.args[0].startswith("color:") and "matrix not invertible" in sig.args[0]
    assert "matrix not invertible" in rig.viewer._message
    rig.viewer.grab()  # still paints
    monkeypatch.undo()
    rig.playback.seek(8)
    rig.settle()
    assert rig.viewer.shown_index == 8 and rig.after_level() == pytest.approx(16, abs=0.01)


def test_compare_modes_switch_while_showing_frames(rig) -> None:
    rig.playback.seek(12)
    rig.settle()
    for mode in ("split", "toggle", "difference", "side_by_side"):
        rig.viewer.set_mode(mode)
        rig.viewer.grab()
        assert rig.viewer.mode == mode and rig.viewer.shown_index == 12
    diff = rig.viewer.difference_image()
    assert diff is not None and level_of(diff) > 128  # the recipe brightened the frame


def test_restored_playback_shows_every_frame_in_order_then_stops_at_out(rig, qtbot) -> None:
    rig.playback.seek(4)
    rig.settle()
    rig.timeline.set_in_out(None, 14)
    rig.shown.clear()
    with qtbot.waitSignal(rig.playback.playing_changed, timeout=10000,
                          check_params_cb=lambda playing: not playing):
        rig.playback.play()
    rig.settle()
    assert rig.shown == list(range(5, 15))
    assert rig.viewer.shown_index == 14 and rig.after_level() == pytest.approx(28, abs=0.01)


def test_original_playback_follows_the_clock_and_reports_fps(rig, qtbot) -> None:
    rig.playback.show_restored(False)
    rig.settle()
    rates: list[float] = []
    rig.playback.fps_changed.connect(rates.append)
    rig.playback.play()
    qtbot.waitUntil(lambda: rig.playback.playhead >= 20, timeout=10000)
    rig.playback.pause()
    rig.settle()
    assert rig.shown == sorted(rig.shown), "playback never goes backwards"
    positive = [r for r in rates if r > 0]
    assert positive and max(positive) <= 25 * 1.5
    assert rates[-1] == 0.0  # paused


def test_shuttle_backwards_with_j(rig, qtbot) -> None:
    rig.playback.seek(30)
    rig.settle()
    rig.playback.shuttle_backward()
    assert rig.playback.speed == -1
    rig.playback.shuttle_backward()
    assert rig.playback.speed == -2
    qtbot.waitUntil(lambda: rig.playback.playhead <= 24, timeout=10000)
    rig.playback.pause()
    assert rig.playback.speed == 0


def test_keyboard_transport(qtbot) -> None:
    r = Rig(qtbot, cuts=(20, 40))
    try:
        r.playback.install_shortcuts(r.window)
        r.window.activateWindow()
        qtbot.waitActive(r.window)
        w = r.window

        def press(key, modifier=Qt.KeyboardModifier.NoModifier):
            qtbot.keyClick(w, key, modifier)
            r.settle()

        press(Qt.Key.Key_Right)
        assert r.playback.playhead == 1
        press(Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
        assert r.playback.playhead == 11
        press(Qt.Key.Key_Left)
        assert r.playback.playhead == 10
        press(Qt.Key.Key_Down)
        assert r.playback.playhead == 20
        press(Qt.Key.Key_I)
        press(Qt.Key.Key_Down)
        assert r.playback.playhead == 40
        press(Qt.Key.Key_O)
        assert r.timeline.in_out == (20, 40)
        press(Qt.Key.Key_Up)
        assert r.playback.playhead == 20
        press(Qt.Key.Key_End)
        assert r.playback.playhead == N - 1
        press(Qt.Key.Key_Home)
        assert r.playback.playhead == 0 and r.viewer.shown_index == 0
        press(Qt.Key.Key_Space)
        assert r.playback.playing
        press(Qt.Key.Key_K)
        assert not r.playback.playing
    finally:
        r.close()


def test_real_clip_frame_accuracy(qtbot, tmp_path) -> None:
    media = pytest.importorskip("engine.media")
    if not hasattr(media, "open_reader"):
        pytest.skip("engine.media.open_reader is not available")
    from engine.synth.index_clip import read_index, write_index_clip

    path = write_index_clip(tmp_path / "index.mp4", "h264", 64, 48, frames=30, gop=12, bframes=2,
                            fps=Fraction(25))
    bridge = EngineBridge(cache_bytes=32 << 20)
    viewer, timeline = CompareViewer(), Timeline()
    qtbot.addWidget(viewer)
    qtbot.addWidget(timeline)
    playback = PlaybackController(bridge, viewer, timeline, lambda: None)
    playback.set_preview_scale(1.0)
    got: dict[int, int] = {}

    def record(response) -> None:
        if response.original is not None:
            got[response.index] = read_index(response.original)

    bridge.frame_ready.connect(record)
    try:
        with qtbot.waitSignal(bridge.clip_opened, timeout=10000):
            bridge.open_clip(path)
        assert bridge.wait_until_idle(10)
        for i in (17, 3, 29, 12, 13):
            playback.seek(i)
            assert bridge.wait_until_idle(10)
            assert viewer.shown_index == i and got[i] == i
        assert np.isfinite(viewer.zoom)
    finally:
        bridge.close()


def test_a_cold_seek_shows_a_labelled_draft_then_the_final_frame(qtbot) -> None:
    # Wider than the analysis width (480 px), so a full-resolution preview has a draft.
    rig = Rig(qtbot, LevelReader(FakeInfo(width=960, height=540, frame_count=20)))
    try:
        drafts: list[tuple[int, bool, float]] = []
        rig.playback.draft_shown.connect(
            lambda i: drafts.append((i, rig.viewer.showing_draft, rig.after_level())))
        rig.playback.seek(7)
        qtbot.waitUntil(lambda: 7 in rig.shown, timeout=10000)
        rig.settle()
        # The draft came first, labelled, with the right frame's picture; the final frame
        # replaced it.
        assert drafts == [(7, True, pytest.approx(14.0, abs=1.0))]
        assert not rig.viewer.showing_draft and rig.after_level() == pytest.approx(14.0, abs=1.0)
        # The next frame was computed ahead while the restorer looked: no draft for it.
        rig.playback.step(1)
        rig.settle()
        assert rig.viewer.shown_index == 8 and len(drafts) == 1
    finally:
        rig.close()
