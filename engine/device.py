"""Which torch device the neural operators run on.

`select_device(name)` turns a user's choice ("auto", "cpu", "cuda", "cuda:1", "mps") into a
`torch.device`: "auto" takes CUDA, then Apple's MPS, else the CPU; asking for a device this
machine does not have is a `NitrateError`, never a silent fallback (a user who asked for the
GPU must learn that an export will run on the CPU at a fraction of the speed).

The process-wide default (`set_default_device`, `default_device`) is what the model and
upscale operators use; the CLI's `--device` and the UI's setting set it once. Operators read
it when they run, so changing it takes effect on the next frame (loaded models are cached per
device).

torch is imported only when a device is actually resolved: importing this module is free.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from engine.errors import NitrateError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")
"""The device names a user may pick (``cuda:N`` is accepted too)."""

_lock = threading.Lock()
_default_name = "auto"
_default: torch.device | None = None


def _mps_available(torch_module: object) -> bool:
    backends = getattr(torch_module, "backends", None)
    mps = getattr(backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def select_device(name: str = "auto") -> torch.device:
    """The torch device for `name` ("auto", "cpu", "cuda", "cuda:N" or "mps").

    Raises NitrateError with one line when the device is unknown or not present.
    """
    import torch

    choice = str(name).strip().lower()
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available(torch):
            return torch.device("mps")
        return torch.device("cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice == "cuda" or choice.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise NitrateError(
                f"device '{name}': no CUDA GPU is available (torch {torch.__version__}, "
                f"CUDA build: {torch.version.cuda or 'no'}); use --device cpu or auto"
            )
        index_text = choice.partition(":")[2]
        if index_text:
            if not index_text.isdigit():
                raise NitrateError(f"device '{name}': expected cuda or cuda:N")
            if int(index_text) >= torch.cuda.device_count():
                raise NitrateError(
                    f"device '{name}': only {torch.cuda.device_count()} CUDA device(s) present"
                )
        return torch.device(choice)
    if choice == "mps":
        if not _mps_available(torch):
            raise NitrateError(f"device '{name}': Apple MPS is not available on this machine")
        return torch.device("mps")
    raise NitrateError(f"device '{name}': unknown device (choose {', '.join(DEVICE_CHOICES)})")


def set_default_device(name: str) -> torch.device:
    """Resolve `name` now (errors surface where the user chose it) and make it the default
    of every model operator in this process. Returns the resolved device."""
    global _default, _default_name
    device = select_device(name)
    with _lock:
        _default_name = name
        _default = device
    return device


def default_device() -> torch.device:
    """The process-wide device (resolved from "auto" on first use unless set)."""
    global _default
    with _lock:
        if _default is None:
            _default = select_device(_default_name)
        return _default


def default_device_name() -> str:
    """What the user asked for ("auto" until `set_default_device` is called)."""
    with _lock:
        return _default_name


def describe_device(device: torch.device) -> str:
    """A short human name: "CPU (2 threads)", "CUDA 0: NVIDIA …", "Apple MPS"."""
    import torch

    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"CUDA {index}: {torch.cuda.get_device_name(index)}"
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"
