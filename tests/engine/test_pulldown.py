"""Removing 3:2 pulldown: a telecined transfer's film frames found again, exactly, at
23.976 fps, with the sound's length and the timecode kept; a progressive clip is told
apart from a telecined one."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine.errors import MediaError, RenderCancelled
from engine.media import open_reader, probe
from engine.media.pulldown import analyse_pulldown
from engine.render.pulldown import remove_pulldown
from engine.synth.clip_file import write_frames
from engine.synth.scenes import moving_scene
from engine.synth.telecine import telecine

NTSC = Fraction(30000, 1001)


@pytest.fixture(scope="module")
def film() -> list[np.ndarray]:
    """40 film frames of a scene with a pan and objects moving up to 8 px a frame."""
    return moving_scene(40, 160, 120, seed=3)


@pytest.fixture(scope="module")
def transfer(film: list[np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The film telecined to 50 video frames at 29.97 fps, stored losslessly (FFV1)."""
    folder = tmp_path_factory.mktemp("telecine")
    return write_frames(folder / "transfer.mkv", telecine(film), NTSC, timecode="01:00:00:15")


def test_every_film_frame_comes_back_exactly(film: list[np.ndarray], transfer: Path,
                                             tmp_path: Path) -> None:
    out = tmp_path / "film.mkv"
    steps: list[tuple[int, int]] = []
    plan = remove_pulldown(transfer, out, progress=lambda d, t: steps.append((d, t)))
    assert plan.describe() == ("3:2 pulldown removed: 50 video frames → 40 film frames at "
                               "23.976 fps")
    info = probe(out)
    assert (info.frame_count, info.fps) == (40, Fraction(24000, 1001))
    assert info.timecode == "01:00:00:12"  # half a second in, counted at 24
    assert "3:2 pulldown removed" in info.comment
    assert steps[-1] == (90, 90)  # 50 analysed, 40 written
    with open_reader(out) as reader:
        for k, frame in enumerate(film):
            # Exactly the transfer's pixels: the film frame to the 8-bit code.
            np.testing.assert_allclose(reader.read(k), frame, atol=0.5 / 255 + 1e-6)


def test_a_telecined_clip_is_told_from_a_progressive_one(film: list[np.ndarray],
                                                         transfer: Path,
                                                         tmp_path: Path) -> None:
    with open_reader(transfer) as reader:
        report = analyse_pulldown(reader)
    assert report.telecined and report.describe().startswith("telecined (3:2 pulldown)")
    progressive = write_frames(tmp_path / "film.mkv", film, Fraction(24000, 1001))
    with open_reader(progressive) as reader:
        report = analyse_pulldown(reader)
    assert not report.telecined and report.moved == 0.0


def test_a_progressive_clip_is_refused_unless_forced_and_the_sound_keeps_its_length(
        index_clip, tmp_path: Path) -> None:
    # An index clip at 29.97 fps with sound: not telecined.
    clip = index_clip("ntsc.mov", codec="prores", width=64, height=48, frames=30,
                      fps=NTSC, audio=True)
    out = tmp_path / "film.mov"
    with pytest.raises(MediaError, match="not telecined.*nothing was written"):
        remove_pulldown(clip, out)  # it would drop one frame in five
    assert not out.exists()
    plan = remove_pulldown(clip, out, force=True)
    assert len(plan.frames) == 24
    info = probe(out)
    assert info.audio and abs(info.audio[0].duration - 24 / plan.fps) < 1 / 48000 * 2


def test_a_cancel_or_the_source_itself_leaves_nothing(transfer: Path, tmp_path: Path) -> None:
    out = tmp_path / "film.mkv"
    with pytest.raises(RenderCancelled, match="pulldown removal cancelled"):
        remove_pulldown(transfer, out, cancelled=lambda: True)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(MediaError, match="is the source of the export"):
        remove_pulldown(transfer, transfer)


def test_a_bottom_field_first_transfer_too(film: list[np.ndarray], tmp_path: Path) -> None:
    transfer = write_frames(tmp_path / "dv.mkv", telecine(film, top_first=False), NTSC)
    out = tmp_path / "film.mkv"
    remove_pulldown(transfer, out)
    with open_reader(out) as reader:
        assert reader.info.frame_count == 40
        for k, frame in enumerate(film):
            np.testing.assert_allclose(reader.read(k), frame, atol=0.5 / 255 + 1e-6)
