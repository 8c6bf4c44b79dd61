"""Read the tensors of a model file without executing anything from it.

`.safetensors` files are a JSON header plus raw tensor bytes: nothing to execute. `.pth`,
`.pt`, `.ckpt` and `.bin` files are Python pickles, which can run arbitrary code when
unpickled; they are read with `torch.load(weights_only=True)`, whose unpickler only builds
tensors, numbers, strings and containers and refuses every other global. A file that needs
anything more is refused with a one-line error (the user can convert a trusted file to
.safetensors).

Training checkpoints wrap the weights ("params_ema", "state_dict", "model", …) and
multi-GPU training prefixes keys with "module."; `read_state_dict` returns the bare
name → tensor mapping of the network itself.
"""

from __future__ import annotations

import pickle
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from engine.errors import OperatorError

SAFETENSORS_SUFFIXES = (".safetensors",)
PICKLE_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")
FILE_TYPES: tuple[str, ...] = tuple(f"*{s}" for s in SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES)
"""Name patterns of model files, for a file chooser."""

StateDict = dict[str, torch.Tensor]

# Where training frameworks nest the network's weights, in order of preference: the EMA
# weights (basicsr's "params_ema") are the ones the authors publish results with.
_WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model_state_dict", "model", "net_g",
                 "generator", "net")


def read_state_dict(path: str | Path, operator: str = "model") -> StateDict:
    """The network's tensors from `path` (on the CPU, float or as stored).

    Raises OperatorError(operator, "<file>: <problem>") for a missing, unreadable, unsafe or
    tensor-less file.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise OperatorError(operator, f"{p}: no such model file")
    suffix = p.suffix.lower()
    if suffix in SAFETENSORS_SUFFIXES:
        raw = _read_safetensors(p, operator)
    elif suffix in PICKLE_SUFFIXES:
        raw = _read_pickle(p, operator)
    else:
        kinds = ", ".join(SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES)
        raise OperatorError(operator, f"{p}: not a model file (expected {kinds})")
    state = _unwrap(raw)
    if not state:
        raise OperatorError(operator, f"{p}: the file holds no network weights")
    return state


def _read_safetensors(path: Path, operator: str) -> dict[str, Any]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return dict(load_file(str(path), device="cpu"))
    except (SafetensorError, OSError, ValueError) as exc:
        raise OperatorError(operator, f"{path}: not a valid .safetensors file ({_first_line(exc)})") \
            from None


def _read_pickle(path: Path, operator: str) -> Any:
    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols it was not written with; the refusal (or
            # success) below is what the user needs to know.
            warnings.simplefilter("ignore")
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only's unpickler raises this for any global it does not allow, i.e. for
        # files that would run code or build arbitrary objects when loaded.
        detail = _refused_global(exc)
        raise OperatorError(
            operator,
            f"{path}: refused: the file contains Python objects other than weights{detail}, "
            "which could run code when loaded; convert a file you trust to .safetensors",
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, ImportError) as exc:
        raise OperatorError(operator, f"{path}: not a readable PyTorch weights file "
                            f"({_first_line(exc)})") from None


def _refused_global(exc: BaseException) -> str:
    """" (posix.system)" when torch's message names the refused global, else ""."""
    match = re.search(r"GLOBAL ([\w.]+)", str(exc))
    return f" ({match.group(1)})" if match else ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _unwrap(raw: Any) -> StateDict:
    """The innermost mapping of tensors; "module." prefixes removed."""
    node = raw
    for _ in range(4):  # checkpoints nest at most a few levels
        if not isinstance(node, Mapping):
            return {}
        if _is_state(node):
            break
        inner = next((node[k] for k in _WRAPPER_KEYS if isinstance(node.get(k), Mapping)), None)
        if inner is None:
            break
        node = inner
    if not isinstance(node, Mapping):
        return {}
    state: StateDict = {}
    for key, value in node.items():
        if isinstance(value, torch.Tensor):
            name = str(key)
            if name.startswith("module."):
                name = name[len("module."):]
            state[name] = value
    return state


def _is_state(node: Mapping[Any, Any]) -> bool:
    return bool(node) and sum(isinstance(v, torch.Tensor) for v in node.values()) >= len(node) / 2
