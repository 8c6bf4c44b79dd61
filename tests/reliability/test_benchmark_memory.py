"""The benchmarks' memory column: each export's own peak, not the process's history."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from benchmarks.memory import peak_rss_mib, reset_peak_rss


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux's")
def test_peak_memory_is_measured_again_after_a_reset() -> None:
    assert reset_peak_rss()
    before = peak_rss_mib()
    block = np.ones(300 << 20, np.uint8)  # 300 MiB, every page touched
    grown = peak_rss_mib()
    del block
    assert grown - before > 250
    assert reset_peak_rss()
    # The block is gone: a new peak starts from what is resident now, far below it.
    assert peak_rss_mib() < grown - 250
