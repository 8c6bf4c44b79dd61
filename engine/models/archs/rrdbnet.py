"""RRDBNet: the generator of ESRGAN and Real-ESRGAN (Wang et al., 2018 and 2021).

A first convolution, a trunk of Residual-in-Residual Dense Blocks (each three dense blocks
of five 3×3 convolutions with growing concatenated inputs, residuals scaled by 0.2), a
trunk convolution added back, then ×2 nearest-neighbour upsamplings each followed by a
convolution, and two final convolutions. Real-ESRGAN's ×2 and ×1 models fold the input
with pixel-unshuffle (×2 or ×4) first and keep the ×4 tail, so the net scale is
4 / unshuffle.

Everything is inferred from the tensors: features (conv_first out), growth (dense conv1
out), blocks (highest body index), upsamplings (conv_up* count), unshuffle (conv_first in /
output channels). Two key layouts exist: Real-ESRGAN / basicsr ("conv_first", "body.N.rdb1
.conv1") and the original ESRGAN ("model.0", "model.1.sub.N.RDB1.conv1.0"); the original is
renamed to the first.
"""

from __future__ import annotations

import math
import re

import torch
from torch import nn
from torch.nn import functional as F

from engine.models.archs.common import Built, StateDict, count_indices, shape

_LRELU_SLOPE = 0.2
_RESIDUAL_SCALE = 0.2


class DenseBlock(nn.Module):
    """Five 3×3 convolutions, each seeing the block input and all earlier outputs."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        for i in range(1, 5):
            setattr(self, f"conv{i}", nn.Conv2d(features + (i - 1) * growth, growth, 3, 1, 1))
        self.conv5 = nn.Conv2d(features + 4 * growth, features, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = [x]
        for i in range(1, 5):
            conv = getattr(self, f"conv{i}")
            parts.append(F.leaky_relu(conv(torch.cat(parts, 1)), _LRELU_SLOPE))
        return self.conv5(torch.cat(parts, 1)) * _RESIDUAL_SCALE + x


class RRDB(nn.Module):
    """Three dense blocks in sequence with a scaled residual around them."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        self.rdb1 = DenseBlock(features, growth)
        self.rdb2 = DenseBlock(features, growth)
        self.rdb3 = DenseBlock(features, growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * _RESIDUAL_SCALE + x


class RRDBNet(nn.Module):
    """ESRGAN generator. Input (N, in_channels, H, W) levels 0-1; H and W multiples of
    `unshuffle`; output (N, out_channels, H·scale, W·scale)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3, features: int = 64,
                 blocks: int = 23, growth: int = 32, upsamplings: int = 2,
                 unshuffle: int = 1) -> None:
        super().__init__()
        self.unshuffle = unshuffle
        self.upsamplings = upsamplings
        self.conv_first = nn.Conv2d(in_channels * unshuffle * unshuffle, features, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(features, growth) for _ in range(blocks)))
        self.conv_body = nn.Conv2d(features, features, 3, 1, 1)
        for i in range(1, upsamplings + 1):
            setattr(self, f"conv_up{i}", nn.Conv2d(features, features, 3, 1, 1))
        self.conv_hr = nn.Conv2d(features, features, 3, 1, 1)
        self.conv_last = nn.Conv2d(features, out_channels, 3, 1, 1)

    @property
    def scale(self) -> int:
        return 2 ** self.upsamplings // self.unshuffle

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for i in range(1, self.upsamplings + 1):
            conv = getattr(self, f"conv_up{i}")
            feat = F.leaky_relu(conv(F.interpolate(feat, scale_factor=2.0, mode="nearest")),
                                _LRELU_SLOPE)
        return self.conv_last(F.leaky_relu(self.conv_hr(feat), _LRELU_SLOPE))


def detect(state: StateDict) -> bool:
    return ("conv_first.weight" in state and "conv_last.weight" in state
            and "body.0.rdb1.conv1.weight" in state) or _is_original_layout(state)


def build(state: StateDict) -> Built:
    original = _is_original_layout(state)
    if original:
        state = _rename_original(state)
    features, first_in = shape(state, "conv_first.weight")[:2]
    out_channels = shape(state, "conv_last.weight")[0]
    growth = shape(state, "body.0.rdb1.conv1.weight")[0]
    blocks = count_indices(state, "body.")
    upsamplings = sum(1 for k in state if re.fullmatch(r"conv_up\d+\.weight", k))
    # Pixel-unshuffle folds u² input pixels into channels: conv_first sees in·u² channels.
    # Models keep as many input as output channels, which makes u recoverable.
    ratio = first_in / out_channels
    unshuffle = round(math.sqrt(ratio)) if ratio >= 1 else 1
    if unshuffle * unshuffle * out_channels != first_in:
        unshuffle, in_channels = 1, first_in
    else:
        in_channels = out_channels
    net = RRDBNet(in_channels, out_channels, features, blocks, growth, upsamplings, unshuffle)
    name = "RRDBNet (ESRGAN)" if original else "RRDBNet (Real-ESRGAN)"
    return Built(
        module=net, state=state, architecture=name, scale=net.scale,
        input_channels=in_channels, output_channels=out_channels,
        purpose="super-resolution" if net.scale > 1 else "restoration",
        multiple_of=unshuffle,
        details=(("Blocks", str(blocks)), ("Features", str(features)),
                 ("Growth", str(growth))),
    )


def _is_original_layout(state: StateDict) -> bool:
    return "model.0.weight" in state and "model.1.sub.0.RDB1.conv1.0.weight" in state


def _rename_original(state: StateDict) -> StateDict:
    """Original ESRGAN names → basicsr names.

    The original is one nn.Sequential: model.0 first conv, model.1 the trunk (sub.N RRDBs,
    sub.<last> the trunk conv), then per ×2 upsampling [Upsample, Conv, LeakyReLU] and
    finally [Conv (hr), LeakyReLU, Conv (last)]: all convolutions after the trunk are the
    sorted model.K indices with K > 1; the last two are hr and last, the others upsamplings.
    """
    out: StateDict = {}
    trunk = re.compile(r"model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)")
    blocks = count_indices(state, "model.1.sub.") - 1  # the last sub is the trunk conv
    tail = sorted({int(m.group(1)) for k in state if (m := re.fullmatch(r"model\.(\d+)\.weight", k))
                   and int(m.group(1)) > 1})
    names = {index: f"conv_up{i + 1}" for i, index in enumerate(tail[:-2])}
    if len(tail) >= 2:
        names[tail[-2]] = "conv_hr"
        names[tail[-1]] = "conv_last"
    for key, value in state.items():
        if m := trunk.fullmatch(key):
            block, rdb, conv, kind = m.groups()
            out[f"body.{block}.rdb{rdb}.conv{conv}.{kind}"] = value
        elif m := re.fullmatch(r"model\.1\.sub\.(\d+)\.(weight|bias)", key):
            if int(m.group(1)) == blocks:
                out[f"conv_body.{m.group(2)}"] = value
            else:
                out[key] = value  # unexpected: keep, so loading names it
        elif m := re.fullmatch(r"model\.(\d+)\.(weight|bias)", key):
            index = int(m.group(1))
            prefix = "conv_first" if index == 0 else names.get(index, f"model.{index}")
            out[f"{prefix}.{m.group(2)}"] = value
        else:
            out[key] = value
    return out
