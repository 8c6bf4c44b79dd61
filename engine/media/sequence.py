"""Image sequences: find the files of a folder or printf pattern, check them, decode one.

A sequence is given as a folder (all image files in it sharing one ``prefix + number +
extension`` name form), a printf pattern (``scan_%06d.dpx``, ``shot/%d.png``) or any one
file of it (its siblings are found by the same name form). Frame index 0 is the file with
the lowest number; numbers must be contiguous: a gap is an error, never silently closed,
because shifting every later frame would break sync and edit lists.
"""

from __future__ import annotations

import logging
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import av

from engine.errors import MediaError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS: dict[str, str] = {
    ".dpx": "dpx",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".png": "png",
    ".exr": "exr",
}
"""File extension → FFmpeg decoder for the image formats a sequence may hold."""

HEADER_CHECK_LIMIT = 20000
"""Sequences up to this many files have every file's header size checked when opened;
longer ones check an even sample (plus first and last) and every frame again when read,
so opening a 170,000-frame scan stays quick."""

_NAME = re.compile(r"^(.*?)(\d+)(\.[A-Za-z0-9]+)$")
_PRINTF = re.compile(r"%(0?)(\d*)d")


@dataclass(frozen=True)
class SequenceFiles:
    """The files of one sequence in frame order; ``first_number`` is the first file's."""

    source: Path
    files: tuple[Path, ...]
    first_number: int
    codec: str


def is_sequence_path(path: Path) -> bool:
    """Whether ``path`` names a folder, a printf pattern or an image file."""
    return (
        path.is_dir()
        or _PRINTF.search(path.name) is not None
        or path.suffix.lower() in IMAGE_EXTENSIONS
    )


def media_exists(path: Path) -> bool:
    """Whether the footage `path` names is there: a file or folder, or a printf pattern
    (``scan_%06d.dpx``, which is no file itself) matching at least one file."""
    path = Path(path)
    if path.exists():
        return True
    if _PRINTF.search(path.name) is None or not path.parent.is_dir():
        return False
    regex = _pattern_regex(path.name)
    with os.scandir(path.parent) as entries:
        return any(regex.match(entry.name) for entry in entries)


def _pattern_regex(name: str) -> re.Pattern[str]:
    m = _PRINTF.search(name)
    assert m is not None
    width = m.group(2)
    digits = rf"(\d{{{width},}})" if m.group(1) and width else r"(\d+)"
    return re.compile(
        "^" + re.escape(name[: m.start()]) + digits + re.escape(name[m.end() :]) + "$"
    )


def _describe_gaps(numbers: list[int]) -> str | None:
    gaps = [(a + 1, b - 1) for a, b in zip(numbers, numbers[1:], strict=False) if b - a > 1]
    if not gaps:
        return None
    a, b = gaps[0]
    first = f"frame {a} missing" if a == b else f"frames {a}-{b} missing"
    more = f" (and {len(gaps) - 1} more gaps)" if len(gaps) > 1 else ""
    return f"image sequence has a gap: {first}{more}"


def find_files(path: Path) -> SequenceFiles:
    """List and order the files of the sequence named by ``path``; MediaError if none,
    mixed, duplicated or with a gap in the numbering."""
    if path.is_dir():
        folder = path
        groups: dict[tuple[str, str], list[tuple[int, str]]] = {}
        with os.scandir(folder) as entries:
            for entry in entries:
                m = _NAME.match(entry.name)
                if m and m.group(3).lower() in IMAGE_EXTENSIONS and entry.is_file():
                    groups.setdefault((m.group(1), m.group(3)), []).append(
                        (int(m.group(2)), entry.name)
                    )
        if not groups:
            raise MediaError(path, "not a video or image sequence (no numbered DPX, TIFF, "
                             "PNG or EXR files in the folder)")
        if len(groups) > 1:
            names = sorted(f"{p}#{e}" for p, e in groups)
            raise MediaError(path, f"folder holds several image sequences ({', '.join(names)}); "
                             "open one with a pattern such as name_%06d.ext")
        (_, ext), numbered = next(iter(groups.items()))
    else:
        folder = path.parent
        if _PRINTF.search(path.name):
            regex = _pattern_regex(path.name)
            ext = Path(path.name.replace("%", "")).suffix
        else:
            m = _NAME.match(path.name)
            if not m:
                raise MediaError(path, "not a video or image sequence (an image file without "
                                 "a frame number in its name)")
            regex = re.compile("^" + re.escape(m.group(1)) + r"(\d+)" + re.escape(m.group(3))
                               + "$")
            ext = m.group(3)
        if ext.lower() not in IMAGE_EXTENSIONS:
            raise MediaError(path, f"not a video or image sequence (unknown image type {ext!r})")
        if not folder.is_dir():
            raise MediaError(path, "file not found")
        numbered = []
        with os.scandir(folder) as entries:
            for entry in entries:
                m2 = regex.match(entry.name)
                if m2:
                    numbered.append((int(m2.group(1)), entry.name))
        if not numbered:
            raise MediaError(path, "file not found (no file matches the pattern)")
    numbered.sort()
    numbers = [n for n, _ in numbered]
    for a, b in zip(numbered, numbered[1:], strict=False):
        if a[0] == b[0]:
            raise MediaError(path, f"image sequence has two files for frame {a[0]}: "
                             f"{a[1]} and {b[1]}")
    gap = _describe_gaps(numbers)
    if gap:
        raise MediaError(path, gap)
    files = tuple(folder / name for _, name in numbered)
    return SequenceFiles(path, files, numbers[0], IMAGE_EXTENSIONS[ext.lower()])


