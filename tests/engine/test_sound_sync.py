"""Sound sync: the offset typed, described, kept by the project and shown by the waveform
(the exports' part is in test_render and test_distributed)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine.errors import ProjectError
from engine.media.audio_peaks import audio_peaks
from engine.media.sound_sync import describe_sound_offset, parse_sound_offset
from engine.project import Clip, Project, load_project, save_project
from engine.render import job_for_project

FPS = Fraction(24)


@pytest.mark.parametrize(("text", "seconds"), [
    ("40ms", 0.04), ("40", 0.04), ("-2f", -2 / 24), ("21 frames", 21 / 24), ("0.5s", 0.5),
    ("+1.5f", 1.5 / 24), ("-875 MS", -0.875),
])
def test_an_offset_is_typed_in_ms_seconds_or_frames(text: str, seconds: float) -> None:
    assert parse_sound_offset(text, FPS) == pytest.approx(seconds)


@pytest.mark.parametrize(("text", "problem"), [
    ("soon", "not a number of ms, s or frames"), ("2 min", "not a number"),
    ("90s", "beyond ±60 s"),
])
def test_a_bad_offset_is_one_line(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_sound_offset(text, FPS)


def test_an_offset_reads_in_ms_and_frames() -> None:
    assert describe_sound_offset(21 / 24, FPS) == "sound 875 ms (21 frames) later"
    assert describe_sound_offset(-1 / 24, FPS) == "sound 42 ms (1 frame) earlier"
    assert describe_sound_offset(0.05, FPS) == "sound 50 ms (1.20 frames) later"
    assert describe_sound_offset(0.0, FPS) == "sound in sync"


def test_the_project_keeps_the_offset_and_its_exports_use_it(tmp_path: Path) -> None:
    media = tmp_path / "reel.mov"
    media.write_bytes(b"x")
    path = save_project(Project(clips=[Clip(str(media), 10, audio_offset=0.875)]),
                        tmp_path / "p.nitrate")
    data = json.loads(path.read_text())
    # A version-5 Nitrate would export the sound out of step again: it must refuse.
    assert data["version"] == 6 and data["clips"][0]["audio_offset"] == 0.875
    loaded = load_project(path)
    assert loaded.clip.audio_offset == 0.875
    assert job_for_project(loaded, tmp_path / "out.mov").audio_offset == 0.875
    data["clips"][0]["audio_offset"] = 600
    path.write_text(json.dumps(data))
    with pytest.raises(ProjectError, match="sound offset 600 s is beyond"):
        load_project(path)
    data["clips"][0]["audio_offset"] = "late"
    path.write_text(json.dumps(data))
    with pytest.raises(ProjectError, match="audio_offset must be a number of seconds"):
        load_project(path)


def test_the_waveform_moves_with_the_sound(index_clip) -> None:
    clip = index_clip("sync.mov", codec="h264", frames=40, audio=True, click_frames=(12, 30))
    later = audio_peaks(clip, 40, Fraction(25), offset=3 / 25)
    assert sorted(np.argsort(later)[-2:].tolist()) == [15, 33]
    earlier = audio_peaks(clip, 40, Fraction(25), offset=-13 / 25)
    assert int(np.argmax(earlier)) == 17 and earlier[:1].max() < 0.5  # frame 12 went out
