"""Colour look-up tables (.cube): read, written, applied; the bundled film-log LUTs."""

from engine.errors import LutError
from engine.lut.cube import Lut, apply_lut, read_cube, write_cube
from engine.lut.library import BUNDLED_DIR, bundled_luts, load_lut, resolve_lut

__all__ = ["BUNDLED_DIR", "Lut", "LutError", "apply_lut", "bundled_luts", "load_lut",
           "read_cube", "resolve_lut", "write_cube"]
