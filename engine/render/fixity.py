"""Fixity: checksums of what an export wrote, and checking them later.

An archive keeps a checksum of every file it accepts, to prove years later (after copies
between drives, tapes and servers) that not a bit has changed. An export asked for them
(`RenderJob.checksum`) reads back the files it wrote once they are under their final names
and writes a manifest beside them:

    restored.mov      → restored.mov.md5      "<hex>  restored.mov"
    master/  (frames) → master.md5            "<hex>  master/frame_000000.dpx", …
                                              "<hex>  master.wav" (its sound, if any)

The manifest is in the format of GNU coreutils (`md5sum -c master.md5`,
`sha256sum -c`), with paths relative to its own folder, so any archive's tools can check
it; `verify` (the `nitrate verify` command) does the same on any system and also names
files that have appeared in a listed folder since (a stray frame in a sequence plays as
part of it). The files are read from the disk, not hashed on their way to it: the
checksum is of what was stored.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from engine.atomic_file import atomic_write_text
from engine.errors import FileError, NitrateError, RenderCancelled
from engine.media import output_format_for
from engine.media.writer import sidecar_wav
from engine.runtime import cpu_count

ALGORITHMS: tuple[str, ...] = ("md5", "sha256")
"""Checksums offered: MD5, what archives' fixity tools and most repositories record; SHA-256
where a policy asks for a cryptographic hash. Each manifest's extension is its name."""

READ_CHUNK_BYTES = 4 << 20
"""Bytes read and hashed at a time: large enough that the hash (which releases the GIL)
runs at the disk's or the CPU's speed, small enough to report progress often."""


class FixityError(FileError):
    """A checksum manifest that cannot be read or written, or an unknown algorithm."""


def check_algorithm(name: str) -> str:
    """`name` as a known algorithm ("md5", "sha256"; case and a hyphen ignored), or
    NitrateError naming the choices."""
    key = name.strip().lower().replace("-", "")
    if key not in ALGORITHMS:
        raise NitrateError(f"checksum {name!r}: choose one of {', '.join(ALGORITHMS)}")
    return key


def manifest_path(output: Path, algorithm: str) -> Path:
    """Where the manifest of an export to `output` goes: beside the file, or beside the
    folder of an image sequence (a folder, or the folder of a printf pattern)."""
    return _unit(output).with_name(_unit(output).name + "." + algorithm)


def _unit(output: Path) -> Path:
    """The file or the sequence folder an export to `output` replaces."""
    if "%" in output.name:
        return output.parent
    return output


def written_files(output: Path, codec: str | None = None) -> list[Path]:
    """The files an export to `output` wrote, in the order a manifest lists them: the file,
    or every file of the sequence's folder (in name order) and a bare folder's sidecar WAV.
    Raises MediaError when the output is not there."""
    fmt = output_format_for(output, codec)
    unit = _unit(output)
    if fmt.kind != "sequence":
        if not unit.is_file():
            raise FixityError(unit, "is not there to checksum")
        return [unit]
    if not unit.is_dir():
        raise FixityError(unit, "is not there to checksum")
    files = sorted(p for p in unit.iterdir() if p.is_file())
    wav = sidecar_wav(output)
    if wav.parent != unit and wav.is_file():
        files.append(wav)
    return files


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of the file at `path`, read in chunks of READ_CHUNK_BYTES."""
    digest = hashlib.new(algorithm)
    buffer = bytearray(READ_CHUNK_BYTES)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()


def _digests(files: Sequence[Path], algorithm: str) -> Iterator[tuple[Path, str]]:
    """(file, hex digest) in the order of `files`; a sequence's frames are hashed on every
    core at once (each is small; one big file is hashed as it is read)."""
    if len(files) < 2:
        for path in files:
            yield path, file_digest(path, algorithm)
        return
    with ThreadPoolExecutor(max_workers=cpu_count(), thread_name_prefix="fixity") as pool:
        # A bounded window keeps the results in order without queueing every frame at once.
        window = 4 * cpu_count()
        ahead = deque(pool.submit(file_digest, p, algorithm) for p in files[:window])
        for i, path in enumerate(files):
            digest = ahead.popleft().result()
            if i + window < len(files):
                ahead.append(pool.submit(file_digest, files[i + window], algorithm))
            yield path, digest


def _escape(name: str) -> tuple[str, str]:
    """GNU coreutils' escaping of a name holding a backslash or a line break: the line
    starts with a backslash and those characters are written as escapes."""
    if not any(c in name for c in "\\\n\r"):
        return "", name
    return "\\", name.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def _unescape(name: str) -> str:
    out, i = [], 0
    while i < len(name):
        if name[i] == "\\" and i + 1 < len(name):
            out.append({"\\": "\\", "n": "\n", "r": "\r"}.get(name[i + 1], name[i + 1]))
            i += 2
        else:
            out.append(name[i])
            i += 1
    return "".join(out)


def format_line(digest: str, relative: str) -> str:
    """One manifest line in coreutils' text mode: "<hex>  <path>"."""
    prefix, name = _escape(relative)
    return f"{prefix}{digest}  {name}\n"


@dataclass(frozen=True)
class ChecksumProgress:
    """done/total files of a checksum pass; `manifest` is set on the last one."""

    done: int
    total: int
    manifest: Path | None = None


