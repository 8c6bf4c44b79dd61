"""The allocator keeps freed frame buffers for the next frames (glibc, Linux)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# A frame's worth of float RGB made and dropped 60 times on three threads, as an export's
# operators do; the minor page faults that cost (each a page zeroed by the kernel) printed.
_FRAMES = textwrap.dedent("""
    import resource, sys, threading
    import numpy as np
    from engine.runtime import configure_allocator
    if sys.argv[1] == "configured":
        assert configure_allocator()

    def frames():
        for _ in range(20):
            frame = np.ones((720, 1280, 3), np.float32)
            result = frame * 2
            del frame, result

    frames()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    workers = [threading.Thread(target=frames) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    frames()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def _faults(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", _FRAMES, mode], capture_output=True,
                          text=True, timeout=120, check=True)
    return int(done.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt only")
def test_frames_reuse_freed_memory_instead_of_fresh_pages() -> None:
    # 60 frames of two 11 MB arrays touch about 320,000 pages if nothing is reused.
    configured = _faults("configured")
    assert configured < 6000, f"{configured} page faults for 60 frames"
    assert configured < _faults("default") / 3
