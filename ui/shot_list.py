"""The shot list: every shot of the clip with a thumbnail, its frames, its length, the
operators that restore it, how many of its frames the frame check lists (⚑) and whether the
restorer has reviewed it.

A click seeks to the shot; Ctrl/Shift-clicks build a selection that the window uses for
"apply to selected shots", rendering and pasting. The "reviewed" tick is an undoable edit
saved in the project. Recipes reach shots from here too: the recipe being edited in the
inspector (or a preset) can be applied to the selected shots or to all of them, each as one
undo step. The list only reads the Document and asks it for edits; it never changes the
project itself.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QCursor, QFont, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import NitrateError
from engine.presets import PresetError, get_preset, list_presets
from engine.project.model import Shot
from engine.project.recipe import Recipe
from ui.document import Document, Target
from ui.inspector import op_label

COLUMNS = ("Shot", "Frames", "Duration", "Operators", "⚑", "✓")
COL_SHOT, COL_FRAMES, COL_DURATION, COL_OPS, COL_FLAGGED, COL_REVIEWED = range(len(COLUMNS))
THUMB_HEIGHT_PX = 40
"""Thumbnail height (pixels): the timeline's, so the engine serves both from one request."""


def operators_text(recipe: Recipe, own: bool) -> str:
    """A shot's operators as the list shows them: active steps in order, ◆ when a step has
    keyframes, and whether the recipe is the shot's own or the clip default."""
    names = []
    for step in recipe.active:
        keyed = any(keys for _name, keys in getattr(step, "keyframes", ()))
        names.append(op_label(step.op) + (" ◆" if keyed else ""))
    body = ", ".join(names) if names else "no operators"
    return f"{'own' if own else 'default'}: {body}"


def duration_text(frames: int, fps: Fraction) -> str:
    """'N f · SS:FF' for a length of `frames` frames at `fps` (hours and minutes appear
    only when the shot is that long: most shots last seconds)."""
    from engine.media import timecode as tc

    text = tc.format_frames(frames, fps)
    while text.startswith("00:") and len(text) > 5:
        text = text[3:]
    return f"{frames} f · {text}"


