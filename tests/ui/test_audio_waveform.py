"""The timeline's audio waveform: the sound of each frame, for clips that have sound."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _ui_helpers import open_window
from PySide6.QtCore import QSettings

from engine.synth.index_clip import write_index_clip
from ui.timeline import AUDIO_PX, KEYS_PX, LEVELS_PX, RULER_PX, SHOTS_PX, THUMB_PX


def test_a_clip_s_sound_is_drawn_under_the_levels_and_goes_with_it(
        qtbot, settings: QSettings, clip: Path, tmp_path: Path) -> None:
    sound = write_index_clip(tmp_path / "sound.mov", "h264", frames=24, width=64, height=48,
                             audio=True, click_frames=(9,))
    window = open_window(qtbot, settings, sound)
    plain_height = RULER_PX + THUMB_PX + SHOTS_PX + KEYS_PX + LEVELS_PX + 8
    qtbot.waitUntil(lambda: window.timeline.audio is not None, timeout=20_000)
    peaks = window.timeline.audio
    assert len(peaks) == 24 and int(np.argmax(peaks)) == 9  # the click, on its frame
    assert window.timeline.minimumHeight() == plain_height + AUDIO_PX + 2
    # A clip without sound has no audio row.
    assert window.open_path(clip)
    qtbot.waitUntil(lambda: window.bridge.wait_until_idle(0.05)
                    and window.timeline.frame_count == 12, timeout=20_000)
    assert window.timeline.audio is None
    assert window.timeline.minimumHeight() == plain_height
    window.bridge.wait_until_idle(5)
    assert not window.audio_meter.running


def test_the_waveform_is_drawn_again_when_the_sound_or_the_view_changes(qtbot) -> None:
    from fractions import Fraction

    from ui.timeline import Timeline

    timeline = Timeline()
    qtbot.addWidget(timeline)
    timeline.resize(400, 220)
    timeline.set_clip(100, Fraction(24))
    timeline.fit_all()
    timeline.show()
    top = RULER_PX + THUMB_PX + SHOTS_PX + KEYS_PX + 6 + LEVELS_PX + 2  # the audio row

    def row() -> np.ndarray:
        image = timeline.grab().toImage()
        return np.array([[image.pixelColor(x, top + AUDIO_PX // 2 - 6).blue()
                          for x in range(200, 400)]])

    quiet = np.full(100, 1e-4, np.float32)
    timeline.set_audio(quiet)
    silent_row = row()
    click = quiet.copy()
    click[75] = 0.9  # at 3/4 of the clip: x about 300
    timeline.set_audio(click)
    assert not np.array_equal(row(), silent_row)  # new sound, new waveform
    clicked_row = row()
    timeline.resize(800, 220)  # a wider view puts the click elsewhere
    timeline.fit_all()
    assert not np.array_equal(row(), clicked_row)
