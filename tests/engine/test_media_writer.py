"""Writer: every output format is readable, keeps rate/timecode/tags; deep round trips exact."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from engine.errors import MediaError
from engine.media import Writer, open_reader, output_format_for, probe
from engine.media.writer import quantise
from engine.synth.index_clip import index_frame, read_index

VIDEO = [
    ("prores_hq", "out.mov", "prores", "yuv422p10le"),
    ("prores_4444", "out.mov", "prores", None),
    ("ffv1", "out.mkv", "ffv1", "bgr0"),
    ("h264", "out.mp4", "h264", "yuv420p"),
    ("h265", "out.mp4", "hevc", "yuv420p"),
]


@pytest.mark.parametrize("codec,name,decoded,pix_fmt", VIDEO, ids=[v[0] for v in VIDEO])
def test_video_outputs_play_back_with_rate_timecode_and_tags(tmp_path, codec, name, decoded,
                                                              pix_fmt):
    out = tmp_path / name
    fps = Fraction(24000, 1001)
    fmt = output_format_for(out, codec)
    with Writer(out, fmt, 64, 48, fps, timecode="10:00:00:00") as writer:
        for i in range(8):
            writer.write(index_frame(i, 64, 48))
    info = probe(out)
    assert (info.codec, info.frame_count, info.fps) == (decoded, 8, fps)
    if pix_fmt:
        assert info.pix_fmt == pix_fmt
    assert info.timecode == "10:00:00:00"
    if not fmt.is_rgb:
        assert (info.color_space, info.color_range) == ("bt709", "tv")
    with open_reader(out) as reader:
        frames = list(reader.frames())
    assert [read_index(f) for f in frames] == list(range(8))
    assert np.abs(frames[3] - index_frame(3, 64, 48)).mean() < 0.02


def test_dnxhr_master_plays_back_and_small_pictures_are_refused(tmp_path):
    out = tmp_path / "master.mov"
    fps = Fraction(24000, 1001)
    fmt = output_format_for(out, "dnxhr_hqx")
    with Writer(out, fmt, 320, 240, fps, timecode="01:00:00:00") as writer:
        for i in range(6):
            writer.write(index_frame(i, 320, 240))
    info = probe(out)
    assert (info.codec, info.pix_fmt, info.frame_count, info.fps) == ("dnxhd", "yuv422p10le",
                                                                      6, fps)
    assert info.timecode == "01:00:00:00"
    assert (info.color_space, info.color_range) == ("bt709", "tv")
    with open_reader(out) as reader:
        frames = list(reader.frames())
    assert [read_index(f) for f in frames] == list(range(6))
    assert np.abs(frames[4] - index_frame(4, 320, 240)).mean() < 0.02
    with pytest.raises(MediaError, match=r"small.mov: dnxhr_hqx needs a picture of at least "
                                         r"256x120 pixels, not 64x48"):
        Writer(tmp_path / "small.mov", fmt, 64, 48, fps)
    assert not (tmp_path / "small.mov").exists()
    with pytest.raises(MediaError, match="cannot be stored in a .mkv"):
        output_format_for(tmp_path / "master.mkv", "dnxhr_hqx")


def test_sixteen_bit_tiff_to_ffv1_is_bit_exact(index_sequence, tmp_path):
    src = index_sequence("tiff16", width=48, height=32, frames=4)
    out = tmp_path / "deep.mkv"
    with open_reader(src) as reader:
        fmt = output_format_for(out, None, reader.info.bit_depth)
        assert fmt.pix_fmt == "gbrp16le"
        with Writer(out, fmt, 48, 32, reader.info.fps) as writer:
            for frame in reader.frames():
                writer.write(frame)
        originals = [quantise(f, 16) for f in reader.frames()]
    with open_reader(out) as back:
        assert back.info.bit_depth == 16
        copies = [quantise(f, 16) for f in back.frames()]
    for a, b in zip(originals, copies, strict=True):
        assert np.array_equal(a, b)
    # The gradient really holds 16-bit detail (not 8-bit values scaled up).
    assert np.any(originals[0] % 257 != 0)


@pytest.mark.parametrize("fmt_name,codec,bits", [("dpx10", "dpx", 10), ("png16", "png", 16),
                                                 ("tiff16", "tiff", 16)])
def test_image_sequence_round_trip_is_exact(index_sequence, tmp_path, fmt_name, codec, bits):
    src = index_sequence(fmt_name, width=40, height=24, frames=5)
    out = tmp_path / "copy"
    with open_reader(src) as reader:
        fmt = output_format_for(out, codec, reader.info.bit_depth)
        assert fmt.bit_depth == bits
        with Writer(out, fmt, 40, 24, reader.info.fps, first_number=1000) as writer:
            for frame in reader.frames():
                writer.write(frame)
        originals = [quantise(f, bits) for f in reader.frames()]
    assert (out / f"frame_001000{fmt.extension}").is_file()
    with open_reader(out) as back:
        assert (back.info.frame_count, back.info.first_number) == (5, 1000)
        assert back.info.bit_depth == bits
        for a, f in zip(originals, back.frames(), strict=True):
            assert np.array_equal(a, quantise(f, bits))


def test_output_format_for_defaults_and_overrides(tmp_path):
    assert output_format_for("a.mov").name == "prores_hq"
    assert output_format_for("a.mov").options["profile"] == "3"
    assert output_format_for("a.mov", "prores_4444").pix_fmt == "yuv444p10le"
    assert [output_format_for("a.mkv", None, b).pix_fmt for b in (8, 10, 12, 16)] == [
        "bgr0", "gbrp10le", "gbrp16le", "gbrp16le"]
    assert output_format_for("a.mp4").name == "h264"
    assert output_format_for("a.mp4", "h265").encoder == "libx265"
    assert output_format_for("a.mp4").audio_codec == "aac"
    assert output_format_for(tmp_path / "scans_%06d.dpx", None, 10).pix_fmt == "gbrp10le"
    assert output_format_for(tmp_path / "scans_%06d.dpx", None, 16).bit_depth == 16
    assert output_format_for(tmp_path / "f_%04d.tif").bit_depth == 16
    assert output_format_for(tmp_path / "f_%04d.png", None, 8).bit_depth == 8
    assert output_format_for(tmp_path / "f_%04d.png", None, 10).bit_depth == 16
    assert output_format_for(tmp_path).name == "dpx"
    assert output_format_for(tmp_path, "tiff").extension == ".tif"


@pytest.mark.parametrize("path,codec,problem", [
    ("a.mov", "vp9", "unknown codec 'vp9'"),
    ("a.xyz", None, "unknown output type '.xyz'"),
    ("a.mov", "dpx", "writes image sequences"),
    ("a.mp4", "ffv1", "cannot be stored"),
    ("a_%04d.jpg", None, "unknown image-sequence type"),
    ("a_%04d.dpx", "png", "does not match"),
    ("a.dpx", None, "needs a folder or a printf pattern"),
])
def test_output_format_for_rejects_clearly(path, codec, problem):
    with pytest.raises(MediaError, match=problem) as err:
        output_format_for(path, codec)
    assert "\n" not in str(err.value) and path in str(err.value)


def test_quantise_rounds_and_clips():
    values = np.array([[[-0.2, 0.4 / 255, 0.6 / 255]], [[0.499, 1.0, 1.7]]], dtype=np.float32)
    assert quantise(values, 8).tolist() == [[[0, 0, 1]], [[127, 255, 255]]]
    assert quantise(values, 10)[1, 0].tolist() == [510, 1023, 1023]


def test_abort_and_exceptions_remove_what_was_written(tmp_path):
    out = tmp_path / "gone.mov"
    writer = Writer(out, output_format_for(out), 64, 48, 25)
    writer.write(index_frame(0, 64, 48))
    writer.abort()
    assert not out.exists()
    folder = tmp_path / "frames"
    with pytest.raises(RuntimeError), Writer(folder, output_format_for(folder), 64, 48,
                                             25) as w:
        w.write(index_frame(0, 64, 48))
        raise RuntimeError("render failed")
    assert not folder.exists()


def test_bad_frames_and_sizes_are_refused(tmp_path):
    out = tmp_path / "x.mp4"
    with pytest.raises(MediaError, match="even width"):
        Writer(out, output_format_for(out), 63, 48, 25)
    with Writer(out, output_format_for(out), 64, 48, 25) as writer:
        with pytest.raises(MediaError, match="does not match the output"):
            writer.write(np.zeros((48, 32, 3), np.float32))
        writer.write(index_frame(0, 64, 48))
    assert probe(out).frame_count == 1


def test_sequence_writer_refuses_to_overwrite_frames(index_sequence, tmp_path):
    folder = tmp_path / "seq"
    with Writer(folder, output_format_for(folder, "png"), 40, 24, 25) as w:
        w.write(index_frame(0, 40, 24))
    with pytest.raises(MediaError, match="already holds frame files"):
        Writer(folder, output_format_for(folder, "png"), 40, 24, 25)
    assert len(list(folder.iterdir())) == 1


def test_a_short_h265_clip_with_an_unset_decode_timestamp_still_muxes(tmp_path) -> None:
    """libx265 flushed with idle frame threads leaves the dts unset; MP4 refused the file."""
    import dataclasses
    from fractions import Fraction

    import numpy as np

    from engine.media import Writer, open_reader, output_format_for
    from engine.synth.index_clip import index_frame, read_index

    out = tmp_path / "short.mp4"
    fmt = output_format_for(out, "h265", 8)
    params = fmt.options["x265-params"] + ":frame-threads=1"  # makes the bad dts certain
    fmt = dataclasses.replace(fmt, options={**fmt.options, "x265-params": params})
    with Writer(out, fmt, 128, 96, Fraction(25)) as writer:
        for i in range(2):
            writer.write(np.ascontiguousarray(index_frame(i, 128, 96), dtype=np.float32))
    with open_reader(out) as reader:
        assert reader.info.frame_count == 2
        assert [read_index(reader.read(i)) for i in range(2)] == [0, 1]


@pytest.mark.parametrize("garbage", [-4_600_000_000_000_000_000, -94_352_350_246_024,
                                     4_882_847_066_909_935_739, None,
                                     # Small enough to pass for a timestamp, but a step
                                     # beyond 2^31 ticks, which MP4 refuses at the flush.
                                     -30_000_000_000, 30_000_000_000])
def test_an_impossible_decode_timestamp_is_mended_and_a_valid_one_kept(tmp_path,
                                                                       garbage) -> None:
    """Whatever libx265 left in an unset dts (seen both far below and far above any real
    one), the muxer gets increasing decode timestamps no later than each packet's pts;
    B-frame reordering's negative start is kept as it is."""
    import av

    class Muxed:
        def __init__(self) -> None:
            self.stamps: list[tuple[int | None, int | None]] = []

        def mux(self, packet: av.Packet) -> None:
            self.stamps.append((packet.pts, packet.dts))

    def packet(pts: int, dts: int | None) -> av.Packet:
        p = av.Packet(b"\0")
        p.pts, p.dts = pts, dts
        return p

    out = tmp_path / "o.mp4"
    with Writer(out, output_format_for(out, "h264", 8), 64, 48, Fraction(25)) as writer:
        muxed = Muxed()
        real, writer._container = writer._container, muxed  # type: ignore[assignment]
        try:
            for pts, dts in ((0, garbage), (1, garbage)):
                writer._mux_video(packet(pts, dts))
            writer._last_dts = None
            for pts, dts in ((2, -2), (0, -1), (1, 0), (3, 0)):  # the last repeats a dts
                writer._mux_video(packet(pts, dts))
        finally:
            writer._container = real
        writer.abort()
    assert muxed.stamps == [(0, 0), (1, 1), (2, -2), (0, -1), (1, 0), (3, 1)]
