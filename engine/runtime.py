"""Thread counts for the libraries that share the CPU.

Torch, OpenCV and the FFmpeg decoder each default to one thread per core, and on a
2-core machine three pools of two threads thrash. Nitrate's per-frame work is mostly
OpenCV; decoding and encoding run on their own threads beside it. So: OpenCV gets the
cores, torch gets the cores only for model operators (intra-op), and codecs are given
explicit thread counts in engine.media.
"""

from __future__ import annotations

import os

_configured = False


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def configure_threads(cores: int | None = None) -> None:
    """Set OpenCV's and torch's thread pools once (idempotent)."""
    global _configured
    if _configured:
        return
    cores = cores or cpu_count()
    import cv2

    cv2.setNumThreads(cores)
    try:
        import torch

        torch.set_num_threads(cores)
        torch.set_num_interop_threads(1)
    except (ImportError, RuntimeError):
        # RuntimeError: interop threads can only be set before torch's first parallel work.
        pass
    _configured = True
