"""Video scopes: what a restorer reads off them must be where the levels are."""

from __future__ import annotations

import numpy as np
import pytest

from engine import scopes


def _frame(h: int = 60, w: int = 80, value: float | tuple[float, float, float] = 0.5
           ) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, np.float32), (h, w, 3)).copy()


def _peak_level(trace: np.ndarray, column: int) -> float:
    """The level (0-1) at the brightest row of a (rows, columns) trace's column."""
    rows = trace.shape[0]
    return 1.0 - float(np.argmax(trace[:, column])) / (rows - 1)


def test_waveform_puts_each_strip_at_its_level() -> None:
    frame = _frame()
    frame[:, :40] = 0.0   # left half black
    frame[:, 40:] = 1.0   # right half white
    trace = scopes.waveform(frame, columns=8, rows=101)
    assert trace.shape == (101, 8)
    assert np.allclose(trace.sum(axis=0), 1.0)
    for column in range(4):
        assert trace[-1, column] == pytest.approx(1.0)   # black: the bottom row
    for column in range(4, 8):
        assert trace[0, column] == pytest.approx(1.0)    # white: the top row


def test_waveform_of_a_ramp_rises_across_the_scope() -> None:
    ramp = np.tile(np.linspace(0.0, 1.0, 200, dtype=np.float32), (50, 1))
    frame = np.repeat(ramp[..., None], 3, axis=2)
    trace = scopes.waveform(frame, columns=10, rows=101)
    peaks = [_peak_level(trace, c) for c in range(10)]
    assert peaks == sorted(peaks)
    assert peaks[0] < 0.1 and peaks[-1] > 0.9


def test_video_levels_leave_no_empty_rows_in_the_trace() -> None:
    # 8-bit video decoded from limited range to full uses 220 codes of 256: counted at the
    # nearest row, the unused codes would show as empty stripes across the trace.
    codes = np.unique(np.round(np.arange(220) * 255 / 219)) / 255
    ramp = np.repeat(codes, 20).astype(np.float32)
    frame = np.repeat(np.tile(ramp, (10, 1))[..., None], 3, axis=2)
    profile = scopes.waveform(frame, columns=1)[:, 0]
    assert profile[2:-2].min() > 0.25 * profile[2:-2].mean()


def test_parade_separates_the_channels() -> None:
    trace = scopes.parade(_frame(value=(1.0, 0.5, 0.0)), columns=4, rows=11)
    assert trace.shape == (3, 11, 4)
    assert _peak_level(trace[0], 0) == pytest.approx(1.0)
    assert _peak_level(trace[1], 0) == pytest.approx(0.5)
    assert _peak_level(trace[2], 0) == pytest.approx(0.0)


def test_histogram_counts_the_share_of_pixels_at_each_level() -> None:
    frame = _frame(value=0.25)
    frame[30:] = 0.75
    hist = scopes.histogram(frame, bins=256)
    assert hist.shape == (4, 256)
    for channel in range(4):  # R, G, B and luma of a grey frame agree
        assert hist[channel, 64] == pytest.approx(0.5, abs=1e-6)
        assert hist[channel, 191] == pytest.approx(0.5, abs=1e-6)
        assert hist[channel].sum() == pytest.approx(1.0)


def test_levels_beyond_full_scale_are_counted_at_the_ends() -> None:
    frame = _frame(value=0.5)
    frame[:10] = 1.4
    frame[10:20] = -0.2
    hist = scopes.histogram(frame, bins=16)
    assert hist[0, -1] == pytest.approx(10 / 60)
    assert hist[0, 0] == pytest.approx(10 / 60)


