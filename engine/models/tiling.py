"""Tiled inference: run a network over a large image one overlapping tile at a time.

Memory is bounded by the tile (activations of big nets at 4× reach gigabytes for a whole
720p frame), and the result has no seams: each tile's output is weighted by a raised-cosine
ramp across the overlap with its neighbours (0 near the tile's edge, where the network saw
a fake border, 1 inside), and the weighted outputs are normalised by the sum of weights. The
two ramps of an overlap are complementary, so where both tiles agree the blend is exact:
networks whose receptive field (radius) is within a quarter of the overlap give the untiled
result, and larger ones differ only by what a tile's border changes inside the tile.

Sizes are in input pixels; the output is `scale` times larger.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def tile_starts(length: int, tile: int, overlap: int) -> tuple[list[int], int]:
    """(start offsets, tile size) of equal tiles covering [0, length) pixels with at least
    `overlap` pixels shared between neighbours.

    As few tiles as `tile` allows, then shrunk to share the length evenly: shifting only the
    last tile back instead would make the work up to 1.7× the frame at 720p.
    """
    if length <= tile:
        return [0], length
    count = math.ceil((length - overlap) / (tile - overlap))
    size = min(tile, math.ceil((length + (count - 1) * overlap) / count))
    return [round(i * (length - size) / (count - 1)) for i in range(count)], size


def _ramp(size: int, lead: int, trail: int, device: torch.device) -> torch.Tensor:
    """Weights along one axis of a tile of `size` output pixels whose first `lead` and last
    `trail` pixels overlap a neighbour.

    Over an overlap of o pixels the weight is 0 for the o/4 pixels at the tile's edge (where
    the network saw a fake border), rises as sin² over the middle o/2 and is 1 beyond; the
    facing tile's ramp is the complementary cos², so the two sum to exactly 1 (the half-pixel
    offset makes the sampling symmetric).
    """
    w = torch.ones(size, dtype=torch.float32, device=device)
    if lead > 0:
        w[:lead] *= _rise(lead, device)
    if trail > 0:
        w[size - trail:] *= _rise(trail, device).flip(0)
    return w


def _rise(length: int, device: torch.device) -> torch.Tensor:
    d = torch.arange(length, dtype=torch.float32, device=device) + 0.5
    t = ((d - length / 4) / (length / 2)).clamp(0.0, 1.0)
    return torch.sin(t * (math.pi / 2)) ** 2


def _axis(length: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(start, size, lead, trail) of each tile along an axis, in input pixels."""
    starts, size = tile_starts(length, tile, overlap)
    out = []
    for i, start in enumerate(starts):
        lead = (starts[i - 1] + size - start) if i > 0 else 0
        trail = (start + size - starts[i + 1]) if i + 1 < len(starts) else 0
        out.append((start, size, lead, trail))
    return out


def run_tiled(
    call: Callable[[torch.Tensor], torch.Tensor],
    image: torch.Tensor,
    scale: int,
    out_channels: int,
    tile: int,
    overlap: int,
) -> torch.Tensor:
    """`call` applied to `image` (1, C, H, W) tile by tile → float32 (1, out_channels,
    H·scale, W·scale) on the image's device.

    tile:    largest tile side (input pixels); 0 = the whole image at once.
    overlap: pixels shared by neighbouring tiles (input pixels), at most tile / 2 (more
             would more than double the work for no benefit).
    """
    _, _, h, w = image.shape
    if tile <= 0 or (h <= tile and w <= tile):
        return call(image).float()
    overlap = max(0, min(overlap, tile // 2))
    out = torch.zeros((1, out_channels, h * scale, w * scale), dtype=torch.float32,
                      device=image.device)
    weight = torch.zeros((1, 1, h * scale, w * scale), dtype=torch.float32, device=image.device)
    rows, cols = _axis(h, tile, overlap), _axis(w, tile, overlap)
    for y0, th, y_lead, y_trail in rows:
        wy = _ramp(th * scale, y_lead * scale, y_trail * scale, image.device)
        for x0, tw, x_lead, x_trail in cols:
            wx = _ramp(tw * scale, x_lead * scale, x_trail * scale, image.device)
            patch = image[..., y0:y0 + th, x0:x0 + tw]
            result = call(patch).float()
            wt = wy[:, None] * wx[None, :]
            ys, xs = slice(y0 * scale, (y0 + th) * scale), slice(x0 * scale, (x0 + tw) * scale)
            out[..., ys, xs] += result * wt
            weight[..., ys, xs] += wt
    # Every pixel has weight 1 from its pairs of complementary ramps; the floor only guards
    # the division against rounding.
    return out / weight.clamp_min(1e-12)
