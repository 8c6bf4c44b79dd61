"""Test clips whose frames encode their own index, for checking frame-accurate access.

Each frame shows ``INDEX_BITS`` big blocks (one bit each) in its top two thirds: robust to
lossy compression down to tiny sizes, so ``read_index`` recovers the frame number after a
seek. The bottom third is a smooth RGB gradient (red rises left to right, green top to
bottom, blue falls left to right) so deep formats can be checked for precision and a
channel swap shows up. Optional audio is a quiet tone with a full-scale click at the first
sample of chosen frames, so audio/video sync can be measured.

Generators use PyAV directly (not ``engine.media.Writer``) so Reader tests do not depend
on the Writer being right.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

INDEX_BITS = 20
"""Bits drawn per frame: indices 0 … 2**20 − 1 (over 170,000 frames) are representable."""

_GRID_COLS = 5
_GRID_ROWS = 4
_ON = np.array([0.92, 0.80, 0.70], dtype=np.float32)
_OFF = np.array([0.08, 0.18, 0.28], dtype=np.float32)

TONE_HZ = 440.0
TONE_LEVEL = 0.1
CLICK_LEVEL = 0.9
CLICK_SECONDS = 0.002


def _block_edges(length: int, parts: int) -> list[int]:
    return [round(length * k / parts) for k in range(parts + 1)]


def index_frame(index: int, width: int, height: int) -> np.ndarray:
    """Frame number ``index`` as float32 (height, width, 3) RGB, levels 0-1.

    Sizes are in pixels; at least 20x12 so every bit block covers a few pixels.
    """
    if not 0 <= index < 2**INDEX_BITS:
        raise ValueError(f"index {index} does not fit in {INDEX_BITS} bits")
    if width < 20 or height < 12:
        raise ValueError(f"index frames need at least 20x12 pixels, got {width}x{height}")
    frame = np.empty((height, width, 3), dtype=np.float32)
    code_h = (2 * height) // 3
    xs = _block_edges(width, _GRID_COLS)
    ys = _block_edges(code_h, _GRID_ROWS)
    for bit in range(INDEX_BITS):
        row, col = divmod(bit, _GRID_COLS)
        on = (index >> bit) & 1
        frame[ys[row] : ys[row + 1], xs[col] : xs[col + 1]] = _ON if on else _OFF
    grad_h = height - code_h
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    y = np.linspace(0.0, 1.0, max(grad_h, 1), dtype=np.float32)[:grad_h, None]
    frame[code_h:, :, 0] = x
    frame[code_h:, :, 1] = np.broadcast_to(y, (grad_h, width))
    frame[code_h:, :, 2] = 1.0 - x
    return frame


def read_index(frame: np.ndarray) -> int:
    """The index drawn by ``index_frame``, read from a (possibly lossy) float RGB frame."""
    height, width = frame.shape[:2]
    code_h = (2 * height) // 3
    xs = _block_edges(width, _GRID_COLS)
    ys = _block_edges(code_h, _GRID_ROWS)
    value = 0
    for bit in range(INDEX_BITS):
        row, col = divmod(bit, _GRID_COLS)
        y0, y1, x0, x1 = ys[row], ys[row + 1], xs[col], xs[col + 1]
        # Sample the block's centre half only: edges bleed in lossy codecs.
        my, mx = max((y1 - y0) // 4, 0), max((x1 - x0) // 4, 0)
        block = frame[y0 + my : y1 - my, x0 + mx : x1 - mx]
        if float(block.mean()) > 0.5:
            value |= 1 << bit
    return value


def click_samples(click_frames: Iterable[int], fps: Fraction, sample_rate: int) -> list[int]:
    """Sample offsets (from the clip start) where the clicks of ``click_frames`` begin."""
    return [int(Fraction(f) * sample_rate / fps) for f in click_frames]


def tone_with_clicks(
    n_samples: int, sample_rate: int, click_at: Sequence[int], channels: int = 2
) -> np.ndarray:
    """Float32 (channels, n_samples) audio, levels −1…1: a quiet tone plus short clicks."""
    t = np.arange(n_samples, dtype=np.float64) / sample_rate
    mono = (TONE_LEVEL * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    click_len = max(1, round(CLICK_SECONDS * sample_rate))
    for start in click_at:
        mono[start : start + click_len] = CLICK_LEVEL
    return np.repeat(mono[None, :], channels, axis=0)


def decode_audio(path: Path) -> tuple[np.ndarray, int]:
    """All audio of the first audio stream of `path` as float32 (channels, samples), levels
    -1..1, and its sample rate (Hz): what `find_clicks` reads back from an export."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout=stream.layout, rate=stream.rate)
        parts = [r.to_ndarray() for f in container.decode(stream) for r in resampler.resample(f)]
        parts += [r.to_ndarray() for r in resampler.resample(None)]
        return np.concatenate(parts, axis=1), stream.rate


