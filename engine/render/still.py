"""Writing a single frame, or a before/after pair, as a PNG or TIFF still (atomically),
framed as an export frames it."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from engine.errors import MediaError
from engine.framing import Framing, apply_framing
from engine.framing.fit import resize_picture

_STILL_SUFFIXES = {".png", ".tif", ".tiff"}
# Black columns (pixels) between the scan and the restored frame of a before/after still.
SIDE_BY_SIDE_GAP = 4


def side_by_side(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """`before` | a black gap | `after` (float32 (H, W, 3) frames of one size), for a
    before/after still."""
    gap = np.zeros((before.shape[0], SIDE_BY_SIDE_GAP, 3), np.float32)
    return np.concatenate([before, gap, after], axis=1)


COMPARE_MODES: tuple[str, ...] = ("side-by-side", "split")
"""How a review copy shows the scan with the restored frame: side by side (twice as wide),
or split down the middle (the scan's left half, the restored frame's right half)."""

SPLIT_LINE_PX = 2
"""Width (pixels) of the grey line down the middle of a split picture."""


def split_screen(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The left half of `before` and the right half of `after` (float32 (H, W, 3) frames
    of one size), a thin grey line between them: a wipe held at the middle."""
    out = after.copy()
    middle = after.shape[1] // 2
    out[:, :middle] = before[:, :middle]
    half = SPLIT_LINE_PX // 2
    out[:, max(0, middle - half):middle + SPLIT_LINE_PX - half] = 0.5
    return out


def compare_picture(original: np.ndarray, restored: np.ndarray, framing: Framing,
                    mode: str) -> np.ndarray:
    """The scan (`original`, the source's size) and `restored`, each framed as an export
    frames it, shown together the `mode` way (COMPARE_MODES). A restored frame of another
    size (an upscaling recipe) has the scan scaled to it, so both sides match."""
    source_size = (original.shape[1], original.shape[0])
    after = apply_framing(restored, framing, source_size)
    if original.shape != restored.shape:
        original = resize_picture(original, restored.shape[1], restored.shape[0])
    before = apply_framing(original, framing, source_size)
    if mode == "split":
        return split_screen(before, after)
    return side_by_side(before, after)


def still_picture(original: np.ndarray, restored: np.ndarray, framing: Framing,
                  compare: bool = False) -> np.ndarray:
    """The still of one frame: `restored` framed as an export frames it, or with `compare`
    the scan (`original`, the source's size) framed alike beside it."""
    if compare:
        return compare_picture(original, restored, framing, "side-by-side")
    return apply_framing(restored, framing, (original.shape[1], original.shape[0]))


def write_still(path: Path, frame: np.ndarray, source_bit_depth: int = 8) -> None:
    """Write `frame` (float32 (H, W, 3) RGB, levels 0-1) as 8-bit, or 16-bit when the
    source is deeper than 8 bits, via a temporary name and a rename."""
    path = Path(path)
    if path.suffix.lower() not in _STILL_SUFFIXES:
        raise MediaError(path, "a still must be .png, .tif or .tiff")
    if not path.parent.is_dir():
        raise MediaError(path, f"the folder {path.parent} does not exist")
    deep = source_bit_depth > 8
    peak = 65535.0 if deep else 255.0
    data = np.clip(frame, 0.0, 1.0) * peak + 0.5
    data = data.astype(np.uint16 if deep else np.uint8)[..., ::-1]  # OpenCV writes BGR
    tmp = path.with_name(f".{path.stem}.nitrate-partial-{os.getpid()}{path.suffix}")
    try:
        if not cv2.imwrite(str(tmp), np.ascontiguousarray(data)):
            raise MediaError(path, "could not be written")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
