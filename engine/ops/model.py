"""Apply a neural model from a user's file: super-resolution, denoising, deblurring,
colourisation (`--ops model --set model.path=FILE`).

The file is a `.safetensors` or `.pth` of a community model. It is read without executing
anything from it, its architecture is recognised from its tensors (RRDBNet for ESRGAN /
Real-ESRGAN, SRVGGNetCompact, NAFNet; with the optional spandrel package also SwinIR,
SCUNet, DDColor, HAT and more), and it runs on `engine.device.default_device()` over
feathered, overlapping tiles so any frame size fits in memory. A 4× model makes the
output 4× larger (an export is sized from its first restored frame). In a preview the
model runs on the downscaled frame, like every operator.

torch is imported only when the operator first runs, never at engine import.
`describe()` tells the Inspector what the file is (`engine.models.ModelInfo`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from engine.errors import OperatorError
from engine.models.info import ModelInfo
from engine.ops.base import Operator, Result, Window
from engine.ops.params import Params, param

if TYPE_CHECKING:
    from engine.models.loader import LoadedModel

MODEL_FILE_TYPES = ("*.safetensors", "*.pth", "*.pt", "*.ckpt", "*.bin")
PRECISION_CHOICES = ("auto", "fp32", "bf16", "fp16")

# Mask gain: a change of 0.05 in levels (a clear edit) reads as fully changed.
_MASK_GAIN = 20.0


def tile_param() -> int:
    return param(256, label="Tile size", unit="px", minimum=32, maximum=4096, step=32,
                 help="Largest square processed at once (input pixels); smaller uses less "
                 "memory, larger is faster on a GPU")


def overlap_param() -> int:
    return param(32, label="Tile overlap", unit="px", minimum=0, maximum=512, step=4,
                 help="Pixels shared by neighbouring tiles, blended to hide seams")


def precision_param() -> str:
    return param("auto", label="Precision", choices=PRECISION_CHOICES,
                 help="auto: fp16 on a GPU when the model allows, fp32 on the CPU; bf16 "
                 "helps on CPUs with native bf16")


@dataclass(frozen=True)
class ModelParams(Params):
    path: str = param("", label="Model file", file_types=MODEL_FILE_TYPES,
                      help="A .safetensors or .pth model (ESRGAN, Real-ESRGAN, NAFNet, …)")
    strength: float = param(1.0, label="Strength", minimum=0.0, maximum=1.0, step=0.05,
                            help="Blend with the input (upscaled to match): 1 = model only")
    tile: int = tile_param()
    overlap: int = overlap_param()
    precision: str = precision_param()


class NeuralRunner:
    """Loads (lazily, cached per file/device/precision) and applies one model file.

    Shared by the model and upscale operators. `operator` names the operator in errors.
    """

    def __init__(self, operator: str, path: str, tile: int, overlap: int,
                 precision: str) -> None:
        self.operator = operator
        self.path = path
        self.tile = tile
        self.overlap = overlap
        self.precision = precision
        if not path:
            return
        p = Path(path).expanduser()
        # Cheap checks now, so a wrong path is reported when the step is set up; the
        # (slow) load happens on the first frame.
        if not p.is_file():
            raise OperatorError(operator, f"{p}: no such model file")
        if not any(p.name.lower().endswith(t[1:]) for t in MODEL_FILE_TYPES):
            raise OperatorError(operator, f"{p}: not a model file (expected "
                                f"{', '.join(t[1:] for t in MODEL_FILE_TYPES)})")

    def _require_path(self) -> None:
        if not self.path:
            raise OperatorError(self.operator, "no model file chosen (set the model file "
                                f"parameter, e.g. --set {self.operator}."
                                f"{'path' if self.operator == 'model' else 'model_path'}=FILE)")

    def describe(self) -> ModelInfo | None:
        """The model file's description, None when no file is chosen (loads it; cached)."""
        if not self.path:
            return None
        from engine.models.loader import describe_model

        return describe_model(self.path, self.operator)

    def loaded(self) -> LoadedModel:
        self._require_path()
        from engine.models.loader import load_model

        return load_model(self.path, precision=self.precision, operator=self.operator)

    def apply(self, frame: np.ndarray) -> tuple[np.ndarray, ModelInfo]:
        """(model output float32 (H·scale, W·scale, 3), model description)."""
        from engine.models.inference import apply_model

        model = self.loaded()
        try:
            out = apply_model(model, frame, self.tile, self.overlap)
        except MemoryError:
            raise OperatorError(self.operator, f"out of memory running {model.info.architecture}"
                                f" on {self.tile}px tiles; lower the tile size") from None
        except RuntimeError as exc:
            if "out of memory" in str(exc).lower():
                raise OperatorError(self.operator, f"out of memory running "
                                    f"{model.info.architecture} on {self.tile}px tiles; lower "
                                    "the tile size") from None
            raise
        return out, model.info


def resize_to(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to (width, height) pixels: Lanczos up, area average down (no aliasing)."""
    h, w = frame.shape[:2]
    if (w, h) == (width, height):
        return frame
    shrinking = width < w and height < h
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4
    return cv2.resize(frame, (width, height), interpolation=interpolation)


def change_mask(out: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """float32 (H, W) 0-1: how much `out` differs from `reference` (same size)."""
    diff = np.abs(out - reference).max(axis=2)
    return np.clip(diff * np.float32(_MASK_GAIN), 0.0, 1.0).astype(np.float32)


class ModelOperator(Operator):
    id = "model"
    label = "Neural model"
    description = ("Run a neural model from a .safetensors/.pth file (ESRGAN, Real-ESRGAN, "
                   "NAFNet, …): upscaling, denoising, deblurring, colourisation.")
    Params = ModelParams

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        p = self.params
        assert isinstance(p, ModelParams)
        self._runner = NeuralRunner(self.id, p.path, p.tile, p.overlap, p.precision)

    def describe(self) -> ModelInfo | None:
        """What the chosen file is (architecture, purpose, scale, channels, parameters) for
        the Inspector; None when no file is chosen. Loads the file the first time (≈ 0.1-1 s,
        torch import included on first use): call it off the GUI thread."""
        return self._runner.describe()

    def process(self, window: Window) -> Result:
        p = self.params
        assert isinstance(p, ModelParams)
        frame = window.current
        out, info = self._runner.apply(frame)
        h, w = out.shape[:2]
        base = resize_to(frame, w, h) if info.scale != 1 else frame
        if p.strength < 1.0:
            out = base + np.float32(p.strength) * (out - base)
        return Result(np.ascontiguousarray(out, dtype=np.float32), change_mask(out, base))
