"""Inputs the fuzzer (benchmarks/fuzz.py) found that escaped the clean error path, rebuilt
deterministically: each must now open or be refused with a MediaError."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import MediaError
from engine.media import open_reader, probe
from engine.synth.index_clip import read_index, write_index_clip, write_index_sequence


def test_dpx_with_invalid_utf8_in_its_creator_field_opens(tmp_path: Path) -> None:
    # Was: UnicodeDecodeError from the frame's metadata (header text is not ours to trust).
    file = write_index_sequence(tmp_path / "scan", "dpx10", 32, 24, frames=1)[0]
    data = bytearray(file.read_bytes())
    data[160:164] = b"\xae\x84\xc1\xff"  # the DPX "creator" text field
    file.write_bytes(bytes(data))
    with open_reader(tmp_path / "scan") as reader:
        assert read_index(reader.read(0)) == 0


@pytest.mark.parametrize("name", ["clip.mp4", "clip.mov"])
def test_video_whose_codec_tag_is_damaged_is_refused(tmp_path: Path, name: str) -> None:
    # Was: AttributeError on a stream without a decoder (codec_context None).
    path = write_index_clip(tmp_path / name, "h264", width=48, height=32, frames=4)
    data = path.read_bytes()
    assert data.count(b"avc1") >= 1
    path.write_bytes(data.replace(b"avc1", b"zq9x"))
    with pytest.raises(MediaError) as err:
        probe(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert "no decoder" in err.value.problem
