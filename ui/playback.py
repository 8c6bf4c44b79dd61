"""PlaybackController: owns the playhead and turns transport actions into frame requests.

Everything happens on the GUI thread; frames come from the EngineBridge's `frame_ready`.
At most one view request is outstanding: the next frame is asked for only when the last
one has been shown, so a slow engine slows playback down instead of piling up work.

- Originals (`show_restored(False)`) play against the wall clock at the clip's rate
  × shuttle speed: when decoding falls behind, frames are skipped to stay in time.
- Restored frames play every frame, as fast as the engine delivers them (never faster
  than the clip's rate × speed); `PREFETCH_AHEAD` frames ahead of the playhead are
  computed at lower priority meanwhile (render-ahead), so a cached stretch plays smoothly.
- `fps_changed` reports the achieved rate (frames shown per second over the last second).
- While the sound plays (`set_clock`: the frame the sound has reached), the picture at
  the clip's rate follows it instead of the wall clock: it waits while the sound device
  starts (its latency) and never runs ahead of what is heard, so sound and picture stay
  in step however the device buffers.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget

from engine.pipeline import ShotPlan
from engine.server import FrameResponse
from ui.compare_viewer import CompareViewer
from ui.engine_bridge import EngineBridge
from ui.timeline import Timeline

PREVIEW_SCALES: tuple[float, ...] = (1.0, 0.5, 0.25)
"""Full, half and quarter resolution previews."""

PREFETCH_AHEAD = 8
"""Frames computed ahead of the playhead while restored frames play."""

PAUSED_PREFETCH = 2
"""Frames computed after the one shown when paused (the next → is then instant)."""

SCRUB_RESTORED_BUDGET_MS = 120.0
"""While the playhead is dragged, restored frames are asked for only if the engine made the
last one within this time (ms); otherwise originals follow the mouse and the restored
frame is asked for where the drag ends (latest-wins alone would show nothing meanwhile)."""

SHUTTLE_SPEEDS: tuple[int, ...] = (1, 2, 4, 8)
"""J/L shuttle speeds (× the clip's rate)."""

_SOUND_POLL_MS = 20
"""Longest wait (ms) between looks at the sound's clock while the picture follows it."""

_FPS_WINDOW_S = 1.0
_FPS_MIN_SPAN_S = 0.25


class PlaybackController(QObject):
    """Transport for one viewer and timeline (see module docstring).

    plan_provider: returns the current ShotPlan snapshot (None: no recipe yet, originals
    are shown). Signals: frame_shown(int index), fps_changed(float achieved fps),
    playing_changed(bool), scale_changed(float).
    """

    frame_shown = Signal(int)
    draft_shown = Signal(int)
    fps_changed = Signal(float)
    playing_changed = Signal(bool)
    scale_changed = Signal(float)

    def __init__(
        self,
        bridge: EngineBridge,
        viewer: CompareViewer,
        timeline: Timeline,
        plan_provider: Callable[[], ShotPlan | None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.viewer = viewer
        self.timeline = timeline
        self.plan_provider = plan_provider
        self._playhead = 0
        self._count = 0
        self._fps = Fraction(24)
        self._scale = 0.5
        self._restored = True
        self._playing = False
        self._speed = 0  # frames of clip time per frame period; sign = direction
        self._pending: int | None = None  # id of the outstanding view request
        self._pending_index: int | None = None
        self._anchor_t = 0.0
        self._anchor_index = 0
        self._last_due = 0.0
        self._restore_ms = 0.0  # engine time of the last restored frame not from cache
        self._shown_times: deque[float] = deque()
        self._last_fps_emit = 0.0
        self.paused_prefetch = PAUSED_PREFETCH
        self.prefetch_ahead = PREFETCH_AHEAD
        # Progressive preview: after a seek, a restored frame not computed yet is shown
        # first as a draft at the analysis scale (a fraction of the work), then refined.
        self.progressive = True
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._advance)
        self._shortcuts: list[QShortcut] = []
        self._clock: Callable[[], float | None] = lambda: None
        timeline.set_bridge(bridge)
        bridge.frame_ready.connect(self._on_frame)
        bridge.busy_changed.connect(viewer.set_busy)
        bridge.clip_opened.connect(self._on_clip_opened)
        timeline.seek_requested.connect(self.seek)
        timeline.shot_clicked.connect(self._on_shot_clicked)
        if bridge.info is not None:
            self._on_clip_opened(bridge.info)

    # -- state ---------------------------------------------------------------------------
    @property
    def playhead(self) -> int:
        return self._playhead

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def speed(self) -> int:
        """Shuttle speed: 0 paused, ±1 normal, ±2/±4/±8 fast (negative: backwards)."""
        return self._speed if self._playing else 0

    @property
    def preview_scale(self) -> float:
        return self._scale

    @property
    def restored_shown(self) -> bool:
        return self._restored

    @property
    def frame_count(self) -> int:
        return self._count

    def set_clock(self, clock: Callable[[], float | None]) -> None:
        """Follow `clock` at 1× forwards: the frame (fractional) the sound has reached, or
        None while no sound plays (the wall clock then paces the picture)."""
        self._clock = clock

    def close_clip(self) -> None:
        """No clip any more (the project was closed): stop, and empty the timeline."""
        self.pause()
        self._count = 0
        self._pending = None
        self.timeline.set_clip(0, self._fps)

    # -- transport -----------------------------------------------------------------------
    def seek(self, index: int) -> None:
        """Show frame `index` (clamped to the clip); playback continues from there."""
        if self._count == 0:
            return
        index = self._clamp(index)
        self._set_playhead(index)
        if self._playing:
            self._anchor(time.monotonic(), index)
        self._request(index)

    def step(self, n: int) -> None:
        """Pause and move `n` frames (negative: back)."""
        self.pause()
        self.seek(self._playhead + n)

    def play(self) -> None:
        """Play forwards at the clip's rate (from the in mark when at the end)."""
        self.shuttle(1)

    def pause(self) -> None:
        if not self._playing:
            return
        self._playing = False
        self._speed = 0
        self._timer.stop()
        self._shown_times.clear()
        self.bridge.prefetch([], None, self._scale)  # drop render-ahead still pending
        self.playing_changed.emit(False)
        self.fps_changed.emit(0.0)

    def toggle_play(self) -> None:
        if self._playing:
            self.pause()
        else:
            self.play()

    def shuttle(self, speed: float) -> None:
        """Play at `speed` × the clip's rate (negative: backwards; 0 pauses)."""
        speed = int(round(speed))
        if speed == 0 or self._count == 0:
            self.pause()
            return
        lo, hi = self._range()
        if not self._playing:
            if speed > 0 and self._playhead >= hi:
                self._set_playhead(lo)
            elif speed < 0 and self._playhead <= lo:
                self._set_playhead(hi)
        self._speed = speed
        self._anchor(time.monotonic(), self._playhead)
        if not self._playing:
            self._playing = True
            self._shown_times.clear()
            self.playing_changed.emit(True)
        self._advance()

    def shuttle_forward(self) -> None:
        """L: play forwards, faster on each press."""
        self.shuttle(self._next_speed(1))

    def shuttle_backward(self) -> None:
        """J: play backwards, faster on each press."""
        self.shuttle(self._next_speed(-1))

    def next_shot(self) -> None:
        """Go to the first frame of the next shot."""
        for a, _b in self._shots():
            if a > self._playhead:
                self.pause()
                self.seek(a)
                return

    def prev_shot(self) -> None:
        """Go to the start of this shot, or of the previous one when already there."""
        starts = [a for a, _b in self._shots() if a < self._playhead]
        if starts:
            self.pause()
            self.seek(starts[-1])

    def mark_in(self) -> None:
        _in, out = self.timeline.in_out
        self.timeline.set_in_out(self._playhead, out if out is None or out >= self._playhead else None)

    def mark_out(self) -> None:
        in_, _out = self.timeline.in_out
        self.timeline.set_in_out(in_ if in_ is None or in_ <= self._playhead else None, self._playhead)

    def go_start(self) -> None:
        self.pause()
        self.seek(0)

    def go_end(self) -> None:
        self.pause()
        self.seek(self._count - 1)

    def set_preview_scale(self, scale: float) -> None:
        """Preview resolution: 1.0 (full), 0.5 (half) or 0.25 (quarter)."""
        if scale not in PREVIEW_SCALES:
            raise ValueError(f"preview scale must be one of {PREVIEW_SCALES}, got {scale}")
        if scale != self._scale:
            self._scale = scale
            self.scale_changed.emit(scale)
            self.refresh()

    def show_restored(self, restored: bool) -> None:
        """Run the recipe (True) or show originals only (False, faster playback)."""
        if restored != self._restored:
            self._restored = restored
            self.refresh()

    def refresh(self) -> None:
        """Ask again for the frame under the playhead with the current plan and scale
        (after a parameter change; the caller debounces)."""
        plan = self.plan_provider()
        if plan is not None:
            self.timeline.set_shots([(s.start, s.end) for s in plan.shots])
        if self._count:
            if self._playing:
                self._anchor(time.monotonic(), self._playhead)
            self._request(self._playhead)

    # -- shortcuts -----------------------------------------------------------------------
    def install_shortcuts(self, widget: QWidget) -> list[QShortcut]:
        """Bind the transport keys on `widget` (usually the main window)."""
        bindings: list[tuple[Any, Callable[[], None]]] = [
            (Qt.Key.Key_Space, self.toggle_play),
            (Qt.Key.Key_J, self.shuttle_backward),
            (Qt.Key.Key_K, self.pause),
            (Qt.Key.Key_L, self.shuttle_forward),
            (Qt.Key.Key_Left, lambda: self.step(-1)),
            (Qt.Key.Key_Right, lambda: self.step(1)),
            (Qt.Modifier.SHIFT | Qt.Key.Key_Left, lambda: self.step(-10)),
            (Qt.Modifier.SHIFT | Qt.Key.Key_Right, lambda: self.step(10)),
            (Qt.Key.Key_Up, self.prev_shot),
            (Qt.Key.Key_Down, self.next_shot),
            (Qt.Key.Key_I, self.mark_in),
            (Qt.Key.Key_O, self.mark_out),
            (Qt.Key.Key_Home, self.go_start),
            (Qt.Key.Key_End, self.go_end),
        ]
        made = []
        for key, action in bindings:
            shortcut = QShortcut(QKeySequence(key), widget)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(action)
            made.append(shortcut)
        self._shortcuts.extend(made)
        return made

    # -- internals -----------------------------------------------------------------------
    def _on_clip_opened(self, info: Any) -> None:
        self.pause()
        self._count = int(info.frame_count)
        self._fps = Fraction(info.fps) if info.fps else Fraction(24)
        self.timeline.set_clip(self._count, self._fps, getattr(info, "timecode", None))
        self._playhead = -1
        self._pending = None
        self.seek(0)
        self.refresh_shots()

    def refresh_shots(self) -> None:
        plan = self.plan_provider()
        if plan is not None:
            self.timeline.set_shots([(s.start, s.end) for s in plan.shots])

    def _on_shot_clicked(self, position: int) -> None:
        shots = self._shots()
        if 0 <= position < len(shots):
            self.pause()
            self.seek(shots[position][0])

    def _request(self, index: int) -> None:
        restored = self._restored and not (
            self.timeline.scrubbing and self._restore_ms > SCRUB_RESTORED_BUDGET_MS
        )
        plan = self.plan_provider() if restored else None
        # No drafts while playing: frames would be shown twice, soft then sharp.
        draft = self.progressive and plan is not None and not self._playing
        self._pending = self.bridge.request_view(index, plan, self._scale, draft)
        self._pending_index = index

    def _on_frame(self, response: FrameResponse) -> None:
        # The bridge only emits the answers to the latest view request, whoever asked.
        if response.draft and response.error is None and response.original is not None:
            self.viewer.show_frames(
                response.original,
                response.restored if response.restored is not None else response.original,
                response.index,
                self.timeline.timecode(response.index) if self._count else "",
                response.masks,
                draft=True,
            )
            self.draft_shown.emit(response.index)
            return
        self._pending = None
        if response.error is not None or response.original is None:
            self.viewer.show_message(response.error or "no frame")
            self.pause()
            return
        if response.shot is not None and not response.from_cache:
            self._restore_ms = response.elapsed_ms
        restored = response.restored if response.restored is not None else response.original
        self.viewer.show_frames(
            response.original,
            restored,
            response.index,
            self.timeline.timecode(response.index) if self._count else "",
            response.masks,
        )
        self.frame_shown.emit(response.index)
        if self._playing:
            self._note_shown()
            self._after_playing_frame(response.index)
        elif response.index == self._playhead and self._restored and self.paused_prefetch > 0:
            plan = self.plan_provider()
            ahead = range(response.index + 1, response.index + 1 + self.paused_prefetch)
            self.bridge.prefetch([i for i in ahead if i < self._count], plan, self._scale)

    def _after_playing_frame(self, index: int) -> None:
        lo, hi = self._range()
        direction = 1 if self._speed > 0 else -1
        if (direction > 0 and index >= hi) or (direction < 0 and index <= lo):
            self.pause()
            return
        if self._restored:
            plan = self.plan_provider()
            ahead = [index + direction * k for k in range(1, self.prefetch_ahead + 1)]
            self.bridge.prefetch([i for i in ahead if lo <= i <= hi], plan, self._scale)
        self._advance()

    def _advance(self) -> None:
        """Request the next frame when it is due (timer re-arms itself otherwise)."""
        if not self._playing or self._pending is not None:
            return
        now = time.monotonic()
        period = 1.0 / (float(self._fps) * abs(self._speed))
        direction = 1 if self._speed > 0 else -1
        lo, hi = self._range()
        heard = self._clock() if self._speed == 1 else None
        if heard is not None:
            # The sound is the clock: the frame it has reached, every frame when restored
            # (as without sound), skipping when originals fall behind it.
            reached = math.floor(heard + 1e-6)
            target = min(reached, self._playhead + 1) if self._restored else reached
            if target <= self._playhead:
                wait = (self._playhead + 1 - heard) * period
                self._timer.start(max(1, min(_SOUND_POLL_MS, math.ceil(wait * 1000))))
                return
            # Should the sound stop, the wall clock goes on from here.
            self._anchor_t, self._anchor_index, self._last_due = now, target, now
        elif self._restored:
            # Every frame, no faster than the clip's rate × speed.
            due = self._last_due + period
            if now < due:
                self._timer.start(max(1, math.ceil((due - now) * 1000)))
                return
            self._last_due = max(due, now - period)  # late: do not try to catch up
            target = self._playhead + direction
        else:
            # Wall clock: the frame that should be on screen now (skipping if behind).
            ticks = math.floor((now - self._anchor_t) / period)
            target = self._anchor_index + direction * ticks
            if target == self._playhead:
                wait = self._anchor_t + (ticks + 1) * period - now
                self._timer.start(max(1, math.ceil(wait * 1000)))
                return
        target = min(hi, max(lo, target))
        self._set_playhead(target)
        self._request(target)

    def _note_shown(self) -> None:
        now = time.monotonic()
        self._shown_times.append(now)
        while self._shown_times and now - self._shown_times[0] > _FPS_WINDOW_S:
            self._shown_times.popleft()
        if now - self._last_fps_emit >= 0.25 and len(self._shown_times) >= 2:
            span = self._shown_times[-1] - self._shown_times[0]
            # Two or three frames a few milliseconds apart (the first frames, or a catch-up
            # after a stall) say nothing of the rate: report once a quarter second is seen.
            if span >= _FPS_MIN_SPAN_S:
                self._last_fps_emit = now
                self.fps_changed.emit((len(self._shown_times) - 1) / span)

    def achieved_fps(self) -> float:
        """Frames shown per second over the last second of playback (0 when paused)."""
        if not self._playing or len(self._shown_times) < 2:
            return 0.0
        span = self._shown_times[-1] - self._shown_times[0]
        return (len(self._shown_times) - 1) / span if span > 0 else 0.0

    def _anchor(self, when: float, index: int) -> None:
        self._anchor_t = when
        self._anchor_index = index
        self._last_due = when - 1.0  # the first frame is due at once

    def _set_playhead(self, index: int) -> None:
        self._playhead = index
        self.timeline.set_playhead(index)

    def _range(self) -> tuple[int, int]:
        """Frames playback may cover: the in/out marks, or the whole clip."""
        in_, out = self.timeline.in_out
        lo = 0 if in_ is None else in_
        hi = self._count - 1 if out is None else out
        return lo, max(lo, hi)

    def _shots(self) -> list[tuple[int, int]]:
        plan = self.plan_provider()
        if plan is not None:
            return [(s.start, s.end) for s in plan.shots]
        return self.timeline.shots

    def _next_speed(self, direction: int) -> int:
        current = self._speed if self._playing else 0
        if current == 0 or (current > 0) != (direction > 0):
            return direction
        magnitude = abs(current)
        faster = [s for s in SHUTTLE_SPEEDS if s > magnitude]
        return direction * (faster[0] if faster else magnitude)

    def _clamp(self, index: int) -> int:
        return min(max(0, int(index)), max(0, self._count - 1))
