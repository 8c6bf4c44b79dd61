"""Evaluate a recipe on a clip, one output frame at a time.

Frame n of stage k (stage 0 = the decoded, possibly downscaled source) is computed by the
k-th active operator from stage k−1 over [n − r_k, n + r_k] clamped to n's shot, so the
temporal radii of chained operators add up and no operator ever sees across a cut. Every
stage's frames go through one byte-budgeted LRU cache, under keys naming the clip, the
scale, the recipe prefix and the shot, so a sequential export computes each stage's frame
once and a scrub back to a seen frame costs a cache look-up.

Keyframed parameters: a stage's operator is built once (its memos of flows and statistics
serve the whole shot) and bound to each frame's parameters with `Operator.at`; the stage key
includes the keyframes, so editing a key invalidates exactly the stages it changes.

Manual repairs: when a shot has repairs, a repair stage (engine.ops.repair) runs first, on
the decoded frames, so everything after it sees the rebuilt frames. Its mask is reported
under REPAIR_MASK_KEY. Protections: the pixels of a region the restorer protected come out
of every spot-repair stage (`Operator.spot_repair`: dust, scratches) exactly as they went
in, and that stage's mask is cleared there, so the mask overlay and the report show what
was really changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from engine.errors import NitrateError, OperatorError
from engine.ops.base import ANALYSIS_WIDTH, Operator, Result, Window
from engine.ops.region import region_rect
from engine.ops.registry import operator_class
from engine.pipeline.cache import FrameCache
from engine.pipeline.shot_plan import PlannedShot, ShotPlan
from engine.project.model import Repair
from engine.project.recipe import Recipe, Step
from engine.runtime import waiting


class FrameSource(Protocol):
    """What the evaluator needs of a Reader."""

    def read(self, index: int) -> np.ndarray: ...


@dataclass(frozen=True)
class Evaluated:
    """One evaluated frame.

    original: the source frame at the evaluation scale (float32 (H, W, 3), levels 0-1).
    restored: the recipe's output for it.
    masks:    step position in the shot's recipe (disabled steps count) → float32 (H, W)
              mask of what that operator detected or changed on this frame; the manual
              repair stage's mask (when the frame has repairs) under REPAIR_MASK_KEY (−1).
    """

    index: int
    shot: tuple[int, int]
    original: np.ndarray
    restored: np.ndarray
    masks: dict[int, np.ndarray]


REPAIR_MASK_KEY = -1
"""Key of the manual repair stage's mask in `Evaluated.masks` (recipe steps count from 0)."""


def step_radius(step: Step) -> int:
    """Largest temporal radius (frames) of `step` over its keyframes: interpolation never
    leaves the range of the keys, so the keys and the static value bound it."""
    op = step.build()
    radius = op.temporal_radius
    for frame in step.keyframe_frames():
        radius = max(radius, op.at(step.params_at(frame)).temporal_radius)
    return radius


def step_analysis_radius(step: Step) -> int:
    """Largest analysis radius (frames each side read through `Window.analyse`) of `step`
    over its keyframes."""
    op = step.build()
    radius = op.analysis_radius
    for frame in step.keyframe_frames():
        radius = max(radius, op.at(step.params_at(frame)).analysis_radius)
    return radius


def total_radius(recipe: Recipe) -> int:
    """Source frames needed on each side of an output frame by the whole recipe."""
    return sum(step_radius(step) for step in recipe.active)


def scaled(frame: np.ndarray, scale: float) -> np.ndarray:
    """Downscale a frame for preview (area interpolation keeps grain statistics honest)."""
    if scale >= 1.0:
        return frame
    h, w = frame.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def _digest(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:20]


def _placed(marks: tuple[Repair, ...]) -> list[tuple[object, ...]]:
    """Where repairs or protections lie (frames, region, track), for a stage's identity:
    their notes change no pixel."""
    return [(r.start, r.end, r.region, r.track) for r in marks]


