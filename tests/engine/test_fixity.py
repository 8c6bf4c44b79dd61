"""Fixity: an export's files read back and listed with their checksums, in the format of
coreutils' md5sum, and checked again later (`verify`)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from engine.errors import MediaError, NitrateError, RenderCancelled
from engine.pipeline import ShotPlan
from engine.project.recipe import Recipe
from engine.render import CancelToken, RenderJob
from engine.render.fixity import (
    FixityError,
    format_line,
    manifest_path,
    read_manifest,
    verify,
    write_checksums,
)
from engine.render.modes import PLAIN, ExportMode, run_export


def _export(job: RenderJob, mode: ExportMode = PLAIN) -> list:
    return list(run_export(job, mode=mode))


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_a_file_export_lists_its_checksum_beside_it(index_clip, tmp_path: Path) -> None:
    clip = index_clip("fix.mov", codec="prores", frames=12)
    out = tmp_path / "restored.mov"
    steps = _export(RenderJob(clip, out, ShotPlan.single(12, Recipe()), checksum="md5"))
    manifest = tmp_path / "restored.mov.md5"
    assert steps[-1].finished and steps[-1].manifest == manifest
    assert any(s.checking == (1, 1) for s in steps)  # the pass is reported
    assert manifest.read_text() == f"{_md5(out)}  restored.mov\n"
    if shutil.which("md5sum"):  # the archive's own tool accepts it
        check = subprocess.run(["md5sum", "-c", manifest.name], cwd=tmp_path,
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    assert verify(out).ok and verify(manifest).summary().endswith(
        "1 file, every MD5 checksum matches")


def test_a_sequence_lists_every_frame_and_its_sound(index_clip, tmp_path: Path) -> None:
    clip = index_clip("fix_sound.mov", codec="h264", frames=10, audio=True)
    out = tmp_path / "master"
    _export(RenderJob(clip, out, ShotPlan.single(10, Recipe()), codec="png",
                      checksum="sha256"))
    entries = read_manifest(tmp_path / "master.sha256")
    names = [name for _, name in entries]
    frames = sorted(p.name for p in out.iterdir())
    assert len(frames) == 10
    assert names == [f"master/{n}" for n in frames] + ["master.wav"]
    for digest, name in entries:
        assert digest == hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()


def test_verify_names_what_changed_went_missing_or_appeared(index_clip,
                                                            tmp_path: Path) -> None:
    clip = index_clip("fix_seq.mov", codec="prores", frames=6)
    pattern = tmp_path / "reel" / "r_%03d.tif"
    _export(RenderJob(clip, pattern, ShotPlan.single(6, Recipe()), checksum="md5"))
    folder = tmp_path / "reel"
    assert verify(folder).ok
    with open(folder / "r_002.tif", "r+b") as f:  # one bit flipped, size unchanged
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 1]))
    (folder / "r_004.tif").unlink()
    shutil.copy(folder / "r_000.tif", folder / "r_006.tif")  # a stray frame plays too
    result = verify(tmp_path / "reel.md5")
    assert not result.ok
    assert result.changed == ["reel/r_002.tif"]
    assert result.missing == ["reel/r_004.tif"]
    assert result.unlisted == ["reel/r_006.tif"]
    assert len(result.matched) == 4
    assert "changed: reel/r_002.tif; missing: reel/r_004.tif" in result.summary()
    with pytest.raises(RenderCancelled, match="check cancelled"):  # the window's Cancel
        verify(folder, cancelled=lambda: True)


def test_a_resumable_export_lists_the_joined_file(index_clip, tmp_path: Path) -> None:
    clip = index_clip("fix_resume.mov", codec="prores", frames=12)
    out = tmp_path / "joined.mkv"
    steps = _export(RenderJob(clip, out, ShotPlan.single(12, Recipe()), checksum="md5"),
                    ExportMode(resumable=True))
    assert steps[-1].manifest is not None
    assert read_manifest(steps[-1].manifest) == [(_md5(out), "joined.mkv")]


def test_a_new_export_replaces_the_old_list_and_a_failed_one_keeps_it(
        index_clip, tmp_path: Path) -> None:
    clip = index_clip("fix_replace.mov", codec="prores", frames=8)
    out = tmp_path / "out.mov"
    plan = ShotPlan.single(8, Recipe())
    _export(RenderJob(clip, out, plan, checksum="sha256"))
    sha = manifest_path(out, "sha256")
    assert sha.exists()
    # A failed export leaves the old file, so its list (still true) stays with it.
    with pytest.raises(MediaError):
        _export(RenderJob(clip, out, plan, start=5, end=20, checksum="md5"))
    assert verify(sha).ok
    _export(RenderJob(clip, out, plan, start=2, checksum="md5"))
    # The old list described the file that was replaced: it is gone, not left to fail.
    assert not sha.exists() and verify(out).ok


def test_cancelling_the_checksums_keeps_the_export_without_a_list(index_clip,
                                                                  tmp_path: Path) -> None:
    clip = index_clip("fix_cancel.mov", codec="prores", frames=8)
    out = tmp_path / "out.mov"
    cancel = CancelToken()
    with pytest.raises(RenderCancelled, match="the export is complete") as raised:
        for step in run_export(RenderJob(clip, out, ShotPlan.single(8, Recipe()),
                                         checksum="md5"), cancel):
            if step.checking is not None:
                cancel.cancel()
    assert raised.value.kept
    assert out.is_file() and not manifest_path(out, "md5").exists()


def test_an_unknown_checksum_is_refused_before_any_frame(index_clip, tmp_path: Path) -> None:
    clip = index_clip("fix_bad.mov", codec="prores", frames=4)
    out = tmp_path / "out.mov"
    with pytest.raises(NitrateError, match="checksum 'crc32': choose one of md5, sha256"):
        _export(RenderJob(clip, out, ShotPlan.single(4, Recipe()), checksum="crc32"))
    assert list(tmp_path.iterdir()) == []


def test_names_with_backslashes_or_line_breaks_round_trip(tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "a\\b").write_bytes(b"one")
    (folder / "c\nd").write_bytes(b"two")
    steps = list(write_checksums(folder, "md5", codec="png"))
    manifest = steps[-1].manifest
    assert manifest is not None
    text = manifest.read_text()
    assert format_line(_md5(folder / "a\\b"), "odd/a\\b") in text
    assert text.startswith("\\") and "odd/c\\nd" in text  # coreutils' escaping
    assert {name for _, name in read_manifest(manifest)} == {"odd/a\\b", "odd/c\nd"}
    assert verify(manifest).ok


@pytest.mark.parametrize(("text", "problem"), [
    ("0123  x\n", "line 1: expected '<md5>  <file>'"),
    (f"{'g' * 32}  x\n", "line 1: expected"),
    ("\n\n", "lists no files"),
])
def test_a_malformed_list_is_one_line(tmp_path: Path, text: str, problem: str) -> None:
    manifest = tmp_path / "out.mov.md5"
    manifest.write_text(text)
    with pytest.raises(FixityError, match=problem) as raised:
        verify(manifest)
    assert str(raised.value).startswith(str(manifest))


def test_an_export_without_a_list_says_so(tmp_path: Path) -> None:
    with pytest.raises(FixityError, match="has no checksum list beside it"):
        verify(tmp_path / "out.mov")
