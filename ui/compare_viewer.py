"""CompareViewer: before/after of one frame, the way a grading tool shows it.

Modes:
- "side_by_side": Before | After in two panes sharing zoom and pan (what one pane shows,
  the other shows at the same place);
- "split": one picture, Before left of a draggable divider, After right of it;
- "toggle": A/B in one pane: After, or Before while the B key is held (or after a click);
- "difference": (After − Before) × gain around mid-grey: grey = unchanged.

A reference still (`set_reference`: a restored frame grabbed earlier, from another shot
say) can take the Before picture's place in the first three modes (`set_compare_reference`),
so a shot is matched to another by eye and on the scopes (`left_array`, `left_label`); the
difference stays After − Before.

With the repair or protect tool on (`set_region_tool(True)`), a left drag on either picture
draws a rectangle instead of panning and emits `region_drawn` with it in image pixels;
regions set with `set_regions` are outlined over the pictures: the manual repairs of the
frame (rebuilt: solid magenta) and its protections (left as scanned: dashed cyan). With
the tool on, a drag inside an outlined region moves it and a drag at one of its corners
resizes it (`region_edited`), and a click elsewhere emits `spot_clicked` (repair the spot
of dirt there).

Zoom is display pixels per image pixel (1.0 = 100 %). At integer zooms images are drawn
unsmoothed at integer offsets, so 100 % is pixel-exact; below 100 % a smoothed, cached copy
is drawn. Images are converted once per frame (`ui.image.to_qimage`, memoised per array and
usually done on the engine's worker already); painting does no numpy work.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from engine.lut import Lut
from ui.image import clipping_overlay, difference_image, mask_overlay, to_qimage

MODES: tuple[str, ...] = ("side_by_side", "split", "toggle", "difference")
"""Compare modes accepted by `CompareViewer.set_mode`."""

ZOOM_STEPS: tuple[float, ...] = (
    1 / 16, 1 / 8, 1 / 6, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0,
)
"""Wheel zoom ladder: it passes through 100 % and 200 % exactly (pixel-exact zooms)."""

DIFFERENCE_GAIN = 4.0
"""Amplification of the difference view (a change of 1/8 of full scale reaches white)."""

MASK_COLOUR = (255, 40, 200)
"""Magenta: a colour film damage and grading rarely produce, so the overlay stands out."""

BACKGROUND = QColor(24, 24, 26)
PANE_GAP_PX = 2
_TEXT = QColor(220, 220, 220)
_DIM = QColor(150, 150, 155)
_BUSY = QColor(240, 176, 64)
_ERROR = QColor(240, 90, 80)
_DIVIDER_GRAB_PX = 6
# A region's corner is grabbed within this many screen pixels (to resize it).
_HANDLE_PX = 6
_EDIT_CURSORS = {
    "move": Qt.CursorShape.SizeAllCursor,
    "tl": Qt.CursorShape.SizeFDiagCursor, "br": Qt.CursorShape.SizeFDiagCursor,
    "tr": Qt.CursorShape.SizeBDiagCursor, "bl": Qt.CursorShape.SizeBDiagCursor,
}
REPAIR_COLOUR = (255, 40, 200)
"""Magenta: manual repair regions (rebuilt from the neighbouring frames)."""

_REGION = QColor(*REPAIR_COLOUR)
_REGION_FILL = QColor(*REPAIR_COLOUR, 60)

PROTECT_COLOUR = (0, 210, 220)
"""Cyan: protections (picture left as scanned), the opposite of the magenta repairs."""

_PROTECT = QColor(*PROTECT_COLOUR)
_PROTECT_FILL = QColor(*PROTECT_COLOUR, 36)

FRAMING_SHADE = QColor(0, 0, 0, 150)
"""Darkens the picture an export's framing leaves out (about 60 %), as a monitor's
blanking would, while keeping it visible to judge the crop against."""
_FRAMING_LINE = QColor(250, 210, 80)


def _paint_tag(painter: QPainter, area: QRectF, side: Qt.AlignmentFlag, text: str,
               colour: QColor) -> None:
    """`text` in `colour` at the bottom `side` (left or right) of `area`, on a dark
    backing so that it reads on bright picture."""
    metrics = painter.fontMetrics()
    box = QRectF(0, 0, metrics.horizontalAdvance(text) + 8, metrics.height() + 2)
    box.moveBottom(area.bottom())
    if side == Qt.AlignmentFlag.AlignRight:
        box.moveRight(area.right())
    else:
        box.moveLeft(area.left())
    painter.fillRect(box, QColor(0, 0, 0, 170))
    painter.setPen(colour)
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


def on_picture(region: tuple[float, float, float, float], width: int, height: int,
               source: tuple[int, int]) -> QRectF:
    """A region (x, y, width, height) in `source` pixels as a rectangle on the picture
    shown (`width` × `height` pixels, the preview): the viewer's overlays' coordinates."""
    sx, sy = width / max(1, source[0]), height / max(1, source[1])
    x, y, w, h = region
    return QRectF(x * sx, y * sy, w * sx, h * sy)


def _resized(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`image` resized to `size` (height, width) pixels, bicubic, float32."""
    return cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_CUBIC)


