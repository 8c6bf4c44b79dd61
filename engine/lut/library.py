"""Where LUTs come from: the bundled ones (`resources/luts/*.cube`) by name, any other by
path; loaded once and shared while the file is unchanged."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from engine.errors import LutError
from engine.lut.cube import Lut, read_cube

BUNDLED_DIR = Path(__file__).resolve().parent.parent.parent / "resources" / "luts"

_CACHED = 8
"""LUTs kept parsed (a 65³ table is 3.3 MiB and takes about a second to parse)."""

_cache: OrderedDict[tuple[str, int, int], Lut] = OrderedDict()
_lock = threading.Lock()


def bundled_luts() -> dict[str, Path]:
    """The bundled LUTs: name (file name without `.cube`) → file, sorted by name."""
    return {p.stem: p for p in sorted(BUNDLED_DIR.glob("*.cube"))}


def resolve_lut(spec: str | Path) -> Path:
    """The file `spec` names: a bundled LUT's name ("cineon-to-rec709") or a path."""
    text = str(spec).strip()
    bundled = bundled_luts().get(text)
    if bundled is not None and not Path(text).expanduser().is_file():
        return bundled
    return Path(text).expanduser()


def load_lut(spec: str | Path) -> Lut:
    """The LUT `spec` names (see `resolve_lut`), parsed once while its file is unchanged
    (same size and modification time); LutError naming the file when it cannot be read."""
    path = resolve_lut(spec)
    if not str(spec).strip():
        raise LutError(path, "no LUT file named")
    try:
        stat = path.stat()
    except OSError:
        known = ", ".join(bundled_luts()) or "none"
        raise LutError(path, f"no such LUT file (bundled LUTs: {known})") from None
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _lock:
        lut = _cache.get(key)
        if lut is not None:
            _cache.move_to_end(key)
            return lut
    lut = read_cube(path)
    with _lock:
        _cache[key] = lut
        while len(_cache) > _CACHED:
            _cache.popitem(last=False)
    return lut
