"""Operator parameters: validated once, errors name the operator and the parameter."""

from __future__ import annotations

import pytest

from engine.errors import OperatorError
from engine.ops import registry
from engine.project.recipe import Recipe


@pytest.mark.parametrize("op_id", registry.operator_ids())
def test_every_operator_describes_its_parameters(op_id: str) -> None:
    cls = registry.operator_class(op_id)
    assert cls.label and cls.description
    op = cls()  # defaults are valid
    for spec in cls.Params.specs():
        assert spec.label
        assert spec.kind in ("float", "int", "bool", "choice", "path")
        if spec.kind in ("float", "int"):
            assert spec.minimum is not None and spec.maximum is not None
            assert spec.minimum <= spec.default <= spec.maximum
        if spec.kind == "choice":
            assert spec.default in spec.choices
    assert op.temporal_radius >= 0


def test_out_of_range_and_unknown_values_name_operator_and_parameter() -> None:
    with pytest.raises(OperatorError, match=r"^sharpen: amount must be at most 5"):
        registry.create("sharpen", {"amount": 99})
    with pytest.raises(OperatorError, match=r"^sharpen: unknown parameter 'size'"):
        registry.create("sharpen", {"size": 1})
    with pytest.raises(OperatorError, match=r"^temporal_average: radius must be a number"):
        registry.create("temporal_average", {"radius": "wide"})
    with pytest.raises(OperatorError, match=r"^nope: no such operator"):
        registry.create("nope")


def test_cli_strings_are_parsed() -> None:
    op = registry.create("temporal_average", {"radius": "3"})
    assert op.params.radius == 3 and op.temporal_radius == 3
    recipe = Recipe.from_ops(["color"]).with_values("color", exposure="-0.5")
    assert recipe.steps[0].params.exposure == -0.5


def test_params_are_immutable() -> None:
    op = registry.create("color")
    with pytest.raises(AttributeError):
        op.params.exposure = 2.0  # type: ignore[misc]


def test_setting_an_operator_that_is_not_in_the_recipe_is_an_error() -> None:
    with pytest.raises(OperatorError, match="^sharpen: is not in the recipe"):
        Recipe.from_ops(["color"]).with_values("sharpen", amount=1)
