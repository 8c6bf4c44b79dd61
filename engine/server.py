"""FrameServer: one background worker that decodes and restores frames on request.

Shaped after napari's slicer: the caller builds an immutable `FrameRequest` (it has already
captured every input: index, shot plan snapshot, preview scale) and `submit`s it; the worker
answers with a `FrameResponse` that echoes the request id, through the `on_response`
callback, on the worker thread. The UI's bridge moves responses onto the GUI thread; the
engine never knows a GUI exists.

Scheduling (one worker, so the order is the whole policy):
- priority 0 (viewer): latest wins. A new viewer request supersedes a pending (not yet
  started) one; work already started is finished (evaluation cannot be interrupted) and its
  response is still delivered, so a consumer must ignore ids it no longer waits for.
- priority 1 (prefetch) and 2 (thumbnail): first in, first out, each served only when no
  request of a lower priority number is pending.
- then a playback render set by `render_for_playback`: frames restored one at a time and
  their final pictures kept in a store of their own (`rendered`, a share of the cache
  budget, RENDER_SHARE), so playback of that range shows them at the clip's rate however
  slow the recipe;
- last, when nothing else is pending: the shot analysis set by `prepare` (flicker levels,
  weave motion, shot colour statistics of every frame of the plan's shots, at analysis
  scale), one frame at a time, so a later seek anywhere in those shots finds them done.

Any request whose final frame is in the playback store is answered from it (`from_cache`).

Drafts: a viewer request with `draft=True` whose restored frame is not cached, at a scale
above the analysis scale, is first answered with the frame restored at the analysis scale
(a response with `draft=True`, a fraction of the work), then with the frame at its own
scale, unless a newer viewer request arrived in between (then ``"superseded"``).

Guarantee: every accepted request ends in exactly one final (non-draft) `on_response` call,
which may follow one draft response. Requests that are
superseded or cancelled before they start are answered at once with ``error="superseded"``
or ``error="cancelled"`` and no frames (`SUPERSEDED`, `CANCELLED`); requests still pending at
`close()` are answered with ``error="cancelled"``. Failures (unreadable file, bad frame
index, an operator raising) become responses with a one-line `error`; the worker never
dies of them.

A request whose `plan` is None asks for the original only (`restored` is the original and
`masks` is empty): playback of originals and thumbnails need no recipe.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from engine.errors import MediaError, NitrateError
from engine.pipeline.cache import FrameCache
from engine.pipeline.evaluator import Evaluator
from engine.pipeline.shot_plan import ShotPlan

VIEWER = 0
"""Priority of the frame the user is looking at (latest wins)."""
PREFETCH = 1
"""Priority of frames computed ahead of the playhead (render-ahead cache)."""
THUMBNAIL = 2
"""Priority of timeline thumbnails."""

SUPERSEDED = "superseded"
"""`FrameResponse.error` of a viewer request replaced by a newer one before it started."""
CANCELLED = "cancelled"
"""`FrameResponse.error` of a request removed by `cancel_pending` or `close`."""

RENDER_SHARE = 0.75
"""Share of the cache budget the playback render's store takes while it holds frames. The
evaluator's cache keeps the rest, enough for the working windows of the film preset at a
half-size preview of 1080p (frames in the store are answered without the evaluator)."""


class Source(Protocol):
    """What the server needs of a Reader: `info` (MediaInfo-like), `read`, `close`."""

    info: Any

    def read(self, index: int) -> np.ndarray: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class FrameRequest:
    """One frame wanted from the server.

    request_id: chosen by the caller, echoed in the response (unique per server).
    index:      0-based frame index in the clip.
    plan:       immutable shots + recipes snapshot, or None for the original only.
    scale:      preview scale relative to the source (1.0, 0.5, 0.25; thumbnails smaller).
    priority:   VIEWER (0), PREFETCH (1) or THUMBNAIL (2).
    draft:      for a viewer request with a plan: answer a quick draft at the analysis
                scale first when the frame is not cached (see the module docstring).
    """

    request_id: int
    index: int
    plan: ShotPlan | None
    scale: float = 1.0
    priority: int = VIEWER
    draft: bool = False


@dataclass(frozen=True)
class FrameResponse:
    """The answer to one request.

    shot: (first, last) frame of the frame's shot, or None (no plan, or an error).
    original / restored: float32 (H, W, 3) RGB levels 0-1 at the request's scale, or None
    when `error` is set. masks: step position → float32 (H, W) mask, 0-1.
    elapsed_ms: worker time spent on this request (milliseconds, 0 when never started).
    from_cache: True when nothing had to be decoded or computed.
    draft: True for the quick answer at the analysis scale that precedes the final one
           (frames smaller than the request's scale; the viewer enlarges them).
    """

    request_id: int
    index: int
    shot: tuple[int, int] | None
    original: np.ndarray | None
    restored: np.ndarray | None
    masks: dict[int, np.ndarray] = field(default_factory=dict)
    error: str | None = None
    elapsed_ms: float = 0.0
    from_cache: bool = False
    priority: int = VIEWER
    draft: bool = False


def _failed(request: FrameRequest, error: str, elapsed_ms: float = 0.0) -> FrameResponse:
    return FrameResponse(
        request_id=request.request_id,
        index=request.index,
        shot=None,
        original=None,
        restored=None,
        masks={},
        error=error,
        elapsed_ms=elapsed_ms,
        priority=request.priority,
    )


def _enlarged(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`frame` resized (bilinear) to size = (width, height) pixels; itself when it has it."""
    if (frame.shape[1], frame.shape[0]) == size:
        return frame
    return cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR)


