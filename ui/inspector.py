"""The inspector: the recipe of the current shot (or the clip default) and its controls.

Every operator's controls are generated from its Params specs (ui/param_controls.py), with
no operator-specific code. Every edit is an undoable command on the Document; the widgets
follow the Document's `recipe_changed` signal, updating values with signals blocked, so
undo/redo and model updates never loop back as edits. A whole slider drag is one undo step:
edits carry a merge key that changes when a gesture ends.

Keyframes: the controls show the values at the frame under the playhead (`set_frame`). A
numeric control's key button adds or removes a key there; once a parameter has keys, an
edit of it sets the key at the playhead (adding one when there is none), so the static value
never silently hides behind the keys.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.errors import NitrateError
from engine.ops import registry
from engine.presets import PresetError, get_preset, list_presets, save_user_preset
from engine.project.recipe import Recipe, Step
from ui.document import Document, Target
from ui.model_info import ModelDescriptions
from ui.param_controls import ParamControl, control_for

RECIPE_MIME = "application/x-nitrate-recipe"
_CLIPBOARD_KEY = "nitrate_recipe"


def recipe_to_clipboard_text(recipe: Recipe) -> str:
    return json.dumps({_CLIPBOARD_KEY: recipe.to_json()}, indent=1)


def recipe_from_clipboard_text(text: str) -> Recipe:
    """Parse a copied recipe; anything else raises NitrateError / ValueError."""
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get(_CLIPBOARD_KEY), list):
        raise ValueError("the clipboard holds no Nitrate recipe")
    return Recipe.from_json(data[_CLIPBOARD_KEY])


def op_label(op_id: str) -> str:
    try:
        return registry.operator_class(op_id).label
    except NitrateError:
        return op_id


class StepCard(QGroupBox):
    """One step of the recipe: enable box, title, move/reset/remove buttons, controls."""

    toggled = Signal(int, bool)
    move_requested = Signal(int, int)  # position, delta
    remove_requested = Signal(int)
    reset_requested = Signal(int)
    value_edited = Signal(int, str, object)  # position, parameter, value
    edit_finished = Signal(int, str)
    key_toggled = Signal(int, str)  # position, parameter
    selected = Signal(int)

    def __init__(self, position: int, step: Step, count: int, parent: QWidget | None = None,
                 frame: int = 0):
        super().__init__(parent)
        self.setObjectName("stepCard")
        self.position = position
        self.op = step.op
        op_cls = registry.operator_class(step.op)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 4, 6, 6)
        outer.setSpacing(4)
        head = QHBoxLayout()
        head.setSpacing(2)
        self.enabled_box = QCheckBox()
        self.enabled_box.setToolTip("Enable or bypass this operator")
        self.enabled_box.toggled.connect(lambda on: self.toggled.emit(self.position, on))
        self.title = QLabel(f"{position + 1}. {op_cls.label}")
        self.title.setObjectName("stepTitle")
        self.title.setToolTip(op_cls.description)
        head.addWidget(self.enabled_box)
        head.addWidget(self.title, 1)
        self.buttons: dict[str, QToolButton] = {}
        for key, text, tip in (
            ("up", "▲", "Move up (runs earlier)"),
            ("down", "▼", "Move down (runs later)"),
            ("reset", "⟲", "Reset this operator's parameters to their defaults"),
            ("remove", "✕", "Remove this operator from the recipe"),
        ):
            button = QToolButton()
            button.setObjectName("stepButton")
            button.setText(text)
            button.setToolTip(tip)
            button.setAutoRaise(True)
            head.addWidget(button)
            self.buttons[key] = button
        self.buttons["up"].setEnabled(position > 0)
        self.buttons["down"].setEnabled(position < count - 1)
        self.buttons["up"].clicked.connect(lambda: self.move_requested.emit(self.position, -1))
        self.buttons["down"].clicked.connect(lambda: self.move_requested.emit(self.position, 1))
        self.buttons["reset"].clicked.connect(lambda: self.reset_requested.emit(self.position))
        self.buttons["remove"].clicked.connect(lambda: self.remove_requested.emit(self.position))
        outer.addLayout(head)
        form = QFormLayout()
        form.setContentsMargins(22, 0, 0, 0)
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(4)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.controls: dict[str, ParamControl] = {}
        for spec in op_cls.Params.specs():
            control = control_for(spec)
            control.value_edited.connect(
                lambda name, value: self.value_edited.emit(self.position, name, value))
            control.edit_finished.connect(lambda name: self.edit_finished.emit(self.position, name))
            control.key_toggled.connect(self._key_toggled)
            label = QLabel(spec.label)
            label.setToolTip(control.toolTip())
            form.addRow(label, control)
            self.controls[spec.name] = control
        outer.addLayout(form)
        self.model_label: QLabel | None = None
        if hasattr(op_cls, "describe"):
            self.model_label = QLabel()
            self.model_label.setObjectName("modelInfo")
            self.model_label.setWordWrap(True)
            self.model_label.setContentsMargins(22, 0, 0, 0)
            outer.addWidget(self.model_label)
            self.model_label.hide()
        self.sync(step, frame)

    def set_model_summary(self, text: str | None) -> None:
        """Show what the chosen model file is (operators with a `describe`)."""
        if self.model_label is None:
            return
        self.model_label.setText(text or "")
        self.model_label.setVisible(bool(text))

    def _key_toggled(self, name: str) -> None:
        self.selected.emit(self.position)  # the timeline then shows this step's keys
        self.key_toggled.emit(self.position, name)

    def sync(self, step: Step, frame: int = 0) -> None:
        """Show `step`'s values at clip frame `frame` (signals blocked: this is
        model → widget)."""
        was = self.enabled_box.blockSignals(True)
        self.enabled_box.setChecked(step.enabled)
        self.enabled_box.blockSignals(was)
        for name, value in step.params_at(frame).to_dict().items():
            self.controls[name].set_value(value)
            keys = step.keyframes_for(name)
            state = ("keyed" if any(k.frame == frame for k in keys)
                     else "animated" if keys else "static")
            self.controls[name].set_key_state(state)
        for control in self.controls.values():
            control.setEnabled(step.enabled)
        self.setProperty("stepEnabled", "true" if step.enabled else "false")
        self.style().unpolish(self)
        self.style().polish(self)

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        self.selected.emit(self.position)
        super().mousePressEvent(event)


class Inspector(QWidget):
    """Recipe editor for the current shot or the clip default.

    Signals:
      message(str): a one-line error or notice for the status bar.
      step_selected(object): position of the step the user clicked (for the mask overlay).
    """

    message = Signal(str)
    step_selected = Signal(object)

    SCOPE_DEFAULT = 0
    SCOPE_SHOT = 1

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.current_shot: int | None = None
        self.frame = 0  # clip frame under the playhead: keyed values are shown there
        self._gesture = 0
        self._cards: list[StepCard] = []
        self.models = ModelDescriptions(self)
        self.models.changed.connect(self._show_model_summaries)
        self.setMinimumWidth(300)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)

        scope_row = QHBoxLayout()
        scope_row.addWidget(QLabel("Edit"))
        self.scope = QComboBox()
        self.scope.addItems(["Clip default recipe", "This shot's recipe"])
        self.scope.setToolTip("Edit the recipe every shot follows by default, or the current "
                              "shot's own recipe")
        self.scope.currentIndexChanged.connect(lambda _i: self._target_changed())
        scope_row.addWidget(self.scope, 1)
        layout.addLayout(scope_row)

        self.shot_label = QLabel()
        self.shot_label.setWordWrap(True)
        layout.addWidget(self.shot_label)
        self.banner = QLabel()
        self.banner.setObjectName("inspectorBanner")
        self.banner.setWordWrap(True)
        layout.addWidget(self.banner)
        self.follow_default = QPushButton("Use the clip default for this shot")
        self.follow_default.setToolTip("Drop this shot's own recipe (undoable)")
        self.follow_default.clicked.connect(self.use_clip_default)
        layout.addWidget(self.follow_default)

        tools = QHBoxLayout()
        tools.setSpacing(4)
        self.add_button = QToolButton()
        self.add_button.setText("Add operator")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_menu = QMenu(self.add_button)
        for op_id in registry.operator_ids():
            op_cls = registry.operator_class(op_id)
            action = self.add_menu.addAction(op_cls.label)
            action.setToolTip(op_cls.description)
            action.setStatusTip(op_cls.description)
            action.triggered.connect(lambda _c=False, o=op_id: self.add_step(o))
        self.add_menu.setToolTipsVisible(True)
        self.add_button.setMenu(self.add_menu)
        self.presets_button = QToolButton()
        self.presets_button.setText("Presets")
        self.presets_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.presets_menu = QMenu(self.presets_button)
        self.presets_menu.aboutToShow.connect(self._fill_presets_menu)
        self.presets_button.setMenu(self.presets_menu)
        self.more_button = QToolButton()
        self.more_button.setText("Recipe")
        self.more_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        more = QMenu(self.more_button)
        self.copy_action = more.addAction("Copy recipe", self.copy_recipe)
        self.paste_action = more.addAction("Paste recipe", self.paste_recipe)
        more.addSeparator()
        self.reset_action = more.addAction("Reset all parameters to defaults", self.reset_all)
        self.clear_action = more.addAction("Remove all operators", self.clear_recipe)
        self.more_button.setMenu(more)
        for button in (self.add_button, self.presets_button, self.more_button):
            tools.addWidget(button)
        tools.addStretch(1)
        layout.addLayout(tools)

        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.cards_host = QWidget()
        self.cards_layout = QVBoxLayout(self.cards_host)
        self.cards_layout.setContentsMargins(0, 0, 0, 0)
        self.cards_layout.setSpacing(6)
        self.empty_label = QLabel()
        self.empty_label.setObjectName("emptyHint")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.cards_layout.addWidget(self.empty_label)
        self.cards_layout.addStretch(1)
        self.scroll.setWidget(self.cards_host)
        layout.addWidget(self.scroll, 1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)

        document.recipe_changed.connect(lambda _t: self.sync())
        document.shots_changed.connect(lambda _c: self.sync())
        document.project_replaced.connect(self._project_replaced)
        self._project_replaced()

    # --- what is edited --------------------------------------------------------------------

    def set_current_shot(self, shot: int | None) -> None:
        """The shot under the playhead (0-based position in the clip's shot list)."""
        if shot == self.current_shot:
            return
        self.current_shot = shot
        self.sync()

    def set_frame(self, frame: int) -> None:
        """The frame under the playhead (0-based): controls show the values there."""
        frame = max(0, int(frame))
        if frame == self.frame:
            return
        self.frame = frame
        self._gesture += 1  # an edit at another frame is another key: another undo step
        if any(step.keyframes for step in self.recipe().steps):
            self.sync()

    def set_scope(self, scope: int) -> None:
        self.scope.setCurrentIndex(scope)

    def target(self) -> Target | None:
        if not self.document.is_open:
            return None
        if self.scope.currentIndex() == self.SCOPE_SHOT and self.current_shot is not None:
            return Target(self.document.current_clip, self.current_shot)
        return Target(self.document.current_clip, None)

    def recipe(self) -> Recipe:
        target = self.target()
        return Recipe() if target is None else self.document.recipe(target)

    def _project_replaced(self) -> None:
        shots = self.document.shots()
        self.current_shot = 0 if shots else None
        self.sync(rebuild=True)

    def _target_changed(self) -> None:
        self._gesture += 1
        self.sync()

    # --- model → widgets ---------------------------------------------------------------------

    def sync(self, rebuild: bool = False) -> None:
        """Show the target's recipe. Cards are rebuilt only when the steps' operators
        changed; otherwise values are updated in place so a slider under the mouse survives."""
        target = self.target()
        open_ = target is not None
        for widget in (self.scope, self.add_button, self.presets_button, self.more_button):
            widget.setEnabled(open_)
        self._update_labels(target)
        recipe = self.recipe()
        ops = [s.op for s in recipe.steps]
        if rebuild or ops != [c.op for c in self._cards]:
            self._rebuild(recipe)
        else:
            for card, step in zip(self._cards, recipe.steps, strict=True):
                card.sync(step, self.frame)
        self._show_model_summaries()
        if not open_:
            self.empty_label.setText("Open footage or a project to build a restoration recipe.")
        else:
            self.empty_label.setText(
                "No operators yet. Use “Add operator” or a preset to build the recipe; "
                "changes show in the viewer as you make them.")
        self.empty_label.setVisible(not recipe.steps)

    def _show_model_summaries(self) -> None:
        for card, step in zip(self._cards, self.recipe().steps, strict=False):
            if card.model_label is not None:
                path = str(getattr(step.params, "path", "") or "")
                card.set_model_summary(self.models.summary(step.op, path))

    def _update_labels(self, target: Target | None) -> None:
        shots = self.document.shots()
        if target is None:
            self.shot_label.setText("")
            self.banner.hide()
            self.follow_default.hide()
            return
        shot_no = self.current_shot
        if shot_no is not None and shot_no < len(shots):
            shot = shots[shot_no]
            own = shot.recipe is not None
            where = (f"Shot {shot_no + 1} of {len(shots)} · frames {shot.start}–{shot.end} · "
                     + ("own recipe" if own else "follows the clip default"))
        else:
            shot, own, where = None, False, ""
        self.shot_label.setText(where)
        if target.is_default:
            followers = sum(1 for s in shots if s.recipe is None)
            self.banner.setText(f"Editing the clip default: used by {followers} of "
                                f"{len(shots)} shot{'s' if len(shots) != 1 else ''}.")
            self.banner.setVisible(True)
            self.follow_default.hide()
        else:
            if own:
                self.banner.hide()
            else:
                self.banner.setText("This shot follows the clip default; an edit here gives "
                                    "it its own recipe.")
                self.banner.show()
            self.follow_default.setVisible(own)

    def _rebuild(self, recipe: Recipe) -> None:
        for card in self._cards:
            self.cards_layout.removeWidget(card)
            card.deleteLater()
        self._cards = []
        for position, step in enumerate(recipe.steps):
            try:
                card = StepCard(position, step, len(recipe.steps), self.cards_host, self.frame)
            except NitrateError as exc:  # an operator this build does not know
                self.message.emit(str(exc))
                continue
            card.toggled.connect(self.set_enabled)
            card.move_requested.connect(self.move_step)
            card.remove_requested.connect(self.remove_step)
            card.reset_requested.connect(self.reset_step)
            card.value_edited.connect(self.set_value)
            card.edit_finished.connect(self._gesture_finished)
            card.key_toggled.connect(self.toggle_key)
            card.selected.connect(lambda pos: self.step_selected.emit(pos))
            self.cards_layout.insertWidget(self.cards_layout.count() - 1, card)
            self._cards.append(card)

    @property
    def cards(self) -> list[StepCard]:
        return list(self._cards)

    # --- edits -----------------------------------------------------------------------------

    def _edit(self, recipe: Recipe, text: str, merge_key: object | None = None) -> None:
        target = self.target()
        if target is None:
            return
        try:
            self.document.edit_recipe(target, recipe, text, merge_key)
        except NitrateError as exc:
            self.message.emit(str(exc))
            self.sync()

    def _gesture_finished(self, _position: int, _name: str) -> None:
        self._gesture += 1

    def set_value(self, position: int, name: str, value: Any) -> None:
        recipe = self.recipe()
        step = recipe.steps[position]
        keys = step.keyframes_for(name)
        try:
            if keys:
                # An animated parameter: the edit is the value at this frame.
                here = next((k for k in keys if k.frame == self.frame), None)
                interpolation = here.interpolation if here is not None else "linear"
                new_step = step.with_keyframe(name, self.frame, value, interpolation)
            else:
                new_step = step.with_values(**{name: value})
        except (NitrateError, ValueError) as exc:
            self.message.emit(f"{op_label(step.op)}: {exc}")
            self.sync()
            return
        label = registry.operator_class(step.op).Params.spec(name).label
        key = ("param", self.target(), position, name, self._gesture)
        where = f" at frame {self.frame}" if keys else ""
        self._edit(recipe.replace_step(position, new_step),
                   f"Change {op_label(step.op)} {label}{where}", key)

    def toggle_key(self, position: int, name: str) -> None:
        """Add a key of parameter `name` of step `position` at the playhead (with the value
        shown there), or remove the key that is there."""
        recipe = self.recipe()
        step = recipe.steps[position]
        label = registry.operator_class(step.op).Params.spec(name).label
        try:
            if any(k.frame == self.frame for k in step.keyframes_for(name)):
                new_step = step.without_keyframe(name, self.frame)
                text = f"Remove {op_label(step.op)} {label} key at frame {self.frame}"
            else:
                value = getattr(step.params_at(self.frame), name)
                new_step = step.with_keyframe(name, self.frame, value)
                text = f"Add {op_label(step.op)} {label} key at frame {self.frame}"
        except (NitrateError, ValueError) as exc:
            self.message.emit(f"{op_label(step.op)}: {exc}")
            return
        self.replace_step(position, new_step, text)

    def replace_step(self, position: int, step: Step, text: str) -> None:
        """Put `step` at `position` of the edited recipe, as one undo step."""
        self._edit(self.recipe().replace_step(position, step), text)

    def set_enabled(self, position: int, enabled: bool) -> None:
        recipe = self.recipe()
        step = recipe.steps[position]
        verb = "Enable" if enabled else "Bypass"
        self._edit(recipe.replace_step(position, dataclasses.replace(step, enabled=enabled)),
                   f"{verb} {op_label(step.op)}")

    def add_step(self, op_id: str) -> None:
        recipe = self.recipe()
        try:
            step = Step.create(op_id)
        except NitrateError as exc:
            self.message.emit(str(exc))
            return
        self._edit(recipe.insert(len(recipe.steps), step), f"Add {op_label(op_id)}")

    def remove_step(self, position: int) -> None:
        recipe = self.recipe()
        self._edit(recipe.remove(position), f"Remove {op_label(recipe.steps[position].op)}")

    def move_step(self, position: int, delta: int) -> None:
        recipe = self.recipe()
        new = position + delta
        if not 0 <= new < len(recipe.steps):
            return
        self._edit(recipe.move(position, new), f"Move {op_label(recipe.steps[position].op)}")

    def reset_step(self, position: int) -> None:
        recipe = self.recipe()
        step = recipe.steps[position]
        self._edit(recipe.replace_step(position, Step.create(step.op, {}, step.enabled)),
                   f"Reset {op_label(step.op)}")

    def reset_all(self) -> None:
        recipe = self.recipe()
        steps = [Step.create(s.op, {}, s.enabled) for s in recipe.steps]
        self._edit(Recipe.of(steps), "Reset all parameters")

    def clear_recipe(self) -> None:
        self._edit(Recipe(), "Remove all operators")

    def use_clip_default(self) -> None:
        target = self.target()
        if target is None or target.is_default:
            return
        self.document.edit_recipe(target, None, f"Shot {target.shot + 1} follows clip default")

    # --- clipboard and presets -------------------------------------------------------------

    def copy_recipe(self) -> None:
        text = recipe_to_clipboard_text(self.recipe())
        mime = QMimeData()
        mime.setText(text)
        mime.setData(RECIPE_MIME, text.encode("utf-8"))
        QGuiApplication.clipboard().setMimeData(mime)
        self.message.emit(f"Copied a recipe of {len(self.recipe().steps)} operator(s)")

    def paste_recipe(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is not None and mime.hasFormat(RECIPE_MIME):
            text = bytes(mime.data(RECIPE_MIME).data()).decode("utf-8", "replace")
        else:
            text = QGuiApplication.clipboard().text()
        try:
            recipe = recipe_from_clipboard_text(text)
        except (NitrateError, ValueError, TypeError, KeyError) as exc:
            message = str(exc) if isinstance(exc, NitrateError) else "the clipboard holds no Nitrate recipe"
            self.message.emit(f"Cannot paste: {message}")
            return
        self._edit(recipe, "Paste recipe")

    def apply_preset(self, name: str) -> None:
        try:
            preset = get_preset(name)
        except PresetError as exc:
            self.message.emit(str(exc))
            return
        self._edit(preset.recipe, f"Apply preset {preset.name}")

    def save_preset(self, name: str, description: str = "") -> None:
        try:
            path = save_user_preset(name, self.recipe(), description)
        except (PresetError, OSError) as exc:
            self.message.emit(str(exc))
            return
        self.message.emit(f"Saved preset '{name}' to {path}")

    def _ask_save_preset(self) -> None:
        name, ok = QInputDialog.getText(self, "Save preset", "Name of the new preset:")
        if ok and name.strip():
            self.save_preset(name.strip())

    def _fill_presets_menu(self) -> None:
        menu = self.presets_menu
        menu.clear()
        try:
            presets = list_presets()
        except PresetError as exc:
            presets = []
            broken = menu.addAction(str(exc))
            broken.setEnabled(False)
        for builtin, title in ((True, "Built-in"), (False, "Yours")):
            group = [p for p in presets if p.builtin == builtin]
            if not group:
                continue
            menu.addSection(title)
            for preset in group:
                action: QAction = menu.addAction(preset.name)
                action.setToolTip(preset.description)
                action.triggered.connect(lambda _c=False, n=preset.name: self.apply_preset(n))
        if not presets:
            none = menu.addAction("No presets yet")
            none.setEnabled(False)
        menu.setToolTipsVisible(True)
        menu.addSeparator()
        menu.addAction("Save current recipe as preset…", self._ask_save_preset)
