"""Colour look-up tables in the .cube format: read, written and applied to float frames.

A .cube file (Adobe's specification, also written by Resolve, Nuke and most colour tools)
maps RGB input levels to output levels. It holds a 3D table (`LUT_3D_SIZE n`: n³ output
triplets, red varying fastest, then green, then blue), a 1D table (`LUT_1D_SIZE n`: n
triplets, one curve per channel), or, as Resolve writes them, both: the 1D table is then a
shaper applied before the 3D table. Inputs are scaled from the table's domain
(`DOMAIN_MIN`/`DOMAIN_MAX`, or Resolve's `LUT_3D_INPUT_RANGE`/`LUT_1D_INPUT_RANGE`;
0-1 by default) and clamped to it, as colour tools do.

3D tables are interpolated tetrahedrally (as ffmpeg's `lut3d` and Resolve's tetrahedral
setting): each point is weighed from the four corners of the tetrahedron of its cell that
contains it, which follows the grey axis exactly and is smoother along it than trilinear
interpolation. 1D tables are interpolated linearly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from engine.atomic_file import atomic_write_text
from engine.errors import LutError
from engine.runtime import parallel_map

MAX_3D_SIZE = 256
"""Largest 3D table accepted (points a side): 256³ triplets are 192 MiB as float32."""

MAX_1D_SIZE = 65536
"""Largest 1D table accepted (points)."""

_ROWS_PER_CHUNK = 128
"""Rows of a frame interpolated at once: keeps the temporaries (a few arrays of the chunk's
pixels) inside the processor's cache-friendly range instead of a whole 4K frame's worth."""


@dataclass(frozen=True, eq=False)
class Lut:
    """A colour look-up table (see module docstring). Tables are float32, read-only.

    shaper: (n, 3) 1D table, one curve per channel, applied first; None when absent.
    cube:   (n, n, n, 3) 3D table indexed [blue, green, red]; None when absent.
    The domains are the input levels the tables' first and last points stand for, per
    channel (R, G, B).
    """

    title: str = ""
    shaper: np.ndarray | None = None
    shaper_domain: tuple[np.ndarray, np.ndarray] = field(
        default_factory=lambda: (np.zeros(3, np.float32), np.ones(3, np.float32)))
    cube: np.ndarray | None = None
    cube_domain: tuple[np.ndarray, np.ndarray] = field(
        default_factory=lambda: (np.zeros(3, np.float32), np.ones(3, np.float32)))

    def __post_init__(self) -> None:
        if self.shaper is None and self.cube is None:
            raise ValueError("a LUT needs a 1D or a 3D table")
        for table in (self.shaper, self.cube):
            if table is not None:
                table.setflags(write=False)

    @cached_property
    def _shaper_table(self) -> _Table | None:
        """The 1D table laid out for interpolation, made once per LUT, not per frame."""
        return None if self.shaper is None else _Table(self.shaper, self.shaper_domain)

    @cached_property
    def _cube_table(self) -> _Table | None:
        """The 3D table laid out for interpolation, made once per LUT, not per frame."""
        return None if self.cube is None else _Table(self.cube, self.cube_domain)

    @property
    def size(self) -> str:
        """The tables' sizes as a user reads them: "33³", "1024", "4096 → 33³"."""
        parts = []
        if self.shaper is not None:
            parts.append(str(len(self.shaper)))
        if self.cube is not None:
            parts.append(f"{len(self.cube)}³")
        return " → ".join(parts)


