"""EngineBridge: the only place where the GUI meets the background engine's thread.

The GUI builds requests (fast, immutable) through `request_view`, `prefetch` and
`request_thumbnail`; the `FrameServer` answers on its worker thread; the bridge hands each
answer to the GUI thread through a queued Qt signal and re-emits it as `frame_ready`,
`thumbnail_ready` or `error`. No other widget knows threads exist.

Stale answers are dropped here: only the answers to the most recent `request_view` are
emitted (its draft, then its final frame; older viewer answers, including
``"superseded"`` ones, are ignored), prefetch answers only warm the engine's cache and are
never emitted, and thumbnail answers for a clip that has since been replaced are ignored.
`prepare_shots` hands the engine the background shot analysis, whose progress comes back
as `analysis_progress`; `render_for_playback` a range to keep restored for playback, whose
progress comes back as `render_progress`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal, Slot
from PySide6.QtGui import QImage

from engine.lut import Lut
from engine.pipeline import ShotPlan
from engine.server import (
    CANCELLED,
    PREFETCH,
    SUPERSEDED,
    THUMBNAIL,
    VIEWER,
    FrameRequest,
    FrameResponse,
    FrameServer,
    Source,
)
from ui.image import frame_to_qimage, to_qimage

DEFAULT_CACHE_BYTES = 1 << 30
"""Frame cache budget when none is set: 1 GiB (about 40 full-HD float frames)."""


def default_cache_bytes() -> int:
    """A quarter of the available memory, between 256 MiB and 4 GiB."""
    try:
        import psutil

        available = int(psutil.virtual_memory().available)
    except Exception:  # psutil missing or failing: fall back to a fixed budget
        return DEFAULT_CACHE_BYTES
    return max(256 << 20, min(4 << 30, available // 4))


class EngineBridge(QObject):
    """Qt face of a `FrameServer` for the clip that is open.

    Signals (all emitted on the GUI thread):
    frame_ready(FrameResponse)    the answer to the latest `request_view` (error or frames)
    thumbnail_ready(int, QImage)  a timeline thumbnail of frame `index`
    error(str)                    a one-line problem to show the user
    busy_changed(bool)            True while a viewer frame is being computed
    clip_opened(MediaInfo)        `open_clip` succeeded
    analysis_progress(int, int)   frames analysed, frames to analyse (`prepare_shots`)
    """

    frame_ready = Signal(object)
    analysis_progress = Signal(int, int)
    render_progress = Signal(int, int, object)  # done, total, one-line error or None
    thumbnail_ready = Signal(int, QImage)
    error = Signal(str)
    busy_changed = Signal(bool)
    clip_opened = Signal(object)

    # Worker → GUI thread hand-over (queued connections to our own slots).
    # clip token, response, (thumbnail QImage, the display LUT it was made through) | None
    _delivered = Signal(object, object, object)
    _opened = Signal(object, object, object)  # clip token, info, error
    _prepared = Signal(object, int, int, object)  # clip token, done, total, error
    _rendered = Signal(object, int, int, object)  # clip token, done, total, error

    def __init__(
        self,
        parent: QObject | None = None,
        cache_bytes: int | None = None,
        open_source: Callable[[str], Source] | None = None,
    ) -> None:
        super().__init__(parent)
        self._cache_bytes = cache_bytes if cache_bytes is not None else default_cache_bytes()
        self._open_source = open_source
        self._server: FrameServer | None = None
        self._next_id = 1
        self._latest_view: int | None = None
        self._busy = False
        self._token: object = None  # identifies the open clip's server in deliveries
        self._in_transit = 0  # responses emitted by the worker, not yet handled here
        self._transit_lock = threading.Lock()
        self.info: Any = None
        self.path: str | None = None
        self._display: Lut | None = None
        self._delivered.connect(self._on_delivered, Qt.ConnectionType.QueuedConnection)
        self._opened.connect(self._on_opened, Qt.ConnectionType.QueuedConnection)
        self._prepared.connect(self._on_prepared, Qt.ConnectionType.QueuedConnection)
        self._rendered.connect(self._on_rendered, Qt.ConnectionType.QueuedConnection)

    # -- clip ----------------------------------------------------------------------------
    def open_clip(self, path: str | Path) -> None:
        """Open `path` in a new background server (the previous one is closed).

        `clip_opened` or `error` follows once the worker has opened it.
        """
        # The old worker may be inside a long evaluation: let it finish on its own (its
        # answers carry the old token and are ignored) instead of freezing the window.
        self._close_server(wait_s=0.0)
        self.info = None
        self.path = str(path)
        token = self._token = object()
        self._server = FrameServer(
            self.path,
            self._cache_bytes,
            lambda response: self._worker_response(token, response),
            on_open=lambda info, error: self._opened.emit(token, info, error),
            open_source=self._open_source,
            on_prepared=lambda done, total, error: self._prepared.emit(token, done, total, error),
            on_rendered=lambda done, total, error: self._rendered.emit(token, done, total, error),
        )

    def set_proxy(self, proxy_path: str | Path | None) -> None:
        """Scrub originals from this proxy at half-resolution previews and below (None: off)."""
        if self._server is not None:
            self._server.set_proxy(proxy_path)

    @property
    def is_open(self) -> bool:
        return self._server is not None and self.info is not None

    # -- requests (GUI thread) -----------------------------------------------------------
    def request_view(self, index: int, plan: ShotPlan | None, scale: float = 1.0,
                     draft: bool = False) -> int:
        """Ask for frame `index` (0-based) restored with `plan` (None: original only) at
        preview `scale`; returns the request id. Supersedes earlier view requests. With
        `draft`, a frame that is not cached is first answered at the analysis scale
        (`FrameResponse.draft`), then at `scale`."""
        rid = self._new_id()
        self._latest_view = rid
        server = self._server
        if server is None:
            self.error.emit("No clip is open.")
            return rid
        self._set_busy(True)
        server.submit(FrameRequest(rid, int(index), plan, float(scale), VIEWER, draft))
        return rid

    def prepare_shots(self, plan: ShotPlan | None, scale: float = 1.0,
                      first: int | None = None) -> None:
        """Analyse every frame of `plan`'s shots in the background (flicker levels, weave
        motion, shot colour statistics), after any frame the viewer waits for, so later
        seeks find the analyses done. The shot holding frame `first` goes first. Replaces
        the analysis in progress; None stops it."""
        server = self._server
        if server is None:
            return
        if plan is None or first is None:
            server.prepare(plan, scale)
            return
        shot = plan.shot_at(min(max(first, plan.first), plan.last))
        order = [*range(shot.start, shot.end + 1), *range(plan.first, shot.start),
                 *range(shot.end + 1, plan.last + 1)]
        server.prepare(plan, scale, order)

    def prefetch(self, indices: Iterable[int], plan: ShotPlan | None, scale: float = 1.0) -> None:
        """Compute `indices` in the background (nearest first) so later views hit the cache.

        Replaces any prefetch still pending: the wanted window moves with the playhead.
        Indices outside the clip are skipped.
        """
        server = self._server
        if server is None:
            return
        server.cancel_pending(PREFETCH)
        count = getattr(self.info, "frame_count", None)
        for index in indices:
            if index < 0 or (count is not None and index >= count):
                continue
            server.submit(FrameRequest(self._new_id(), int(index), plan, float(scale), PREFETCH))

    def render_for_playback(self, plan: ShotPlan, scale: float, first: int, last: int
                            ) -> tuple[int, int] | None:
        """Keep frames `first`..`last` restored with `plan` at preview `scale`, computed in
        the background (`render_progress`), so playback shows them at the clip's rate.
        Returns the range that fits the cache's share for it (it may end earlier), or None
        when no clip is open."""
        server, info = self._server, self.info
        if server is None or info is None:
            return None
        width, height = (max(1, round(info.width * scale)), max(1, round(info.height * scale)))
        masks = max((len(s.recipe.active) for s in plan.shots
                     if s.end >= first and s.start <= last), default=0)
        # Original and restored RGB in float32, and at most an 8-bit mask per step.
        frame_bytes = width * height * (4 * 6 + masks)
        return server.render_for_playback(plan, scale, first, last, frame_bytes)

    def stop_render(self, forget: bool = False) -> None:
        """Stop the playback render; with `forget`, drop the frames it kept."""
        if self._server is not None:
            self._server.stop_render(forget)

    def rendered_frames(self, plan: ShotPlan, scale: float, first: int, last: int) -> list[int]:
        """The frames of first..last kept restored with `plan` at `scale` for playback."""
        if self._server is None:
            return []
        return self._server.rendered_frames(plan, scale, first, last)

    def request_thumbnail(self, index: int, height_px: int) -> int:
        """Ask for a thumbnail of frame `index`, `height_px` pixels high (original, no
        recipe); `thumbnail_ready(index, image)` follows. Returns the request id."""
        rid = self._new_id()
        server = self._server
        if server is None or self.info is None:
            return rid
        scale = min(1.0, max(1, int(height_px)) / max(1, int(self.info.height)))
        server.submit(FrameRequest(rid, int(index), None, scale, THUMBNAIL))
        return rid

    def cancel_thumbnails(self) -> None:
        """Drop thumbnail requests not started yet (the timeline scrolled away)."""
        if self._server is not None:
            self._server.cancel_pending(THUMBNAIL)

    def set_cache_budget(self, budget_bytes: int) -> None:
        """Bound the engine's frame cache (bytes); applies to later clips too."""
        self._cache_bytes = int(budget_bytes)
        if self._server is not None:
            self._server.set_cache_budget(self._cache_bytes)

    @property
    def cache_budget(self) -> int:
        return self._cache_bytes

    @property
    def busy(self) -> bool:
        return self._busy

    def wait_until_idle(self, timeout_s: float = 10.0) -> bool:
        """Block until the engine is idle and every answer has been delivered on the GUI
        thread (signals emitted). For tests and benchmarks; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            QCoreApplication.processEvents()
            server = self._server
            with self._transit_lock:
                delivered = self._in_transit == 0
            if delivered and (server is None or server.wait_until_idle(0)):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if server is not None:
                # Blocks on the server's condition (no polling sleep) for a short slice, then
                # goes back to deliver what arrived: handlers may submit new requests.
                server.wait_until_idle(min(remaining, 0.02))

    def close(self, wait_s: float = 10.0) -> None:
        """Stop the background server (pending requests are dropped), waiting up to
        `wait_s` seconds for a frame being computed to finish."""
        self._close_server(wait_s)

    def set_display_lut(self, lut: Lut | None) -> None:
        """Convert the frames for the viewer, and make thumbnails, through `lut` (a display
        transform; see `CompareViewer.set_display_lut`). Thumbnails made through the one
        before are dropped: ask for them again."""
        self._display = lut

    # -- worker thread -------------------------------------------------------------------
    def _worker_response(self, token: object, response: FrameResponse) -> None:
        # Runs on the worker: convert to QImages here so the GUI thread only paints.
        if response.priority == PREFETCH:
            return  # prefetch only warms the engine's cache; nothing to show
        thumb: tuple[QImage, Lut | None] | None = None
        display = self._display  # one read: the GUI thread may change it meanwhile
        if response.error is None and response.original is not None:
            if response.priority == THUMBNAIL:
                thumb = (frame_to_qimage(response.original, display), display)
            else:
                to_qimage(response.original, display)
                if response.restored is not None:
                    to_qimage(response.restored, display)
        with self._transit_lock:
            self._in_transit += 1
        self._delivered.emit(token, response, thumb)

    # -- GUI thread ----------------------------------------------------------------------
    @Slot(object, object, object)
    def _on_opened(self, token: object, info: Any, error: object) -> None:
        if token is not self._token:
            return
        if error is not None:
            self.error.emit(str(error))
            return
        self.info = info
        self.clip_opened.emit(info)

    @Slot(object, object, object)
    def _on_delivered(self, token: object, response: FrameResponse, thumb: object) -> None:
        with self._transit_lock:
            self._in_transit -= 1
        if token is not self._token:
            return  # an answer from a clip that has been closed since
        if response.priority == THUMBNAIL:
            # A thumbnail made through a display LUT changed since is not shown.
            if isinstance(thumb, tuple) and thumb[1] is self._display:
                self.thumbnail_ready.emit(response.index, thumb[0])
            return
        if response.request_id != self._latest_view:
            return  # stale: the user has moved on
        self._set_busy(response.draft)  # after a draft, the final frame is still coming
        if response.error in (SUPERSEDED, CANCELLED):
            return
        if response.error is not None:
            self.error.emit(response.error)
        self.frame_ready.emit(response)

    @Slot(object, int, int, object)
    def _on_prepared(self, token: object, done: int, total: int, error: object) -> None:
        if token is not self._token:
            return
        if error is not None:
            self.error.emit(f"Shot analysis stopped: {error}")
        self.analysis_progress.emit(done, total)

    @Slot(object, int, int, object)
    def _on_rendered(self, token: object, done: int, total: int, error: object) -> None:
        if token is not self._token:
            return
        if error is not None:
            self.error.emit(f"Caching for playback stopped: {error}")
        self.render_progress.emit(done, total, error)

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)

    def _new_id(self) -> int:
        rid = self._next_id
        self._next_id += 1
        return rid

    def _close_server(self, wait_s: float) -> None:
        server, self._server = self._server, None
        self._token = None
        self._latest_view = None
        self._set_busy(False)
        if server is not None:
            server.close(timeout=wait_s)
