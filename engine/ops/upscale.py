"""Upscale the picture: classical Lanczos with detail preservation, or a neural model.

Classical: Lanczos-4 resampling (sharp, little aliasing), then a light unsharp mask on the
luma only, which restores the crispness resampling softens without colour fringes; the
sharpening radius grows with the factor because the softening does.

Neural: a super-resolution model file (ESRGAN, Real-ESRGAN, …) through the same machinery
as the `model` operator; when the model's native scale differs from the requested size its
output is resized (area average down, Lanczos up), so a 4× model serves a 2× export.

The size is either a factor (1.5, 2, 3, 4, …) or a target width in source pixels (the height
keeps the aspect ratio). Both follow the preview scale, so a half-resolution preview of a
2× upscale is the source size. An export is sized from its first restored frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.errors import OperatorError
from engine.models.info import ModelInfo
from engine.ops.base import Operator, Result, Window
from engine.ops.color import LUMA_WEIGHTS
from engine.ops.model import (
    MODEL_FILE_TYPES,
    NeuralRunner,
    overlap_param,
    precision_param,
    resize_to,
    tile_param,
)
from engine.ops.params import Params, param

METHODS = ("lanczos", "model")


@dataclass(frozen=True)
class UpscaleParams(Params):
    method: str = param("lanczos", label="Method", choices=METHODS,
                        help="lanczos: classical resampling; model: a super-resolution model file")
    factor: float = param(2.0, label="Factor", unit="×", minimum=1.0, maximum=8.0, step=0.5,
                          help="Output size / input size (ignored when a width is set)")
    width: int = param(0, label="Target width", unit="px", minimum=0, maximum=16384, step=2,
                       help="Output width in pixels at full resolution; 0 = use the factor")
    detail: float = param(0.4, label="Detail", minimum=0.0, maximum=2.0, step=0.05,
                          help="Luma sharpening after Lanczos (0 = plain Lanczos)")
    model_path: str = param("", label="Model file", file_types=MODEL_FILE_TYPES,
                            help="Super-resolution model for the model method")
    tile: int = tile_param()
    overlap: int = overlap_param()
    precision: str = precision_param()


class UpscaleOperator(Operator):
    id = "upscale"
    label = "Upscale"
    description = "Enlarge the picture: Lanczos with luma detail, or a super-resolution model."
    Params = UpscaleParams

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        p = self.params
        assert isinstance(p, UpscaleParams)
        if p.method == "model" and not p.model_path:
            raise OperatorError(self.id, "the model method needs a model file (set "
                                "upscale.model_path=FILE)")
        self._runner = NeuralRunner(self.id, p.model_path if p.method == "model" else "",
                                    p.tile, p.overlap, p.precision)

    def describe(self) -> ModelInfo | None:
        """The model file's description (method "model"), else None. Loads it: call off
        the GUI thread."""
        return self._runner.describe()

    def output_size(self, width: int, height: int, scale: float = 1.0) -> tuple[int, int]:
        """(width, height) in pixels of the output for an input of width × height pixels
        at preview `scale` (the target width is in full-resolution pixels)."""
        p = self.params
        assert isinstance(p, UpscaleParams)
        if p.width > 0:
            out_w = max(1, round(p.width * scale))
            return out_w, max(1, round(height * out_w / width))
        return max(1, round(width * p.factor)), max(1, round(height * p.factor))

    def process(self, window: Window) -> Result:
        p = self.params
        assert isinstance(p, UpscaleParams)
        frame = window.current
        h, w = frame.shape[:2]
        out_w, out_h = self.output_size(w, h, window.scale)
        if (out_w, out_h) == (w, h):
            return Result(frame)
        if p.method == "model":
            return Result(self._neural(frame, out_w, out_h))
        return Result(lanczos_upscale(frame, out_w, out_h, p.detail))

    def _neural(self, frame: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
        model = self._runner.loaded()
        if model.info.scale == 1:
            raise OperatorError(self.id, f"{model.info.path}: a {model.info.purpose} model "
                                "(1×) does not upscale; use it with the model operator")
        out, _ = self._runner.apply(frame)
        return np.ascontiguousarray(resize_to(out, out_w, out_h), dtype=np.float32)


def lanczos_upscale(frame: np.ndarray, width: int, height: int, detail: float) -> np.ndarray:
    """Lanczos-4 resize to (width, height) pixels plus `detail` × unsharp on the luma."""
    out = cv2.resize(frame, (width, height), interpolation=cv2.INTER_LANCZOS4)
    if detail > 0:
        ratio = width / frame.shape[1]
        # Resampling by r spreads an edge over ~r output pixels: sharpen at that scale.
        sigma = max(0.6, 0.5 * ratio)
        luma = out @ LUMA_WEIGHTS
        blurred = cv2.GaussianBlur(luma, (0, 0), sigmaX=sigma, sigmaY=sigma)
        out = out + (np.float32(detail) * (luma - blurred))[..., None]
    return np.ascontiguousarray(out, dtype=np.float32)
