"""The clip's sound heard with the picture: from the frame shown, moved by the sound sync,
only at the clip's rate, stopped when the picture cannot keep up; silent without a device.

The device is a fake that keeps what it is given. Unless a test sets its clock, it plays in
wall time but waits for the picture, so no test depends on the machine keeping up."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _ui_helpers import discard
from PySide6.QtCore import QSettings

from engine.synth.index_clip import find_clicks, write_index_clip
from ui.main_window import MainWindow
from ui.sound import QtSoundOutput

FPS = 25
RATE = 48000


class FakeOutput:
    """A sound device keeping the PCM it is given; `clock()` says how far it has played."""

    def __init__(self, problem: str = "") -> None:
        self.problem = problem
        self.opened: list[tuple[int, int]] = []
        self.data = bytearray()
        self.is_open = False
        self.opened_at = 0.0
        # A device playing in real time from when it is opened.
        self.clock = lambda: time.monotonic() - self.opened_at

    def open(self, sample_rate: int, channels: int) -> str:
        self.opened.append((sample_rate, channels))
        if self.problem:
            return self.problem
        self.is_open = True
        self.opened_at = time.monotonic()
        self.data = bytearray()
        return ""

    def free_bytes(self) -> int:
        return 1 << 24 if self.is_open else 0

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)

    def played_seconds(self) -> float:
        return self.clock()

    def close(self) -> None:
        self.is_open = False

    def samples(self) -> np.ndarray:
        """What was played, as (channels, n) float."""
        ints = np.frombuffer(bytes(self.data), "<i2").reshape(-1, 2).T
        return ints.astype(np.float64) / 32767.0


@pytest.fixture(scope="module")
def reel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 frames at 25 fps with a click on frames 12 and 30."""
    return write_index_clip(tmp_path_factory.mktemp("sound") / "reel.mov", "prores",
                            frames=40, audio=True, click_frames=(12, 30))


@pytest.fixture
def device() -> FakeOutput:
    return FakeOutput()


@pytest.fixture
def window(qtbot, settings: QSettings, device: FakeOutput,
           reel: Path) -> Iterator[MainWindow]:
    win = MainWindow(settings, detect_shots=False, sound_output=device)
    qtbot.addWidget(win, before_close_func=discard)
    win.show()
    assert win.open_path(reel)
    qtbot.waitUntil(lambda: win.viewer.shown_index == 0, timeout=10_000)
    # A device playing in wall time that also waits for the picture, never more than a
    # frame ahead of it: the picture is then never behind, however loaded the machine (a
    # real device would go on, and stop the sound at the first stall, as it should).
    wall = device.clock
    device.clock = lambda: min(wall(), (win.playback.playhead + 1 - win.sound.start_frame)
                               / FPS)
    yield win


def _play_from(window: MainWindow, qtbot, frame: int) -> None:
    window.playback.seek(frame)
    qtbot.waitUntil(lambda: window.viewer.shown_index == frame, timeout=10_000)
    window.playback.play()


def _click_frames(device: FakeOutput, start: float) -> list[float]:
    """The frames (on the picture's timeline) where the clicks of the played sound fall."""
    return [start + s / RATE * FPS for s in find_clicks(device.samples(), RATE)]


def test_the_sound_plays_from_the_frame_shown_and_moves_with_the_sound_sync(
        qtbot, window: MainWindow, device: FakeOutput) -> None:
    _play_from(window, qtbot, 5)
    qtbot.waitUntil(lambda: window.sound.playing, timeout=10_000)
    start = window.sound.start_frame  # the first frame shown after 5
    assert 5 < start <= 7 and device.opened == [(RATE, 2)]
    qtbot.waitUntil(lambda: len(device.data) >= round((40 - start) / FPS * RATE) * 4,
                    timeout=10_000)
    assert _click_frames(device, start) == pytest.approx([12, 30], abs=0.01)
    window.playback.pause()
    assert not window.sound.playing and not device.is_open
    # Two frames later, as an export moves it.
    window.set_audio_offset(2 / FPS)
    _play_from(window, qtbot, 5)
    qtbot.waitUntil(lambda: window.sound.playing, timeout=10_000)
    start = window.sound.start_frame
    qtbot.waitUntil(lambda: len(device.data) >= round((40 - start) / FPS * RATE) * 4,
                    timeout=10_000)
    assert _click_frames(device, start) == pytest.approx([14, 32], abs=0.01)


def test_no_sound_while_shuttling_muted_or_behind(qtbot, window: MainWindow,
                                                 device: FakeOutput) -> None:
    messages: list[str] = []
    window.sound.message.connect(messages.append)
    _play_from(window, qtbot, 0)
    qtbot.waitUntil(lambda: window.sound.playing, timeout=10_000)
    window.playback.shuttle(2)  # L again: twice the rate
    qtbot.waitUntil(lambda: not window.sound.playing, timeout=10_000)
    assert not device.is_open and window.playback.playing
    window.playback.pause()
    window.set_sound(False)
    assert QSettings(window.settings.fileName(), QSettings.Format.IniFormat).value(
        "sound") in (False, "false")
    opened = len(device.opened)
    _play_from(window, qtbot, 0)
    qtbot.waitUntil(lambda: (window.viewer.shown_index or 0) >= 4, timeout=10_000)
    assert len(device.opened) == opened  # muted: the device is not even opened
    window.playback.pause()
    # The picture falling behind the sound (a slow recipe): the sound stops, and says why.
    window.set_sound(True)
    device.clock = lambda: 10.0  # the device says it has played ten seconds
    _play_from(window, qtbot, 0)
    qtbot.waitUntil(lambda: bool(messages), timeout=10_000)
    assert messages == ["Sound off: the restored frames play slower than the clip's rate "
                        "(Render ▸ Cache for playback plays them in time)"]
    assert not window.sound.playing and window.playback.playing


