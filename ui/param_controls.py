"""Controls for operator parameters, generated from their `ParamSpec`s with no special cases.

One small control class per kind of parameter (float, int, bool, choice). Each control
emits `value_edited(name, value)` when the *user* changes it and `edit_finished(name)` when
a gesture ends (slider released, spin box editing finished), so the inspector can merge a
whole slider drag into one undo step. `set_value()` updates the widgets with their signals
blocked, so a model → widget sync never echoes back as an edit.

Numeric controls carry a small keyframe button (◇/◆): a click emits `key_toggled(name)`
(the inspector adds or removes a key at the playhead) and `set_key_state()` shows whether
the parameter is static, animated (has keys elsewhere) or keyed at the frame shown.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QSlider,
    QSpinBox,
    QToolButton,
    QWidget,
)

from engine.ops.params import ParamSpec

# A slider with more positions than this cannot be moved one position at a time with the
# mouse anyway; coarser positions keep the mapping exact and the widget responsive.
_MAX_SLIDER_POSITIONS = 2000
# Spin boxes need finite bounds; parameters without a declared bound get these.
_OPEN_BOUND = 1e9

KEY_STATES = ("static", "animated", "keyed")
"""static: no keys; animated: keys elsewhere (the value shown is interpolated at the
playhead); keyed: a key sits at the playhead (an edit changes that key)."""
# The keyed tints follow the timeline's key diamonds so the two read as one thing.
_KEY_STYLES = {
    "static": "",
    "animated": "QAbstractSpinBox { border: 1px solid rgb(150, 124, 60); }",
    "keyed": "QAbstractSpinBox { border: 1px solid rgb(236, 196, 92); "
             "background: rgb(70, 60, 34); }",
}


def tooltip_for(spec: ParamSpec) -> str:
    """Tooltip text: the help line plus the valid range and unit."""
    parts = []
    if spec.help:
        parts.append(spec.help)
    if spec.kind in ("float", "int") and (spec.minimum is not None or spec.maximum is not None):
        lo = "−∞" if spec.minimum is None else f"{spec.minimum:g}"
        hi = "∞" if spec.maximum is None else f"{spec.maximum:g}"
        unit = f" {spec.unit}" if spec.unit else ""
        parts.append(f"Range {lo} … {hi}{unit}; default {spec.default:g}{unit}.")
    elif spec.kind == "choice":
        parts.append(f"Default: {spec.default}.")
    elif spec.kind == "bool":
        parts.append(f"Default: {'on' if spec.default else 'off'}.")
    return "\n".join(parts)


def decimals_for(step: float | None) -> int:
    """Decimal places that show every multiple of `step` exactly (2 when no step)."""
    if not step or step <= 0:
        return 2
    return max(0, min(6, math.ceil(-math.log10(step) - 1e-9)))


class ParamControl(QWidget):
    """Base of the per-kind controls. `value_edited(name, value)` fires only on user edits."""

    value_edited = Signal(str, object)
    edit_finished = Signal(str)
    key_toggled = Signal(str)

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.key_state = "static"
        self.setToolTip(tooltip_for(spec))
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)

    @property
    def name(self) -> str:
        return self.spec.name

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        """Show `value` without emitting value_edited (model → widget sync)."""
        raise NotImplementedError

    def _emit(self, value: Any) -> None:
        self.value_edited.emit(self.spec.name, value)

    def set_key_state(self, state: str) -> None:
        """Show one of KEY_STATES (controls without a key button ignore it)."""
        self.key_state = state


class _NumberControl(ParamControl):
    """Slider + spin box for float and int parameters. The slider appears only when both
    bounds are declared (a slider needs ends); the spin box always does."""

    def __init__(self, spec: ParamSpec, spin: QAbstractSpinBox, parent: QWidget | None) -> None:
        super().__init__(spec, parent)
        self.spin = spin
        lo = -_OPEN_BOUND if spec.minimum is None else float(spec.minimum)
        hi = _OPEN_BOUND if spec.maximum is None else float(spec.maximum)
        self._lo, self._hi = lo, hi
        self.spin.setRange(lo, hi)  # type: ignore[attr-defined]
        self.spin.setSingleStep(self._step())  # type: ignore[attr-defined]
        self.spin.setKeyboardTracking(False)  # typed digits apply on Enter, not per key
        self.spin.setAccelerated(True)
        if spec.unit:
            self.spin.setSuffix(f" {spec.unit}")  # type: ignore[attr-defined]
        self.spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.spin.setMinimumWidth(84)
        self.slider: QSlider | None = None
        if spec.minimum is not None and spec.maximum is not None and hi > lo:
            self.slider = QSlider(Qt.Orientation.Horizontal)
            self._positions = max(1, min(_MAX_SLIDER_POSITIONS, round((hi - lo) / self._step())))
            self.slider.setRange(0, self._positions)
            self.slider.setPageStep(max(1, self._positions // 10))
            self.slider.setToolTip(self.toolTip())
            self.slider.valueChanged.connect(self._slider_moved)
            self.slider.sliderReleased.connect(lambda: self.edit_finished.emit(self.name))
            self._layout.addWidget(self.slider, 1)
        self._layout.addWidget(self.spin, 0)
        self.key_button = QToolButton()
        self.key_button.setObjectName("keyButton")
        self.key_button.setAutoRaise(True)
        self.key_button.setText("◇")
        self.key_button.setToolTip("Add a keyframe of this parameter at the playhead "
                                   "(the value can then change within the shot)")
        self.key_button.clicked.connect(lambda: self.key_toggled.emit(self.name))
        self.key_button.setVisible(spec.keyframable)
        self._layout.addWidget(self.key_button, 0)
        self.spin.valueChanged.connect(self._spin_changed)  # type: ignore[attr-defined]
        self.spin.editingFinished.connect(lambda: self.edit_finished.emit(self.name))
        self.spin.setToolTip(self.toolTip())
        self.set_value(spec.default)

    def set_key_state(self, state: str) -> None:
        if state not in KEY_STATES:
            raise ValueError(f"key state must be one of {', '.join(KEY_STATES)}, got '{state}'")
        if state == self.key_state:
            return
        self.key_state = state
        self.key_button.setText("◆" if state == "keyed" else "◇")
        self.key_button.setToolTip(
            "Remove the keyframe at the playhead" if state == "keyed"
            else "Add a keyframe of this parameter at the playhead")
        self.spin.setStyleSheet(_KEY_STYLES[state])

    def _step(self) -> float:
        raise NotImplementedError

    def _convert(self, number: float) -> Any:
        raise NotImplementedError

    def _to_position(self, value: float) -> int:
        fraction = (value - self._lo) / (self._hi - self._lo)
        return round(min(1.0, max(0.0, fraction)) * self._positions)

    def _from_position(self, position: int) -> float:
        return self._lo + (self._hi - self._lo) * position / self._positions

    def value(self) -> Any:
        return self._convert(self.spin.value())  # type: ignore[attr-defined]

    def set_value(self, value: Any) -> None:
        blockers = [self.spin.blockSignals(True)]
        try:
            self.spin.setValue(value)  # type: ignore[attr-defined]
            if self.slider is not None:
                blockers.append(self.slider.blockSignals(True))
                self.slider.setValue(self._to_position(float(value)))
                self.slider.blockSignals(blockers[1])
        finally:
            self.spin.blockSignals(blockers[0])

    def _slider_moved(self, position: int) -> None:
        value = self._convert(self._from_position(position))
        was = self.spin.blockSignals(True)
        self.spin.setValue(value)  # type: ignore[attr-defined]
        self.spin.blockSignals(was)
        # The spin box rounds to its decimals; emit what the user sees.
        self._emit(self.value())
        if self.slider is not None and not self.slider.isSliderDown():
            # Keyboard / page clicks on the slider are complete gestures on their own.
            self.edit_finished.emit(self.name)

    def _spin_changed(self, value: float) -> None:
        if self.slider is not None:
            was = self.slider.blockSignals(True)
            self.slider.setValue(self._to_position(float(value)))
            self.slider.blockSignals(was)
        self._emit(self._convert(value))


class FloatControl(_NumberControl):
    """A float parameter: slider + QDoubleSpinBox with the unit as suffix."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        spin = QDoubleSpinBox()
        spin.setDecimals(decimals_for(spec.step))
        super().__init__(spec, spin, parent)

    def _step(self) -> float:
        if self.spec.step:
            return float(self.spec.step)
        if self.spec.minimum is not None and self.spec.maximum is not None:
            return (float(self.spec.maximum) - float(self.spec.minimum)) / 100.0 or 0.01
        return 0.01

    def _convert(self, number: float) -> float:
        return round(float(number), decimals_for(self.spec.step))


