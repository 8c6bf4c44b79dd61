"""Frame check: the whole frames a restorer must look at, and nothing else."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import MediaError, RenderCancelled
from engine.media import open_reader
from engine.qc import FrameCheck, FrameEvent, check_frames
from engine.qc.frame_check import _Reduced, standout
from engine.qc.store import cached_check, check_path, store_check
from engine.synth.clip_file import write_frames
from engine.synth.damage import DamageSpec, apply_damage
from engine.synth.scenes import moving_scene, static_scene

W, H = 320, 180
FILM = DamageSpec(dust=60, scratches=1, flicker=0.1, local_flicker=0.03, grain=0.025,
                  weave=2.0, seed=3)


def tear(frame: np.ndarray) -> np.ndarray:
    """A corner torn off, white where the film is missing (about 7 % of the picture)."""
    out = frame.copy()
    mask = np.zeros((H, W), np.uint8)
    cv2.fillPoly(mask, [np.int32([[W, 0], [W, 80], [262, 54], [224, 0]])], 255)
    out[mask > 0] = 0.97
    return out


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two shots of damaged film (cut at 24) with one fault of each kind, and a tear on the
    second shot's first frame, where a splice is."""
    scene = moving_scene(24, W, H, seed=2) + moving_scene(24, W, H, seed=9)
    scene[38] = np.zeros_like(scene[38])                 # blank: black, with its own dirt
    frames = apply_damage(scene, FILM).frames
    frames[6] = frames[5].copy()                        # repeated
    frames[12] = np.clip(frames[12] * 1.6, 0, 1)         # flash
    frames[17] = tear(frames[17])                        # damaged
    frames[24] = tear(frames[24])                        # damaged, first frame of a shot
    return write_frames(tmp_path_factory.mktemp("check") / "faulty.mkv", frames)


def test_each_kind_of_fault_is_found_at_its_frame_and_nothing_else(faulty: Path) -> None:
    with open_reader(faulty) as reader:
        result = check_frames(reader)
    assert [(e.frame, e.kind) for e in result.events] == [
        (6, "repeated"), (12, "flash"), (17, "damaged"), (24, "damaged"), (38, "blank")]
    assert result.counts() == {"blank": 1, "damaged": 2, "flash": 1, "repeated": 1}
    flash = result.events[1]
    assert 0.3 < flash.measure < 0.6           # brighter than its neighbours, as a fraction
    assert 0.03 < result.events[2].measure < 0.2   # the share of the picture torn off


def test_a_range_is_checked_with_the_clip_s_frame_numbers(faulty: Path) -> None:
    seen: list[tuple[int, int]] = []
    with open_reader(faulty) as reader:
        result = check_frames(reader, 10, 30, progress=lambda d, t: seen.append((d, t)))
    assert [(e.frame, e.kind) for e in result.events] == [
        (12, "flash"), (17, "damaged"), (24, "damaged")]
    assert result.level.shape == (20,)
    assert seen[-1] == (20, 20)


def test_film_as_it_should_be_reports_nothing(tmp_path: Path) -> None:
    """Damaged film with a freeze frame, a cut, a fade through black and a held title: all
    as filmed."""
    fade = [f * (1 - k / 4) for k, f in enumerate(moving_scene(4, W, H, seed=5))]
    title = static_scene(1, W, H, seed=8) * 6           # a held title: one picture, 6 frames
    scene = (moving_scene(20, W, H, seed=2) + fade + [np.zeros((H, W, 3), np.float32)] * 3
             + moving_scene(14, W, H, seed=9) + title)
    frames = apply_damage(scene, FILM).frames
    frames[5:12] = [frames[4]] * 7          # a freeze frame: one picture held for 8 frames
    path = write_frames(tmp_path / "fine.mkv", frames)
    with open_reader(path) as reader:
        assert check_frames(reader).events == ()


def test_descriptions_say_what_was_found_in_a_restorer_s_words() -> None:
    assert FrameEvent(6, "repeated", 0.0).describe() == "repeated: the same picture as frame 5"
    assert FrameEvent(9, "flash", -0.45).describe() == "flash: 45% darker than both neighbours"
    assert FrameEvent(9, "blank", 0.97).describe() == "blank: a uniform white frame"
    assert "7% of the picture" in FrameEvent(9, "damaged", 0.07).describe()


def test_cancel_stops_the_check_and_a_range_outside_the_clip_is_refused(faulty: Path) -> None:
    with open_reader(faulty) as reader:
        with pytest.raises(RenderCancelled):
            check_frames(reader, cancel=lambda: True)
        with pytest.raises(MediaError, match="outside"):
            check_frames(reader, 40, 60)


def test_repeats_at_a_regular_cadence_are_named_as_a_frame_rate_stretch(tmp_path: Path) -> None:
    """18 fps film transferred at 24 by repeating every third film frame: 3 → 4."""
    film = apply_damage(moving_scene(30, W, H, seed=6), FILM).frames
    video = [frame for k, frame in enumerate(film) for _ in range(2 if k % 3 == 2 else 1)]
    path = write_frames(tmp_path / "stretched.mkv", video)
    with open_reader(path) as reader:
        result = check_frames(reader)
    assert [e.frame for e in result.events] == list(range(3, len(video), 4))
    assert result.repeat_cadence() == pytest.approx(4.0)
    assert result.describe_cadence() == (
        "one frame in 4 repeats the one before, regularly: a transfer that repeated frames "
        "to raise the rate (the film ran at about 18.0 fps)")
    with open_reader(path) as reader:      # two repeats are not a cadence
        assert check_frames(reader, 0, 9).repeat_cadence() is None


