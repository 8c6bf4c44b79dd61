"""SRVGGNetCompact: Real-ESRGAN's compact super-resolution net (realesr-general-x4v3,
realesr-animevideov3 and many community models).

A plain stack of 3×3 convolutions with PReLU activations at low resolution; the last
convolution produces out·scale² channels that pixel-shuffle rearranges into the upscaled
image, added to a nearest-neighbour upscale of the input (so the net learns the residual).

Inferred from the tensors: features (body.0 out), convolutions (body length), scale
(sqrt(last out / channels)). The state is one nn.Sequential named "body": convolutions at
even indices, PReLU weights (one per feature) at odd ones.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from engine.models.archs.common import Built, StateDict, count_indices, shape


class SRVGGNetCompact(nn.Module):
    """Input (N, channels, H, W) levels 0-1 → (N, channels, H·scale, W·scale)."""

    def __init__(self, channels: int = 3, features: int = 64, convolutions: int = 16,
                 scale: int = 4) -> None:
        super().__init__()
        self.scale = scale
        layers: list[nn.Module] = [nn.Conv2d(channels, features, 3, 1, 1),
                                   nn.PReLU(num_parameters=features)]
        for _ in range(convolutions):
            layers += [nn.Conv2d(features, features, 3, 1, 1), nn.PReLU(num_parameters=features)]
        layers.append(nn.Conv2d(features, channels * scale * scale, 3, 1, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.pixel_shuffle(self.body(x), self.scale)
        return out + F.interpolate(x, scale_factor=float(self.scale), mode="nearest")


def detect(state: StateDict) -> bool:
    if "body.0.weight" not in state or "body.1.weight" not in state:
        return False
    last = count_indices(state, "body.") - 1
    return (state["body.0.weight"].ndim == 4 and state["body.1.weight"].ndim == 1
            and last >= 2 and last % 2 == 0 and f"body.{last}.weight" in state
            and state[f"body.{last}.weight"].ndim == 4)


def build(state: StateDict) -> Built:
    features, channels = shape(state, "body.0.weight")[:2]
    last = count_indices(state, "body.") - 1
    convolutions = last // 2 - 1
    scale = round(math.sqrt(shape(state, f"body.{last}.weight")[0] / channels))
    net = SRVGGNetCompact(channels, features, convolutions, scale)
    return Built(
        module=net, state=state, architecture="SRVGGNetCompact (Real-ESRGAN compact)",
        scale=scale, input_channels=channels, output_channels=channels,
        purpose="super-resolution" if scale > 1 else "restoration",
        details=(("Convolutions", str(convolutions)), ("Features", str(features))),
    )
