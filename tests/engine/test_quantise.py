"""Writer quantisation: exact code values, clipping at the format's depth, any layout."""

from __future__ import annotations

import numpy as np
import pytest

from engine.media.writer import quantise


@pytest.mark.parametrize("bits", [8, 10, 12, 16])
def test_every_code_value_survives_and_out_of_range_levels_clip(bits: int) -> None:
    top = (1 << bits) - 1
    codes = np.arange(top + 1)
    levels = (codes.astype(np.float32) / np.float32(top)).reshape(1, -1, 1).repeat(3, axis=2)
    out = quantise(levels, bits)
    assert out.dtype == (np.uint8 if bits <= 8 else np.uint16)
    assert np.array_equal(out[0, :, 1], codes)
    wild = np.array([[[-0.5, 1.5, 0.4 / top], [0.6 / top, np.nan, 1.0]]], np.float32)
    assert quantise(wild, bits).tolist() == [[[0, top, 0], [1, 0, top]]]


def test_views_and_single_channel_frames_quantise_like_the_whole() -> None:
    rng = np.random.default_rng(3)
    frame = rng.random((20, 30, 3), dtype=np.float32)
    whole = quantise(frame, 10)
    assert np.array_equal(quantise(frame[:, ::2], 10), whole[:, ::2])
    assert np.array_equal(quantise(frame[..., 2], 10), whole[..., 2])
    assert np.array_equal(quantise(frame[5:9, 3:7], 16), quantise(frame, 16)[5:9, 3:7])


@pytest.mark.parametrize(("dtype", "bits"), [(np.uint8, 8), (np.uint16, 10), (np.uint16, 16)])
def test_decoded_integers_become_floats_band_by_band_exactly(dtype: type, bits: int) -> None:
    """The Reader's int → float conversion works in bands of rows: a frame of several
    bands and a partial one (and a strided view, as decoded planes with padded rows are)
    gives exactly the cast-and-scale of the whole frame, every code k as k / (2**bits − 1)."""
    from engine.media.convert import _to_float

    rng = np.random.default_rng(7)
    padded = rng.integers(0, 1 << bits, (1100, 70, 3)).astype(dtype)
    ints = padded[:, :64]  # rows longer than the picture, like a decoder's line size
    whole = ints.astype(np.float32) * np.float32(1.0 / ((1 << bits) - 1))
    out = _to_float(ints, bits)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    assert np.array_equal(out, whole)
