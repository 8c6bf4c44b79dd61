"""Neural models from user files: safe loading, architecture detection, tiled inference.

Nitrate ships no weights. A user points the `model` (or `upscale`) operator at a
`.safetensors` or `.pth` file of a community model; this package reads the tensors without
executing anything from the file (`files.py`), recognises the architecture from the names
and shapes of the tensors (`archs/`: RRDBNet for ESRGAN / Real-ESRGAN, SRVGGNetCompact for
Real-ESRGAN's compact models, NAFNet for denoising / deblurring), optionally hands anything
else to spandrel when it is installed (`spandrel_bridge.py`: SwinIR, SCUNet, DDColor, HAT,
…), and runs it over a frame in feathered, overlapping tiles so memory stays bounded
(`tiling.py`, `inference.py`).

Importing this package is cheap: torch is imported by the modules that need it, which the
operators import only when they first run.
"""

from engine.models.info import ModelInfo

__all__ = ["ModelInfo"]
