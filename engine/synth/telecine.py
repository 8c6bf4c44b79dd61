"""3:2 pulldown, as a telecine applied it: film frames at 24 frames a second made into
interlaced video frames at 30 (the tests' and the benchmark's telecined transfers)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.media.pulldown import weave


def telecine(film: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Every four film frames A B C D as the five video frames AA BB BC CD DD (top field,
    bottom field); a last group of fewer than four frames is left out."""
    video: list[np.ndarray] = []
    for k in range(0, len(film) - 3, 4):
        a, b, c, d = film[k:k + 4]
        video += [a.copy(), b.copy(), weave(b, c), weave(c, d), d.copy()]
    return video