def write_checksums(output: Path, algorithm: str, codec: str | None = None,
                    cancelled: Callable[[], bool] = lambda: False,
                    ) -> Iterator[ChecksumProgress]:
    """Checksum what an export to `output` wrote and write the manifest, atomically,
    beside it; yields progress after every file. A manifest left from an earlier export
    to the same name is removed first (it describes files that are gone), so on an error
    or when `cancelled()` turns true no manifest is left that would not match."""
    algorithm = check_algorithm(algorithm)
    manifest = manifest_path(output, algorithm)
    files = written_files(output, codec)
    for name in ALGORITHMS:
        manifest_path(output, name).unlink(missing_ok=True)
    lines = []
    total = len(files)
    yield ChecksumProgress(0, total)
    try:
        for done, (path, digest) in enumerate(_digests(files, algorithm), start=1):
            if cancelled():
                return
            lines.append(format_line(digest, os.path.relpath(path, manifest.parent)
                                     .replace(os.sep, "/")))
            yield ChecksumProgress(done, total)
    except OSError as exc:
        raise FixityError(output, f"cannot be read back for its checksums: "
                                  f"{exc.strerror or exc}") from None
    try:
        atomic_write_text(manifest, "".join(lines))
    except OSError as exc:
        raise FixityError(manifest, f"cannot be written: {exc.strerror or exc}") from None
    yield ChecksumProgress(total, total, manifest)


@dataclass
class Verification:
    """What `verify` found. Paths are as the manifest names them (relative to it)."""

    manifest: Path
    algorithm: str
    matched: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)
    """Files in a folder the manifest lists that it does not name (a frame added since)."""

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.unlisted)

    def summary(self) -> str:
        """One line: every file matches, or what does not."""
        count = len(self.matched) + len(self.changed) + len(self.missing)
        files = f"{count} file{'s' if count != 1 else ''}"
        if self.ok:
            return f"{self.manifest}: {files}, every {self.algorithm.upper()} checksum matches"
        problems = []
        for label, names in (("changed", self.changed), ("missing", self.missing),
                             ("not in the list", self.unlisted)):
            if names:
                shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more"
                                                if len(names) > 3 else "")
                problems.append(f"{label}: {shown}")
        return f"{self.manifest}: {files} checked; " + "; ".join(problems)


def find_manifest(path: Path) -> Path:
    """`path` when it is a manifest, else the manifest of an export at `path` (MD5 first);
    FixityError when there is none."""
    if path.suffix.lstrip(".") in ALGORITHMS and path.is_file():
        return path
    for algorithm in ALGORITHMS:
        candidate = manifest_path(path, algorithm)
        if candidate.is_file():
            return candidate
    raise FixityError(path, "has no checksum list beside it (.md5 or .sha256)")


def read_manifest(manifest: Path) -> list[tuple[str, str]]:
    """(hex digest, relative path) of each line of a coreutils manifest; FixityError
    naming the line when one is malformed."""
    algorithm = manifest.suffix.lstrip(".")
    width = hashlib.new(algorithm).digest_size * 2
    try:
        text = manifest.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FixityError(manifest, f"cannot be read: {getattr(exc, 'strerror', None) or exc}"
                          ) from None
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        escaped = line.startswith("\\")
        body = line[1:] if escaped else line
        digest, sep, name = body[:width], body[width:width + 2], body[width + 2:]
        if (len(digest) != width or sep not in ("  ", " *") or not name
                or any(c not in "0123456789abcdefABCDEF" for c in digest)):
            raise FixityError(manifest, f"line {number}: expected '<{algorithm}>  <file>', "
                                        f"got {line[:60]!r}")
        entries.append((digest.lower(), _unescape(name) if escaped else name))
    if not entries:
        raise FixityError(manifest, "lists no files")
    return entries


def verify(path: Path, on_file: Callable[[int, int], None] | None = None,
           cancelled: Callable[[], bool] = lambda: False) -> Verification:
    """Check every file a manifest lists against its checksum. `path` is the manifest or
    the export it describes; `on_file(done, total)` is called after each file;
    RenderCancelled when `cancelled()` turns true."""
    manifest = find_manifest(path)
    algorithm = manifest.suffix.lstrip(".")
    entries = read_manifest(manifest)
    result = Verification(manifest, algorithm)
    base = manifest.parent
    present = [(d, n) for d, n in entries if (base / n).is_file()]
    result.missing = [n for d, n in entries if not (base / n).is_file()]
    done = len(result.missing)
    try:
        found = _digests([base / n for _, n in present], algorithm)
        for (expected, name), (_, digest) in zip(present, found, strict=True):
            if cancelled():
                raise RenderCancelled(f"{manifest}: check cancelled")
            (result.matched if digest == expected else result.changed).append(name)
            done += 1
            if on_file is not None:
                on_file(done, len(entries))
    except OSError as exc:
        raise FixityError(manifest, f"a listed file cannot be read: {exc.strerror or exc}"
                          ) from None
    listed = {(base / n).resolve() for _, n in entries}
    folders = {(base / n).resolve().parent for _, n in entries} - {base.resolve()}
    for folder in sorted(folders):
        if folder.is_dir():
            result.unlisted += sorted(os.path.relpath(p, base).replace(os.sep, "/")
                                      for p in folder.iterdir()
                                      if p.is_file() and p.resolve() not in listed)
    return result
