"""Manual repair and protection: regions drawn on the viewer, whole frames, and their list.

`RepairTool` turns a rectangle drawn on the viewer (image pixels at the preview scale) into
a `Repair` in source pixels for the frame shown, or for the in/out range when both marks
are set, as one undoable edit; "Mark frame destroyed" adds a whole-frame repair. In protect
mode (`protecting`) the rectangle becomes a protection instead (a `Repair` with
`protect=True`: picture the dust and scratch repairs must leave as scanned) over the in/out
range or, without marks, the whole shot shown (water or fire lasts the shot, where damage
is a frame's), and "Protect frame" protects whole frames. A click with the repair tool
repairs the spot of dirt under it (a box around what stands out there). Dragging an
outlined region (inside: move; at a corner: resize) with either tool on changes it on all
its frames. "Track" makes a region follow the picture through its frames (a pan over
water), from where it lies on the frame shown, on a worker thread
(ui.document.RegionTracker). It also feeds the viewer the outlines of the repairs and
protections of the frame shown when the "Manual repairs" overlay is on. `RepairList` lists
both kinds (double-click goes to one, Remove deletes the selected ones, undoably).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.errors import NitrateError
from engine.ops.region import spot_region
from engine.project.model import Repair
from ui.compare_viewer import PROTECT_COLOUR, REPAIR_COLOUR, CompareViewer, on_picture
from ui.document import Document, RegionTracker


def source_region(rect: QRectF, shown: tuple[int, int],
                  source: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """A rectangle drawn on a picture `shown` (width, height pixels, the preview) as a
    region (x, y, width, height) in `source` pixels: scaled, grown outwards to whole pixels
    (a repair must cover all of what was marked) and clipped to the frame. None when
    nothing of it lies on the frame."""
    sx = source[0] / max(1, shown[0])
    sy = source[1] / max(1, shown[1])
    x0 = max(0, math.floor(rect.left() * sx))
    y0 = max(0, math.floor(rect.top() * sy))
    x1 = min(source[0], math.ceil(rect.right() * sx))
    y1 = min(source[1], math.ceil(rect.bottom() * sy))
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1 - x0, y1 - y0


def _frames_text(start: int, end: int) -> str:
    return f"frame {start}" if start == end else f"frames {start}-{end}"


def _count_text(repairs: list[Repair]) -> str:
    """'3 repairs', '1 protection', '2 repairs and 1 protection'."""
    parts = []
    for kind in ("repair", "protection"):
        n = sum(1 for r in repairs if r.kind == kind)
        if n:
            parts.append(f"{n} {kind}" + ("s" if n > 1 else ""))
    return " and ".join(parts)


class RepairTool(QObject):
    """Adds and removes manual repairs and protections (see module docstring).

    frame_provider:   the frame shown (0-based).
    in_out_provider:  the in and out marks (None when unset).
    source_size:      the clip's source (width, height) in pixels, or None before it opened.
    Signals: message(str) a one-line notice or error for the status bar;
    tracking_changed(bool) a track started (True) or ended.
    """

    message = Signal(str)
    tracking_changed = Signal(bool)

    def __init__(self, document: Document, viewer: CompareViewer,
                 frame_provider: Callable[[], int],
                 in_out_provider: Callable[[], tuple[int | None, int | None]],
                 source_size: Callable[[], tuple[int, int] | None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.viewer = viewer
        self.frame_provider = frame_provider
        self.in_out_provider = in_out_provider
        self.source_size = source_size
        self._overlay = False
        self._protecting = False
        self._tracking = False
        self.tracker = RegionTracker(self)
        self.tracker.finished.connect(self._tracked)
        self.tracker.progress.connect(self._tracking_progress)
        # A track of another project's region has nowhere to go.
        document.project_replaced.connect(lambda: self.cancel_tracking(say=""))
        viewer.region_drawn.connect(self.add_region)
        viewer.region_edited.connect(self.edit_region)
        viewer.spot_clicked.connect(self.repair_spot)
        # The clip-list index of each region outlined, by kind, in the viewer's order.
        self._outlined: dict[str, list[int]] = {"repair": [], "protect": []}
        document.repairs_changed.connect(lambda _c: self.refresh_overlay())
        document.project_replaced.connect(self.refresh_overlay)

    @property
    def protecting(self) -> bool:
        """Protect mode: a rectangle drawn on the viewer protects instead of repairing."""
        return self._protecting

    @protecting.setter
    def protecting(self, on: bool) -> None:
        self._protecting = bool(on)

    def _marked(self) -> tuple[int, int] | None:
        """The in/out range, when both marks are set (in order)."""
        in_, out = self.in_out_provider()
        if in_ is not None and out is not None and in_ <= out:
            return in_, out
        return None

    def frames(self) -> tuple[int, int]:
        """Frames a new repair or protection covers: the in/out range when both marks are
        set, otherwise the frame shown."""
        frame = self.frame_provider()
        return self._marked() or (frame, frame)

    def protected_frames(self) -> tuple[int, int]:
        """Frames a protected region covers: the in/out range when both marks are set,
        otherwise the shot of the frame shown (what is protected is picture, which lasts
        the shot)."""
        marked = self._marked()
        if marked is not None:
            return marked
        frame = self.frame_provider()
        for shot in self.document.shots():
            if shot.start <= frame <= shot.end:
                return shot.start, shot.end
        return frame, frame

    def add_region(self, rect: QRectF) -> None:
        """Repair `rect` (image pixels of the picture shown) on `frames()`, or protect it
        when `protecting`."""
        shown = self.viewer.before_image()
        size = self.source_size()
        if shown is None or size is None:
            kind = "protection" if self._protecting else "repair"
            self.message.emit(f"Open a clip before marking a {kind}")
            return
        region = source_region(rect, (shown.width(), shown.height()), size)
        if region is None:
            self.message.emit("The region lies outside the picture")
            return
        start, end = self.protected_frames() if self._protecting else self.frames()
        verb = "Protect" if self._protecting else "Repair"
        self._add(Repair(start, end, region, protect=self._protecting),
                  f"{verb} region {region[2]}×{region[3]} px")

    def repair_spot(self, point: QPointF) -> None:
        """Repair the spot of dirt clicked at `point` (image pixels of the picture shown):
        a region around what stands out there (engine.ops.region.spot_region), on
        `frames()`. Protections are areas, so a click in protect mode does nothing."""
        if self._protecting:
            self.message.emit("Drag a rectangle over the picture to protect")
            return
        shown = self.viewer.before_array()
        if shown is None:
            return
        box = spot_region(shown, point.x(), point.y())
        if box is None:
            self.message.emit(f"No spot of dirt stands out at {point.x():.0f},{point.y():.0f}: "
                              "drag a rectangle over the damage instead")
            return
        self.add_region(QRectF(*box))

    def mark_destroyed(self) -> None:
        """Rebuild the whole of `frames()` from the neighbouring frames."""
        if not self.document.is_open:
            return
        start, end = self.frames()
        self._add(Repair(start, end, None), f"Mark {_frames_text(start, end)} destroyed")

    def protect_frames(self) -> None:
        """Protect the whole of `frames()` from the dust and scratch repairs (a flash, a
        shot full of rain)."""
        if not self.document.is_open:
            return
        start, end = self.frames()
        self._add(Repair(start, end, None, protect=True),
                  f"Protect {_frames_text(start, end)}")

    def _add(self, repair: Repair, text: str) -> None:
        try:
            self.document.edit_repairs([*self.document.repairs(), repair], text)
        except (NitrateError, ValueError) as exc:
            self.message.emit(str(exc))
            return
        self.message.emit(f"Added {repair.kind}: {repair.describe()}")

    def remove(self, indices: list[int]) -> None:
        """Delete the repairs and protections at `indices` of the clip's list (one undo
        step)."""
        repairs = self.document.repairs()
        doomed = sorted({i for i in indices if 0 <= i < len(repairs)})
        if not doomed:
            return
        kept = [r for i, r in enumerate(repairs) if i not in doomed]
        if len(doomed) == 1:
            one = repairs[doomed[0]]
            text = f"Remove {one.kind} ({one.describe()})"
        else:
            text = "Remove " + _count_text([repairs[i] for i in doomed])
        self.document.edit_repairs(kept, text)

    def set_note(self, index: int, note: str) -> None:
        """Give the repair or protection at `index` of the clip's list the restorer's
        `note` (why; printed in the processing report), as one undo step."""
        repairs = self.document.repairs()
        if not 0 <= index < len(repairs) or repairs[index].note == note.strip():
            return
        old = repairs[index]
        repairs[index] = dataclasses.replace(old, note=note.strip())
        self.document.edit_repairs(repairs, f"Note on {old.kind} ({old.describe()})")

    def edit_region(self, kind: str, position: int, rect: QRectF) -> None:
        """The outlined region `position` of `kind` ("repair" or "protect", the viewer's
        lists) was moved or resized to `rect` (image pixels of the picture shown) on the
        frame shown: one undo step. The region changes on all its frames; a tracked one
        keeps following the picture from its new place."""
        outlined = self._outlined.get(kind, [])
        repairs = self.document.repairs()
        shown = self.viewer.before_image()
        size = self.source_size()
        index = self.viewer.shown_index
        if not 0 <= position < len(outlined) or shown is None or size is None or index is None:
            return
        old = repairs[outlined[position]]
        before = old.region_at(index)
        if before is None:
            return
        was = on_picture(before, shown.width(), shown.height(), size)
        if abs(rect.width() - was.width()) < 1e-6 and abs(rect.height() - was.height()) < 1e-6:
            # Moved: the region keeps its size exactly (scaling the rectangle back would
            # round it outwards, a pixel larger at each move).
            kx, ky = size[0] / shown.width(), size[1] / shown.height()
            x, y, w, h = before
            region: tuple[int, int, int, int] | None = (
                max(0, x + round((rect.x() - was.x()) * kx)),
                max(0, y + round((rect.y() - was.y()) * ky)), w, h)
        else:
            region = source_region(rect, (shown.width(), shown.height()), size)
        if region is None:
            self.refresh_overlay()
            return
        track = old.track
        if track:
            # The region is where it now lies on the frame shown; the track, rebased
            # there, moves it as before.
            dx, dy = track[index - old.start]
            track = tuple((x - dx, y - dy) for x, y in track)
        new = dataclasses.replace(old, region=region, track=track)
        if new == old:
            self.refresh_overlay()
            return
        verb = "Move" if region[2:] == before[2:] else "Resize"
        repairs[outlined[position]] = new
        self.document.edit_repairs(repairs, f"{verb} {old.kind} ({old.describe()})")
        self.message.emit(f"{verb}d {old.kind}: {new.describe()}")

    # --- tracking ----------------------------------------------------------------------

    def track(self, index: int) -> None:
        """Make the region at `index` of the clip's list follow the picture through its
        frames, from where it lies on the frame shown (applied as one undo step when the
        tracker finishes)."""
        repairs = self.document.repairs()
        media = self.document.media_path()
        if not 0 <= index < len(repairs) or media is None:
            return
        repair = repairs[index]
        if repair.region is None:
            self.message.emit(f"A whole-frame {repair.kind} has no region to track")
            return
        frame = self.frame_provider()
        if not repair.covers(frame):
            self.message.emit(f"Show one of the {repair.kind}'s frames ({repair.start}-"
                              f"{repair.end}) with the region on the picture to follow, "
                              "then track")
            return
        self.tracker.start(media, repair, frame)
        self._set_tracking(True)
        self.message.emit(f"Tracking the {repair.kind} over "
                          f"{_frames_text(repair.start, repair.end)} from frame {frame}…")

    def _tracking_progress(self, done: int, total: int) -> None:
        self.message.emit(f"Tracking… {done} of {total} frames")

    def cancel_tracking(self, say: str = "Tracking cancelled") -> None:
        """Stop a running track (nothing is applied), and `say` so when not empty."""
        if self._tracking:
            self.tracker.stop()  # no wait: the GUI must not freeze for the worker
            self._set_tracking(False)
            if say:
                self.message.emit(say)

    @property
    def tracking(self) -> bool:
        """A track runs whose result will be applied (not one stopped and winding down)."""
        return self._tracking

    def _set_tracking(self, on: bool) -> None:
        self._tracking = on
        self.tracking_changed.emit(on)

    def _tracked(self, result: object, error: str) -> None:
        self._set_tracking(False)
        if result is None:
            self.message.emit(error or "Tracking failed")
            return
        assert isinstance(result, tuple)
        old, new, unmeasured = result
        repairs = self.document.repairs()
        if old not in repairs:
            self.message.emit(f"The {old.kind} changed while it was tracked; track it again")
            return
        repairs[repairs.index(old)] = new
        self.document.edit_repairs(repairs, f"Track {old.kind} ({old.describe()})")
        lost = (f"; the picture could not be followed on {len(unmeasured)} frames (first "
                f"{unmeasured[0]}), where the region is placed between its neighbours"
                if unmeasured else "")
        self.message.emit(f"The {old.kind} follows the picture over "
                          f"{_frames_text(old.start, old.end)}{lost}")

    # --- overlay -----------------------------------------------------------------------

    def set_overlay(self, on: bool) -> None:
        """Outline the repairs and protections of the frame shown on the viewer ("Manual
        repairs")."""
        self._overlay = bool(on)
        self.refresh_overlay()

    @property
    def overlay(self) -> bool:
        return self._overlay

    def refresh_overlay(self) -> None:
        self._outlined = {"repair": [], "protect": []}
        if not self._overlay or not self.document.is_open:
            self.viewer.set_regions([])
            return
        index = self.viewer.shown_index
        shown = self.viewer.before_image()
        size = self.source_size()
        if index is None or shown is None or size is None:
            self.viewer.set_regions([])
            return
        regions: list[QRectF | None] = []
        protected: list[QRectF | None] = []
        for position, repair in enumerate(self.document.repairs()):
            if not repair.covers(index):
                continue
            self._outlined["protect" if repair.protect else "repair"].append(position)
            region = repair.region_at(index)
            rect = None if region is None else \
                on_picture(region, shown.width(), shown.height(), size)
            (protected if repair.protect else regions).append(rect)
        self.viewer.set_regions(regions, protected=protected)


def swatch(colour: tuple[int, int, int]) -> QIcon:
    """A small square of `colour` (12 px) marking a list row with the viewer's colour."""
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(*colour))
    return QIcon(pixmap)


