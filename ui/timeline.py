"""Timeline: ruler, thumbnail strip, shots, in/out marks and the playhead of one clip.

Horizontal geometry is one affine map: x = (frame − first_visible) × pixels_per_frame.
Ctrl+wheel zooms about the cursor, the wheel scrolls, a click or drag on the ruler or the
thumbnails seeks (`seek_requested`), a click on a shot emits `shot_clicked`. Shot edits are
requested, never made here (the window turns them into undoable commands): dragging the
boundary between two shots emits `boundary_moved`, the shot row's context menu
`split_requested` / `merge_requested`. Below the shots, the keyframes of the selected recipe
step are diamonds: dragging one emits `keyframe_moved`, its context menu deletes it or
changes how the value moves on from it. At the bottom, the levels graph (`set_levels`):
every frame's mean luma, scaled to the clip's own range, so flicker, fades and exposure
jumps show along the whole reel; a click there seeks. Thumbnails
are asked of the EngineBridge lazily, only for what is visible, at the lowest priority;
they sit on frames that are multiples of a power of two, so zooming reuses them.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QLineF, QPoint, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QFont,
    QHelpEvent,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPolygonF,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QMenu, QSizePolicy, QToolTip, QWidget

from engine.media.timecode import clip_timecode
from ui.compare_viewer import PROTECT_COLOUR, REPAIR_COLOUR

RULER_PX = 30
THUMB_PX = 40
SHOTS_PX = 18
KEYS_PX = 14
"""Height of the keyframe row under the shots (pixels)."""
LEVELS_PX = 26
AUDIO_PX = 22
"""Height of the audio waveform's row (pixels), shown for clips with sound."""
AUDIO_FLOOR_DB = -60.0
"""The quietest level the waveform shows (dBFS): its scale runs from here to 0 dBFS."""
"""Height of the levels graph under the keyframes (pixels)."""
BOUNDARY_GRAB_PX = 4
"""How close (pixels) to the line between two shots a press grabs it for dragging."""
KEY_GRAB_PX = 6
"""How close (pixels) to a keyframe diamond a press grabs it."""
INTERPOLATIONS: tuple[tuple[str, str], ...] = (
    ("linear", "Linear"), ("smooth", "Smooth"), ("hold", "Hold"))
"""How a keyed value moves on to the next key, with the menu labels."""
MAJOR_TICK_MIN_PX = 110
"""Least spacing of labelled ticks (pixels): room for a frame number and a timecode."""

_BG = QColor(28, 28, 31)
_RULER_BG = QColor(36, 36, 40)
_TICK = QColor(120, 120, 128)
_LABEL = QColor(190, 190, 196)
_SHOT_A = QColor(62, 84, 112)
_SHOT_B = QColor(82, 104, 92)
_SHOT_SELECTED = QColor(214, 160, 64)
_OUTSIDE = QColor(0, 0, 0, 120)
_MARK = QColor(240, 200, 80)
_PLAYHEAD = QColor(235, 64, 52)
_KEY = QColor(236, 196, 92)
_KEY_HOLD = QColor(160, 196, 236)
_KEY_ROW_BG = QColor(32, 32, 36)
_LEVELS = QColor(200, 200, 150)  # the levels graph: a pale trace, like the scopes'
_REPAIR = QColor(*REPAIR_COLOUR)  # the viewer's colours: magenta rebuilt, cyan protected
_PROTECT = QColor(*PROTECT_COLOUR)
_AUDIO = QColor(110, 170, 230)
_CACHED = QColor(90, 200, 110)
"""Green: frames kept restored for playback, as editing systems mark rendered frames."""
FLAG_HIT_PX = 4
"""How near (widget pixels) the pointer must be to a flagged frame's mark for its tooltip."""
_FLAGGED = QColor(255, 150, 30)
"""Orange: frames the frame check reports, to be looked at."""
_BOUNDARY = QColor(255, 255, 255)


def _tick_steps(fps: Fraction) -> list[int]:
    rate = max(1, round(fps))
    steps = {1, 2, 5, 10}
    steps.update(rate * k for k in (1, 2, 5, 10, 30, 60, 300, 600, 1800, 3600))
    return sorted(steps)


