"""Kodak Cineon printing-density log ↔ Rec. 709 video: the bundled conversion LUTs.

Film scanners deliver negatives (and many positives) as 10-bit Cineon log DPX: code value
= density × 500 above the film base, so a scan looks flat and grey until it is converted.
Kodak's reference conversion (the Cineon system's documentation; as Nuke's `Log2Lin`
defaults): code 95 is black, code 685 is reference white (90 % diffuse white), and a
negative's gamma of 0.6 with 0.002 density per code gives

    linear = (10^((code − 685) · 0.002 / 0.6) − offset) / (1 − offset),
    offset = 10^((95 − 685) · 0.002 / 0.6).

Video levels are the linear light through the Rec. 709 curve (ITU-R BT.709's OETF:
4.5 L below 0.018, 1.099 L^0.45 − 0.099 above). Codes above reference white hold
highlights beyond what video shows: the conversion clips them (they stay in the data, and
in an export of the log scan). The tables are 1D (one curve, the same for R, G and B), of
1024 points: one per 10-bit code, so a 10-bit scan is converted exactly at every code.

`python -m engine.lut.film_log [FOLDER]` writes them (`resources/luts` by default); a test
checks that the shipped files are what this module makes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from engine.lut.cube import Lut, write_cube

BLACK_CODE = 95.0
"""Cineon code value of black (10-bit)."""

WHITE_CODE = 685.0
"""Cineon code value of reference white (10-bit)."""

NEGATIVE_GAMMA = 0.6
DENSITY_PER_CODE = 0.002
CODES = 1023.0
"""The largest 10-bit code: levels 0-1 are codes 0-1023."""

POINTS = 1024
"""Points in each bundled table: one per 10-bit code."""

_OFFSET = 10.0 ** ((BLACK_CODE - WHITE_CODE) * DENSITY_PER_CODE / NEGATIVE_GAMMA)


def cineon_to_linear(levels: np.ndarray) -> np.ndarray:
    """Cineon log levels (0-1 = codes 0-1023) → linear light (0 at black, 1 at reference
    white; below black is negative, above white over 1)."""
    codes = np.asarray(levels, np.float64) * CODES
    power = 10.0 ** ((codes - WHITE_CODE) * DENSITY_PER_CODE / NEGATIVE_GAMMA)
    return (power - _OFFSET) / (1.0 - _OFFSET)


def linear_to_cineon(linear: np.ndarray) -> np.ndarray:
    """Linear light (0 black, 1 reference white, ≥ 0) → Cineon log levels 0-1."""
    power = np.asarray(linear, np.float64) * (1.0 - _OFFSET) + _OFFSET
    codes = WHITE_CODE + np.log10(power) * NEGATIVE_GAMMA / DENSITY_PER_CODE
    return codes / CODES


def rec709_encode(linear: np.ndarray) -> np.ndarray:
    """Linear light 0-1 → Rec. 709 video levels 0-1 (clipped to 0-1)."""
    lin = np.clip(np.asarray(linear, np.float64), 0.0, 1.0)
    return np.where(lin < 0.018, 4.5 * lin, 1.099 * lin ** 0.45 - 0.099)


def rec709_decode(video: np.ndarray) -> np.ndarray:
    """Rec. 709 video levels 0-1 → linear light 0-1 (the inverse of `rec709_encode`)."""
    v = np.clip(np.asarray(video, np.float64), 0.0, 1.0)
    return np.where(v < 4.5 * 0.018, v / 4.5, ((v + 0.099) / 1.099) ** (1.0 / 0.45))


def _curve_lut(title: str, curve: np.ndarray) -> Lut:
    table = np.repeat(curve.astype(np.float32)[:, None], 3, axis=1)
    return Lut(title, shaper=np.ascontiguousarray(table))


def cineon_to_rec709() -> Lut:
    """The view of a Cineon log scan as Rec. 709 video (see module docstring)."""
    levels = np.linspace(0.0, 1.0, POINTS)
    return _curve_lut("Cineon log to Rec.709", rec709_encode(cineon_to_linear(levels)))


def rec709_to_cineon() -> Lut:
    """Rec. 709 video → Cineon log (black to code 95, white to 685): a restored video
    master taken back to log for a film recorder, or to match log scans."""
    levels = np.linspace(0.0, 1.0, POINTS)
    return _curve_lut("Rec.709 to Cineon log", linear_to_cineon(rec709_decode(levels)))


BUNDLED = {"cineon-to-rec709": cineon_to_rec709, "rec709-to-cineon": rec709_to_cineon}
"""The bundled LUTs by name (their file's name without `.cube`) and what makes them."""


def write_bundled(folder: Path) -> list[Path]:
    """Write every bundled LUT into `folder` as NAME.cube; returns the files."""
    written = []
    for name, make in BUNDLED.items():
        path = folder / f"{name}.cube"
        write_cube(make(), path)
        written.append(path)
    return written


if __name__ == "__main__":
    from engine.lut.library import BUNDLED_DIR

    for path in write_bundled(Path(sys.argv[1]) if len(sys.argv) > 1 else BUNDLED_DIR):
        print(path)