def _protected(result: Result, before: np.ndarray, index: int,
               protections: tuple[Repair, ...], scale: float) -> Result:
    """`result` of a spot-repair stage with the regions protected on frame `index` (source
    pixels, or whole frames) put back as they were `before` the stage, and its mask
    cleared there. A hard edge: a fill straddling the region's border is cut there, so
    exactly the marked pixels are left as scanned."""
    here = [r for r in protections if r.covers(index)]
    if not here:
        return result
    if any(r.region is None for r in here):  # the whole frame
        mask = None if result.mask is None else np.zeros_like(result.mask)
        return dataclasses.replace(result, frame=before, mask=mask)
    frame = result.frame.copy()
    mask = None if result.mask is None else result.mask.copy()
    h, w = frame.shape[:2]
    for protection in here:
        region = protection.region_at(index)
        assert region is not None
        rect = region_rect(region, scale, w, h)
        if rect.empty:
            continue
        frame[rect.slices] = before[rect.slices]
        if mask is not None:
            mask[rect.slices] = 0
    return dataclasses.replace(result, frame=frame, mask=mask)


@contextmanager
def _held(lock: threading.RLock) -> Iterator[None]:
    """`lock` held; a wait for it does not count as work (`engine.runtime.waiting`), so the
    threads still working may hand pieces to the pool meanwhile."""
    if not lock.acquire(blocking=False):
        with waiting():
            lock.acquire()
    try:
        yield
    finally:
        lock.release()


@dataclass(frozen=True)
class _Stage:
    key: str  # identity of this stage's output frames at the evaluation scale
    identity: str  # the same, whatever the scale (analysis keys add the analysis scale)
    op: Operator | None  # None for stage 0 (the source)
    position: int  # the step's position in recipe.steps (REPAIR_MASK_KEY for repairs)
    step: Step | None = None  # set when the step has keyframes: params vary per frame
    protections: tuple[Repair, ...] = ()  # kept out of this stage's output (spot repairs)

    def operator_at(self, index: int) -> Operator:
        """The stage's operator bound to frame `index`'s parameters."""
        assert self.op is not None
        if self.step is None:
            return self.op
        return self.op.at(self.step.params_at(index))


