"""Timecode strings: parse, format, offsets, drop-frame."""

from __future__ import annotations

from fractions import Fraction

import pytest

from engine.media import timecode

NTSC = Fraction(30000, 1001)


def test_non_drop_round_trip_and_offset():
    assert timecode.parse("01:00:00:00", Fraction(25)) == (90000, False)
    assert timecode.format_frames(90000 + 24, Fraction(25)) == "01:00:00:24"
    assert timecode.add_frames("00:59:59:23", 1, Fraction(24)) == "01:00:00:00"
    assert timecode.add_frames("23:59:59:24", 1, Fraction(25)) == "00:00:00:00"


def test_drop_frame_skips_two_numbers_per_minute_except_tenth():
    assert timecode.add_frames("00:00:59;29", 1, NTSC) == "00:01:00;02"
    assert timecode.add_frames("00:09:59;29", 1, NTSC) == "00:10:00;00"
    assert timecode.parse("01:00:00;00", NTSC) == (107892, True)  # one real hour
    for n in (0, 1799, 1800, 17981, 17982, 107891):
        text = timecode.format_frames(n, NTSC, drop_frame=True)
        assert timecode.parse(text, NTSC) == (n, True)


@pytest.mark.parametrize("bad", ["1:2:3", "00:61:00:00", "00:00:00:25", "ab:cd:ef:gh"])
def test_malformed_timecode_raises(bad):
    with pytest.raises(ValueError):
        timecode.parse(bad, Fraction(25))
