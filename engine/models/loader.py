"""Load a model file into a ready-to-run network on a device, with caching.

`load_model(path, device, precision)` reads the tensors safely (`files.py`), recognises the
architecture (ours first, then spandrel when installed), loads the weights strictly (every
tensor must fit), moves the network to the device in the chosen precision and caches it:
an export and the preview share one loaded network per (file, device, precision), and a
file changed on disk is reloaded (the cache key includes its size and modification time).

Precision ("auto", "fp32", "bf16", "fp16"):
  - CUDA / MPS, auto: fp16 when the architecture tolerates it (half the memory traffic,
    tensor cores), else fp32.
  - CPU, auto: fp32 in channels_last memory format, 1.9-2.4× faster than plain fp32 and
    bit-identical (docs/BENCHMARKS.md "Models": measured, not assumed).
  - bf16 on the CPU is an explicit choice: on CPUs with native bf16 (AVX512-BF16, AMX) it
    measured 3-3.6× faster than fp32, but it rounds to 8 significant bits (up to 1 code
    value of 8-bit output, more in 10/16-bit exports), so "auto" never picks it silently.
    fp16 needs a GPU.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from engine.errors import OperatorError
from engine.models.archs import detect_architecture, supported_labels
from engine.models.archs.common import Built, StateDict
from engine.models.files import read_state_dict
from engine.models.info import ModelInfo
from engine.models.spandrel_bridge import build_with_spandrel, unavailable_reason

PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")

CPU_AUTO: tuple[torch.dtype, bool] = (torch.float32, True)
"""(dtype, channels_last) that "auto" picks on the CPU; from benchmarks/models.py."""

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class LoadedModel:
    """A network on a device, ready for (1, C, H, W) tensors of levels 0-1.

    Calling it pads H and W to `info.multiple_of` (edge reflection), runs the network in
    inference mode and crops the result to (1, output_channels, H·scale, W·scale). The
    input must already be on `device` in `dtype` (and channels_last when set).
    """

    info: ModelInfo
    module: nn.Module
    device: torch.device
    dtype: torch.dtype
    channels_last: bool

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = self.info.multiple_of
        pad_h, pad_w = (-h) % m, (-w) % m
        if pad_h or pad_w:
            mode = "reflect" if pad_h < h and pad_w < w else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        with torch.inference_mode():
            out = self.module(x)
        s = self.info.scale
        return out[..., : h * s, : w * s]


_lock = threading.Lock()
_built: OrderedDict[tuple[object, ...], tuple[ModelInfo, nn.Module]] = OrderedDict()
_placed: OrderedDict[tuple[object, ...], LoadedModel] = OrderedDict()
_CAPACITY = 2  # models can be hundreds of MB; two covers preview + one other


def _file_key(path: str | Path, operator: str) -> tuple[object, ...]:
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except OSError:
        raise OperatorError(operator, f"{p}: no such model file") from None
    return (str(p.resolve()), st.st_size, st.st_mtime_ns)


def describe_model(path: str | Path, operator: str = "model") -> ModelInfo:
    """What the file at `path` is (architecture, purpose, scale, …); loads it (cached)."""
    return _build_cached(path, operator)[0]


def load_model(path: str | Path, device: torch.device | None = None, precision: str = "auto",
               operator: str = "model", channels_last: bool | None = None) -> LoadedModel:
    """The model at `path` on `device` (default: engine.device.default_device()).

    `channels_last` None follows the precision policy (module docstring); benchmarks pass
    it explicitly. Errors are OperatorError(operator, "<file>: <problem>").
    """
    if device is None:
        from engine.device import default_device

        device = default_device()
    info, base = _build_cached(path, operator)
    dtype, auto_cl = resolve_precision(precision, device, info, operator)
    cl = auto_cl if channels_last is None else channels_last
    key = (_file_key(path, operator), str(device), dtype, cl)
    with _lock:
        hit = _placed.get(key)
        if hit is not None:
            _placed.move_to_end(key)
            return hit
    module = base if (device.type == "cpu" and dtype == torch.float32 and not cl) \
        else copy.deepcopy(base)
    module = module.to(device=device, dtype=dtype)
    if cl:
        module = module.to(memory_format=torch.channels_last)
    loaded = LoadedModel(info, module.eval(), device, dtype, cl)
    with _lock:
        _placed[key] = loaded
        while len(_placed) > _CAPACITY:
            _placed.popitem(last=False)
    return loaded


def resolve_precision(precision: str, device: torch.device, info: ModelInfo,
                      operator: str = "model") -> tuple[torch.dtype, bool]:
    """(dtype, channels_last) for a precision choice on a device (module docstring)."""
    if precision not in PRECISIONS:
        raise OperatorError(operator, f"precision must be one of {', '.join(PRECISIONS)}, "
                            f"got '{precision}'")
    gpu = device.type in ("cuda", "mps")
    if precision == "auto":
        if gpu:
            return (torch.float16 if info.supports_half else torch.float32), False
        return CPU_AUTO
    dtype = _DTYPES[precision]
    if dtype == torch.float16:
        if not gpu:
            raise OperatorError(operator, "fp16 needs a GPU (CUDA or MPS); use bf16 or fp32 "
                                "on the CPU")
        if not info.supports_half:
            raise OperatorError(operator, f"{info.architecture} is unstable in fp16; "
                                "use fp32 or bf16")
    if dtype == torch.bfloat16 and not info.supports_bfloat16:
        raise OperatorError(operator, f"{info.architecture} does not support bf16; use fp32")
    # channels_last sped up fp32 convolutions on the CPU; bf16 was fastest contiguous.
    return dtype, (device.type == "cpu" and dtype == torch.float32 and CPU_AUTO[1])


def _build_cached(path: str | Path, operator: str) -> tuple[ModelInfo, nn.Module]:
    key = _file_key(path, operator)
    with _lock:
        hit = _built.get(key)
        if hit is not None:
            _built.move_to_end(key)
            return hit
    # Built outside the lock: loading a big file takes a second and must not block a
    # thread that only wants an already loaded model.
    result = build_model(path, operator)
    with _lock:
        _built[key] = result
        while len(_built) > _CAPACITY:
            _built.popitem(last=False)
    return result


def build_model(path: str | Path, operator: str = "model") -> tuple[ModelInfo, nn.Module]:
    """Read, recognise and load the file into a CPU fp32 network (uncached)."""
    from engine.runtime import configure_torch_threads

    configure_torch_threads()
    state = read_state_dict(path, operator)
    built = _recognise(state, str(path), operator)
    module = built.module
    if not built.weights_loaded:
        _load_weights(module, built, str(path), operator)
    module = module.float().eval()
    for p in module.parameters():
        p.requires_grad_(False)
    if built.input_channels not in (1, 3, 4):
        raise OperatorError(operator, f"{path}: the model takes {built.input_channels} input "
                            "channels; only grey, RGB and RGBA image models can run")
    info = ModelInfo(
        path=str(path), architecture=built.architecture, purpose=built.purpose,
        scale=built.scale, input_channels=built.input_channels,
        output_channels=built.output_channels,
        parameters=sum(p.numel() for p in module.parameters()),
        backend="spandrel" if built.weights_loaded else "nitrate",
        multiple_of=built.multiple_of, supports_half=built.supports_half,
        supports_bfloat16=built.supports_bfloat16, details=built.details,
    )
    return info, module


def _recognise(state: StateDict, path: str, operator: str) -> Built:
    arch = detect_architecture(state)
    if arch is not None:
        try:
            return arch.build(state)
        except (KeyError, ValueError, RuntimeError, ZeroDivisionError) as exc:
            raise OperatorError(operator, f"{path}: looks like {arch.label} but its tensors do "
                                f"not fit ({type(exc).__name__}: {exc})") from None
    built = build_with_spandrel(state, path, operator)
    if built is not None:
        return built
    sample = ", ".join(list(state)[:3])
    why = unavailable_reason()
    hint = "install the 'models' extra (spandrel) for SwinIR, SCUNet, DDColor, HAT and more"
    if why:
        hint += f"; spandrel is not usable here ({why})"
    raise OperatorError(operator, f"{path}: architecture not recognised (tensors {sample}, …); "
                        f"supported: {supported_labels()}; {hint}")


def _load_weights(module: nn.Module, built: Built, path: str, operator: str) -> None:
    try:
        module.load_state_dict(built.state, strict=True)
    except RuntimeError as exc:
        # torch lists every mismatch over many lines; the first one names the problem.
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else "")
        raise OperatorError(operator, f"{path}: weights do not fit {built.architecture} "
                            f"({detail[:200]})") from None


def clear_cache() -> None:
    """Forget loaded models (tests; freeing memory after a model step is removed)."""
    with _lock:
        _built.clear()
        _placed.clear()
