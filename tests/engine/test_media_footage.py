"""Real footage from ../shared/footage (skipped when absent)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from engine.media import open_reader, probe

pytestmark = pytest.mark.footage


def test_big_buck_bunny_probes_with_aac_audio(footage):
    info = probe(footage / "bigbuckbunny.mp4")
    assert (info.width, info.height, info.frame_count, info.fps) == (1280, 720, 132,
                                                                     Fraction(25))
    assert info.codec == "h264" and info.bit_depth == 8
    assert [a.codec for a in info.audio] == ["aac"]
    assert info.duration == pytest.approx(132 / 25)


def test_random_reads_match_sequential_decode_on_real_footage(footage):
    with open_reader(footage / "bikes.mp4") as reader:
        assert reader.info.frame_count == 250
        sequential = [f[::8, ::8].copy() for f in reader.frames(0, 120)]
        for i in (119, 3, 64, 63, 0, 100, 47, 48):
            assert np.array_equal(reader.read(i)[::8, ::8], sequential[i]), i


def test_film_scan_folder_is_a_sequence(footage):
    info = probe(footage / "film_the_great_train_robbery")
    assert (info.kind, info.frame_count, info.first_number) == ("sequence", 48, 1)
    assert (info.width, info.height) == (480, 368)
