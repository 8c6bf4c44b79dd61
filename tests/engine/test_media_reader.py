"""Reader: every frame by index, exactly, in any order, for every supported source."""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from engine.errors import MediaError
from engine.media import open_reader, probe
from engine.synth.index_clip import index_frame, quantise, read_index

# (codec, file name, width, height, frames, gop, bframes)
CLIPS = [
    ("h264", "long_gop.mp4", 64, 48, 60, 24, 3),
    ("h265", "long_gop.mp4", 64, 48, 40, 16, 3),
    ("h264_10", "deep.mov", 64, 48, 30, 12, 2),
    ("prores", "prores.mov", 64, 48, 20, 1, 0),
    ("dnxhd", "dnxhr.mov", 256, 144, 12, 1, 0),
    ("ffv1", "ffv1.mkv", 64, 48, 30, 10, 0),
    ("ffv1_16", "ffv1_16.mkv", 64, 48, 20, 10, 0),
    ("mjpeg", "mjpeg.avi", 64, 48, 20, 1, 0),
]


def _shuffled_order(n: int, seed: int = 7) -> list[int]:
    rng = random.Random(seed)
    order = list(range(n)) * 2
    rng.shuffle(order)
    # Explicit backwards jumps, repeats and both ends.
    return order + [n - 1, 0, n - 1, n // 2, n // 2, n // 2 - 1, 1, 0]


@pytest.mark.parametrize("codec,name,w,h,n,gop,bf", CLIPS, ids=[c[0] for c in CLIPS])
def test_random_access_returns_the_exact_frame(index_clip, codec, name, w, h, n, gop, bf):
    path = index_clip(f"{codec}_{name}", codec=codec, width=w, height=h, frames=n, gop=gop,
                      bframes=bf)
    with open_reader(path) as reader:
        assert reader.info.frame_count == n
        assert reader.info.fps == Fraction(25)
        order = _shuffled_order(n)
        got = [read_index(reader.read(i)) for i in order]
        assert got == order
        assert [read_index(f) for f in reader.frames()] == list(range(n))
        assert [read_index(f) for f in reader.frames(n - 5, n)] == list(range(n - 5, n))


@pytest.mark.parametrize("codec", ["h264", "prores", "mjpeg", "ffv1"])
def test_colours_survive_matrix_and_range(index_clip, codec):
    # A wrong matrix or range shifts levels by several percent; codec loss is far smaller.
    path = index_clip(f"{codec}_colour.mkv" if codec == "ffv1" else f"{codec}_colour.mov",
                      codec=codec, width=64, height=48, frames=3)
    with open_reader(path) as reader:
        frame = reader.read(1)
    assert frame.dtype == np.float32 and frame.shape == (48, 64, 3)
    error = np.abs(frame - index_frame(1, 64, 48)).mean(axis=(0, 1))
    assert error.max() < 0.02, error


def test_sixteen_bit_video_keeps_full_precision(index_clip):
    path = index_clip("deep.mkv", codec="ffv1_16", width=64, height=48, frames=4)
    with open_reader(path) as reader:
        assert reader.info.bit_depth == 16
        for i in (3, 0, 2):
            assert np.array_equal(quantise(reader.read(i), 16), quantise(index_frame(i, 64, 48), 16))


SEQUENCES = [("png8", 8), ("png16", 16), ("tiff8", 8), ("tiff16", 16), ("dpx10", 10),
             ("dpx16", 16)]


@pytest.mark.parametrize("fmt,bits", SEQUENCES, ids=[s[0] for s in SEQUENCES])
def test_image_sequences_exact_values_any_order(index_sequence, fmt, bits):
    folder = index_sequence(fmt, width=40, height=24, frames=9, start_number=100)
    with open_reader(folder) as reader:
        info = reader.info
        assert (info.kind, info.frame_count, info.first_number) == ("sequence", 9, 100)
        assert info.bit_depth == bits
        for i in _shuffled_order(9):
            frame = reader.read(i)
            assert np.array_equal(quantise(frame, bits), quantise(index_frame(i, 40, 24), bits))


def test_sequence_opens_as_folder_pattern_or_one_file(index_sequence):
    folder = index_sequence("dpx10", width=40, height=24, frames=5, start_number=7)
    forms = [folder, folder / "frame_%06d.dpx", folder / "frame_000009.dpx"]
    infos = [probe(p) for p in forms]
    assert {(i.frame_count, i.first_number, i.codec) for i in infos} == {(5, 7, "dpx")}
    with open_reader(forms[1]) as reader:
        assert read_index(reader.read(4)) == 4


def _write_vfr(path: Path, pts_ms: list[int]) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "bgr0"
        stream.time_base = Fraction(1, 1000)
        for i, pts in enumerate(pts_ms):
            frame = av.VideoFrame.from_ndarray(quantise(index_frame(i, 64, 48), 8), "rgb24")
            frame = frame.reformat(format="bgr0")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def test_variable_frame_rate_is_indexed_in_presentation_order(tmp_path):
    pts = [0, 40, 80, 200, 240, 400, 440, 480]
    path = tmp_path / "vfr.mkv"
    _write_vfr(path, pts)
    with open_reader(path) as reader:
        info = reader.info
        assert info.variable_frame_rate
        assert info.frame_count == len(pts)
        assert info.fps == Fraction(len(pts) - 1, 1) / Fraction(480, 1000)
        assert [read_index(reader.read(i)) for i in (7, 3, 0, 5, 4)] == [7, 3, 0, 5, 4]


def test_constant_rate_clip_is_not_flagged_variable(index_clip):
    info = probe(index_clip("cfr.mp4", codec="h264", frames=10))
    assert not info.variable_frame_rate
    assert info.duration == pytest.approx(10 / 25)


def test_index_out_of_range_is_a_clear_error(index_clip):
    path = index_clip("range.mp4", codec="h264", frames=10)
    with open_reader(path) as reader, pytest.raises(MediaError, match="frame 10 is outside"):
        reader.read(10)


def test_damaged_packets_are_concealed_not_fatal(index_clip, tmp_path, caplog):
    src = index_clip("damage.mkv", codec="ffv1", frames=30, gop=5)
    data = bytearray(src.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 400] = bytes(random.Random(1).randrange(256) for _ in range(400))
    damaged = tmp_path / "damaged.mkv"
    damaged.write_bytes(bytes(data))
    with open_reader(damaged) as reader:
        frames = list(reader.frames())
        assert len(frames) == reader.info.frame_count
        # Frames before the damage are untouched.
        assert [read_index(f) for f in frames[:5]] == list(range(5))
        assert read_index(reader.read(29 if reader.info.frame_count == 30 else 0)) in range(30)


def test_metadata_of_a_tagged_clip(index_clip):
    info = probe(index_clip("tc.mov", codec="prores", frames=5, timecode="01:02:03:04",
                            audio=True))
    assert (info.width, info.height, info.codec, info.pix_fmt) == (64, 48, "prores",
                                                                   "yuv422p10le")
    assert info.bit_depth == 10
    assert info.timecode == "01:02:03:04"
    assert (info.color_space, info.color_primaries, info.color_trc, info.color_range) == (
        "bt709", "bt709", "bt709", "tv")
    assert len(info.audio) == 1 and info.audio[0].sample_rate == 48000
    assert info.audio[0].channels == 2
    assert info.rotation == 0


def test_float_exr_sequence_is_read_unscaled(tmp_path):
    folder = tmp_path / "exr"
    folder.mkdir()
    for i in range(3):
        frame = index_frame(i, 40, 24) * 2.0  # scene-linear values above 1 must survive
        ctx = av.CodecContext.create("exr", "w")
        ctx.width, ctx.height, ctx.pix_fmt = 40, 24, "gbrpf32le"
        ctx.time_base = Fraction(1, 24)
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="gbrpf32le")
        vf.pts = 0
        data = b"".join(bytes(p) for p in ctx.encode(vf) + ctx.encode(None))
        (folder / f"shot_{i:04d}.exr").write_bytes(data)
    with open_reader(folder) as reader:
        assert reader.info.codec == "exr" and reader.info.pix_fmt == "gbrpf32le"
        for i in (2, 0, 1):
            assert np.array_equal(reader.read(i), index_frame(i, 40, 24) * 2.0)
