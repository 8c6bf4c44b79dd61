"""Optional proxies: all-intra, half-size copies of long-GOP sources for fast scrubbing.

A seek into H.264/H.265 decodes from the keyframe before the target (up to a whole GOP,
often 1-10 s of frames); a proxy decodes exactly one small frame. ``make_proxy`` writes a
Motion-JPEG (every frame a keyframe) copy at ``PROXY_SCALE`` of the source size into the
user's cache folder, keyed by the source's path, size and modification time (a changed or
replaced source gets a new proxy, never a stale one). ``ProxyReader`` reads it by the
source's frame indices.

Proxies show ORIGINAL frames only, in the viewer, when the preview scale is at most
``PROXY_SCALE`` (the proxy then still has at least the pixels shown). They are never used
for an export, a still, analysis or the restored side: JPEG at half size is a preview, not
the source. Making one costs a full decode of the source (run it in the background with
``cancel``/``progress``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from engine.errors import MediaError
from engine.media.cache import cache_dir, source_key
from engine.media.info import MediaInfo
from engine.media.reader import Reader, VideoReader, open_reader

PROXY_SCALE = 0.5
"""Proxy size relative to the source (per side)."""
PROXY_QUALITY = 4
"""MJPEG quantiser (2 best … 31 worst): visually clean at half size, ~1/4 of ProRes."""


def default_cache_dir() -> Path:
    """The user's cache folder for proxies (XDG_CACHE_HOME/nitrate/proxies on Linux)."""
    return cache_dir("proxies")


def proxy_path(source: str | Path, folder: Path | None = None) -> Path:
    """Where the proxy of `source` lives: a name derived from its absolute path, size
    (bytes) and modification time (ns), so an edited source never meets an old proxy."""
    return (folder or default_cache_dir()) / f"{source_key(source)}.mkv"


def find_proxy(source: str | Path, folder: Path | None = None) -> Path | None:
    """The finished proxy of `source`, or None (not made, or the source changed since)."""
    try:
        path = proxy_path(source, folder)
    except OSError:
        return None
    return path if path.is_file() else None


def _even(n: float) -> int:
    return max(2, int(round(n / 2)) * 2)


def make_proxy(source: str | Path, folder: Path | None = None,
               cancel: Callable[[], bool] | None = None,
               progress: Callable[[int, int], None] | None = None) -> Path | None:
    """Write the proxy of a video file (decoded once, sequentially) and return its path;
    None when `cancel()` became true (nothing is left behind). Written under a temporary
    name and renamed when complete, so a crash never leaves a half proxy under the key."""
    target = proxy_path(source, folder)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.stem}.partial-{os.getpid()}.mkv")
    with open_reader(source) as reader:
        if not isinstance(reader, VideoReader):
            raise MediaError(source, "proxies are made for video files (an image sequence "
                             "already seeks one file per frame)")
        info = reader.info
        width, height = _even(info.width * PROXY_SCALE), _even(info.height * PROXY_SCALE)
        total = info.frame_count
        try:
            with av.open(str(temp), "w") as out:
                stream = out.add_stream("mjpeg", rate=info.fps)
                stream.width, stream.height, stream.pix_fmt = width, height, "yuvj422p"
                stream.codec_context.qscale = PROXY_QUALITY  # type: ignore[attr-defined]
                stream.codec_context.flags |= av.codec.context.Flags.qscale
                for n, frame in enumerate(reader.frames()):
                    if cancel is not None and cancel():
                        raise _Cancelled
                    small = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
                    rgb = np.rint(np.clip(small, 0.0, 1.0) * 255).astype(np.uint8)
                    vf = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                    vf = vf.reformat(format="yuvj422p")
                    vf.pts = n
                    vf.time_base = Fraction(1) / info.fps
                    for packet in stream.encode(vf):
                        out.mux(packet)
                    if progress is not None:
                        progress(n + 1, total)
                for packet in stream.encode(None):
                    out.mux(packet)
        except _Cancelled:
            temp.unlink(missing_ok=True)
            return None
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    os.replace(temp, target)
    return target


class _Cancelled(Exception):
    pass


class ProxyReader(Reader):
    """Frames of a source's proxy by the SOURCE's frame indices, at ``PROXY_SCALE`` size.

    ``info`` is the proxy's (width/height are the proxy's pixels); ``source_size`` is the
    source's (width, height) in pixels."""

    def __init__(self, proxy: Path, source_size: tuple[int, int], frame_count: int) -> None:
        self._reader = VideoReader(proxy)
        if self._reader.info.frame_count != frame_count:
            self._reader.close()
            raise MediaError(proxy, f"proxy holds {self._reader.info.frame_count} frames, "
                             f"the source {frame_count}: remake it")
        self.info = self._reader.info
        self.source_size = source_size

    def read(self, index: int) -> np.ndarray:
        return self._reader.read(index)

    def close(self) -> None:
        self._reader.close()


def open_proxy(source: str | Path, scale: float, info: MediaInfo,
               folder: Path | None = None) -> Reader | None:
    """A ProxyReader for showing original frames of `source` (described by `info`) at
    preview `scale`, or None when the scale needs more pixels than the proxy has or no
    valid proxy exists."""
    if scale > PROXY_SCALE:
        return None
    path = find_proxy(source, folder)
    if path is None:
        return None
    try:
        return ProxyReader(path, (info.width, info.height), info.frame_count)
    except MediaError:
        return None
