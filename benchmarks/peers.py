"""ffmpeg filters a user would pick instead of Nitrate, run as benchmark peers.

The ffmpeg command-line tool is used here only as a peer to compare against (the product
itself uses PyAV); install it with `apt-get install ffmpeg`. Peers whose filters the
installed build lacks (vidstab is an optional library) are reported as missing.

Frames travel both ways losslessly as raw 16-bit RGB (rgb48le) through pipes, so codec
loss does not pollute the comparison: the only loss is what the filter itself does (and
any pixel-format conversion the filter needs, e.g. nlmeans works on 8-bit YUV, which is
part of what a user of that filter gets).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FFMPEG = shutil.which("ffmpeg")


@dataclass(frozen=True)
class Peer:
    """One ffmpeg peer: a name for the table, the filter graph, and its passes.

    filters:  the -vf graph for a one-pass filter; for two-pass vidstab, the second pass's
              graph with `{trf}` where the transforms file goes.
    detect:   first-pass graph (two-pass filters only), with `{trf}`.
    needs:    the ffmpeg filter names that must exist in the build.
    """

    name: str
    filters: str
    needs: tuple[str, ...]
    detect: str | None = None
    note: str = ""


_PAD = "tpad=start=1:stop=1:start_mode=clone:stop_mode=clone"

# What a user would reach for, with settings chosen for this kind of damage (not defaults
# where the default would obviously do nothing useful).
PEERS: dict[str, Peer] = {
    # 3-frame temporal median: the classic dust buster; also smears motion. ffmpeg's tmedian
    # drops the first and last `radius` frames, so the ends are padded (cloned) first, as a
    # careful user would, to get every frame back in place.
    "tmedian": Peer("ffmpeg tmedian", f"{_PAD},tmedian=radius=1", ("tpad", "tmedian")),
    # 3x3 spatial median on every plane: removes specks about a pixel across.
    "removegrain": Peer("ffmpeg removegrain", "removegrain=m0=4:m1=4:m2=4", ("removegrain",)),
    "deflicker": Peer("ffmpeg deflicker", "deflicker=size=5:mode=am", ("deflicker",)),
    "hqdn3d": Peer("ffmpeg hqdn3d", "hqdn3d", ("hqdn3d",)),
    "atadenoise": Peer("ffmpeg atadenoise", "atadenoise", ("atadenoise",)),
    # s=3 is close to the grain's std in 8-bit levels; the default s=1 hardly denoises.
    "nlmeans": Peer("ffmpeg nlmeans", "nlmeans=s=3:p=7:r=15", ("nlmeans",)),
    "deshake": Peer("ffmpeg deshake", "deshake", ("deshake",)),
    # Two passes; no zoom so the picture's geometry stays comparable with the clean frames.
    # libvidstab asserts on packed RGB, so it gets planar YUV 4:4:4 (no chroma loss).
    "vidstab": Peer(
        "ffmpeg vidstab",
        "format=yuv444p,vidstabtransform=input={trf}:smoothing=10:optzoom=0:zoom=0:crop=keep",
        ("vidstabdetect", "vidstabtransform"),
        detect="format=yuv444p,vidstabdetect=result={trf}:shakiness=5",
    ),
    # The chain a user would string together for a damaged film in one go.
    "chain": Peer(
        "ffmpeg chain",
        f"deshake,deflicker=size=5,{_PAD},tmedian=radius=1,hqdn3d",
        ("deshake", "deflicker", "tpad", "tmedian", "hqdn3d"),
        note="deshake, deflicker, tmedian, hqdn3d",
    ),
}


@functools.cache
def available_filters() -> frozenset[str]:
    """Names of the video filters in the installed ffmpeg build (empty without ffmpeg)."""
    if FFMPEG is None:
        return frozenset()
    out = subprocess.run([FFMPEG, "-hide_banner", "-filters"], capture_output=True, text=True,
                         timeout=30, check=False).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and "->" in parts[2]:
            names.add(parts[1])
    return frozenset(names)


def missing(peer: Peer) -> str | None:
    """Why `peer` cannot run here, or None when it can."""
    if FFMPEG is None:
        return "ffmpeg not installed (apt-get install ffmpeg)"
    lacking = [f for f in peer.needs if f not in available_filters()]
    if lacking:
        return f"this ffmpeg build lacks {', '.join(lacking)}"
    return None


def _to_rgb48(frames: Sequence[np.ndarray]) -> bytes:
    return b"".join(
        (np.clip(f, 0.0, 1.0) * 65535.0 + 0.5).astype("<u2").tobytes() for f in frames
    )


def _ffmpeg(args: list[str], data: bytes | None) -> bytes:
    assert FFMPEG is not None
    proc = subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", *args],
                          input=data, capture_output=True, timeout=1800, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {proc.stderr.decode(errors='replace').strip()[-300:]}")
    return proc.stdout


def run_peer(peer: Peer, frames: Sequence[np.ndarray], fps: float = 24.0,
             size: tuple[int, int] | None = None) -> tuple[list[np.ndarray], float]:
    """Filter `frames` (float32 (H, W, 3) levels 0-1) with `peer`; `size` is the
    (width, height) in pixels the filter gives back when it is not the input's.

    Returns (filtered frames, wall seconds for the whole run, both passes and the pipe
    transfers included, as a user running the command would wait).
    """
    h, w = frames[0].shape[:2]
    raw_in = ["-f", "rawvideo", "-pix_fmt", "rgb48le", "-s", f"{w}x{h}", "-r", str(fps),
              "-i", "pipe:0"]
    raw_out = ["-f", "rawvideo", "-pix_fmt", "rgb48le", "pipe:1"]
    data = _to_rgb48(frames)
    with tempfile.TemporaryDirectory(prefix="nitrate-peer-") as tmp:
        trf = str(Path(tmp) / "transforms.trf")
        start = time.perf_counter()
        if peer.detect is not None:
            _ffmpeg([*raw_in, "-vf", peer.detect.format(trf=trf), "-f", "null", "-"], data)
        out = _ffmpeg([*raw_in, "-vf", peer.filters.format(trf=trf), *raw_out], data)
        seconds = time.perf_counter() - start
    arr = np.frombuffer(out, dtype="<u2")
    w, h = size or (w, h)
    if arr.size != len(frames) * h * w * 3:
        raise RuntimeError(f"{peer.name}: got {arr.size // (h * w * 3)} frames back "
                           f"for {len(frames)}")
    arr = arr.reshape(len(frames), h, w, 3).astype(np.float32) / np.float32(65535.0)
    return list(arr), seconds
