"""The user's cache of things derived from a source file (proxies, levels graphs, frame
checks).

Each is named after the source's absolute path, size and modification time, so an edited
or replaced source never meets what was derived from its old self.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from pathlib import Path

import numpy as np

from engine.atomic_file import atomic_write_bytes

log = logging.getLogger(__name__)


def cache_dir(kind: str) -> Path:
    """The user's cache folder for `kind` ("proxies", "levels"):
    XDG_CACHE_HOME/nitrate/<kind> (~/.cache/nitrate/<kind> when unset)."""
    base = os.environ.get("XDG_CACHE_HOME")
    return Path(base or Path.home() / ".cache") / "nitrate" / kind


def source_key(source: str | Path) -> str:
    """A name for what is derived from `source`: a hash of its absolute path, size (bytes)
    and modification time (ns). Raises OSError when the source cannot be read."""
    p = Path(source).resolve()
    st = p.stat()
    return hashlib.sha1(f"{p}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:24]


def derived_path(kind: str, source: str | Path, suffix: str,
                 folder: Path | None = None) -> Path | None:
    """Where what is derived from video file `source` is kept: `folder` (default
    `cache_dir(kind)`) / its `source_key` + `suffix`; None when `source` is not a file (an
    image sequence: a frame rewritten in place changes neither the folder's size nor,
    always, its time) or cannot be read."""
    if not Path(source).is_file():
        return None
    try:
        return (folder or cache_dir(kind)) / f"{source_key(source)}{suffix}"
    except OSError:
        return None


def store_arrays(path: Path | None, **arrays: np.ndarray) -> None:
    """Keep `arrays` at `path` (an .npz, written atomically). A cache that cannot be
    written is logged and skipped: the data is measured again next time."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = io.BytesIO()
        np.savez(data, **arrays)
        atomic_write_bytes(path, data.getvalue())
    except OSError as exc:
        log.warning("%s: cannot be kept (%s)", path, exc)


def load_arrays(path: Path | None) -> dict[str, np.ndarray] | None:
    """The arrays `store_arrays` kept at `path`, or None (absent, unreadable: logged)."""
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        log.warning("%s: unreadable cache (%s)", path, exc)
        return None
