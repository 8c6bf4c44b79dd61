"""This process's resident memory, for the benchmarks' memory columns (Linux figures;
elsewhere the nearest the platform gives)."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB since it started or since the last
    `reset_peak_rss`. VmHWM, not ru_maxrss: ru_maxrss keeps the parent's peak across fork +
    exec, which would hide a child's own figure, and cannot be reset."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reset_peak_rss() -> bool:
    """Start a new peak at the present resident memory (Linux: writing 5 to
    /proc/self/clear_refs resets VmHWM); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True
