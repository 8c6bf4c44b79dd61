"""Render queue: jobs run in order off the GUI thread, report progress, can be cancelled,
and give the same file as the CLI's job."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engine.errors import MediaError, RenderCancelled
from engine.media import open_reader, probe
from engine.pipeline import ShotPlan
from engine.project import Recipe, Step, new_project
from engine.render import CancelToken, Progress, RenderJob, job_for_project, render
from engine.synth.index_clip import write_index_clip
from ui.render_queue import (
    OUTPUT_CHOICES,
    RenderDialog,
    RenderQueue,
    format_eta,
    output_for,
)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clip")
    return write_index_clip(folder / "tiny.mp4", width=64, height=48, frames=8)


@pytest.fixture
def queue_widget(qtbot) -> Iterator[RenderQueue]:
    widget = RenderQueue()
    qtbot.addWidget(widget)
    yield widget
    widget.close_runner()


def _frames(path: Path) -> list[np.ndarray]:
    with open_reader(path) as reader:
        return [reader.read(i) for i in range(reader.info.frame_count)]


def test_job_renders_a_playable_file_same_as_cli(qtbot, queue_widget: RenderQueue,
                                                 tiny_clip: Path, tmp_path: Path) -> None:
    project = new_project(tiny_clip, Recipe.of([Step.create("color", {"exposure": 0.5})]))
    job = job_for_project(project, tmp_path / "gui.mkv", codec="ffv1")
    with qtbot.waitSignal(queue_widget.job_finished, timeout=60_000) as blocker:
        job_id = queue_widget.add_job(job)
    assert blocker.args[0] == job_id and blocker.args[1].state == "done", blocker.args[1]
    assert "direct path" not in blocker.args[1].message  # the recipe touched every frame
    row = queue_widget.rows[job_id]
    assert row.bar.value() == 1000 and row.button.text() == "Remove"
    assert probe(tmp_path / "gui.mkv").frame_count == 8
    # The CLI builds its job with the same function and drives the same generator.
    cli_job = job_for_project(project, tmp_path / "cli.mkv", codec="ffv1")
    for _ in render(cli_job):
        pass
    gui, cli = _frames(tmp_path / "gui.mkv"), _frames(tmp_path / "cli.mkv")
    assert len(gui) == len(cli) == 8
    assert all(np.array_equal(a, b) for a, b in zip(gui, cli, strict=True))


def _fake_render(gate: threading.Event, frames: int = 50):
    """A render that waits for `gate` between frames, honouring cancel like the engine."""

    def fake(job: RenderJob, cancel: CancelToken) -> Iterator[Progress]:
        for done in range(1, frames + 1):
            gate.wait(5)
            if cancel.cancelled:
                raise RenderCancelled(f"{job.output}: export cancelled")
            yield Progress(done, frames, done / 10, 10.0, (frames - done) / 10, job.output,
                           done == frames)

    return fake


def _job(tmp_path: Path, name: str) -> RenderJob:
    plan = ShotPlan.single(10, Recipe())
    return RenderJob(tmp_path / "src.mp4", tmp_path / name, plan)


def test_jobs_run_in_order_and_cancel_leaves_the_others(qtbot, tmp_path: Path) -> None:
    gate = threading.Event()
    widget = RenderQueue(render_fn=_fake_render(gate))
    qtbot.addWidget(widget)
    first = widget.add_job(_job(tmp_path, "a.mov"))
    second = widget.add_job(_job(tmp_path, "b.mov"))
    third = widget.add_job(_job(tmp_path, "c.mov"))
    qtbot.waitUntil(lambda: widget.state(first) == "running", timeout=5000)
    assert widget.state(second) == "queued"  # one after another, not in parallel
    widget.cancel(second)  # a queued job is skipped
    widget.cancel(first)  # a running job stops at its next frame
    gate.set()
    assert widget.runner.wait_until_idle(10)
    qtbot.waitUntil(lambda: widget.active_count() == 0, timeout=5000)
    assert widget.state(first) == "cancelled"
    assert widget.state(second) == "cancelled"
    assert widget.state(third) == "done"
    assert widget.rows[third].bar.format() == "done"
    widget.clear_finished()
    assert widget.rows == {} and not widget.empty_label.isHidden()
    widget.close_runner()


def test_progress_shows_fps_and_eta(qtbot, tmp_path: Path) -> None:
    gate = threading.Event()
    gate.set()
    widget = RenderQueue(render_fn=_fake_render(gate, frames=5))
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.job_finished, timeout=5000):
        job_id = widget.add_job(_job(tmp_path, "a.mov"))
    text = widget.rows[job_id].status.text()
    assert text.startswith("5 frames in")  # the outcome replaces the live fps/ETA line
    widget.close_runner()
    assert format_eta(65) == "1:05" and format_eta(3725) == "1:02:05" and format_eta(None) == "–"


def test_failure_is_a_message_not_a_crash(qtbot, tmp_path: Path) -> None:
    def broken(job: RenderJob, cancel: CancelToken) -> Iterator[Progress]:
        raise MediaError(job.source, "cannot be decoded")
        yield  # pragma: no cover

    widget = RenderQueue(render_fn=broken)
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.message, timeout=5000) as blocker:
        job_id = widget.add_job(_job(tmp_path, "a.mov"))
    assert blocker.args[0] == f"Export failed: {tmp_path / 'src.mp4'}: cannot be decoded"
    qtbot.waitUntil(lambda: widget.state(job_id) == "failed", timeout=5000)
    widget.close_runner()


def test_dialog_offers_ranges_and_formats(qtbot, tmp_path: Path) -> None:
    dialog = RenderDialog(tmp_path / "reel_restored.mov", None, [1, 2])
    qtbot.addWidget(dialog)
    assert not dialog.range_inout.isEnabled() and dialog.range_shots.isEnabled()
    dialog.range_shots.setChecked(True)
    dialog.format.setCurrentIndex([c.codec for c in OUTPUT_CHOICES].index("dpx"))
    request = dialog.request()
    assert request.range_kind == "shots" and request.codec == "dpx"
    assert not request.burn_in  # masters are never burnt in unless asked
    dialog.burn_in.setChecked(True)
    assert dialog.request().burn_in
    assert request.output == tmp_path / "reel_restored" and request.audio is False
    assert output_for(tmp_path / "x", OUTPUT_CHOICES[0]) == tmp_path / "x.mov"
    # Without a display LUT there is none to export through, whatever the format.
    dialog.format.setCurrentIndex([c.codec for c in OUTPUT_CHOICES].index("h264"))
    assert dialog.view_lut.isHidden() and not dialog.request().view_lut


def test_closing_runner_mid_render_cancels(qtbot, tmp_path: Path) -> None:
    gate = threading.Event()
    widget = RenderQueue(render_fn=_fake_render(gate))
    qtbot.addWidget(widget)
    job_id = widget.add_job(_job(tmp_path, "a.mov"))
    qtbot.waitUntil(lambda: widget.state(job_id) == "running", timeout=5000)
    gate.set()
    widget.close_runner()  # the window closes: the worker stops, no thread is left
    assert not widget.runner.busy


def test_a_cancelled_crash_safe_job_resumes_to_the_same_file(
        qtbot, queue_widget: RenderQueue, tiny_clip: Path, tmp_path: Path) -> None:
    from engine.render.modes import ExportMode

    project = new_project(tiny_clip, Recipe.of([Step.create("color", {"exposure": 0.5})]))
    job = job_for_project(project, tmp_path / "safe.mkv", codec="ffv1")
    mode = ExportMode(resumable=True)
    token_seen = threading.Event()
    real_run = queue_widget.runner._run

    def cancel_at_start(job_id, job, token, mode=mode):  # cancel the first attempt only
        if not token_seen.is_set():
            token_seen.set()
            token.cancel()
        return real_run(job_id, job, token, mode)

    queue_widget.runner._run = cancel_at_start  # type: ignore[method-assign]
    with qtbot.waitSignal(queue_widget.job_finished, timeout=60_000) as first:
        job_id = queue_widget.add_job(job, mode=mode)
    assert first.args[1].state == "cancelled"
    assert queue_widget.rows[job_id].resume_button.isVisibleTo(queue_widget.rows[job_id])
    with qtbot.waitSignal(queue_widget.job_finished, timeout=60_000) as second:
        new_id = queue_widget.resume(job_id)
    assert second.args[0] == new_id and second.args[1].state == "done", second.args[1]
    for _ in render(job_for_project(project, tmp_path / "plain.mkv", codec="ffv1")):
        pass
    safe, plain = _frames(tmp_path / "safe.mkv"), _frames(tmp_path / "plain.mkv")
    assert len(safe) == 8 and all(np.array_equal(a, b) for a, b in zip(safe, plain, strict=True))


def test_a_job_on_local_workers_gives_the_same_file(
        qtbot, queue_widget: RenderQueue, tiny_clip: Path, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    from engine.render.modes import ExportMode

    project = new_project(tiny_clip, Recipe.of([Step.create("color", {"exposure": 0.5})]))
    job = job_for_project(project, tmp_path / "farm.mkv", codec="ffv1")
    with qtbot.waitSignal(queue_widget.job_finished, timeout=120_000) as blocker:
        queue_widget.add_job(job, mode=ExportMode(workers=2, chunk_frames=3))
    assert blocker.args[1].state == "done", blocker.args[1]
    for _ in render(job_for_project(project, tmp_path / "one.mkv", codec="ffv1")):
        pass
    farm, one = _frames(tmp_path / "farm.mkv"), _frames(tmp_path / "one.mkv")
    assert len(farm) == 8 and all(np.array_equal(a, b) for a, b in zip(farm, one, strict=True))


def test_a_job_without_operators_says_it_took_the_direct_path(qtbot, queue_widget: RenderQueue,
                                                              tiny_clip: Path,
                                                              tmp_path: Path) -> None:
    job = job_for_project(new_project(tiny_clip, Recipe.of([])), tmp_path / "copy.mov")
    with qtbot.waitSignal(queue_widget.job_finished, timeout=60_000) as blocker:
        queue_widget.add_job(job)
    assert blocker.args[1].state == "done" and "direct path" in blocker.args[1].message
    assert probe(tmp_path / "copy.mov").frame_count == 8


def test_a_job_with_checksums_lists_them_and_says_so(qtbot, queue_widget: RenderQueue,
                                                     tiny_clip: Path, tmp_path: Path) -> None:
    from engine.render.fixity import verify

    dialog = RenderDialog(tmp_path / "reel_restored.mov", None, [], checksum="sha256")
    qtbot.addWidget(dialog)
    assert dialog.request().checksum == "sha256"  # the last choice is offered again
    dialog.checksum.setCurrentIndex(dialog.checksum.findData("md5"))
    assert dialog.request().checksum == "md5"
    job = job_for_project(new_project(tiny_clip, Recipe.of([])), tmp_path / "copy.mov",
                          checksum="md5")
    with qtbot.waitSignal(queue_widget.job_finished, timeout=60_000) as blocker:
        job_id = queue_widget.add_job(job)
    assert blocker.args[1].state == "done"
    assert blocker.args[1].message.endswith("; checksums in copy.mov.md5")
    assert verify(tmp_path / "copy.mov").ok
    row = queue_widget.rows[job_id]
    row.set_progress(Progress(8, 8, 1.0, 8.0, 0.0, job.output, checking=(3, 10)))
    assert row.bar.format() == "checksums: 3 / 10 files" and row.bar.value() == 300


def test_a_cancel_during_the_checksums_keeps_the_finished_export(qtbot,
                                                                 tmp_path: Path) -> None:
    def render_then_cancel(job: RenderJob, cancel: CancelToken) -> Iterator[Progress]:
        job.output.write_bytes(b"a complete export")
        cancel.cancel()  # Cancel pressed as the last frame was written
        yield Progress(1, 1, 0.1, 10.0, 0.0, job.output, finished=True)

    widget = RenderQueue(render_fn=render_then_cancel)
    qtbot.addWidget(widget)
    job = RenderJob(tmp_path / "src.mp4", tmp_path / "out.mov", ShotPlan.single(1, Recipe()),
                    checksum="md5")
    with qtbot.waitSignal(widget.job_finished, timeout=5000) as blocker:
        widget.add_job(job)
    outcome = blocker.args[1]
    assert outcome.state == "done"
    assert outcome.message.endswith("checksums cancelled; the export is complete, without "
                                    "its checksum list")
    assert (tmp_path / "out.mov").exists() and not (tmp_path / "out.mov.md5").exists()
    widget.close_runner()
