"""Recipes: the ordered operators applied to a shot. Immutable, so a snapshot can be handed
to a background thread without locks."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.ops import registry
from engine.ops.base import Operator
from engine.ops.params import Params


@dataclass(frozen=True)
class Step:
    """One operator of a recipe with its validated parameters."""

    op: str
    params: Params
    enabled: bool = True

    @classmethod
    def create(cls, op: str, values: Mapping[str, Any] | None = None, enabled: bool = True) -> Step:
        """Validated step; bad ids or values raise OperatorError naming the operator."""
        op_cls = registry.operator_class(op)
        return cls(op, op_cls.parse_params(values or {}), enabled)

    def build(self) -> Operator:
        return registry.operator_class(self.op)(self.params)

    def with_values(self, **values: Any) -> Step:
        merged = {**self.params.to_dict(), **values}
        return Step.create(self.op, merged, self.enabled)

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "params": self.params.to_dict(), "enabled": self.enabled}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Step:
        return cls.create(str(data["op"]), dict(data.get("params", {})), bool(data.get("enabled", True)))


@dataclass(frozen=True)
class Recipe:
    """An ordered tuple of steps. Disabled steps are kept (the UI shows them) but not run."""

    steps: tuple[Step, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, steps: Iterable[Step]) -> Recipe:
        return cls(tuple(steps))

    @classmethod
    def from_ops(cls, op_ids: Iterable[str]) -> Recipe:
        """Default-parameter recipe from operator ids, e.g. from `--ops dust,scratch`."""
        return cls(tuple(Step.create(op) for op in op_ids))

    @property
    def active(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.enabled)

    def with_values(self, op: str, **values: Any) -> Recipe:
        """Change parameters of every step of operator `op` (as `--set op.param=v` does)."""
        if not any(s.op == op for s in self.steps):
            from engine.errors import OperatorError

            raise OperatorError(op, "is not in the recipe, so its parameters cannot be set")
        return Recipe(tuple(s.with_values(**values) if s.op == op else s for s in self.steps))

    def replace_step(self, position: int, step: Step) -> Recipe:
        steps = list(self.steps)
        steps[position] = step
        return Recipe(tuple(steps))

    def insert(self, position: int, step: Step) -> Recipe:
        steps = list(self.steps)
        steps.insert(position, step)
        return Recipe(tuple(steps))

    def remove(self, position: int) -> Recipe:
        steps = list(self.steps)
        del steps[position]
        return Recipe(tuple(steps))

    def move(self, position: int, new_position: int) -> Recipe:
        steps = list(self.steps)
        steps.insert(new_position, steps.pop(position))
        return Recipe(tuple(steps))

    def to_json(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.steps]

    @classmethod
    def from_json(cls, data: Iterable[Mapping[str, Any]]) -> Recipe:
        return cls(tuple(Step.from_json(d) for d in data))

    def fingerprint(self) -> str:
        """Stable hash of the active steps (used in cache keys)."""
        text = json.dumps([s.to_json() for s in self.active], sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:16]