def _button(text: str, tip: str, slot: Callable[[], object]) -> QPushButton:
    button = QPushButton(text)
    if tip:
        button.setToolTip(tip)
    button.clicked.connect(lambda _checked=False: slot())
    return button


class RepairList(QWidget):
    """The clip's manual repairs and protections, with Remove, Mark frame destroyed and
    Protect frame. Each row carries a swatch of its colour on the viewer (magenta:
    rebuilt, cyan: protected).

    Signals: seek_requested(int frame).
    """

    seek_requested = Signal(int)

    def __init__(self, document: Document, tool: RepairTool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("RepairList")
        self.document = document
        self.tool = tool
        # Keyed by Repair.protect.
        self._icons = {False: swatch(REPAIR_COLOUR), True: swatch(PROTECT_COLOUR)}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        self.hint = QLabel("Turn on the repair tool and drag a rectangle over damage on the "
                           "picture to rebuild it on the frame shown. Turn on the protect "
                           "tool and drag one over picture the dust and scratch repairs must "
                           "leave alone (water, fire, rain) for the whole shot. In/out marks "
                           "set the frames of either instead.")
        self.hint.setObjectName("emptyHint")
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.itemDoubleClicked.connect(self._item_activated)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        layout.addWidget(self.list, 1)
        buttons = QHBoxLayout()
        self.destroyed_button = _button(
            "Mark frame destroyed", "Rebuild the whole frame (or the in/out range) from its "
            "neighbours", tool.mark_destroyed)
        self.protect_button = _button(
            "Protect frame", "Leave the whole frame (or the in/out range) as scanned: no dust "
            "or scratch repair", tool.protect_frames)
        self.note_button = _button(
            "Note…", "Why this repair or protection (printed in the processing report)",
            self.edit_note)
        self.track_button = _button(
            "Track", "Make the selected region follow the picture through its frames (a pan "
            "over water), from where it lies on the frame shown", self._track_clicked)
        tool.tracking_changed.connect(self._tracking_changed)
        self.remove_button = _button("Remove", "", self.remove_selected)
        # Two rows, so the dock stays as narrow as the longest pair of buttons.
        buttons.addWidget(self.destroyed_button)
        buttons.addWidget(self.protect_button)
        buttons.addStretch(1)
        edits = QHBoxLayout()
        edits.addStretch(1)
        edits.addWidget(self.track_button)
        edits.addWidget(self.note_button)
        edits.addWidget(self.remove_button)
        layout.addLayout(buttons)
        layout.addLayout(edits)
        document.repairs_changed.connect(lambda _c: self.refresh())
        document.project_replaced.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        # The selection stays on the same rows through an edit (a note, a track); after
        # one mark is added, the new one is selected, ready for Track or Note….
        before = self.list.count()
        selected = {int(i.data(Qt.ItemDataRole.UserRole)) for i in self.list.selectedItems()}
        self.list.clear()
        repairs = self.document.repairs()
        if len(repairs) == before + 1:
            selected = {len(repairs) - 1}
        for index, repair in enumerate(repairs):
            text = repair.describe() + (f" — {repair.note}" if repair.note else "")
            item = QListWidgetItem(self._icons[repair.protect], text)
            item.setData(Qt.ItemDataRole.UserRole, index)
            item.setToolTip(text)  # the dock is narrow; the row may be cut
            self.list.addItem(item)
            item.setSelected(index in selected)
        self.hint.setVisible(self.list.count() == 0)
        self.destroyed_button.setEnabled(self.document.is_open)
        self.protect_button.setEnabled(self.document.is_open)
        self._update_buttons()

    def _selected_index(self) -> int | None:
        """The clip-list index of the one selected row, else None."""
        items = self.list.selectedItems()
        if len(items) != 1:
            return None
        index = int(items[0].data(Qt.ItemDataRole.UserRole))
        return index if 0 <= index < len(self.document.repairs()) else None

    def _update_buttons(self) -> None:
        selected = len(self.list.selectedItems())
        self.remove_button.setEnabled(selected > 0)
        self.note_button.setEnabled(selected == 1)
        index = self._selected_index()
        repair = None if index is None else self.document.repairs()[index]
        self.track_button.setEnabled(self.tool.tracking or (
            repair is not None and repair.region is not None and repair.start < repair.end))

    def _track_clicked(self) -> None:
        if self.tool.tracking:
            self.tool.cancel_tracking()
        else:
            self.track_selected()

    def track_selected(self) -> None:
        """Track the one selected region (Clip ▸ Track selected region as well)."""
        index = self._selected_index()
        if index is None:
            self.tool.message.emit("Select one region in the Repairs dock to track")
        else:
            self.tool.track(index)

    def _tracking_changed(self, running: bool) -> None:
        self.track_button.setText("Stop tracking" if running else "Track")
        self._update_buttons()

    def edit_note(self) -> None:
        """Ask for the note of the one selected repair or protection."""
        index = self._selected_index()
        if index is None:
            return
        repair = self.document.repairs()[index]
        text, ok = QInputDialog.getText(
            self, "Note", f"Why this {repair.kind} ({repair.describe()}):", text=repair.note)
        if ok:
            self.tool.set_note(index, text)

    def _item_activated(self, item: QListWidgetItem) -> None:
        repairs = self.document.repairs()
        index = int(item.data(Qt.ItemDataRole.UserRole))
        if 0 <= index < len(repairs):
            self.seek_requested.emit(repairs[index].start)

    def remove_selected(self) -> None:
        self.tool.remove([int(i.data(Qt.ItemDataRole.UserRole))
                          for i in self.list.selectedItems()])
