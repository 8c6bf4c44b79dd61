"""The Scopes dock: waveform, RGB parade, histogram or vectorscope of the frame shown.

It reads the pictures the compare viewer shows (the preview, before and after) and draws
the scope of either or both side by side, so a restorer sees what the recipe did to the
levels and the colour: crushed blacks, clipped highlights, a cast left or removed. A line
under the scopes states the clipping and the black and white points in numbers.

Scopes are computed by `engine.scopes` on the GUI thread (a few milliseconds on a thinned
preview), only while the dock is on screen, and at most once per event-loop turn: frames
that arrive faster (playback, scrubbing) replace each other and only the latest is drawn.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QColor, QFont, QImage, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine import scopes
from ui.image import qimage_from_uint8

KIND_LABELS: dict[str, str] = {
    "waveform": "Waveform",
    "parade": "RGB parade",
    "histogram": "Histogram",
    "vectorscope": "Vectorscope",
}
"""Scope kinds (`engine.scopes.KINDS`) as the dock names them."""

SOURCES: tuple[str, ...] = ("after", "before", "both")
SOURCE_LABELS: dict[str, str] = {"after": "After", "before": "Before", "both": "Before | After"}
"""Which picture the scopes read, named as the viewer names its panes."""

_TRACE = (210, 235, 210)  # a pale, slightly green trace, as on a hardware waveform monitor
_CHANNELS = ((255, 90, 80), (90, 240, 110), (100, 150, 255))
_LUMA_LINE = QColor(235, 235, 235)
_GRID = QColor(255, 255, 255, 56)
_GRID_TEXT = QColor(170, 170, 176)
_BACKGROUND = QColor(14, 14, 16)
_TARGET = QColor(230, 200, 90, 170)
_SKIN = QColor(230, 160, 120, 150)

BAR_TARGETS: dict[str, tuple[float, float, float]] = {
    "R": (0.75, 0.0, 0.0), "Mg": (0.75, 0.0, 0.75), "B": (0.0, 0.0, 0.75),
    "Cy": (0.0, 0.75, 0.75), "G": (0.0, 0.75, 0.0), "Yl": (0.75, 0.75, 0.0),
}
"""75 % colour bars, the vectorscope's targets: a colour's saturation reads off them."""

SKIN_TONE = (0.80, 0.58, 0.46)
"""A typical skin colour: the vectorscope's skin line passes through it (faces of every
complexion fall near that line, so a cast shows as faces off it)."""

_GAIN = 0.5
"""Trace brightness: a bin holding a share `d` of its column is drawn at
1 − exp(−_GAIN · d · rows): a column spread evenly over every level glows at 40 %, a level
held by many of its pixels at full brightness."""

_VECTOR_SIZE = 256
"""Most bins across the vectorscope (a bin is then 1/256 of the colour-difference range)."""

_VECTOR_GAIN = 7_000.0
"""A picture's colours gather in few of the vectorscope's bins, so its trace is not scaled by
the bins: a bin holding one pixel in 20,000 is drawn at 30 % brightness."""


def _glow(density: np.ndarray, bins: int) -> np.ndarray:
    """Density → brightness 0-1 (see `_GAIN`)."""
    return 1.0 - np.exp(-_GAIN * bins * density)


def _tinted(brightness: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """A brightness plane (rows, cols) 0-1 drawn in `colour` → uint8 (rows, cols, 3)."""
    return (brightness[..., None] * np.array(colour, np.float32)).astype(np.uint8)


class ScopeView(QWidget):
    """One scope of one picture, drawn to the widget's size with its graticule."""

    def __init__(self, caption: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = caption
        self.kind = "waveform"
        self._frame: np.ndarray | None = None
        self._image: QImage | None = None
        self._histogram: np.ndarray | None = None
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(320, 200)

    def set_frame(self, frame: np.ndarray | None, kind: str) -> None:
        """Draw the scope `kind` of `frame` (float32 (H, W, 3) RGB 0-1; None: nothing)."""
        self._frame, self.kind = frame, kind
        self._compute()
        self.update()

    def _plot(self) -> QRectF:
        """The area the trace fills, inside a margin for the level labels."""
        r = QRectF(self.rect()).adjusted(30, 18, -10, -18)
        if self.kind == "vectorscope":
            side = min(r.width(), r.height())
            return QRectF(r.center().x() - side / 2, r.center().y() - side / 2, side, side)
        return r

    def _compute(self) -> None:
        self._image, self._histogram = None, None
        frame = self._frame
        plot = self._plot()
        # Traces resolve at most TRACE_ROWS levels (see there); the image is scaled smoothly
        # to the plot's height.
        cols = max(int(plot.width()), 1)
        rows = min(max(int(plot.height()), 2), scopes.TRACE_ROWS)
        if frame is None or plot.width() < 8 or plot.height() < 8:
            return
        if self.kind == "waveform":
            trace = scopes.waveform(frame, cols, rows)
            self._image = qimage_from_uint8(_tinted(_glow(trace, rows), _TRACE))
        elif self.kind == "parade":
            traces = scopes.parade(frame, max(cols // 3, 1), rows)
            self._image = qimage_from_uint8(np.concatenate(
                [_tinted(_glow(traces[c], rows), _CHANNELS[c]) for c in range(3)], axis=1))
        elif self.kind == "vectorscope":
            side = max(min(cols, int(plot.height()), _VECTOR_SIZE), 3)
            trace = scopes.vectorscope(frame, side)
            self._image = qimage_from_uint8(_tinted(1.0 - np.exp(-_VECTOR_GAIN * trace),
                                                    _TRACE))
        else:
            self._histogram = scopes.histogram(frame, min(max(cols, 2), 256))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._compute()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        painter.fillRect(self.rect(), _BACKGROUND)
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF() * 0.8, 6.0))
        painter.setFont(font)
        plot = self._plot()
        # The trace first, the graticule over it, as on a scope's screen.
        if self._image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(plot, self._image)
        elif self._histogram is not None:
            self._paint_histogram(painter, plot)
        if self.kind == "vectorscope":
            self._paint_vectorscope_grid(painter, plot)
        else:
            self._paint_level_grid(painter, plot)
        if self.caption:
            painter.setPen(_GRID_TEXT)
            painter.drawText(QRectF(self.rect()).adjusted(4, 2, -8, 0),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop,
                             self.caption)
        painter.end()

    def _paint_level_grid(self, painter: QPainter, plot: QRectF) -> None:
        """Lines at 0, 25, 50, 75 and 100 % of full scale: across for the waveforms (level
        up the side), upright for the histogram (level along the bottom)."""
        for percent in (0, 25, 50, 75, 100):
            painter.setPen(QPen(_GRID, 1))
            if self.kind == "histogram":
                x = plot.left() + plot.width() * percent / 100
                painter.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
                painter.setPen(_GRID_TEXT)
                painter.drawText(QRectF(x - 20, plot.bottom() + 1, 40, 16),
                                 Qt.AlignmentFlag.AlignCenter, str(percent))
            else:
                y = plot.bottom() - plot.height() * percent / 100
                painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
                painter.setPen(_GRID_TEXT)
                painter.drawText(QRectF(0, y - 8, 26, 16),
                                 Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                                 str(percent))

    def _paint_vectorscope_grid(self, painter: QPainter, plot: QRectF) -> None:
        side = plot.width()
        centre = plot.center()
        painter.setPen(QPen(_GRID, 1))
        painter.drawEllipse(centre, side / 2, side / 2)
        painter.drawLine(QPointF(plot.left(), centre.y()), QPointF(plot.right(), centre.y()))
        painter.drawLine(QPointF(centre.x(), plot.top()), QPointF(centre.x(), plot.bottom()))
        n = int(side)
        skin = scopes.vectorscope_point(SKIN_TONE, n)
        painter.setPen(QPen(_SKIN, 1, Qt.PenStyle.DashLine))
        # The skin line runs from the centre through the skin colour to the edge.
        dx, dy = skin[0] - (n - 1) / 2, skin[1] - (n - 1) / 2
        reach = (side / 2) / max(float(np.hypot(dx, dy)), 1e-6)
        painter.drawLine(centre, QPointF(centre.x() + dx * reach, centre.y() + dy * reach))
        for name, rgb in BAR_TARGETS.items():
            x, y = scopes.vectorscope_point(rgb, n)
            at = QPointF(plot.left() + x, plot.top() + y)
            painter.setPen(QPen(_TARGET, 1))
            painter.drawRect(QRectF(at.x() - 5, at.y() - 5, 10, 10))
            painter.setPen(_TARGET)
            painter.drawText(QRectF(at.x() + 6, at.y() - 14, 30, 14),
                             Qt.AlignmentFlag.AlignLeft, name)

    def _paint_histogram(self, painter: QPainter, plot: QRectF) -> None:
        hist = self._histogram
        assert hist is not None
        bins = hist.shape[1]
        # Scaled to the fullest inner bin: a spike of clipped pixels at either end would
        # flatten the rest; it is drawn cut off at the top instead.
        top = float(hist[:, 1:-1].max()) if bins > 2 else float(hist.max())
        top = top if top > 0 else 1.0
        xs = plot.left() + plot.width() * np.arange(bins) / (bins - 1)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for k, colour in enumerate((*_CHANNELS, None)):
            ys = plot.bottom() - plot.height() * np.minimum(hist[k] / top, 1.0)
            path = QPainterPath(QPointF(xs[0], plot.bottom()))
            for x, y in zip(xs, ys, strict=True):
                path.lineTo(QPointF(float(x), float(y)))
            path.lineTo(QPointF(xs[-1], plot.bottom()))
            if colour is None:
                painter.setPen(QPen(_LUMA_LINE, 1))
                painter.setBrush(Qt.BrushStyle.NoBrush)
            else:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(QColor(*colour, 90))
            painter.drawPath(path)


def levels_text(levels: scopes.Levels) -> str:
    """The numbers under the scopes, e.g. 'Clipped: black 0.4 %, white 1.2 % · luma 3–96 %
    · mean R 41 G 38 B 30 %'."""
    r, g, b = (round(100 * v) for v in levels.mean_rgb)
    return (f"Clipped: black {100 * levels.black_clipped:.1f} %, "
            f"white {100 * levels.white_clipped:.1f} % · "
            f"luma {100 * levels.luma_low:.0f}–{100 * levels.luma_high:.0f} % · "
            f"mean R {r} G {g} B {b} %")


def pixel_readout(source_xy: tuple[int, int], before: np.ndarray, after: np.ndarray,
                  bit_depth: int) -> str:
    """The status bar's line for the pixel under the pointer: its position in source pixels
    and the scan's and the restored levels (RGB 0-1) as code values at `bit_depth` bits, e.g.
    'x 812 y 430 · R G B 412 398 376 → 455 440 420 (10-bit)'."""
    top = (1 << bit_depth) - 1

    def codes(rgb: np.ndarray) -> str:
        levels = np.clip(np.nan_to_num(rgb[:3], nan=0.0), 0.0, 1.0)  # as the Writer writes
        return " ".join(str(int(round(float(v) * top))) for v in levels)

    x, y = source_xy
    return f"x {x} y {y} · R G B {codes(before)} → {codes(after)} ({bit_depth}-bit)"


class ScopesPanel(QWidget):
    """Scope kind and source pickers, one or two `ScopeView`s, and the levels line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind_box = QComboBox()
        for kind in scopes.KINDS:
            self.kind_box.addItem(KIND_LABELS[kind], kind)
        self.kind_box.setToolTip("Scope: luma waveform, RGB parade, histogram or vectorscope")
        self.source_box = QComboBox()
        for source in SOURCES:
            self.source_box.addItem(SOURCE_LABELS[source], source)
        self.source_box.setToolTip("Which picture the scopes read: the scan (Before), the "
                                   "restored frame (After) or both side by side")
        self.before_view = ScopeView("Before")
        self.after_view = ScopeView("After")
        self.levels_label = QLabel("")
        self.levels_label.setObjectName("scopeLevels")
        self.levels_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        pickers = QHBoxLayout()
        pickers.addWidget(self.kind_box, 1)
        pickers.addWidget(self.source_box, 1)
        self._pickers = pickers
        views = QHBoxLayout()
        views.setSpacing(4)
        views.addWidget(self.before_view)
        views.addWidget(self.after_view)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(pickers)
        layout.addLayout(views, 1)
        layout.addWidget(self.levels_label)
        self._before: np.ndarray | None = None
        self._after: np.ndarray | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.refresh)
        self.kind_box.currentIndexChanged.connect(self.refresh)
        self.source_box.currentIndexChanged.connect(self.refresh)
        self.refreshes = 0  # scopes drawn so far (tests count them)
        self._active = False
        self._show_views()

    def add_toggle(self, action: QAction) -> QToolButton:
        """A button for `action` beside the pickers (the window's "Mark clipped levels")."""
        button = QToolButton()
        button.setDefaultAction(action)
        self._pickers.addWidget(button)
        return button

    @property
    def kind(self) -> str:
        return str(self.kind_box.currentData())

    def set_kind(self, kind: str) -> None:
        self.kind_box.setCurrentIndex(scopes.KINDS.index(kind))

    @property
    def source(self) -> str:
        return str(self.source_box.currentData())

    def set_source(self, source: str) -> None:
        self.source_box.setCurrentIndex(SOURCES.index(source))

    def set_frames(self, before: np.ndarray | None, after: np.ndarray | None,
                   before_label: str = "Before") -> None:
        """The pictures shown (float32 (H, W, 3) RGB 0-1) and the name of the first (the
        viewer's: 'Before', or its reference still): drawn on the next turn of the event
        loop while the scopes are on screen, else when they come on screen."""
        self._before, self._after = before, after
        self.before_view.caption = before_label
        if self._active:
            self._timer.start()

    @property
    def active(self) -> bool:
        """Whether the scopes are on screen (their dock shown and, when tabbed, in front)."""
        return self._active

    def set_active(self, on: bool) -> None:
        """Told by the dock: a dock tabbed behind another stays 'visible' to Qt, so the
        dock's `visibilityChanged` says when drawing is worth its time."""
        self._active = on
        if on:
            self._timer.start()
        else:
            self._timer.stop()

    def _show_views(self) -> None:
        self.before_view.setVisible(self.source in ("before", "both"))
        self.after_view.setVisible(self.source in ("after", "both"))

    def refresh(self) -> None:
        """Draw the scopes of the pictures set now."""
        self._timer.stop()
        self._show_views()
        kind = self.kind
        both = self.source == "both"
        texts = []
        for source, frame, view in (("before", self._before, self.before_view),
                                    ("after", self._after, self.after_view)):
            name = view.caption
            if not both and source != self.source:
                view.set_frame(None, kind)
                continue
            if frame is not None:
                # The few pixels the scopes read, gathered once for the trace and the numbers.
                frame = np.ascontiguousarray(scopes.thinned(frame), dtype=np.float32)
                text = levels_text(scopes.levels(frame))
                texts.append(f"{name}: {text}" if both else text)
            view.set_frame(frame, kind)
        self.levels_label.setText("\n".join(texts))
        self.refreshes += 1
