"""NAFNet: "Simple Baselines for Image Restoration" (Chen et al., 2022), the
nonlinear-activation-free U-Net used for denoising (SIDD) and deblurring (GoPro, REDS).

An intro convolution, an encoder of NAF blocks with 2×2 stride-2 downsamplings (doubling
channels), middle blocks, a decoder with 1×1 convolutions + pixel-shuffle upsamplings
(halving channels) and skip additions, an ending convolution, and the input added back.
A NAF block is LayerNorm → 1×1 expand → 3×3 depthwise → SimpleGate (one half of the
channels times the other) → simplified channel attention (global average → 1×1 scale) → 1×1
back, scaled by a learned β into a residual; then LayerNorm → 1×1 expand → SimpleGate →
1×1 back, scaled by γ into a second residual.

Every block's widths are read from its own tensors, so any width / expansion / block count
loads. Inputs are padded to a multiple of 2^(number of downsamplings).

Tiling note: the channel attention averages over the whole (tile) image, so tiles differ
slightly from a whole-frame pass; feathered overlaps hide the seams.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from engine.models.archs.common import Built, StateDict, count_indices, shape

_EPS = 1e-6


class LayerNorm2d(nn.Module):
    """Normalise each pixel's channel vector (mean 0, variance 1), then scale and shift."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        y = (x - mean) / torch.sqrt(var + _EPS)
        return y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


def _simple_gate(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=1)
    return a * b


class NAFBlock(nn.Module):
    def __init__(self, channels: int, dw_channels: int, ffn_channels: int) -> None:
        super().__init__()
        half = dw_channels // 2
        self.conv1 = nn.Conv2d(channels, dw_channels, 1)
        self.conv2 = nn.Conv2d(dw_channels, dw_channels, 3, 1, 1, groups=dw_channels)
        self.conv3 = nn.Conv2d(half, channels, 1)
        # Index 1 of a Sequential (after the parameter-free pooling) to match the published
        # weights' names ("sca.1.weight").
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(half, half, 1))
        self.conv4 = nn.Conv2d(channels, ffn_channels, 1)
        self.conv5 = nn.Conv2d(ffn_channels // 2, channels, 1)
        self.norm1 = LayerNorm2d(channels)
        self.norm2 = LayerNorm2d(channels)
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x = _simple_gate(self.conv2(self.conv1(self.norm1(inp))))
        x = self.conv3(x * self.sca(x))
        y = inp + x * self.beta
        x = self.conv5(_simple_gate(self.conv4(self.norm2(y))))
        return y + x * self.gamma


class NAFNet(nn.Module):
    """Input (N, C, H, W) levels 0-1 → same shape. Pads H, W to a multiple of 2^levels."""

    def __init__(self, intro: nn.Conv2d, encoders: list[nn.Sequential], downs: list[nn.Conv2d],
                 middle: nn.Sequential, ups: list[nn.Sequential], decoders: list[nn.Sequential],
                 ending: nn.Conv2d) -> None:
        super().__init__()
        self.intro = intro
        self.encoders = nn.ModuleList(encoders)
        self.downs = nn.ModuleList(downs)
        self.middle_blks = middle
        self.ups = nn.ModuleList(ups)
        self.decoders = nn.ModuleList(decoders)
        self.ending = ending
        self.multiple = 2 ** len(downs)

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        h, w = inp.shape[-2:]
        pad_h, pad_w = (-h) % self.multiple, (-w) % self.multiple
        if pad_h or pad_w:
            # Reflection needs the pad to be smaller than the side; tiny inputs replicate.
            mode = "reflect" if pad_h < h and pad_w < w else "replicate"
            inp = F.pad(inp, (0, pad_w, 0, pad_h), mode=mode)
        x = self.intro(inp)
        skips = []
        for encoder, down in zip(self.encoders, self.downs, strict=True):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.middle_blks(x)
        for decoder, up, skip in zip(self.decoders, self.ups, reversed(skips), strict=True):
            x = decoder(up(x) + skip)
        x = self.ending(x) + inp
        return x[..., :h, :w]


def detect(state: StateDict) -> bool:
    return ("intro.weight" in state and "ending.weight" in state
            and any(k.startswith("middle_blks.") and k.endswith(".sca.1.weight") for k in state))


def _blocks(state: StateDict, prefix: str) -> nn.Sequential:
    blocks = []
    for j in range(count_indices(state, prefix)):
        dw, channels = shape(state, f"{prefix}{j}.conv1.weight")[:2]
        ffn = shape(state, f"{prefix}{j}.conv4.weight")[0]
        blocks.append(NAFBlock(channels, dw, ffn))
    return nn.Sequential(*blocks)


def _conv(state: StateDict, key: str, **kwargs: int) -> nn.Conv2d:
    out_ch, in_ch, kh, _ = shape(state, f"{key}.weight")
    return nn.Conv2d(in_ch, out_ch, kh, bias=f"{key}.bias" in state, **kwargs)


def build(state: StateDict) -> Built:
    levels = count_indices(state, "encoders.")
    encoders = [_blocks(state, f"encoders.{i}.") for i in range(levels)]
    downs = [_conv(state, f"downs.{i}", stride=2) for i in range(levels)]
    ups = [nn.Sequential(_conv(state, f"ups.{i}.0"), nn.PixelShuffle(2)) for i in range(levels)]
    decoders = [_blocks(state, f"decoders.{i}.") for i in range(levels)]
    middle = _blocks(state, "middle_blks.")
    net = NAFNet(_conv(state, "intro", padding=1), encoders, downs, middle, ups, decoders,
                 _conv(state, "ending", padding=1))
    width, channels = shape(state, "intro.weight")[:2]
    blocks = "/".join(str(len(e)) for e in encoders) + f" · {len(middle)} · " + \
        "/".join(str(len(d)) for d in decoders)
    return Built(
        module=net, state=state, architecture="NAFNet", scale=1,
        input_channels=channels, output_channels=shape(state, "ending.weight")[0],
        purpose="restoration", multiple_of=net.multiple,
        # LayerNorm's variance of fp16 activations overflows on bright, busy images.
        supports_half=False,
        details=(("Width", str(width)), ("Blocks (encoder · middle · decoder)", blocks)),
    )


def create(channels: int = 3, width: int = 32, encoder_blocks: tuple[int, ...] = (2, 2, 4, 8),
           middle_blocks: int = 12, decoder_blocks: tuple[int, ...] = (2, 2, 2, 2),
           dw_expand: int = 2, ffn_expand: int = 2) -> NAFNet:
    """A NAFNet from hyper-parameters (the defaults are NAFNet-SIDD-width32), random weights;
    for tests and benchmarks."""
    def stage(count: int, c: int) -> nn.Sequential:
        return nn.Sequential(*(NAFBlock(c, c * dw_expand, c * ffn_expand) for _ in range(count)))

    encoders, downs, ups, decoders = [], [], [], []
    c = width
    for count in encoder_blocks:
        encoders.append(stage(count, c))
        downs.append(nn.Conv2d(c, 2 * c, 2, 2))
        c *= 2
    middle = stage(middle_blocks, c)
    for count in decoder_blocks:
        ups.append(nn.Sequential(nn.Conv2d(c, c * 2, 1, bias=False), nn.PixelShuffle(2)))
        c //= 2
        decoders.append(stage(count, c))
    return NAFNet(nn.Conv2d(channels, width, 3, 1, 1), encoders, downs, middle, ups, decoders,
                  nn.Conv2d(width, channels, 3, 1, 1))
