"""The bad-input battery: every hostile or odd input either works or is refused with one
clear line (exit code 1, naming the file and the problem, no traceback, nothing left under
the output's name). The table in docs/RELIABILITY.md lists the same cases."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import badmedia
import numpy as np
import pytest
from relhelp import Outcome, assert_refused, nitrate_process

from engine.media import open_reader, probe
from engine.project import load_project, new_project, save_project
from engine.project.io import VERSION
from engine.synth.index_clip import index_frame, read_index, write_index_clip

Cli = Callable[..., Outcome]


def _out(tmp_path: Path, name: str = "out.mkv") -> Path:
    folder = tmp_path / "exports"
    folder.mkdir(exist_ok=True)
    return folder / name


# -- files that are not media --------------------------------------------------------------

@pytest.mark.parametrize(("make", "needle"), [
    (lambda p: p.write_bytes(b""), "file is empty (0 bytes)"),
    (badmedia.random_bytes, "not a video or image sequence"),
    (lambda p: p.write_text("shot list: reel 1, reel 2\n" * 40), "not a video or image sequence"),
], ids=["zero-byte", "random-bytes", "text-file"])
@pytest.mark.parametrize("suffix", [".mov", ".mkv"])
def test_non_media_is_refused(cli: Cli, tmp_path: Path, make, needle: str, suffix: str) -> None:
    path = tmp_path / f"reel{suffix}"
    make(path)
    assert_refused(cli("probe", path), str(path), needle)
    out = _out(tmp_path)
    assert_refused(cli("restore", path, "-o", out), str(path), needle, output=out)


def test_audio_only_file_is_refused(cli: Cli, tmp_path: Path) -> None:
    path = badmedia.audio_only(tmp_path / "voice.wav")
    out = _out(tmp_path)
    assert_refused(cli("restore", path, "-o", out), str(path), "no video stream (audio only)",
                   output=out)


# -- damaged media ---------------------------------------------------------------------------

def test_truncated_mp4_without_index_is_refused(cli: Cli, tmp_path: Path) -> None:
    whole = write_index_clip(tmp_path / "whole.mp4", "h264", frames=40)
    path = badmedia.truncated(whole, tmp_path / "cut.mp4")
    out = _out(tmp_path)
    assert_refused(cli("restore", path, "-o", out), str(path), "truncated or damaged",
                   output=out)


def test_truncated_mkv_exports_what_is_readable_and_says_how_much(
        cli: Cli, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    whole = write_index_clip(tmp_path / "whole.mkv", "ffv1", frames=40)
    path = badmedia.truncated(whole, tmp_path / "cut.mkv")
    out = _out(tmp_path)
    with caplog.at_level(logging.WARNING):
        result = cli("restore", path, "-o", out)
    assert result.code == 0, result.err
    readable = probe(path).frame_count
    assert 0 < readable < 40
    assert any("truncated?" in r.getMessage() and f"only {readable} frames" in r.getMessage()
               for r in caplog.records)
    with open_reader(out) as reader:
        assert [read_index(f) for f in reader.frames()] == list(range(readable))


def test_corrupted_packets_are_concealed_never_hang(tmp_path: Path) -> None:
    path = badmedia.corrupted_packets(tmp_path / "damaged.mkv", frames=60)
    out = _out(tmp_path)
    # A real process with a timeout: a decoder loop on broken data would show as a hang.
    result = nitrate_process("restore", path, "-o", out, timeout=90)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "damaged" in result.stderr or "missing" in result.stderr  # the warning
    with open_reader(out) as reader:
        indices = [read_index(f) for f in reader.frames()]
    # Every frame is there; undecodable ones repeat an earlier good frame (concealment).
    assert len(indices) == 60
    assert indices[:25] == list(range(25)) and indices[-12:] == list(range(48, 60))
    assert all(b >= a for a, b in zip(indices, indices[1:], strict=False))


@pytest.mark.parametrize(("make", "needle"), [
    (lambda d: badmedia.huge_y4m(d / "wide.y4m"), "dimensions 20000x100 exceed the limit"),
    (lambda d: badmedia.huge_png((d / "scan").mkdir() or d / "scan" / "f_0001.png").parent,
     "dimensions 100000x100000 exceed the limit"),
    (lambda d: badmedia.huge_dpx((d / "dpx").mkdir() or d / "dpx" / "f_0001.dpx").parent,
     "dimensions 60000x60000 exceed the limit"),
], ids=["y4m-header", "png-header", "dpx-header"])
def test_absurd_dimensions_are_refused_before_allocating(cli: Cli, tmp_path: Path, make,
                                                         needle: str) -> None:
    path = make(tmp_path)
    out = _out(tmp_path)
    assert_refused(cli("restore", path, "-o", out), needle, output=out)


# -- odd but valid media ---------------------------------------------------------------------

ODD_W, ODD_H = 721, 405


@pytest.fixture(scope="module")
def odd_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("odd")
    return badmedia.write_clip(folder / "odd.mkv", "ffv1", "bgr0", frames=2, width=ODD_W,
                               height=ODD_H)


# codec → output name, stored size (4:2:x codecs are padded to even by repeating the edge).
ODD_OUTPUTS = {
    "prores_hq": ("o.mov", (ODD_W + 1, ODD_H)),
    "prores_4444": ("o.mov", (ODD_W + 1, ODD_H)),  # FFmpeg's prores encoder: even width
    "dnxhr_hqx": ("o.mov", (ODD_W + 1, ODD_H)),
    "ffv1": ("o.mkv", (ODD_W, ODD_H)),
    "h264": ("o.mp4", (ODD_W + 1, ODD_H + 1)),
    "h265": ("o.mp4", (ODD_W + 1, ODD_H + 1)),
    "dpx": ("o_dpx", (ODD_W, ODD_H)),
    "tiff": ("o_tif", (ODD_W, ODD_H)),
    "png": ("o_png", (ODD_W, ODD_H)),
}


@pytest.mark.parametrize("codec", list(ODD_OUTPUTS))
def test_odd_size_exports_to_every_codec(cli: Cli, odd_clip: Path, tmp_path: Path,
                                         codec: str) -> None:
    name, size = ODD_OUTPUTS[codec]
    out = tmp_path / name
    result = cli("restore", odd_clip, "-o", out, "--codec", codec, "--ops", "sharpen")
    assert result.code == 0, result.err
    info = probe(out)
    assert (info.width, info.height) == size and info.frame_count == 2
    with open_reader(odd_clip) as src, open_reader(out) as dst:
        want, got = src.read(1), dst.read(1)
    assert read_index(got[:ODD_H, :ODD_W]) == 1  # the picture is where it was
    if size != (ODD_W, ODD_H):
        # The padding repeats the last column (and row): no black line on the edge.
        assert np.abs(got[:ODD_H, ODD_W] - got[:ODD_H, ODD_W - 1]).mean() < 0.03
    tolerance = 0.02 if codec in ("ffv1", "dpx", "tiff", "png") else 0.06
    assert np.abs(got[:ODD_H, :ODD_W] - want).mean() < tolerance


def test_variable_frame_rate_is_reported_and_exported_at_the_average(
        cli: Cli, tmp_path: Path) -> None:
    path = badmedia.variable_rate(tmp_path / "vfr.mkv", frames=20)
    data = json.loads(cli("probe", path, "--json").out)
    assert data["variable_frame_rate"] is True and data["frame_count"] == 20
    assert 12 < data["fps"] < 25  # frames of 40 and 80 ms: about 16.4 fps on average
    out = _out(tmp_path)
    assert cli("restore", path, "-o", out).code == 0
    with open_reader(out) as reader:
        assert [read_index(f) for f in reader.frames()] == list(range(20))
        assert not reader.info.variable_frame_rate


def test_interlaced_field_order_is_reported_and_frames_stay_whole(cli: Cli,
                                                                  tmp_path: Path) -> None:
    path = badmedia.interlaced(tmp_path / "tff.mkv")
    data = json.loads(cli("probe", path, "--json").out)
    assert data["field_order"] == "tt"
    out = _out(tmp_path)
    assert cli("restore", path, "-o", out).code == 0
    info = probe(out)
    assert (info.height, info.frame_count, info.field_order) == (48, 4, "progressive")


def test_rotation_is_reported_not_applied(cli: Cli, tmp_path: Path) -> None:
    path = badmedia.rotated(tmp_path / "phone.mov")
    data = json.loads(cli("probe", path, "--json").out)
    assert data["rotation"] in (90, 270)
    out = _out(tmp_path)
    assert cli("restore", path, "-o", out).code == 0
    info = probe(out)
    assert (info.width, info.height, info.rotation) == (64, 48, 0)  # the stored raster


def test_one_frame_clip_with_temporal_operators(cli: Cli, tmp_path: Path) -> None:
    path = write_index_clip(tmp_path / "one.mov", "prores", frames=1)
    out = _out(tmp_path)
    result = cli("restore", path, "-o", out, "--ops", "deflicker,dust,degrain,stabilize")
    assert result.code == 0, result.err
    with open_reader(out) as reader:
        assert reader.info.frame_count == 1 and read_index(reader.read(0)) == 0


@pytest.mark.parametrize(("problem", "needle"), [
    ("gap", "image sequence has a gap: frame 4 missing"),
    ("sizes", "frames have different sizes"),
])
def test_broken_image_sequences_are_refused(cli: Cli, tmp_path: Path, problem: str,
                                            needle: str) -> None:
    from engine.synth.index_clip import write_index_sequence

    folder = tmp_path / "scan"
    skip = (4,) if problem == "gap" else ()
    write_index_sequence(folder, "png8", 40, 24, frames=8, skip=skip)
    if problem == "sizes":
        odd = write_index_sequence(tmp_path / "other", "png8", 48, 24, frames=8)
        (folder / "frame_000005.png").write_bytes(odd[4].read_bytes())
    out = _out(tmp_path)
    assert_refused(cli("restore", folder, "-o", out), needle, output=out)


def test_palette_gray16_and_bayer_sources_decode_to_rgb(cli: Cli, tmp_path: Path) -> None:
    pal = badmedia.pal8_sequence(tmp_path / "pal")
    gray = badmedia.gray16(tmp_path / "gray16.mkv")
    raw = badmedia.bayer(tmp_path / "bayer.nut")
    found = {}
    for path in (pal, gray, raw):
        data = json.loads(cli("probe", path, "--json").out)
        found[data["pix_fmt"]] = data["bit_depth"]
        out = _out(tmp_path, f"{Path(path).stem}.mkv")
        assert cli("restore", path, "-o", out).code == 0
        with open_reader(out) as reader:
            assert reader.read(0).shape == (48, 64, 3)
    assert found == {"pal8": 8, "gray16le": 16, "bayer_rggb8": 8}
    with open_reader(pal) as reader:
        row = reader.read(0)[0]
    # The palette's colours, not its indices: red 77/255, green falls, blue rises.
    assert abs(row[0, 0] - 77 / 255) < 1e-6 and row[0, 1] == 1.0 and row[-1, 2] > 0.98
    with open_reader(gray) as reader:
        frame = reader.read(2)
    assert np.array_equal(frame[..., 0], frame[..., 1])  # grey stays grey
    assert read_index(frame) == 2
    with open_reader(raw) as reader:
        mosaic = reader.read(1)
    # Demosaiced: the green plane holds the index frame's green closely.
    want = index_frame(1, 64, 48)[..., 1]
    assert np.abs(mosaic[4:-4, 4:-4, 1] - want[4:-4, 4:-4]).mean() < 0.05


# -- projects ---------------------------------------------------------------------------------

@pytest.fixture
def project_file(tmp_path: Path) -> Path:
    (tmp_path / "media").mkdir()
    clip = write_index_clip(tmp_path / "media" / "reel.mov", "prores", frames=3)
    return save_project(new_project(clip), tmp_path / "work.nitrate")


@pytest.mark.parametrize(("text", "needle"), [
    ('{"format": "nitrate-project", "version": 2, "clips": [', "malformed project"),
    ('{"format": "nitrate-project", "version": 99, "clips": []}', "newer Nitrate"),
    ("[1, 2, 3]", "not a Nitrate project"),
    ('{"format": "nitrate-project", "version": 2, "clips": [{"path": 5}]}', "project"),
], ids=["malformed", "newer", "not-ours", "wrong-types"])
def test_bad_project_files_are_refused(cli: Cli, tmp_path: Path, text: str,
                                       needle: str) -> None:
    path = tmp_path / "bad.nitrate"
    path.write_text(text)
    out = _out(tmp_path)
    assert_refused(cli("render", path, "-o", out), str(path), needle, output=out)


def test_project_with_moved_media_names_it(cli: Cli, project_file: Path, tmp_path: Path) -> None:
    media = tmp_path / "media" / "reel.mov"
    media.rename(tmp_path / "media" / "moved.mov")
    out = _out(tmp_path)
    assert_refused(cli("render", project_file, "-o", out), str(media), "media not found",
                   output=out)
    assert load_project(project_file).clips[0].path  # the project itself is untouched
    assert VERSION >= 2


def test_bayer_probe_depth_is_the_sample_depth(tmp_path: Path) -> None:
    # FFmpeg describes Bayer samples as 2/4/2-bit components; the sample itself is 8-bit.
    assert probe(badmedia.bayer(tmp_path / "b.nut")).bit_depth == 8