class IntControl(_NumberControl):
    """An int parameter: slider + QSpinBox with the unit as suffix."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, QSpinBox(), parent)

    def _step(self) -> float:
        return float(max(1, round(self.spec.step or 1)))

    def _convert(self, number: float) -> int:
        return int(round(number))

    def set_value(self, value: Any) -> None:
        super().set_value(int(value))


class BoolControl(ParamControl):
    """A bool parameter: a check box (toggling is a complete gesture)."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.check = QCheckBox()
        self.check.setToolTip(self.toolTip())
        self._layout.addWidget(self.check)
        self._layout.addStretch(1)
        self.check.toggled.connect(self._toggled)
        self.set_value(spec.default)

    def value(self) -> bool:
        return self.check.isChecked()

    def set_value(self, value: Any) -> None:
        was = self.check.blockSignals(True)
        self.check.setChecked(bool(value))
        self.check.blockSignals(was)

    def _toggled(self, checked: bool) -> None:
        self._emit(bool(checked))
        self.edit_finished.emit(self.name)


class ChoiceControl(ParamControl):
    """A choice parameter: a combo box of the declared choices."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.combo = QComboBox()
        self.combo.addItems(list(spec.choices))
        self.combo.setToolTip(self.toolTip())
        self._layout.addWidget(self.combo, 1)
        self.combo.currentTextChanged.connect(self._changed)
        self.set_value(spec.default)

    def value(self) -> str:
        return self.combo.currentText()

    def set_value(self, value: Any) -> None:
        was = self.combo.blockSignals(True)
        self.combo.setCurrentIndex(max(0, self.combo.findText(str(value))))
        self.combo.blockSignals(was)

    def _changed(self, text: str) -> None:
        self._emit(text)
        self.edit_finished.emit(self.name)


class PathControl(ParamControl):
    """A path parameter: the file name (typed, applied on Enter) and a "…" button that
    opens a file chooser offering the spec's `file_types`; "" means none chosen."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("none chosen")
        self.edit.setToolTip(self.toolTip())
        self.browse = QToolButton()
        self.browse.setText("…")
        self.browse.setToolTip("Choose the file")
        self._layout.addWidget(self.edit, 1)
        self._layout.addWidget(self.browse, 0)
        self.edit.editingFinished.connect(self._typed)
        self.browse.clicked.connect(self._choose)
        self._shown = ""
        self.set_value(spec.default)

    def value(self) -> str:
        return self.edit.text().strip()

    def set_value(self, value: Any) -> None:
        was = self.edit.blockSignals(True)
        self._shown = str(value or "")
        self.edit.setText(self._shown)
        self.edit.blockSignals(was)

    def _typed(self) -> None:
        if self.value() != self._shown:  # editingFinished also fires on a mere focus change
            self._shown = self.value()
            self._emit(self.value())
            self.edit_finished.emit(self.name)

    def _choose(self) -> None:
        patterns = " ".join(self.spec.file_types)
        filters = (f"{self.spec.label} ({patterns});;" if patterns else "") + "All files (*)"
        path, _ = QFileDialog.getOpenFileName(self, self.spec.label, self.value(), filters)
        if path:
            self.edit.setText(path)
            self._typed()


_CONTROLS: dict[str, type[ParamControl]] = {
    "float": FloatControl,
    "int": IntControl,
    "bool": BoolControl,
    "choice": ChoiceControl,
    "path": PathControl,
}


def control_for(spec: ParamSpec, parent: QWidget | None = None) -> ParamControl:
    """The control for one parameter, chosen by its kind only."""
    try:
        cls = _CONTROLS[spec.kind]
    except KeyError:
        raise ValueError(f"parameter {spec.name}: no control for kind '{spec.kind}'") from None
    return cls(spec, parent)
