"""The export's direct path: frames nothing touches go from the decoder to the encoder's
pixel format in one conversion, never through float, and make the same file as the float
path (same frames, timecode, tags, rate, audio; pictures within rounding)."""

from __future__ import annotations

import hashlib
import resource
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from engine.errors import MediaError
from engine.media import Writer, open_reader, output_format_for, probe
from engine.media.convert import frame_to_rgb
from engine.media.reader import VideoReader
from engine.pipeline import ShotPlan
from engine.pipeline.shot_plan import PlannedShot
from engine.project.model import Repair
from engine.project.recipe import Recipe, Step
from engine.render import RenderJob, render
from engine.render import export as export_module
from engine.render.export import Route, _retime_map, choose_route
from engine.render.resume import render_resumable
from engine.synth.index_clip import decode_audio, find_clicks, read_index

FRAMES = 48


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 index frames, 64x48, H.264 with B-frames, timecode, PCM audio with clicks."""
    from engine.synth.index_clip import write_index_clip

    path = tmp_path_factory.mktemp("direct") / "source.mov"
    return write_index_clip(path, "h264", frames=FRAMES, gop=12, bframes=2, audio=True,
                            click_frames=(12, 30), timecode="01:00:00:00")


def smooth_frame(index: int, width: int = 64, height: int = 48) -> np.ndarray:
    """Float32 RGB, levels 0-1: slow colour gradients, as film has (chroma without sharp
    edges, where 4:2:0 sources lose nothing either path could disagree about)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = index * 0.2
    r = 0.5 + 0.35 * np.sin(x / width * 3.0 + phase) * np.cos(y / height * 2.0)
    g = 0.45 + 0.3 * np.cos(x / width * 2.0 - y / height * 2.5 + phase)
    b = 0.4 + 0.3 * np.sin((x + y) / (width + height) * 4.0 + phase)
    return np.stack([r, g, b], axis=-1).astype(np.float32)


def write_smooth_clip(path: Path, codec: str, frames: int = 6) -> Path:
    with Writer(path, output_format_for(path, codec), 64, 48, Fraction(25)) as writer:
        for i in range(frames):
            writer.write(smooth_frame(i))
    return path


def export(job: RenderJob) -> list[Any]:
    return list(render(job))


def planes(path: Path) -> list[list[np.ndarray]]:
    """Every decoded frame of `path` as its planes' code values (int32), native format."""
    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            dtype = np.uint16 if frame.format.components[0].bits > 8 else np.uint8
            out.append([np.frombuffer(p, dtype).astype(np.int32) for p in frame.planes])
    return out


def frame_hashes(path: Path) -> list[str]:
    with open_reader(path) as reader:
        return [hashlib.sha1(f.tobytes()).hexdigest() for f in reader.frames()]


# -- the decision ----------------------------------------------------------------------------


def route(job: RenderJob, codec: str | None = None) -> Route:
    with open_reader(job.source) as reader:
        end = reader.info.frame_count - 1 if job.end is None else job.end
        fmt = output_format_for(job.output, codec or job.codec, reader.info.bit_depth)
        return choose_route(job, reader, fmt, end, _retime_map(job, end, reader.info.fps))


