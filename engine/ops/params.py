"""Operator parameters: frozen, validated dataclasses that describe themselves.

An operator declares its parameters once, as a frozen dataclass deriving from `Params`,
each field made with `param(...)`. The description (type, default, range, label, unit)
is enough for the Inspector to build controls and for `nitrate ops` to list them, with no
special cases. Values are validated once, when the Params object is built (never per frame).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

ParamKind = Literal["float", "int", "bool", "choice", "path"]

_META_KEY = "nitrate"


@dataclass(frozen=True)
class ParamSpec:
    """How one parameter looks to a user.

    `minimum`/`maximum` bound numeric values (inclusive); `step` is the natural increment a
    slider should use; `unit` is shown next to the value ("px", "frames", "%", "stops").
    `keyframable` marks numeric parameters that may vary within a shot.
    A "path" parameter (a `str` default, "" = none chosen) names a file the user picks with a
    file chooser; `file_types` lists the name patterns it offers ("*.safetensors").
    """

    name: str
    kind: ParamKind
    default: Any
    label: str
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    file_types: tuple[str, ...] = ()

    @property
    def keyframable(self) -> bool:
        return self.kind in ("float", "int")

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["choices"] = list(self.choices)
        out["file_types"] = list(self.file_types)
        return out


def param(
    default: Any,
    *,
    label: str,
    unit: str = "",
    minimum: float | None = None,
    maximum: float | None = None,
    step: float | None = None,
    choices: tuple[str, ...] = (),
    help: str = "",
    file_types: tuple[str, ...] = (),
) -> Any:
    """Declare a parameter field of a `Params` dataclass (see module docstring).

    The kind follows the default: bool, int, float, a `str` with `choices` (choice) or a
    `str` without (path, with `file_types` patterns for the file chooser)."""
    meta = {
        "label": label,
        "unit": unit,
        "minimum": minimum,
        "maximum": maximum,
        "step": step,
        "choices": tuple(choices),
        "help": help,
        "file_types": tuple(file_types),
    }
    return dataclasses.field(default=default, metadata={_META_KEY: meta})


def _kind_of(default: Any, choices: tuple[str, ...]) -> ParamKind:
    if choices:
        return "choice"
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, str):
        return "path"
    raise TypeError(f"unsupported parameter default {default!r}")


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Params:
    """Base of every operator's parameters. Subclasses are frozen dataclasses."""

    _specs_cache: ClassVar[dict[type, tuple[ParamSpec, ...]]] = {}

    @classmethod
    def specs(cls) -> tuple[ParamSpec, ...]:
        cached = Params._specs_cache.get(cls)
        if cached is not None:
            return cached
        specs = []
        for f in dataclasses.fields(cls):
            meta = f.metadata.get(_META_KEY)
            if meta is None:
                raise TypeError(f"{cls.__qualname__}.{f.name} must be declared with param()")
            specs.append(
                ParamSpec(
                    name=f.name,
                    kind=_kind_of(f.default, meta["choices"]),
                    default=f.default,
                    **meta,
                )
            )
        result = tuple(specs)
        Params._specs_cache[cls] = result
        return result

    @classmethod
    def spec(cls, name: str) -> ParamSpec:
        for s in cls.specs():
            if s.name == name:
                return s
        known = ", ".join(s.name for s in cls.specs()) or "none"
        raise ValueError(f"unknown parameter '{name}' (parameters: {known})")

    def __post_init__(self) -> None:
        for s in self.specs():
            object.__setattr__(self, s.name, coerce(s, getattr(self, s.name)))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Self:
        """Build from a mapping (JSON or CLI strings); unknown names and bad values raise
        ValueError with a message naming the parameter."""
        for name in values:
            cls.spec(name)
        return cls(**dict(values))

    def replace(self, **changes: Any) -> Self:
        """A copy with some values changed (validated)."""
        return self.from_mapping({**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        return {s.name: getattr(self, s.name) for s in self.specs()}


def coerce(spec: ParamSpec, value: Any) -> Any:
    """Validate and convert one value (strings from the CLI are parsed)."""
    name = spec.name
    if spec.kind == "bool":
        if isinstance(value, str):
            low = value.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError(f"{name} must be true or false, got '{value}'")
        if isinstance(value, bool | int) and value in (0, 1):
            return bool(value)
        raise ValueError(f"{name} must be true or false, got {value!r}")
    if spec.kind == "path":
        return _coerce_path(name, value)
    if spec.kind == "choice":
        value = str(value)
        if value not in spec.choices:
            raise ValueError(f"{name} must be one of {', '.join(spec.choices)}, got '{value}'")
        return value
    try:
        if isinstance(value, bool):
            raise ValueError
        if spec.kind == "int":
            number: float = float(value) if isinstance(value, str) else value
            if not float(number).is_integer():
                raise ValueError
            number = int(number)
        else:
            number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    unit = f" {spec.unit}" if spec.unit else ""
    if spec.minimum is not None and number < spec.minimum:
        raise ValueError(f"{name} must be at least {spec.minimum:g}{unit}, got {number:g}")
    if spec.maximum is not None and number > spec.maximum:
        raise ValueError(f"{name} must be at most {spec.maximum:g}{unit}, got {number:g}")
    return number


def _coerce_path(name: str, value: Any) -> str:
    """A file path as text ("" = none). The file is not opened here: a project may be loaded
    on a machine where the file lives elsewhere; the operator reports a missing file."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a file path, got {value!r}")
    if any(ch in value for ch in "\0\n\r"):
        raise ValueError(f"{name} must be a file path on one line, got {value!r}")
    return value.strip()