class Timeline(QWidget):
    """The clip's timeline (see module docstring).

    Signals: seek_requested(int frame), scrub_finished() (the mouse let go of the
    playhead), shot_clicked(int shot position),
    in_out_changed(object in_or_None, object out_or_None), view_changed(),
    boundary_moved(int shot position, int new first frame), split_requested(int frame),
    merge_requested(int shot position: merged with the next one),
    keyframe_moved(int from frame, int to frame), keyframe_delete_requested(int frame),
    keyframe_interpolation_requested(int frame, str interpolation).
    """

    seek_requested = Signal(int)
    scrub_finished = Signal()
    shot_clicked = Signal(int)
    in_out_changed = Signal(object, object)
    view_changed = Signal()
    boundary_moved = Signal(int, int)
    split_requested = Signal(int)
    merge_requested = Signal(int)
    keyframe_moved = Signal(int, int)
    keyframe_delete_requested = Signal(int)
    keyframe_interpolation_requested = Signal(int, str)

    def __init__(self, parent: QWidget | None = None, bridge: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("Timeline")
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._audio = None
        self._fit_rows()
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._count = 0
        self._fps = Fraction(24)
        self._tc_start: str | None = None
        self._aspect = 16 / 9
        self._shots: list[tuple[int, int]] = []
        self._playhead = 0
        self._in: int | None = None
        self._out: int | None = None
        self._ppf = 1.0  # pixels per frame
        self._first = 0.0  # frame at x = 0 (fractional)
        self._fit = True
        self._thumbs: dict[int, QImage] = {}
        self._requested: set[int] = set()
        self._bridge: Any = None
        self._dragging = False
        self._press_row = ""
        self._press_x = 0.0
        self._keys: list[tuple[int, str]] = []
        self._keys_label = ""
        self._repairs: list[tuple[int, int]] = []
        self._protections: list[tuple[int, int]] = []
        self._cached: list[tuple[int, int]] = []
        # Set by the Frame check dock for the reel shown; kept through set_clip, since the
        # dock says which reel's findings these are.
        self._flag_notes: dict[int, str] = {}  # flagged frame → what was found
        self._audio: np.ndarray | None = None
        self._audio_peak = 1e-6
        self._audio_row_cache: tuple[tuple[float, float, int, int], QImage] | None = None
        self._levels: np.ndarray | None = None
        self._levels_span: tuple[float, float] | None = None  # see levels_range
        self._grab = 0  # the shot whose start, or the key frame, a drag holds
        self._drag_to: int | None = None  # where that boundary or key would go now
        if bridge is not None:
            self.set_bridge(bridge)

    # -- model ---------------------------------------------------------------------------
    def set_bridge(self, bridge: Any) -> None:
        """Where thumbnails come from: an EngineBridge (or anything with
        `request_thumbnail(index, height_px)`, `cancel_thumbnails()` and a
        `thumbnail_ready(int, QImage)` signal)."""
        if self._bridge is bridge:
            return
        if self._bridge is not None:
            self._bridge.thumbnail_ready.disconnect(self._on_thumbnail)
        self._bridge = bridge
        if bridge is not None:
            bridge.thumbnail_ready.connect(self._on_thumbnail)
        self.update()

    def set_clip(self, frame_count: int, fps: Fraction, timecode_start: str | None = None) -> None:
        """A new clip: `frame_count` frames at `fps`; frame 0 at `timecode_start`."""
        self._count = max(0, int(frame_count))
        self._fps = Fraction(fps) if fps else Fraction(24)
        self._tc_start = timecode_start
        info = getattr(self._bridge, "info", None)
        if info is not None and getattr(info, "height", 0):
            self._aspect = info.width / info.height
        self._shots = [(0, self._count - 1)] if self._count else []
        self._playhead = 0
        self._in = self._out = None
        self._levels = None
        self._cached = []
        self._audio = None
        self._fit_rows()
        self._levels_span = None
        self._thumbs.clear()
        self._requested.clear()
        self.fit_all()

    def set_shots(self, shots: list[tuple[int, int]]) -> None:
        """Shots as (first, last) frame pairs, inclusive, in order."""
        self._shots = [(int(a), int(b)) for a, b in shots]
        self.update()

    @property
    def shots(self) -> list[tuple[int, int]]:
        return list(self._shots)

    def set_keyframes(self, keys: list[tuple[int, str]], label: str = "") -> None:
        """Keyframes to show as diamonds: (frame, interpolation) pairs; `label` names
        whose keys they are (the selected step), shown at the row's left."""
        keys = sorted((int(f), str(i)) for f, i in keys)
        if (keys, label) == (self._keys, self._keys_label):
            return  # called on every frame shown: repaint only for a change
        self._keys = keys
        self._keys_label = label
        self.update()

    @property
    def keyframes(self) -> list[tuple[int, str]]:
        return list(self._keys)

    def set_repairs(self, ranges: list[tuple[int, int]]) -> None:
        """Frames with a manual repair, as (first, last) inclusive pairs: marked under the
        thumbnails."""
        self._repairs = [(int(a), int(b)) for a, b in ranges]
        self.update()

    @property
    def repairs(self) -> list[tuple[int, int]]:
        """The repaired frame ranges marked (see `set_repairs`)."""
        return list(self._repairs)

    def set_protections(self, ranges: list[tuple[int, int]]) -> None:
        """Frames with a protection (picture the spot repairs leave as scanned), as (first,
        last) inclusive pairs: marked in cyan just above the repairs' magenta."""
        self._protections = [(int(a), int(b)) for a, b in ranges]
        self.update()

    @property
    def protections(self) -> list[tuple[int, int]]:
        """The protected frame ranges marked (see `set_protections`)."""
        return list(self._protections)

    def set_flagged(self, flagged: dict[int, str]) -> None:
        """Frames the frame check reports (repeated, flash, damaged, blank), each with what
        was found: orange marks along the thumbnails' top edge, the finding as their
        tooltip."""
        self._flag_notes = {int(f): text for f, text in flagged.items()}
        self.update()

    def flag_note_at(self, x: float) -> str | None:
        """The finding of the flagged frame within FLAG_HIT_PX of `x` (widget pixels), as
        its tooltip says it, else None."""
        near = [(abs(self.x_for_frame(f + 0.5) - x), f) for f in self._flag_notes]
        near = [(d, f) for d, f in near if d <= max(FLAG_HIT_PX, self._ppf / 2)]
        if not near:
            return None
        frame = min(near)[1]
        return f"frame {frame} ({self.timecode(frame)}): {self._flag_notes[frame]}"

    def event(self, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.ToolTip:
            assert isinstance(event, QHelpEvent)
            note = self.flag_note_at(event.pos().x())
            if note is None:
                QToolTip.hideText()
                event.ignore()
            else:
                QToolTip.showText(event.globalPos(), note, self)
            return True
        return super().event(event)

    @property
    def flagged(self) -> list[int]:
        """The frames marked as flagged by the frame check (see `set_flagged`)."""
        return sorted(self._flag_notes)

    def set_cached(self, ranges: list[tuple[int, int]]) -> None:
        """Frames kept restored for playback, as (first, last) inclusive pairs: a green
        line along the bottom of the ruler."""
        self._cached = [(int(a), int(b)) for a, b in ranges]
        self.update()

    @property
    def cached(self) -> list[tuple[int, int]]:
        """The frame ranges marked as kept for playback (see `set_cached`)."""
        return list(self._cached)

    def set_audio(self, peaks: np.ndarray | None) -> None:
        """Every frame's loudest sample (float, levels 0-1, one per frame; None: no sound,
        or not measured yet), drawn as a waveform row under the levels graph. Refused
        (ValueError) for another length."""
        if peaks is not None and len(peaks) != self._count:
            raise ValueError(f"{len(peaks)} audio peaks for a clip of {self._count} frames")
        self._audio = None if peaks is None else np.asarray(peaks, np.float32)
        # Once here, not on every paint: the clip's loudest sample, for the row's label.
        self._audio_peak = max(1e-6, float(self._audio.max())) if self._audio is not None \
            and len(self._audio) else 1e-6
        self._fit_rows()
        self.update()

    @property
    def audio(self) -> np.ndarray | None:
        """The audio waveform's data (see `set_audio`)."""
        return self._audio

    def _rows_height(self) -> int:
        """Pixels the rows take: the audio row only when there is sound to show."""
        audio = AUDIO_PX + 2 if self._audio is not None else 0
        return RULER_PX + THUMB_PX + SHOTS_PX + KEYS_PX + LEVELS_PX + audio

    def _fit_rows(self) -> None:
        self.setMinimumHeight(self._rows_height() + 8)
        self.updateGeometry()

    def set_levels(self, levels: np.ndarray | None) -> None:
        """Every frame's mean luma (float, levels 0-1, one per frame of the clip; None: not
        measured yet), drawn as the levels graph. Refused (ValueError) for another length."""
        if levels is not None and len(levels) != self._count:
            raise ValueError(f"{len(levels)} levels for a clip of {self._count} frames")
        self._levels = None if levels is None else np.asarray(levels, np.float32)
        self._levels_span = None
        if self._levels is not None and len(self._levels):
            # Once here, not on every paint: the playhead repaints the timeline as it moves.
            lo, hi = float(self._levels.min()), float(self._levels.max())
            if hi - lo < 0.02:
                mid = (lo + hi) / 2
                lo, hi = mid - 0.01, mid + 0.01
            self._levels_span = (lo, hi)
        self.update()

    @property
    def levels(self) -> np.ndarray | None:
        """The levels graph's data (see `set_levels`)."""
        return self._levels

    def levels_range(self) -> tuple[float, float] | None:
        """(low, high) levels the graph spans: the clip's lowest and highest mean luma, at
        least 2 % of full scale apart (a steady clip is drawn flat, mid-row)."""
        return self._levels_span

    def level_y(self, level: float | np.ndarray) -> float | np.ndarray:
        """Vertical position (pixels) of mean luma `level` (or an array of them) on the
        levels graph."""
        lo, hi = self._levels_span or (0.0, 1.0)
        top = self._levels_top() + 3
        span = LEVELS_PX - 6
        return top + span * (1.0 - (level - lo) / (hi - lo))

    def keys_row_y(self) -> int:
        """Vertical centre (pixels) of the keyframe row."""
        return self._keys_top() + KEYS_PX // 2

    def shots_row_y(self) -> int:
        """Vertical centre (pixels) of the shots row."""
        return RULER_PX + THUMB_PX + 2 + SHOTS_PX // 2

    @staticmethod
    def _keys_top() -> int:
        return RULER_PX + THUMB_PX + SHOTS_PX + 4

    @staticmethod
    def _levels_top() -> int:
        return RULER_PX + THUMB_PX + SHOTS_PX + KEYS_PX + 6

    @property
    def frame_count(self) -> int:
        return self._count

    @property
    def fps(self) -> Fraction:
        return self._fps

    @property
    def timecode_start(self) -> str | None:
        return self._tc_start

    def timecode(self, index: int) -> str:
        """Timecode of frame `index` of this clip."""
        return clip_timecode(index, self._fps, self._tc_start)

    def set_playhead(self, index: int) -> None:
        """Move the playhead (no signal); the view follows when it leaves the screen."""
        index = self._clamp(index)
        if index == self._playhead:
            return
        old_x = self.x_for_frame(self._playhead)
        self._playhead = index
        self._follow_playhead()
        x = self.x_for_frame(index)
        # Repaint the two playhead strips, and the shot row (the selection may change).
        self.update(QRect(int(old_x) - 2, 0, int(self._ppf) + 5, self.height()))
        self.update(QRect(int(x) - 2, 0, int(self._ppf) + 5, self.height()))
        self.update(QRect(0, RULER_PX + THUMB_PX, self.width(), SHOTS_PX + 4))

    @property
    def playhead(self) -> int:
        return self._playhead

    @property
    def scrubbing(self) -> bool:
        """True while the mouse drags the playhead."""
        return self._dragging and self._press_row == "scrub"

    @property
    def selected_shot(self) -> int | None:
        """Position of the shot under the playhead (the highlighted one)."""
        for pos, (a, b) in enumerate(self._shots):
            if a <= self._playhead <= b:
                return pos
        return None

    def set_in_out(self, in_: int | None, out: int | None) -> None:
        """In and out marks (frames, inclusive; None: unset); emits in_out_changed when
        they change."""
        in_ = None if in_ is None else self._clamp(in_)
        out = None if out is None else self._clamp(out)
        if (in_, out) == (self._in, self._out):
            return
        self._in, self._out = in_, out
        self.in_out_changed.emit(in_, out)
        self.update()

    @property
    def in_out(self) -> tuple[int | None, int | None]:
        return self._in, self._out

    # -- view ----------------------------------------------------------------------------
    @property
    def pixels_per_frame(self) -> float:
        return self._ppf

    @property
    def first_visible(self) -> float:
        return self._first

    def x_for_frame(self, index: float) -> float:
        """Left edge (pixels) of frame `index`."""
        return (index - self._first) * self._ppf

    def frame_at(self, x: float) -> int:
        """The frame under widget x (pixels), clamped to the clip."""
        return self._clamp(math.floor(x / self._ppf + self._first))

    def fit_all(self) -> None:
        """Show the whole clip."""
        self._fit = True
        self._apply_fit()
        self._view_moved()

    def zoom_by(self, factor: float, anchor_x: float | None = None) -> None:
        """Multiply the pixels per frame by `factor`, keeping the frame under `anchor_x`
        (default: the playhead) in place. Between fitting the clip and 64 px per frame."""
        if self._count == 0:
            return
        anchor = self.x_for_frame(self._playhead) if anchor_x is None else anchor_x
        frame = anchor / self._ppf + self._first
        fit = self._fit_ppf()
        ppf = min(64.0, max(fit, self._ppf * factor))
        self._fit = ppf <= fit
        self._ppf = ppf
        self._first = frame - anchor / ppf
        self._clamp_view()
        self._view_moved()

    def scroll_by(self, frames: float) -> None:
        self._first += frames
        self._clamp_view()
        self._view_moved()

    def thumbnails(self) -> dict[int, QImage]:
        """Thumbnails received so far, by frame index."""
        return dict(self._thumbs)

    def refresh_thumbnails(self) -> None:
        """Forget the thumbnails and ask for them again (they are now shown through another
        display LUT)."""
        if self._bridge is not None:
            self._bridge.cancel_thumbnails()
        self._thumbs.clear()
        self._requested.clear()
        self.update()

    def _fit_ppf(self) -> float:
        return max(1e-6, self.width() / max(1, self._count))

    def _apply_fit(self) -> None:
        self._ppf = self._fit_ppf()
        self._first = 0.0

    def _clamp_view(self) -> None:
        visible = self.width() / self._ppf
        self._first = min(max(0.0, self._first), max(0.0, self._count - visible))

    def _follow_playhead(self) -> None:
        x = self.x_for_frame(self._playhead)
        if 0 <= x <= self.width() - self._ppf:
            return
        visible = self.width() / self._ppf
        self._first = self._playhead - visible * 0.1  # page on, with some context behind
        self._clamp_view()
        self._view_moved()

    def _view_moved(self) -> None:
        if self._bridge is not None and self._requested - set(self._thumbs):
            # Requests for what scrolled away are not worth decoding any more.
            self._bridge.cancel_thumbnails()
            self._requested = set(self._thumbs)
        self.view_changed.emit()
        self.update()

    def _clamp(self, index: int) -> int:
        return min(max(0, int(index)), max(0, self._count - 1))

    # -- thumbnails ----------------------------------------------------------------------
    def _thumb_step(self) -> int:
        """Frames between thumbnails: a power of two ≥ one thumbnail width."""
        frames = THUMB_PX * self._aspect / self._ppf
        return 1 << max(0, math.ceil(math.log2(max(1.0, frames))))

    def visible_thumbnail_frames(self) -> list[int]:
        """Frames whose thumbnails the strip shows now."""
        if self._count == 0:
            return []
        step = self._thumb_step()
        lo = int(self._first // step) * step
        hi = min(self._count - 1, math.ceil(self._first + self.width() / self._ppf))
        return list(range(lo, hi + 1, step))

    def _request_thumbnails(self, frames: list[int]) -> None:
        bridge = self._bridge
        if bridge is None or not getattr(bridge, "is_open", False):
            return
        for index in frames:
            if index not in self._requested:
                self._requested.add(index)
                bridge.request_thumbnail(index, THUMB_PX)

    def _on_thumbnail(self, index: int, image: QImage) -> None:
        if not 0 <= index < self._count:
            return
        self._thumbs[index] = image
        self._requested.add(index)
        x = self.x_for_frame(index)
        self.update(QRect(int(x), RULER_PX, int(self._thumb_step() * self._ppf) + 2, THUMB_PX))

    # -- painting ------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        painter.fillRect(self.rect(), _BG)
        if self._count == 0:
            painter.setPen(_LABEL)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No clip")
            painter.end()
            return
        self._paint_ruler(painter)
        self._paint_thumbnails(painter)
        self._paint_shots(painter)
        self._paint_repairs(painter)
        self._paint_keys(painter)
        self._paint_levels(painter)
        self._paint_audio(painter)
        self._paint_in_out(painter)
        self._paint_playhead(painter)
        painter.end()

    def _paint_ruler(self, painter: QPainter) -> None:
        painter.fillRect(QRect(0, 0, self.width(), RULER_PX), _RULER_BG)
        steps = _tick_steps(self._fps)
        major = next((s for s in steps if s * self._ppf >= MAJOR_TICK_MIN_PX), steps[-1])
        minor = next((s for s in reversed(steps) if s < major and major % s == 0 and
                      s * self._ppf >= 6), None)
        lo = int(self._first)
        hi = min(self._count - 1, int(self._first + self.width() / self._ppf) + 1)
        painter.setPen(QPen(_TICK, 1))
        if minor:
            for f in range((lo // minor) * minor, hi + 1, minor):
                x = round(self.x_for_frame(f))
                painter.drawLine(x, RULER_PX - 5, x, RULER_PX - 1)
        font = QFont(painter.font())
        font.setPointSizeF(max(6.5, font.pointSizeF() * 0.8))
        painter.setFont(font)
        for f in range((lo // major) * major, hi + 1, major):
            x = round(self.x_for_frame(f))
            painter.setPen(QPen(_TICK, 1))
            painter.drawLine(x, 2, x, RULER_PX - 1)
            painter.setPen(_LABEL)
            box = QRect(x + 3, 1, MAJOR_TICK_MIN_PX - 6, RULER_PX - 2)
            painter.drawText(box, Qt.AlignmentFlag.AlignLeft, f"{f}\n{self.timecode(f)}")

    def _paint_thumbnails(self, painter: QPainter) -> None:
        frames = self.visible_thumbnail_frames()
        self._request_thumbnails(frames)
        step_px = self._thumb_step() * self._ppf
        for index in frames:
            x = self.x_for_frame(index)
            cell = QRectF(x, RULER_PX, step_px - 1, THUMB_PX)
            image = self._thumbs.get(index)
            if image is None:
                painter.fillRect(cell, QColor(44, 44, 48))
                continue
            w = image.width() * THUMB_PX / max(1, image.height())
            painter.save()
            painter.setClipRect(cell)
            painter.drawImage(QRectF(x, RULER_PX, w, THUMB_PX), image)
            painter.restore()

    def _paint_shots(self, painter: QPainter) -> None:
        top = RULER_PX + THUMB_PX + 2
        selected = self.selected_shot
        for pos, (a, b) in enumerate(self._shots):
            x0, x1 = self.x_for_frame(a), self.x_for_frame(b + 1)
            if x1 < 0 or x0 > self.width():
                continue
            colour = _SHOT_SELECTED if pos == selected else (_SHOT_A if pos % 2 == 0 else _SHOT_B)
            box = QRectF(x0, top, max(1.0, x1 - x0 - 1), SHOTS_PX)
            painter.fillRect(box, colour)
            if box.width() > 24:
                painter.setPen(QColor(20, 20, 20) if pos == selected else _LABEL)
                painter.drawText(box.adjusted(4, 0, -2, 0), Qt.AlignmentFlag.AlignVCenter,
                                 str(pos + 1))

    def _paint_repairs(self, painter: QPainter) -> None:
        """Repairs and protections as 3 px bars along the thumbnails' bottom edge, in two
        rows so a frame with both shows both; frames kept for playback along the ruler's
        bottom edge; frames the frame check flagged along the thumbnails' top edge."""
        bottom = RULER_PX + THUMB_PX - 3
        for ranges, top, colour in ((self._repairs, bottom, _REPAIR),
                                    (self._protections, bottom - 4, _PROTECT),
                                    (self._cached, RULER_PX - 3, _CACHED),
                                    ([(f, f) for f in self._flag_notes], RULER_PX, _FLAGGED)):
            for a, b in ranges:
                x0, x1 = self.x_for_frame(a), self.x_for_frame(b + 1)
                if x1 < 0 or x0 > self.width():
                    continue
                painter.fillRect(QRectF(x0, top, max(2.0, x1 - x0), 3), colour)

    def _paint_keys(self, painter: QPainter) -> None:
        top = self._keys_top()
        painter.fillRect(QRect(0, top, self.width(), KEYS_PX), _KEY_ROW_BG)
        if self._keys_label and not self._keys:
            painter.setPen(_TICK)
            painter.drawText(QRect(4, top, self.width() - 8, KEYS_PX),
                             Qt.AlignmentFlag.AlignVCenter, self._keys_label)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        y = top + KEYS_PX / 2
        r = KEYS_PX / 2 - 2
        for frame, interpolation in self._keys:
            if self._dragging and self._press_row == "key" and frame == self._grab:
                frame = self._drag_to if self._drag_to is not None else frame
            x = self._key_x(frame)
            if x < -r or x > self.width() + r:
                continue
            diamond = QPainterPath()
            diamond.moveTo(x, y - r)
            diamond.lineTo(x + r, y)
            diamond.lineTo(x, y + r)
            diamond.lineTo(x - r, y)
            diamond.closeSubpath()
            colour = _KEY_HOLD if interpolation == "hold" else _KEY
            painter.fillPath(diamond, colour)
            if interpolation == "smooth":
                painter.setPen(QPen(QColor(20, 20, 20), 1))
                painter.drawEllipse(QPointF(x, y), 1.5, 1.5)
        painter.restore()
        if self._dragging and self._press_row == "boundary" and self._drag_to is not None:
            x = self.x_for_frame(self._drag_to)
            painter.setPen(QPen(_BOUNDARY, 2))
            painter.drawLine(QPointF(x, RULER_PX), QPointF(x, top))

    def _paint_audio(self, painter: QPainter) -> None:
        """The audio row (see `_audio_row`), drawn once per view: the playhead moving
        repaints the timeline, and the envelope of a long reel costs milliseconds."""
        if self._audio is None:
            return
        key = (self._first, self._ppf, self.width(), id(self._audio))
        if self._audio_row_cache is None or self._audio_row_cache[0] != key:
            self._audio_row_cache = (key, self._audio_row())
        painter.drawImage(QPointF(0, self._levels_top() + LEVELS_PX + 2),
                          self._audio_row_cache[1])

    def _audio_row(self) -> QImage:
        """The loudest sample of each frame as an envelope mirrored about the row's middle,
        on a decibel scale from AUDIO_FLOOR_DB to full scale (quiet sound still shows its
        shape; the label gives the clip's peak); with several frames a pixel, the loudest
        of them (a click is never averaged away)."""
        peaks = self._audio
        assert peaks is not None
        image = QImage(max(1, self.width()), AUDIO_PX, QImage.Format.Format_RGB32)
        image.fill(_KEY_ROW_BG)
        lo_f = max(0, int(self._first))
        hi_f = min(self._count, int(self._first + self.width() / self._ppf) + 2)
        if hi_f <= lo_f:
            return image
        frames = np.arange(lo_f, hi_f)
        column = np.floor((frames + 0.5 - self._first) * self._ppf).astype(np.int64)
        starts = np.flatnonzero(np.r_[True, column[1:] != column[:-1]])
        xs = (column[starts] + 0.5).tolist()
        decibels = 20 * np.log10(np.maximum(np.maximum.reduceat(peaks[lo_f:hi_f], starts),
                                            1e-6))
        heights = (np.clip(1 - decibels / AUDIO_FLOOR_DB, 0, 1) * (AUDIO_PX - 4) / 2
                   + 0.5).tolist()
        mid = AUDIO_PX / 2
        outline = [QPointF(x, mid - h) for x, h in zip(xs, heights, strict=True)]
        outline += [QPointF(x, mid + h) for x, h in zip(reversed(xs), reversed(heights),
                                                       strict=True)]
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(_AUDIO, 1))
        painter.setBrush(QColor(_AUDIO.red(), _AUDIO.green(), _AUDIO.blue(), 150))
        painter.drawPolygon(QPolygonF(outline))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        _paint_row_label(painter, 0, f"audio {AUDIO_FLOOR_DB:.0f}–0 dBFS, peak "
                                     f"{20 * np.log10(self._audio_peak):.0f}")
        painter.end()
        return image

    def _paint_levels(self, painter: QPainter) -> None:
        top = self._levels_top()
        row = QRect(0, top, self.width(), LEVELS_PX)
        painter.fillRect(row, _KEY_ROW_BG)
        levels, span = self._levels, self.levels_range()
        if levels is None or span is None:
            painter.setPen(_TICK)
            painter.drawText(row.adjusted(4, 0, -4, 0), Qt.AlignmentFlag.AlignVCenter,
                             "Levels: measuring…")
            return
        lo_f = max(0, int(self._first))
        hi_f = min(self._count, int(self._first + self.width() / self._ppf) + 2)
        if hi_f <= lo_f:
            return
        painter.save()
        painter.setClipRect(row)
        painter.setPen(QPen(_LEVELS, 1))
        frames = np.arange(lo_f, hi_f)
        if self._ppf >= 1.0:
            # A line through each frame's level, at the middle of its span.
            xs = (frames + 0.5 - self._first) * self._ppf
            ys = self.level_y(levels[lo_f:hi_f])
            painter.drawPolyline(QPolygonF([QPointF(x, y) for x, y in
                                            zip(xs.tolist(), ys.tolist(), strict=True)]))
        else:
            # Several frames a pixel: each pixel column spans its frames' lowest to highest
            # level, so a one-frame flash or dip is never averaged away.
            column = np.floor((frames - self._first) * self._ppf).astype(np.int64)
            starts = np.flatnonzero(np.r_[True, column[1:] != column[:-1]])
            tops = self.level_y(np.maximum.reduceat(levels[lo_f:hi_f], starts))
            bottoms = self.level_y(np.minimum.reduceat(levels[lo_f:hi_f], starts)) + 0.5
            painter.drawLines([QLineF(x, a, x, b) for x, a, b in
                               zip((column[starts] + 0.5).tolist(), tops.tolist(),
                                   bottoms.tolist(), strict=True)])
        # The range the row spans, on a dark backing over the graph's start.
        _paint_row_label(painter, top, f"luma {100 * span[0]:.0f}–{100 * span[1]:.0f} %")
        painter.restore()

    def _paint_in_out(self, painter: QPainter) -> None:
        if self._in is None and self._out is None:
            return
        top, height = RULER_PX, self.height() - RULER_PX
        if self._in is not None:
            x = self.x_for_frame(self._in)
            painter.fillRect(QRectF(0, top, max(0.0, x), height), _OUTSIDE)
            painter.setPen(QPen(_MARK, 2))
            painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
            painter.drawLine(QPointF(x, 1), QPointF(x + 6, 1))
        if self._out is not None:
            x = self.x_for_frame(self._out + 1)
            painter.fillRect(QRectF(x, top, max(0.0, self.width() - x), height), _OUTSIDE)
            painter.setPen(QPen(_MARK, 2))
            painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
            painter.drawLine(QPointF(x - 6, 1), QPointF(x, 1))

    def _paint_playhead(self, painter: QPainter) -> None:
        x = self.x_for_frame(self._playhead) + self._ppf / 2
        painter.setPen(QPen(_PLAYHEAD, 2))
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))

    # -- input ---------------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt API)
        delta = event.angleDelta()
        notches = (delta.y() or delta.x()) / 120.0
        if notches == 0:
            return
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_by(1.25**notches, event.position().x())
        else:
            self.scroll_by(-notches * 0.1 * self.width() / self._ppf)
        event.accept()

    def _key_x(self, frame: int) -> float:
        return self.x_for_frame(frame) + self._ppf / 2

    def key_at(self, x: float) -> int | None:
        """Frame of the keyframe diamond nearest widget x, if one is within grabbing
        distance."""
        best: tuple[float, int] | None = None
        for frame, _interp in self._keys:
            distance = abs(self._key_x(frame) - x)
            if distance <= max(KEY_GRAB_PX, self._ppf / 2) and (best is None or distance < best[0]):
                best = (distance, frame)
        return None if best is None else best[1]

    def boundary_at(self, x: float) -> int | None:
        """Position of the shot whose first frame's edge is under widget x (never the
        first shot: the clip's start is not a boundary)."""
        for pos in range(1, len(self._shots)):
            if abs(self.x_for_frame(self._shots[pos][0]) - x) <= BOUNDARY_GRAB_PX:
                return pos
        return None

    def _row_at(self, y: float) -> str:
        if y < RULER_PX + THUMB_PX:
            return "scrub"
        if y < self._keys_top():
            return "shots"
        if y < self._levels_top():
            return "keys"
        return "scrub"  # the levels graph: a click seeks, as on the thumbnails

    def _boundary_target(self, x: float) -> int:
        """Where the held boundary would go for widget x: each neighbour keeps a frame."""
        pos = self._grab
        lo = self._shots[pos - 1][0] + 1
        hi = self._shots[pos][1]
        return min(hi, max(lo, round(x / self._ppf + self._first)))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.button() != Qt.MouseButton.LeftButton or self._count == 0:
            return super().mousePressEvent(event)
        pos = event.position()
        self._press_x = pos.x()
        self._press_row = self._row_at(pos.y())
        self._drag_to = None
        if self._press_row == "shots":
            boundary = self.boundary_at(pos.x())
            if boundary is not None:
                self._press_row, self._grab = "boundary", boundary
        elif self._press_row == "keys":
            key = self.key_at(pos.x())
            # A press beside the diamonds behaves like one on the shots row (select/seek).
            self._press_row, self._grab = ("key", key) if key is not None else ("shots", 0)
        self._dragging = True
        if self._press_row == "scrub":
            self.seek_requested.emit(self.frame_at(pos.x()))
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        x = event.position().x()
        if not self._dragging:
            near = (self._row_at(event.position().y()) == "shots"
                    and self.boundary_at(x) is not None)
            self.setCursor(Qt.CursorShape.SplitHCursor if near else Qt.CursorShape.ArrowCursor)
            return
        if self._press_row in ("boundary", "key"):
            if abs(x - self._press_x) >= 3 or self._drag_to is not None:
                self._drag_to = (self._boundary_target(x) if self._press_row == "boundary"
                                 else self.frame_at(x))
                self.update()
            event.accept()
            return
        if self._press_row == "shots" and abs(x - self._press_x) < 3:
            return  # still a click on a shot, not a scrub
        self._press_row = "scrub"
        self.seek_requested.emit(self.frame_at(x))
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.button() != Qt.MouseButton.LeftButton or not self._dragging:
            return super().mouseReleaseEvent(event)
        self._dragging = False
        target, self._drag_to = self._drag_to, None
        if self._press_row == "boundary":
            if target is not None and target != self._shots[self._grab][0]:
                self.boundary_moved.emit(self._grab, target)
            self.update()
        elif self._press_row == "key":
            if target is not None and target != self._grab:
                self.keyframe_moved.emit(self._grab, target)
            else:
                self.seek_requested.emit(self._grab)  # a click on a key goes to it
            self.update()
        elif self._press_row == "scrub":
            self.seek_requested.emit(self.frame_at(event.position().x()))  # where it ended
            self.scrub_finished.emit()
        elif self._press_row == "shots":
            frame = self.frame_at(event.position().x())
            for pos, (a, b) in enumerate(self._shots):
                if a <= frame <= b:
                    self.shot_clicked.emit(pos)
                    break
        event.accept()

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802 (Qt API)
        if self._count == 0:
            return
        pos = QPoint(event.pos())
        row = self._row_at(pos.y())
        menu: QMenu | None = None
        if row == "keys" and self.key_at(pos.x()) is not None:
            menu = self.keyframe_menu(self.key_at(pos.x()))  # type: ignore[arg-type]
        elif row in ("shots", "keys"):
            menu = self.shot_menu(self.frame_at(pos.x()))
        if menu is not None:
            menu.exec(event.globalPos())
            menu.deleteLater()
        event.accept()

    def keyframe_menu(self, frame: int) -> QMenu:
        """The context menu of the keyframe at `frame`: delete it, or pick how the value
        moves on from it."""
        menu = QMenu(self)
        current = dict(self._keys).get(frame, "linear")
        delete = menu.addAction(f"Delete key at frame {frame}")
        delete.triggered.connect(lambda _c=False: self.keyframe_delete_requested.emit(frame))
        menu.addSection("Towards the next key")
        for name, label in INTERPOLATIONS:
            action = menu.addAction(label)
            action.setCheckable(True)
            action.setChecked(name == current)
            action.triggered.connect(
                lambda _c=False, n=name: self.keyframe_interpolation_requested.emit(frame, n))
        return menu

    def shot_menu(self, frame: int) -> QMenu:
        """The shot row's context menu at `frame`: split there, merge with a neighbour."""
        menu = QMenu(self)
        pos = next((p for p, (a, b) in enumerate(self._shots) if a <= frame <= b), None)
        split = menu.addAction(f"Split shot at frame {frame}")
        split.setEnabled(pos is not None and self._shots[pos][0] < frame)
        split.triggered.connect(lambda _c=False: self.split_requested.emit(frame))
        if pos is not None:
            prev = menu.addAction("Merge with previous shot")
            prev.setEnabled(pos > 0)
            prev.triggered.connect(lambda _c=False: self.merge_requested.emit(pos - 1))
            nxt = menu.addAction("Merge with next shot")
            nxt.setEnabled(pos + 1 < len(self._shots))
            nxt.triggered.connect(lambda _c=False: self.merge_requested.emit(pos))
        return menu

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt API)
        if self._fit:
            self._apply_fit()
        else:
            self._ppf = max(self._ppf, self._fit_ppf())
            self._clamp_view()
        super().resizeEvent(event)
        self._view_moved()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(900, self._rows_height() + 10)


def _paint_row_label(painter: QPainter, top: int, text: str) -> None:
    """`text` small, on a dark backing, at the start of the row whose top is `top`."""
    font = QFont(painter.font())
    font.setPointSizeF(max(6.5, font.pointSizeF() * 0.8))
    painter.setFont(font)
    box = QRectF(2, top + 2, painter.fontMetrics().horizontalAdvance(text) + 8,
                 painter.fontMetrics().height())
    painter.fillRect(box, QColor(0, 0, 0, 170))
    painter.setPen(_LABEL)
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
