"""Clip ▸ Sound sync…: how far the clip's sound is moved against its picture, in frames
(and the milliseconds they make), with the sound advances of prints whose soundtrack was
scanned with the picture."""

from __future__ import annotations

from fractions import Fraction

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QWidget,
)

from engine.media.sound_sync import MAX_OFFSET_S, describe_sound_offset

SOUND_ADVANCES: tuple[tuple[str, int], ...] = (
    ("35 mm optical: 21 frames", 21),
    ("16 mm optical: 26 frames", 26),
    ("16 mm magnetic stripe: 28 frames", 28),
    ("Super 8 magnetic stripe: 18 frames", 18),
    ("Super 8 optical: 22 frames", 22),
)
"""A print's sound runs ahead of its picture by this many frames (the projector's sound
head sits after the gate). A soundtrack read from the same scanned frames as the picture
must be moved that many frames later."""

_CUSTOM = "As set"


class SoundSyncDialog(QDialog):
    """Set the offset (`seconds()`): the spin box in frames at the clip's rate, or a print's
    sound advance from the list."""

    def __init__(self, seconds: float, fps: Fraction, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sound sync")
        self._fps = fps
        form = QFormLayout(self)
        self.frames_spin = QDoubleSpinBox()
        limit = MAX_OFFSET_S * float(fps)
        self.frames_spin.setRange(-limit, limit)
        self.frames_spin.setDecimals(2)
        self.frames_spin.setSingleStep(1.0)
        self.frames_spin.setSuffix(" frames")
        self.frames_spin.setToolTip("Positive: the sound is moved later (it came too early); "
                                    "negative: earlier. A fraction of a frame is kept to "
                                    "the sample.")
        self.frames_spin.setValue(seconds * float(fps))
        form.addRow("Move the sound", self.frames_spin)
        self.advance_combo = QComboBox()
        self.advance_combo.addItem(_CUSTOM)
        for label, _frames in SOUND_ADVANCES:
            self.advance_combo.addItem(label)
        self.advance_combo.setToolTip("The soundtrack was scanned with the picture: it runs "
                                      "ahead of it on the print by its sound advance")
        form.addRow("Print's sound advance", self.advance_combo)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        form.addRow(self.summary)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.advance_combo.currentIndexChanged.connect(self._advance_chosen)
        self.frames_spin.valueChanged.connect(self._changed)
        self._changed()

    def seconds(self) -> float:
        """The offset set: seconds the sound is moved later (negative: earlier)."""
        return self.frames_spin.value() / float(self._fps)

    def _advance_chosen(self, index: int) -> None:
        if index > 0:
            self.frames_spin.setValue(SOUND_ADVANCES[index - 1][1])

    def _changed(self) -> None:
        frames = self.frames_spin.value()
        matching = [i for i, (_l, n) in enumerate(SOUND_ADVANCES, start=1) if n == frames]
        was = self.advance_combo.blockSignals(True)
        self.advance_combo.setCurrentIndex(matching[0] if matching else 0)
        self.advance_combo.blockSignals(was)
        what = describe_sound_offset(self.seconds(), self._fps)
        self.summary.setText(f"Exports: {what}. The timeline's waveform shows it.")
