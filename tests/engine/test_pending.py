"""The render queue's waiting exports, kept as JSON: read back as they were asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import NitrateError
from engine.project import Recipe, Step, new_project, save_project
from engine.render import job_for_project
from engine.render.modes import ExportMode
from engine.render.pending import PendingExport, load_pending, store_pending


def test_a_kept_export_is_the_export_that_was_queued(index_clip, tmp_path: Path) -> None:
    clip = index_clip("pending.mov", codec="prores", frames=12)
    project = new_project(clip, Recipe.of([Step.create("color", {"exposure": 0.5})]))
    save_project(project, tmp_path / "film.nitrate")
    options = {"codec": "ffv1", "burn_in": True, "checksum": "md5"}
    job = job_for_project(project, tmp_path / "out.mkv", start=2, end=9, **options)
    kept = PendingExport.of(project, job, 0, 2, 9, options, ExportMode(resumable=True), "r1")
    path = tmp_path / "queue.json"
    store_pending(path, [kept])
    project.clips[0].default_recipe = Recipe()             # edited afterwards
    [back] = load_pending(path)
    again = back.job()
    assert (again.output, again.start, again.end, again.codec) == (job.output, 2, 9, "ffv1")
    assert again.burn_in and again.checksum == "md5" and again.source == job.source
    assert [s.op for s in again.plan.shots[0].recipe.steps] == ["color"]
    assert back.export_mode() == ExportMode(resumable=True) and back.title == "r1"
    store_pending(path, [])
    assert not path.exists() and load_pending(path) == []


def test_a_kept_queue_that_cannot_be_read_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "queue.json"
    path.write_text("{not json")
    with pytest.raises(NitrateError, match="queue.json: the kept render queue cannot be read"):
        load_pending(path)
    path.write_text('{"format": "something-else", "exports": []}')
    with pytest.raises(NitrateError, match="queue.json"):
        load_pending(path)


def test_a_kept_export_whose_footage_is_gone_says_so(index_clip, tmp_path: Path) -> None:
    clip = tmp_path / "reel.mov"
    clip.write_bytes(index_clip("pending.mov", codec="prores", frames=12).read_bytes())
    project = new_project(clip)
    job = job_for_project(project, tmp_path / "out.mov")
    kept = PendingExport.of(project, job, 0, None, None, {}, ExportMode())
    clip.unlink()
    with pytest.raises(NitrateError, match="reel.mov"):
        kept.job()
