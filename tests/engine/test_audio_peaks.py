"""The audio waveform: each video frame's loudest sample, in step with the picture."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine.errors import MediaError, RenderCancelled
from engine.media.audio_peaks import audio_peaks
from engine.synth.index_clip import CLICK_LEVEL, TONE_LEVEL


@pytest.mark.parametrize("name", ["clicks.mov", "clicks.mp4"])  # PCM, and AAC
def test_the_clicks_land_on_their_frames(index_clip, name: str) -> None:
    clip = index_clip(name, codec="h264", frames=40, audio=True, click_frames=(12, 30))
    peaks = audio_peaks(clip, 40, Fraction(25))
    assert peaks.shape == (40,) and peaks.dtype == np.float32
    loud = sorted(np.argsort(peaks)[-2:].tolist())
    assert loud == [12, 30]  # a splice's click shows on its own frame
    assert peaks[12] > 0.7 * CLICK_LEVEL and peaks[30] > 0.7 * CLICK_LEVEL
    quiet = np.delete(peaks, [11, 12, 13, 29, 30, 31])  # AAC rings a little around a click
    assert np.all(quiet < 2 * TONE_LEVEL) and np.all(quiet > 0.5 * TONE_LEVEL)


def test_no_sound_is_one_line_naming_the_file_and_cancel_stops(index_clip,
                                                               tmp_path: Path) -> None:
    silent = index_clip("silent.mov", codec="h264", frames=10)
    with pytest.raises(MediaError, match="silent.mov.*no audio stream"):
        audio_peaks(silent, 10, Fraction(25))
    clip = index_clip("sound.mov", codec="h264", frames=10, audio=True)
    with pytest.raises(RenderCancelled):
        audio_peaks(clip, 10, Fraction(25), cancel=lambda: True)