class CompareViewer(QWidget):
    """Shows a frame before and after restoration (see module docstring).

    Signals: `zoom_changed(float)` (display pixels per image pixel), `mode_changed(str)`,
    `region_drawn(QRectF)` (repair tool: the rectangle drawn, in image pixels of the
    pictures shown, i.e. at the preview scale), `region_edited(str kind, int position,
    QRectF)` (a region of `set_regions` moved or resized: kind "repair" for `regions`,
    "protect" for `protected`, its position in that list, the new rectangle in image
    pixels), `spot_clicked(QPointF)` (a click with the tool on, off any outline: the image
    point, for a repair of the spot of dirt there), `frames_changed()` (other pictures are
    shown, or none: `before_array`/`after_array` changed), `pointer_moved(QPointF | None)`
    (the image point under the pointer, None when it is off the pictures).
    """

    zoom_changed = Signal(float)
    mode_changed = Signal(str)
    region_drawn = Signal(QRectF)
    region_edited = Signal(str, int, QRectF)
    spot_clicked = Signal(QPointF)
    frames_changed = Signal()
    pointer_moved = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("CompareViewer")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._mode = "side_by_side"
        self._fit = True
        self._zoom = 1.0
        self._center = QPointF(0.0, 0.0)  # image point (pixels) at the panes' centre
        self._split = 0.5  # divider position, fraction of the widget width
        self._showing_before = False
        self._mask_step: int | None = None
        self._busy = False
        self._draft = False
        self._message = ""
        self._index: int | None = None
        self._timecode = ""
        self._before_arr: np.ndarray | None = None
        self._after_arr: np.ndarray | None = None
        self._before: QImage | None = None
        self._after: QImage | None = None
        self._masks: dict[int, np.ndarray] = {}
        self._diff: QImage | None = None
        self._overlay: QImage | None = None
        self._overlay_step: int | None = None
        self._scaled: dict[tuple[int, float], QImage] = {}
        self._drag: str | None = None  # "pan" | "divider" | "region" | "edit"
        self._drag_origin = QPointF()
        self._drag_moved = False
        self._region_tool = False
        self._region_start = QPointF()  # image pixels
        self._region_end = QPointF()
        self._regions: list[QRectF | None] = []
        self._protected: list[QRectF | None] = []
        self._protect_tool = False  # the rectangle being drawn is a protection
        # The region being moved or resized: (kind, position, handle), its rectangle
        # before the drag and the image point the drag started at.
        self._edit: tuple[str, int, str] | None = None
        self._edit_from = QRectF()
        self._edit_origin = QPointF()
        self._show_clipping = False
        self._clipped: dict[str, QImage] = {}  # "before" / "after": the pictures marked
        self._reference_arr: np.ndarray | None = None  # as grabbed
        self._reference_label = ""
        self._compare_reference = False
        self._reference_shown: tuple[np.ndarray, QImage] | None = None  # at the After's size
        self._framing_box: QRectF | None = None  # image pixels of the pictures shown
        self._framing_label = ""
        self._display_lut: Lut | None = None  # the display LUT the pictures are shown through
        self._display_label = ""

    # -- content -----------------------------------------------------------------------
    def show_frames(
        self,
        before: np.ndarray,
        after: np.ndarray,
        index: int,
        timecode: str = "",
        masks: dict[int, np.ndarray] | None = None,
        draft: bool = False,
    ) -> None:
        """Show frame `index` (0-based): `before`/`after` float32 (H, W, 3) RGB levels 0-1,
        `masks` step position → float32 (H, W) mask 0-1. `draft`: a quick, softer preview
        that the final frame will replace (labelled as such on screen)."""
        first = self._before is None
        old_size = self._before.size() if self._before is not None else None
        size = after.shape[:2]
        if before.shape[:2] != size:
            # An upscaling recipe: the original is shown enlarged (bicubic) so both panes,
            # the wipe and the difference share one geometry, as a restorer compares them.
            before = _resized(before, size)
        masks = {k: m if m.shape[:2] == size else _resized(m, size)
                 for k, m in (masks or {}).items()}
        self._before_arr, self._after_arr = before, after
        self._masks = masks
        self._convert()
        self._index = int(index)
        self._timecode = timecode
        self._draft = draft
        self._message = ""
        if first or old_size != self._before.size():
            # A new clip or preview scale: keep the view on the same part of the picture.
            self._center = self._rescaled_center(old_size, self._before.size())
        self._prepare_mode_images()
        self.update()
        self.frames_changed.emit()

    def _convert(self) -> None:
        """The 8-bit pictures of the frames shown, through the display LUT; what is made
        from them is made again."""
        before, after = self._before_arr, self._after_arr
        if before is None or after is None:
            return
        self._before = to_qimage(before, self._display_lut)
        self._after = to_qimage(after, self._display_lut) if after is not before else self._before
        self._diff = None
        self._overlay = None
        self._overlay_step = None
        self._clipped.clear()
        self._scaled.clear()

    def set_display_lut(self, lut: Lut | None, label: str = "") -> None:
        """Show the pictures (and the reference still) through `lut`, a display transform
        (a Cineon log scan shown as video): only the 8-bit pictures change, never the
        frames, the difference picture or what is marked clipped. `label` names it beside
        the zoom at the viewer's bottom right; None shows the frames as they are."""
        if lut is self._display_lut and label == self._display_label:
            return
        self._display_lut, self._display_label = lut, label if lut is not None else ""
        self._reference_shown = None
        self._convert()
        self.update()
        self.frames_changed.emit()

    @property
    def display_lut(self) -> Lut | None:
        """The display LUT the pictures are shown through (None: as they are)."""
        return self._display_lut

    def clear(self) -> None:
        """Show nothing (no clip)."""
        self._before_arr = self._after_arr = None
        self._before = self._after = self._diff = self._overlay = None
        self._masks = {}
        self._index = None
        self._draft = False
        self._clipped.clear()
        self._scaled.clear()
        self.update()
        self.frames_changed.emit()

    def show_message(self, text: str) -> None:
        """Overlay a one-line message (e.g. the error of the last request); '' clears."""
        self._message = text
        self.update()

    def set_busy(self, busy: bool) -> None:
        """Show or hide the 'processing' indicator."""
        if busy != self._busy:
            self._busy = busy
            self.update()

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def showing_draft(self) -> bool:
        """Whether the frame on screen is a draft awaiting its final version."""
        return self._draft

    @property
    def shown_index(self) -> int | None:
        """Index of the frame on screen (None before the first frame)."""
        return self._index

    @property
    def timecode(self) -> str:
        return self._timecode

    def before_image(self) -> QImage | None:
        """The 8-bit image shown as 'before': the original frame, or the reference still
        while it is compared (the clipped pixels marked when that is on)."""
        if self._before is None:
            return None
        reference = self._reference() if self.comparing_reference else None
        if reference is not None:
            return self._marked("before", reference[1], reference[0])
        return self._marked("before", self._before, self._before_arr)

    def before_array(self) -> np.ndarray | None:
        """The original frame shown, float32 (H, W, 3) RGB levels 0-1, at the preview size
        (its pixels are the image pixels of `region_drawn` and `spot_clicked`)."""
        return self._before_arr

    def after_array(self) -> np.ndarray | None:
        """The restored frame shown, float32 (H, W, 3) RGB levels 0-1, at the preview size
        (without any mask overlay)."""
        return self._after_arr

    def after_image(self) -> QImage | None:
        """The 8-bit image shown as 'after' (with the mask overlay when one is shown, and
        the clipped pixels marked when that is on)."""
        overlay = self._overlay_image()
        image = overlay if overlay is not None else self._after
        if image is None:
            return None
        return self._marked("after", image, self._after_arr)

    def difference_image(self) -> QImage | None:
        """The difference picture of the current frame (computed on demand)."""
        if self._diff is None and self._before_arr is not None and self._after_arr is not None:
            if self._before_arr.shape == self._after_arr.shape:
                self._diff = difference_image(self._before_arr, self._after_arr, DIFFERENCE_GAIN)
        return self._diff

    # -- mode ----------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        """One of MODES; ValueError otherwise."""
        if mode not in MODES:
            raise ValueError(f"unknown compare mode '{mode}' (modes: {', '.join(MODES)})")
        if mode != self._mode:
            self._mode = mode
            self._showing_before = False
            self._prepare_mode_images()
            self.mode_changed.emit(mode)
            self.zoom_changed.emit(self.zoom)
            self.update()

    def set_mask_step(self, position: int | None) -> None:
        """Overlay the mask of the recipe step at `position` (None: no overlay)."""
        self._mask_step = position
        self._overlay = None
        self._overlay_step = None
        self.update()

    @property
    def mask_step(self) -> int | None:
        return self._mask_step

    def set_reference(self, frame: np.ndarray | None, label: str = "") -> None:
        """The reference still (float32 (H, W, 3) RGB 0-1; None: none), named `label` on
        screen (e.g. 'frame 120'). Shown at the After picture's size (bicubic)."""
        self._reference_arr = frame
        self._reference_label = label
        self._reference_shown = None
        self._left_changed()

    @property
    def reference_label(self) -> str:
        """The reference still's name ('' when there is none)."""
        return self._reference_label if self._reference_arr is not None else ""

    def set_compare_reference(self, on: bool) -> None:
        """Show the reference still in the Before picture's place (when there is one)."""
        if on != self._compare_reference:
            self._compare_reference = on
            self._left_changed()

    def _left_changed(self) -> None:
        """The Before place shows another picture: repaint, and tell the scopes."""
        self._clipped.pop("before", None)
        self.update()
        self.frames_changed.emit()

    @property
    def comparing_reference(self) -> bool:
        """Whether the reference still is shown in the Before picture's place."""
        return self._compare_reference and self._reference_arr is not None

    def _reference(self) -> tuple[np.ndarray, QImage] | None:
        """The reference still at the After picture's size, as an array and an image."""
        if self._reference_arr is None or self._after_arr is None:
            return None
        size = self._after_arr.shape[:2]
        if self._reference_shown is None or self._reference_shown[0].shape[:2] != size:
            frame = self._reference_arr
            if frame.shape[:2] != size:
                frame = _resized(frame, size)
            self._reference_shown = (frame, to_qimage(frame, self._display_lut))
        return self._reference_shown

    def reference_array(self) -> np.ndarray | None:
        """The reference still at the After picture's size (None when there is none)."""
        reference = self._reference()
        return reference[0] if reference is not None else None

    def left_array(self) -> np.ndarray | None:
        """The picture shown in the Before place: the reference still while it is compared,
        else the original frame (float32 (H, W, 3) RGB 0-1, preview size)."""
        reference = self._reference() if self.comparing_reference else None
        return reference[0] if reference is not None else self._before_arr

    @property
    def left_label(self) -> str:
        """What the Before place shows: 'Before', or 'Reference: <label>'."""
        if self.comparing_reference:
            return f"Reference: {self._reference_label}" if self._reference_label else "Reference"
        return "Before"

    def set_show_clipping(self, on: bool) -> None:
        """Mark the clipped pixels of both pictures: red where a channel reached full scale,
        blue where one reached black, as the scopes count them (`engine.scopes.clipped`)."""
        if on != self._show_clipping:
            self._show_clipping = on
            self._clipped.clear()
            self.update()

    @property
    def show_clipping(self) -> bool:
        return self._show_clipping

    def set_framing_guide(self, box: QRectF | None, label: str = "") -> None:
        """Show the part of the pictures an export keeps (`box`, in image pixels of the
        pictures shown): the rest is darkened and the edge drawn, with `label` (the output
        size) at its top; None shows no guide."""
        self._framing_box = QRectF(box) if box is not None else None
        self._framing_label = label
        self.update()

    @property
    def framing_guide(self) -> QRectF | None:
        """The framing guide shown (see `set_framing_guide`), or None."""
        return QRectF(self._framing_box) if self._framing_box is not None else None

    def _marked(self, which: str, image: QImage, frame: np.ndarray | None) -> QImage:
        """`image`, with its clipped pixels marked when that is on (memoised per frame)."""
        if not self._show_clipping or frame is None:
            return image
        marked = self._clipped.get(which)
        if marked is None:
            marked = clipping_overlay(image, frame)
            self._clipped[which] = marked
        return marked

    def set_showing_before(self, before: bool) -> None:
        """Toggle mode: show Before (True) or After (False)."""
        if before != self._showing_before:
            self._showing_before = before
            self.update()

    def toggle_ab(self) -> None:
        self.set_showing_before(not self._showing_before)

    @property
    def showing_before(self) -> bool:
        return self._showing_before

    def set_split(self, fraction: float) -> None:
        """Split mode: divider position as a fraction (0-1) of the width."""
        self._split = min(1.0, max(0.0, float(fraction)))
        self.update()

    @property
    def split(self) -> float:
        return self._split

    # -- repair regions ------------------------------------------------------------------
    def set_region_tool(self, on: bool, protect: bool = False) -> None:
        """Repair tool on: a left drag draws a region (`region_drawn`) instead of panning;
        with `protect` the rectangle being drawn looks like a protection."""
        self._region_tool = bool(on)
        self._protect_tool = bool(protect)
        self._drag = None
        self.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)
        self.update()

    @property
    def region_tool(self) -> bool:
        return self._region_tool

    def set_regions(self, regions: list[QRectF | None],
                    protected: Sequence[QRectF | None] = ()) -> None:
        """Outline these regions (image pixels of the pictures shown) over the pictures:
        `regions` rebuilt by manual repairs, `protected` left as scanned (drawn in another
        style). None stands for the whole frame. Empty lists show none."""
        self._regions = list(regions)
        self._protected = list(protected)
        self.update()

    @property
    def regions(self) -> list[QRectF | None]:
        """The repair regions outlined (see `set_regions`)."""
        return list(self._regions)

    @property
    def protected_regions(self) -> list[QRectF | None]:
        """The protected regions outlined (see `set_regions`)."""
        return list(self._protected)

    def _image_clamped(self, pos: QPointF) -> QPointF:
        point = self.image_point_at(pos)
        if self._before is None:
            return point
        return QPointF(min(max(0.0, point.x()), float(self._before.width())),
                       min(max(0.0, point.y()), float(self._before.height())))

    def _region_rect(self) -> QRectF:
        return QRectF(self._region_start, self._region_end).normalized()

    def _region_at(self, pos: QPointF) -> tuple[str, int, str] | None:
        """The outlined region under widget point `pos` and what a drag there does:
        (kind, position in its list, handle: "move" inside, or the corner "tl", "tr",
        "bl", "br" within _HANDLE_PX screen pixels of it). Repairs, drawn on top, first."""
        point = self.image_point_at(pos)
        reach = _HANDLE_PX / max(self.zoom, 1e-6)
        for kind in ("repair", "protect"):
            rects = self._outlines(kind)
            for position in reversed(range(len(rects))):
                rect = rects[position]
                if rect is None:
                    continue
                corners = {"tl": rect.topLeft(), "tr": rect.topRight(),
                           "bl": rect.bottomLeft(), "br": rect.bottomRight()}
                for handle, corner in corners.items():
                    if abs(point.x() - corner.x()) <= reach and \
                            abs(point.y() - corner.y()) <= reach:
                        return kind, position, handle
                if rect.contains(point):
                    return kind, position, "move"
        return None

    def _edited_rect(self, pos: QPointF) -> QRectF:
        """The region being edited as the drag at widget point `pos` leaves it, inside the
        picture."""
        assert self._edit is not None and self._before is not None
        handle = self._edit[2]
        rect = QRectF(self._edit_from)
        if handle == "move":
            delta = self.image_point_at(pos) - self._edit_origin
            w, h = float(self._before.width()), float(self._before.height())
            dx = min(max(delta.x(), -rect.left()), w - rect.right())
            dy = min(max(delta.y(), -rect.top()), h - rect.bottom())
            return rect.translated(dx, dy)
        point = self._image_clamped(pos)
        fixed = {"tl": rect.bottomRight(), "tr": rect.bottomLeft(),
                 "bl": rect.topRight(), "br": rect.topLeft()}[handle]
        return QRectF(fixed, point).normalized()

    def _outlines(self, kind: str) -> list[QRectF | None]:
        """The list of outlined regions of `kind` ("repair" or "protect")."""
        return self._regions if kind == "repair" else self._protected

    def _set_edited(self, rect: QRectF) -> None:
        assert self._edit is not None
        kind, position, _handle = self._edit
        self._outlines(kind)[position] = rect
        self.update()

    # -- zoom and pan --------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        """Display pixels per image pixel (1.0 = 100 %)."""
        if self._fit:
            return self._fit_zoom()
        return self._zoom

    @property
    def fitted(self) -> bool:
        return self._fit

    def fit(self) -> None:
        """Fit the whole picture in its pane, centred."""
        self._fit = True
        if self._before is not None:
            self._center = QPointF(self._before.width() / 2, self._before.height() / 2)
        self.zoom_changed.emit(self.zoom)
        self.update()

    def zoom_to(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to `zoom` display pixels per image pixel, keeping the image point under
        `anchor` (widget coordinates; default the pane centre) where it is."""
        zoom = min(ZOOM_STEPS[-1], max(ZOOM_STEPS[0], float(zoom)))
        old = self.zoom
        self._center = self._current_center()
        if anchor is not None:
            pane = self._pane_at(anchor)
            offset = anchor - QPointF(pane.center())
            point = self._center + offset / old
            self._center = point - offset / zoom
        self._fit = False
        self._zoom = zoom
        self._scaled.clear()
        self.zoom_changed.emit(zoom)
        self.update()

    def zoom_step(self, steps: int, anchor: QPointF | None = None) -> None:
        """Move `steps` rungs along ZOOM_STEPS (positive zooms in)."""
        current = self.zoom
        if steps > 0:
            larger = [z for z in ZOOM_STEPS if z > current * 1.001]
            target = larger[min(steps, len(larger)) - 1] if larger else ZOOM_STEPS[-1]
        elif steps < 0:
            smaller = [z for z in ZOOM_STEPS if z < current / 1.001]
            target = smaller[max(-len(smaller), steps)] if smaller else ZOOM_STEPS[0]
        else:
            return
        self.zoom_to(target, anchor)

    @property
    def center(self) -> QPointF:
        """Image point (pixels) shown at the centre of the panes."""
        return self._current_center()

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the picture by (dx, dy) display pixels (both panes together)."""
        zoom = self.zoom
        self._center = self._current_center()
        self._fit = False
        self._zoom = zoom
        self._center -= QPointF(dx, dy) / zoom
        self.update()

    def image_point_at(self, pos: QPointF) -> QPointF:
        """Image coordinates (pixels) under widget position `pos`."""
        pane = self._pane_at(pos)
        origin = self._origin(pane)
        return (pos - origin) / self.zoom

    def widget_point(self, image_point: QPointF, pane: int = -1) -> QPointF:
        """Widget position of `image_point` (image pixels) in pane `pane` (side by side: 0
        Before, 1 After; -1 the last): the inverse of `image_point_at`."""
        rect = self._panes()[pane]
        return self._origin(rect) + image_point * self.zoom

    # -- geometry ------------------------------------------------------------------------
    def _panes(self) -> list[QRect]:
        full = self.rect()
        if self._mode != "side_by_side":
            return [full]
        half = (full.width() - PANE_GAP_PX) // 2
        left = QRect(0, 0, half, full.height())
        right = QRect(full.width() - half, 0, half, full.height())
        return [left, right]

    def _pane_at(self, pos: QPointF) -> QRect:
        panes = self._panes()
        for pane in panes:
            if pos.x() < pane.right() + 1:
                return pane
        return panes[-1]

    def _fit_zoom(self) -> float:
        if self._before is None or self._before.isNull():
            return 1.0
        pane = self._panes()[0]
        w, h = self._before.width(), self._before.height()
        return max(1e-3, min(pane.width() / w, pane.height() / h))

    def _current_center(self) -> QPointF:
        if self._fit and self._before is not None:
            return QPointF(self._before.width() / 2, self._before.height() / 2)
        return QPointF(self._center)

    def _origin(self, pane: QRect) -> QPointF:
        """Widget position of image pixel (0, 0) in `pane`."""
        zoom = self.zoom
        center = self._current_center()
        origin = QPointF(pane.x() + pane.width() / 2, pane.y() + pane.height() / 2) - center * zoom
        if _is_integer(zoom) or zoom < 1.0:
            # Whole-pixel offsets: at integer zooms every image pixel covers exactly z×z
            # screen pixels (pixel-exact); below 100 % the cached scaled copy is drawn 1:1.
            origin = QPointF(math.floor(origin.x()), math.floor(origin.y()))
        return origin

    def _rescaled_center(self, old: QSize | None, new: QSize) -> QPointF:
        if old is None or old.width() == 0 or old.height() == 0:
            return QPointF(new.width() / 2, new.height() / 2)
        sx, sy = new.width() / old.width(), new.height() / old.height()
        if not self._fit:
            # Same picture at another preview scale: keep the on-screen size.
            self._zoom = min(ZOOM_STEPS[-1], max(ZOOM_STEPS[0], self._zoom / sx))
        return QPointF(self._center.x() * sx, self._center.y() * sy)

    # -- derived images ------------------------------------------------------------------
    def _prepare_mode_images(self) -> None:
        if self._mode == "difference":
            self.difference_image()

    def _overlay_image(self) -> QImage | None:
        step = self._mask_step
        if step is None or self._after is None:
            return None
        mask = self._masks.get(step)
        if mask is None:
            return None
        if self._overlay is None or self._overlay_step != step:
            self._overlay = mask_overlay(self._after, mask, MASK_COLOUR)
            self._overlay_step = step
        return self._overlay

    def _display(self, image: QImage, zoom: float) -> tuple[QImage, float]:
        """The image to draw and the remaining scale: below 100 % a smoothed copy, cached."""
        if zoom >= 1.0:
            return image, zoom
        key = (image.cacheKey(), round(zoom, 6))
        scaled = self._scaled.get(key)
        if scaled is None:
            size = QSize(max(1, round(image.width() * zoom)), max(1, round(image.height() * zoom)))
            scaled = image.scaled(
                size,
                Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            if len(self._scaled) > 8:
                self._scaled.clear()
            self._scaled[key] = scaled
        return scaled, 1.0

    # -- painting ------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)
        if self._before is None or self._after is None:
            painter.setPen(_DIM)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No frame")
            self._paint_message(painter)
            painter.end()
            return
        after = self.after_image() or self._after
        before = self.before_image() or self._before
        panes = self._panes()
        if self._mode == "side_by_side":
            self._paint_image(painter, panes[0], before)
            self._paint_image(painter, panes[1], after)
            self._paint_label(painter, panes[0], self.left_label)
            self._paint_label(painter, panes[1], "After")
        elif self._mode == "split":
            pane = panes[0]
            x = round(pane.width() * self._split)
            left = QRect(pane.x(), pane.y(), x, pane.height())
            right = QRect(pane.x() + x, pane.y(), pane.width() - x, pane.height())
            self._paint_image(painter, pane, before, clip=left)
            self._paint_image(painter, pane, after, clip=right)
            painter.setPen(QPen(QColor(235, 235, 235), 1))
            painter.drawLine(x, pane.top(), x, pane.bottom())
            painter.setBrush(QColor(235, 235, 235))
            mid = pane.center().y()
            painter.drawEllipse(QPointF(x, mid), 5, 5)
            self._paint_label(painter, left, self.left_label)
            self._paint_label(painter, right, "After")
        elif self._mode == "toggle":
            showing = self._showing_before
            self._paint_image(painter, panes[0], before if showing else after)
            self._paint_label(painter, panes[0],
                              f"A: {self.left_label}" if showing else "B: After")
        else:
            diff = self.difference_image()
            if diff is not None:
                self._paint_image(painter, panes[0], diff)
                self._paint_label(painter, panes[0], f"Difference ×{DIFFERENCE_GAIN:g}")
            else:
                painter.setPen(_DIM)
                painter.drawText(panes[0], Qt.AlignmentFlag.AlignCenter, "Sizes differ")
        self._paint_framing(painter, panes)
        self._paint_regions(painter, panes)
        self._paint_hud(painter)
        painter.end()

    def _paint_image(
        self, painter: QPainter, pane: QRect, image: QImage, clip: QRect | None = None
    ) -> None:
        zoom = self.zoom
        origin = self._origin(pane)
        drawn, rest = self._display(image, zoom)
        painter.save()
        painter.setClipRect(clip if clip is not None else pane)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, not _is_integer(rest))
        if rest == 1.0:
            painter.drawImage(origin, drawn)
        else:
            painter.translate(origin)
            painter.scale(rest, rest)
            painter.drawImage(QPointF(0, 0), drawn)
        painter.restore()

    def _on_panes(self, painter: QPainter, panes: list[QRect]
                  ) -> Iterator[tuple[QRect, Callable[[QRectF], QRectF]]]:
        """Each pane, clipped on `painter`, with the map of a rectangle in image pixels to
        the widget's, for drawing over the pictures."""
        zoom = self.zoom
        for pane in panes:
            origin = self._origin(pane)
            painter.setClipRect(pane)
            yield pane, lambda r, o=origin: QRectF(o + r.topLeft() * zoom, r.size() * zoom)

    def _paint_framing(self, painter: QPainter, panes: list[QRect]) -> None:
        box = self._framing_box
        if box is None or self._before is None:
            return
        frame = QRectF(0, 0, self._before.width(), self._before.height())
        painter.save()
        for pane, on_screen in self._on_panes(painter, panes):
            picture, kept = on_screen(frame), on_screen(box)
            # The four bands of the picture outside the kept box.
            for band in (QRectF(picture.left(), picture.top(), picture.width(),
                                kept.top() - picture.top()),
                         QRectF(picture.left(), kept.bottom(), picture.width(),
                                picture.bottom() - kept.bottom()),
                         QRectF(picture.left(), kept.top(), kept.left() - picture.left(),
                                kept.height()),
                         QRectF(kept.right(), kept.top(), picture.right() - kept.right(),
                                kept.height())):
                if band.width() > 0 and band.height() > 0:
                    painter.fillRect(band, FRAMING_SHADE)
            painter.setPen(QPen(_FRAMING_LINE, 1))
            painter.drawRect(kept)
            if self._framing_label:
                top = kept.intersected(QRectF(pane)).adjusted(6, 4, -6, 0)
                metrics = painter.fontMetrics()
                tag = QRectF(top.left(), top.top(), top.width(), metrics.height() + 2)
                _paint_tag(painter, tag, Qt.AlignmentFlag.AlignRight, self._framing_label,
                           _FRAMING_LINE)
        painter.restore()

    def _paint_regions(self, painter: QPainter, panes: list[QRect]) -> None:
        drawing = self._drag == "region" and self._drag_moved
        if not self._regions and not self._protected and not drawing or self._before is None:
            return
        frame = QRectF(0, 0, self._before.width(), self._before.height())
        painter.save()
        for pane, on_screen in self._on_panes(painter, panes):
            # Labels of whole frames go on the part in view (the frame may be larger than
            # the pane), above the HUD's bottom line: rebuilt at the left, protected at the
            # right, so a frame with both shows both.
            in_view = on_screen(frame).intersected(QRectF(pane)).adjusted(6, 4, -6, -22)
            # Protections first: a repair drawn inside one stays visible on top of it.
            for region in self._protected:
                box = on_screen(frame if region is None else region)
                painter.fillRect(box, _PROTECT_FILL)
                # Dashed as well as another colour, so the two kinds differ without colour;
                # a whole frame's outline inset, so that a whole-frame repair's leaves it
                # visible.
                painter.setPen(QPen(_PROTECT, 2, Qt.PenStyle.DashLine))
                painter.drawRect(box.adjusted(3, 3, -3, -3) if region is None else box)
                if region is None:
                    _paint_tag(painter, in_view, Qt.AlignmentFlag.AlignRight,
                               "whole frame protected", _PROTECT)
            for region in self._regions:
                box = on_screen(frame if region is None else region)
                painter.fillRect(box, _REGION_FILL)
                painter.setPen(QPen(_REGION, 2 if region is None else 1))
                painter.drawRect(box)
                if region is None:
                    _paint_tag(painter, in_view, Qt.AlignmentFlag.AlignLeft,
                               "whole frame rebuilt", _REGION)
            if drawing:
                colour = _PROTECT if self._protect_tool else _REGION
                painter.setPen(QPen(colour, 1, Qt.PenStyle.DashLine))
                painter.drawRect(on_screen(self._region_rect()))
        painter.restore()

    def _hud_head(self) -> str:
        """The frame number and timecode written at the viewer's top left."""
        head = f"frame {self._index}"
        return head + f"   {self._timecode}" if self._timecode else head

    def _hud_view(self) -> str:
        """How the pictures are shown, written at the viewer's bottom right: the display
        LUT, if any, and the zoom."""
        zoom = f"{self.zoom * 100:.0f}%" + (" (fit)" if self._fit else "")
        return f"view: {self._display_label}   {zoom}" if self._display_label else zoom

    def _paint_label(self, painter: QPainter, pane: QRect, text: str) -> None:
        painter.save()
        painter.setFont(_small_font(painter.font()))
        painter.setPen(_DIM)
        area = pane.adjusted(8, 6, -8, -6)
        room = area.width()
        if pane.left() <= 0:  # the first pane shares its top line with the frame number
            room -= painter.fontMetrics().horizontalAdvance(self._hud_head()) + 16
        text = painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, max(room, 0))
        painter.drawText(area, Qt.AlignmentFlag.AlignRight, text)
        painter.restore()

    def _paint_hud(self, painter: QPainter) -> None:
        painter.save()
        painter.setFont(_small_font(painter.font()))
        area = self.rect().adjusted(8, 6, -8, -6)
        painter.setPen(_TEXT)
        painter.drawText(area, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                         self._hud_head())
        painter.setPen(_DIM)
        bottom = Qt.AlignmentFlag.AlignBottom
        painter.drawText(area, Qt.AlignmentFlag.AlignRight | bottom, self._hud_view())
        if self._mask_step is not None and self._mask_step not in self._masks:
            painter.drawText(
                area, Qt.AlignmentFlag.AlignHCenter | bottom, f"no mask from step {self._mask_step + 1}"
            )
        if self._busy:
            painter.setPen(_BUSY)
            text = "● draft shown, refining…" if self._draft else "● processing…"
            painter.drawText(area, Qt.AlignmentFlag.AlignLeft | bottom, text)
        painter.restore()
        self._paint_message(painter)

    def _paint_message(self, painter: QPainter) -> None:
        if not self._message:
            return
        painter.save()
        metrics = painter.fontMetrics()
        text = metrics.elidedText(self._message, Qt.TextElideMode.ElideMiddle, self.width() - 40)
        box = QRectF(0, 0, metrics.horizontalAdvance(text) + 24, metrics.height() + 12)
        box.moveCenter(QPointF(self.rect().center()))
        painter.fillRect(box, QColor(40, 20, 20, 220))
        painter.setPen(_ERROR)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    # -- input ---------------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt API)
        notches = event.angleDelta().y() / 120.0
        if notches == 0:
            return
        steps = int(math.copysign(max(1, round(abs(notches))), notches))
        self.zoom_step(steps, event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        pos = event.position()
        self._drag_origin = pos
        self._drag_moved = False
        divider_x = self.width() * self._split
        hit = self._region_at(pos) if self._region_tool and self._before is not None else None
        if hit is not None:
            self._drag = "edit"
            self._edit = hit
            kind, position, _handle = hit
            rect = self._outlines(kind)[position]
            assert rect is not None
            self._edit_from = QRectF(rect)
            self._edit_origin = self.image_point_at(pos)
        elif self._region_tool and self._before is not None:
            self._drag = "region"
            self._region_start = self._region_end = self._image_clamped(pos)
        elif self._mode == "split" and abs(pos.x() - divider_x) <= _DIVIDER_GRAB_PX:
            self._drag = "divider"
        else:
            self._drag = "pan"
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        event.accept()

    def _emit_pointer(self, pos: QPointF | None) -> None:
        point = None
        if pos is not None and self._before is not None:
            p = self.image_point_at(pos)
            if 0 <= p.x() < self._before.width() and 0 <= p.y() < self._before.height():
                point = p
        self.pointer_moved.emit(point)

    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().leaveEvent(event)
        self._emit_pointer(None)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        pos = event.position()
        self._emit_pointer(pos)
        if self._drag is None:
            if self._region_tool:
                hit = self._region_at(pos)
                self.setCursor(Qt.CursorShape.CrossCursor if hit is None
                               else _EDIT_CURSORS[hit[2]])
                return
            near = self._mode == "split" and abs(pos.x() - self.width() * self._split) <= 6
            self.setCursor(Qt.CursorShape.SplitHCursor if near else Qt.CursorShape.ArrowCursor)
            return
        delta = pos - self._drag_origin
        if abs(delta.x()) + abs(delta.y()) >= 2:
            self._drag_moved = True
        if self._drag == "region":
            self._region_end = self._image_clamped(pos)
            self.update()
        elif self._drag == "edit":
            if self._drag_moved:
                self._set_edited(self._edited_rect(pos))
        elif self._drag == "divider":
            self.set_split(pos.x() / max(1, self.width()))
        elif self._drag_moved:
            self.pan_by(delta.x(), delta.y())
            self._drag_origin = pos
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mouseReleaseEvent(event)
        if self._drag == "pan" and not self._drag_moved and self._mode == "toggle":
            self.toggle_ab()  # a click flips A/B
        if self._drag == "edit":
            assert self._edit is not None
            kind, position, _handle = self._edit
            rect = self._edited_rect(event.position()) if self._drag_moved else self._edit_from
            changed = rect.width() > 0 and rect.height() > 0 and rect != self._edit_from
            # A click, or a region squashed to nothing, leaves it as it was.
            self._set_edited(rect if changed else self._edit_from)
            self._drag, self._edit = None, None
            if changed:
                self.region_edited.emit(kind, position, rect)
            event.accept()
            return
        if self._drag == "region":
            self._region_end = self._image_clamped(event.position())
            rect = self._region_rect()
            self._drag = None
            self.update()
            if self._drag_moved and rect.width() > 0 and rect.height() > 0:
                self.region_drawn.emit(rect)
            elif not self._drag_moved:
                self.spot_clicked.emit(self._region_start)
            event.accept()
            return
        self._drag = None
        self.setCursor(Qt.CursorShape.ArrowCursor)
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        # Double-click alternates fit and 100 %, the two views a restorer checks most.
        if self._fit:
            self.zoom_to(1.0, event.position())
        else:
            self.fit()
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        if event.key() == Qt.Key.Key_B and self._mode == "toggle":
            if not event.isAutoRepeat():
                self.set_showing_before(True)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        if event.key() == Qt.Key.Key_B and self._mode == "toggle":
            if not event.isAutoRepeat():
                self.set_showing_before(False)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt API)
        self._scaled.clear()
        if self._fit:
            self.zoom_changed.emit(self.zoom)
        super().resizeEvent(event)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(960, 540)


def _is_integer(value: float) -> bool:
    return abs(value - round(value)) < 1e-9


def _small_font(base: QFont) -> QFont:
    font = QFont(base)
    font.setPointSizeF(max(7.0, base.pointSizeF() * 0.9))
    return font
