"""Read-ahead: an export's next frames are decoded off the evaluator's thread, and every
frame is still the exact one asked for, in any order."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest

from engine.errors import RenderCancelled
from engine.media import read_ahead
from engine.media.read_ahead import ReadAhead
from engine.media.reader import VideoReader
from engine.pipeline import ShotPlan
from engine.project.recipe import Recipe
from engine.render import CancelToken, RenderJob, render
from engine.synth.index_clip import read_index


def _decoding_threads(reader: VideoReader, monkeypatch: pytest.MonkeyPatch
                      ) -> tuple[list[tuple[int, str]], dict[int, threading.Event]]:
    """Record which thread decodes each frame; an event per frame set once it is decoded."""
    calls: list[tuple[int, str]] = []
    done: dict[int, threading.Event] = {i: threading.Event() for i in range(reader.info.frame_count)}
    original = reader.decoded

    def recording(index: int):
        frame = original(index)
        calls.append((index, threading.current_thread().name))
        done[index].set()
        return frame

    monkeypatch.setattr(reader, "decoded", recording)
    return calls, done


def test_the_frames_after_the_latest_read_are_decoded_in_the_background(
        index_clip, monkeypatch):
    path = index_clip("ahead.mp4", codec="h264", width=64, height=48, frames=40, gop=12,
                      bframes=2)
    with VideoReader(path) as reader:
        calls, done = _decoding_threads(reader, monkeypatch)
        ahead = ReadAhead(reader, frames=4)
        try:
            assert read_index(ahead.read(10)) == 10
            assert done[14].wait(timeout=30), "frames 11-14 were not decoded ahead"
            calls.clear()
            # The next frames come without decoding on this thread.
            assert [read_index(ahead.read(i)) for i in range(11, 15)] == [11, 12, 13, 14]
            assert all(name == "nitrate-read-ahead" for _, name in calls), calls
        finally:
            ahead.close()
        assert not any(t.name == "nitrate-read-ahead" for t in threading.enumerate())


def test_frames_are_exact_in_any_order_and_at_any_size(index_clip):
    path = index_clip("ahead_random.mp4", codec="h264", width=64, height=48, frames=50,
                      gop=12, bframes=3)
    # Small reads of the frames the background is converting at the same time (as an
    # evaluator's analysis reads do): each frame is converted by one thread at a time.
    order = list(range(50)) + random.Random(3).sample(range(50), 50)
    with VideoReader(path) as plain, VideoReader(path) as wrapped:
        with ReadAhead(wrapped, frames=3) as ahead:
            for i in order:
                for ahead_of in (1, 2):
                    if i + ahead_of < 50:
                        np.testing.assert_array_equal(ahead.read_scaled(i + ahead_of, (32, 24)),
                                                      plain.read_scaled(i + ahead_of, (32, 24)))
                np.testing.assert_array_equal(ahead.read(i), plain.read(i))


def test_an_analysis_pass_converts_nothing_ahead_at_full_size(index_clip, monkeypatch):
    """Small reads (an evaluator's analysis pass over a shot) decode the next frames ahead,
    but converting them at full size would be thrown away unread: that starts again with
    the first full-size read."""
    path = index_clip("ahead_small.mp4", codec="h264", width=64, height=48, frames=30, gop=12,
                      bframes=2)
    full_ahead: list[int] = []
    converted = threading.Event()
    original = read_ahead.frame_to_rgb

    def recording(frame, size=None):
        out = original(frame, size)
        if size is None and threading.current_thread().name == "nitrate-read-ahead":
            full_ahead.append(read_index(out))
            converted.set()
        return out

    monkeypatch.setattr(read_ahead, "frame_to_rgb", recording)
    with VideoReader(path) as reader:
        calls, done = _decoding_threads(reader, monkeypatch)
        with ReadAhead(reader, frames=4) as ahead:
            for i in range(20):
                ahead.read_scaled(i, (32, 24))
            assert done[23].wait(timeout=30), "frames 20-23 were not decoded ahead"
            assert full_ahead == []
            assert read_index(ahead.read(20)) == 20
            assert converted.wait(timeout=30), "no frame converted ahead after a full read"
            assert full_ahead[0] == 21


def _reading_ahead() -> bool:
    return any(t.name == "nitrate-read-ahead" for t in threading.enumerate())


def test_an_export_stops_its_read_ahead_when_done_or_cancelled(index_clip, tmp_path):
    path = index_clip("ahead_export.mp4", codec="h264", width=64, height=48, frames=12,
                      gop=6, bframes=2)
    plan = ShotPlan.single(12, Recipe.from_ops(["temporal_average"]))
    out = tmp_path / "out.mkv"
    for _ in render(RenderJob(source=path, output=out, plan=plan)):
        pass
    assert out.exists()
    assert not _reading_ahead()

    cancel = CancelToken()
    cancelled = tmp_path / "cancelled.mkv"
    with pytest.raises(RenderCancelled):
        for progress in render(RenderJob(source=path, output=cancelled, plan=plan), cancel):
            if progress.done == 3:
                cancel.cancel()
    assert not cancelled.exists()
    assert not _reading_ahead()
