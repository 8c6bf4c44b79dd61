"""The processing report: every shot documented, self-contained, printable, written safely."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from app.cli import run_cli
from engine.errors import ProjectError, RenderCancelled
from engine.framing import Framing
from engine.project import Clip, Project, Recipe, Shot, Step, save_project
from engine.project.model import Repair
from engine.report import build_report
from engine.synth.clip_file import write_frames
from engine.synth.damage import DamageSpec, apply_damage
from engine.synth.scenes import moving_scene

W, H, N = 96, 64, 16


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_frames(tmp_path_factory.mktemp("report") / "reel.mkv",
                        moving_scene(N, W, H, seed=7), timecode="01:00:00:00")


def project(media: Path, folder: Path) -> Project:
    ramp = (Step.create("color", {"contrast": 1.3})
            .with_keyframe("exposure", 8, 0.0).with_keyframe("exposure", 15, 1.0, "smooth"))
    clip = Clip(
        path=str(media), frame_count=N,
        shots=[Shot(0, 7, note="opening <pan> & tilt"),
               Shot(8, 15, recipe=Recipe.of([ramp, Step.create("sharpen", enabled=False)]),
                    reviewed=True)],
        default_recipe=Recipe.of([Step.create("dust")]),
        repairs=[Repair(3, 3, note="torn splice"), Repair(10, 11, (10, 8, 30, 20), "blotch"),
                 Repair(4, 6, (0, 0, 20, 16), "flickering lamp", protect=True)],
    )
    p = Project(clips=[clip])
    p.output.framing = Framing(crop=(4, 0, 4, 0), size=(1920, 1080), fit="fit")
    clip.audio_offset = 0.5
    save_project(p, folder / "reel.nitrate")
    return p


def test_the_report_documents_every_shot(media: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    out = build_report(project(media, tmp_path), tmp_path / "report.html",
                       progress=lambda done, total: seen.append((done, total)))
    html = out.read_text(encoding="utf-8")
    # Header: source, probe info, version, date.
    assert "reel.mkv" in html and f"{W} x {H} px" in html and "24/1" in html
    assert "Nitrate</td><td>0." in html and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", html)
    assert "<td>Framing</td><td>crop 4,0,4,0 px → 1920x1080 (fit)</td>" in html
    assert "<td>Sound</td><td>none</td>" in html  # the scan has no sound to move
    # Each shot with its range and timecode (from the source's start timecode).
    assert "Shot 1: frames 0–7" in html and "Shot 2: frames 8–15" in html
    assert "01:00:00:08" in html
    # Recipe, parameters (changed ones in bold), keyframes, disabled steps shown as such.
    assert "Dust &amp; dirt" in html and "<b>Contrast = 1.3</b>" in html
    assert "Exposure = <i>keyframed</i>" in html
    assert "frame 8: 0 stops (linear), frame 15: 1 stops (smooth)" in html
    assert "off (not applied)" in html
    # Manual repairs with notes; user text is escaped, never markup.
    assert "frame 3, whole frame rebuilt" in html and "torn splice" in html
    assert "frames 10-11, region 10,8 30x20 px" in html and "blotch" in html
    assert "opening &lt;pan&gt; &amp; tilt" in html and "<pan>" not in html
    # Protections are listed apart: the restorer's word that this is picture, not damage.
    assert "manual repairs: 2; protections: 1" in html
    protected = html.index("Protected from the spot repairs")
    assert html.index("frames 4-6, region 0,0 20x16 px protected") > protected
    assert html.index("flickering lamp") > protected
    # Pixels changed: measured for the repair and the colour step (a level change).
    assert re.search(r"Pixels changed on the repaired frames: (100\.0|[0-9.]+) %", html)
    assert re.search(r"[0-9.]+ % \(level change\)", html)
    # Thumbnails are embedded JPEGs: the file is self-contained.
    images = re.findall(r'src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) >= 2 * 2 and all(base64.b64decode(i)[:2] == b"\xff\xd8" for i in images)
    assert "http" not in html.replace("http-equiv", "")
    assert "@media print" in html
    assert seen and seen[-1][0] == seen[-1][1] and [d for d, _ in seen] == sorted(
        d for d, _ in seen)


def test_cancel_stops_the_report_and_leaves_any_previous_one(media: Path, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("previous report")
    with pytest.raises(RenderCancelled):
        build_report(project(media, tmp_path), target, cancel=lambda: True)
    assert target.read_text() == "previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reel.nitrate", "report.html"]


def test_missing_media_is_a_clear_error(tmp_path: Path) -> None:
    p = Project(clips=[Clip(path=str(tmp_path / "gone.mkv"), frame_count=10)])
    with pytest.raises(ProjectError, match="media not found"):
        build_report(p, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_cli_report(media: Path, tmp_path: Path, capsys) -> None:
    project(media, tmp_path)
    assert run_cli(["report", str(tmp_path / "reel.nitrate")]) == 0
    default = tmp_path / "reel.report.html"
    assert default.exists() and "Shot 2" in default.read_text()
    out = tmp_path / "custom.html"
    assert run_cli(["report", str(tmp_path / "reel.nitrate"), "-o", str(out),
                    "--samples", "1", "--scale", "0.25"]) == 0
    assert "1 frames per shot at 0.25" in out.read_text()
    capsys.readouterr()
    assert run_cli(["report", str(tmp_path / "reel.nitrate"), "--scale", "2"]) == 2
    assert run_cli(["report", str(tmp_path / "nothing.nitrate")]) == 1
    assert run_cli(["report", str(tmp_path / "reel.nitrate"), "-o",
                    str(tmp_path / "no" / "dir.html")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "--scale" in err[0] and "file not found" in err[1]
    assert "folder does not exist" in err[2]


def test_the_report_flags_a_recipe_that_clips_what_the_scan_kept(media: Path,
                                                                   tmp_path: Path) -> None:
    clip = Clip(
        path=str(media), frame_count=N,
        shots=[Shot(0, 7),
               Shot(8, 15, recipe=Recipe.of([Step.create("color", {"exposure": 2.0})]))],
        default_recipe=Recipe.of([Step.create("dust")]),
    )
    p = Project(clips=[clip])
    save_project(p, tmp_path / "bright.nitrate")
    html = build_report(p, tmp_path / "report.html").read_text(encoding="utf-8")
    first, second = html.split('id="shot-1"')[1].split('id="shot-2"')
    # Both shots show the scan's and the result's levels.
    for section in (first, second):
        assert "<th>Clipped white</th>" in section and "<td>Scan</td>" in section
    # Dust repairs specks: no clipping added, no warning. Two stops up: a warning, with the
    # share, in the shot and in the clip's list of shots.
    assert "class=\"warn\"" not in first
    match = re.search(r"The result clips ([0-9.]+) % more of the picture to white", second)
    assert match and float(match.group(1)) > 5
    rows = re.findall(r'<tr><td class=num><a href="#shot-\d">\d</a>.*?</tr>', html)
    assert rows[0].endswith("<td>—</td></tr>")
    assert f"white +{match.group(1)} %" in rows[1]


def test_the_report_states_what_each_operator_measured_and_applied(tmp_path: Path) -> None:
    frames = apply_damage(moving_scene(24, 320, 180, seed=3, motion="pan"),
                          DamageSpec(flicker=0.2, weave=2.0, seed=5)).frames
    media = write_frames(tmp_path / "weave.mkv", frames)
    recipe = Recipe.of([Step.create("deflicker"), Step.create("stabilize"),
                        Step.create("color", {"auto_balance": True}),
                        Step.create("sharpen")])
    p = Project(clips=[Clip(path=str(media), frame_count=24, shots=[Shot(0, 23)],
                            default_recipe=recipe)])
    save_project(p, tmp_path / "weave.nitrate")
    html = build_report(p, tmp_path / "report.html", samples=5).read_text(encoding="utf-8")
    assert "<th>Measured and applied</th>" in html
    moved = re.search(r"weave removed: picture moved: ([0-9.]+) on average, ([0-9.]+) at most "
                      r"\(px\)", html)
    level = re.search(r"brightness corrected at mid-grey: ([0-9.]+) on average, ([0-9.]+) "
                      r"at most \(% of full scale\)", html)
    assert moved and level
    # 2 px of weave, measured in source pixels at the report's half scale; ±20 % flicker
    # corrected by several percent.
    assert 0.5 < float(moved.group(2)) < 8 and float(level.group(2)) > 1
    # The automatic balance says what it did to each channel.
    for name in ("red", "green", "blue"):
        assert re.search(rf"automatic {name} gain: [0-9.]+ on average, [0-9.]+ at most "
                         r"\(×\)", html)
    # An operator that measures nothing says so.
    sharpen_row = html.split("Sharpen")[1].split("</tr>")[0]
    assert sharpen_row.endswith("<td>—</td>")


def test_a_project_of_several_reels_reports_each_reel(media: Path, tmp_path: Path) -> None:
    p = project(media, tmp_path)
    second = Clip(path=str(media), frame_count=N, audio_offset=0.25)
    p.clips.append(second)
    html = build_report(p, tmp_path / "reels.html", scale=0.25, samples=1).read_text(
        encoding="utf-8")
    assert "<h2>Reel 1: reel.mkv</h2>" in html and "<h2>Reel 2: reel.mkv</h2>" in html
    # Each reel's table says what its exports do to it (framing, and its own sound sync).
    assert html.count("<td>Framing</td><td>crop 4,0,4,0 px → 1920x1080 (fit)</td>") == 2


def test_the_report_says_what_the_frame_check_found_and_what_was_done(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from engine.media import open_reader
    from engine.qc import check_frames
    from engine.qc.store import store_check

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    frames = moving_scene(24, W, H, seed=3)
    frames[5] = np.zeros_like(frames[5])                 # blank
    frames[12] = frames[11].copy()                       # repeated
    scan = write_frames(tmp_path / "scan.mkv", frames)
    p = Project(clips=[Clip(path=str(scan), frame_count=24,
                            repairs=[Repair(5, 5, note="frame check: blank")])])
    html = build_report(p, tmp_path / "before.html").read_text(encoding="utf-8")
    assert "<h3>Frame check</h3><p>Not run on this file" in html
    with open_reader(scan) as reader:
        store_check(scan, check_frames(reader))
    html = build_report(p, tmp_path / "after.html").read_text(encoding="utf-8")
    assert "Frames 0–23 checked: 1 blank, 1 repeated." in html
    assert ("<td class=num>5</td><td>00:00:00:05</td><td>blank: a uniform black frame</td>"
            "<td>rebuilt</td>") in html
    assert ("<td class=num>12</td><td>00:00:00:12</td><td>repeated: the same picture as "
            "frame 11</td><td>left as scanned</td>") in html
