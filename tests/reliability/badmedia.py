"""Generators of bad, odd and hostile inputs for the reliability battery (tiny files, made
in the test's own temporary folder). Also used by benchmarks/fuzz.py for its seeds."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from engine.synth.index_clip import index_frame, write_index_clip


def _rgb8(index: int, width: int, height: int) -> np.ndarray:
    return np.rint(index_frame(index, width, height) * 255).astype(np.uint8)


def write_clip(path: Path, encoder: str, pix_fmt: str, frames: int = 4, width: int = 64,
               height: int = 48, options: dict[str, str] | None = None,
               make: Callable[[int], av.VideoFrame] | None = None,
               pts: Callable[[int], int] | None = None,
               time_base: Fraction | None = None) -> Path:
    """A small clip with PyAV: frames from `make(k)` (default: index frames converted to
    `pix_fmt`), timestamps `pts(k)` in `time_base` (default k at 25 fps)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(encoder, rate=25, options=options or {})
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if time_base is not None:
            stream.time_base = time_base
        for k in range(frames):
            if make is not None:
                frame = make(k)
            else:
                frame = av.VideoFrame.from_ndarray(_rgb8(k, width, height), format="rgb24")
                frame = frame.reformat(format=pix_fmt)
            frame.pts = pts(k) if pts is not None else k
            if time_base is not None:
                frame.time_base = time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def random_bytes(path: Path, size: int = 50_000, seed: int = 3) -> Path:
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, size, np.uint8).tobytes())
    return path


def truncated(source: Path, path: Path, keep: float = 0.5) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def corrupted_packets(path: Path, frames: int = 60, damaged: tuple[int, ...] = (25, 26, 31),
                      ) -> Path:
    """An H.264 Matroska clip (keyframe every 12 frames) whose packets `damaged` carry
    garbage payloads: the container is intact, the decoder meets broken data mid-stream."""
    clean = write_index_clip(path.with_name("clean_" + path.name), "h264", frames=frames,
                             gop=12, bframes=0)
    rng = np.random.default_rng(11)
    with av.open(str(clean)) as src, av.open(str(path), "w") as out:
        template = src.streams.video[0]
        stream = out.add_stream_from_template(template, opaque=True)
        for n, packet in enumerate(src.demux(template)):
            if packet.pts is None:
                continue
            if n in damaged:
                payload = bytearray(bytes(packet))
                # Keep the NAL start so the parser hands the slice to the decoder.
                garbage = rng.integers(0, 256, max(0, len(payload) - 8), np.uint8)
                payload[8:] = garbage.tobytes()
                new = av.Packet(bytes(payload))
                new.pts, new.dts, new.time_base = packet.pts, packet.dts, packet.time_base
                new.is_keyframe = packet.is_keyframe
                packet = new
            packet.stream = stream
            out.mux(packet)
    clean.unlink()
    return path


def huge_y4m(path: Path, width: int = 20000, height: int = 100) -> Path:
    """A raw YUV4MPEG stream whose header claims an absurd width (and holds one tiny,
    short frame): the demuxer believes the header."""
    header = f"YUV4MPEG2 W{width} H{height} F25:1 Ip A1:1 C420jpeg\nFRAME\n".encode()
    path.write_bytes(header + bytes(1000))
    return path


def huge_png(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A PNG with only an IHDR claiming `width` x `height` pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
    chunk += struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk)
    return path


def huge_dpx(path: Path, width: int = 60_000, height: int = 60_000) -> Path:
    """A DPX header (big-endian) claiming `width` x `height` and no image data."""
    head = bytearray(2048)
    head[0:4] = b"SDPX"
    struct.pack_into(">I", head, 4, 2048)  # offset to the image data
    struct.pack_into(">II", head, 772, width, height)
    path.write_bytes(bytes(head))
    return path


def variable_rate(path: Path, frames: int = 20) -> Path:
    """FFV1 in Matroska with frame durations alternating 40 and 80 ms."""
    starts = [0]
    for k in range(1, frames):
        starts.append(starts[-1] + (80 if k % 2 else 40))
    return write_clip(path, "ffv1", "bgr0", frames, pts=lambda k: starts[k],
                      time_base=Fraction(1, 1000))


def interlaced(path: Path) -> Path:
    """H.264 coded as interlaced, top field first."""
    return write_clip(path, "libx264", "yuv420p", 4,
                      options={"x264-params": "interlaced=1:tff=1"})


def rotated(path: Path) -> Path:
    """An H.264 MOV whose track header carries a 90-degree display matrix (edited in the
    'tkhd' box the way a phone writes it)."""
    write_clip(path, "libx264", "yuv420p", 4)
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    assert at > 0, "no track header"
    matrix = at - 4 + 48 if data[at + 4] == 0 else at - 4 + 60  # version 0 or 1 box
    one = 0x10000
    struct.pack_into(">9i", data, matrix, 0, one, 0, -one, 0, 0, 0, 0, 0x40000000)
    path.write_bytes(bytes(data))
    return path


def audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16",
                                           layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def pal8_sequence(folder: Path, frames: int = 3) -> Path:
    """PNG files with a 256-colour palette (pal8): red 77, green falling and blue rising
    left to right."""
    folder.mkdir()
    palette = np.zeros((256, 4), np.uint8)  # BGRA
    palette[:, 0] = np.arange(256)
    palette[:, 1] = 255 - np.arange(256)
    palette[:, 2] = 77
    palette[:, 3] = 255
    for k in range(frames):
        frame = av.VideoFrame(64, 48, "pal8")
        indices = np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1))
        pad = frame.planes[0].line_size - 64
        frame.planes[0].update(np.ascontiguousarray(np.pad(indices, ((0, 0), (0, pad)))).tobytes())
        frame.planes[1].update(palette.tobytes())
        ctx = av.CodecContext.create("png", "w")
        ctx.width, ctx.height, ctx.pix_fmt = 64, 48, "pal8"
        ctx.time_base = Fraction(1, 25)
        frame.pts = 0
        data = b"".join(bytes(p) for p in ctx.encode(frame))
        data += b"".join(bytes(p) for p in ctx.encode(None))
        (folder / f"pal_{k:04d}.png").write_bytes(data)
    return folder


def bayer(path: Path, frames: int = 3) -> Path:
    """Raw RGGB Bayer samples (the green of an index frame as the mosaic) in NUT."""
    def make(k: int) -> av.VideoFrame:
        frame = av.VideoFrame(64, 48, "bayer_rggb8")
        frame.planes[0].update(np.ascontiguousarray(_rgb8(k, 64, 48)[:, :, 1]).tobytes())
        return frame

    return write_clip(path, "rawvideo", "bayer_rggb8", frames, make=make)


def gray16(path: Path, frames: int = 3) -> Path:
    return write_clip(path, "ffv1", "gray16le", frames)
