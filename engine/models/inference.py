"""Run a loaded model on one engine frame: numpy (H, W, 3) RGB levels 0-1 in, numpy
(H·scale, W·scale, 3) out.

Channels are adapted at this boundary: a grey model sees the frame's Rec. 709 luma and its
output is repeated into R, G and B; an RGBA model gets an opaque alpha and its alpha output
is dropped. Outputs are clamped to 0-1 (networks trained on 0-1 targets overshoot only as
artefacts).
"""

from __future__ import annotations

import numpy as np
import torch

from engine.models.loader import LoadedModel
from engine.models.tiling import run_tiled

_LUMA = (0.2126, 0.7152, 0.0722)


def apply_model(model: LoadedModel, frame: np.ndarray, tile: int = 256,
                overlap: int = 16) -> np.ndarray:
    """`model` over `frame` in tiles of at most `tile` input pixels (0 = whole frame)
    overlapping by `overlap` pixels → float32 (H·scale, W·scale, 3), levels 0-1."""
    info = model.info
    # A view of the frame as (1, 3, H, W): no copy until the device/dtype transfer.
    x = torch.from_numpy(np.ascontiguousarray(frame, dtype=np.float32)).permute(2, 0, 1)[None]
    if info.input_channels == 1:
        r, g, b = _LUMA
        x = x[:, 0:1] * r + x[:, 1:2] * g + x[:, 2:3] * b
    elif info.input_channels == 4:
        x = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
    x = x.to(device=model.device, dtype=model.dtype)
    memory_format = torch.channels_last if model.channels_last else torch.contiguous_format

    def call(patch: torch.Tensor) -> torch.Tensor:
        return model(patch.contiguous(memory_format=memory_format))

    with torch.inference_mode():
        y = run_tiled(call, x, info.scale, info.output_channels, tile, overlap)
        if info.output_channels == 1:
            y = y.expand(-1, 3, -1, -1)
        elif info.output_channels > 3:
            y = y[:, :3]
        y = y.clamp_(0.0, 1.0) if y.is_contiguous() else y.clamp(0.0, 1.0)
        out = y[0].permute(1, 2, 0).to("cpu", torch.float32).numpy()
    return np.ascontiguousarray(out)