def find_clicks(samples: np.ndarray, sample_rate: int, threshold: float = 0.5) -> list[int]:
    """Sample offsets where clicks start in (channels, n) float audio (levels −1…1)."""
    loud = np.abs(samples).max(axis=0) > threshold
    starts = np.flatnonzero(loud & ~np.concatenate(([False], loud[:-1])))
    # Merge starts closer than one click (codec ringing splits a click in several runs).
    gap = max(2, round(CLICK_SECONDS * sample_rate) * 4)
    merged: list[int] = []
    for s in starts.tolist():
        if not merged or s - merged[-1] > gap:
            merged.append(s)
    return merged


_VIDEO_CODECS: dict[str, tuple[str, str, dict[str, str]]] = {
    # name: (encoder, pix_fmt, options)
    "h264": ("libx264", "yuv420p", {"preset": "ultrafast", "crf": "12"}),
    "h265": ("libx265", "yuv420p", {"preset": "ultrafast", "crf": "12"}),
    "h264_10": ("libx264", "yuv420p10le", {"preset": "ultrafast", "crf": "8"}),
    "prores": ("prores_ks", "yuv422p10le", {"profile": "3"}),
    "dnxhd": ("dnxhd", "yuv422p", {"profile": "dnxhr_sq"}),
    "ffv1": ("ffv1", "bgr0", {"level": "3"}),
    "ffv1_16": ("ffv1", "gbrp16le", {"level": "3"}),
    "mjpeg": ("mjpeg", "yuvj422p", {"q:v": "2"}),
}
VIDEO_CODECS: tuple[str, ...] = tuple(_VIDEO_CODECS)
"""Codec names accepted by ``write_index_clip``."""


def _to_video_frame(rgb: np.ndarray, pix_fmt: str) -> av.VideoFrame:
    if pix_fmt in ("bgr0", "yuv420p", "yuv422p", "yuvj422p") and not pix_fmt.endswith("10le"):
        ints = np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(ints, format="rgb24")
    else:
        ints16 = np.clip(np.rint(rgb * 65535.0), 0, 65535).astype(np.uint16)
        frame = av.VideoFrame.from_ndarray(ints16, format="rgb48le")
    if pix_fmt.startswith("yuv"):
        # JPEG (yuvj*) is full range BT.601 by definition; everything else is tagged BT.709.
        jpeg = pix_fmt.startswith("yuvj")
        return frame.reformat(
            format=pix_fmt,
            dst_colorspace="ITU601" if jpeg else "ITU709",
            dst_color_range="JPEG" if jpeg else "MPEG",
        )
    return frame.reformat(format=pix_fmt)


def write_index_clip(
    path: str | Path,
    codec: str = "h264",
    width: int = 64,
    height: int = 48,
    frames: int = 30,
    fps: Fraction = Fraction(25),
    gop: int = 12,
    bframes: int = 2,
    audio: bool = False,
    click_frames: Sequence[int] = (),
    sample_rate: int = 48000,
    timecode: str | None = None,
) -> Path:
    """Write an index-encoded clip; returns its path.

    ``gop`` is the keyframe interval and ``bframes`` the B-frames between references
    (frames); both apply to long-GOP codecs only. With ``audio`` a stereo tone with clicks
    at the first sample of each ``click_frames`` frame is muxed (PCM in .mov/.mkv, AAC in
    .mp4), covering exactly the video's duration. Frames are tagged BT.709.
    """
    path = Path(path)
    encoder, pix_fmt, options = _VIDEO_CODECS[codec]
    options = dict(options)
    if encoder == "libx265":
        options["x265-params"] = f"keyint={gop}:min-keyint={gop}:bframes={bframes}:log-level=error"
    elif encoder == "libx264":
        options["x264-params"] = f"keyint={gop}:min-keyint={gop}:bframes={bframes}:scenecut=0"
    with av.open(str(path), "w") as out:
        if timecode is not None:
            out.metadata["timecode"] = timecode
        vs = out.add_stream(encoder, rate=fps, options=options)
        vs.width, vs.height, vs.pix_fmt = width, height, pix_fmt
        vs.codec_context.gop_size = gop
        jpeg = pix_fmt.startswith("yuvj")
        vs.codec_context.colorspace = 5 if jpeg else 1  # AVCOL_SPC_BT470BG / BT709
        vs.codec_context.color_primaries = 1
        vs.codec_context.color_trc = 1
        vs.codec_context.color_range = 2 if jpeg else 1
        if timecode is not None:
            vs.metadata["timecode"] = timecode
        aud = None
        if audio:
            acodec = "aac" if path.suffix.lower() == ".mp4" else "pcm_s16le"
            aud = out.add_stream(acodec, rate=sample_rate, layout="stereo")
        for i in range(frames):
            for packet in vs.encode(_to_video_frame(index_frame(i, width, height), pix_fmt)):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
        if aud is not None:
            n = int(Fraction(frames) * sample_rate / fps)
            pcm = tone_with_clicks(n, sample_rate, click_samples(click_frames, fps, sample_rate))
            chunk = 1024
            for start in range(0, n, chunk):
                part = np.ascontiguousarray(pcm[:, start : start + chunk])
                af = av.AudioFrame.from_ndarray(part, format="fltp", layout="stereo")
                af.sample_rate = sample_rate
                af.pts = start
                af.time_base = Fraction(1, sample_rate)
                for packet in aud.encode(af):
                    out.mux(packet)
            for packet in aud.encode(None):
                out.mux(packet)
    return path


