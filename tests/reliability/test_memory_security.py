"""Memory stays within its budgets; project files are data, never code or a way to make
Nitrate overwrite what the user did not name."""

from __future__ import annotations

import json
import pickle
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from relhelp import ROOT, Outcome, assert_refused

from engine.errors import ProjectError
from engine.pipeline import ShotPlan
from engine.pipeline.cache import FrameCache
from engine.project import load_project, new_project, save_project
from engine.project.recipe import Recipe
from engine.server import PREFETCH, VIEWER, FrameRequest, FrameResponse, FrameServer
from engine.synth.index_clip import write_index_clip

# -- memory -----------------------------------------------------------------------------------


def test_frame_cache_never_exceeds_its_budget() -> None:
    rng = np.random.default_rng(5)
    budget = 3_000_000
    cache = FrameCache(budget)
    for n in range(300):
        side = int(rng.integers(16, 400))
        cache.put(("frame", n), np.zeros((side, side, 3), np.float32))
        assert cache.bytes_used <= budget
    assert cache.get(("frame", 299)) is not None  # the newest frame is kept
    cache.put("huge", np.zeros((2000, 2000, 3), np.float32))  # larger than the budget
    assert "huge" not in cache and cache.bytes_used <= budget
    cache.set_budget(budget // 10)
    assert cache.bytes_used <= budget // 10


def test_frame_server_stays_within_its_cache_budget(tmp_path: Path) -> None:
    clip = write_index_clip(tmp_path / "reel.mkv", "ffv1", width=160, height=120, frames=40)
    frame_bytes = 160 * 120 * 3 * 4
    budget = 6 * frame_bytes
    done = threading.Event()
    answers: list[FrameResponse] = []

    def on_response(response: FrameResponse) -> None:
        answers.append(response)
        if len(answers) == 40:
            done.set()

    server = FrameServer(clip, budget, on_response)
    try:
        plan = ShotPlan.single(40, Recipe.from_ops(["sharpen", "degrain"]))
        for i in range(40):
            server.submit(FrameRequest(i, i, plan, 1.0, PREFETCH if i % 2 else VIEWER))
            assert server.cache.bytes_used <= budget
        assert server.wait_until_idle(60)
        peak = server.cache.bytes_used
    finally:
        server.close()
    assert answers and all(a.error in (None, "superseded") for a in answers)
    assert any(a.restored is not None for a in answers)
    assert peak <= budget


# -- security ---------------------------------------------------------------------------------


def test_project_code_never_loads_pickle_or_evaluates_text() -> None:
    sources = [p for folder in ("engine/project", "engine/presets.py", "ui/document.py")
               for p in ((ROOT / folder).rglob("*.py") if (ROOT / folder).is_dir()
                         else [ROOT / folder])]
    assert sources
    forbidden = re.compile(r"\b(pickle|marshal|shelve|yaml\.load|eval|exec)\s*[.(]")
    for path in sources:
        assert not forbidden.search(path.read_text()), path


def test_a_pickle_named_like_a_project_is_refused_not_run(tmp_path: Path) -> None:
    class Boom:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (Path.touch, (tmp_path / "pwned",))

    path = tmp_path / "evil.nitrate"
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(ProjectError, match="not a Nitrate project|malformed"):
        load_project(path)
    assert not (tmp_path / "pwned").exists()


def _project_with(tmp_path: Path, media: str, output: str | None = None) -> Path:
    clip = write_index_clip(tmp_path / "reel.mov", "prores", frames=3)
    path = save_project(new_project(clip), tmp_path / "p.nitrate")
    data = json.loads(path.read_text())
    data["clips"][0]["path"] = media
    if output is not None:
        data["output"]["path"] = output
    path.write_text(json.dumps(data))
    return path


def test_project_media_pointing_at_a_system_file_just_fails_to_decode(cli, tmp_path: Path) -> None:
    project = _project_with(tmp_path, "/etc/passwd")
    out = tmp_path / "exports" / "out.mkv"
    out.parent.mkdir()
    result: Outcome = cli("render", project, "-o", out)
    assert_refused(result, "/etc/passwd", "not a video", output=out)


def test_project_output_cannot_overwrite_its_source_or_a_foreign_file(cli,
                                                                     tmp_path: Path) -> None:
    project = _project_with(tmp_path, str(tmp_path / "reel.mov"), output="reel.mov")
    before = (tmp_path / "reel.mov").read_bytes()
    assert_refused(cli("render", project), "is the source of the export")
    assert (tmp_path / "reel.mov").read_bytes() == before
    notes = tmp_path / "notes.txt"
    notes.write_text("the archive's notes")
    data = json.loads(project.read_text())
    data["output"]["path"] = "notes.txt"
    project.write_text(json.dumps(data))
    assert_refused(cli("render", project), "unknown output type")
    assert notes.read_text() == "the archive's notes"
