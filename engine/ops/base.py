"""The operator contract: what every restoration operator is and receives.

An operator is built once per parameter set (validation happens then, never per frame)
and then asked for one output frame at a time through `process(window)`. The window holds
the previous stage's frames around the current one, clamped to the shot, so an operator
can never see across a cut. Operators never decode media or touch files.

Frames are float32 numpy arrays of shape (height, width, 3), RGB, levels 0-1 (values may
stray slightly outside 0-1 between stages; the Writer clips). Masks are float32 arrays of
shape (height, width), 0 = untouched, 1 = fully detected/replaced.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from engine.errors import OperatorError
from engine.ops.params import Params

ANALYSIS_WIDTH = 480
"""Width (pixels) of the frames `Window.analyse` returns, at most."""


@dataclass(frozen=True)
class Window:
    """The frames an operator may look at to produce frame `index`.

    frames:  previous-stage frames for `indices`, only those inside the shot (so the window
             is shorter than 2*radius+1 near a shot's first and last frames; empty in
             `Operator.prepare`).
    indices: absolute frame indices (0-based, in the clip) of `frames`, consecutive.
    center:  position of the current frame in `frames`.
    shot:    (first, last) frame index of the current shot, inclusive.
    scale:   processing scale relative to the source (1.0 full size, 0.5 half-res preview);
             operators scale pixel-sized parameters (radii, defect sizes) by it.
    key:     identity of the upstream stage and shot; operators may memoise per-frame or
             per-shot analysis under (key, index).
    fetch:   previous-stage frame at any index inside the shot, full size; slow: prefer
             `analyse`.
    analyse: previous-stage frame at any index inside the shot, evaluated at the small
             `analysis_scale` (at most ANALYSIS_WIDTH pixels wide): for statistics over many
             frames (flicker targets, camera paths, a shot's colour) that need no detail.
             Cheap, cached, and the same at every preview scale, so previews match exports.
    analysis_scale: scale of `analyse` frames relative to the source (≤ scale); multiply
             a length measured on an analysis frame by scale / analysis_scale to get pixels
             of the current frame.
    analysis_key: identity of the `analyse` frames (the upstream stage at analysis scale),
             the same at every preview scale; memoise analyses of `analyse` frames under
             `analysis_memo_key` so a preview, a draft and an export share them.
    survey:  like `analyse`, but the stage before the local repairs that directly precede
             this operator (those whose `Operator.local_repair` is true: dust, scratches,
             grain) — the same frame where there are none. For statistics of a whole shot
             that such repairs cannot move (its levels and colour), read robustly (the
             defects are still there): far cheaper, as the repairs' own temporal windows
             are not evaluated for it. None where the pipeline gives none.
    """

    frames: tuple[np.ndarray, ...]
    indices: tuple[int, ...]
    center: int
    shot: tuple[int, int]
    scale: float = 1.0
    key: str = ""
    fetch: Callable[[int], np.ndarray] | None = None
    analyse: Callable[[int], np.ndarray] | None = None
    analysis_scale: float = 1.0
    analysis_key: str = ""
    survey: Callable[[int], np.ndarray] | None = None

    @property
    def analysis_memo_key(self) -> str:
        """Key for memos of analyses computed from `analysis_frame`s: the scale-free
        `analysis_key` when the pipeline provides `analyse`, else `key` (a bare window's
        analysis frames are reduced from its own frames)."""
        if self.analyse is not None and self.analysis_key:
            return self.analysis_key
        return self.key

    @property
    def index(self) -> int:
        """Absolute index of the frame being produced."""
        return self.indices[self.center]

    @property
    def current(self) -> np.ndarray:
        return self.frames[self.center]

    def neighbour(self, offset: int) -> np.ndarray | None:
        """The frame `offset` frames away from the current one, or None outside the shot."""
        pos = self.center + offset
        if 0 <= pos < len(self.frames):
            return self.frames[pos]
        return None


@dataclass(frozen=True)
class Result:
    """An operator's output for one frame, optionally a mask of what it changed, and what
    it measured and applied there (`measures`: name → value, each named in the operator's
    `MEASURES`), which the processing report prints per shot."""

    frame: np.ndarray
    mask: np.ndarray | None = None
    measures: Mapping[str, float] | None = None


class Operator(ABC):
    """A restoration operator bound to one validated parameter set.

    Subclasses set `id` (stable, used in projects and on the command line), `label`,
    `description` and `Params`, and implement `process`. Override `temporal_radius` when
    neighbours are needed.
    """

    id: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str] = ""
    Params: ClassVar[type[Params]]

    def __init__(self, params: Params | None = None) -> None:
        if params is None:
            params = self.Params()
        if not isinstance(params, self.Params):
            raise OperatorError(self.id, f"expected {self.Params.__qualname__}")
        self.params = params

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Operator:
        """Build from user values; invalid ones raise OperatorError naming the operator."""
        return cls(cls.parse_params(values))

    @classmethod
    def parse_params(cls, values: Mapping[str, Any]) -> Params:
        try:
            return cls.Params.from_mapping(values)
        except (TypeError, ValueError) as exc:
            raise OperatorError(cls.id, str(exc)) from None

    @property
    def temporal_radius(self) -> int:
        """Full-size neighbours needed on each side of the current frame (frames)."""
        return 0

    @property
    def analysis_radius(self) -> int:
        """Frames on each side whose small `Window.analyse` version the operator reads
        (planning only: distributed chunks get this much margin)."""
        return 0

    MEASURES: ClassVar[dict[str, tuple[str, str]]] = {}
    """The measures a `Result` may carry: name → (what it is, its unit), e.g. "moved_px" →
    ("picture moved", "px"). Lengths are in source pixels, whatever the preview scale."""

    local_repair: ClassVar[bool] = False
    """Whether the operator only mends small parts of the picture (defects) or its finest
    texture (grain), never a shot's levels or colour: a later stage's shot statistics may be
    measured on its input (`Window.survey`)."""

    spot_repair: ClassVar[bool] = False
    """Whether the operator finds and mends defects by itself (dust, scratches): regions
    the restorer protected (`engine.project.model.Repair.protect`) are kept out of its
    output by the evaluator, since such a detector can take real picture (water, fire,
    smoke) for damage."""

    rebuild_params: ClassVar[frozenset[str]] = frozenset()
    """Parameters that configure state built in `__init__` beyond memos (a loaded model's
    tiling, say): `at` builds a fresh instance when one of them changes."""

    def at(self, params: Params) -> Operator:
        """This operator bound to `params` for one frame (keyframed parameters).

        Returns a shallow copy that shares this instance's memos (flows, statistics), so a
        shot whose parameters move still computes each analysis once; `self` when nothing
        changed. Safe because memos hold analyses of the input frames only: a memo whose
        content depends on a parameter includes that parameter in its key.
        """
        if params == self.params:
            return self
        if not isinstance(params, self.Params):
            raise OperatorError(self.id, f"expected {self.Params.__qualname__}")
        if any(getattr(params, name) != getattr(self.params, name)
               for name in self.rebuild_params):
            return type(self)(params)
        bound = copy.copy(self)
        bound.params = params
        return bound

    def prepare(self, window: Window) -> None:
        """Do the shot-level analysis frame `window.index` contributes to (flicker levels,
        weave motion, a shot's colour statistics) and memoise it, without producing a frame.

        The pipeline calls it for every frame of a shot in the background, ahead of the
        restorer's seeks, so a frame asked for later finds its analyses done. The window
        carries no frames (`frames` is empty, `current` unavailable): read `analyse`.
        Operators whose analyses are per frame only leave it as it is (nothing to do).
        """
        return None

    @property
    def prepares(self) -> bool:
        """Whether `prepare` does anything (the pipeline skips operators that don't)."""
        return type(self).prepare is not Operator.prepare

    @abstractmethod
    def process(self, window: Window) -> Result:
        """Produce the current frame of `window` (see module docstring for conventions)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params})"