def header_size(file: Path) -> tuple[int, int] | None:
    """(width, height) in pixels from a PNG, DPX or TIFF header without decoding; None
    for other formats. MediaError for an empty or unreadable file."""
    try:
        with open(file, "rb") as fh:
            head = fh.read(1024)
            if not head:
                raise MediaError(file, "file is empty (0 bytes)")
            if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
                w, h = struct.unpack(">II", head[16:24])
                return w, h
            if head[:4] in (b"SDPX", b"XPDS") and len(head) >= 780:
                order = ">" if head[:4] == b"SDPX" else "<"
                w, h = struct.unpack(order + "II", head[772:780])
                return w, h
            if head[:4] in (b"II*\x00", b"MM\x00*"):
                return _tiff_size(fh, "<" if head[:2] == b"II" else ">")
    except OSError as exc:
        raise MediaError(file, f"cannot be read ({exc.strerror})") from None
    return None


def _tiff_size(fh: object, order: str) -> tuple[int, int] | None:
    assert hasattr(fh, "seek") and hasattr(fh, "read")
    fh.seek(4)
    (ifd,) = struct.unpack(order + "I", fh.read(4))
    fh.seek(ifd)
    raw = fh.read(2)
    if len(raw) < 2:
        return None
    (count,) = struct.unpack(order + "H", raw)
    entries = fh.read(12 * count)
    size: dict[int, int] = {}
    for k in range(len(entries) // 12):
        tag, typ, _n = struct.unpack(order + "HHI", entries[12 * k : 12 * k + 8])
        if tag in (256, 257):
            fmt = "H" if typ == 3 else "I"
            size[tag] = struct.unpack(order + fmt, entries[12 * k + 8 : 12 * k + 8 + struct.calcsize(fmt)])[0]
    if 256 in size and 257 in size:
        return size[256], size[257]
    return None


def decode_file(file: Path, codec: str) -> av.VideoFrame:
    """Decode one image file with FFmpeg's ``codec`` decoder; MediaError naming the file
    when it is empty, truncated or not an image of that type."""
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise MediaError(file, "file not found (removed while the sequence was open)") from None
    except OSError as exc:
        raise MediaError(file, f"cannot be read ({exc.strerror})") from None
    if not data:
        raise MediaError(file, "file is empty (0 bytes)")
    ctx = av.CodecContext.create(codec, "r")
    # Frame threading would hold the picture back until a flush; images are decoded alone.
    ctx.thread_count = 1
    try:
        frames = ctx.decode(av.Packet(data))
        if not frames:
            frames = ctx.decode(None)
    except (av.FFmpegError, ValueError) as exc:
        raise MediaError(file, f"truncated or damaged {codec.upper()} image ({exc})") from None
    if not frames:
        raise MediaError(file, f"truncated or damaged {codec.upper()} image (no picture decoded)")
    return frames[0]


def check_sizes(seq: SequenceFiles, width: int, height: int) -> None:
    """MediaError "frames have different sizes" if any checked header differs from
    (width, height); checks all files up to HEADER_CHECK_LIMIT, else a sample."""
    files = seq.files
    if len(files) <= HEADER_CHECK_LIMIT:
        chosen = files
    else:
        step = len(files) / HEADER_CHECK_LIMIT
        chosen = tuple(files[int(k * step)] for k in range(HEADER_CHECK_LIMIT)) + (files[-1],)
    for file in chosen:
        size = header_size(file)
        if size is not None and size != (width, height):
            raise MediaError(
                file,
                f"frames have different sizes: {size[0]}x{size[1]}, "
                f"first frame {files[0].name} is {width}x{height}",
            )