def read_cube(path: str | Path) -> Lut:
    """Read a .cube file; any problem raises LutError naming the file (and the line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise LutError(path, "no such LUT file") from None
    except IsADirectoryError:
        raise LutError(path, "is a folder, not a .cube file") from None
    except OSError as exc:
        raise LutError(path, f"cannot be read ({exc.strerror or exc})") from None
    return parse_cube(text, path)


_KEYWORD = re.compile(r"[A-Z][A-Z_0-9]*")
"""A keyword line's first word; a table row's starts with a digit, a sign or a point."""


def parse_cube(text: str, path: str | Path = "<LUT>") -> Lut:
    """Parse the text of a .cube file (see `read_cube`)."""
    title = ""
    size_1d = size_3d = 0
    domain_min = domain_max = None
    range_1d = range_3d = None
    rows: list[tuple[float, float, float]] = []
    first_row_line = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        word = line.split(None, 1)[0]
        rest = line[len(word):].strip()
        if _KEYWORD.fullmatch(word):
            if rows:
                raise LutError(path, f"line {number}: keyword {word} after the table began")
            if word == "TITLE":
                title = rest.strip('"')
            elif word == "LUT_1D_SIZE":
                size_1d = _size(path, number, rest, MAX_1D_SIZE, 2)
            elif word == "LUT_3D_SIZE":
                size_3d = _size(path, number, rest, MAX_3D_SIZE, 2)
            elif word == "DOMAIN_MIN":
                domain_min = _triplet(path, number, rest)
            elif word == "DOMAIN_MAX":
                domain_max = _triplet(path, number, rest)
            elif word == "LUT_1D_INPUT_RANGE":
                range_1d = _pair(path, number, rest)
            elif word == "LUT_3D_INPUT_RANGE":
                range_3d = _pair(path, number, rest)
            # Other keywords (LUT_IN_VIDEO_RANGE, vendors' own) do not change the mapping
            # of full-range levels; they are ignored as other tools ignore them.
            continue
        if not rows:
            first_row_line = number
        rows.append(_triplet(path, number, line))
    if not size_1d and not size_3d:
        raise LutError(path, "not a .cube LUT (no LUT_1D_SIZE or LUT_3D_SIZE line)")
    expected = size_1d + size_3d ** 3
    if len(rows) != expected:
        sizes = " + ".join(s for s in (f"{size_1d}" if size_1d else "",
                                        f"{size_3d}³" if size_3d else "") if s)
        raise LutError(path, f"the table has {len(rows)} rows where its size ({sizes}) "
                       f"needs {expected} (rows from line {first_row_line})")
    table = np.asarray(rows, dtype=np.float32).reshape(-1, 3)
    if not np.isfinite(table).all():
        raise LutError(path, "the table holds a value that is not a finite number")
    lo = np.zeros(3, np.float32) if domain_min is None else np.asarray(domain_min, np.float32)
    hi = np.ones(3, np.float32) if domain_max is None else np.asarray(domain_max, np.float32)
    shaper_domain = _domain(path, range_1d, lo, hi)
    cube_domain = _domain(path, range_3d, lo, hi)
    shaper = np.ascontiguousarray(table[:size_1d]) if size_1d else None
    cube = (np.ascontiguousarray(table[size_1d:].reshape(size_3d, size_3d, size_3d, 3))
            if size_3d else None)
    return Lut(title, shaper, shaper_domain, cube, cube_domain)


def _size(path: str | Path, number: int, rest: str, largest: int, smallest: int) -> int:
    try:
        size = int(rest)
    except ValueError:
        raise LutError(path, f"line {number}: the size '{rest}' is not a whole number") from None
    if not smallest <= size <= largest:
        raise LutError(path, f"line {number}: size {size} is outside {smallest}-{largest}")
    return size


def _numbers(path: str | Path, number: int, rest: str, count: int) -> tuple[float, ...]:
    parts = rest.split()
    try:
        values = tuple(float(v) for v in parts)
    except ValueError:
        values = ()
    if len(values) != count:
        raise LutError(path, f"line {number}: expected {count} numbers, got '{rest}'")
    return values


def _triplet(path: str | Path, number: int, rest: str) -> tuple[float, float, float]:
    r, g, b = _numbers(path, number, rest, 3)
    return r, g, b


def _pair(path: str | Path, number: int, rest: str) -> tuple[float, float]:
    lo, hi = _numbers(path, number, rest, 2)
    return lo, hi


def _domain(path: str | Path, input_range: tuple[float, float] | None, lo: np.ndarray,
            hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if input_range is not None:
        lo = np.full(3, input_range[0], np.float32)
        hi = np.full(3, input_range[1], np.float32)
    if not np.all(hi > lo):
        raise LutError(path, "the domain's maximum must be above its minimum in every channel")
    return lo, hi


def format_cube(lut: Lut) -> str:
    """The text of a .cube file holding `lut` (6 decimals: finer than a 16-bit step).

    A single table is written as Adobe's specification has it (`DOMAIN_MIN`/`DOMAIN_MAX`,
    left out when 0-1), which every reader takes (ffmpeg's `lut3d` refuses Resolve's
    `LUT_3D_INPUT_RANGE`); a shaper and a cube together only exist in Resolve's form, with
    a range per table."""
    lines = []
    if lut.title:
        lines.append(f'TITLE "{lut.title}"')
    both = lut.shaper is not None and lut.cube is not None
    for table, domain, word in ((lut.shaper, lut.shaper_domain, "1D"),
                                (lut.cube, lut.cube_domain, "3D")):
        if table is None:
            continue
        lines.append(f"LUT_{word}_SIZE {len(table)}")
        lo, hi = domain
        if both:
            if not (np.all(lo == lo[0]) and np.all(hi == hi[0])):
                raise ValueError("a shaper and cube with per-channel domains cannot be written")
            lines.append(f"LUT_{word}_INPUT_RANGE {lo[0]:.6f} {hi[0]:.6f}")
        elif np.any(lo != 0) or np.any(hi != 1):
            lines.append("DOMAIN_MIN " + " ".join(f"{v:.6f}" for v in lo))
            lines.append("DOMAIN_MAX " + " ".join(f"{v:.6f}" for v in hi))
    for table in (lut.shaper, lut.cube):
        if table is not None:
            lines.extend(f"{r:.6f} {g:.6f} {b:.6f}" for r, g, b in table.reshape(-1, 3))
    return "\n".join(lines) + "\n"


def write_cube(lut: Lut, path: str | Path) -> None:
    """Write `lut` as a .cube file, atomically (a temporary name, renamed when complete)."""
    path = Path(path)
    try:
        atomic_write_text(path, format_cube(lut))
    except OSError as exc:
        raise LutError(path, f"cannot be written ({exc.strerror or exc})") from None


def apply_lut(frame: np.ndarray, lut: Lut) -> np.ndarray:
    """`frame` (float32 (H, W, 3) RGB) through `lut`: a new float32 frame of the same size.

    Levels outside a table's domain are clamped to it, as the .cube format defines. Bands
    of rows are interpolated on the shared pool (`engine.runtime.parallel_map`): numpy's
    elementwise work runs on one core, and a 1080p frame through a 33³ table took 91 ms on
    two cores against about 230 ms on one."""
    height = frame.shape[0]
    out = np.empty(frame.shape, np.float32)
    shaper, cube = lut._shaper_table, lut._cube_table

    def band(rows: slice) -> None:
        pixels = np.asarray(frame[rows], dtype=np.float32).reshape(-1, 3)
        channels = [np.ascontiguousarray(pixels[:, c]) for c in range(3)]
        if shaper is not None:
            channels = shaper.curves(channels)
        if cube is not None:
            channels = cube.tetrahedral(channels)
        out[rows] = np.stack(channels, axis=-1).reshape(out[rows].shape)

    parallel_map(band, [slice(top, min(height, top + _ROWS_PER_CHUNK))
                        for top in range(0, height, _ROWS_PER_CHUNK)])
    return out


class _Table:
    """One table of a LUT laid out for interpolation: a contiguous plane per output
    channel (gathers from a 1D array are several times faster than rows of an (n, 3) one)."""

    def __init__(self, table: np.ndarray, domain: tuple[np.ndarray, np.ndarray]) -> None:
        self.size = len(table)
        flat = table.reshape(-1, 3)
        self.planes = [np.ascontiguousarray(flat[:, c]) for c in range(3)]
        lo, hi = domain
        self.offset = [np.float32(v) for v in lo]
        self.scale = [np.float32((self.size - 1) / (b - a)) for a, b in zip(lo, hi, strict=True)]

    def _position(self, levels: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Each level's cell (int32, the lower of its two table points) and its fraction of
        the way to the next point, clamped to the table."""
        t = (levels - self.offset[c]) * self.scale[c]
        np.clip(t, 0.0, np.float32(self.size - 1), out=t)
        with np.errstate(invalid="ignore"):  # a NaN gets some cell; `take` clamps it
            cell = np.minimum(t.astype(np.int32), self.size - 2)
        t -= cell
        return cell, t

    def curves(self, channels: list[np.ndarray]) -> list[np.ndarray]:
        """Each channel through its own curve, linearly interpolated."""
        out = []
        for c, levels in enumerate(channels):
            cell, frac = self._position(levels, c)
            low = np.take(self.planes[c], cell, mode="clip")
            out.append(low + (np.take(self.planes[c], cell + 1, mode="clip") - low) * frac)
        return out

    def tetrahedral(self, channels: list[np.ndarray]) -> list[np.ndarray]:
        """The three channels through the 3D table, interpolated tetrahedrally."""
        n = self.size
        (cr, r), (cg, g), (cb, b) = (self._position(v, c) for c, v in enumerate(channels))
        # Flat index of a table point: red varies fastest (the file's order).
        base = cr + cg * n + cb * (n * n)
        # The tetrahedron holding the point is the one whose path from the cell's lowest
        # corner to its highest steps first along the axis of the largest fraction, then
        # along the middle one, then the smallest.
        r_ge_g, g_ge_b, r_ge_b = r >= g, g >= b, r >= b
        f_max = np.maximum(np.maximum(r, g), b)
        f_min = np.minimum(np.minimum(r, g), b)
        f_mid = r + g + b - f_max - f_min
        first = np.where(r_ge_g & r_ge_b, 1, np.where(g_ge_b, n, n * n)).astype(np.int32)
        last = np.where(~r_ge_b & ~r_ge_g, 1, np.where(~g_ge_b, n, n * n)).astype(np.int32)
        corner1 = base + first
        corner3 = base + (1 + n + n * n)
        corner2 = corner3 - last
        weights = (1.0 - f_max, f_max - f_mid, f_mid - f_min, f_min)
        out = []
        for plane in self.planes:
            value = np.take(plane, base, mode="clip") * weights[0]
            value += np.take(plane, corner1, mode="clip") * weights[1]
            value += np.take(plane, corner2, mode="clip") * weights[2]
            value += np.take(plane, corner3, mode="clip") * weights[3]
            out.append(value)
        return out