def test_untouched_ranges_go_direct_and_anything_that_touches_them_does_not(
        clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mov"
    identity = ShotPlan.single(FRAMES, Recipe())
    assert route(RenderJob(clip, out, identity)).direct
    # A disabled step runs nothing.
    off = Recipe((Step.create("color", enabled=False),))
    assert route(RenderJob(clip, out, ShotPlan.single(FRAMES, off))).direct
    # Operators on a shot outside the range do not reach it (windows never cross a cut).
    graded = ShotPlan((PlannedShot(0, 19, Recipe()),
                       PlannedShot(20, FRAMES - 1, Recipe.from_ops(["color"]))))
    assert route(RenderJob(clip, out, graded, start=0, end=19)).direct
    touched = route(RenderJob(clip, out, graded, start=0, end=20))
    assert not touched.direct and "operators" in touched.reason
    repaired = route(RenderJob(clip, out, identity.with_repairs([Repair(5, 6)])))
    assert not repaired.direct and "repairs" in repaired.reason
    # A protection keeps picture as it is: alone, it touches nothing.
    assert route(RenderJob(clip, out, identity.with_repairs([Repair(5, 6, protect=True)]))).direct
    retimed = route(RenderJob(clip, out, identity, fps=Fraction(50)))
    assert not retimed.direct and "rate" in retimed.reason
    # The same rate as the source's is no change of rate.
    assert route(RenderJob(clip, out, identity, fps=Fraction(25))).direct
    sequence = route(RenderJob(clip, tmp_path / "frames", identity))
    assert not sequence.direct and "image-sequence output" in sequence.reason


def test_sequence_sources_and_padded_sizes_take_the_float_path(
        index_clip: Callable[..., Path], index_sequence: Callable[..., Path],
        tmp_path: Path) -> None:
    folder = index_sequence("png8", frames=4)
    seq = route(RenderJob(folder, tmp_path / "out.mkv", ShotPlan.single(4, Recipe())))
    assert not seq.direct and "image-sequence source" in seq.reason
    odd = index_clip("odd.mkv", codec="ffv1", width=65, height=47, frames=4)
    plan = ShotPlan.single(4, Recipe())
    padded = route(RenderJob(odd, tmp_path / "out.mov", plan))  # ProRes needs an even width
    assert not padded.direct and "padded" in padded.reason
    assert route(RenderJob(odd, tmp_path / "out.mkv", plan)).direct  # FFV1 takes it as is


# -- the exports --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["out.mov", "out.mkv", "out.mp4"])
def test_a_direct_export_is_frame_accurate(clip: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    steps = export(RenderJob(clip, out, ShotPlan.single(FRAMES, Recipe()), start=5, end=37))
    assert {s.route for s in steps} == {"direct"}
    assert steps[-1].finished and steps[-1].done == 33
    with open_reader(out) as reader:
        assert reader.info.frame_count == 33
        assert [read_index(f) for f in reader.frames()] == list(range(5, 38))


def test_a_direct_export_keeps_timecode_tags_rate_and_audio_as_the_float_path(
        clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = ShotPlan.single(FRAMES, Recipe())
    direct, reference = tmp_path / "direct.mov", tmp_path / "float.mov"
    export(RenderJob(clip, direct, plan, start=10, end=39))
    monkeypatch.setattr(export_module, "choose_route", lambda *args: Route("float", "test"))
    assert {s.route for s in export(RenderJob(clip, reference, plan, start=10, end=39))} \
        == {"float"}
    a, b = probe(direct), probe(reference)
    kept = ("frame_count", "fps", "timecode", "pix_fmt", "color_range", "color_space",
            "color_primaries", "color_trc", "audio", "width", "height")
    assert {k: getattr(a, k) for k in kept} == {k: getattr(b, k) for k in kept}
    assert a.timecode == "01:00:00:10"  # frame 10 of a clip starting at 01:00:00:00
    samples_a, rate = decode_audio(direct)
    samples_b, _ = decode_audio(reference)
    assert np.array_equal(samples_a, samples_b)
    assert [round(s * 25 / rate) for s in find_clicks(samples_a, rate)] == [2, 20]




def within_rounding(a: av.VideoFrame, b: av.VideoFrame) -> None:
    """Two frames of one pixel format hold the same picture within rounding: no sample
    more than 3 codes at 8-bit precision apart, 1.5 on average (scaled to the format's
    depth). The float path holds an 8-bit YUV source as 8-bit RGB, which rounds every
    channel (swscale's 8-bit YUV → RGB rounds down: about 1 code darker on average), and
    repeats chroma sideways where the direct path interpolates it: that, not the direct
    path, makes the difference (see test_direct_frames_keep_the_source_luma)."""
    assert a.format.name == b.format.name
    bits = a.format.components[0].bits
    dtype = np.uint16 if bits > 8 else np.uint8
    code = 1 << max(0, bits - 8)  # one 8-bit code in this format's codes
    assert len(a.planes) == len(b.planes)
    for index in range(len(a.planes)):
        diff = np.abs(visible_samples(a, index, dtype).astype(np.int32)
                      - visible_samples(b, index, dtype))
        assert diff.max() <= 3 * code and diff.mean() <= 1.5 * code


def visible_samples(frame: av.VideoFrame, index: int, dtype: type) -> np.ndarray:
    """The samples of plane `index` of `frame` without the padding at the end of each row,
    whose length depends on how the frame was made (PyAV 18.1.1 pads a reformatted
    frame's chroma rows to 64 bytes, a new frame's not)."""
    plane = frame.planes[index]
    components = [c for c in frame.format.components if c.plane == index]
    if len(components) > 1:  # packed: every pixel's samples side by side, with any filler
        pixel_bytes = frame.format.padded_bits_per_pixel // 8
    else:
        pixel_bytes = -(-components[0].bits // 8)
    rows = np.frombuffer(plane, np.uint8, count=plane.height * plane.line_size)
    visible = rows.reshape(plane.height, plane.line_size)[:, :plane.width * pixel_bytes]
    return np.ascontiguousarray(visible).view(dtype)


@pytest.mark.parametrize(("source_codec", "name"), [
    ("h264", "out.mov"), ("h264", "out.mkv"), ("prores_hq", "out.mov"), ("prores_hq", "out.mkv"),
])
def test_direct_pictures_match_the_float_path_within_rounding(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source_codec: str, name: str) -> None:
    """What the encoder is given by both paths, frame by frame, for smooth pictures."""
    source = write_smooth_clip(tmp_path / ("src.mp4" if source_codec == "h264" else "src.mov"),
                               source_codec)
    plan = ShotPlan.single(6, Recipe())
    inputs: list[av.VideoFrame] = []  # what the encoder was given: direct, then float
    original = Writer.write

    def keep(writer: Writer, frame: Any) -> None:
        inputs.append(frame)
        original(writer, frame)

    monkeypatch.setattr(Writer, "write", keep)
    export(RenderJob(source, tmp_path / f"direct_{name}", plan))
    monkeypatch.setattr(export_module, "choose_route", lambda *args: Route("float", "test"))
    export(RenderJob(source, tmp_path / f"float_{name}", plan))
    assert len(inputs) == 12
    for a, b in zip(inputs[:6], inputs[6:], strict=True):
        within_rounding(a, b)


def test_direct_frames_keep_the_source_luma(clip: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """8-bit 4:2:0 → ProRes 10-bit 4:2:2: the direct path gives the encoder exactly the
    source's luma (4 x the 8-bit code), the float path's RGB round trip does not."""
    inputs: list[av.VideoFrame] = []
    original = Writer.write

    def keep(writer: Writer, frame: Any) -> None:
        inputs.append(frame)
        original(writer, frame)

    monkeypatch.setattr(Writer, "write", keep)
    plan = ShotPlan.single(FRAMES, Recipe())
    export(RenderJob(clip, tmp_path / "direct.mov", plan, end=5))
    monkeypatch.setattr(export_module, "choose_route", lambda *args: Route("float", "test"))
    export(RenderJob(clip, tmp_path / "float.mov", plan, end=5))

    def luma(frame: av.VideoFrame) -> np.ndarray:
        plane = frame.planes[0]
        dtype = np.uint16 if frame.format.components[0].bits > 8 else np.uint8
        rows = np.frombuffer(plane, dtype).reshape(plane.height, -1)
        return rows[:, :plane.width].astype(np.int32)

    with open_reader(clip) as source:
        for i in range(6):
            truth = 4 * luma(source.decoded(i))
            direct, via_float = inputs[i], inputs[6 + i]
            assert np.array_equal(luma(direct), truth)
            assert np.abs(luma(via_float) - truth).mean() > 1


def test_a_resumable_direct_export_equals_the_plain_one(index_clip: Callable[..., Path],
                                                        tmp_path: Path) -> None:
    source = index_clip("resume.mp4", codec="h264", frames=30, gop=12, bframes=2)
    job = RenderJob(source, tmp_path / "plain.mkv", ShotPlan.single(30, Recipe()), end=24)
    export(job)
    segmented = tmp_path / "segmented.mkv"
    steps = list(render_resumable(RenderJob(job.source, segmented, job.plan, end=24),
                                  segment_frames=7))
    assert {s.route for s in steps} == {"direct"}
    assert frame_hashes(segmented) == frame_hashes(job.output)
    with open_reader(segmented) as reader:
        assert [read_index(f) for f in reader.frames()] == list(range(25))


# -- the conversion ------------------------------------------------------------------------


def test_decoded_is_the_frame_read_converts(clip: Path) -> None:
    with open_reader(clip) as reader:
        assert isinstance(reader, VideoReader)
        for i in (7, 3, 30):
            assert np.array_equal(frame_to_rgb(reader.decoded(i)), reader.read(i))
        reader.close()
        with pytest.raises(MediaError, match="closed"):
            reader.decoded(0)


def test_prepared_frames_carry_nothing_of_the_decoder(clip: Path, tmp_path: Path,
                                                      index_clip: Callable[..., Path]) -> None:
    """No picture type (libx264 would obey it), duration, timestamps or side data; and a
    frame already in the encoder's format is copied, not shared with the Reader."""
    out = tmp_path / "out.mp4"
    with open_reader(clip) as reader, Writer(out, output_format_for(out), 64, 48, 25) as w:
        decoded = reader.decoded(5)  # a P or B frame of the GOP
        assert decoded.pict_type != 0
        prepared = w.prepare_decoded(decoded)
        assert prepared is not decoded and prepared.format.name == "yuv420p"
        assert (prepared.pict_type, prepared.pts, prepared.duration) == (0, None, 0)
        assert len(prepared.side_data) == 0
        assert np.array_equal(prepared.to_ndarray(), decoded.to_ndarray())
    ffv1 = index_clip("same.mkv", codec="ffv1_16", frames=2)
    out = tmp_path / "same.mkv"
    fmt = output_format_for(out, source_bit_depth=16)
    with open_reader(ffv1) as reader, Writer(out, fmt, 64, 48, 25) as w:
        decoded = reader.decoded(1)
        prepared = w.prepare_decoded(decoded)
        assert prepared is not decoded and prepared.format.name == decoded.format.name
        assert np.array_equal(prepared.to_ndarray(), decoded.to_ndarray())
        small = tmp_path / "small.mkv"
        with pytest.raises(MediaError, match="does not match"), \
                Writer(small, output_format_for(small), 32, 48, 25) as other:
            other.prepare_decoded(decoded)


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv420p10le", "yuv422p10le", "yuv444p10le",
                                     "yuvj422p", "bgr0", "gbrp10le", "rgb48le"])
@pytest.mark.parametrize(("name", "codec"), [("out.mov", "prores_hq"), ("out.mov", "prores_4444"),
                                             ("out.mkv", "ffv1"), ("out.mp4", "h264")])
def test_direct_conversion_matches_the_float_conversion(tmp_path: Path, pix_fmt: str,
                                                        name: str, codec: str) -> None:
    """Every source layout to every encoder format, smooth picture, within rounding.
    yuvj422p is full range BT.601 (a matrix and range change), the others BT.709."""
    rgb16 = np.rint(smooth_frame(3) * 65535).astype(np.uint16)
    frame = av.VideoFrame.from_ndarray(rgb16, format="rgb48le")
    if pix_fmt.startswith("yuv"):
        jpeg = pix_fmt.startswith("yuvj")
        frame = frame.reformat(format=pix_fmt, dst_colorspace="ITU601" if jpeg else "ITU709",
                               dst_color_range="JPEG" if jpeg else "MPEG")
        frame.colorspace, frame.color_range = (5, 2) if jpeg else (1, 1)
    else:
        frame = frame.reformat(format=pix_fmt)
    source_bits = frame.format.components[0].bits
    fmt = output_format_for(tmp_path / name, codec, source_bits)
    with Writer(tmp_path / name, fmt, 64, 48, 25) as writer:
        direct = writer.prepare_decoded(frame)
        reference = writer.prepare(frame_to_rgb(frame))
    assert direct.format.name == fmt.pix_fmt
    within_rounding(direct, reference)


def test_a_frame_the_direct_conversion_cannot_read_goes_through_float(tmp_path: Path) -> None:
    """A stream that switched to grey midway: that frame is converted as the float path
    converts it, not refused."""
    grey = av.VideoFrame.from_ndarray(
        np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1)), format="gray")
    out = tmp_path / "out.mov"
    with Writer(out, output_format_for(out), 64, 48, 25) as writer:
        direct = writer.prepare_decoded(grey)
        reference = writer.prepare(frame_to_rgb(grey))
    for a, b in zip(direct.planes, reference.planes, strict=True):
        assert bytes(a) == bytes(b)


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
def test_a_file_that_cannot_be_finished_is_an_error(tmp_path: Path) -> None:
    """A MOV's index is written when it is closed: a full disk there (here a file-size
    limit just below the finished size) must fail the Writer, not leave a broken file."""
    def write(path: Path) -> None:
        with Writer(path, output_format_for(path), 64, 48, 25) as writer:
            for i in range(4):
                writer.write(smooth_frame(i))

    complete = tmp_path / "complete.mov"
    write(complete)
    size = complete.stat().st_size
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    out = tmp_path / "broken.mov"
    resource.setrlimit(resource.RLIMIT_FSIZE, (size - 16, hard))
    try:
        with pytest.raises(MediaError, match="cannot be written"):
            write(out)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert not out.exists()
