"""Clip ▸ Sound sync…: the sound moved against the picture, seen on the waveform, kept by
the project, said by the render dialog."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from _ui_helpers import open_window
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from engine.project import load_project
from engine.synth.index_clip import write_index_clip
from ui.sound_sync_dialog import SoundSyncDialog


def test_the_dialog_sets_frames_or_a_print_s_sound_advance(qtbot) -> None:
    dialog = SoundSyncDialog(0.0, Fraction(24))
    qtbot.addWidget(dialog)
    assert dialog.summary.text() == "Exports: sound in sync. The timeline's waveform shows it."
    dialog.advance_combo.setCurrentIndex(1)  # 35 mm optical
    assert dialog.frames_spin.value() == 21 and dialog.seconds() == pytest.approx(21 / 24)
    assert "sound 875 ms (21 frames) later" in dialog.summary.text()
    dialog.frames_spin.setValue(-1.5)
    assert dialog.advance_combo.currentIndex() == 0  # no print's advance: as set
    assert dialog.seconds() == pytest.approx(-1.5 / 24)
    dialog.frames_spin.setValue(26)
    assert dialog.advance_combo.currentText() == "16 mm optical: 26 frames"
    shown = SoundSyncDialog(2 / 24, Fraction(24))
    qtbot.addWidget(shown)
    assert shown.frames_spin.value() == pytest.approx(2)  # opens on the clip's offset


def test_the_waveform_shows_the_sound_where_exports_will_put_it(
        qtbot, settings: QSettings, tmp_path: Path) -> None:
    sound = write_index_clip(tmp_path / "sound.mov", "h264", frames=24, width=64, height=48,
                             audio=True, click_frames=(9,))
    window = open_window(qtbot, settings, sound)
    qtbot.waitUntil(lambda: window.timeline.audio is not None, timeout=20_000)
    assert int(np.argmax(window.timeline.audio)) == 9

    def click_frame() -> int:
        window.bridge.wait_until_idle(0.05)
        peaks = window.timeline.audio
        return -1 if peaks is None or window.audio_meter.running else int(np.argmax(peaks))

    def operate() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, SoundSyncDialog)
        dialog.frames_spin.setValue(3)
        dialog.accept()

    QTimer.singleShot(0, operate)
    window.act_sound_sync.trigger()
    assert window.document.audio_offset() == pytest.approx(3 / 25)
    assert window.document.undo_stack.undoText() == "Sound sync: sound 120 ms (3 frames) later"
    qtbot.waitUntil(lambda: click_frame() == 12, timeout=20_000)  # measured again, moved
    assert "sound 120 ms (3 frames) later" in window._export_picture()
    path = window.document.save(tmp_path / "synced.nitrate")
    assert load_project(path).clip.audio_offset == pytest.approx(3 / 25)
    window.document.undo_stack.undo()
    qtbot.waitUntil(lambda: click_frame() == 9, timeout=20_000)
    assert "sound" not in window._export_picture()
