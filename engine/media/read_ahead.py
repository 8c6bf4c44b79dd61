"""Read-ahead: an export's next source frames decoded on a background thread.

An export reads its source forward, and until now decoded each frame on the evaluator's
thread, between two frames' operators: 1080p H.264 of a grainy scan costs 25-60 ms a
frame there, plus the seeks of the analysis reads. `ReadAhead` wraps a `VideoReader` and
decodes the frames just after the latest one read on a thread of its own (FFmpeg decodes
without holding Python's lock), and converts the next couple to float, so the evaluator
finds them ready.

Nothing depends on timing, only the waiting does: the decoder is used by one thread at a
time (a lock), and a frame not decoded ahead yet is decoded on the caller's thread as
before. A decoded frame is converted by one thread at a time too (PyAV keeps one swscale
context per frame object, and two threads converting the same frame crash it): each
conversion claims its frame first.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

import av
import numpy as np

from engine.errors import MediaError
from engine.media.convert import frame_to_rgb
from engine.media.reader import Reader, VideoReader

log = logging.getLogger(__name__)

READ_AHEAD_FRAMES = 6
"""Frames decoded ahead of the latest read: an export's windows reach a few frames past the
frame being made (the film preset's temporal radii add up to 3-4)."""
CONVERTED_FRAMES = 2
"""Of those, the next ones also converted to float RGB at full size in the background (the
evaluator reads each once, then caches it): 2 frames are 50 MB at 1080p."""


class ReadAhead(Reader):
    """`reader`'s frames, with the `frames` after the latest read decoded in the background.

    Use from one thread at a time (like any Reader; the Evaluator reads under a lock);
    `close` stops the background thread and must come before the wrapped reader is closed
    (the context manager does both in order).
    """

    def __init__(self, reader: VideoReader, frames: int = READ_AHEAD_FRAMES) -> None:
        self._reader = reader
        self.info = reader.info
        self._frames = max(1, frames)
        self._decoder = threading.Lock()  # the wrapped reader: one thread at a time
        self._state = threading.Condition()  # guards everything below
        self._ready: OrderedDict[int, av.VideoFrame] = OrderedDict()  # decoded ahead
        self._converted: dict[int, np.ndarray] = {}  # full-size float RGB, read once
        # Whether the latest read was at full size: only then are the next frames converted
        # ahead. An analysis pass reads small frames, and full-size conversions made ahead
        # of it would be thrown away unread (a core's worth of work wasted while the
        # export waits for the shot's analyses).
        self._full_size = True
        self._claimed: set[int] = set()  # frames being converted
        self._next = 0  # first frame worth decoding ahead (after the latest read)
        self._until = -1  # last frame worth decoding ahead
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="nitrate-read-ahead",
                                        daemon=True)
        self._thread.start()

    # -- Reader ---------------------------------------------------------------------------

    def read(self, index: int) -> np.ndarray:
        return self._rgb(index, None)

    def read_scaled(self, index: int, size: tuple[int, int]) -> np.ndarray:
        return self._rgb(index, size)

    def decoded(self, index: int) -> av.VideoFrame:
        """Frame `index` as decoded (see `VideoReader.decoded`): taken from the frames
        decoded ahead when it is there, else decoded now on this thread."""
        with self._state:
            self._check_open()
            frame = self._ready.get(index)
            self._wants(index)
        if frame is not None:
            return frame
        with self._decoder:
            return self._reader.decoded(index)

    def prefetch(self, start: int, stop: int) -> None:
        """Hint that frames `start` … `stop - 1` are about to be read: the ones after the
        latest read are decoded in the background (never on the caller's thread)."""
        with self._state:
            self._until = max(self._until, min(stop - 1, self._next + 2 * self._frames,
                                               self.info.frame_count - 1))
            self._state.notify_all()

    def close(self) -> None:
        """Stop the background thread (after the frame it is working on); idempotent. The
        wrapped reader stays open."""
        with self._state:
            self._closed = True
            self._ready.clear()
            self._converted.clear()
            self._state.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def __exit__(self, *exc: object) -> None:
        self.close()
        self._reader.close()

    # -- on the caller's thread ----------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise MediaError(self.info.path, "reader is closed")

    def _rgb(self, index: int, size: tuple[int, int] | None) -> np.ndarray:
        """Frame `index` as float RGB, at `size` (width, height) or its own size (None)."""
        with self._state:
            self._check_open()
            self._full_size = size is None
            while index in self._claimed:  # the background is converting it
                self._state.wait()
            if size is None and (ready := self._converted.pop(index, None)) is not None:
                self._wants(index)
                return ready
        frame = self.decoded(index)
        with self._state:
            while index in self._claimed:
                self._state.wait()
            self._claimed.add(index)
        try:
            return frame_to_rgb(frame, size)
        finally:
            self._release(index)

    # -- shared -----------------------------------------------------------------------------

    def _wants(self, index: int) -> None:
        """Frame `index` was just read: decode ahead after it (called with `_state` held)."""
        self._next = index + 1
        self._until = min(index + self._frames, self.info.frame_count - 1)
        # Frames well before it will not be read again soon: an export moves on.
        for old in [i for i in self._ready if i <= index - self._frames]:
            del self._ready[old]
        for old in [i for i in self._converted if i <= index]:
            del self._converted[old]
        self._state.notify_all()

    def _release(self, index: int) -> None:
        with self._state:
            self._claimed.discard(index)
            self._state.notify_all()

    # -- the background thread ------------------------------------------------------------

    def _to_decode(self) -> int | None:
        """The next frame to decode ahead, or None (called with `_state` held)."""
        return next((i for i in range(self._next, self._until + 1) if i not in self._ready),
                    None)

    def _to_convert(self) -> int | None:
        """The next decoded frame to convert ahead, or None (called with `_state` held)."""
        if not self._full_size:
            return None
        last = min(self._until, self._next + CONVERTED_FRAMES - 1)
        return next((i for i in range(self._next, last + 1) if i in self._ready
                     and i not in self._converted and i not in self._claimed), None)

    def _run(self) -> None:
        while True:
            with self._state:
                while True:
                    if self._closed:
                        return
                    decode, convert = self._to_decode(), self._to_convert()
                    if decode is not None or convert is not None:
                        break
                    self._state.wait()
                # The frame the evaluator reads next is converted before more are decoded.
                frame = None
                if convert is not None and (decode is None or convert == self._next):
                    frame = self._ready[convert]
                    self._claimed.add(convert)
            if frame is not None:
                assert convert is not None
                try:
                    rgb = frame_to_rgb(frame)
                except Exception:  # noqa: BLE001 - the caller's own read reports it
                    self._release(convert)
                    continue
                with self._state:
                    if not self._closed and self._next <= convert <= self._until:
                        self._converted[convert] = rgb
                    self._claimed.discard(convert)
                    self._state.notify_all()
                continue
            assert decode is not None
            self._decode(decode)

    def _decode(self, index: int) -> None:
        try:
            with self._decoder:
                frame = self._reader.decoded(index)
        except (MediaError, av.FFmpegError) as exc:
            # The caller's own read of this frame reports the problem; stop guessing.
            log.debug("%s: read-ahead stopped at frame %d (%s)", self.info.path, index, exc)
            with self._state:
                self._until = -1
            return
        with self._state:
            if not self._closed and self._next <= index <= self._until:
                self._ready[index] = frame
                while len(self._ready) > 2 * self._frames + 1:
                    self._ready.popitem(last=False)
