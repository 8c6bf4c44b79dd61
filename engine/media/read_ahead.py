"""Read-ahead: an export's next source frames decoded on a background thread.

An export reads its source forward, and until now decoded each frame on the evaluator's
thread, between two frames' operators: 1080p H.264 of a grainy scan costs 25-60 ms a
frame there, plus the seeks of the analysis reads. `ReadAhead` wraps a `VideoReader` and
decodes the frames just after the latest one read on a thread of its own (FFmpeg decodes
without holding Python's lock), so the evaluator finds them decoded and only converts
them. The decoder is used by one thread at a time (a lock): a frame the background has
not decoded yet is decoded on the caller's thread as before, so results never depend on
timing, only the waiting does.
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


class ReadAhead(Reader):
    """`reader`'s frames, with the `frames` after the latest read decoded in the background.

    Use from one thread (like any Reader); `close` stops the background thread and must
    come before the wrapped reader is closed (the context manager does both in order).
    """

    def __init__(self, reader: VideoReader, frames: int = READ_AHEAD_FRAMES) -> None:
        self._reader = reader
        self.info = reader.info
        self._frames = max(1, frames)
        self._decoder = threading.Lock()  # the wrapped reader: one thread at a time
        self._state = threading.Condition()  # guards everything below
        self._ready: OrderedDict[int, av.VideoFrame] = OrderedDict()  # decoded ahead
        self._next = 0  # first frame worth decoding ahead (after the latest read)
        self._until = -1  # last frame worth decoding ahead
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="nitrate-read-ahead",
                                        daemon=True)
        self._thread.start()

    # -- Reader ---------------------------------------------------------------------------

    def read(self, index: int) -> np.ndarray:
        return frame_to_rgb(self.decoded(index))

    def read_scaled(self, index: int, size: tuple[int, int]) -> np.ndarray:
        return frame_to_rgb(self.decoded(index), size)

    def decoded(self, index: int) -> av.VideoFrame:
        """Frame `index` as decoded (see `VideoReader.decoded`): taken from the frames
        decoded ahead when it is there, else decoded now on this thread."""
        with self._state:
            if self._closed:
                raise MediaError(self.info.path, "reader is closed")
            frame = self._ready.get(index)
            self._wants(index + 1, index + self._frames)
        if frame is not None:
            return frame
        with self._decoder:
            return self._reader.decoded(index)

    def prefetch(self, start: int, stop: int) -> None:
        """Hint that frames `start` … `stop - 1` are about to be read: the ones after the
        latest read are decoded in the background (never on the caller's thread)."""
        with self._state:
            self._until = max(self._until, min(stop - 1, self._next + 2 * self._frames))
            self._state.notify()

    def close(self) -> None:
        """Stop the background thread (after the frame it is decoding); idempotent. The
        wrapped reader stays open."""
        with self._state:
            self._closed = True
            self._ready.clear()
            self._state.notify()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def __exit__(self, *exc: object) -> None:
        self.close()
        self._reader.close()

    # -- the background thread ------------------------------------------------------------

    def _wants(self, start: int, last: int) -> None:
        """Decode ahead from `start` to `last` (called with `_state` held)."""
        self._next = start
        self._until = min(last, self.info.frame_count - 1)
        # Frames before the new start will not be read again soon: an export moves on.
        for index in [i for i in self._ready if i < start - self._frames]:
            del self._ready[index]
        self._state.notify()

    def _wanted(self) -> int | None:
        """The next frame to decode ahead, or None (called with `_state` held)."""
        return next((i for i in range(self._next, self._until + 1) if i not in self._ready),
                    None)

    def _run(self) -> None:
        while True:
            with self._state:
                while not self._closed and (index := self._wanted()) is None:
                    self._state.wait()
                if self._closed:
                    return
            try:
                with self._decoder:
                    frame = self._reader.decoded(index)
            except (MediaError, av.FFmpegError) as exc:
                # The caller's own read of this frame reports the problem; stop guessing.
                log.debug("%s: read-ahead stopped at frame %d (%s)", self.info.path, index, exc)
                with self._state:
                    self._until = -1
                continue
            with self._state:
                if not self._closed and self._next <= index <= self._until:
                    self._ready[index] = frame
                    while len(self._ready) > 2 * self._frames + 1:
                        self._ready.popitem(last=False)
