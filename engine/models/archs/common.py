"""What every architecture module returns, and small helpers for reading state dicts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch
from torch import nn

StateDict = dict[str, torch.Tensor]


@dataclass
class Built:
    """An architecture instantiated from a state dict (weights not yet loaded).

    module:    the network; called with (1, input_channels, H, W) levels 0-1, H and W
               multiples of `multiple_of`; returns (1, output_channels, H·scale, W·scale).
    state:     the state dict renamed to the module's parameter names.
    weights_loaded: True when the builder already loaded `state` (spandrel does).
    """

    module: nn.Module
    state: StateDict
    architecture: str
    scale: int
    input_channels: int
    output_channels: int
    purpose: str
    multiple_of: int = 1
    supports_half: bool = True
    supports_bfloat16: bool = True
    details: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    weights_loaded: bool = False


def shape(state: StateDict, key: str) -> tuple[int, ...]:
    """Shape of `state[key]`; KeyError names the missing tensor."""
    return tuple(state[key].shape)


def count_indices(state: StateDict, prefix: str) -> int:
    """1 + the highest N among keys "<prefix>N.…" (0 when none): nn.Sequential lengths."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    found = [int(m.group(1)) for k in state if (m := pattern.match(k))]
    return max(found) + 1 if found else 0