_SEQUENCE_FORMATS: dict[str, tuple[str, str, str, int]] = {
    # name: (extension, encoder, pix_fmt, bits)
    "png8": ("png", "png", "rgb24", 8),
    "png16": ("png", "png", "rgb48be", 16),
    "tiff8": ("tif", "tiff", "rgb24", 8),
    "tiff16": ("tif", "tiff", "rgb48le", 16),
    "dpx10": ("dpx", "dpx", "gbrp10le", 10),
    "dpx16": ("dpx", "dpx", "rgb48le", 16),
}
SEQUENCE_FORMATS: tuple[str, ...] = tuple(_SEQUENCE_FORMATS)
"""Formats accepted by ``write_index_sequence``."""


def quantise(frame: np.ndarray, bits: int) -> np.ndarray:
    """Float levels 0-1 → unsigned integers of ``bits`` bits (rounded, clipped)."""
    top = (1 << bits) - 1
    dtype = np.uint8 if bits <= 8 else np.uint16
    return np.clip(np.rint(frame * top), 0, top).astype(dtype)


def encode_image(rgb: np.ndarray, encoder: str, pix_fmt: str, bits: int) -> bytes:
    """One RGB float frame (levels 0-1) as the bytes of an image file (PNG, TIFF, DPX)."""
    ints = quantise(rgb, bits)
    if bits <= 8:
        frame = av.VideoFrame.from_ndarray(ints, format="rgb24")
    elif pix_fmt.startswith("gbrp"):
        frame = av.VideoFrame.from_ndarray(ints, format=pix_fmt)
    else:
        frame = av.VideoFrame.from_ndarray(ints, format="rgb48le")
    if frame.format.name != pix_fmt:
        frame = frame.reformat(format=pix_fmt)
    ctx = av.CodecContext.create(encoder, "w")
    ctx.width, ctx.height, ctx.pix_fmt = rgb.shape[1], rgb.shape[0], pix_fmt
    ctx.time_base = Fraction(1, 25)
    frame.pts = 0
    data = b"".join(bytes(p) for p in ctx.encode(frame))
    data += b"".join(bytes(p) for p in ctx.encode(None))
    return data


def _numbered(target: Path, number: int, ext: str) -> Path:
    name = target.name
    if "%" in name:
        return target.parent / (name % number)
    return target / f"frame_{number:06d}.{ext}"


def write_index_sequence(
    target: str | Path,
    fmt: str = "png16",
    width: int = 64,
    height: int = 48,
    frames: int = 10,
    start_number: int = 1,
    skip: Iterable[int] = (),
) -> list[Path]:
    """Write an index-encoded image sequence; returns the files in order.

    ``target`` is a folder (files ``frame_000001.ext`` …) or a printf pattern such as
    ``scan_%06d.dpx``. ``skip`` lists frame numbers (file numbers, not indices) to leave
    out, to build sequences with gaps. Sizes are in pixels.
    """
    ext, encoder, pix_fmt, bits = _SEQUENCE_FORMATS[fmt]
    target = Path(target)
    folder = target.parent if re.search(r"%0?\d*d", target.name) else target
    folder.mkdir(parents=True, exist_ok=True)
    skipped = set(skip)
    written: list[Path] = []
    for i in range(frames):
        number = start_number + i
        if number in skipped:
            continue
        out = _numbered(target, number, ext)
        out.write_bytes(encode_image(index_frame(i, width, height), encoder, pix_fmt, bits))
        written.append(out)
    return written