def test_without_a_device_the_picture_plays_on_silently(qtbot, settings: QSettings,
                                                        reel: Path) -> None:
    device = FakeOutput(problem="no sound device")
    window = MainWindow(settings, detect_shots=False, sound_output=device)
    qtbot.addWidget(window, before_close_func=discard)
    assert window.open_path(reel)
    messages: list[str] = []
    window.sound.message.connect(messages.append)
    for _ in range(2):
        _play_from(window, qtbot, 0)
        qtbot.waitUntil(lambda: (window.viewer.shown_index or 0) >= 3, timeout=10_000)
        assert window.playback.playing and not window.sound.playing
        window.playback.pause()
    assert messages == ["Playing without sound: no sound device"]  # said once


def test_a_clip_without_sound_opens_no_device(qtbot, settings: QSettings,
                                              tmp_path: Path) -> None:
    silent = write_index_clip(tmp_path / "silent.mov", "prores", frames=20)
    device = FakeOutput()
    window = MainWindow(settings, detect_shots=False, sound_output=device)
    qtbot.addWidget(window, before_close_func=discard)
    assert window.open_path(silent)
    _play_from(window, qtbot, 0)
    qtbot.waitUntil(lambda: (window.viewer.shown_index or 0) >= 4, timeout=10_000)
    window.playback.pause()
    assert device.opened == []


def test_the_system_device_says_why_it_cannot_play(qtbot) -> None:
    output = QtSoundOutput()
    problem = output.open(RATE, 2)
    # CI has no sound device; a developer's machine may. Either way nothing breaks.
    assert isinstance(problem, str)
    if problem:
        assert output.free_bytes() == 0 and output.write(b"\0" * 4) == 0
    output.close()
    assert output.played_seconds() == 0.0


def test_a_click_on_the_timeline_while_playing_moves_the_sound_there(
        qtbot, window: MainWindow, device: FakeOutput) -> None:
    _play_from(window, qtbot, 0)
    qtbot.waitUntil(lambda: window.sound.playing, timeout=10_000)
    window.timeline.seek_requested.emit(25)  # what a click on the ruler sends
    qtbot.waitUntil(lambda: window.sound.playing and window.sound.start_frame >= 25,
                    timeout=10_000)
    start = window.sound.start_frame
    assert start == 25 and len(device.opened) == 2
    qtbot.waitUntil(lambda: not window.playback.playing, timeout=10_000)
    assert _click_frames(device, start) == pytest.approx([30], abs=0.01)


def test_the_picture_waits_for_the_sound_and_follows_it(
        qtbot, window: MainWindow, device: FakeOutput,
        monkeypatch: pytest.MonkeyPatch) -> None:
    played = {"seconds": 0.0}
    device.clock = lambda: played["seconds"]  # a device slow to start
    window.playback.show_restored(False)  # originals: the wall clock alone would run on
    _play_from(window, qtbot, 0)
    qtbot.waitUntil(lambda: window.sound.playing, timeout=10_000)
    start = window.sound.start_frame
    qtbot.wait(300)  # seven frames' time: the picture must not have moved meanwhile
    assert window.playback.playhead == start
    played["seconds"] = 0.4  # ten frames heard
    qtbot.waitUntil(lambda: window.viewer.shown_index == start + 10, timeout=10_000)
    qtbot.wait(200)
    assert window.playback.playhead == start + 10  # and not beyond what is heard
    window.playback.pause()
    # A device that never starts is given up, and the picture goes on without it.
    import ui.sound

    monkeypatch.setattr(ui.sound, "START_TIMEOUT_S", 0.2)
    messages: list[str] = []
    window.sound.message.connect(messages.append)
    played["seconds"] = 0.0
    _play_from(window, qtbot, 0)
    qtbot.waitUntil(lambda: (window.viewer.shown_index or 0) >= 8, timeout=10_000)
    assert messages == ["Sound off: the sound device did not start playing"]


def test_the_volume_scales_what_is_heard_and_is_remembered(
        qtbot, window: MainWindow, device: FakeOutput) -> None:
    def loudness() -> float:
        _play_from(window, qtbot, 0)
        qtbot.waitUntil(lambda: window.sound.playing
                        and len(device.data) >= round(8 / FPS * RATE) * 4, timeout=10_000)
        window.playback.pause()
        return float(np.abs(device.samples()[:, : round(8 / FPS * RATE)]).mean())

    full = loudness()
    window.volume_slider.setValue(25)               # View ▸ Volume
    assert window.sound.volume == 0.25
    assert loudness() == pytest.approx(full / 4, rel=0.01)
    window.set_volume(0.0)
    assert loudness() == 0.0 and window.volume_slider.value() == 0
    again = MainWindow(window.settings, detect_shots=False, sound_output=FakeOutput())
    qtbot.addWidget(again, before_close_func=discard)
    assert again.sound.volume == 0.0 and again.volume_slider.value() == 0  # remembered
