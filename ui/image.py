"""numpy frames ↔ QImage, for display on an 8-bit screen.

Frames are float32 (H, W, 3) RGB, levels 0-1, possibly carrying 10 or 16 bits of
precision. They are shown through a 4×4 ordered (Bayer) dither of ±0.47 of an 8-bit step
before rounding: a gradient from a deep source shows no banding, while a level that is
already an exact 8-bit value (k/255) is rounded back to exactly k, so 8-bit sources stay
pixel-exact. The dither is deterministic, so tests can compare pixels.

A display LUT (`engine.lut.Lut`: a Cineon log scan shown as video, say) may be applied on
the way; it changes only the 8-bit picture, never the frame.

Conversions are memoised per array object and display LUT (`to_qimage`): the engine's
caches hand out the same array for the same frame, so showing a frame again costs a
dictionary look-up, and the bridge can convert on the worker thread before the GUI thread
needs the image (QImage, unlike QPixmap, may be built on any thread).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

import numpy as np
from PySide6.QtGui import QImage

from engine.lut import Lut, apply_lut
from engine.scopes import clipped

_BAYER4 = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], np.float32)
# Thresholds (k + 0.5)/16 − 0.5 lie in (−0.47, 0.47): never enough to move an exact level.
# +0.5 turns the truncating cast into rounding.
_DITHER = ((_BAYER4 + 0.5) / 16.0 - 0.5 + 0.5).astype(np.float32)
_dither_by_shape: dict[tuple[int, int], np.ndarray] = {}
_dither_lock = threading.Lock()


def _dither(height: int, width: int) -> np.ndarray:
    with _dither_lock:
        tile = _dither_by_shape.get((height, width))
        if tile is None:
            reps = (-(-height // 4), -(-width // 4))
            tile = np.ascontiguousarray(np.tile(_DITHER, reps)[:height, :width, None])
            if len(_dither_by_shape) > 16:
                _dither_by_shape.clear()
            _dither_by_shape[(height, width)] = tile
        return tile


def to_uint8(frame: np.ndarray) -> np.ndarray:
    """float (H, W, 3) or (H, W) levels 0-1 → uint8 with the ordered dither (clipped)."""
    if frame.dtype == np.uint8:
        return frame
    h, w = frame.shape[:2]
    work = np.multiply(frame, np.float32(255.0), dtype=np.float32)
    d = _dither(h, w)
    work += d if work.ndim == 3 else d[..., 0]
    np.clip(work, 0.0, 255.0, out=work)
    return work.astype(np.uint8)


def qimage_from_uint8(rgb: np.ndarray) -> QImage:
    """A QImage (RGB888) owning a copy of uint8 (H, W, 3) pixels."""
    h, w = rgb.shape[:2]
    image = QImage(w, h, QImage.Format.Format_RGB888)
    if h == 0 or w == 0:
        return image
    stride = image.bytesPerLine()
    target = np.frombuffer(image.bits(), dtype=np.uint8, count=stride * h).reshape(h, stride)
    target[:, : w * 3] = rgb.reshape(h, w * 3)
    return image


def frame_to_qimage(frame: np.ndarray, display: Lut | None = None) -> QImage:
    """float32 (H, W, 3) RGB levels 0-1 → 8-bit QImage (dithered, see module docstring),
    through the `display` LUT when one is given."""
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) frame, got shape {frame.shape}")
    if display is not None:
        frame = apply_lut(frame, display)
    return qimage_from_uint8(to_uint8(frame))


def qimage_to_array(image: QImage) -> np.ndarray:
    """A QImage as uint8 (H, W, 3) RGB (a copy), for tests and benchmarks."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, stride = image.height(), image.width(), image.bytesPerLine()
    raw = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * h).reshape(h, stride)
    return raw[:, : w * 3].reshape(h, w, 3).copy()


class _ConversionCache:
    """QImages of recently shown arrays, keyed by array identity (weakly) and display LUT,
    LRU bounded."""

    def __init__(self, entries: int = 24) -> None:
        self._entries = entries
        self._items: OrderedDict[tuple[int, int], tuple[weakref.ref, Lut | None, QImage]] = (
            OrderedDict())
        self._lock = threading.Lock()

    def get(self, frame: np.ndarray, display: Lut | None) -> QImage | None:
        key = (id(frame), id(display))
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0]() is not frame or item[1] is not display:
                return None
            self._items.move_to_end(key)
            return item[2]

    def put(self, frame: np.ndarray, display: Lut | None, image: QImage) -> None:
        try:
            ref = weakref.ref(frame)
        except TypeError:  # views of foreign buffers may not be weak-referenceable
            return
        key = (id(frame), id(display))
        with self._lock:
            self._items[key] = (ref, display, image)
            self._items.move_to_end(key)
            while len(self._items) > self._entries:
                self._items.popitem(last=False)


_cache = _ConversionCache()


def to_qimage(frame: np.ndarray, display: Lut | None = None) -> QImage:
    """`frame_to_qimage`, memoised for as long as the array lives (thread-safe)."""
    image = _cache.get(frame, display)
    if image is None:
        image = frame_to_qimage(frame, display)
        _cache.put(frame, display, image)
    return image


def difference_image(before: np.ndarray, after: np.ndarray, gain: float = 4.0) -> QImage:
    """Signed difference after − before, amplified by `gain`, around mid-grey: grey means
    unchanged, brighter means the restoration raised the level, darker lowered it."""
    if before.shape != after.shape:
        raise ValueError(f"before {before.shape} and after {after.shape} differ in size")
    diff = np.subtract(after, before, dtype=np.float32)
    diff *= np.float32(gain)
    diff += np.float32(0.5)
    return qimage_from_uint8(to_uint8(diff))


def mask_overlay(base: QImage, mask: np.ndarray, rgb: tuple[int, int, int]) -> QImage:
    """`base` with `mask` (float (H, W), 0-1) painted over it in colour `rgb`, mask level
    as opacity (at most 70 %, so the picture stays visible under the mask)."""
    h, w = base.height(), base.width()
    if mask.shape[:2] != (h, w):
        raise ValueError(f"mask {mask.shape[:2]} does not match the frame {(h, w)}")
    pixels = qimage_to_array(base).astype(np.float32)
    alpha = np.clip(mask, 0.0, 1.0).astype(np.float32)[..., None] * np.float32(0.7)
    colour = np.array(rgb, dtype=np.float32)
    pixels += (colour - pixels) * alpha
    return qimage_from_uint8(np.clip(pixels + 0.5, 0, 255).astype(np.uint8))


CLIPPED_WHITE = (255, 48, 48)
CLIPPED_BLACK = (48, 120, 255)
"""Clipped pixels on the viewer: red where a channel reached full scale, blue where one
reached black (the convention of stills tools' clipping warnings)."""


def clipping_overlay(base: QImage, frame: np.ndarray) -> QImage:
    """`base` (the picture of `frame`, same size) with the pixels of `frame` (float (H, W, 3),
    levels 0-1) that the scopes count as clipped (`engine.scopes.clipped`) painted
    CLIPPED_WHITE (a channel at full scale) or CLIPPED_BLACK (at black; white wins)."""
    h, w = base.height(), base.width()
    if frame.shape[:2] != (h, w):
        raise ValueError(f"frame {frame.shape[:2]} does not match the picture {(h, w)}")
    black, white = clipped(frame)
    if not white.any() and not black.any():
        return base
    pixels = qimage_to_array(base).copy()
    pixels[black] = CLIPPED_BLACK
    pixels[white] = CLIPPED_WHITE
    return qimage_from_uint8(pixels)
