"""3:2 pulldown, as a telecine applied it: film frames at 24 frames a second made into
interlaced video frames at 30 (the tests' and the benchmark's telecined transfers)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.media.pulldown import weave


def telecine(film: Sequence[np.ndarray], top_first: bool = True) -> list[np.ndarray]:
    """Every four film frames A B C D as the five video frames AA BB BC CD DD (first
    field, second field: the top field first, or with `top_first` False the bottom field
    first, as NTSC DV has it); a last group of fewer than four frames is left out."""
    def mixed(first: np.ndarray, second: np.ndarray) -> np.ndarray:
        return weave(first, second) if top_first else weave(second, first)

    video: list[np.ndarray] = []
    for k in range(0, len(film) - 3, 4):
        a, b, c, d = film[k:k + 4]
        video += [a.copy(), b.copy(), mixed(b, c), mixed(c, d), d.copy()]
    return video