class ShotList(QWidget):
    """Dock contents listing the clip's shots (see module docstring).

    recipe_provider: returns the recipe being edited in the inspector (what "apply" applies).
    Signals: seek_requested(int frame), selection_changed(list[int] shot positions),
    message(str) a one-line notice or error for the status bar.
    """

    seek_requested = Signal(int)
    selection_changed = Signal(list)
    message = Signal(str)

    def __init__(self, document: Document, recipe_provider: Callable[[], Recipe],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ShotList")
        self.document = document
        self.recipe_provider = recipe_provider
        self._fps = Fraction(24)
        self._bridge: Any = None
        self._thumbs: dict[int, QImage] = {}
        self._current: int | None = None
        self._filling = False
        self._flagged: list[int] = []  # frames the frame check lists, of the reel shown

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        tools = QHBoxLayout()
        tools.setSpacing(4)
        self.summary = QLabel("")
        self.apply_button = QToolButton()
        self.apply_button.setText("Apply recipe")
        self.apply_button.setToolTip("Give shots the recipe edited in the inspector, or a "
                                     "preset")
        self.apply_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.apply_menu = QMenu(self.apply_button)
        self.apply_menu.aboutToShow.connect(self._fill_apply_menu)
        self.apply_button.setMenu(self.apply_menu)
        tools.addWidget(self.summary, 1)
        tools.addWidget(self.apply_button)
        layout.addLayout(tools)

        self.tree = QTreeWidget()
        self.tree.setObjectName("shotTree")
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setIconSize(QSize(round(THUMB_HEIGHT_PX * 16 / 9), THUMB_HEIGHT_PX))
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(lambda _p: self._context_menu())
        self.tree.headerItem().setToolTip(COL_REVIEWED, "Reviewed: the restorer has checked "
                                                        "this shot")
        self.tree.headerItem().setToolTip(COL_FLAGGED, "Frames of the shot the frame check "
                                                       "listed (Clip ▸ Check frames)")
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_OPS, QHeaderView.ResizeMode.Stretch)
        for column in (COL_SHOT, COL_FRAMES, COL_DURATION, COL_FLAGGED, COL_REVIEWED):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemClicked.connect(self._item_clicked)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.itemSelectionChanged.connect(
            lambda: self.selection_changed.emit(self.selected_positions()))
        layout.addWidget(self.tree, 1)

        document.shots_changed.connect(lambda _c: self.refresh())
        document.recipe_changed.connect(lambda _t: self.refresh())
        document.project_replaced.connect(self._project_replaced)
        self.refresh()

    # --- inputs ----------------------------------------------------------------------------

    def _target(self, shot: int | None) -> Target:
        """Shot `shot`'s recipe (None: the default) of the reel shown."""
        return Target(self.document.current_clip, shot)

    def set_bridge(self, bridge: Any) -> None:
        """Thumbnails come from an EngineBridge (`request_thumbnail`, `thumbnail_ready`)."""
        if self._bridge is not None:
            self._bridge.thumbnail_ready.disconnect(self._on_thumbnail)
        self._bridge = bridge
        if bridge is not None:
            bridge.thumbnail_ready.connect(self._on_thumbnail)

    def set_flagged(self, flagged: dict[int, str]) -> None:
        """Frames the frame check lists on the reel shown (with its findings): counted per
        shot (⚑ column)."""
        self._flagged = sorted(flagged)
        self.refresh()

    def set_fps(self, fps: Fraction) -> None:
        """The clip's rate (frames per second), for durations as timecode."""
        self._fps = Fraction(fps) if fps else Fraction(24)
        self.refresh()

    def set_current_shot(self, position: int | None) -> None:
        """The shot under the playhead: shown in bold (the selection is left alone)."""
        if position == self._current:
            return
        self._current = position
        for row in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(row)
            font = QFont(item.font(COL_SHOT))
            font.setBold(row == position)
            for column in range(len(COLUMNS)):
                item.setFont(column, font)
        if position is not None and 0 <= position < self.tree.topLevelItemCount():
            self.tree.scrollToItem(self.tree.topLevelItem(position))

    def request_thumbnails(self) -> None:
        """Ask for the thumbnails still missing (the first frame of each shot)."""
        bridge = self._bridge
        if bridge is None or not getattr(bridge, "is_open", False):
            return
        for shot in self.document.shots():
            if shot.start not in self._thumbs:
                bridge.request_thumbnail(shot.start, THUMB_HEIGHT_PX)

    # --- model → widget --------------------------------------------------------------------

    def _project_replaced(self) -> None:
        self._thumbs.clear()
        self._current = None
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the rows from the Document (the selection is kept by position)."""
        shots = self.document.shots()
        selected = set(self.selected_positions())
        self._filling = True
        blocked = self.tree.blockSignals(True)
        try:
            # Rows are updated in place while their number stays: a tick's own itemChanged
            # leads here, and deleting the item Qt is still changing would crash.
            if self.tree.topLevelItemCount() != len(shots):
                self.tree.clear()
                for position in range(len(shots)):
                    item = QTreeWidgetItem()
                    item.setData(COL_SHOT, Qt.ItemDataRole.UserRole, position)
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    self.tree.addTopLevelItem(item)
            for position, shot in enumerate(shots):
                item = self.tree.topLevelItem(position)
                for column, text in enumerate(self._row_texts(position, shot)):
                    item.setText(column, text)
                item.setCheckState(COL_REVIEWED, Qt.CheckState.Checked if shot.reviewed
                                   else Qt.CheckState.Unchecked)
                item.setToolTip(COL_OPS, item.text(COL_OPS))
                item.setToolTip(COL_SHOT, shot.note)
                image = self._thumbs.get(shot.start)
                item.setIcon(COL_SHOT, QIcon() if image is None
                             else QIcon(QPixmap.fromImage(image)))
                item.setSelected(position in selected)
        finally:
            self.tree.blockSignals(blocked)
            self._filling = False
        current, self._current = self._current, None
        self.set_current_shot(current)
        reviewed = sum(1 for s in shots if s.reviewed)
        self.summary.setText(f"{len(shots)} shots · {reviewed} reviewed" if shots else "No clip")
        self.apply_button.setEnabled(self.document.is_open)
        self.request_thumbnails()
        if selected != set(self.selected_positions()):
            self.selection_changed.emit(self.selected_positions())

    def _row_texts(self, position: int, shot: Shot) -> list[str]:
        recipe = self.document.recipe(self._target(position))
        return [
            str(position + 1),
            f"{shot.start}–{shot.end}",
            duration_text(shot.length, self._fps),
            operators_text(recipe, shot.recipe is not None),
            str(sum(1 for f in self._flagged if shot.start <= f <= shot.end) or ""),
            "",
        ]

    def _on_thumbnail(self, index: int, image: QImage) -> None:
        for position, shot in enumerate(self.document.shots()):
            if shot.start == index:
                self._thumbs[index] = image
                item = self.tree.topLevelItem(position)
                if item is not None:
                    item.setIcon(COL_SHOT, QIcon(QPixmap.fromImage(image)))
                return

    # --- selection -------------------------------------------------------------------------

    def selected_positions(self) -> list[int]:
        """Positions (0-based) of the selected shots, in order."""
        return sorted(int(item.data(COL_SHOT, Qt.ItemDataRole.UserRole))
                      for item in self.tree.selectedItems())

    def select(self, positions: list[int]) -> None:
        """Select exactly these shots."""
        wanted = set(positions)
        blocked = self.tree.blockSignals(True)
        for row in range(self.tree.topLevelItemCount()):
            self.tree.topLevelItem(row).setSelected(row in wanted)
        self.tree.blockSignals(blocked)
        self.selection_changed.emit(self.selected_positions())

    def item(self, position: int) -> QTreeWidgetItem | None:
        return self.tree.topLevelItem(position)

    # --- widget → model --------------------------------------------------------------------

    def _item_clicked(self, item: QTreeWidgetItem, column: int) -> None:
        if column == COL_REVIEWED:
            return  # the tick box, not a jump
        modifiers = QApplication.keyboardModifiers()
        if modifiers & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier):
            return  # building a selection: stay where the playhead is
        shots = self.document.shots()
        position = int(item.data(COL_SHOT, Qt.ItemDataRole.UserRole))
        if 0 <= position < len(shots):
            self.seek_requested.emit(shots[position].start)

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._filling or column != COL_REVIEWED:
            return
        position = int(item.data(COL_SHOT, Qt.ItemDataRole.UserRole))
        checked = item.checkState(COL_REVIEWED) == Qt.CheckState.Checked
        # Ticking one of several selected shots ticks them all, as file managers do.
        selected = self.selected_positions()
        positions = selected if position in selected else [position]
        self._try(lambda: self.document.set_reviewed(positions, checked))

    def apply_recipe_to(self, positions: list[int], recipe: Recipe, what: str = "recipe") -> None:
        """Give each shot in `positions` its own copy of `recipe`: one undo step."""
        positions = [p for p in positions if 0 <= p < len(self.document.shots())]
        if not positions:
            self.message.emit("Select one or more shots first")
            return
        stack = self.document.undo_stack
        stack.beginMacro(f"Apply {what} to {len(positions)} shot{'s' if len(positions) > 1 else ''}")
        try:
            for p in positions:
                self._try(lambda p=p: self.document.edit_recipe(self._target(p), recipe, ""))
        finally:
            stack.endMacro()
        self.message.emit(f"Applied {what} to {len(positions)} shot(s)")

    def apply_to_all(self, recipe: Recipe, what: str = "recipe") -> None:
        """Make `recipe` the clip default and let every shot follow it (their own recipes
        are dropped): one undo step."""
        if not self.document.is_open:
            return
        stack = self.document.undo_stack
        stack.beginMacro(f"Apply {what} to all shots")
        try:
            self._try(lambda: self.document.edit_recipe(self._target(None), recipe, ""))
            for p, shot in enumerate(self.document.shots()):
                if shot.recipe is not None:
                    self._try(lambda p=p: self.document.edit_recipe(self._target(p), None, ""))
        finally:
            stack.endMacro()
        self.message.emit(f"Every shot now uses the {what}")

    def follow_default(self, positions: list[int]) -> None:
        """The shots in `positions` drop their own recipe: one undo step."""
        stack = self.document.undo_stack
        stack.beginMacro(f"{len(positions)} shot(s) follow the clip default")
        try:
            for p in positions:
                self._try(lambda p=p: self.document.edit_recipe(self._target(p), None, ""))
        finally:
            stack.endMacro()

    def apply_preset(self, name: str, positions: list[int] | None) -> None:
        """Apply preset `name` to `positions` (None: to all shots)."""
        try:
            preset = get_preset(name)
        except PresetError as exc:
            self.message.emit(str(exc))
            return
        if positions is None:
            self.apply_to_all(preset.recipe, f"preset {preset.name}")
        else:
            self.apply_recipe_to(positions, preset.recipe, f"preset {preset.name}")

    def _try(self, edit: Callable[[], None]) -> None:
        try:
            edit()
        except NitrateError as exc:
            self.message.emit(str(exc))

    # --- menus -----------------------------------------------------------------------------

    def _fill_apply_menu(self) -> None:
        self.fill_apply_menu(self.apply_menu)

    def fill_apply_menu(self, menu: QMenu) -> None:
        """Actions that give the selected (or all) shots a recipe or a preset."""
        menu.clear()
        selected = self.selected_positions()
        count = len(selected)
        to_selected = menu.addAction(f"Apply edited recipe to selected shots ({count})")
        to_selected.setEnabled(count > 0)
        to_selected.triggered.connect(
            lambda _c=False: self.apply_recipe_to(self.selected_positions(),
                                                  self.recipe_provider()))
        to_all = menu.addAction("Apply edited recipe to all shots")
        to_all.triggered.connect(lambda _c=False: self.apply_to_all(self.recipe_provider()))
        follow = menu.addAction("Selected shots follow the clip default")
        follow.setEnabled(count > 0)
        follow.triggered.connect(
            lambda _c=False: self.follow_default(self.selected_positions()))
        try:
            presets = list_presets()
        except PresetError as exc:
            menu.addAction(str(exc)).setEnabled(False)
            return
        for title, target in (("Preset to selected shots", "selected"),
                              ("Preset to all shots", "all")):
            sub = menu.addMenu(title)
            sub.setEnabled(bool(presets) and (target == "all" or count > 0))
            for preset in presets:
                action = sub.addAction(preset.name + ("" if preset.builtin else " (yours)"))
                action.setToolTip(preset.description)
                action.triggered.connect(
                    lambda _c=False, n=preset.name, t=target: self.apply_preset(
                        n, None if t == "all" else self.selected_positions()))

    def _context_menu(self) -> None:
        menu = QMenu(self)
        self.fill_apply_menu(menu)
        selected = self.selected_positions()
        menu.addSeparator()
        mark = menu.addAction("Mark selected reviewed")
        mark.setEnabled(bool(selected))
        mark.triggered.connect(lambda _c=False: self._try(
            lambda: self.document.set_reviewed(self.selected_positions(), True)))
        unmark = menu.addAction("Mark selected not reviewed")
        unmark.setEnabled(bool(selected))
        unmark.triggered.connect(lambda _c=False: self._try(
            lambda: self.document.set_reviewed(self.selected_positions(), False)))
        if len(selected) == 2 and selected[1] == selected[0] + 1:
            merge = menu.addAction(f"Merge shots {selected[0] + 1} and {selected[1] + 1}")
            merge.triggered.connect(lambda _c=False: self._try(
                lambda: self.document.merge_shots(selected[0])))
        menu.exec(QCursor.pos())
        menu.deleteLater()
