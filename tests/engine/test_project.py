"""Project files: round trip, atomic save, clear errors for bad files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.errors import ProjectError
from engine.project import Clip, Project, Recipe, Shot, Step, load_project, save_project


def sample_project(media: Path) -> Project:
    recipe = Recipe.of([Step.create("color", {"exposure": 0.5}), Step.create("sharpen")])
    clip = Clip(
        path=str(media),
        frame_count=100,
        shots=[Shot(0, 39), Shot(40, 99, recipe=recipe, reviewed=True, note="train")],
        default_recipe=Recipe.from_ops(["temporal_average"]),
    )
    return Project(clips=[clip])


def test_round_trip_keeps_shots_recipes_and_relative_media(tmp_path: Path) -> None:
    media = tmp_path / "footage" / "reel1.mov"
    media.parent.mkdir()
    media.write_bytes(b"x")
    saved = save_project(sample_project(media), tmp_path / "reel1")
    assert saved.name == "reel1.nitrate"
    data = json.loads(saved.read_text())
    assert data["version"] == 2  # nothing a version-2 Nitrate would misread: it still opens it
    assert data["clips"][0]["path"] == "footage/reel1.mov"  # relative: the folder can move
    loaded = load_project(saved)
    clip = loaded.clip
    assert loaded.resolve(clip.path) == media.resolve()
    assert [(s.start, s.end, s.reviewed) for s in clip.shots] == [(0, 39, False), (40, 99, True)]
    assert clip.shots[1].recipe == sample_project(media).clips[0].shots[1].recipe
    assert clip.plan().shot_at(10).recipe == clip.default_recipe


def test_a_failed_save_leaves_the_previous_file_intact(tmp_path: Path, monkeypatch) -> None:
    path = save_project(sample_project(tmp_path / "a.mov"), tmp_path / "p.nitrate")
    before = path.read_text()

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    project = sample_project(tmp_path / "b.mov")
    with pytest.raises(ProjectError, match="No space left on device"):
        save_project(project, path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["p.nitrate"]  # no temporary left over


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_saved_project_is_readable_as_any_new_file_and_keeps_its_permissions(
        tmp_path: Path) -> None:
    # A project (or report, or shot list) on a shared drive must stay readable by the
    # colleagues who could read the last one: not private to the user who saved it.
    old_umask = os.umask(0o022)
    try:
        path = save_project(sample_project(tmp_path / "a.mov"), tmp_path / "p.nitrate")
        assert path.stat().st_mode & 0o777 == 0o644
        path.chmod(0o660)  # the team's group may write it
        save_project(sample_project(tmp_path / "b.mov"), path)
        assert path.stat().st_mode & 0o777 == 0o660
    finally:
        os.umask(old_umask)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b"{not json", "malformed project"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b'{"format": "something-else"}', "not a Nitrate project"),
        (b'{"format": "nitrate-project", "version": 99, "clips": []}', "newer Nitrate"),
        (b'{"format": "nitrate-project", "version": 1, "clips": [{"path": 3}]}', "malformed"),
        (b'{"format": "nitrate-project", "version": 1, "clips": [{"path": "a", '
         b'"frame_count": 10, "shots": [{"start": 0, "end": 4}]}]}', "shots of a end at frame 4"),
        (b'{"format": "nitrate-project", "version": 1, "clips": [{"path": "a", '
         b'"frame_count": 10, "shots": [{"start": 0, "end": 9}], '
         b'"default_recipe": [{"op": "rm_rf"}]}]}', "rm_rf: no such operator"),
    ],
)
def test_bad_project_files_give_one_line_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.nitrate"
    path.write_bytes(content)
    with pytest.raises(ProjectError) as err:
        load_project(path)
    text = str(err.value)
    assert message in text and str(path) in text and "\n" not in text


def test_missing_project_file(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="file not found"):
        load_project(tmp_path / "nope.nitrate")


def test_a_project_over_a_sequence_pattern_finds_its_media(
        tmp_path: Path, index_sequence) -> None:
    """`scan_%06d.png` is no file itself: the project still opens and renders it, and a
    pattern that matches nothing is still named as missing."""
    from engine.media.sequence import media_exists
    from engine.project import new_project

    pattern = index_sequence("png8", frames=6) / "frame_%06d.png"
    assert media_exists(pattern) and not media_exists(pattern.with_name("take2_%06d.png"))
    path = save_project(new_project(pattern), tmp_path / "seq.nitrate")
    project = load_project(path)
    assert project.media(project.clip) == pattern
    project.clip.path = str(pattern.with_name("take2_%06d.png"))
    with pytest.raises(ProjectError, match="media not found.*take2_%06d.png"):
        project.media(project.clip)
