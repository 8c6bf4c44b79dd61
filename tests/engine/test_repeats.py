"""Removing a transfer's repeated frames: the film's own frames back, at its own rate."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine.errors import MediaError
from engine.media import open_reader, probe
from engine.qc import FrameCheck, FrameEvent
from engine.render.repeats import remove_repeats
from engine.synth.clip_file import write_frames
from engine.synth.damage import DamageSpec, apply_damage
from engine.synth.index_clip import decode_audio
from engine.synth.scenes import moving_scene

W, H = 160, 96


@pytest.fixture(scope="module")
def film() -> list[np.ndarray]:
    spec = DamageSpec(dust=60, flicker=0.08, grain=0.02, seed=5)
    return apply_damage(moving_scene(30, W, H, seed=6), spec).frames


def test_an_18_fps_film_stretched_to_24_comes_back_frame_for_frame(
        film: list[np.ndarray], tmp_path: Path) -> None:
    # Every third film frame shown twice: 30 film frames become 40 at 24 fps.
    video = [frame for k, frame in enumerate(film) for _ in range(2 if k % 3 == 2 else 1)]
    source = write_frames(tmp_path / "transfer.mkv", video)
    with open_reader(source) as reader:
        as_film = [reader.read(i) for i in range(reader.info.frame_count)]
    output = tmp_path / "film.mkv"
    plan = remove_repeats(source, output)
    assert plan.removed == tuple(range(3, 40, 4))
    assert plan.fps == 18                       # 24 × 30 / 40: the duration is kept
    assert "40 frames at 24 fps → 30 film frames at 18.000 fps" in plan.describe()
    info = probe(output)
    assert info.frame_count == 30 and info.fps == 18
    with open_reader(output) as reader:
        got = [reader.read(i) for i in range(reader.info.frame_count)]
    kept = [as_film[i] for i in plan.frames]
    assert all(np.array_equal(a, b) for a, b in zip(got, kept, strict=True))  # lossless


def test_a_rate_can_be_named_and_scattered_repeats_are_refused(
        film: list[np.ndarray], tmp_path: Path) -> None:
    video = list(film)
    video[10] = video[9].copy()                 # one scanner stutter: no cadence
    source = write_frames(tmp_path / "stutter.mkv", video)
    output = tmp_path / "film.mkv"
    with pytest.raises(MediaError, match="no regular cadence") as caught:
        remove_repeats(source, output)
    assert "stutter.mkv" in str(caught.value) and not output.exists()
    plan = remove_repeats(source, output, force=True, rate=Fraction(16))
    assert plan.removed == (10,) and probe(output).fps == 16
    assert probe(output).frame_count == 29
    with pytest.raises(MediaError, match="no repeated frames"):
        remove_repeats(write_frames(tmp_path / "clean.mkv", film), tmp_path / "x.mkv")


def test_a_repeat_the_check_cannot_see_is_found_where_the_cadence_puts_it() -> None:
    # Repeats seen at 4, 8, 16 and 20; at 12 the picture hardly moves, so the check's
    # threshold was not met, but frame 12 changed far less than its neighbours.
    change = np.full(24, 0.02, np.float32)
    change[[4, 8, 16, 20]] = 0.0
    change[10:15] = 0.002
    change[12] = 0.0002
    events = tuple(FrameEvent(f, "repeated", 0.0) for f in (4, 8, 16, 20))
    check = FrameCheck(0, 24, events, np.zeros(24, np.float32), change,
                       np.zeros(24, np.float32))
    assert check.cadence_repeats() == (4, 8, 12, 16, 20)
    change[12] = 0.002                          # no repeat there after all
    assert check.cadence_repeats() == (4, 8, 16, 20)


def test_the_sound_is_kept_with_the_picture(footage: Path, tmp_path: Path) -> None:
    """Big Buck Bunny's file repeats one frame in 25 (24 fps made 25)."""
    output = tmp_path / "bunny.mov"
    plan = remove_repeats(footage / "bigbuckbunny.mp4", output)
    assert plan.removed == (7, 32, 57, 82, 107)
    assert plan.fps == Fraction(24053, 1000)    # 25 × 127 / 132, to a thousandth
    samples, rate = decode_audio(output)
    assert samples.shape[1] / rate == pytest.approx(127 / plan.fps, abs=0.01)
