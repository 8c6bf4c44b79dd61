"""Bad inputs give one clear line naming the file, never a traceback or a hang."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from engine.errors import MediaError
from engine.media import open_reader, probe
from engine.synth.index_clip import write_index_sequence


def _problem(path: Path) -> str:
    with pytest.raises(MediaError) as err:
        probe(path)
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message or path.name in message
    return err.value.problem


def test_missing_file(tmp_path):
    assert _problem(tmp_path / "nothing.mov") == "file not found"


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.touch()
    assert _problem(path) == "file is empty (0 bytes)"


def test_random_bytes_named_mp4(tmp_path):
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(3).integers(0, 256, 50000, np.uint8).tobytes())
    assert _problem(path).startswith("not a video or image sequence")


def test_text_file_named_mkv(tmp_path):
    path = tmp_path / "notes.mkv"
    path.write_text("shot list: reel 1, reel 2\n" * 50)
    assert _problem(path).startswith("not a video or image sequence")


@pytest.mark.parametrize("name", ["cut.mp4", "cut.mkv"])
def test_truncated_file_is_refused_or_read_up_to_the_cut(index_clip, tmp_path, name):
    codec = "h264" if name.endswith("mp4") else "ffv1"
    src = index_clip(f"whole_{name}", codec=codec, frames=40)
    data = src.read_bytes()
    path = tmp_path / name
    path.write_bytes(data[: len(data) // 2])
    try:
        reader = open_reader(path)
    except MediaError as err:
        assert "truncated" in err.problem
        assert "\n" not in str(err)
        return
    with reader:
        # What is there decodes; the rest never hangs and never returns garbage sizes.
        frames = list(reader.frames())
        assert len(frames) == reader.info.frame_count > 0
        assert all(f.shape == (48, 64, 3) for f in frames)


def test_sequence_with_a_gap(tmp_path):
    folder = tmp_path / "gap"
    write_index_sequence(folder, "png8", 40, 24, frames=20, start_number=1, skip=(12, 13, 14))
    assert _problem(folder) == "image sequence has a gap: frames 12-14 missing"
    assert "frames 12-14 missing" in _problem(folder / "frame_%06d.png")


def test_sequence_with_mixed_sizes(tmp_path):
    folder = tmp_path / "mixed"
    write_index_sequence(folder, "png8", 40, 24, frames=6)
    odd = write_index_sequence(tmp_path / "odd", "png8", 48, 24, frames=6)
    (folder / "frame_000004.png").write_bytes(odd[3].read_bytes())
    problem = _problem(folder)
    assert problem.startswith("frames have different sizes: 48x24")


def test_huge_dimensions_are_refused_before_decoding(tmp_path):
    folder = tmp_path / "huge"
    folder.mkdir()
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
    chunk += struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    (folder / "f_0001.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk)
    assert _problem(folder).startswith("dimensions 100000x100000 exceed the limit")


def test_empty_frame_file_inside_a_sequence_names_that_file(tmp_path):
    folder = tmp_path / "hole"
    files = write_index_sequence(folder, "dpx10", 40, 24, frames=5)
    files[2].write_bytes(b"")
    with pytest.raises(MediaError) as err:
        with open_reader(folder) as reader:
            reader.read(2)
    assert err.value.path == str(files[2]) and err.value.problem == "file is empty (0 bytes)"


def test_folder_without_images(tmp_path):
    (tmp_path / "readme.txt").write_text("no frames here")
    assert _problem(tmp_path).startswith("not a video or image sequence")
