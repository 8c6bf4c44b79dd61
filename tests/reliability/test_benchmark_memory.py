"""The benchmarks' memory column: each export's own peak, not the process's history."""

from __future__ import annotations

import mmap
import sys

import pytest

from benchmarks.memory import peak_rss_mib, reset_peak_rss


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux's")
def test_peak_memory_is_measured_again_after_a_reset() -> None:
    size = 300 << 20
    assert reset_peak_rss()
    before = peak_rss_mib()
    # Mapped directly, not through malloc, whose retained free memory (engine.runtime's
    # allocator settings) could serve the block without a new page.
    block = mmap.mmap(-1, size)
    chunk = b"\x01" * (1 << 20)
    for offset in range(0, size, len(chunk)):
        block[offset:offset + len(chunk)] = chunk  # every page touched
    grown = peak_rss_mib()
    block.close()
    assert grown - before > 250
    assert reset_peak_rss()
    # The block is unmapped: a new peak starts from what is resident now, far below it.
    assert peak_rss_mib() < grown - 250
