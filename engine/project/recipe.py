"""Recipes: the ordered operators applied to a shot. Immutable, so a snapshot can be handed
to a background thread without locks.

A step's numeric parameters may be keyframed: `Step.keyframes` holds, per parameter, keys
at absolute clip frames, and `Step.params_at(frame)` gives the parameters of one frame
(the static value of a parameter without keys; clamped to the first/last key outside them).
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from engine.errors import OperatorError
from engine.ops import registry
from engine.ops.base import Operator
from engine.ops.params import Params, coerce

INTERPOLATIONS = ("linear", "smooth", "hold")
"""How a keyframed value moves from one key to the next: a straight line; a monotone cubic
(eases in and out, never overshoots the keys); or held until the next key."""


@dataclass(frozen=True)
class Keyframe:
    """The value of one parameter at one frame.

    frame:         absolute clip frame index (0-based).
    value:         the parameter's value there (in the parameter's own unit).
    interpolation: how the value moves from this key to the next one (INTERPOLATIONS).
    """

    frame: int
    value: float
    interpolation: str = "linear"


KeyframeTrack = tuple[Keyframe, ...]


@lru_cache(maxsize=256)
def _tangents(keys: KeyframeTrack) -> tuple[float, ...]:
    """Slopes (value per frame) at each key for the smooth interpolation.

    Monotone cubic Hermite (Fritsch–Butland weighted harmonic mean of the neighbouring
    secants, zero where they change sign or at the ends): each segment stays between its
    two keys, so a smooth ramp never overshoots a parameter's range or the user's values;
    the zero end slopes make a two-key ramp ease in and out (smoothstep).
    """
    n = len(keys)
    out = [0.0] * n
    for k in range(1, n - 1):
        h0 = keys[k].frame - keys[k - 1].frame
        h1 = keys[k + 1].frame - keys[k].frame
        d0 = (keys[k].value - keys[k - 1].value) / h0
        d1 = (keys[k + 1].value - keys[k].value) / h1
        if d0 * d1 > 0.0:
            out[k] = 3.0 * (h0 + h1) / ((2.0 * h1 + h0) / d0 + (h1 + 2.0 * h0) / d1)
    return tuple(out)


def value_at(keys: KeyframeTrack, frame: float) -> float:
    """Value of a key track at `frame` (keys sorted by frame, at least one).

    Before the first key the first value holds, after the last the last value.
    """
    if frame <= keys[0].frame:
        return keys[0].value
    if frame >= keys[-1].frame:
        return keys[-1].value
    k = bisect.bisect_right([key.frame for key in keys], frame) - 1
    a, b = keys[k], keys[k + 1]
    if a.interpolation == "hold":
        return a.value
    span = b.frame - a.frame
    t = (frame - a.frame) / span
    if a.interpolation == "linear":
        return a.value + t * (b.value - a.value)
    slopes = _tangents(keys)
    t2, t3 = t * t, t * t * t
    return ((2 * t3 - 3 * t2 + 1) * a.value + (t3 - 2 * t2 + t) * span * slopes[k]
            + (-2 * t3 + 3 * t2) * b.value + (t3 - t2) * span * slopes[k + 1])


@dataclass(frozen=True)
class Step:
    """One operator of a recipe with its validated parameters.

    keyframes: (parameter name, keys sorted by frame) pairs, sorted by name; only numeric
               parameters; a keyframed parameter's static value in `params` is not used.
    """

    op: str
    params: Params
    enabled: bool = True
    keyframes: tuple[tuple[str, KeyframeTrack], ...] = ()

    @classmethod
    def create(cls, op: str, values: Mapping[str, Any] | None = None, enabled: bool = True) -> Step:
        """Validated step; bad ids or values raise OperatorError naming the operator."""
        op_cls = registry.operator_class(op)
        return cls(op, op_cls.parse_params(values or {}), enabled)

    def build(self) -> Operator:
        return registry.operator_class(self.op)(self.params)

    def with_values(self, **values: Any) -> Step:
        """Static values changed (validated); keyframes are kept."""
        merged = {**self.params.to_dict(), **values}
        params = registry.operator_class(self.op).parse_params(merged)
        return dataclasses.replace(self, params=params)

    # -- keyframes ------------------------------------------------------------------------
    def keyframes_for(self, param: str) -> KeyframeTrack:
        """Keys of `param` sorted by frame (empty when it is not keyframed)."""
        for name, keys in self.keyframes:
            if name == param:
                return keys
        return ()

    def _keyframable(self, param: str) -> None:
        try:
            spec = self.params.spec(param)
        except ValueError as exc:
            raise OperatorError(self.op, str(exc)) from None
        if not spec.keyframable:
            raise OperatorError(self.op, f"{param} is not numeric, so it cannot be keyframed")

    def _with_track(self, param: str, keys: KeyframeTrack) -> Step:
        tracks = dict(self.keyframes)
        if keys:
            tracks[param] = keys
        else:
            tracks.pop(param, None)
        return dataclasses.replace(self, keyframes=tuple(sorted(tracks.items())))

    def with_keyframe(
        self, param: str, frame: int, value: float, interpolation: str = "linear"
    ) -> Step:
        """A key of `param` at `frame` (absolute clip frame) added or replaced; the value is
        validated against the parameter's range (OperatorError naming the operator)."""
        self._keyframable(param)
        if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
            raise OperatorError(self.op, f"a keyframe needs a frame index >= 0, got {frame!r}")
        if interpolation not in INTERPOLATIONS:
            raise OperatorError(self.op, f"keyframe interpolation must be one of "
                                f"{', '.join(INTERPOLATIONS)}, got '{interpolation}'")
        try:
            number = float(coerce(self.params.spec(param), value))
        except ValueError as exc:
            raise OperatorError(self.op, f"keyframe at frame {frame}: {exc}") from None
        keys = [k for k in self.keyframes_for(param) if k.frame != frame]
        keys.append(Keyframe(frame, number, interpolation))
        keys.sort(key=lambda k: k.frame)
        return self._with_track(param, tuple(keys))

    def without_keyframe(self, param: str, frame: int) -> Step:
        """The key of `param` at `frame` removed (unchanged when there is none). Removing the
        last key makes the parameter static again, at its value in `params`."""
        return self._with_track(
            param, tuple(k for k in self.keyframes_for(param) if k.frame != frame))

    def without_keyframes(self, param: str) -> Step:
        """Every key of `param` removed."""
        return self._with_track(param, ())

    def params_at(self, frame: int) -> Params:
        """Parameters for clip frame `frame`: keyframed values interpolated (ints rounded)."""
        if not self.keyframes:
            return self.params
        values: dict[str, Any] = {}
        for name, keys in self.keyframes:
            spec = self.params.spec(name)
            value = value_at(keys, frame)
            # Interpolation stays between keys that were validated, but float rounding may
            # step a hair outside the range.
            if spec.minimum is not None:
                value = max(value, spec.minimum)
            if spec.maximum is not None:
                value = min(value, spec.maximum)
            values[name] = round(value) if spec.kind == "int" else value
        return dataclasses.replace(self.params, **values)

    def keyframe_frames(self) -> tuple[int, ...]:
        """Every frame that carries a key of any parameter, sorted."""
        return tuple(sorted({k.frame for _, keys in self.keyframes for k in keys}))

    # -- JSON -----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "params": self.params.to_dict(),
                               "enabled": self.enabled}
        if self.keyframes:  # left out when empty: recipes without keys read as before
            out["keyframes"] = {
                name: [{"frame": k.frame, "value": k.value, "interpolation": k.interpolation}
                       for k in keys]
                for name, keys in self.keyframes
            }
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Step:
        step = cls.create(str(data["op"]), dict(data.get("params", {})),
                          bool(data.get("enabled", True)))
        tracks = data.get("keyframes") or {}
        if not isinstance(tracks, Mapping):
            raise OperatorError(step.op, "keyframes must map parameter names to lists of keys")
        for name, keys in tracks.items():
            if not isinstance(keys, list):
                raise OperatorError(step.op, f"keyframes of {name} must be a list")
            for key in keys:
                if not isinstance(key, Mapping) or "frame" not in key or "value" not in key:
                    raise OperatorError(step.op, f"a keyframe of {name} lacks its frame or value")
                step = step.with_keyframe(str(name), key["frame"], key["value"],
                                          str(key.get("interpolation", "linear")))
        return step


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
