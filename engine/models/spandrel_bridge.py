"""Optional: architectures we do not implement, through spandrel when it is installed.

spandrel (chaiNNer's model loader) recognises dozens of architectures from a state dict:
SwinIR, HAT, DAT, SCUNet, DDColor, OmniSR, SPAN, GFPGAN, … It imports torchvision at import
time, and torchvision has no CPU wheel matching our torch on every platform, so it is not a
dependency: `pip install nitrate[models]` (the `models` extra) adds it where it installs.

Safety is unchanged: spandrel only ever receives the tensors that `engine.models.files`
already read (safetensors or `torch.load(weights_only=True)`); we never let it open a file.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from engine.errors import OperatorError
from engine.models.archs.common import Built, StateDict

_PURPOSES = {"SR": "super-resolution", "FaceSR": "face restoration",
             "Restoration": "restoration", "Inpainting": "inpainting"}
_COLOURISERS = {"DDColor"}

_import_problem: str | None = None
_spandrel: Any = None


def spandrel_module() -> Any | None:
    """The spandrel module, or None when it is missing or fails to import (the reason is
    kept for error messages, see `unavailable_reason`)."""
    global _spandrel, _import_problem
    if _spandrel is None and _import_problem is None:
        try:
            import spandrel
        except Exception as exc:  # ImportError, or torchvision failing inside its import
            _import_problem = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        else:
            _spandrel = spandrel
    return _spandrel


def unavailable_reason() -> str:
    spandrel_module()
    return _import_problem or ""


class _DescriptorModule(nn.Module):
    """Lets a spandrel descriptor travel like any module (.to(device, dtype), parameters).

    Calling the descriptor (not its bare model) keeps spandrel's per-architecture input and
    output handling (DDColor's colour-space conversion, padding rules, clamping).
    """

    def __init__(self, descriptor: Any) -> None:
        super().__init__()
        self.inner = descriptor.model
        self._descriptor = descriptor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._descriptor(x)


def build_with_spandrel(state: StateDict, path: str, operator: str) -> Built | None:
    """A Built for `state` through spandrel, or None when spandrel is not installed.
    Raises OperatorError when spandrel is installed but cannot use the file."""
    spandrel = spandrel_module()
    if spandrel is None:
        return None
    try:
        descriptor = spandrel.ModelLoader(device=torch.device("cpu")).load_from_state_dict(state)
    except Exception as exc:  # spandrel raises UnsupportedModelError and assorted shape errors
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise OperatorError(operator, f"{path}: architecture not recognised ({first})") from None
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        kind = _PURPOSES.get(str(descriptor.purpose), str(descriptor.purpose))
        raise OperatorError(operator, f"{path}: {kind} models need a mask and are not supported")
    name = str(descriptor.architecture.name)
    purpose = "colourisation" if name in _COLOURISERS else \
        _PURPOSES.get(str(descriptor.purpose), str(descriptor.purpose))
    requirements = descriptor.size_requirements
    details = tuple((k.replace("_", " ").capitalize(), str(v)) for k, v in (
        ("minimum_size", getattr(requirements, "minimum", 0)),
        ("tiling", getattr(descriptor.tiling, "name", descriptor.tiling)),
    ) if v)
    return Built(
        module=_DescriptorModule(descriptor).eval(), state=state, architecture=name,
        scale=int(descriptor.scale), input_channels=int(descriptor.input_channels),
        output_channels=int(descriptor.output_channels), purpose=purpose,
        multiple_of=max(1, int(getattr(requirements, "multiple_of", 1))),
        supports_half=bool(descriptor.supports_half),
        supports_bfloat16=bool(descriptor.supports_bfloat16),
        details=details, weights_loaded=True,
    )