@dataclass(frozen=True)
class _JobFrame:
    """One frame of a background job, as the worker takes it: `job` "analyse" (the shot
    analysis) or "render" (the playback render)."""

    job: str
    plan: ShotPlan
    scale: float
    index: int
    done: int  # frames of the job taken so far, this one included
    total: int


def _notify(callback: Callable[[int, int, str | None], None] | None, done: int, total: int,
            error: str | None) -> None:
    """Tell a background job's progress to `callback`; its bugs must not stop the server."""
    if callback is None:
        return
    try:
        callback(done, total, error)
    except Exception:  # the consumer's bug must not stop the server
        pass


def _mask_to_bytes(mask: np.ndarray) -> np.ndarray:
    """A 0-1 mask as uint8 levels (a quarter of the memory of float32)."""
    return (np.clip(mask, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


class _CountingCache(FrameCache):
    """A FrameCache that counts stores, so the server can tell a pure cache hit."""

    def __init__(self, budget_bytes: int) -> None:
        super().__init__(budget_bytes)
        self.puts = 0

    def put(self, key: Hashable, value: Any, *, protected: bool = False) -> None:
        self.puts += 1
        super().put(key, value, protected=protected)


def _open_media(path: str) -> Source:
    from engine import media

    opener = getattr(media, "open_reader", None)
    if opener is None:
        raise MediaError(path, "cannot be opened: the media reader is not available")
    return opener(path)


class FrameServer:
    """Serves `FrameRequest`s on one worker thread that owns its Reader and Evaluator.

    source_path: the clip (video file, sequence folder or pattern), opened on the worker.
    cache_bytes: byte budget of the decoded/processed frame cache (LRU).
    on_response: called once per accepted request, on the worker thread; it must be quick
                 and must not raise (exceptions it raises are swallowed to keep serving).
    on_open:     called once on the worker thread with (info, None) when the clip opened,
                 or (None, one-line error) when it could not be opened.
    open_source: how to open `source_path` (default `engine.media.open_reader`); tests pass
                 fake readers here.
    on_prepared: called on the worker thread after each frame of the `prepare` analysis
                 with (frames done, frames in the job, one-line error or None); an error
                 ends the job.
    on_rendered: called on the worker thread after each frame of the playback render with
                 (frames done, frames in the render, one-line error or None); an error
                 ends the render.
    """

    def __init__(
        self,
        source_path: str | Path,
        cache_bytes: int,
        on_response: Callable[[FrameResponse], None],
        *,
        on_open: Callable[[Any, str | None], None] | None = None,
        open_source: Callable[[str], Source] | None = None,
        on_prepared: Callable[[int, int, str | None], None] | None = None,
        on_rendered: Callable[[int, int, str | None], None] | None = None,
    ) -> None:
        self.source_path = str(source_path)
        self._on_response = on_response
        self._on_open = on_open
        self._on_prepared = on_prepared
        self._on_rendered = on_rendered
        self._open_source = open_source or _open_media
        # The shot analysis job: (plan, scale, frames left, frames in the job).
        self._analysis: tuple[ShotPlan, float, deque[int], int] | None = None
        self.cache = _CountingCache(cache_bytes)
        self._budget = int(cache_bytes)
        # The playback render: (plan, scale, frames left, frames in it), and its store of
        # final frames (original, restored, masks) by `Evaluator.result_key`.
        self._render: tuple[ShotPlan, float, deque[int], int] | None = None
        self.rendered = FrameCache(0)
        self._rendered_for: tuple[ShotPlan, float] | None = None  # the store's plan, scale
        self._evaluator: Evaluator | None = None
        self._cond = threading.Condition()
        self._viewer: FrameRequest | None = None
        self._queues: dict[int, deque[FrameRequest]] = {PREFETCH: deque(), THUMBNAIL: deque()}
        # Opening the clip counts as work, so wait_until_idle() also waits for it.
        self._working = True
        self._closing = False
        self.info: Any = None
        self.open_error: str | None = None
        self._proxy_path: str | None = None
        self._proxy: Any = None  # ProxyReader, opened on the worker
        self._thread = threading.Thread(
            target=self._run, name=f"FrameServer({Path(self.source_path).name})", daemon=True
        )
        self._thread.start()

    # -- caller side (any thread) -------------------------------------------------------
    def set_proxy(self, proxy_path: str | Path | None) -> None:
        """Show original frames at preview scales ≤ PROXY_SCALE from this all-intra proxy
        (engine.media.proxy) when only the original is asked for (scrubbing); restored
        frames and exports always read the source. None switches it off."""
        with self._cond:
            self._proxy_path = None if proxy_path is None else str(proxy_path)

    def prepare(self, plan: ShotPlan | None, scale: float = 1.0,
                indices: Iterable[int] | None = None) -> None:
        """Analyse `indices` (default: every frame of the plan, in order) with `plan` in the
        background, after every pending request (see the module docstring). Replaces the
        analysis job in progress; None stops it. `scale` is the preview scale the analyses
        are for (they run at its analysis scale)."""
        with self._cond:
            if plan is None:
                self._analysis = None
            else:
                order = deque(range(plan.first, plan.last + 1) if indices is None else indices)
                self._analysis = (plan, float(scale), order, len(order))
            self._cond.notify_all()

    @property
    def analysis_left(self) -> int:
        """Frames the shot analysis job has still to analyse (0 when none)."""
        with self._cond:
            return len(self._analysis[2]) if self._analysis is not None else 0

    def submit(self, request: FrameRequest) -> None:
        """Queue a request. Raises ValueError for an unknown priority, RuntimeError after
        `close`."""
        if request.priority not in (VIEWER, PREFETCH, THUMBNAIL):
            raise ValueError(f"unknown request priority {request.priority}")
        superseded: FrameRequest | None = None
        with self._cond:
            if self._closing:
                raise RuntimeError("the frame server is closed")
            if request.priority == VIEWER:
                superseded, self._viewer = self._viewer, request
            else:
                self._queues[request.priority].append(request)
            self._cond.notify_all()
        if superseded is not None:
            self._answer(_failed(superseded, SUPERSEDED))

    def cancel_pending(self, priority: int | None = None) -> int:
        """Answer pending (not started) requests of `priority` (all when None) with
        ``error="cancelled"``; returns how many were cancelled."""
        dropped: list[FrameRequest] = []
        with self._cond:
            if priority in (None, VIEWER) and self._viewer is not None:
                dropped.append(self._viewer)
                self._viewer = None
            for prio, queue in self._queues.items():
                if priority in (None, prio):
                    dropped.extend(queue)
                    queue.clear()
            self._cond.notify_all()
        for request in dropped:
            self._answer(_failed(request, CANCELLED))
        return len(dropped)

    def pending(self, priority: int | None = None) -> int:
        """Requests waiting to start (of `priority`, or all)."""
        with self._cond:
            n = 0
            if priority in (None, VIEWER) and self._viewer is not None:
                n += 1
            for prio, queue in self._queues.items():
                if priority in (None, prio):
                    n += len(queue)
            return n

    def set_cache_budget(self, budget_bytes: int) -> None:
        """Bound the frame cache (and the playback store, a share of it while it holds
        frames) to `budget_bytes` in all (evicts at once when lowered)."""
        with self._cond:
            self._budget = int(budget_bytes)
            self._split_budget(len(self.rendered) > 0 or self._render is not None)

    def _split_budget(self, rendering: bool) -> None:
        share = int(self._budget * RENDER_SHARE) if rendering else 0
        self.rendered.set_budget(share)
        self.cache.set_budget(self._budget - share)

    def render_for_playback(self, plan: ShotPlan, scale: float, first: int, last: int,
                            frame_bytes: int) -> tuple[int, int]:
        """Restore frames `first`..`last` (inclusive) with `plan` at `scale` in the
        background and keep their final pictures, so playback shows them at full rate
        (see the module docstring). `frame_bytes` is what one kept frame costs (original,
        restored and masks at `scale`); the range is cut to what RENDER_SHARE of the
        budget holds. Replaces the render in progress and forgets the frames kept before.
        Returns the range that will be kept, (first, last)."""
        # A kilobyte a frame beside its pictures: the shot and the masks' positions.
        fits = max(1, int(self._budget * RENDER_SHARE) // (max(1, frame_bytes) + 1024))
        last = min(last, first + fits - 1)
        with self._cond:
            self.rendered.clear()
            self._rendered_for = (plan, float(scale))
            self._split_budget(True)
            self._render = (plan, float(scale), deque(range(first, last + 1)),
                            last - first + 1)
            self._cond.notify_all()
        return first, last

    def stop_render(self, forget: bool = False) -> None:
        """Stop the playback render; with `forget`, also drop the frames it kept (the
        evaluator's cache gets the whole budget back)."""
        with self._cond:
            self._render = None
            if forget:
                self.rendered.clear()
                self._rendered_for = None
                self._split_budget(False)

    def rendered_frames(self, plan: ShotPlan, scale: float, first: int, last: int
                        ) -> list[int]:
        """The frames of first..last whose final picture with `plan` at `scale` is in the
        playback store (an edited recipe gives other pictures: none of its frames are).
        Called from the GUI: another plan than the store's is answered without building
        its operators."""
        evaluator = self._evaluator
        if evaluator is None or not len(self.rendered) or self._rendered_for != (plan, scale):
            return []
        return [i for i in range(max(first, plan.first), min(last, plan.last) + 1)
                if evaluator.result_key(i, plan, scale) in self.rendered]

    def wait_until_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is pending or running (all callbacks returned); False when
        `timeout` seconds passed first."""
        with self._cond:
            return self._cond.wait_for(self._idle, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Cancel pending requests, let the running one finish, stop the worker and close
        the reader. Idempotent."""
        with self._cond:
            first = not self._closing
            self._closing = True
        if first:
            self.cancel_pending()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def closed(self) -> bool:
        return self._closing

    # -- worker side ---------------------------------------------------------------------
    def _idle(self) -> bool:
        return (not self._working and self._viewer is None and not any(self._queues.values())
                and not (self._analysis is not None and self._analysis[2])
                and not (self._render is not None and self._render[2]))

    def _next(self) -> FrameRequest | _JobFrame | None:
        """The next request to serve, or the next frame to analyse (None when closing);
        marks the worker busy."""
        with self._cond:
            while True:
                if self._closing:
                    self._working = False
                    self._cond.notify_all()
                    return None
                request: FrameRequest | None = None
                if self._viewer is not None:
                    request, self._viewer = self._viewer, None
                elif self._queues[PREFETCH]:
                    request = self._queues[PREFETCH].popleft()
                elif self._queues[THUMBNAIL]:
                    request = self._queues[THUMBNAIL].popleft()
                if request is not None:
                    self._working = True
                    return request
                # The background jobs, the playback render first: the user asked for it.
                for kind, job in (("render", self._render), ("analyse", self._analysis)):
                    if job is not None and job[2]:
                        plan, scale, order, total = job
                        index = order.popleft()
                        self._working = True
                        return _JobFrame(kind, plan, scale, index, total - len(order), total)
                self._working = False
                self._cond.notify_all()  # wake wait_until_idle
                self._cond.wait()

    def _analyse(self, evaluator: Evaluator | None, job: _JobFrame) -> None:
        """One frame of the shot analysis job; a failure ends the job (reported once)."""
        error = self._job_frame(evaluator, job.index,
                                lambda ev: ev.prepare(job.index, job.plan, job.scale))
        if error is not None:
            with self._cond:
                if self._analysis is not None and self._analysis[0] is job.plan:
                    self._analysis = None
        _notify(self._on_prepared, job.done, job.total, error)

    def _render_one(self, evaluator: Evaluator | None, job: _JobFrame) -> None:
        """One frame of the playback render into the store; a failure ends the render
        (reported once)."""
        def keep(ev: Evaluator) -> None:
            key = ev.result_key(job.index, job.plan, job.scale)
            if key in self.rendered:
                return
            done = ev.evaluate(job.index, job.plan, job.scale)
            # Masks as 8-bit pairs: they are only drawn over the picture, and the store
            # counts the bytes of tuples (not of dicts).
            masks = tuple((k, _mask_to_bytes(m)) for k, m in done.masks.items())
            self.rendered.put(key, (done.original, done.restored, masks, done.shot))

        error = self._job_frame(evaluator, job.index, keep)
        if error is not None:
            with self._cond:
                if self._render is not None and self._render[0] is job.plan:
                    self._render = None
        _notify(self._on_rendered, job.done, job.total, error)

    def _job_frame(self, evaluator: Evaluator | None, index: int,
                   work: Callable[[Evaluator], None]) -> str | None:
        """Run `work` for frame `index` of a background job: its one-line error, or None."""
        if evaluator is None:
            return self.open_error or f"{self.source_path}: not open"
        try:
            work(evaluator)
        except NitrateError as exc:
            return str(exc)
        except Exception as exc:  # never let a bug kill the worker
            return f"frame {index}: {type(exc).__name__}: {exc}"
        return None

    def _run(self) -> None:
        from engine.runtime import configure_threads

        configure_threads()
        source: Source | None = None
        try:
            source = self._open_source(self.source_path)
            self.info = source.info
        except NitrateError as exc:
            self.open_error = str(exc)
        except Exception as exc:  # a reader bug must not kill the worker silently
            self.open_error = f"{self.source_path}: cannot be opened ({exc})"
        if self._on_open is not None:
            try:
                self._on_open(self.info, self.open_error)
            except Exception:  # the callback's problem; keep serving
                pass
        evaluator = Evaluator(source, self.cache, source_key=self.source_path) if source else None
        self._evaluator = evaluator
        try:
            while (request := self._next()) is not None:
                if isinstance(request, _JobFrame) and request.job == "analyse":
                    self._analyse(evaluator, request)
                elif isinstance(request, _JobFrame):
                    self._render_one(evaluator, request)
                else:
                    self._answer(self._serve(evaluator, request))
                with self._cond:
                    self._working = False
                    self._cond.notify_all()
        finally:
            if self._proxy is not None:
                self._proxy.close()
            if source is not None:
                try:
                    source.close()
                except Exception:  # closing a broken reader must not mask the real state
                    pass
            with self._cond:
                self._working = False
                self._cond.notify_all()

    def _from_proxy(self, request: FrameRequest) -> np.ndarray | None:
        """The original frame from the proxy, at the request's scale, or None (no proxy, or
        the scale needs more pixels than it has). Runs on the worker."""
        from engine.media.proxy import PROXY_SCALE, ProxyReader, find_proxy

        with self._cond:
            path = self._proxy_path
        if path is None or request.scale > PROXY_SCALE or self.info is None:
            if self._proxy is not None and path is None:
                self._proxy.close()
                self._proxy = None
            return None
        if self._proxy is None or getattr(self._proxy, "path", None) != path:
            if find_proxy(self.source_path, Path(path).parent) != Path(path):
                return None  # stale: the source changed since the proxy was made
            try:
                self._proxy = ProxyReader(Path(path), (self.info.width, self.info.height),
                                          self.info.frame_count)
            except NitrateError:
                return None
            self._proxy.path = path
        frame = self._proxy.read(request.index)
        size = (max(1, round(self.info.width * request.scale)),
                max(1, round(self.info.height * request.scale)))
        if (frame.shape[1], frame.shape[0]) != size:
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        return frame

    def _serve(self, evaluator: Evaluator | None, request: FrameRequest) -> FrameResponse:
        if evaluator is None:
            return _failed(request, self.open_error or f"{self.source_path}: not open")
        start = time.perf_counter()
        puts = self.cache.puts
        try:
            count = getattr(self.info, "frame_count", None)
            if request.index < 0 or (count is not None and request.index >= count):
                last = f"0-{count - 1}" if count else "none"
                raise MediaError(
                    self.source_path, f"frame {request.index} does not exist (frames {last})"
                )
            if request.plan is None:
                original = self._from_proxy(request)
                if original is None:
                    original = evaluator.original(request.index, request.scale)
                shot = None
                restored, masks = original, {}
            else:
                kept = self._kept(evaluator, request)
                if kept is not None:
                    return kept
                if request.draft and self._send_draft(evaluator, request, start):
                    return _failed(request, SUPERSEDED, (time.perf_counter() - start) * 1000.0)
                done = evaluator.evaluate(request.index, request.plan, request.scale)
                original, restored, masks, shot = done.original, done.restored, done.masks, done.shot
        except NitrateError as exc:
            return _failed(request, str(exc), (time.perf_counter() - start) * 1000.0)
        except Exception as exc:  # never let a bug kill the worker: report it on the frame
            problem = f"frame {request.index}: {type(exc).__name__}: {exc}"
            return _failed(request, problem, (time.perf_counter() - start) * 1000.0)
        return FrameResponse(
            request_id=request.request_id,
            index=request.index,
            shot=shot,
            original=original,
            restored=restored,
            masks=masks,
            error=None,
            elapsed_ms=(time.perf_counter() - start) * 1000.0,
            from_cache=self.cache.puts == puts,
            priority=request.priority,
        )

    def _kept(self, evaluator: Evaluator, request: FrameRequest) -> FrameResponse | None:
        """The answer to `request` from the playback store, or None when it is not there."""
        assert request.plan is not None
        if not len(self.rendered):
            return None
        kept = self.rendered.get(evaluator.result_key(request.index, request.plan,
                                                      request.scale))
        if kept is None:
            return None
        original, restored, masks, shot = kept
        return FrameResponse(request_id=request.request_id, index=request.index, shot=shot,
                             original=original, restored=restored,
                             masks={k: m.astype(np.float32) / 255.0 for k, m in masks},
                             from_cache=True, priority=request.priority)

    def _send_draft(self, evaluator: Evaluator, request: FrameRequest, start: float) -> bool:
        """Answer a draft of `request` at the analysis scale when the final frame is not
        cached and the draft is smaller; True when a newer viewer request is now waiting
        (the final frame would be stale before it is shown)."""
        assert request.plan is not None
        small = evaluator.analysis_scale(request.scale)
        if small >= request.scale or evaluator.cached(request.index, request.plan,
                                                      request.scale):
            return False
        done = evaluator.evaluate(request.index, request.plan, small)
        # Enlarged to the final frame's size, so the viewer's geometry (zoom, pan, regions)
        # does not jump when the final frame replaces it.
        size = (max(1, round(self.info.width * request.scale)),
                max(1, round(self.info.height * request.scale)))
        if done.restored.shape[:2] != done.original.shape[:2]:  # an upscaling recipe
            ratio = request.scale / small
            out_size = (round(done.restored.shape[1] * ratio), round(done.restored.shape[0] * ratio))
        else:
            out_size = size
        self._answer(FrameResponse(
            request_id=request.request_id,
            index=request.index,
            shot=done.shot,
            original=_enlarged(done.original, size),
            restored=_enlarged(done.restored, out_size),
            masks={k: _enlarged(m, out_size) for k, m in done.masks.items()},
            elapsed_ms=(time.perf_counter() - start) * 1000.0,
            priority=request.priority,
            draft=True,
        ))
        with self._cond:
            return self._viewer is not None

    def _answer(self, response: FrameResponse) -> None:
        try:
            self._on_response(response)
        except Exception:  # the consumer's bug must not stop the server
            pass
