"""Clip ▸ Framing…: the picture area kept and the size it is delivered at.

The crop is set in source pixels, by hand or by Detect picture area (the scan's uniform
surround, found on frames across the clip by `engine.framing.detect_clip_crop`, on a
worker thread); the output size from the delivery formats a restorer meets or typed in;
the fit says how the cropped picture meets that size. While the dialog is open the viewer
shows the framing being set (`preview(Framing)`); OK makes it the project's, one undo step.
Exports, stills and the report then use it (`engine.framing`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.framing import Framing
from engine.framing.fit import MAX_SIZE, MIN_PICTURE
from ui.document import BackgroundTask, CancelFlag

SIZES: tuple[tuple[str, tuple[int, int] | None], ...] = (
    ("The cropped picture's size", None),
    ("HD 1920 × 1080", (1920, 1080)),
    ("HD 4:3 1440 × 1080", (1440, 1080)),
    ("2K DCI 2048 × 1080", (2048, 1080)),
    ("2K full aperture 2048 × 1556", (2048, 1556)),
    ("UHD 3840 × 2160", (3840, 2160)),
    ("4K DCI 4096 × 2160", (4096, 2160)),
    ("SD PAL 720 × 576", (720, 576)),
    ("SD NTSC 720 × 486", (720, 486)),
)
CUSTOM = "Custom"
FIT_LABELS = (
    ("fit", "Fit inside (black bars, no picture lost)"),
    ("fill", "Fill (the excess cut from both sides)"),
    ("stretch", "Stretch (anamorphic desqueeze)"),
)
EDGES = ("left", "top", "right", "bottom")


class PictureAreaFinder(BackgroundTask):
    """The uniform surround of a clip's scan (engine.framing.detect_clip_crop):
    `start(media)`. finished(crop, error): (left, top, right, bottom) pixels, or None with
    a one-line error."""

    thread_name = "nitrate-picture-area"

    def _work(self, cancel: CancelFlag, media: Path) -> None:  # type: ignore[override]
        from engine.framing import detect_clip_crop
        from engine.media import open_reader

        def detect() -> tuple[int, int, int, int]:
            with open_reader(media) as reader:
                return detect_clip_crop(reader)

        crop = self._guarded(cancel, detect, f"{media}: the picture area could not be found")
        if crop is not None and not cancel.is_set():
            self._w_finished.emit(crop, "")


class FramingDialog(QDialog):
    """Edits a Framing for a source of `source_size` (width, height) pixels; `framing()`
    is the one set. Signal preview(Framing): the framing as edited, valid or not yet."""

    preview = Signal(object)

    def __init__(self, framing: Framing, source_size: tuple[int, int], media: Path | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("framingDialog")
        self.setWindowTitle("Framing")
        self._source = source_size
        self._media = media
        self._updating = True  # controls being set by code: no preview until they agree
        width, height = source_size

        crop_box = QGroupBox("Picture area: pixels cut from each edge of the scan")
        grid = QGridLayout(crop_box)
        self.crop: dict[str, QSpinBox] = {}
        limits = {"left": width, "right": width, "top": height, "bottom": height}
        for i, edge in enumerate(EDGES):
            spin = QSpinBox()
            spin.setObjectName(f"crop_{edge}")
            spin.setRange(0, limits[edge] - MIN_PICTURE)
            spin.setSuffix(" px")
            spin.setValue(framing.crop[i])
            spin.valueChanged.connect(self._changed)
            self.crop[edge] = spin
            grid.addWidget(QLabel(edge.capitalize()), i // 2, 2 * (i % 2))
            grid.addWidget(spin, i // 2, 2 * (i % 2) + 1)
        self.detect_button = QPushButton("Detect picture area")
        self.detect_button.setToolTip(
            "Find the scan's uniform dark or clear surround (the gate, frame lines, "
            "letterbox bars) on frames across the clip. Perforations and soundtracks "
            "are cropped by hand.")
        self.detect_button.setEnabled(media is not None)
        self.detect_button.clicked.connect(self.detect)
        self.detect_label = QLabel("")
        row = QHBoxLayout()
        row.addWidget(self.detect_button)
        row.addWidget(self.detect_label, 1)
        grid.addLayout(row, 2, 0, 1, 4)

        out_box = QGroupBox("Output")
        form = QFormLayout(out_box)
        self.size_combo = QComboBox()
        self.size_combo.setObjectName("framingSize")
        for label, size in SIZES:
            self.size_combo.addItem(label, size)
        self.size_combo.addItem(CUSTOM, CUSTOM)
        self.width_spin, self.height_spin = QSpinBox(), QSpinBox()
        for spin in (self.width_spin, self.height_spin):
            spin.setRange(MIN_PICTURE, MAX_SIZE)
            spin.setSuffix(" px")
            spin.valueChanged.connect(self._changed)
        custom = QHBoxLayout()
        custom.addWidget(self.width_spin)
        custom.addWidget(QLabel("×"))
        custom.addWidget(self.height_spin)
        self.fit_combo = QComboBox()
        self.fit_combo.setObjectName("framingFit")
        for fit, label in FIT_LABELS:
            self.fit_combo.addItem(label, fit)
        form.addRow("Size", self.size_combo)
        form.addRow("", custom)
        form.addRow("Fit", self.fit_combo)
        self.summary = QLabel("")
        self.summary.setObjectName("framingSummary")
        self.summary.setWordWrap(True)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.Reset)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        reset = buttons.button(QDialogButtonBox.StandardButton.Reset)
        reset.setText("Whole frame")
        reset.setToolTip("No crop, the source's size")
        reset.clicked.connect(lambda: self.set_framing(Framing()))
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)

        layout = QVBoxLayout(self)
        source = QLabel(f"Source: {width} × {height} px")
        layout.addWidget(source)
        layout.addWidget(crop_box)
        layout.addWidget(out_box)
        layout.addWidget(self.summary)
        layout.addWidget(buttons)

        self.finder = PictureAreaFinder(self)
        self.finder.finished.connect(self._detected)
        self.size_combo.currentIndexChanged.connect(self._size_chosen)
        self.fit_combo.currentIndexChanged.connect(self._changed)
        self.finished.connect(lambda _result: self.finder.cancel())
        self.set_framing(framing)

    # -- the framing ---------------------------------------------------------------------
    def set_framing(self, framing: Framing) -> None:
        """Show `framing` in the controls."""
        self._updating = True
        for i, edge in enumerate(EDGES):
            self.crop[edge].setValue(framing.crop[i])
        presets = [size for _label, size in SIZES]
        if framing.size in presets:
            self.size_combo.setCurrentIndex(presets.index(framing.size))
        else:
            self.size_combo.setCurrentIndex(self.size_combo.count() - 1)
        size = framing.size or framing.output_size(*self._source)
        self.width_spin.setValue(size[0])
        self.height_spin.setValue(size[1])
        self.fit_combo.setCurrentIndex([f for f, _ in FIT_LABELS].index(framing.fit))
        self._updating = False
        self._changed()

    def framing(self) -> Framing:
        """The framing the controls say."""
        crop = tuple(self.crop[edge].value() for edge in EDGES)
        choice = self.size_combo.currentData()
        if choice == CUSTOM:
            size: tuple[int, int] | None = (self.width_spin.value(), self.height_spin.value())
        else:
            size = choice
        return Framing(crop=crop, size=size, fit=str(self.fit_combo.currentData()))  # type: ignore[arg-type]

    def _size_chosen(self) -> None:
        choice = self.size_combo.currentData()
        custom = choice == CUSTOM
        self.width_spin.setEnabled(custom)
        self.height_spin.setEnabled(custom)
        if not custom:
            was, self._updating = self._updating, True
            size = choice or self.framing().output_size(*self._source)
            self.width_spin.setValue(size[0])
            self.height_spin.setValue(size[1])
            self._updating = was
        self.fit_combo.setEnabled(choice is not None)
        self._changed()

    def _changed(self) -> None:
        if self._updating:
            return
        framing = self.framing()
        problem = framing.problem(*self._source)
        self.ok_button.setEnabled(problem is None)
        self.summary.setText(problem or _summary(framing, self._source))
        if self.size_combo.currentData() is None:
            self._updating = True
            width, height = framing.output_size(*self._source)
            self.width_spin.setValue(width)
            self.height_spin.setValue(height)
            self._updating = False
        self.preview.emit(framing)

    # -- detection -----------------------------------------------------------------------
    def detect(self) -> None:
        """Find the scan's surround in the background; the crop is set when it is found."""
        if self._media is None:
            return
        self.detect_button.setEnabled(False)
        self.detect_label.setText("Looking at frames across the clip…")
        self.finder.start(self._media)

    def _detected(self, crop: tuple[int, int, int, int] | None, error: str) -> None:
        self.detect_button.setEnabled(True)
        if crop is None:
            self.detect_label.setText(error)
            return
        if not any(crop):
            self.detect_label.setText("No uniform surround found: the picture reaches the "
                                      "edges (crop by hand)")
            return
        self.detect_label.setText("Found: {}, {}, {}, {} px".format(*crop))
        for edge, value in zip(EDGES, crop, strict=True):
            self.crop[edge].setValue(value)


def _summary(framing: Framing, source: tuple[int, int]) -> str:
    """One line on what an export will be, e.g. "Exports 1920 × 1080: the picture
    1440 × 1080 in the middle, black bars of 240 px left and right"."""
    if framing.identity:
        return f"Exports the whole frame, {source[0]} × {source[1]} px."
    out_w, out_h = framing.output_size(*source)
    x, y, w, h = framing.picture_box(*source)
    text = f"Exports {out_w} × {out_h} px"
    _, _, box_w, box_h = framing.source_box(*source)
    if framing.size is not None and framing.fit == "fit" and (round(x) or round(y)):
        side = f"{round(x)} px left and right" if round(x) else f"{round(y)} px top and bottom"
        return (f"{text}: the picture {round(w)} × {round(h)} px, black bars of {side}.")
    if framing.size is not None and framing.fit == "fill":
        cut_w = source[0] - framing.crop[0] - framing.crop[2] - box_w
        cut_h = source[1] - framing.crop[1] - framing.crop[3] - box_h
        if round(cut_w) or round(cut_h):
            what = f"{round(cut_w)} px of its width" if round(cut_w) else \
                f"{round(cut_h)} px of its height"
            return f"{text}, filled: {what} cut beyond the crop."
    return f"{text}."
