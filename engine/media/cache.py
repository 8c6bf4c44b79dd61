"""The user's cache of things derived from a source file (proxies, levels graphs).

Each is named after the source's absolute path, size and modification time, so an edited
or replaced source never meets what was derived from its old self.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


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
