"""The inspector: controls generated from specs, edits as undo steps, no signal loops."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDoubleSpinBox, QSlider, QSpinBox

from engine.ops import registry
from engine.ops.params import ParamSpec
from engine.presets import list_presets
from engine.project import Clip, Project, Recipe, Shot
from ui.document import Document, Target
from ui.inspector import Inspector
from ui.param_controls import (
    BoolControl,
    ChoiceControl,
    FloatControl,
    IntControl,
    control_for,
    decimals_for,
)


@pytest.fixture
def doc(qtbot, tmp_path: Path, isolated_user_dirs: Path) -> Document:
    document = Document(recovery_dir=isolated_user_dirs / "data" / "recovery")
    media = tmp_path / "reel.mp4"
    media.write_bytes(b"x")
    document.set_project(Project(clips=[Clip(str(media), 40, [Shot(0, 19), Shot(20, 39)])]))
    yield document
    document.shutdown()


@pytest.fixture
def inspector(qtbot, doc: Document) -> Inspector:
    widget = Inspector(doc)
    qtbot.addWidget(widget)
    widget.resize(360, 700)
    widget.show()
    return widget


# --- controls from specs ----------------------------------------------------------------


def test_each_kind_gets_its_control_with_unit_range_and_tooltip(qtbot) -> None:
    f = control_for(ParamSpec("radius", "float", 1.5, "Radius", "px", 0.3, 20.0, 0.1,
                              help="Blur size"))
    i = control_for(ParamSpec("frames", "int", 2, "Frames", "frames", 1, 10, 1))
    b = control_for(ParamSpec("on", "bool", True, "On"))
    c = control_for(ParamSpec("mode", "choice", "b", "Mode", choices=("a", "b", "c")))
    for w in (f, i, b, c):
        qtbot.addWidget(w)
    assert isinstance(f, FloatControl) and isinstance(f.spin, QDoubleSpinBox)
    assert f.spin.suffix() == " px" and f.spin.minimum() == 0.3 and f.spin.maximum() == 20.0
    assert f.spin.decimals() == 1 and f.value() == 1.5
    assert "Blur size" in f.toolTip() and "0.3 … 20 px" in f.toolTip()
    assert isinstance(f.slider, QSlider)
    assert isinstance(i, IntControl) and isinstance(i.spin, QSpinBox) and i.value() == 2
    assert i.spin.suffix() == " frames"
    assert isinstance(b, BoolControl) and b.value() is True
    assert isinstance(c, ChoiceControl) and c.value() == "b" and c.combo.count() == 3


def test_unbounded_number_has_no_slider(qtbot) -> None:
    f = control_for(ParamSpec("gain", "float", 1.0, "Gain", minimum=0.0))
    qtbot.addWidget(f)
    assert f.slider is None and f.spin.maximum() >= 1e6


def test_decimals_follow_step() -> None:
    assert [decimals_for(s) for s in (1, 0.1, 0.05, 0.005, None)] == [0, 1, 2, 3, 2]


def test_slider_and_spin_stay_in_step_and_set_value_is_silent(qtbot) -> None:
    control = control_for(ParamSpec("amount", "float", 0.5, "Amount", "", 0.0, 5.0, 0.05))
    qtbot.addWidget(control)
    edits: list[tuple[str, object]] = []
    control.value_edited.connect(lambda n, v: edits.append((n, v)))
    control.set_value(2.5)  # model → widget: no edit
    assert edits == [] and control.slider.value() == 50
    control.slider.setValue(20)  # user drags
    assert edits == [("amount", 1.0)] and control.spin.value() == 1.0
    control.spin.setValue(4.0)  # user types
    assert edits[-1] == ("amount", 4.0) and control.slider.value() == 80


def test_every_registered_operator_builds_its_controls(inspector: Inspector) -> None:
    for op_id in registry.operator_ids():
        inspector.add_step(op_id)
    assert [c.op for c in inspector.cards] == list(registry.operator_ids())
    for card in inspector.cards:
        specs = registry.operator_class(card.op).Params.specs()
        assert list(card.controls) == [s.name for s in specs]
        for spec in specs:
            assert card.controls[spec.name].value() == pytest.approx(spec.default)


# --- edits ------------------------------------------------------------------------------


def test_slider_drag_is_one_undo_step(qtbot, inspector: Inspector, doc: Document) -> None:
    inspector.add_step("sharpen")
    slider = inspector.cards[0].controls["amount"].slider
    before_count = doc.undo_stack.count()
    slider.setSliderDown(True)  # a drag: many positions, one gesture
    for pos in (30, 40, 60):
        slider.setValue(pos)
    slider.setSliderDown(False)
    slider.sliderReleased.emit()
    recipe = doc.recipe(Target(0, None))
    assert recipe.steps[0].params.amount == pytest.approx(60 * 5.0 / 100)
    assert doc.undo_stack.count() == before_count + 1
    doc.undo_stack.undo()
    assert doc.recipe(Target(0, None)).steps[0].params.amount == 0.5
    # The widget follows the undo, without producing a new edit.
    assert inspector.cards[0].controls["amount"].value() == 0.5
    assert doc.undo_stack.count() == before_count + 1 and doc.undo_stack.index() == before_count
    # A second drag after release is a separate step.
    doc.undo_stack.redo()
    slider.setSliderDown(True)
    slider.setValue(10)
    slider.setSliderDown(False)
    assert doc.undo_stack.count() == before_count + 2


def test_enable_move_remove_reset(qtbot, inspector: Inspector, doc: Document) -> None:
    inspector.add_step("color")
    inspector.add_step("sharpen")
    card = inspector.cards[0]
    qtbot.mouseClick(card.buttons["down"], Qt.MouseButton.LeftButton)
    assert [s.op for s in doc.recipe(Target(0, None)).steps] == ["sharpen", "color"]
    assert [c.op for c in inspector.cards] == ["sharpen", "color"]
    inspector.cards[1].enabled_box.click()
    assert doc.recipe(Target(0, None)).steps[1].enabled is False
    assert not inspector.cards[1].controls["exposure"].isEnabled()
    inspector.cards[0].controls["amount"].spin.setValue(2.0)
    qtbot.mouseClick(inspector.cards[0].buttons["reset"], Qt.MouseButton.LeftButton)
    assert doc.recipe(Target(0, None)).steps[0].params.amount == 0.5
    qtbot.mouseClick(inspector.cards[0].buttons["remove"], Qt.MouseButton.LeftButton)
    assert [s.op for s in doc.recipe(Target(0, None)).steps] == ["color"]
    # add, add, move, bypass, value, reset, remove: seven steps back to the empty recipe
    for _ in range(7):
        doc.undo_stack.undo()
    assert doc.recipe(Target(0, None)) == Recipe()
    assert inspector.cards == [] and inspector.empty_label.isVisible()


def test_shot_scope_creates_own_recipe_and_can_follow_default_again(
        inspector: Inspector, doc: Document) -> None:
    inspector.add_step("color")  # clip default
    inspector.set_current_shot(1)
    inspector.set_scope(Inspector.SCOPE_SHOT)
    assert inspector.banner.isVisible() and "follows the clip default" in inspector.banner.text()
    inspector.cards[0].controls["exposure"].spin.setValue(1.5)
    assert doc.own_recipe(Target(0, 1)).steps[0].params.exposure == 1.5
    assert doc.recipe(Target(0, None)).steps[0].params.exposure == 0.0
    assert doc.plan().shot_at(25).recipe.steps[0].params.exposure == 1.5
    assert doc.plan().shot_at(5).recipe.steps[0].params.exposure == 0.0
    assert inspector.follow_default.isVisible()
    inspector.use_clip_default()
    assert doc.own_recipe(Target(0, 1)) is None
    assert inspector.cards[0].controls["exposure"].value() == 0.0


def test_invalid_value_is_a_message_not_a_crash(qtbot, inspector: Inspector) -> None:
    inspector.add_step("sharpen")
    with qtbot.waitSignal(inspector.message) as blocker:
        inspector.set_value(0, "amount", 99.0)
    assert "amount must be at most 5" in blocker.args[0]


def test_copy_paste_recipe_between_shots(inspector: Inspector, doc: Document) -> None:
    inspector.set_scope(Inspector.SCOPE_SHOT)
    inspector.set_current_shot(0)
    inspector.add_step("sharpen")
    inspector.cards[0].controls["radius"].spin.setValue(3.0)
    inspector.copy_recipe()
    inspector.set_current_shot(1)
    inspector.paste_recipe()
    assert doc.own_recipe(Target(0, 1)) == doc.own_recipe(Target(0, 0))
    assert inspector.cards[0].controls["radius"].value() == 3.0


def test_paste_of_foreign_text_is_refused(qtbot, inspector: Inspector) -> None:
    from PySide6.QtGui import QGuiApplication

    QGuiApplication.clipboard().setText("hello")
    with qtbot.waitSignal(inspector.message) as blocker:
        inspector.paste_recipe()
    assert "no Nitrate recipe" in blocker.args[0]


def test_save_and_apply_user_preset(inspector: Inspector, doc: Document) -> None:
    inspector.add_step("color")
    inspector.cards[0].controls["saturation"].spin.setValue(0.4)
    inspector.save_preset("faded print")
    assert any(p.name == "faded print" and not p.builtin for p in list_presets())
    inspector.clear_recipe()
    assert doc.recipe(Target(0, None)) == Recipe()
    inspector._fill_presets_menu()
    names = [a.text() for a in inspector.presets_menu.actions()]
    assert "faded print" in names and "Save current recipe as preset…" in names
    inspector.apply_preset("faded print")
    assert doc.recipe(Target(0, None)).steps[0].params.saturation == 0.4


def test_no_project_shows_empty_state(qtbot, isolated_user_dirs: Path) -> None:
    document = Document(recovery_dir=isolated_user_dirs / "r")
    widget = Inspector(document)
    qtbot.addWidget(widget)
    widget.show()
    assert not widget.add_button.isEnabled()
    assert "Open footage" in widget.empty_label.text()

