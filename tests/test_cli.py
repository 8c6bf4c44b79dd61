"""The `nitrate` command line: its contract, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.synth.index_clip import read_index, write_index_clip, write_index_sequence

ROOT = Path(__file__).resolve().parent.parent


def nitrate(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-m", "app.main", *map(str, args)],
        capture_output=True, text=True, timeout=120, cwd=cwd or ROOT, env=env,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "reel.mp4"
    return write_index_clip(path, "h264", frames=30, gop=10, bframes=2, audio=True)


def test_probe_json_contract(clip: Path) -> None:
    result = nitrate("probe", clip, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for key in ("width", "height", "frame_count", "fps", "pix_fmt", "bit_depth", "codec", "audio"):
        assert key in data
    assert (data["width"], data["height"], data["frame_count"]) == (64, 48, 30)
    assert data["fps"] == 25 and data["codec"] == "h264" and len(data["audio"]) == 1


def test_still_is_exactly_the_requested_frame(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "f17.png"
    result = nitrate("still", clip, "--frame", "17", "-o", out)
    assert result.returncode == 0, result.stderr
    image = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)[..., ::-1] / 255.0
    assert read_index(image) == 17


def test_restore_with_ops_and_set(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mkv"
    result = nitrate("restore", clip, "-o", out, "--ops", "color,sharpen",
                     "--set", "color.exposure=0.5", "--start", "5", "--end", "14")
    assert result.returncode == 0, result.stderr
    info = json.loads(nitrate("probe", out, "--json").stdout)
    assert info["frame_count"] == 10 and info["codec"] == "ffv1"
    assert "direct path" not in result.stdout


def test_restore_without_operators_says_it_converts_directly(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "transcode.mov"
    result = nitrate("restore", clip, "-o", out, "--start", "3", "--end", "12")
    assert result.returncode == 0, result.stderr
    assert "direct path" in result.stdout
    info = json.loads(nitrate("probe", out, "--json").stdout)
    assert info["frame_count"] == 10 and info["codec"] == "prores"
    still = tmp_path / "first.png"
    assert nitrate("still", out, "--frame", "0", "-o", still).returncode == 0
    image = cv2.imread(str(still), cv2.IMREAD_UNCHANGED)[..., ::-1]
    assert read_index(image / np.iinfo(image.dtype).max) == 3  # a 16-bit still of 10-bit video


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("--ops", "nope"), ("nope", "no such operator")),
        (("--ops", "sharpen", "--set", "sharpen.amount=99"), ("sharpen", "amount must be at most")),
        (("--set", "color.exposure=1"), ("color", "not in the recipe")),
        (("--preset", "nope"), ("preset 'nope'",)),
        (("--start", "25", "--end", "40"), ("outside the clip",)),
        (("--crop", "30,0,30,0"), ("never.mov", "cannot frame the 64x48 source",
                                   "leaves less than 16x16")),
    ],
)
def test_restore_refuses_bad_requests(clip: Path, tmp_path: Path, args, needles) -> None:
    out = tmp_path / "never.mov"
    assert_one_line_error(nitrate("restore", clip, "-o", out, *args), *needles)
    assert not out.exists()


def test_bad_usage_exits_2(clip: Path) -> None:
    assert nitrate("still", clip, "-o", "x.png").returncode == 2  # --frame missing
    assert nitrate("restore", clip, "-o", "x.mov", "--set", "exposure").returncode == 2
    for framing in (("--crop", "4,4"), ("--size", "1920"), ("--fit", "fill"),
                    ("--size", "8x8")):
        result = nitrate("restore", clip, "-o", "x.mov", *framing)
        assert result.returncode == 2 and framing[0] in result.stderr, result.stderr


def test_restore_frames_the_picture_to_the_delivery_size(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "framed.mkv"
    # 48x48 of picture fitted into 96x64: 64x64, with black bars of 16 px each side.
    result = nitrate("restore", clip, "-o", out, "--crop", "8,0,8,0", "--size", "96x64")
    assert result.returncode == 0, result.stderr
    data = json.loads(nitrate("probe", out, "--json").stdout)
    assert (data["width"], data["height"], data["frame_count"]) == (96, 64, 30)
    assert data["comment"].endswith("from reel.mp4, frames 0-29; frames 0-29: no operator; "
                                    "framing: crop 8,0,8,0 px → 96x64 (fit)")
    from engine.media import open_reader

    with open_reader(out) as reader:
        frame = reader.read(12)
    assert frame[:, :14].max() < 0.02 and frame[:, 82:].max() < 0.02
    assert frame[:, 20:76].max() > 0.5
    review = tmp_path / "review.mp4"
    assert nitrate("restore", clip, "-o", review, "--burn-in").returncode == 0
    assert json.loads(nitrate("probe", review, "--json").stdout)["comment"].endswith(
        "timecode, frame and shot burnt in (a review copy)")
    # --crop auto finds no surround on picture that reaches the frame's edges.
    result = nitrate("restore", clip, "-o", tmp_path / "auto.mkv", "--crop", "auto")
    assert result.returncode == 0 and "--crop auto: 0,0,0,0" in result.stderr


def test_restore_moves_the_sound_back_into_sync(tmp_path: Path) -> None:
    from engine.synth.index_clip import decode_audio, find_clicks

    source = write_index_clip(tmp_path / "talkie.mov", "h264", frames=30, audio=True,
                              click_frames=(10,))
    out = tmp_path / "synced.mov"
    result = nitrate("restore", source, "-o", out, "--audio-offset=-2f")
    assert result.returncode == 0, result.stderr
    samples, rate = decode_audio(out)
    assert [round(s * 25 / rate) for s in find_clicks(samples, rate)] == [8]
    assert json.loads(nitrate("probe", out, "--json").stdout)["comment"].endswith(
        "; sound 80 ms (2 frames) earlier")
    for args, problem in ((("--audio-offset", "soon"), "not a number of ms, s or frames"),
                          (("--audio-offset", "40", "--no-audio"), "no sound")):
        result = nitrate("restore", source, "-o", out, *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "--audio-offset" in result.stderr and problem in result.stderr


@pytest.mark.parametrize("kind", ["missing", "empty", "random", "text", "truncated", "gap"])
def test_bad_inputs_give_one_line_errors(kind: str, clip: Path, tmp_path: Path) -> None:
    if kind == "missing":
        bad = tmp_path / "missing.mov"
    elif kind == "empty":
        bad = tmp_path / "empty.mov"
        bad.write_bytes(b"")
    elif kind == "random":
        bad = tmp_path / "noise.mp4"
        bad.write_bytes(os.urandom(50_000))
    elif kind == "text":
        bad = tmp_path / "notes.mkv"
        bad.write_text("this is not a video\n" * 100)
    elif kind == "truncated":
        bad = tmp_path / "cut.mp4"
        bad.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    else:
        bad = tmp_path / "seq"
        write_index_sequence(bad, "png8", frames=6, skip=(3,))
    out = tmp_path / "out.mov"
    for args in (("probe", bad), ("restore", bad, "-o", out)):
        result = nitrate(*args)
        if kind == "truncated" and result.returncode == 0:
            continue  # decoding what is readable is allowed; it must not crash or hang
        assert_one_line_error(result, str(bad))
    assert not out.exists()


def test_ops_json_lists_parameters() -> None:
    result = nitrate("ops", "--json")
    assert result.returncode == 0
    ops = {op["id"]: op for op in json.loads(result.stdout)["operators"]}
    assert "color" in ops
    exposure = next(p for p in ops["color"]["params"] if p["name"] == "exposure")
    assert exposure["unit"] == "stops" and exposure["kind"] == "float"


def test_still_of_a_project_uses_its_recipes_and_shows_before_and_after(
        clip: Path, tmp_path: Path) -> None:
    from engine.project import Clip, Project, Recipe, Shot, Step, save_project
    from engine.render.still import SIDE_BY_SIDE_GAP

    brighter = Recipe.of([Step.create("color", {"exposure": 0.6})])
    path = save_project(Project(clips=[Clip(str(clip), 30, [Shot(0, 29)], brighter)]),
                        tmp_path / "p.nitrate")
    out = tmp_path / "f17.png"
    result = nitrate("still", path, "--frame", "17", "--before-after", "-o", out)
    assert result.returncode == 0, result.stderr
    image = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)[..., ::-1] / 255.0
    assert image.shape == (48, 2 * 64 + SIDE_BY_SIDE_GAP, 3)
    before, after = image[:, :64], image[:, 64 + SIDE_BY_SIDE_GAP:]
    assert read_index(before) == 17  # the scan, exactly
    assert after.mean() > before.mean() + 0.05  # the project's recipe, applied
    result = nitrate("still", path, "--frame", "3", "--ops", "dust", "-o", out)
    assert result.returncode == 2 and "a project brings its own recipes" in result.stderr
    result = nitrate("still", path, "--frame", "3", "--crop", "1,1,1,1", "-o", out)
    assert result.returncode == 2 and "a project brings its own framing" in result.stderr
    clip_gone = tmp_path / "gone.mp4"
    moved = save_project(Project(clips=[Clip(str(clip_gone), 30)]), tmp_path / "q.nitrate")
    assert_one_line_error(nitrate("still", moved, "--frame", "3", "-o", out),
                          "media not found", "gone.mp4")


def test_render_a_project(clip: Path, tmp_path: Path) -> None:
    from engine.framing import Framing
    from engine.project import Clip, Project, Recipe, Shot, save_project

    project = Project(clips=[Clip(str(clip), 30, [Shot(0, 9), Shot(10, 29)],
                                  Recipe.from_ops(["temporal_average"]))])
    path = save_project(project, tmp_path / "p.nitrate")
    out = tmp_path / "render.mkv"
    result = nitrate("render", path, "-o", out)
    assert result.returncode == 0, result.stderr
    assert json.loads(nitrate("probe", out, "--json").stdout)["frame_count"] == 30
    # The project's framing reaches its renders and its stills.
    project.output.framing = Framing(crop=(2, 2, 2, 2), size=(120, 88), fit="stretch")
    save_project(project, path)
    result = nitrate("render", path, "-o", out)
    assert result.returncode == 0, result.stderr
    data = json.loads(nitrate("probe", out, "--json").stdout)
    assert (data["width"], data["height"]) == (120, 88)
    still = tmp_path / "framed.png"
    assert nitrate("still", path, "--frame", "4", "-o", still).returncode == 0
    assert cv2.imread(str(still)).shape == (88, 120, 3)


def test_an_export_with_checksums_is_verified_later(clip: Path, tmp_path: Path) -> None:
    from engine.project import Clip, Project, Recipe, save_project

    project = Project(clips=[Clip(str(clip), 30,
                                  default_recipe=Recipe.from_ops(["temporal_average"]))])
    path = save_project(project, tmp_path / "p.nitrate")
    out = tmp_path / "master"
    result = nitrate("render", path, "-o", out, "--codec", "png", "--checksum", "md5")
    assert result.returncode == 0, result.stderr
    assert f"{tmp_path / 'master.md5'}: checksums of the written files" in result.stdout
    result = nitrate("verify", out)
    assert result.returncode == 0, result.stderr
    assert "31 files, every MD5 checksum matches" in result.stdout  # 30 frames, the sound
    (out / "frame_000007.png").write_bytes(b"damaged on the tape")
    result = nitrate("verify", tmp_path / "master.md5")
    assert result.returncode == 1
    assert "master/frame_000007.png: changed" in result.stderr
    assert "Traceback" not in result.stderr
    result = nitrate("restore", clip, "-o", tmp_path / "x.mov", "--checksum", "crc")
    assert result.returncode == 2 and "--checksum" in result.stderr
    assert_one_line_error(nitrate("verify", tmp_path / "x.mov"), "x.mov",
                          "has no checksum list beside it")


def test_a_review_copy_of_a_project_through_its_display_lut(clip: Path, tmp_path: Path) -> None:
    from engine.project import Clip, Project, save_project

    project = Project(clips=[Clip(str(clip), 30)])
    path = save_project(project, tmp_path / "p.nitrate")
    result = nitrate("render", path, "-o", tmp_path / "review.mp4", "--view-lut")
    assert result.returncode == 2 and "has none (View ▸ Display LUT)" in result.stderr
    project.clips[0].display_lut = "rec709-to-cineon"
    save_project(project, path)
    for args, name in ((("--view-lut",), "view.png"), (("--view-lut", "cineon-to-rec709"),
                                                       "other.png")):
        out = tmp_path / name.replace(".png", "")
        result = nitrate("render", path, "-o", out, "--codec", "png", *args)
        assert result.returncode == 0, result.stderr
    plain = tmp_path / "plain"
    assert nitrate("render", path, "-o", plain, "--codec", "png").returncode == 0
    frame = "frame_000003.png"
    scan, lifted, darker = (cv2.imread(str(folder / frame)).astype(int)
                            for folder in (plain, tmp_path / "view", tmp_path / "other"))
    # Rec.709 → Cineon lifts black to code 95 of 1023; Cineon → Rec.709 darkens.
    assert scan.min() < 10 and lifted.min() > 20
    assert darker.mean() < scan.mean() - 10


def test_pulldown_is_found_and_removed(tmp_path: Path) -> None:
    from fractions import Fraction

    from engine.synth.clip_file import write_frames
    from engine.synth.scenes import moving_scene
    from engine.synth.telecine import telecine

    transfer = write_frames(tmp_path / "transfer.mkv", telecine(moving_scene(20, 96, 72)),
                            Fraction(30000, 1001))
    result = nitrate("pulldown", transfer, "--check")
    assert result.returncode == 0 and "telecined (3:2 pulldown)" in result.stdout
    result = nitrate("pulldown", transfer)
    assert result.returncode == 0, result.stderr
    assert "25 video frames → 20 film frames at 23.976 fps" in result.stdout
    data = json.loads(nitrate("probe", tmp_path / "transfer_film.mkv", "--json").stdout)
    assert data["frame_count"] == 20
    assert_one_line_error(nitrate("pulldown", tmp_path / "missing.mov"), "missing.mov")


def test_a_project_of_several_reels_renders_one_file_a_reel(clip: Path,
                                                            tmp_path: Path) -> None:
    from engine.project import Clip, Project, Recipe, save_project

    second = write_index_clip(tmp_path / "reel2.mov", "prores", frames=16)
    project = Project(clips=[Clip(str(clip), 30), Clip(str(second), 16,
                                                       default_recipe=Recipe.from_ops(["color"]))])
    path = save_project(project, tmp_path / "feature.nitrate")
    result = nitrate("render", path, "-o", tmp_path / "feature.mkv")
    assert result.returncode == 0, result.stderr
    assert [json.loads(nitrate("probe", tmp_path / f"feature_reel{n}.mkv", "--json").stdout)
            ["frame_count"] for n in (1, 2)] == [30, 16]
    result = nitrate("render", path, "-o", tmp_path / "only.mkv", "--reel", "2")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "only_reel1.mkv").exists() and (tmp_path / "only_reel2.mkv").exists()
    still = tmp_path / "r2.png"
    assert nitrate("still", path, "--frame", "15", "--reel", "2", "-o", still).returncode == 0
    result = nitrate("still", path, "--frame", "20", "--reel", "3", "-o", still)
    assert result.returncode == 2 and "--reel 3: the project has reels 1-2" in result.stderr


def test_shots_of_a_project_as_an_edit_decision_list(clip: Path, tmp_path: Path) -> None:
    from engine.project import Clip, Project, Shot, save_project

    project = Project(clips=[Clip(str(clip), 30, [Shot(0, 9, note="titles"),
                                                  Shot(10, 29, reviewed=True)])])
    path = save_project(project, tmp_path / "p.nitrate")
    edl = tmp_path / "cuts.edl"
    result = nitrate("shots", path, "--json", "--edl", edl)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["shots"] == [{"start": 0, "end": 9},
                                                  {"start": 10, "end": 29}]
    text = edl.read_text()
    assert "001  AX       V     C        00:00:00:00 00:00:00:10" in text
    assert "002  AX       V     C        00:00:00:10 00:00:01:05" in text  # 25 fps
    assert "* COMMENT: titles" in text and "* FROM CLIP NAME: reel.mp4" in text
    assert_one_line_error(nitrate("shots", path, "--edl", tmp_path / "no" / "x.edl"),
                          "x.edl", "does not exist")


def test_asking_for_a_missing_gpu_is_one_clear_line(clip: Path, tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    out = tmp_path / "gpu.mov"
    assert_one_line_error(nitrate("restore", clip, "-o", out, "--device", "cuda"), "cuda")
    assert not out.exists()


def test_frame_check_lists_the_frames_to_look_at_and_marks_them_in_a_project(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.project import Clip, Project, load_project, save_project
    from engine.qc.store import cached_check

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the check is kept there
    from engine.synth.clip_file import write_frames
    from engine.synth.scenes import moving_scene

    frames = moving_scene(30, 160, 96, seed=4)
    frames[8] = frames[7].copy()                         # repeated
    frames[14] = np.clip(frames[14] * 1.6, 0, 1)          # flash
    frames[20] = np.full_like(frames[20], 0.97)          # blank (white)
    scan = write_frames(tmp_path / "scan.mkv", frames)
    result = nitrate("check", scan)
    assert result.returncode == 0, result.stderr
    assert "frame      8  00:00:00:08  repeated: the same picture as frame 7" in result.stdout
    assert "frame     20  00:00:00:20  blank: a uniform white frame" in result.stdout
    assert "frame     14  00:00:00:14  flash: " in result.stdout
    assert "frames 0-29 checked, 1 blank, 1 flash, 1 repeated" in result.stdout
    kept = cached_check(scan, 30)                 # for the workstation to show
    assert kept is not None and [e.frame for e in kept.events] == [8, 14, 20]
    data = json.loads(nitrate("check", scan, "--json", "--start", "10").stdout)
    assert [(e["frame"], e["kind"]) for e in data["events"]] == [(14, "flash"), (20, "blank")]

    path = save_project(Project(clips=[Clip(str(scan), 30)]), tmp_path / "p.nitrate")
    table = tmp_path / "qc.csv"
    result = nitrate("check", path, "--mark", "--csv", table)
    assert result.returncode == 0, result.stderr
    assert "1 frames marked to be rebuilt" in result.stdout
    rows = table.read_text().splitlines()
    assert rows[0] == "reel,media,frame,timecode,kind,measure,finding,done"
    assert rows[3].startswith(f"1,{scan},20,00:00:00:20,blank,")
    assert rows[3].endswith(",blank: a uniform white frame,rebuilt")
    assert rows[1].endswith(",repeated: the same picture as frame 7,")  # left as scanned
    repairs = load_project(path).clips[0].repairs
    # Only the blank: deflicker evens out the flash, the repeat needs a judgement.
    assert [(r.start, r.end, r.region) for r in repairs] == [(20, 20, None)]
    assert "frame check: blank" in repairs[0].note
    assert nitrate("check", path, "--mark").stdout.count("0 frames marked") == 1  # once only
    result = nitrate("check", scan, "--mark")
    assert result.returncode == 2 and "--mark needs a .nitrate project" in result.stderr
    assert_one_line_error(nitrate("check", scan, "--csv", tmp_path / "no" / "qc.csv"),
                          "qc.csv", "does not exist")
    result = nitrate("check", scan, "--end", "40")
    assert result.returncode == 2 and "scan.mkv has frames 0-29" in result.stderr
    assert_one_line_error(nitrate("check", tmp_path / "gone.mov"), "gone.mov")


def test_repeats_gives_back_a_stretched_film_s_own_frames(tmp_path: Path) -> None:
    from engine.synth.clip_file import write_frames
    from engine.synth.scenes import moving_scene

    film = moving_scene(24, 96, 64, seed=2)
    stretched = [f for k, f in enumerate(film) for _ in range(2 if k % 3 == 2 else 1)]
    transfer = write_frames(tmp_path / "transfer.mkv", stretched)
    result = nitrate("repeats", transfer)
    assert result.returncode == 0, result.stderr
    assert ("32 frames at 24 fps → 24 film frames at 18.000 fps (8 repeats left out)"
            in result.stdout)
    data = json.loads(nitrate("probe", tmp_path / "transfer_film.mkv", "--json").stdout)
    assert data["frame_count"] == 24 and data["fps"] == 18
    result = nitrate("repeats", transfer, "-o", tmp_path / "at16.mkv", "--fps", "16")
    assert result.returncode == 0 and "at 16.000 fps" in result.stdout
    plain = write_frames(tmp_path / "plain.mkv", film)
    assert_one_line_error(nitrate("repeats", plain, "-o", tmp_path / "no.mkv"),
                          "plain.mkv", "no repeated frames")
    assert not (tmp_path / "no.mkv").exists()


def test_frame_check_of_a_project_of_several_reels_checks_each(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.project import Clip, Project, save_project
    from engine.synth.clip_file import write_frames
    from engine.synth.scenes import moving_scene

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = moving_scene(20, 96, 64, seed=5)
    first[9] = np.full_like(first[9], 0.02)                     # blank
    film = moving_scene(24, 96, 64, seed=2)                      # 18 fps stretched to 24
    stretched = [f for k, f in enumerate(film) for _ in range(2 if k % 3 == 2 else 1)]
    reels = [write_frames(tmp_path / "reel1.mkv", first),
             write_frames(tmp_path / "reel2.mkv", stretched)]
    path = save_project(Project(clips=[Clip(str(reels[0]), 20), Clip(str(reels[1]), 32)]),
                        tmp_path / "feature.nitrate")
    result = nitrate("check", path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.index("reel 1: ") < out.index("blank: a uniform black frame") < out.index(
        "reel 2: ")
    assert ("reel2.mkv: one frame in 4 repeats the one before, regularly: a transfer that "
            "repeated frames to raise the rate (the film ran at about 18.0 fps)") in out
    data = json.loads(nitrate("check", path, "--json").stdout)
    assert [(r["reel"], r["counts"]["blank"], r["repeat_cadence"]) for r in data["reels"]] == [
        (1, 1, None), (2, 0, 4.0)]
    only = json.loads(nitrate("check", path, "--json", "--reel", "2").stdout)
    assert "reels" not in only and only["reel"] == 2 and only["counts"]["repeated"] == 8
