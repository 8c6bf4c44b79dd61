"""The one explicit list of operators. Nothing registers itself on import.

To add an operator: write its module in engine/ops/, import its class here and add it to
OPERATORS. Duplicate ids raise at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import OperatorError
from engine.ops.base import Operator
from engine.ops.color import ColorOperator
from engine.ops.deflicker import DeflickerOperator
from engine.ops.degrain import DegrainOperator
from engine.ops.dust import DustOperator
from engine.ops.lut import LutOperator
from engine.ops.model import ModelOperator
from engine.ops.reframe import ReframeOperator
from engine.ops.registration import RegistrationOperator
from engine.ops.scratch import ScratchOperator
from engine.ops.sharpen import SharpenOperator
from engine.ops.stabilize import StabilizeOperator
from engine.ops.temporal_average import TemporalAverageOperator
from engine.ops.upscale import UpscaleOperator

# In the order a restorer usually applies them (menus list them so).
OPERATORS: tuple[type[Operator], ...] = (
    DeflickerOperator,
    StabilizeOperator,
    DustOperator,
    ScratchOperator,
    DegrainOperator,
    RegistrationOperator,
    ColorOperator,
    LutOperator,
    ReframeOperator,
    ModelOperator,
    UpscaleOperator,
    SharpenOperator,
    TemporalAverageOperator,
)


def _index(ops: tuple[type[Operator], ...]) -> dict[str, type[Operator]]:
    by_id: dict[str, type[Operator]] = {}
    for op in ops:
        if op.id in by_id:
            raise RuntimeError(f"operator id '{op.id}' registered twice")
        by_id[op.id] = op
    return by_id


_BY_ID = _index(OPERATORS)


def operator_ids() -> tuple[str, ...]:
    return tuple(_BY_ID)


def operator_class(op_id: str) -> type[Operator]:
    """The operator class for `op_id`; unknown ids raise OperatorError listing the known."""
    try:
        return _BY_ID[op_id]
    except KeyError:
        known = ", ".join(sorted(_BY_ID))
        raise OperatorError(op_id, f"no such operator (operators: {known})") from None


def create(op_id: str, values: Mapping[str, Any] | None = None) -> Operator:
    """Build an operator from user values (validated, errors name the operator)."""
    return operator_class(op_id).from_mapping(values or {})