def test_vectorscope_places_grey_at_the_centre_and_colours_at_their_targets() -> None:
    size = 101
    grey = scopes.vectorscope(_frame(value=0.4), size)
    assert grey[50, 50] == pytest.approx(1.0)
    red = scopes.vectorscope(_frame(value=(0.75, 0.0, 0.0)), size)
    x, y = scopes.vectorscope_point((0.75, 0.0, 0.0), size)
    assert red[round(y), round(x)] == pytest.approx(1.0)
    # Red lies up and to the left (Cr up, Cb negative); blue to the right.
    assert y < 50 and x < 50
    bx, _ = scopes.vectorscope_point((0.0, 0.0, 0.75), size)
    assert bx > 50


def test_a_cast_moves_the_vectorscope_trace_off_centre() -> None:
    warm = scopes.vectorscope(_frame(value=(0.55, 0.5, 0.4)), 101)
    y, x = np.unravel_index(np.argmax(warm), warm.shape)
    assert (x, y) != (50, 50)
    assert x < 50  # less blue than grey: Cb below zero


def test_levels_report_clipping_black_and_white_points_and_cast() -> None:
    frame = _frame(h=100, w=100, value=(0.5, 0.4, 0.3))
    frame[:5] = 0.0                    # 5 % crushed black
    frame[5:7, :, 0] = 1.0             # 2 % with red alone clipped
    levels = scopes.levels(frame)
    assert levels.black_clipped == pytest.approx(0.05)
    assert levels.white_clipped == pytest.approx(0.02)
    assert levels.luma_low == pytest.approx(0.0, abs=1e-3)
    assert levels.mean_rgb[0] > levels.mean_rgb[1] > levels.mean_rgb[2]


def test_levels_beyond_full_scale_count_as_written() -> None:
    levels = scopes.levels(_frame(value=(1.6, 0.5, -0.3)))
    assert levels.mean_rgb == pytest.approx((1.0, 0.5, 0.0))
    assert levels.white_clipped == 1.0 and levels.black_clipped == 1.0


def test_an_untouched_picture_reports_no_clipping() -> None:
    levels = scopes.levels(_frame(value=0.3))
    assert (levels.black_clipped, levels.white_clipped) == (0.0, 0.0)
    assert levels.luma_low == pytest.approx(0.3, abs=1e-3)
    assert levels.luma_high == pytest.approx(0.3, abs=1e-3)


def test_large_frames_are_thinned_evenly() -> None:
    frame = np.zeros((2160, 3840, 3), np.float32)
    small = scopes.thinned(frame)
    assert small.shape[0] * small.shape[1] <= scopes.MAX_SAMPLES
    assert small.shape[1] / small.shape[0] == pytest.approx(3840 / 2160, rel=0.02)
    assert scopes.thinned(_frame()).shape == (60, 80, 3)


@pytest.mark.parametrize("call", [
    lambda: scopes.waveform(np.zeros((10, 10), np.float32)),
    lambda: scopes.parade(np.zeros((0, 10, 3), np.float32)),
    lambda: scopes.histogram(np.zeros((4, 4, 3), np.float32), bins=1),
    lambda: scopes.vectorscope(np.zeros((4, 4, 3), np.float32), size=2),
    lambda: scopes.waveform(np.zeros((4, 4, 3), np.float32), columns=0),
])
def test_invalid_input_is_refused_naming_the_scopes(call) -> None:
    with pytest.raises(ValueError, match="scopes"):
        call()


def test_nan_and_infinite_levels_are_counted_as_the_writer_writes_them() -> None:
    frame = _frame(value=0.5)
    frame[:6] = np.nan        # 10 %: written as black
    frame[6:12] = np.inf      # 10 %: beyond full scale
    assert scopes.levels(frame).black_clipped == pytest.approx(0.1)
    assert scopes.levels(frame).white_clipped == pytest.approx(0.1)
    for trace in (scopes.waveform(frame), scopes.parade(frame), scopes.histogram(frame),
                  scopes.vectorscope(frame)):
        assert np.isfinite(trace).all()
    assert scopes.histogram(frame)[3, 0] == pytest.approx(0.1)