class Evaluator:
    """Computes restored frames from a Reader; several threads may evaluate at once.

    source_key names the clip in cache keys, so one cache may serve several clips.
    """

    _PREPARED_RECIPES = 8
    """Recipes whose prepared frames are remembered (a set of frame numbers each)."""
    _MAX_OPERATORS = 256

    def __init__(
        self, source: FrameSource, cache: FrameCache | None = None, source_key: str = "clip"
    ) -> None:
        self.source = source
        self.cache = cache if cache is not None else FrameCache()
        self.source_key = source_key
        self._operators: dict[str, Operator] = {}
        self._source_width: int | None = None
        # (id(shot), scale) → (shot, stages): analysis windows ask for their stages on every
        # call; the shot is kept so its id cannot be reused while the entry lives.
        self._stage_lists: dict[tuple[int, float], tuple[PlannedShot, list[_Stage]]] = {}
        # Several threads may evaluate frames at once (an export works a frame ahead). Each
        # operator instance runs one frame at a time under its own lock (its memos are not
        # shared-safe); a thread holding stage k's lock only ever waits for the locks of
        # stages before k and then the source's, so two threads cannot wait on each other.
        self._structure = threading.RLock()  # _operators, _stage_lists, _locks, _prepared
        self._locks: dict[str, threading.RLock] = {}
        # Identity of a recipe's last stage → the frames `prepare` has analysed for it:
        # their shot analyses live in the operators' memos, so a cold frame need not read
        # their analysis frames again (see `_prefetch`). Forgotten with the operators, and
        # kept for the latest _PREPARED_RECIPES recipes only (each edit makes a new one).
        self._prepared: OrderedDict[str, set[int]] = OrderedDict()
        self._source_lock = threading.RLock()

    # -- source frames -----------------------------------------------------------------
    def original(self, index: int, scale: float = 1.0) -> np.ndarray:
        """The decoded source frame `index` at `scale` (cached)."""
        key = ("src", self.source_key, index, scale)
        frame = self.cache.get(key)
        if frame is not None:
            return frame
        with _held(self._source_lock):
            frame = self.cache.get(key)  # read by another thread meanwhile
            if frame is not None:
                return frame
            if scale < 1.0:
                # The full-size frame is not cached on the way: a preview or an analysis
                # frame needs only the small one, and a full-size frame (4-16 times the
                # bytes) would evict the stages' frames. The Reader keeps recently decoded
                # frames, so a later full-size read of it costs a conversion, not a seek.
                frame = self._read_scaled(index, scale)
            else:
                frame = self.source.read(index)
                self._source_width = frame.shape[1]
            self.cache.put(key, frame, protected=self._is_analysis_scale(scale))
        return frame

    def _read_scaled(self, index: int, scale: float) -> np.ndarray:
        """Source frame `index` reduced by `scale`: by the Reader during its colour
        conversion when it can (a fraction of the cost of converting the full frame and
        reducing it), always the same way for a given source so results do not depend on
        what happens to be cached."""
        info = getattr(self.source, "info", None)
        read_scaled = getattr(self.source, "read_scaled", None)
        if read_scaled is not None and info is not None:
            w, h = int(info.width), int(info.height)
            return read_scaled(index, (max(1, round(w * scale)), max(1, round(h * scale))))
        full = self.cache.get(("src", self.source_key, index, 1.0))
        if full is None:
            full = self.source.read(index)
            self._source_width = full.shape[1]
        return scaled(full, scale)

    def _is_analysis_scale(self, scale: float) -> bool:
        """Whether source frames at `scale` are analysis frames (or smaller): kept in the
        cache's protected share, since every one of them costs a decode to rebuild (the
        stages' analysis frames are rebuilt from them without decoding)."""
        if self._source_width is None and getattr(self.source, "info", None) is None:
            return False  # not known without reading a frame; never worth a read here
        return scale <= self.analysis_scale(1.0)

    def analysis_scale(self, scale: float) -> float:
        """Scale of analysis frames: at most ANALYSIS_WIDTH pixels wide, never above `scale`."""
        if self._source_width is None:
            info = getattr(self.source, "info", None)
            self._source_width = int(info.width) if info else self.original(0, 1.0).shape[1]
        return min(scale, ANALYSIS_WIDTH / self._source_width)

    # -- recipe evaluation -------------------------------------------------------------
    def evaluate(self, index: int, plan: ShotPlan, scale: float = 1.0) -> Evaluated:
        """Frame `index` processed with its shot's recipe from `plan`, at `scale`."""
        shot = plan.shot_at(index)
        stages = self._stages(shot, scale)
        masks: dict[int, np.ndarray] = {}
        self._prefetch(stages, index, shot, scale)
        restored = self._frame(stages, len(stages) - 1, index, shot, scale)
        for k in range(1, len(stages)):
            mask = self.cache.get(("mask", stages[k].key, index))
            if mask is not None:
                masks[stages[k].position] = mask
        return Evaluated(
            index=index,
            shot=(shot.start, shot.end),
            original=self.original(index, scale),
            restored=restored,
            masks=masks,
        )

    def stage_outputs(
        self, index: int, plan: ShotPlan, scale: float = 1.0
    ) -> list[tuple[int, np.ndarray, np.ndarray | None]]:
        """Frame `index` after each stage, in order: (position, frame, mask or None), the
        position being the step's in the recipe or REPAIR_MASK_KEY. Stage 0 (the source)
        is not included; for reports that measure what each operator changed."""
        shot = plan.shot_at(index)
        stages = self._stages(shot, scale)
        out = []
        for k in range(1, len(stages)):
            frame = self._frame(stages, k, index, shot, scale)
            out.append((stages[k].position, frame, self.cache.get(("mask", stages[k].key, index))))
        return out

    def stage_measures(self, index: int, plan: ShotPlan, scale: float = 1.0
                       ) -> dict[int, dict[str, float]]:
        """What each stage measured on frame `index` (`Result.measures`), by the stage's
        position, for the stages that reported any: after `stage_outputs` (or `evaluate`)
        computed them at this scale; a stage whose frame came back from the cache without
        them is missing."""
        shot = plan.shot_at(index)
        stages = self._stages(shot, scale)
        out = {}
        for stage in stages[1:]:
            measures = self.cache.get(("measures", stage.key, index))
            if measures:
                out[stage.position] = measures
        return out

    def _stages(self, shot: PlannedShot, scale: float) -> list[_Stage]:
        with self._structure:
            known = self._stage_lists.get((id(shot), scale))
            if known is not None and known[0] is shot:
                return known[1]
            stages = self._build_stages(shot, scale)
            if len(self._stage_lists) >= self._MAX_OPERATORS:
                self._stage_lists.clear()
            self._stage_lists[(id(shot), scale)] = (shot, stages)
            return stages

    def _lock(self, stage: _Stage) -> threading.RLock:
        """The lock stage's operator instance runs under (whatever the scale)."""
        with self._structure:
            lock = self._locks.get(stage.identity)
            if lock is None:
                lock = self._locks[stage.identity] = threading.RLock()
            return lock

    def _build_stages(self, shot: PlannedShot, scale: float) -> list[_Stage]:
        # `identity` names a stage whatever the scale: one operator instance serves every
        # scale (its memos of analysis-frame statistics are shared by previews, drafts and
        # exports); frame keys add the scale.
        identity = _digest("src", self.source_key)

        def stage(op: Operator | None, position: int, step: Step | None = None,
                  protections: tuple[Repair, ...] = ()) -> _Stage:
            return _Stage(_digest(identity, scale), identity, op, position, step, protections)

        stages = [stage(None, -1)]
        rebuilds = shot.rebuilds
        if rebuilds:
            # Imported here: repair uses engine.retime, whose frame-rate conversion imports
            # the pipeline; a top-level import would cycle.
            from engine.ops.repair import RepairOperator

            identity = _digest(identity, shot.start, shot.end, "repair",
                               _placed(rebuilds))
            op = self._operator(identity, lambda: RepairOperator(repairs=rebuilds))
            stages.append(stage(op, REPAIR_MASK_KEY))
        protections = shot.protections
        for position, step in enumerate(shot.recipe.steps):
            if not step.enabled:
                continue
            kept = protections if operator_class(step.op).spot_repair else ()
            identity = _digest(identity, shot.start, shot.end, step.op,
                               sorted(step.params.to_dict().items()), step.keyframes,
                               _placed(kept))
            op = self._operator(identity, step.build)
            stages.append(stage(op, position, step if step.keyframes else None, kept))
        return stages

    def _prefetch(self, stages: list[_Stage], index: int, shot: PlannedShot, scale: float
                  ) -> None:
        """Tell the source which frames frame `index` will read, when it is not cached: the
        operators' windows and analysis reads go back and forth over them, and a Reader
        that decodes them in one forward pass first saves the seeks in between. Frames the
        cache holds already (at the scale they will be read) are left out, and so are the
        analysis frames of frames whose analyses `prepare` made (the operators' memos hold
        them, and on a long shot the cache no longer holds their frames): a shot prepared
        in the background decodes only its full-size windows."""
        prefetch = getattr(self.source, "prefetch", None)
        if prefetch is None or len(stages) < 2 or ("frame", stages[-1].key, index) in self.cache:
            return
        reach = analysis_reach = 0
        for stage in stages[1:]:
            op = stage.operator_at(index)
            reach += op.temporal_radius
            analysis_reach += op.analysis_radius
        small = self.analysis_scale(scale)
        wanted = [i for i in range(max(shot.start, index - reach), min(shot.end, index + reach) + 1)
                  if ("src", self.source_key, i, scale) not in self.cache]
        if analysis_reach:
            far = range(max(shot.start, index - reach - analysis_reach),
                        min(shot.end, index + reach + analysis_reach) + 1)
            with self._structure:
                prepared = self._prepared.get(stages[-1].identity, set())
                analysed = {i for i in far if i in prepared}
            wanted += [i for i in far if i not in analysed
                       and ("src", self.source_key, i, small) not in self.cache]
        if wanted:
            with _held(self._source_lock):
                prefetch(min(wanted), max(wanted) + 1)

    def result_key(self, index: int, plan: ShotPlan, scale: float = 1.0) -> Hashable:
        """What identifies `evaluate(index, plan, scale)`'s restored frame: equal keys, the
        same frame (the source, the shot's recipe and repairs up to this frame, the scale).
        """
        stages = self._stages(plan.shot_at(index), scale)
        if len(stages) < 2:
            return ("src", self.source_key, index, scale)
        return ("frame", stages[-1].key, index)

    def cached(self, index: int, plan: ShotPlan, scale: float = 1.0) -> bool:
        """Whether `evaluate(index, plan, scale)` would find its restored frame cached."""
        return self.result_key(index, plan, scale) in self.cache

    def prepare(self, index: int, plan: ShotPlan, scale: float = 1.0) -> None:
        """Run the shot-level analyses frame `index` contributes to (`Operator.prepare` of
        each stage that has one), so a later `evaluate` near it, at any scale, finds them
        done. Reads analysis-scale frames (those of previews at `scale`) only and computes
        no output frame."""
        shot = plan.shot_at(index)
        small = self.analysis_scale(scale)
        stages = self._stages(shot, small)
        for k in range(1, len(stages)):
            op = stages[k].operator_at(index)
            if not op.prepares:
                continue
            window = self._window(stages, k, shot, small, (), (index,), 0)
            try:
                with _held(self._lock(stages[k])):
                    op.prepare(window)
            except NitrateError:
                raise
            except Exception as exc:  # an operator bug must name the operator and frame
                raise OperatorError(op.id, f"failed to analyse frame {index}: {exc}") from exc
        with self._structure:
            recipe = stages[-1].identity
            self._prepared.setdefault(recipe, set()).add(index)
            self._prepared.move_to_end(recipe)
            while len(self._prepared) > self._PREPARED_RECIPES:
                self._prepared.popitem(last=False)

    def _operator(self, key: str, build: Callable[[], Operator]) -> Operator:
        # One instance per (upstream, shot, params, keyframes): operators memoise analyses
        # on it, and keyframed frames share it through `Operator.at`.
        with self._structure:
            op = self._operators.get(key)
            if op is None:
                if len(self._operators) >= self._MAX_OPERATORS:
                    self._operators.clear()
                    self._stage_lists.clear()  # they hold the instances just dropped
                    self._locks.clear()
                    self._prepared.clear()  # and the analyses they memoised
                op = build()
                self._operators[key] = op
            return op

    def _frame(
        self, stages: list[_Stage], k: int, index: int, shot: PlannedShot, scale: float
    ) -> np.ndarray:
        if k == 0:
            return self.original(index, scale)
        stage = stages[k]
        frame = self.cache.get(("frame", stage.key, index))
        if frame is not None:
            return frame
        op = stage.operator_at(index)
        lo = max(shot.start, index - op.temporal_radius)
        hi = min(shot.end, index + op.temporal_radius)
        upstream = tuple(self._frame(stages, k - 1, i, shot, scale) for i in range(lo, hi + 1))
        window = self._window(stages, k, shot, scale, upstream, tuple(range(lo, hi + 1)),
                              index - lo)
        with _held(self._lock(stage)):
            frame = self.cache.get(("frame", stage.key, index))
            if frame is not None:  # made by another thread while this one waited
                return frame
            try:
                result = op.process(window)
            except NitrateError:
                raise
            except Exception as exc:  # an operator bug must name the operator and frame
                raise OperatorError(op.id, f"failed on frame {index}: {exc}") from exc
            if stage.protections:
                result = _protected(result, window.current, index, stage.protections,
                                    window.scale)
            if result.mask is not None:
                self.cache.put(("mask", stage.key, index), result.mask)
            if result.measures:
                self.cache.put(("measures", stage.key, index), dict(result.measures))
            self.cache.put(("frame", stage.key, index), result.frame)
        return result.frame

    def _window(self, stages: list[_Stage], k: int, shot: PlannedShot, scale: float,
                frames: tuple[np.ndarray, ...], indices: tuple[int, ...], center: int
                ) -> Window:
        """The window stage k's operator sees: stage k − 1's `frames` at `indices` (the
        current one at `center`), evaluated at `scale`, with its fetch and analysis
        readers."""
        small = self.analysis_scale(scale)
        return Window(
            frames=frames,
            indices=indices,
            center=center,
            shot=(shot.start, shot.end),
            scale=scale,
            key=stages[k - 1].key,
            fetch=self._fetcher(stages, k - 1, shot, scale),
            analyse=self._analyser(k - 1, shot, scale),
            analysis_scale=small,
            analysis_key=_digest(stages[k - 1].identity, small),
            survey=self._analyser(self._surveyed(stages, k - 1), shot, scale),
        )

    @staticmethod
    def _surveyed(stages: list[_Stage], k: int) -> int:
        """Stage k, or the stage before the run of local repairs that ends with it (whose
        analysis frames `Window.survey` gives)."""
        while k > 0 and stages[k].op is not None and stages[k].op.local_repair:
            k -= 1
        return k

    def _fetcher(
        self, stages: list[_Stage], k: int, shot: PlannedShot, scale: float
    ) -> Callable[[int], np.ndarray]:
        def fetch(i: int) -> np.ndarray:
            if not shot.start <= i <= shot.end:
                raise IndexError(f"frame {i} is outside the shot {shot.start}-{shot.end}")
            return self._frame(stages, k, i, shot, scale)

        return fetch

    def _analyser(self, k: int, shot: PlannedShot, scale: float) -> Callable[[int], np.ndarray]:
        small = self.analysis_scale(scale)

        def analyse(i: int) -> np.ndarray:
            if not shot.start <= i <= shot.end:
                raise IndexError(f"frame {i} is outside the shot {shot.start}-{shot.end}")
            stages = self._stages(shot, small)
            return self._frame(stages, k, i, shot, small)

        return analyse
