"""Reader speed features: re-reads of recently decoded frames are exact and do not seek;
reduced frames (previews, analysis) come out of the conversion at the asked size."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest

from engine.media import open_reader
from engine.media.reader import VideoReader
from engine.synth.index_clip import read_index


def _count_seeks(reader: VideoReader, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seeks: list[int] = []
    original = reader._seek

    def counting(pts: int) -> None:
        seeks.append(pts)
        original(pts)

    monkeypatch.setattr(reader, "_seek", counting)
    return seeks


def test_reading_back_over_decoded_frames_does_not_seek(index_clip, monkeypatch):
    # An export's analysis reads run ahead (30..45), its full-size reads follow (30..40).
    path = index_clip("recent.mp4", codec="h264", width=64, height=48, frames=60, gop=24,
                      bframes=2)
    with VideoReader(path) as reader:
        assert [read_index(reader.read(i)) for i in range(30, 46)] == list(range(30, 46))
        seeks = _count_seeks(reader, monkeypatch)
        assert [read_index(reader.read(i)) for i in range(30, 41)] == list(range(30, 41))
        assert seeks == []
        # The decoder kept its place: the next new frame continues without a seek either.
        assert read_index(reader.read(46)) == 46
        assert seeks == []


def test_exact_frames_in_any_order_without_the_store(index_clip):
    # The seek path on its own (nothing kept) still lands on every frame exactly.
    path = index_clip("recent_off.mp4", codec="h264", width=64, height=48, frames=50, gop=12,
                      bframes=3)
    order = list(range(50)) * 2
    random.Random(5).shuffle(order)
    with VideoReader(path, recent_frames_bytes=0) as reader:
        assert [read_index(reader.read(i)) for i in order] == order


def test_store_is_bounded_and_reads_beyond_it_are_still_exact(index_clip, monkeypatch):
    path = index_clip("recent_small.mp4", codec="h264", width=64, height=48, frames=40, gop=40,
                      bframes=0)
    with VideoReader(path) as probe_reader:
        frame_bytes = probe_reader._recent._bytes  # frame 0, decoded at open, with padding
    with VideoReader(path, recent_frames_bytes=4 * frame_bytes) as reader:
        assert read_index(reader.read(30)) == 30
        seeks = _count_seeks(reader, monkeypatch)
        assert read_index(reader.read(28)) == 28  # among the last four decoded
        assert seeks == []
        assert read_index(reader.read(5)) == 5  # long gone: decoded again
        assert len(seeks) == 1


@pytest.mark.parametrize("codec,name", [("h264", "small.mp4"), ("h264_10", "small10.mov"),
                                        ("ffv1", "small.mkv")])
def test_reduced_frames_match_reducing_the_full_frame(index_clip, codec, name):
    path = index_clip(name, codec=codec, width=128, height=96, frames=6, gop=3)
    with open_reader(path) as reader:
        for i in (4, 1):
            small = reader.read_scaled(i, (64, 48))
            assert small.dtype == np.float32 and small.shape == (48, 64, 3)
            expected = cv2.resize(reader.read(i), (64, 48), interpolation=cv2.INTER_AREA)
            # Same picture (another filter at block edges, one rounding to the output depth).
            assert np.abs(small - expected).mean() < 0.01
            assert reader.read_scaled(i, (128, 96)).tolist() == reader.read(i).tolist()


def test_reduced_frames_of_a_sequence(index_sequence):
    folder = index_sequence("png16", frames=3)
    with open_reader(folder) as reader:
        w, h = reader.info.width, reader.info.height
        small = reader.read_scaled(2, (w // 2, h // 2))
        expected = cv2.resize(reader.read(2), (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        assert small.shape == (h // 2, w // 2, 3)
        assert np.abs(small - expected).mean() < 0.01
