"""The shots as a CMX 3600 edit decision list: events at the source's timecode."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest

from engine.errors import NitrateError
from engine.media import timecode as tc
from engine.shots.edl import MAX_EVENTS, ListedShot, edl_text, write_edl

EVENT = re.compile(r"^(\d{3})  AX       V     C        (\S+) (\S+) (\S+) (\S+)$")


def events(text: str) -> list[tuple[str, str, str, str]]:
    return [m.groups()[1:] for line in text.splitlines() if (m := EVENT.match(line))]


def test_each_shot_is_a_cut_at_the_source_timecode() -> None:
    shots = [ListedShot(0, 35, "opening pan"), ListedShot(36, 65, reviewed=True),
             ListedShot(66, 99)]
    text = edl_text(shots, Fraction(24), "reel1.mov", "Reel 1", "10:00:00:00")
    assert text.startswith("TITLE: Reel 1\nFCM: NON-DROP FRAME\n")
    found = events(text)
    assert found[0] == ("10:00:00:00", "10:00:01:12", "10:00:00:00", "10:00:01:12")
    # Out points are exclusive: each event ends where the next begins, the last one frame
    # after the clip's last frame.
    assert [e[0] for e in found[1:]] == [e[1] for e in found[:-1]]
    assert found[-1][1] == tc.format_frames(tc.parse("10:00:00:00", Fraction(24))[0] + 100,
                                            Fraction(24))
    assert text.count("* FROM CLIP NAME: reel1.mov") == 3
    assert "* COMMENT: opening pan" in text and "* COMMENT: REVIEWED IN NITRATE" in text


def test_drop_frame_sources_keep_their_counting() -> None:
    text = edl_text([ListedShot(0, 1799), ListedShot(1800, 1900)], Fraction(30000, 1001),
                    "r.mov", "R", "01:00:00;00")
    assert "FCM: DROP FRAME" in text
    # 1,800 frames at 29.97 drop-frame: the minute's first two frame numbers are skipped.
    assert events(text)[0][1] == "01:01:00;02"


def test_no_timecode_starts_at_zero_and_notes_stay_on_one_line() -> None:
    text = edl_text([ListedShot(0, 24, "two\nlines")], Fraction(25), "a.mp4", "a")
    assert events(text)[0][:2] == ("00:00:00:00", "00:00:01:00")
    assert "* COMMENT: two lines" in text


def test_too_many_shots_and_bad_folders_are_refused(tmp_path: Path) -> None:
    many = [ListedShot(i, i) for i in range(MAX_EVENTS + 1)]
    with pytest.raises(ValueError, match="at most 999"):
        edl_text(many, Fraction(24), "a.mov", "a")
    with pytest.raises(NitrateError, match="missing/cuts.edl: the folder .* does not exist"):
        write_edl(tmp_path / "missing" / "cuts.edl", "TITLE: a\n")
    path = write_edl(tmp_path / "cuts.edl", "TITLE: a\n")
    assert path.read_text() == "TITLE: a\n" and sorted(tmp_path.iterdir()) == [path]
