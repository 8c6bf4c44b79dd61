"""Decoded ``av.VideoFrame`` → float32 RGB (H, W, 3) levels 0-1, keeping full precision.

Rules (one place, used by every Reader):

- RGB sources with integer samples are unpacked without any colour maths: 8-bit via rgb24,
  9-14-bit via their native planar gbrpNN layout divided by 2**N − 1 (so a 10-bit DPX
  value v comes out as exactly v / 1023 and survives a round trip), 16-bit via rgb48le.
- Float sources (EXR) come out unscaled through gbrpf32le (values may exceed 1).
- YUV sources go through swscale to rgb24 (8-bit) or rgb48le (deeper) with the tagged
  matrix; untagged: BT.709 for HD (width ≥ 1280 or height ≥ 720), BT.601 for SD. Range
  is the tagged one; untagged means limited ("tv") except for yuvj* formats, which are
  full range by definition. The output is always full range.
"""

from __future__ import annotations

from typing import Any

import av
import cv2
import numpy as np

# AVColorSpace (as tagged in streams) → swscale's SWS_CS_* constant used by reformat().
_AVCOL_TO_SWS = {1: 1, 4: 4, 5: 5, 6: 5, 7: 7, 9: 9, 10: 9}
_SWS_BT709 = 1
_SWS_BT601 = 5
_AVCOL_RANGE_MPEG = 1
_AVCOL_RANGE_JPEG = 2

# Threads swscale may use per conversion: the same budget as the decoder (2-core target).
CONVERT_THREADS = 2

_DTYPE_SCALE: dict[int, np.float32] = {}


def component_bits(fmt: av.VideoFormat) -> int:
    """Bits per component of a pixel format (8 for rgb24, 10 for yuv422p10le, …)."""
    if fmt.name.startswith("bayer_"):
        # A Bayer sample is one full-depth value; FFmpeg describes it as 2/4/2-bit parts.
        return 16 if "16" in fmt.name else 8
    comps = fmt.components
    return max(c.bits for c in comps) if comps else 8


def _scale(bits: int) -> np.float32:
    value = _DTYPE_SCALE.get(bits)
    if value is None:
        value = _DTYPE_SCALE[bits] = np.float32(1.0 / ((1 << bits) - 1))
    return value


_BLOCK_BYTES = 384 << 10
"""Float bytes `_to_float` casts and scales at a time: a band that stays in the core's
cache between the two passes (16 rows of 1080p RGB)."""


