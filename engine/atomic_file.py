"""Files written whole or not at all: a temporary name beside the file, renamed when
complete, so a crash or a full disk leaves the old file or the new one, never half of one."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` as UTF-8 (see `atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same folder and a rename, so a
    crash leaves either the old file or the new one, never a half-written one.

    The file gets the permissions of the one it replaces, or a new file's usual ones (the
    user's umask): a project, report or shot list saved on a shared drive stays readable by
    the colleagues who could read the last one (`tempfile.mkstemp` would make it private)."""
    path = Path(path)
    fd, tmp = _create_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            try:
                os.chmod(f.fileno(), stat.S_IMODE(path.stat().st_mode))
            except (FileNotFoundError, NotImplementedError):
                pass  # a new file keeps the umask's permissions
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _create_beside(path: Path) -> tuple[int, str]:
    """A new, uniquely named temporary file beside `path`, created with the permissions a
    new file gets (0666 less the umask): (descriptor open for writing, its path)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = str(path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