def test_on_real_scans_the_torn_emulsion_and_the_stretched_transfer_are_found(
        footage: Path) -> None:
    with open_reader(footage / "film_within_our_gates") as reader:
        result = check_frames(reader)
    # Frame 28 lost a white patch of emulsion; the transfer repeats one frame in 4 or 5.
    assert [e.frame for e in result.events if e.kind == "damaged"] == [28]
    assert result.repeat_cadence() == pytest.approx(4.6, abs=0.1)
    with open_reader(footage / "film_the_great_train_robbery") as reader:
        assert [(e.frame, e.kind) for e in check_frames(reader).events] == [(22, "damaged")]


def test_only_a_solid_patch_counts_as_damage_not_thin_lines_or_scattered_specks() -> None:
    rng = np.random.default_rng(1)
    picture = cv2.GaussianBlur(rng.random((144, 256, 3)).astype(np.float32), (0, 0), 3)
    frame = picture.copy()
    frame[40:80, 100:150] += 0.4                  # a blotch: 2000 px, 5.4 % of the frame
    frame[::6, :] += 0.4                          # hairs: one-pixel lines, 17 % of it
    for y, x in rng.integers(0, 140, (30, 2)):    # specks: 30 small ones, 3.3 % together
        frame[y:y + 4, x + 100:x + 110] -= 0.4
    frames = {k: _Reduced.of(np.clip(f, 0, 1)) for k, f in
              enumerate([picture, picture, np.clip(frame, 0, 1), picture, picture])}
    out = standout(frames, 2)
    assert out.pair == (-1, 1)
    assert 0.035 < out.share < 0.06               # the blotch alone


def test_a_cadence_needs_regular_repeats_through_the_range() -> None:
    def check(frames: list[int], end: int = 40) -> FrameCheck:
        events = tuple(FrameEvent(f, "repeated", 0.0) for f in frames)
        empty = np.zeros(end, np.float32)
        return FrameCheck(0, end, events, empty, empty, empty)

    assert check([3, 8, 12, 17, 22, 26, 31, 35]).repeat_cadence() == pytest.approx(32 / 7)
    assert check([3, 8, 17, 22, 26, 31, 35]).repeat_cadence() == pytest.approx(32 / 7)  # one unseen
    assert check([3, 7, 18, 22, 35]).repeat_cadence() is None          # too few seen
    assert check([3, 9, 14, 22, 27, 33, 38]).repeat_cadence() is None  # irregular
    assert check([3, 7, 11, 15]).repeat_cadence() is None              # not through the range
    assert check([3, 8, 13, 18, 23, 28, 33, 38]).describe_cadence().startswith(
        "one frame in 5 repeats the one before")


def test_a_check_is_kept_for_its_file_and_only_for_it(faulty: Path, tmp_path: Path) -> None:
    with open_reader(faulty) as reader:
        result = check_frames(reader, 10, 30)
    folder = tmp_path / "cache"
    assert cached_check(faulty, 48, folder) is None
    store_check(faulty, result, folder)
    kept = cached_check(faulty, 48, folder)
    assert kept is not None and (kept.start, kept.end) == (10, 30)
    assert kept.events == result.events
    assert np.array_equal(kept.standout, result.standout)
    assert (kept.fps, kept.timecode) == (24, None) and kept.timecode_of(24) == "00:00:01:00"
    store_check(faulty, replace(result, fps=Fraction(25), timecode="10:00:00:00"), folder)
    kept = cached_check(faulty, 48, folder)
    assert kept is not None and kept.timecode_of(25) == "10:00:01:00"
    assert cached_check(faulty, 20, folder) is None          # another clip's length
    copy = tmp_path / "copy.mkv"                              # another file
    copy.write_bytes(faulty.read_bytes())
    assert cached_check(copy, 48, folder) is None
    path = check_path(faulty, folder)
    assert path is not None
    path.write_bytes(b"not an npz")                           # damaged: measured again
    assert cached_check(faulty, 48, folder) is None
    assert check_path(tmp_path, folder) is None               # a sequence's folder: never kept


def test_a_short_clip_with_a_broken_frame_reports_that_frame_alone() -> None:
    """Six frames, the fourth a failed decode (NaN): a blank, and no repeats made up from
    medians of too few frames."""
    frames = moving_scene(6, 64, 48, seed=1)
    frames[3] = np.full_like(frames[3], np.nan)

    class Broken:
        class info:  # noqa: N801 - the Reader's attribute
            frame_count, width, height, path = 6, 64, 48, "broken.mov"
            fps, timecode = 24, "01:00:00:00"

        def read_scaled(self, index: int, size: tuple[int, int]) -> np.ndarray:
            return cv2.resize(frames[index], size)

    result = check_frames(Broken())
    assert [(e.frame, e.kind) for e in result.events] == [(3, "blank")]
    assert result.timecode_of(3) == "01:00:00:03"
