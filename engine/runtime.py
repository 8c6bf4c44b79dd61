"""Thread counts for the libraries that share the CPU.

Torch, OpenCV and the FFmpeg decoder each default to one thread per core, and on a
2-core machine three pools of two threads thrash. Nitrate's per-frame work is mostly
OpenCV; decoding and encoding run on their own threads beside it. So: OpenCV gets the
cores, torch gets the cores only for model operators (intra-op), and codecs are given
explicit thread counts in engine.media.

The split during an export (engine.render), on two cores:

- the evaluator's thread runs the operators, OpenCV with one thread per core, and reads
  the source (`engine.media.reader.DECODER_THREADS`, 2 frame threads);
- the writer's thread converts (`engine.media.writer.CONVERT_THREADS`, 1: the encoder's
  threads already fill the cores, and sliced conversion measured 15-30 % slower) and
  encodes (`ENCODER_THREADS`, 2).

OpenCV with one thread against two gave the same whole-export speed within the noise of
the shared development machine (±30 % between identical runs), so it keeps the cores: on
an otherwise idle machine the operators' large filters and remaps use both. A read-ahead
thread decoding the source beside the evaluator was tried and dropped: it cut the
evaluator's time in the decoder from 15-26 to 2-9 ms a frame, but the export's speed did
not change (720p 4.3 against 4.2-4.3 fps, 1080p 2.4-2.75 against 2.75 fps at a load
average below 2): the operators and the encoder already keep both cores busy.
"""

from __future__ import annotations

import os
import sys

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
    # torch takes seconds to import: only configure it when something already loaded it
    # (model operators call configure_torch_threads themselves).
    if "torch" in sys.modules:
        configure_torch_threads(cores)
    _configured = True


def configure_torch_threads(cores: int | None = None) -> None:
    """Intra-op threads = cores, one inter-op thread (operators already run one at a time)."""
    import torch

    torch.set_num_threads(cores or cpu_count())
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # can only be set before torch's first parallel work; harmless if late