def _to_float(ints: np.ndarray, bits: int) -> np.ndarray:
    # Cast, then scale in place: numpy's mixed-type multiply (ints * float32 with
    # dtype=float32) runs a generic casting loop about 4x slower than a plain cast followed
    # by a float32 multiply (6.5 ms against 1.6 ms at 1080p); the result is bit-identical.
    # Band by band, so the multiply finds the cast's output still in the cache instead of
    # reading a whole frame back from memory: about 2.5 against 3.4 ms at 1080p, the same
    # values.
    out = np.empty(ints.shape, np.float32)
    scale = _scale(bits)
    row_bytes = max(1, out[0].nbytes)
    rows = max(1, _BLOCK_BYTES // row_bytes)
    for top in range(0, out.shape[0], rows):
        band = out[top:top + rows]
        band[...] = ints[top:top + rows]
        np.multiply(band, scale, out=band)
    return out


def is_float_format(name: str) -> bool:
    """Whether a pixel format stores floating-point samples (EXR's gbrpf32le, …)."""
    return "f32" in name or "f16" in name


def is_rgb_format(fmt: av.VideoFormat) -> bool:
    """RGB-family layouts (packed or planar), as opposed to YUV and grey."""
    return bool(fmt.is_rgb)


def yuv_interpretation(frame: av.VideoFrame) -> tuple[int, int]:
    """(swscale matrix SWS_CS_*, AVColorRange) a YUV frame is read with, the way players
    do: its own tags, else BT.709 for HD (width ≥ 1280 or height ≥ 720) and BT.601 for SD,
    limited range (full for yuvj*). The float path and the export's direct path both read
    YUV through this, so they agree on what the source's colours are."""
    sws_cs = _AVCOL_TO_SWS.get(int(frame.colorspace))
    if sws_cs is None:
        hd = frame.width >= 1280 or frame.height >= 720
        sws_cs = _SWS_BT709 if hd else _SWS_BT601
    rng = int(frame.color_range)
    if rng not in (_AVCOL_RANGE_MPEG, _AVCOL_RANGE_JPEG):
        rng = _AVCOL_RANGE_JPEG if frame.format.name.startswith("yuvj") else _AVCOL_RANGE_MPEG
    return sws_cs, rng


def converts_directly(pix_fmt: str) -> bool:
    """Whether decoded frames in ``pix_fmt`` can go straight to an output pixel format in
    one swscale pass that reads them as ``frame_to_rgb`` does (the export's direct path):
    integer YUV and RGB layouts. Float (EXR), Bayer, grey and palette formats need the
    handling ``frame_to_rgb`` gives them, so they take the float path."""
    try:
        fmt = av.VideoFormat(pix_fmt)
    except (ValueError, av.FFmpegError):
        return False
    if is_float_format(pix_fmt) or pix_fmt.startswith(("bayer_", "gray", "ya", "pal", "monow",
                                                       "monob")):
        return False
    if fmt.is_rgb:
        return True
    return pix_fmt.startswith(("yuv", "nv", "p0", "p2", "p4", "uyvy", "yuyv", "yvyu"))


def frame_to_rgb(frame: av.VideoFrame, size: tuple[int, int] | None = None) -> np.ndarray:
    """One decoded frame as float32 (height, width, 3) RGB, levels 0-1.

    size: (width, height) in pixels to reduce the frame to on the way (previews, analysis
    frames), None for its own size. swscale's area filter does it in the same pass as the
    colour conversion: at 1080p → 480x270 about 2 ms, where converting the full frame and
    reducing it with OpenCV takes over 20 ms.
    """
    if size is not None and tuple(size) == (frame.width, frame.height):
        size = None
    fmt = frame.format
    name = fmt.name
    bits = component_bits(fmt)
    if is_float_format(name):
        full = np.ascontiguousarray(
            frame.to_ndarray(format="gbrpf32le", threads=CONVERT_THREADS), dtype=np.float32
        )
        if size is None:
            return full
        # swscale's float scaling is not what EXR values (beyond 1) need: reduce here.
        return cv2.resize(full, tuple(size), interpolation=cv2.INTER_AREA)
    scaling: dict[str, Any] = {}
    if size is not None:
        scaling = {"width": int(size[0]), "height": int(size[1]), "interpolation": "AREA"}
    if is_rgb_format(fmt) or name.startswith(("gray", "ya", "pal")):
        if bits <= 8:
            return _to_float(frame.to_ndarray(format="rgb24", threads=CONVERT_THREADS,
                                              **scaling), 8)
        if bits >= 16 or not is_rgb_format(fmt):
            return _to_float(frame.to_ndarray(format="rgb48le", threads=CONVERT_THREADS,
                                              **scaling), 16)
        native = f"gbrp{bits}le"
        return _to_float(frame.to_ndarray(format=native, threads=CONVERT_THREADS, **scaling),
                         bits)
    sws_cs, rng = yuv_interpretation(frame)
    target, out_bits = ("rgb24", 8) if bits <= 8 else ("rgb48le", 16)
    ints = frame.to_ndarray(
        format=target,
        src_colorspace=sws_cs,
        dst_colorspace=sws_cs,
        src_color_range=rng,
        dst_color_range=_AVCOL_RANGE_JPEG,
        threads=CONVERT_THREADS,
        **scaling,
    )
    return _to_float(ints, out_bits)
