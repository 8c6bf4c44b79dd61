"""MXF masters (OP1a): DNxHR or ProRes with 48 kHz PCM sound and the source's timecode,
frame-accurate, in every export mode; the rates and the sound MXF cannot hold are said
before anything is written."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine.errors import MediaError
from engine.media import open_reader, output_format_for, probe
from engine.media.audio import AudioFeed, AudioSource
from engine.pipeline import ShotPlan
from engine.project.recipe import Recipe, Step
from engine.render import RenderJob, render
from engine.render.resume import render_resumable
from engine.synth.index_clip import decode_audio, find_clicks, read_index

FPS = Fraction(25)


@pytest.fixture(scope="module")
def clip(index_clip) -> Path:
    """40 frames of 320x240 at 25 fps, 44.1 kHz sound with clicks on frames 12 and 30,
    timecode 10:00:00:00."""
    return index_clip("mxf_source.mov", codec="prores", width=320, height=240, frames=40,
                      audio=True, click_frames=(12, 30), sample_rate=44100,
                      timecode="10:00:00:00")


def _check_master(out: Path, first: int, count: int, clicks: list[int]) -> None:
    info = probe(out)
    assert (info.frame_count, info.fps, info.codec) == (count, FPS, "dnxhd")
    assert info.timecode == f"10:00:00:{first:02d}"
    assert info.comment.startswith("Exported by Nitrate")  # provenance, as a user comment
    with open_reader(out) as reader:
        assert [read_index(f) for f in reader.frames(0, count)] == list(
            range(first, first + count))
    samples, rate = decode_audio(out)
    assert rate == 48000  # resampled from 44.1 kHz: MXF holds 48 kHz only
    assert samples.shape[1] == round(count / FPS * rate)  # exactly the picture's length
    assert [round(s * FPS / rate) for s in find_clicks(samples, rate)] == clicks


@pytest.mark.parametrize("resumable", [False, True])
def test_a_dnxhr_master_in_mxf_is_frame_accurate_with_its_sound_in_sync(
        clip: Path, tmp_path: Path, resumable: bool) -> None:
    out = tmp_path / "master.mxf"
    recipe = Recipe.of([Step.create("color", {"exposure": 0.1})])  # the float path
    job = RenderJob(clip, out, ShotPlan.single(40, recipe), start=5, end=34)
    list(render_resumable(job) if resumable else render(job))
    _check_master(out, 5, 30, [12 - 5, 30 - 5])


def test_untouched_frames_go_straight_into_mxf_and_prores_fits_too(clip: Path,
                                                                    tmp_path: Path) -> None:
    out = tmp_path / "direct.mxf"
    steps = list(render(RenderJob(clip, out, ShotPlan.single(40, Recipe()))))
    assert steps[-1].route == "direct"
    _check_master(out, 0, 40, [12, 30])
    prores = tmp_path / "prores.mxf"
    list(render(RenderJob(clip, prores, ShotPlan.single(40, Recipe()), end=9,
                          codec="prores_hq", audio=False)))
    assert probe(prores).codec == "prores" and probe(prores).frame_count == 10


def test_a_rate_mxf_cannot_hold_is_refused_with_nothing_left(clip: Path,
                                                             tmp_path: Path) -> None:
    out = tmp_path / "silent.mxf"
    with pytest.raises(MediaError, match=r"silent.mxf: an MXF file is 23.976, 24, 25.* not "
                                         r"16: .*--fps 24"):
        list(render(RenderJob(clip, out, ShotPlan.single(40, Recipe()), fps=Fraction(16),
                              retime="nearest")))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(MediaError, match="cannot be stored in a .mxf file"):
        output_format_for(out, "ffv1")
    assert output_format_for(out).name == "dnxhr_hqx"


def test_resampled_sound_keeps_its_length_pitch_and_place(clip: Path) -> None:
    source = AudioSource(clip, 0.0, 20 / 25)  # frames 0-19: the click of frame 12
    feed = AudioFeed(source, sample_rate=48000)
    try:
        samples = feed.take(feed.total_samples)
    finally:
        feed.close()
    assert feed.total_samples == samples.shape[1] == 38400
    (click,) = find_clicks(samples, 48000)
    assert abs(click - 12 / 25 * 48000) < 48  # on its frame, under a millisecond late
    # The tone between the clicks keeps its pitch: as many zero crossings a second.
    plain = AudioFeed(source)
    try:
        original = plain.take(plain.total_samples)
    finally:
        plain.close()

    def crossings_per_second(x: np.ndarray, rate: int) -> float:
        quiet = x[0, int(0.2 * rate):int(0.7 * rate)]
        return np.count_nonzero(np.diff(np.signbit(quiet))) / 0.5

    assert crossings_per_second(samples, 48000) == pytest.approx(
        crossings_per_second(original, 44100), rel=0.01)
    # And no dropout where the resampler's delay meets the next frame: a run of silent
    # samples inside the tone would be heard as a tick.
    silent = np.abs(samples[0, 100:-100]) < 1e-6
    runs = np.diff(np.flatnonzero(np.diff(np.concatenate(([0], silent, [0])))))[::2]
    assert runs.max(initial=0) <= 2
